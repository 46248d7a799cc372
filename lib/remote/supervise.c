/*
 * supervise.c - the supervisor of a remote session (supervise.h).
 *
 * Owns the thread of each supervised session and the server process of
 * each session it opened (reaped by rs_super_teardown).  The loop:
 *
 *   wait for a loss (the session's state leaves UP);
 *   tear the old session down: join its reader, close its link, SIGKILL
 *   and reap its server;
 *   the restart limit (not while UNREACHABLE: a partition is no crash
 *   loop): past it the session is killed (dead);
 *   back off (10 ms doubling to 1 s; 100 ms flat while UNREACHABLE);
 *   start (spawn or connect: 500 ms at most while UNREACHABLE), the
 *   handshake, a reader, the protocol's rebuild: UP again.  An attempt
 *   that fails loses its session and the loop goes on.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "deadline.h"
#include "supervise.h"
#include "sys.h"

void rs_super_set_link(struct rs_super *sv, struct rt_link l, pid_t pid,
		       int pidfd)
{
	struct rs_session *s = sv->s;

	pthread_mutex_lock(&s->lock);
	s->link = l;
	s->pidfd = pidfd;
	sv->pid = pid;
	sv->nrestarts++;
	pthread_mutex_unlock(&s->lock);
}

void rs_super_teardown(struct rs_super *sv, int grace_ms)
{
	struct rs_session *s = sv->s;
	pid_t pid;

	rs_session_teardown(s);
	pthread_mutex_lock(&s->lock);
	pid = sv->pid;
	sv->pid = 0;
	pthread_mutex_unlock(&s->lock);
	/* it exits at EOF; past the grace period, or with grace 0, it is
	 * killed */
	rproc_reap(pid, grace_ms);
	if (s->pidfd >= 0) {
		sys_close(s->pidfd);
		s->pidfd = -1;
	}
}

static void *super_main(void *arg)
{
	struct rs_super *sv = arg;
	struct rs_session *s = sv->s;
	struct rproc_backoff bo = { RS_BACKOFF_MIN_MS, RS_BACKOFF_MAX_MS,
				    RS_BACKOFF_MIN_MS };

	pthread_mutex_lock(&s->lock);
	for (;;) {
		while ((s->rs.state == RS_UP || s->rs.state == RS_RECOVERING) &&
		       !sv->stop)
			pthread_cond_wait(&s->sup_cv, &s->lock);
		if (s->rs.state == RS_DEAD || sv->stop)
			break;
		uint64_t gen = atomic_load(&s->sgen);
		bool unreach = s->rs.state == RS_UNREACHABLE;
		pthread_mutex_unlock(&s->lock);

		rs_super_teardown(sv, 0);
		if (!unreach && !rproc_limit_take(&sv->limit)) {
			if (sv->reconnect)
				fprintf(stderr, "uvfs: %s %s: connection "
					"lost; %ld attempts to reconnect "
					"within %ld ms: the mount is dead\n",
					sv->type, sv->source, sv->limit.max,
					sv->limit.window_ms);
			else
				fprintf(stderr, "uvfs: %s %s: the server died "
					"%ld times within %ld ms: the mount is "
					"dead\n", sv->type, sv->source,
					sv->limit.max + 1, sv->limit.window_ms);
			rs_kill(s);
			pthread_mutex_lock(&s->lock);
			break;
		}
		struct timespec dl;
		deadline_in(&dl, unreach ? RS_UNREACH_BACKOFF_MS :
			    rproc_backoff_next(&bo));
		pthread_mutex_lock(&s->lock);
		while (s->rs.state != RS_DEAD && !sv->stop)
			if (pthread_cond_timedwait(&s->sup_cv, &s->lock,
						   &dl) == ETIMEDOUT)
				break;
		if (s->rs.state == RS_DEAD || sv->stop)
			break;
		/* a loss seen by two threads may have turned UNREACHABLE
		 * since (rs_lost: the link's error after an EOF): this
		 * attempt is one while unreachable */
		unreach = s->rs.state == RS_UNREACHABLE;
		pthread_mutex_unlock(&s->lock);

		/* no session (the address refuses or does not answer, the
		 * binary cannot be spawned): nothing to lose, try again; a
		 * refusal while unreachable means the host is back but not
		 * the server: that counts again */
		int r = sv->ops->start(sv, unreach && s->timeout_ms >
				       RS_UNREACH_CONNECT_MS ?
				       RS_UNREACH_CONNECT_MS : s->timeout_ms);
		if (r != 0) {
			pthread_mutex_lock(&s->lock);
			s->last_err = r;
			/* a refusal while unreachable: the host is back but
			 * not the server (attempts count again); a timeout
			 * while lost: the host is gone too (fail fast) */
			if (!rs_err_unreachable(r) &&
			    s->rs.state == RS_UNREACHABLE)
				rs_set_state(&s->rs, RS_LOST);
			else if (rs_err_unreachable(r) &&
				 s->rs.state == RS_LOST)
				rs_set_state(&s->rs, RS_UNREACHABLE);
			continue;
		}
		pthread_mutex_lock(&s->lock);
		if (atomic_load(&s->sgen) == gen && s->rs.state != RS_DEAD &&
		    !sv->stop)
			rs_set_state(&s->rs, RS_RECOVERING);
		else
			r = -EIO;
		pthread_mutex_unlock(&s->lock);
		if (r == 0)
			r = sv->ops->handshake(sv);
		if (sv->reconnect && (r == -EPROTO || r == -EPROTONOSUPPORT)) {
			/* the address answers, but not as the server we
			 * mounted */
			fprintf(stderr, "uvfs: %s %s: the server answers the "
				"handshake otherwise than at mount: the mount "
				"is dead\n", sv->type, sv->source);
			rs_kill(s);
			pthread_mutex_lock(&s->lock);
			break;
		}
		if (r == 0)
			r = rs_reader_start(s);
		if (r == 0)
			r = sv->ops->rebuild(sv, gen);

		pthread_mutex_lock(&s->lock);
		if (r == 0 && atomic_load(&s->sgen) == gen &&
		    s->rs.state == RS_RECOVERING) {
			sv->last_recovery_ns = mono_now_ns() -
					       (uint64_t)ts_ns(&s->lost_at);
			rs_set_state(&s->rs, RS_UP);
			rproc_backoff_reset(&bo);
			pthread_mutex_unlock(&s->lock);
			sv->ops->recovered(sv);
			pthread_mutex_lock(&s->lock);
			continue;
		}
		/* this attempt failed: lose its session, try again */
		if (s->rs.state != RS_DEAD && atomic_load(&s->sgen) == gen) {
			pthread_mutex_unlock(&s->lock);
			rs_lost(s, gen, unreach ? -ETIMEDOUT : r);
			pthread_mutex_lock(&s->lock);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int rs_super_start(struct rs_super *sv)
{
	struct rs_session *s = sv->s;
	int r = -sys_pthread_create(&sv->thread, NULL, super_main, sv);

	if (r)
		return r;
	sv->started = true;
	pthread_mutex_lock(&s->lock);
	s->supervised = true;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void rs_super_stop(struct rs_super *sv)
{
	struct rs_session *s = sv->s;
	bool kill_it;

	pthread_mutex_lock(&s->lock);
	sv->stop = true;
	s->supervised = false;
	kill_it = rs_recovering(&s->rs);
	pthread_cond_broadcast(&s->sup_cv);
	pthread_mutex_unlock(&s->lock);
	if (kill_it)
		rs_kill(s);
	if (sv->started)
		pthread_join(sv->thread, NULL);
	sv->started = false;
}
