/*
 * worker.c - the bounded pool that runs deferred release work
 * (DESIGN invariant 8: no I/O in the final put).
 *
 * The last release of a vnode, a mount or a superblock queues a `struct
 * work` embedded in the object and returns; a worker runs it.  The queue is
 * an intrusive list, so queueing never allocates and never fails.  A work
 * item holds whatever it will touch: it is queued with the object's last
 * reference, which the work function consumes.
 *
 * Two queues, both under work_lock: u->work_queue (urgent: run at once)
 * and u->lazy_queue (vnode reclaims, which may wait LAZY_MS for company:
 * one wakeup per batch).  Urgent work goes first.  Which queue an item is
 * on is what makes it lazy, so a `struct work` is two words and a link
 * (it is embedded in every vnode: docs/design.md, "Vnode memory").
 *
 * uvfs_settle() is the barrier: it waits until the queues are empty, no
 * work is running and every superblock that left the namespace has been
 * freed.
 */
#include "core.h"
#include "deadline.h"    /* lib/util */

#include <time.h>

#define LAZY_MS    5    /* how long lazy work may wait for company */
#define LAZY_BATCH 64   /* ... or until this many are queued */

void work_queue(struct uvfs *u, struct work *w)
{
	pthread_mutex_lock(&u->work_lock);
	cds_list_add_tail(&w->link, &u->work_queue);
	u->work_pending++;
	pthread_cond_signal(&u->work_cv);
	pthread_mutex_unlock(&u->work_lock);
}

void work_queue_lazy(struct uvfs *u, struct work *w)
{
	pthread_mutex_lock(&u->work_lock);
	cds_list_add_tail(&w->link, &u->lazy_queue);
	u->work_pending++;
	if (!u->lazy_armed) {
		/* the first of a batch wakes a worker, which then waits out
		 * LAZY_MS for the rest */
		u->lazy_armed = true;
		clock_gettime(CLOCK_MONOTONIC, &u->lazy_since);
		pthread_cond_signal(&u->work_cv);
	}
	pthread_mutex_unlock(&u->work_lock);
}

/* => work_lock held, no urgent work, the lazy queue not empty.  Should the
 * worker wait for the batch to fill (until *until)? */
static bool batch_forming_locked(struct uvfs *u, struct timespec *until)
{
	if (!u->lazy_armed || u->hurry || u->work_stop ||
	    u->work_pending - u->work_running >= LAZY_BATCH)
		return false;
	*until = u->lazy_since;
	ts_add_ms(until, LAZY_MS);
	return ms_left(until) > 0;
}

void work_run_matching(struct uvfs *u, bool (*match)(struct work *, void *),
		       void *arg)
{
	struct cds_list_head mine;
	struct work *w, *tmp;
	unsigned long k = 0;

	CDS_INIT_LIST_HEAD(&mine);
	pthread_mutex_lock(&u->work_lock);
	cds_list_for_each_entry_safe(w, tmp, &u->work_queue, link) {
		if (match(w, arg)) {
			cds_list_move(&w->link, &mine);
			k++;
		}
	}
	cds_list_for_each_entry_safe(w, tmp, &u->lazy_queue, link) {
		if (match(w, arg)) {
			cds_list_move(&w->link, &mine);
			k++;
		}
	}
	u->work_running += k;
	pthread_mutex_unlock(&u->work_lock);
	if (!k)
		return;
	cds_list_for_each_entry_safe(w, tmp, &mine, link) {
		cds_list_del(&w->link);
		w->fn(w);
	}
	pthread_mutex_lock(&u->work_lock);
	u->work_running -= k;
	u->work_pending -= k;
	pthread_cond_broadcast(&u->idle_cv);
	pthread_mutex_unlock(&u->work_lock);
}

static void *worker_main(void *arg)
{
	struct uvfs *u = arg;

	pthread_mutex_lock(&u->work_lock);
	for (;;) {
		struct timespec until;
		struct work *w;

		while (cds_list_empty(&u->work_queue) &&
		       cds_list_empty(&u->lazy_queue) && !u->work_stop) {
			/* no batch is forming (work_run_matching may have
			 * taken it): the next lazy item must wake us */
			u->lazy_armed = false;
			pthread_cond_wait(&u->work_cv, &u->work_lock);
		}
		if (!cds_list_empty(&u->work_queue)) {
			w = cds_list_first_entry(&u->work_queue, struct work,
						 link);
		} else if (cds_list_empty(&u->lazy_queue)) {
			break;  /* stopping, and nothing left */
		} else if (batch_forming_locked(u, &until)) {
			pthread_cond_timedwait(&u->work_cv, &u->work_lock,
					       &until);
			continue;
		} else {
			u->lazy_armed = false;  /* this batch is being drained */
			w = cds_list_first_entry(&u->lazy_queue, struct work,
						 link);
		}
		cds_list_del(&w->link);
		u->work_running++;
		pthread_mutex_unlock(&u->work_lock);
		w->fn(w);
		pthread_mutex_lock(&u->work_lock);
		u->work_running--;
		u->work_pending--;
		pthread_cond_broadcast(&u->idle_cv);
	}
	pthread_mutex_unlock(&u->work_lock);
	return NULL;
}

int workers_start(struct uvfs *u)
{
	u->workers = sys_calloc(u->nworkers, sizeof(*u->workers));
	if (!u->workers)
		return -ENOMEM;
	for (unsigned i = 0; i < u->nworkers; i++) {
		int e = sys_pthread_create(&u->workers[i], NULL, worker_main, u);
		if (e) {
			u->nworkers = i;
			workers_stop(u);
			return -e;
		}
	}
	return 0;
}

/* => runs what is queued, then stops the threads. */
void workers_stop(struct uvfs *u)
{
	pthread_mutex_lock(&u->work_lock);
	u->work_stop = true;
	pthread_cond_broadcast(&u->work_cv);
	pthread_mutex_unlock(&u->work_lock);
	for (unsigned i = 0; i < u->nworkers; i++)
		pthread_join(u->workers[i], NULL);
	free(u->workers);
	u->workers = NULL;
	u->nworkers = 0;
}

void settle_kick(struct uvfs *u)
{
	pthread_mutex_lock(&u->work_lock);
	pthread_cond_broadcast(&u->idle_cv);
	pthread_mutex_unlock(&u->work_lock);
}

int uvfs_settle(struct uvfs *u, int timeout_ms)
{
	struct timespec until;
	int ret = 0;

	if (timeout_ms >= 0)
		deadline_in(&until, timeout_ms);
	pthread_mutex_lock(&u->work_lock);
	u->hurry++;             /* no batching while someone waits */
	pthread_cond_broadcast(&u->work_cv);
	while (u->work_pending > 0 || atomic_load(&u->nzombie_sb) > 0) {
		if (timeout_ms < 0) {
			pthread_cond_wait(&u->idle_cv, &u->work_lock);
		} else if (pthread_cond_timedwait(&u->idle_cv, &u->work_lock,
						  &until) == ETIMEDOUT) {
			if (u->work_pending > 0 ||
			    atomic_load(&u->nzombie_sb) > 0)
				ret = -ETIMEDOUT;
			break;
		}
	}
	u->hurry--;
	pthread_mutex_unlock(&u->work_lock);
	return ret;
}
