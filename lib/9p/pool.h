/*
 * pool.h - many 9P requests in flight for one caller (pool.c): a small
 * set of worker threads per mount that run calls on the caller's behalf,
 * so a caller can put a batch of requests on the link together and wait
 * once for all of them (one round trip for the batch, not one per
 * request).  Used by the pieces of one read or write, read-ahead,
 * write-behind and the pipelined re-walks and reopens of a recovery.
 * Internal to lib/9p.
 *
 * Objects: struct p9pool is embedded in struct p9sb (pool_init at mount,
 * pool_fini at unmount: it runs every queued job and joins its threads).
 * A job is the pool's from pool_submit until its function returned.  A
 * struct pbatch belongs to its submitter (on its stack, or in a node for
 * write-behind); it must not go away while jobs of it are pending.
 *
 * Lock: p9pool.lock guards the queue, the threads and every batch's
 * counters; it is never held while a job runs nor with any other lock of
 * the driver (docs/locking.md: a leaf).
 */
#ifndef UVFS_9P_POOL_H
#define UVFS_9P_POOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define POOL_THREADS    128     /* workers at most per mount */

struct conn;
struct pjob;

/* Jobs submitted together; their submitter waits for them (pool_wait) or
 * only bounds them (pool_wait_below). */
struct pbatch {
	unsigned pending;       /* pool lock: jobs not finished */
	size_t bytes;           /* pool lock: what the pending jobs carry
				 * (write-behind's window) */
	bool used;              /* pool lock: jobs since the last wait */
};

struct p9pool {
	struct conn *c;         /* const: for the wait counter, the deadline */
	pthread_mutex_t lock;
	pthread_cond_t cv;      /* lock: a job queued, or stop */
	pthread_cond_t done_cv; /* lock: a job finished */
	struct pjob *head, *tail;       /* lock: queued jobs */
	unsigned nqueued;               /* lock: how many */
	unsigned nthreads, idle;        /* lock (idle: waiting for a job,
					 * or signalled and not yet awake) */
	bool stop;              /* lock: unmount: run what is queued, exit */
	pthread_t th[POOL_THREADS];     /* lock (written); joined at fini */
};

void pool_init(struct p9pool *p, struct conn *c);
/* Runs what is queued, joins the threads.  No submit after it. */
void pool_fini(struct p9pool *p);
/* Queues fn(arg) as part of b, under the caller's call deadline (or a
 * fresh one of the mount's timeout if the caller has none): run by a
 * worker.  Without memory or a thread it runs in the caller (never
 * fails). */
void pool_submit(struct p9pool *p, struct pbatch *b, void (*fn)(void *),
		 void *arg, size_t bytes);
/* The same, with fin(arg) called once the job counts as finished in b
 * (b may go away after that: fin may free what holds it). */
void pool_submit_fin(struct p9pool *p, struct pbatch *b,
		     void (*fn)(void *), void (*fin)(void *), void *arg,
		     size_t bytes);
/* Waits until every job of b has finished: one wait for replies
 * (counted if b had jobs since its last wait). */
void pool_wait(struct p9pool *p, struct pbatch *b);
/* Waits until *done (set by a job before it finishes): one wait. */
void pool_wait_done(struct p9pool *p, atomic_bool *done);
/* Waits until b carries at most bytes (a window). */
void pool_wait_below(struct p9pool *p, struct pbatch *b, size_t bytes);
/* b's pending jobs now (a hint, for "anything to wait for?"). */
unsigned pool_pending(struct p9pool *p, struct pbatch *b);
/* Runs fn(arg) in the caller as one of a batch's requests (its wait is
 * the batch's: pool_wait counts one for both). */
void pool_run_here(void (*fn)(void *), void *arg);
/* The calling thread is a worker: its requests are part of a batch,
 * whose one wait is counted by pool_wait. */
bool pool_in_batch(void);

#endif /* UVFS_9P_POOL_H */
