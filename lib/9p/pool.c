/*
 * pool.c - worker threads that put many 9P requests in flight for one
 * caller (pool.h).  9P2000.L has no compound requests: a listing with
 * attributes, a large read or a run of writes is many independent
 * requests, and the session (lib/remote/session.c) already carries 256 in
 * flight, one waiter each.  The pool gives a caller those waiters: it
 * queues jobs (each one or a few rpc() calls), workers run them at once,
 * and the caller waits once for the batch.
 *
 * Owns struct p9pool (pool_init to pool_fini), its threads (started on
 * demand, up to POOL_THREADS; they live until pool_fini) and each queued
 * struct pjob (pool_submit until its function returned).
 *
 * Lock: p9pool.lock (a leaf: no other lock is taken under it, and it is
 * not held while a job runs).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "conn.h"
#include "pool.h"
#include "sys.h"

struct pjob {
	void (*fn)(void *);
	void (*fin)(void *);
	void *arg;
	struct pbatch *b;
	size_t bytes;
	struct timespec dl;     /* the submitter's call deadline */
	struct pjob *next;
};

static _Thread_local bool tl_worker;

bool pool_in_batch(void)
{
	return tl_worker;
}

void pool_run_here(void (*fn)(void *), void *arg)
{
	bool was = tl_worker;

	tl_worker = true;
	fn(arg);
	tl_worker = was;
}

void pool_init(struct p9pool *p, struct conn *c)
{
	p->c = c;
	pthread_mutex_init(&p->lock, NULL);
	cond_init_monotonic(&p->cv);
	cond_init_monotonic(&p->done_cv);
	p->head = p->tail = NULL;
	p->nthreads = p->idle = p->nqueued = 0;
	p->stop = false;
}

/* Runs j under its submitter's deadline, exactly: a job that a worker
 * starts after it (late, on a loaded machine) sends nothing and fails
 * with -ETIMEDOUT, as any request of a call that would start after the
 * call's deadline.  Then it is finished (b's counters). */
static void run_job(struct p9pool *p, struct pjob *j)
{
	struct rs_call sv;
	bool was = tl_worker;

	tl_worker = true;
	rs_call_begin_at(&j->dl, &sv);
	j->fn(j->arg);
	rs_call_end(&sv);
	tl_worker = was;
	pthread_mutex_lock(&p->lock);
	j->b->pending--;
	j->b->bytes -= j->bytes;
	pthread_cond_broadcast(&p->done_cv);
	pthread_mutex_unlock(&p->lock);
	if (j->fin)
		j->fin(j->arg);
	free(j);
}

static void *worker(void *arg)
{
	struct p9pool *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct pjob *j = p->head;
		if (!j) {
			if (p->stop)
				break;
			p->idle++;
			pthread_cond_wait(&p->cv, &p->lock);
			p->idle--;
			continue;
		}
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		p->nqueued--;
		pthread_mutex_unlock(&p->lock);
		run_job(p, j);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

void pool_submit(struct p9pool *p, struct pbatch *b, void (*fn)(void *),
		 void *arg, size_t bytes)
{
	pool_submit_fin(p, b, fn, NULL, arg, bytes);
}

void pool_submit_fin(struct p9pool *p, struct pbatch *b,
		     void (*fn)(void *), void (*fin)(void *), void *arg,
		     size_t bytes)
{
	struct pjob *j = sys_malloc(sizeof(*j));

	if (!j) {
		fn(arg);        /* no memory: in the caller, one at a time */
		if (fin)
			fin(arg);
		return;
	}
	j->fn = fn;
	j->fin = fin;
	j->arg = arg;
	j->b = b;
	j->bytes = bytes;
	j->next = NULL;
	deadline_in(&j->dl, p->c->s.timeout_ms);
	rs_call_clamp(&j->dl);
	pthread_mutex_lock(&p->lock);
	b->pending++;
	b->bytes += bytes;
	b->used = true;
	if (p->stop) {
		pthread_mutex_unlock(&p->lock);
		run_job(p, j);
		return;
	}
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->nqueued++;
	/* a thread per queued job that no idle one will take: an idle
	 * thread signalled but not yet awake still counts as idle, so
	 * comparing with the queue (not idle == 0) keeps a burst of
	 * submits from running on the few threads that were idle */
	if (p->nqueued > p->idle && p->nthreads < POOL_THREADS &&
	    sys_pthread_create(&p->th[p->nthreads], NULL, worker, p) == 0)
		p->nthreads++;
	if (p->nthreads == 0) {
		/* no thread could start: run it here */
		p->head = p->tail = NULL;
		p->nqueued = 0;
		pthread_mutex_unlock(&p->lock);
		run_job(p, j);
		return;
	}
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->lock);
}

void pool_wait(struct p9pool *p, struct pbatch *b)
{
	pthread_mutex_lock(&p->lock);
	if (b->pending || b->used)
		atomic_fetch_add(&p->c->n_waits, 1);
	b->used = false;
	while (b->pending)
		pthread_cond_wait(&p->done_cv, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

void pool_wait_done(struct p9pool *p, atomic_bool *done)
{
	pthread_mutex_lock(&p->lock);
	if (!atomic_load(done))
		atomic_fetch_add(&p->c->n_waits, 1);
	while (!atomic_load(done))
		pthread_cond_wait(&p->done_cv, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

void pool_wait_below(struct p9pool *p, struct pbatch *b, size_t bytes)
{
	pthread_mutex_lock(&p->lock);
	while (b->pending && b->bytes > bytes)
		pthread_cond_wait(&p->done_cv, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

unsigned pool_pending(struct p9pool *p, struct pbatch *b)
{
	pthread_mutex_lock(&p->lock);
	unsigned n = b->pending;
	pthread_mutex_unlock(&p->lock);
	return n;
}

void pool_fini(struct p9pool *p)
{
	unsigned n;

	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cv);
	n = p->nthreads;
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < n; i++)
		pthread_join(p->th[i], NULL);
	/* a submit raced with the stop: queued but never taken */
	for (struct pjob *j = p->head, *jn; j; j = jn) {
		jn = j->next;
		run_job(p, j);
	}
	p->head = p->tail = NULL;
	pthread_cond_destroy(&p->cv);
	pthread_cond_destroy(&p->done_cv);
	pthread_mutex_destroy(&p->lock);
}
