/*
 * reqs.c - the per-thread state of the threads that run FUSE requests:
 * the table of requests in progress (which process asked for which
 * operation on which node, and since when; the daemon reads it with
 * uvfs_fuse_requests to name the operations that hold a mount busy) and
 * each thread's cached context (req_ctx's, so that a request takes no
 * shared lock for its context).
 *
 * Lifecycle of a thread slot (struct tslot): made by the first request a
 * thread runs for a session (slot_of: malloc'ed, linked on uf->slots,
 * pointed to by the thread's key) and kept while the thread lives, so a
 * request only writes its own slot.  It ends at whichever comes first:
 *  - the thread's exit (the key's destructor, slot_exit): unlinked, its
 *    context back to the session's pool, freed;
 *  - the session's end (uvfs_fuse_free, reqs_fini): unlinked, its context
 *    freed, marked gone (uf NULL); the thread's destructor then only
 *    frees it.
 * A thread that serves another session later moves its slot there (its
 * context goes back to the first session's pool).  libfuse's workers end
 * before fuse_session_loop_mt returns, so in uvfsd every slot goes by the
 * first way.
 *
 * The callers' groups (req_groups): libfuse's fuse_req_getgroups opens,
 * reads and closes /proc/PID/task/PID/status twice for each request of
 * a caller other than root (a 1 KiB read first, which the file does not
 * fit).  A slot keeps the status files of its thread's last GCACHE
 * callers open and reads one again from its start: one pread per
 * request.  The file stays bound to the task it was opened for: once
 * that task is gone, a read fails (ESRCH) and the entry is opened again
 * (a new process with the same pid is a new task), so nothing is ever
 * read from the wrong process; and every read is the task's groups now.
 * The files are closed with the slot.
 *
 * A request in progress: req_begin fills the slot's record (op != NULL),
 * req_end clears it.  A handler that begins twice keeps the first begin;
 * the first end ends it.  Between the two the request is also the
 * thread's interruption (uvfs_intr_set): should the library wait at a
 * suspended mount for it, the kernel's INTERRUPT (the caller got a
 * signal: killed, ^C) ends the wait and the request answers EINTR, where
 * the caller would otherwise stay in D state until the resume.  Every
 * handler replies only after req_end, so the request the library arms
 * is never one already answered.  The record is written by its thread only, under
 * a sequence count (odd while it changes), and read by the lister without
 * the writer's help: a lister that sees the count change reads again.
 *
 * Locks: slots_lock (process-wide) guards every slot's uf and the lists'
 * membership against a thread's exit racing the session's end; under it
 * uf->rq_lock guards uf->slots (the lister takes only uf->rq_lock).  Both
 * are taken when a thread first serves a session, when it exits, and by
 * the lister and reqs_fini: never on a request's path.  The cost on that
 * path: a few stores at each end and a coarse clock read.
 */
#define _GNU_SOURCE
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include "fuse_i.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t slot_key;
static __thread struct tslot *my_slot;  /* the key's value, read fast */

/* A coarse clock: enough for milliseconds in progress, and a vDSO read
 * of a word, not of the time counter. */
static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Closes the callers' status files s keeps (req_groups). */
static void slot_close_groups(struct tslot *s)
{
	for (int i = 0; i < GCACHE; i++)
		if (s->gpid[i]) {
			close(s->gfd[i]);
			s->gpid[i] = 0;
		}
}

/* => slots_lock held; s linked on s->uf.  Unlinks it (its context stays). */
static void slot_unlink_locked(struct tslot *s)
{
	struct uvfs_fuse *uf = s->uf;

	pthread_mutex_lock(&uf->rq_lock);
	if (s->prev)
		s->prev->next = s->next;
	else
		uf->slots = s->next;
	if (s->next)
		s->next->prev = s->prev;
	pthread_mutex_unlock(&uf->rq_lock);
	s->uf = NULL;
}

/* The key's destructor, at the thread's exit. */
static void slot_exit(void *arg)
{
	struct tslot *s = arg;
	struct uvfs_fuse *uf;
	struct uvfs_ctx *ctx;

	pthread_mutex_lock(&slots_lock);
	uf = s->uf;
	ctx = s->ctx;
	if (uf) {
		slot_unlink_locked(s);
		if (ctx)
			uvfs_fuse_ctx_put(uf, ctx); /* back to the pool */
	}
	pthread_mutex_unlock(&slots_lock);
	slot_close_groups(s);
	uvfs_intr_free(s->intr);
	my_slot = NULL;
	free(s);
}

/* FUSE INTERRUPT of a request whose thread waits at a closed gate. */
static void intr_fired(fuse_req_t req, void *data)
{
	(void)req;
	uvfs_intr_cancel(data);
}

/* The library is about to wait for req (waiting 1), or is done (0):
 * libfuse calls intr_fired at once if the INTERRUPT came already, and
 * its unregistering waits for a call in progress, as uvfs_intr's arm
 * must. */
static void intr_arm(void *req, struct uvfs_intr *w, int waiting)
{
	if (waiting)
		fuse_req_interrupt_func(req, intr_fired, w);
	else
		fuse_req_interrupt_func(req, NULL, NULL);
}

static void key_init(void)
{
	if (pthread_key_create(&slot_key, slot_exit) != 0)
		abort();        /* no key: nothing can be tracked */
}

/* This thread's slot on uf, made or moved at its first request there;
 * NULL when out of memory. */
static struct tslot *slot_of(struct uvfs_fuse *uf)
{
	struct tslot *s = my_slot;
	struct uvfs_ctx *old = NULL;
	struct uvfs_fuse *olduf = NULL;

	if (s && s->uf == uf)   /* only this thread or reqs_fini moves it */
		return s;
	pthread_once(&key_once, key_init);
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return NULL;
		if (pthread_setspecific(slot_key, s) != 0) {
			free(s);
			return NULL;
		}
		s->intr = uvfs_intr_new(intr_arm); /* NULL: uninterruptible */
		my_slot = s;
	}
	pthread_mutex_lock(&slots_lock);
	if (s->uf) {            /* from another session: its context goes */
		olduf = s->uf;
		old = s->ctx;
		slot_unlink_locked(s);
		if (old)
			uvfs_fuse_ctx_put(olduf, old);
	}
	s->ctx = NULL;
	s->ctx_busy = false;
	s->uf = uf;
	pthread_mutex_lock(&uf->rq_lock);
	s->prev = NULL;
	s->next = uf->slots;
	if (s->next)
		s->next->prev = s;
	uf->slots = s;
	pthread_mutex_unlock(&uf->rq_lock);
	pthread_mutex_unlock(&slots_lock);
	return s;
}

void reqs_fini(struct uvfs_fuse *uf)
{
	pthread_mutex_lock(&slots_lock);
	while (uf->slots) {
		struct tslot *s = uf->slots;
		struct uvfs_ctx *ctx = s->ctx;
		slot_unlink_locked(s);
		s->ctx = NULL;
		if (ctx)
			uvfs_ctx_free(ctx);
		slot_close_groups(s);   /* the thread no longer runs */
	}
	pthread_mutex_unlock(&slots_lock);
}

struct uvfs_ctx *slot_ctx(struct uvfs_fuse *uf)
{
	struct tslot *s = slot_of(uf);

	if (!s || s->ctx_busy)
		return NULL;
	if (!s->ctx) {
		s->ctx = uvfs_fuse_ctx_get(uf, NULL);
		if (!s->ctx)
			return NULL;
	}
	s->ctx_busy = true;
	return s->ctx;
}

bool slot_ctx_put(struct uvfs_fuse *uf, struct uvfs_ctx *ctx)
{
	struct tslot *s = my_slot;

	if (!s || s->uf != uf || s->ctx != ctx)
		return false;
	s->ctx_busy = false;
	return true;
}

/* The caller's status file, read from its start into buf (NUL ended);
 * => its length, or -errno. */
static ssize_t read_status(struct tslot *s, pid_t pid, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int i, fd;

	for (i = 0; i < GCACHE; i++)
		if (s->gpid[i] == pid) {
			n = pread(s->gfd[i], buf, size - 1, 0);
			if (n > 0) {
				buf[n] = '\0';
				return n;
			}
			close(s->gfd[i]);       /* that task is gone */
			s->gpid[i] = 0;
			break;
		}
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid,
		 (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, buf, size - 1, 0);
	if (n <= 0) {
		n = n < 0 ? -errno : -EIO;
		close(fd);
		return n;
	}
	buf[n] = '\0';
	i = (int)(s->gnext++ % GCACHE);
	if (s->gpid[i])
		close(s->gfd[i]);
	s->gpid[i] = pid;
	s->gfd[i] = fd;
	return n;
}

int req_groups(fuse_req_t req, int size, gid_t list[])
{
	struct tslot *s = slot_of(fuse_req_userdata(req));
	pid_t pid = fuse_req_ctx(req)->pid;
	char buf[4096], *p, *end;
	ssize_t n;
	int k = 0;

	if (!s || pid <= 0)
		return fuse_req_getgroups(req, size, list);
	n = read_status(s, pid, buf, sizeof(buf));
	if (n < 0)
		return -EIO;    /* as fuse_req_getgroups */
	if ((size_t)n == sizeof(buf) - 1)       /* more than it holds */
		return fuse_req_getgroups(req, size, list);
	p = strstr(buf, "\nGroups:");
	if (!p)
		return -EIO;
	p += strlen("\nGroups:");
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p < '0' || *p > '9')
			break;
		unsigned long v = strtoul(p, &end, 10);
		if (k < size)
			list[k] = (gid_t)v;
		k++;
		p = end;
	}
	return k;
}

void req_begin(fuse_req_t req, struct uvfs_node *nd, const char *op)
{
	struct uvfs_fuse *uf = fuse_req_userdata(req);
	struct tslot *s = slot_of(uf);
	struct freq *r;
	unsigned q;

	if (!s)
		return;         /* out of memory: not listed */
	r = &s->rec;
	if (atomic_load_explicit(&r->op, memory_order_relaxed))
		return;
	/* the sequence count odd, then each field with a release store,
	 * which orders the odd count before it for a lister that reads the
	 * field (with acquire), then even again (no fences: TSan has none) */
	q = atomic_load_explicit(&r->seq, memory_order_relaxed);
	atomic_store_explicit(&r->seq, q + 1, memory_order_relaxed);
	atomic_store_explicit(&r->pid, fuse_req_ctx(req)->pid,
			      memory_order_release);
	atomic_store_explicit(&r->nd, nd, memory_order_release);
	atomic_store_explicit(&r->where, uvfs_thread_where(),
			      memory_order_release);
	atomic_store_explicit(&r->start_ns, now_ns(), memory_order_release);
	atomic_store_explicit(&r->op, op, memory_order_release);
	atomic_store_explicit(&r->seq, q + 2, memory_order_release);
	if (s->intr)
		uvfs_intr_set(s->intr, req);
}

void req_end(struct uvfs_fuse *uf)
{
	struct tslot *s = my_slot;
	struct freq *r;
	unsigned q;

	if (!s || s->uf != uf)
		return;
	r = &s->rec;
	if (!atomic_load_explicit(&r->op, memory_order_relaxed))
		return;
	uvfs_intr_set(NULL, NULL);
	q = atomic_load_explicit(&r->seq, memory_order_relaxed);
	atomic_store_explicit(&r->seq, q + 1, memory_order_relaxed);
	atomic_store_explicit(&r->op, NULL, memory_order_release);
	atomic_store_explicit(&r->seq, q + 2, memory_order_release);
}

/* A request as the lister copies it. */
struct rcopy {
	pid_t pid;
	const char *op;
	struct uvfs_node *nd;
	const _Atomic unsigned long long *where;
	int64_t start_ns;
};

/* A consistent copy of r's request; false if none is in progress. */
static bool rec_read(struct freq *r, struct rcopy *out)
{
	for (;;) {
		unsigned q = atomic_load_explicit(&r->seq,
						  memory_order_acquire);
		if (q & 1) {
			sched_yield();  /* its owner is between two stores */
			continue;
		}
		/* acquire: a field from a request begun after the first
		 * read of the count brings that request's odd count with
		 * it, so the second read below differs */
		const char *op = atomic_load_explicit(&r->op,
						      memory_order_acquire);
		out->pid = atomic_load_explicit(&r->pid, memory_order_acquire);
		out->nd = atomic_load_explicit(&r->nd, memory_order_acquire);
		out->where = atomic_load_explicit(&r->where,
						  memory_order_acquire);
		out->start_ns = atomic_load_explicit(&r->start_ns,
						     memory_order_acquire);
		if (atomic_load_explicit(&r->seq, memory_order_relaxed) != q)
			continue;
		out->op = op;
		return op != NULL;
	}
}

int uvfs_fuse_requests(struct uvfs_fuse *uf, struct uvfs_fuse_request **out,
		       size_t *n)
{
	struct uvfs_fuse_request *v = NULL;
	struct uvfs_node **nds = NULL;
	dev_t *in = NULL;
	size_t k = 0, cap = 0;
	int64_t now = now_ns();
	struct rcopy c;

	pthread_mutex_lock(&uf->rq_lock);
	for (struct tslot *s = uf->slots; s; s = s->next) {
		if (!rec_read(&s->rec, &c))
			continue;
		if (k == cap) {
			size_t nc = cap ? cap * 2 : 16;
			void *p = realloc(v, nc * sizeof(*v));
			void *q = p ? realloc(nds, nc * sizeof(*nds)) : NULL;
			void *w = q ? realloc(in, nc * sizeof(*in)) : NULL;
			if (p)
				v = p;
			if (q)
				nds = q;
			if (w)
				in = w;
			if (!p || !q || !w) {
				pthread_mutex_unlock(&uf->rq_lock);
				free(v);
				free(nds);
				free(in);
				return -ENOMEM;
			}
			cap = nc;
		}
		memset(&v[k], 0, sizeof(v[k]));
		v[k].pid = c.pid;
		snprintf(v[k].op, sizeof(v[k].op), "%s", c.op);
		v[k].elapsed_ms = now > c.start_ns ?
			(uint64_t)(now - c.start_ns) / 1000000 : 0;
		/* the thread (and its where) lives while its slot is
		 * linked, and we hold the list */
		in[k] = (dev_t)atomic_load_explicit(c.where,
						    memory_order_relaxed);
		nds[k++] = c.nd;
	}
	pthread_mutex_unlock(&uf->rq_lock);
	/* the device: the mount the handler is inside now (a lookup that
	 * crossed into a mount waits there, not in its directory's), else
	 * the node's, from the registry (no I/O; the node may be gone by
	 * now, its address is only a key) */
	for (size_t i = 0; i < k; i++)
		v[i].dev = in[i] ? in[i] : nds[i] == uf->root ? uf->root_dev
					 : known_dev(uf, nds[i]);
	free(nds);
	free(in);
	*out = v;
	*n = k;
	return 0;
}
