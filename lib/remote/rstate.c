/*
 * rstate.c - the protocol-free rules of a remote session (rstate.h).
 *
 * Owns nothing: struct rs_conn lives in its protocol's session object;
 * the per-call deadline is a thread-local record set and restored by
 * rs_call_begin/rs_call_end around one operation.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "deadline.h"
#include "rstate.h"

static const char *const conn_names[] = {
	[RS_UP] = "up", [RS_UNREACHABLE] = "unreachable",
	[RS_LOST] = "lost", [RS_RECOVERING] = "recovering",
	[RS_DEAD] = "dead",
};

static const char *const rq_names[] = {
	[RS_RQ_NEW] = "new", [RS_RQ_SENT] = "sent",
	[RS_RQ_FLUSHING] = "flushing", [RS_RQ_DONE] = "done",
};

static void illegal(const char *what, const char *from, const char *to)
{
	fprintf(stderr, "uvfs: remote session: illegal %s transition "
		"%s -> %s\n", what, from, to);
	abort();
}

void rs_conn_init(struct rs_conn *s)
{
	s->state = RS_UP;
	s->silent = false;
	atomic_init(&s->dead, false);
	cond_init_monotonic(&s->cv);
}

void rs_conn_fini(struct rs_conn *s)
{
	pthread_cond_destroy(&s->cv);
}

const char *rs_state_name(enum rs_state st)
{
	return conn_names[st];
}

void rs_set_state(struct rs_conn *s, enum rs_state to)
{
	enum rs_state from = s->state;
	bool legal;

	switch (to) {
	case RS_UP:
		legal = from == RS_RECOVERING;
		break;
	case RS_UNREACHABLE:
		legal = from == RS_UP || from == RS_RECOVERING ||
			from == RS_LOST;
		break;
	case RS_LOST:
		legal = from == RS_UP || from == RS_RECOVERING ||
			from == RS_UNREACHABLE;
		break;
	case RS_RECOVERING:
		legal = from == RS_LOST || from == RS_UNREACHABLE;
		break;
	case RS_DEAD:
		legal = from != RS_DEAD;
		break;
	default:
		legal = false;
	}
	if (!legal)
		illegal("connection", conn_names[from], conn_names[to]);
	s->state = to;
	if (to == RS_UNREACHABLE)
		s->silent = true;
	else if (to == RS_UP || to == RS_DEAD)
		s->silent = false;
	atomic_store(&s->dead, to == RS_LOST || to == RS_UNREACHABLE ||
		     to == RS_DEAD);
	pthread_cond_broadcast(&s->cv);
}

bool rs_recovering(const struct rs_conn *s)
{
	return s->state == RS_LOST || s->state == RS_UNREACHABLE ||
	       s->state == RS_RECOVERING;
}

bool rs_silent(const struct rs_conn *s)
{
	return s->state == RS_UNREACHABLE ||
	       (s->state == RS_RECOVERING && s->silent);
}

const char *rs_state_display(const struct rs_conn *s)
{
	switch (s->state) {
	case RS_UP:
		return "running";
	case RS_DEAD:
		return "dead";
	default:
		return rs_silent(s) ? "unreachable" : "reconnecting";
	}
}

enum rs_rq_state rs_rq_next(enum rs_rq_state from, enum rs_rq_state to)
{
	bool legal = (from == RS_RQ_NEW && (to == RS_RQ_SENT ||
					    to == RS_RQ_DONE)) ||
		     (from == RS_RQ_SENT && (to == RS_RQ_FLUSHING ||
					     to == RS_RQ_DONE)) ||
		     (from == RS_RQ_FLUSHING && to == RS_RQ_DONE);

	if (!legal)
		illegal("request", rq_names[from], rq_names[to]);
	return to;
}

static __thread struct rs_call tl_call;

void rs_call_begin(int timeout_ms, struct rs_call *saved)
{
	*saved = tl_call;
	if (!tl_call.set) {
		tl_call.set = true;
		deadline_in(&tl_call.dl, timeout_ms);
	}
}

void rs_call_begin_at(const struct timespec *dl, struct rs_call *saved)
{
	*saved = tl_call;
	if (!tl_call.set) {
		tl_call.set = true;
		tl_call.dl = *dl;
	}
}

void rs_call_end(const struct rs_call *saved)
{
	tl_call = *saved;
}

void rs_call_clamp(struct timespec *dl)
{
	if (tl_call.set && ts_ns(&tl_call.dl) < ts_ns(dl))
		*dl = tl_call.dl;
}

void rs_call_restart(const struct timespec *dl)
{
	if (tl_call.set)
		tl_call.dl = *dl;
}

int rs_flush_grace_ms(int timeout_ms)
{
	int g = timeout_ms / 4;

	if (g > RS_FLUSH_GRACE_MAX_MS)
		g = RS_FLUSH_GRACE_MAX_MS;
	return g < RS_FLUSH_GRACE_MIN_MS ? RS_FLUSH_GRACE_MIN_MS : g;
}

bool rs_err_unreachable(int err)
{
	return err == -ETIMEDOUT || err == -EHOSTUNREACH ||
	       err == -ENETUNREACH || err == -EHOSTDOWN || err == -ENETDOWN;
}
