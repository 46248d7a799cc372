/*
 * reqs.c - the table of FUSE requests in progress: which process asked
 * for which operation on which node, and since when.  The daemon reads it
 * (uvfs_fuse_requests) to name the operations that hold a mount busy, for
 * a remote file system those waiting on its server.
 *
 * Lifecycle of a record (struct freq): one per worker thread, in
 * thread-local storage.  An operation handler that may enter the library
 * for long (req_ctx, or req_begin directly) fills it and links it on the
 * list of one stripe (picked by the thread); req_end, when the handler is
 * done (uvfs_fuse_ctx_put), unlinks it.  A record is linked only while its
 * handler runs, so a thread that exits has none linked and the storage can
 * go with it.  A handler that begins twice keeps the first begin; the
 * first end ends it.
 *
 * Locks: uf->rq_lock[i] guards the list uf->rq[i] and every field of the
 * records on it (a leaf: nothing is taken under it).  The cost on the fast
 * path is one uncontended lock and unlock at each end and a monotonic
 * clock read.
 */
#define _GNU_SOURCE
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include "fuse_i.h"

#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* this thread's record; linked iff rec.uf != NULL */
static __thread struct freq rec;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static unsigned rq_stripe(void)
{
	uintptr_t t = (uintptr_t)pthread_self();

	return (unsigned)((t >> 12) ^ (t >> 20)) % RQ_STRIPES;
}

void req_begin(fuse_req_t req, struct uvfs_node *nd, const char *op)
{
	struct uvfs_fuse *uf = fuse_req_userdata(req);
	unsigned s;

	if (rec.uf)
		return;
	s = rq_stripe();
	rec.pid = fuse_req_ctx(req)->pid;
	rec.op = op;
	rec.nd = nd;
	rec.where = uvfs_thread_where();
	rec.start_ns = now_ns();
	rec.stripe = s;
	pthread_mutex_lock(&uf->rq_lock[s]);
	rec.uf = uf;
	rec.prev = NULL;
	rec.next = uf->rq[s];
	if (rec.next)
		rec.next->prev = &rec;
	uf->rq[s] = &rec;
	pthread_mutex_unlock(&uf->rq_lock[s]);
}

void req_end(struct uvfs_fuse *uf)
{
	unsigned s = rec.stripe;

	if (rec.uf != uf)
		return;
	pthread_mutex_lock(&uf->rq_lock[s]);
	if (rec.prev)
		rec.prev->next = rec.next;
	else
		uf->rq[s] = rec.next;
	if (rec.next)
		rec.next->prev = rec.prev;
	rec.uf = NULL;
	pthread_mutex_unlock(&uf->rq_lock[s]);
}

int uvfs_fuse_requests(struct uvfs_fuse *uf, struct uvfs_fuse_request **out,
		       size_t *n)
{
	struct uvfs_fuse_request *v = NULL;
	struct uvfs_node **nds = NULL;
	dev_t *in = NULL;
	size_t k = 0, cap = 0;
	int64_t now = now_ns();

	for (unsigned s = 0; s < RQ_STRIPES; s++) {
		pthread_mutex_lock(&uf->rq_lock[s]);
		for (struct freq *r = uf->rq[s]; r; r = r->next) {
			if (k == cap) {
				size_t nc = cap ? cap * 2 : 16;
				void *p = realloc(v, nc * sizeof(*v));
				void *q = p ? realloc(nds, nc * sizeof(*nds))
					    : NULL;
				void *w = q ? realloc(in, nc * sizeof(*in))
					    : NULL;
				if (p)
					v = p;
				if (q)
					nds = q;
				if (w)
					in = w;
				if (!p || !q || !w) {
					pthread_mutex_unlock(&uf->rq_lock[s]);
					free(v);
					free(nds);
					free(in);
					return -ENOMEM;
				}
				cap = nc;
			}
			memset(&v[k], 0, sizeof(v[k]));
			v[k].pid = r->pid;
			snprintf(v[k].op, sizeof(v[k].op), "%s", r->op);
			v[k].elapsed_ms = now > r->start_ns ?
				(uint64_t)(now - r->start_ns) / 1000000 : 0;
			in[k] = (dev_t)atomic_load_explicit(r->where,
						memory_order_relaxed);
			nds[k++] = r->nd;
		}
		pthread_mutex_unlock(&uf->rq_lock[s]);
	}
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
