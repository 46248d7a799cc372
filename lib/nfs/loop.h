/*
 * loop.h - one ONC RPC connection and its service thread (libnfs's rpc
 * layer), with per-request deadlines and cancellation.
 *
 * This is the part of the NFS driver that knows nothing of NFS: it owns a
 * struct rpc_context, connects it to (host, program, version) through the
 * portmapper, runs the one thread that calls rpc_service(), and lets any
 * number of callers issue a request and wait for its reply with a deadline.
 * The protocol (nfs3.c) gives each request two functions: one that issues
 * it (calls an rpc_*_async function, under the loop's lock) and one that
 * copies what it needs out of the decoded reply (in the service thread,
 * under the same lock: the reply's memory is libnfs's and dies with the
 * callback).  It is meant to move onto the protocol-independent session
 * layer (docs/nfs.md, "what is left").
 *
 * Connection states (one checked transition function, loop_set_state):
 *
 *   CONNECTING --connected--> UP --lost/fenced--> RECONNECTING --> UP ...
 *        \                     \                       \
 *         +--------------------+-----------------------+--> DEAD (cancel,
 *                                                      or the first connect
 *                                                      failed)
 *
 *   A loss by a deadline (the server went silent) is "unreachable" in
 *   loop_stats until UP again; one by EOF or a reset is not.
 *
 *   While RECONNECTING a new request fails at once with -EIO (soft, the
 *   default) or waits, within its deadline, for UP (hard).  In DEAD every
 *   request fails with -EIO at once.  A request out on a connection that
 *   is lost is sent again on the next connection if it is idempotent
 *   (LOOP_IDEMPOTENT) or the mount is hard (its caller still waits within
 *   its deadline); else it fails with -EIO.
 *
 * Fencing: a request whose deadline passes is failed to its caller with
 * -ETIMEDOUT only after the connection it went out on has been reset
 * (an abortive close: nothing queued in the kernel is sent afterwards), so
 * a request reported failed never reaches the server later.  Every other
 * request that was out on that connection fails with -EIO; the loop then
 * connects again (RECONNECTING).
 */
#ifndef UVFS_NFS_LOOP_H
#define UVFS_NFS_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <uvfs/uvfs.h>

struct rpc_context;
struct nfs_loop;

enum loop_state {
	LOOP_CONNECTING,
	LOOP_UP,
	LOOP_RECONNECTING,
	LOOP_DEAD,
};

/* Issues the request on rpc with cb/cbdata as its callback (rpc_cb);
 * returns 0, or non-zero when libnfs refused it.  Called under the loop's
 * lock, on any thread. */
typedef int (*loop_submit_fn)(struct rpc_context *rpc, void *cb,
			      void *cbdata, void *arg);
/* Copies the reply out: status is RPC_STATUS_*, data the decoded reply
 * (SUCCESS) or NULL.  Returns 0 or a negative errno for the caller.
 * Called in the service thread under the loop's lock, and only while the
 * caller still waits. */
typedef int (*loop_decode_fn)(struct rpc_context *rpc, int status,
			      void *data, void *arg);

struct loop_stats {
	enum loop_state state;
	unsigned long calls;            /* requests issued */
	unsigned long timeouts;         /* requests past their deadline */
	unsigned long losses;           /* connections lost or fenced */
	unsigned long reconnects;       /* connections made after the first */
	unsigned long replays;          /* hard: requests sent again */
	bool unreachable;               /* RECONNECTING after a silence */
	unsigned long unreachable_count; /* silences (fenced deadlines) */
	int last_error;                 /* why the last loss: an errno */
	time_t last_loss;               /* when (0: never) */
	bool hard;
	unsigned inflight;              /* requests out now */
};

/* Connects to program/version on host (through its portmapper) and
 * starts the service thread; waits up to timeout_ms for the connection.
 * hard: callers wait through a reconnect instead of failing fast. */
int loop_new(const char *host, int program, int version, int timeout_ms,
	     bool hard, struct nfs_loop **out);
/* Stops the thread and frees everything (requests still out fail). */
void loop_free(struct nfs_loop *l);
/* Forced unmount: every waiter gets -EIO now, later calls fail at once,
 * the connection is reset.  Any thread; does not wait for the server. */
void loop_cancel(struct nfs_loop *l);

/* Issues one request with the credentials cred (AUTH_SYS; NULL: root) and
 * waits for its reply until *dl, the deadline of the whole operation
 * (CLOCK_MONOTONIC; every request of one vnode operation shares it).
 * Returns decode's result, -EIO (lost, cancelled, refused), or
 * -ETIMEDOUT (the deadline passed: before it was sent, or after, fenced).
 * hard, while reconnecting: waits with no deadline until the connection
 * is up (a forced unmount ends the wait with -EIO), and *dl starts
 * again then (now + the mount's timeout). */
#define LOOP_IDEMPOTENT 0x1 /* flags: may be sent again after a loss */
int loop_call(struct nfs_loop *l, const struct uvfs_cred *cred,
	      loop_submit_fn submit, loop_decode_fn decode, void *arg,
	      unsigned flags, struct timespec *dl);
/* Issues n requests (at most LOOP_MANY_MAX) at once, one per args[i],
 * and waits for all of them until *dl: results[i] is each one's
 * result as loop_call's.  A deadline fences them all.  Returns 0 once any
 * was issued (see results), else why none could be. */
#define LOOP_MANY_MAX 64
int loop_call_many(struct nfs_loop *l, const struct uvfs_cred *cred,
		   loop_submit_fn submit, loop_decode_fn decode,
		   void *const *args, int *results, unsigned n,
		   unsigned flags, struct timespec *dl);
/* Issues a request nobody waits for (its reply is dropped).  arg must
 * stay valid only for submit. */
int loop_send(struct nfs_loop *l, loop_submit_fn submit, void *arg);

void loop_stats(struct nfs_loop *l, struct loop_stats *out);
const char *loop_state_name(enum loop_state s);

#endif /* UVFS_NFS_LOOP_H */
