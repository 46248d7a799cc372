/*
 * rstate.h - the protocol-free rules of a remote session (docs/session.md):
 * the connection's and a request's state machines with their one checked
 * transition each, the per-call deadline, and the liveness policy (when a
 * flush counts as unanswered, which errors mean "the peer went silent").
 *
 * A struct rs_conn is embedded in a protocol's session object and guarded
 * by that object's lock (every function here says "=> owner's lock held"
 * where it needs it).  No threads, no I/O.
 */
#ifndef UVFS_REMOTE_RSTATE_H
#define UVFS_REMOTE_RSTATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

/*
 * The connection (docs/session.md has the diagram):
 *
 *   UP --loss--> LOST --a new link--> RECOVERING --rebuilt--> UP
 *   UP --the peer went silent--> UNREACHABLE --a new link--> RECOVERING
 *   RECOVERING --the attempt failed--> LOST | UNREACHABLE
 *   LOST <--> UNREACHABLE (a connect attempt refused / timed out)
 *   any --cancel, unmount, limit, protocol violation--> DEAD
 */
enum rs_state { RS_UP, RS_UNREACHABLE, RS_LOST, RS_RECOVERING, RS_DEAD };

struct rs_conn {
	enum rs_state state;    /* owner's lock: rs_set_state */
	bool silent;            /* owner's lock: UNREACHABLE was entered and
				 * UP not reached since */
	atomic_bool dead;       /* written under the owner's lock: LOST,
				 * UNREACHABLE or DEAD (nothing may be sent);
				 * read without it on fast paths */
	pthread_cond_t cv;      /* broadcast at every state change */
};

void rs_conn_init(struct rs_conn *s);
void rs_conn_fini(struct rs_conn *s);
/* => owner's lock held.  The one place the state changes; an illegal
 * transition is a bug: the process aborts with both names. */
void rs_set_state(struct rs_conn *s, enum rs_state to);
/* LOST, UNREACHABLE or RECOVERING? */
bool rs_recovering(const struct rs_conn *s);
/* Calls fail fast (soft) or wait (hard) now: UNREACHABLE, or a
 * RECOVERING that started from it. */
bool rs_silent(const struct rs_conn *s);
/* What `uvfs servers` shows: running, unreachable, reconnecting, dead. */
const char *rs_state_display(const struct rs_conn *s);
const char *rs_state_name(enum rs_state st);

/*
 * A call (docs/session.md):
 *
 *   NEW --written--> SENT --deadline: cancel sent--> FLUSHING
 *   NEW | SENT | FLUSHING --reply, cancel confirmed, kill, loss--> DONE
 */
enum rs_rq_state { RS_RQ_NEW, RS_RQ_SENT, RS_RQ_FLUSHING, RS_RQ_DONE };
/* Checks from -> to (aborts if illegal) and returns to. */
enum rs_rq_state rs_rq_next(enum rs_rq_state from, enum rs_rq_state to);

/* One deadline per call, across all its requests (DESIGN invariant 12):
 * rs_call_begin at an operation's entry (nested: the outermost counts),
 * rs_call_end at its exit; rs_call_clamp makes a request's deadline no
 * later than its call's; rs_call_restart moves it (a hard mount, once the
 * server is back).  Per thread. */
struct rs_call {
	bool set;
	struct timespec dl;
};
void rs_call_begin(int timeout_ms, struct rs_call *saved);
/* rs_call_begin with the deadline itself (work done for a call on
 * another thread: that call's deadline, even one already passed). */
void rs_call_begin_at(const struct timespec *dl, struct rs_call *saved);
void rs_call_end(const struct rs_call *saved);
void rs_call_clamp(struct timespec *dl);
void rs_call_restart(const struct timespec *dl);

/* The liveness policy. */
#define RS_FLUSH_GRACE_MIN_MS 500       /* a busy server's answer to a
					 * cancel must not cost the link */
#define RS_FLUSH_GRACE_MAX_MS 1000
#define RS_UNREACH_CONNECT_MS 500       /* a connect attempt while
					 * unreachable */
#define RS_UNREACH_BACKOFF_MS 100       /* ... and the pause between */
/* How long a cancelled request waits for the server's word after its
 * deadline: a quarter of the deadline, 0.5 s to 1 s. */
int rs_flush_grace_ms(int timeout_ms);
/* A loss error that means the peer is silent rather than gone. */
bool rs_err_unreachable(int err);

#endif /* UVFS_REMOTE_RSTATE_H */
