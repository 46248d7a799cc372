/*
 * inval.c - the invalidations of dead files, off the caller's thread.
 *
 * A forced unmount or a revoke kills files whose pages the kernel may
 * hold, dirty ones too with -o writeback.  The kernel drops a dirty page
 * by writing it first (launder: one WRITE per 4 KiB page, each refused
 * with EIO here: the file is dead), inside fuse_lowlevel_notify_inval_inode,
 * so dropping the pages of a dead file takes a time that grows with its
 * dirty data (seconds per GiB), not with any deadline.  The control
 * request that killed the files must not wait for that.  So:
 *   - at once, in the caller: each node's attributes are invalidated
 *     (offset -1: no page is touched, nothing is written), so that a stat
 *     of a dead file asks uvfsd again and gets EIO;
 *   - its pages are dropped by one thread per session, in the order the
 *     jobs were queued, and in a job the files open for writing last (the
 *     others have no dirty page: their cached pages go at once); the
 *     caller may wait for its job up to a bound (uvfs_fuse_dead_wait)
 *     and answer when that passes.
 * The thread holds no lock of ours while the kernel writes: the WRITEs it
 * causes are answered by the session's workers, which must be running.
 * So the queue is stopped (uvfs_fuse_exit, uvfs_fuse_free) before the
 * workers: the jobs not started are given up (their holds released; the
 * kernel's pages of those files fail with the connection once uvfsd is
 * gone), the one in progress is waited for.
 *
 * Objects: a job is made and queued by uvfs_fuse_dead_*, holds one hold
 * on each of its nodes (so its node ids stay valid), and is freed by the
 * thread once notified or given up.  Callers know a job by its ticket (its
 * place in the queue), never by its address.  The thread starts with the
 * first job and is joined by iq_stop.
 */
#define _GNU_SOURCE
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include "fuse_i.h"
#include "deadline.h"       /* lib/util */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The nodes of one forced unmount or revoke. */
struct ijob {
	struct ijob *next;
	size_t n;
	struct uvfs_node *nd[];
};

static const char *const iq_names[] = { "none", "running", "stopped" };

/* The one checked transition of the queue's state (iq_lock held):
 * none -> running (the first job), none | running -> stopped. */
static void iq_set(struct uvfs_fuse *uf, enum iq_state to)
{
	enum iq_state from = uf->iq_state;
	bool legal = (from == IQ_NONE && to == IQ_RUNNING) ||
		     (from != IQ_STOPPED && to == IQ_STOPPED);

	if (!legal) {
		fprintf(stderr, "uvfsd: invalidation queue %s -> %s\n",
			iq_names[from], iq_names[to]);
		abort();
	}
	uf->iq_state = to;
}

void iq_init(struct uvfs_fuse *uf)
{
	pthread_mutex_init(&uf->iq_lock, NULL);
	cond_init_monotonic(&uf->iq_cv);
	uf->iq_tail = &uf->iq_head;
	uf->iq_state = IQ_NONE;
}

static void *iq_main(void *arg)
{
	struct uvfs_fuse *uf = arg;
	struct ijob *j;

	pthread_mutex_lock(&uf->iq_lock);
	for (;;) {
		while (!uf->iq_head && uf->iq_state == IQ_RUNNING)
			pthread_cond_wait(&uf->iq_cv, &uf->iq_lock);
		j = uf->iq_head;
		if (!j)
			break;          /* stopped, nothing left */
		uf->iq_head = j->next;
		if (!uf->iq_head)
			uf->iq_tail = &uf->iq_head;
		pthread_mutex_unlock(&uf->iq_lock);
		for (size_t i = 0; i < j->n; i++) {
			pthread_mutex_lock(&uf->iq_lock);
			bool stopped = uf->iq_state == IQ_STOPPED;
			pthread_mutex_unlock(&uf->iq_lock);
			if (!stopped)
				uvfs_fuse_inval_node(uf, j->nd[i]);
			uvfs_node_release(j->nd[i], 1);
		}
		free(j);
		pthread_mutex_lock(&uf->iq_lock);
		uf->iq_done++;
		pthread_cond_broadcast(&uf->iq_cv);
	}
	pthread_mutex_unlock(&uf->iq_lock);
	return NULL;
}

void iq_stop(struct uvfs_fuse *uf)
{
	pthread_mutex_lock(&uf->iq_lock);
	enum iq_state was = uf->iq_state;
	if (was != IQ_STOPPED)
		iq_set(uf, IQ_STOPPED);
	pthread_cond_broadcast(&uf->iq_cv);
	pthread_mutex_unlock(&uf->iq_lock);
	if (was == IQ_RUNNING)
		pthread_join(uf->iq_thread, NULL);
}

/* Jobs are queued only while the thread runs, and it empties the queue
 * before it ends: nothing is left here. */
void iq_fini(struct uvfs_fuse *uf)
{
	iq_stop(uf);
	pthread_mutex_destroy(&uf->iq_lock);
	pthread_cond_destroy(&uf->iq_cv);
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(const void *const *)a;
	uintptr_t y = (uintptr_t)*(const void *const *)b;

	return x < y ? -1 : x > y;
}

/* Puts the nodes with a handle open for writing last: only they can have
 * dirty pages (a close writes them back), so the pages of the others are
 * dropped first, at once (no WRITE), within the caller's wait.  Out of
 * memory: the order stays. */
static void writers_last(struct uvfs_fuse *uf, struct ijob *j)
{
	const void **w = NULL;
	size_t nw = 0, cap = 0;

	pthread_mutex_lock(&uf->fh_lock);
	for (struct fh *h = uf->fh_list.next; h != &uf->fh_list;
	     h = h->next) {
		if ((h->flags & O_ACCMODE) == O_RDONLY)
			continue;
		if (nw == cap) {
			size_t nc = cap ? 2 * cap : 16;
			const void **v = realloc(w, nc * sizeof(*v));
			if (!v) {
				nw = 0;
				break;
			}
			w = v;
			cap = nc;
		}
		w[nw++] = h->node;
	}
	pthread_mutex_unlock(&uf->fh_lock);
	if (nw) {
		qsort(w, nw, sizeof(*w), cmp_ptr);
		size_t lo = 0, hi = j->n;
		while (lo < hi) {
			const void *key = j->nd[lo];
			if (!bsearch(&key, w, nw, sizeof(*w), cmp_ptr)) {
				lo++;
				continue;
			}
			struct uvfs_node *t = j->nd[lo];
			j->nd[lo] = j->nd[--hi];
			j->nd[hi] = t;
		}
	}
	free(w);
}

/* Gives back the holds of n nodes, their pages dropped first if inval
 * (in this thread, the old way) or not (given up). */
static void nodes_drop(struct uvfs_fuse *uf, struct uvfs_node **nd,
		       size_t n, bool inval)
{
	for (size_t i = 0; i < n; i++) {
		if (inval)
			uvfs_fuse_inval_node(uf, nd[i]);
		uvfs_node_release(nd[i], 1);
	}
}

/* Invalidates the attributes of j's nodes now and queues their pages.
 * Takes j (and its holds).  => the job's ticket, or 0 if it was done here
 * (the queue is stopped, or its thread could not start: the pages are
 * dropped in this thread, the old way, rather than kept). */
static uint64_t queue(struct uvfs_fuse *uf, struct ijob *j)
{
	uint64_t ticket = 0;
	bool inline_ = false;

	for (size_t i = 0; i < j->n; i++)
		inval_attr(uf, ID(uf, j->nd[i]));
	writers_last(uf, j);
	pthread_mutex_lock(&uf->iq_lock);
	if (uf->iq_state == IQ_NONE) {
		if (pthread_create(&uf->iq_thread, NULL, iq_main, uf) == 0)
			iq_set(uf, IQ_RUNNING);
		else
			inline_ = true;
	}
	if (uf->iq_state == IQ_RUNNING) {
		j->next = NULL;
		*uf->iq_tail = j;
		uf->iq_tail = &j->next;
		ticket = ++uf->iq_queued;
		pthread_cond_broadcast(&uf->iq_cv);
	} else if (uf->iq_state == IQ_STOPPED) {
		inline_ = false;        /* the session ends: given up */
	}
	pthread_mutex_unlock(&uf->iq_lock);
	if (ticket)
		return ticket;
	nodes_drop(uf, j->nd, j->n, inline_);
	free(j);
	return 0;
}

uint64_t uvfs_fuse_dead_node(struct uvfs_fuse *uf, struct uvfs_node *nd)
{
	struct ijob *j = malloc(sizeof(*j) + sizeof(j->nd[0]));

	if (!j) {
		uvfs_fuse_inval_node(uf, nd);   /* no memory: the old way */
		return 0;
	}
	uvfs_node_hold(nd);
	j->n = 1;
	j->nd[0] = nd;
	return queue(uf, j);
}

uint64_t uvfs_fuse_dead_devs(struct uvfs_fuse *uf, const dev_t *devs,
			     size_t n)
{
	struct uvfs_node **v;
	size_t cnt = known_hold_devs(uf, devs, n, &v);
	struct ijob *j;

	if (cnt == 0) {
		free(v);
		return 0;
	}
	j = malloc(sizeof(*j) + cnt * sizeof(j->nd[0]));
	if (!j) {               /* no memory: the old way */
		nodes_drop(uf, v, cnt, true);
		free(v);
		return 0;
	}
	j->n = cnt;
	memcpy(j->nd, v, cnt * sizeof(v[0]));
	free(v);
	return queue(uf, j);
}

int uvfs_fuse_dead_wait(struct uvfs_fuse *uf, uint64_t ticket,
			const struct timespec *dl)
{
	int err = 0;

	if (ticket == 0)
		return 0;
	pthread_mutex_lock(&uf->iq_lock);
	while (uf->iq_done < ticket && err != ETIMEDOUT)
		err = pthread_cond_timedwait(&uf->iq_cv, &uf->iq_lock, dl);
	err = uf->iq_done < ticket ? -ETIMEDOUT : 0;
	pthread_mutex_unlock(&uf->iq_lock);
	return err;
}
