/*
 * loop.c - uvfsd's session loop: libfuse's multi-threaded loop (workers
 * made as requests come, up to max_threads, idle ones beyond
 * idle_threads exit), with one thing more: a mount may have at most
 * mount_threads of them inside its requests at once.
 *
 * Why: a worker serves one request to its end, and a request to a file
 * server that stopped answering (a partitioned network, a SIGSTOPped
 * server) waits there until its deadline, and one to a suspended mount
 * until the resume.  With max_threads such requests (any user can send
 * them: a stat each) every worker waited, and every other mount of the
 * namespace, memfs too, waited with them.  Now a request to a mount that
 * has mount_threads requests inside waits in that mount's queue, as
 * bytes, holding no thread; a worker that finishes one of the mount's
 * requests takes the next one queued there.  So a hung mount holds at
 * most mount_threads workers, and the others serve the rest.
 *
 * Counted (admitted): every request on a node (its nodeid: the node, and
 * so its mount, is the kernel's to keep while the request is in flight),
 * but FORGET and BATCH_FORGET (they never wait), INTERRUPT, INIT,
 * DESTROY, NOTIFY_REPLY and the page cache's WRITEs (counted_mount).  A request read with splice (-o splice: the
 * bytes are in a pipe) is neither counted nor queued.
 *
 * An INTERRUPT of a queued request (its caller got a signal) answers it
 * EINTR at once, from here: it never entered the file system, as a wait
 * at a suspended mount's gate ends (docs/fuse.md).  Not a FLUSH, FSYNC,
 * FSYNCDIR, RELEASE or RELEASEDIR: their answers say what became of the
 * data, so they stay queued until they run.
 *
 * -o clone_fd (a device descriptor per worker: libfuse's own channels,
 * which its public API does not give) runs libfuse's loop instead,
 * without the per-mount limit.
 *
 * Objects: struct worker, one per thread (made by start_worker, freed by
 * its thread when it leaves idle, or by loop_run at the end); struct mq,
 * a mount's count and queue (made at its first counted request, kept
 * while idle for the next, up to MQ_KEEP of them, then swept; the rest
 * freed by loop_run); struct qreq, one queued request (its bytes), freed
 * when run or answered, or by loop_run (the session's end: the kernel
 * ends those requests itself).  Everything here is under l->lock, which
 * is a leaf (no call into libfuse or the library while it is held).
 */
#define _GNU_SOURCE
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <linux/fuse.h>

#include "fuse_i.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MQ_BUCKETS 64
#define MQ_KEEP    256  /* mounts' entries kept idle at most */

struct qreq {
	struct qreq *next;
	size_t size;
	uint64_t unique;
	uint32_t opcode;
	char buf[];                     /* the request as read */
};

struct mq {
	struct mq *next;                /* l->lock: its bucket's chain */
	uint64_t mount_id;              /* const */
	unsigned inside;                /* l->lock: requests being served */
	struct qreq *head, **tail;      /* l->lock: waiting, oldest first */
};

struct worker {
	struct worker *prev, *next;     /* l->lock: l->workers */
	pthread_t thread;
	struct fuse_buf fb;             /* this thread's own */
	struct loop *l;                 /* const */
};

struct loop {
	struct uvfs_fuse *uf;           /* const */
	pthread_mutex_t lock;
	struct worker workers;          /* sentinel */
	unsigned nworkers, navail;      /* lock */
	unsigned max, idle, per_mount;  /* const */
	bool exit;                      /* lock: the end: workers stop */
	int error;                      /* lock: the device's */
	sem_t finish;                   /* a worker left for good */
	struct mq *mq[MQ_BUCKETS];      /* lock */
	unsigned nmq;                   /* lock: entries in mq */
};

/* ---- the mounts' counts and queues ------------------------------------ */

static struct mq **mq_slot(struct loop *l, uint64_t id)
{
	struct mq **p = &l->mq[(id * 0x9e3779b97f4a7c15ULL) >> 58];

	while (*p && (*p)->mount_id != id)
		p = &(*p)->next;
	return p;
}

/* The id of the mount the request counts against, or 0: not counted
 * (mount ids start at 1).  Not the kernel's writeback of its page cache
 * (a WRITE with FUSE_WRITE_CACHE: the flusher's, and the laundering of
 * dirty pages that an invalidation of an inode waits for): an
 * invalidation by a thread that holds up the mount's requests (a
 * server's recovery) must not wait for a WRITE queued behind them, and
 * the kernel sends at most max_background of those at once. */
static uint64_t counted_mount(struct loop *l, const struct fuse_buf *fb)
{
	const struct fuse_in_header *h = fb->mem;
	const struct fuse_write_in *wr = (const void *)(h + 1);

	switch (h->opcode) {
	case FUSE_FORGET: case FUSE_BATCH_FORGET: case FUSE_INTERRUPT:
	case FUSE_INIT: case FUSE_DESTROY: case FUSE_NOTIFY_REPLY:
		return 0;
	case FUSE_WRITE:
		if (fb->size >= sizeof(*h) + sizeof(*wr) &&
		    (wr->write_flags & FUSE_WRITE_CACHE))
			return 0;
		break;
	}
	if (h->nodeid == 0)
		return 0;
	return uvfs_node_mount_id(NODE(l->uf, h->nodeid));
}

/* May an INTERRUPT end this request unrun? */
static bool interruptible(uint32_t opcode)
{
	switch (opcode) {
	case FUSE_FLUSH: case FUSE_FSYNC: case FUSE_FSYNCDIR:
	case FUSE_RELEASE: case FUSE_RELEASEDIR:
		return false;
	}
	return true;
}

/* An INTERRUPT: if it names a queued request that may end unrun, that one
 * is taken off its queue and returned (the interrupt is consumed), else
 * NULL. */
static struct qreq *take_interrupted(struct loop *l, const struct fuse_buf *fb)
{
	const struct fuse_in_header *h = fb->mem;
	const struct fuse_interrupt_in *in = (const void *)(h + 1);

	if (fb->size < sizeof(*h) + sizeof(*in))
		return NULL;
	pthread_mutex_lock(&l->lock);
	for (unsigned b = 0; b < MQ_BUCKETS; b++)
		for (struct mq *m = l->mq[b]; m; m = m->next)
			for (struct qreq **p = &m->head; *p; p = &(*p)->next) {
				struct qreq *q = *p;
				if (q->unique != in->unique ||
				    !interruptible(q->opcode))
					continue;
				*p = q->next;
				if (m->tail == &q->next)
					m->tail = p;
				atomic_fetch_sub(&l->uf->nqueued, 1);
				pthread_mutex_unlock(&l->lock);
				return q;
			}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

/* The EINTR answer of a request nobody ran (libfuse never saw it). */
static void answer_eintr(struct loop *l, const struct qreq *q)
{
	struct fuse_out_header out = {
		.len = sizeof(out), .error = -EINTR, .unique = q->unique,
	};
	ssize_t w;

	do
		w = write(fuse_session_fd(l->uf->se), &out, sizeof(out));
	while (w < 0 && errno == EINTR);
	/* ENOENT: the kernel gave it up already; anything else, the
	 * connection is gone: nothing to tell either way */
}

static void run_queued(struct loop *l, struct qreq *q)
{
	struct fuse_buf fb = { .size = q->size, .mem = q->buf };

	fuse_session_process_buf(l->uf->se, &fb);
	free(q);
}

/* => l->lock held.  The count and queue of mount id (made if need be:
 * NULL only without memory).  Entries of mounts with nothing inside or
 * queued stay for the next request (one allocation less each time);
 * past MQ_KEEP of them the idle ones go. */
static struct mq *mq_get(struct loop *l, uint64_t id)
{
	struct mq **p = mq_slot(l, id), *m = *p;

	if (m)
		return m;
	if (l->nmq >= MQ_KEEP)
		for (unsigned b = 0; b < MQ_BUCKETS; b++)
			for (struct mq **q = &l->mq[b]; *q;) {
				struct mq *x = *q;
				if (x->inside || x->head) {
					q = &x->next;
					continue;
				}
				*q = x->next;
				free(x);
				l->nmq--;
			}
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->mount_id = id;
	m->tail = &m->head;
	p = mq_slot(l, id);     /* (the sweep may have moved it) */
	*p = m;
	l->nmq++;
	return m;
}

/* => l->lock held.  Appends q to m's queue. */
static void mq_append(struct mq *m, struct qreq *q)
{
	q->next = NULL;
	*m->tail = q;
	m->tail = &q->next;
}

/* => l->lock held.  The next request queued behind m, or NULL (m's count
 * is then one less: the caller's request was its last). */
static struct qreq *mq_next(struct loop *l, struct mq *m)
{
	struct qreq *q = m->head;

	if (q) {
		atomic_fetch_sub(&l->uf->nqueued, 1);
		m->head = q->next;
		if (!m->head)
			m->tail = &m->head;
	} else {
		m->inside--;
	}
	return q;
}

/* A copy of the request in fb, to queue. */
static struct qreq *qreq_of(const struct fuse_buf *fb)
{
	const struct fuse_in_header *h = fb->mem;
	struct qreq *q = malloc(sizeof(*q) + fb->size);

	if (q) {
		q->size = fb->size;
		q->unique = h->unique;
		q->opcode = h->opcode;
		memcpy(q->buf, fb->mem, fb->size);
	}
	return q;
}

/* ---- the workers (libfuse's fuse_loop_mt.c, with dispatch) ------------- */

static int start_worker(struct loop *l);

/* A worker.  At the session's end loop_run cancels it in its read
 * (libfuse's way; cancellation is off while it serves a request), and
 * the cancellation unwinds this frame: nothing here has its address
 * taken, so that AddressSanitizer has no stack redzones in it to leave
 * poisoned behind the unwinding (its own thread teardown then wrote
 * into them: a "stack-buffer-underflow" in sigaltstack at every exit). */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct loop *l = w->l;
	struct fuse_session *se = l->uf->se;

	while (!fuse_session_exited(se)) {
		const struct fuse_in_header *h;
		struct qreq *q = NULL, *copy = NULL;
		struct mq *m = NULL;
		bool forget = false;
		uint64_t id = 0;
		int res;

		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
		res = fuse_session_receive_buf(se, &w->fb);
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
		if (res == -EINTR)
			continue;
		if (res <= 0) {
			if (res < 0) {
				fuse_session_exit(se);
				pthread_mutex_lock(&l->lock);
				l->error = res;
				pthread_mutex_unlock(&l->lock);
			}
			break;
		}
		h = w->fb.mem;
		if (!(w->fb.flags & FUSE_BUF_IS_FD) &&
		    w->fb.size >= sizeof(*h)) {
			/* no new thread for a burst of FORGETs (libfuse's) */
			forget = h->opcode == FUSE_FORGET ||
				 h->opcode == FUSE_BATCH_FORGET;
			if (h->opcode == FUSE_INTERRUPT &&
			    (q = take_interrupted(l, &w->fb)) != NULL) {
				answer_eintr(l, q);
				free(q);
				continue;
			}
			id = counted_mount(l, &w->fb);
		}
again:
		pthread_mutex_lock(&l->lock);
		if (l->exit) {
			pthread_mutex_unlock(&l->lock);
			free(copy);
			return NULL;
		}
		if (id && (m = mq_get(l, id)) &&
		    m->inside >= l->per_mount) {
			/* the mount's share is busy: queued, as bytes */
			if (!copy) {
				pthread_mutex_unlock(&l->lock);
				copy = qreq_of(&w->fb);
				if (copy)
					goto again;     /* (a share may
							   have freed) */
				pthread_mutex_lock(&l->lock);
			} else {
				mq_append(m, copy);
				atomic_fetch_add(&l->uf->nqueued, 1);
				pthread_mutex_unlock(&l->lock);
				continue;
			}
		}
		if (m)
			m->inside++;    /* (no memory: run beyond the share) */
		if (!forget)
			l->navail--;
		if (l->navail == 0 && l->nworkers < l->max)
			start_worker(l);
		pthread_mutex_unlock(&l->lock);
		free(copy);

		fuse_session_process_buf(se, &w->fb);
		if (!m)
			pthread_mutex_lock(&l->lock);
		while (m) {     /* the mount's queue, while it has one; the
				   loop ends with l->lock held */
			pthread_mutex_lock(&l->lock);
			if (l->exit) {  /* the rest goes with the session */
				m->inside--;
				break;
			}
			q = mq_next(l, m);
			if (!q)
				break;
			pthread_mutex_unlock(&l->lock);
			run_queued(l, q);
		}
		if (!forget)
			l->navail++;
		if (l->navail > l->idle && l->nworkers > 1 && !l->exit) {
			w->prev->next = w->next;
			w->next->prev = w->prev;
			l->navail--;
			l->nworkers--;
			pthread_mutex_unlock(&l->lock);
			pthread_detach(w->thread);
			free(w->fb.mem);
			free(w);
			return NULL;
		}
		pthread_mutex_unlock(&l->lock);
	}
	sem_post(&l->finish);
	return NULL;
}

/* => l->lock held.  0, or -errno (the loop goes on with those it has). */
static int start_worker(struct loop *l)
{
	struct worker *w = calloc(1, sizeof(*w));
	sigset_t all, old;
	int err;

	if (!w)
		return -ENOMEM;
	w->l = l;
	/* the workers take no signal: the main thread's SIGUSR1 is the
	 * exit's (uvfs_fuse_exit) */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		free(w);
		return -err;
	}
	w->next = l->workers.next;
	w->prev = &l->workers;
	w->next->prev = w;
	l->workers.next = w;
	l->nworkers++;
	l->navail++;
	return 0;
}

/* Runs the session until it ends.  => 0, or the device's error. */
int loop_run(struct uvfs_fuse *uf)
{
	struct loop l = {
		.uf = uf,
		.max = uf->max_threads ? uf->max_threads : 1,
		.idle = uf->idle_threads,
		.per_mount = uf->mount_threads,
	};
	int err;

	pthread_mutex_init(&l.lock, NULL);
	sem_init(&l.finish, 0, 0);
	l.workers.next = l.workers.prev = &l.workers;
	pthread_mutex_lock(&l.lock);
	err = start_worker(&l);
	pthread_mutex_unlock(&l.lock);
	if (!err)
		while (!fuse_session_exited(uf->se))
			sem_wait(&l.finish);    /* a signal wakes it too */

	pthread_mutex_lock(&l.lock);
	l.exit = true;
	pthread_mutex_unlock(&l.lock);
	/* the workers wait in a read, or run a request with cancellation
	 * off: each stops at its read */
	for (struct worker *w = l.workers.next; w != &l.workers;) {
		struct worker *next = w->next;
		pthread_cancel(w->thread);
		pthread_join(w->thread, NULL);
		free(w->fb.mem);
		free(w);
		w = next;
	}
	/* what is still queued: the connection is going, the kernel ends
	 * those requests itself */
	for (unsigned b = 0; b < MQ_BUCKETS; b++)
		while (l.mq[b]) {
			struct mq *m = l.mq[b];
			l.mq[b] = m->next;
			while (m->head) {
				struct qreq *q = m->head;
				m->head = q->next;
				atomic_fetch_sub(&uf->nqueued, 1);
				free(q);
			}
			free(m);
		}
	sem_destroy(&l.finish);
	pthread_mutex_destroy(&l.lock);
	if (!err)
		err = l.error;
	return err;
}
