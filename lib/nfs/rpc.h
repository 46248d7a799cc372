/*
 * rpc.h - ONC RPC (RFC 5531) over the remote session layer
 * (lib/remote/session.h): the part of the NFS driver that knows RPC but
 * not NFS.
 *
 * A struct nconn is one NFS connection: a struct rs_session (first
 * member) with RPC's hooks (record-mark framing, the XID as the tag, the
 * NULL procedure as the probe, no cancel: a call past its deadline is
 * ended by the session's abortive cut), and the session's generic
 * supervisor, which reconnects to the same address after a loss.  Calls
 * are encoded and decoded with libnfs's XDR routines (zdr_*) into and out
 * of the session's frames; libnfs's own rpc_context is never used (see
 * docs/nfs.md, "Layers", for why).
 *
 * Lifecycle: nconn_new (connected, reader and supervisor running) to
 * nconn_free; nconn_cancel (forced unmount) kills it for good before.
 * A struct nrpc is one call, owned by its caller: filled, passed to
 * nc_call_many (or nrpc_oneshot), read, then nrpc_done (or nrpc_again,
 * and passed again: the same request asked again).
 *
 * Credentials: each call carries the AUTH_SYS credential it is given
 * (uid, gid, at most 16 supplementary groups, as AUTH_SYS allows), or
 * root's when given none.
 */
#ifndef UVFS_NFS_RPC_H
#define UVFS_NFS_RPC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <nfsc/libnfs-zdr.h>
#include <uvfs/uvfs.h>

struct nconn;

#define NC_AUTH_GROUPS  16      /* AUTH_SYS carries at most 16 groups */

/* One call.  The caller sets prog..idem and res (zeroed: the decoder
 * allocates what it points to, freed by nrpc_done). */
struct nrpc {
	uint32_t prog, vers, proc;
	zdrproc_t args_fn;              /* NULL: no arguments */
	void *args;
	size_t args_max;                /* bytes its encoding may take */
	zdrproc_t res_fn;               /* NULL: no results */
	void *res;
	bool idem;                      /* may be sent again after a loss */
	const atomic_bool *gone[2];     /* NULL, or set once what the call
					 * names is gone (an NFS node found
					 * stale; two: a LINK's or RENAME's
					 * two handles): once either is set
					 * it does not go, -ESTALE.  Read
					 * each time it is about to go:
					 * first, again after a loss (a
					 * replay, which waits for the
					 * reconnect and its rebuild), or
					 * after a JUKEBOX.  The caller keeps
					 * them valid until the call ends */
	/* set by the call: */
	int err;                /* 0: res decoded; else a negative errno:
				 * -ETIMEDOUT (deadline, fenced), -EIO (lost,
				 * killed, a bad reply), -EACCES (the server
				 * refused the credential), ... */
	/* private: */
	ZDR z;
	bool zlive;
	void *reply;
	uint8_t *frame;
	size_t flen;
};

/* The supervisor's hook: after a reconnect, before calls resume, with
 * calls flagged NC_INTERNAL.  0, or the attempt failed (the session is
 * lost again and retried). */
typedef int (*nc_rebuild_fn)(void *arg);

struct nc_opts {
	int timeout_ms;         /* a call's deadline */
	bool hard;              /* calls wait out an unreachable server */
	long restarts;          /* losses within window_ms before the mount
				 * is dead; < 0: no limit */
	long window_ms;
	const char *source;     /* for messages */
	nc_rebuild_fn rebuild;  /* may be NULL */
	void *rebuild_arg;
};

/* Connects to host:port (TCP) within o->timeout_ms and starts the
 * session's reader and supervisor. */
int nconn_new(const char *host, int port, const struct nc_opts *o,
	      struct nconn **out);
/* Drains (bounded by the deadline, at most 1 s), then frees. */
void nconn_free(struct nconn *nc);
/* Forced unmount: every waiter -EIO now, later calls -EIO, the link cut.
 * Never waits for the server. */
void nconn_cancel(struct nconn *nc);

#define NC_INTERNAL 0x1 /* the supervisor's rebuild: goes while recovering */
#define NC_NOWAIT   0x2 /* nc_start: goes now or not at all (-EAGAIN):
			 * no wait for a reconnect, a free tag or room in
			 * the link (the session's RS_NOWAIT: a call the
			 * link took a part of went, its end kept and sent
			 * by the next request or the call's wait) */

/*
 * Sends n calls at once as cred (NULL: root) and waits for all of them
 * by *dl (one deadline for all; a hard mount may move it once the server
 * is back).  Each calls[i]->err says how it ended (an error before it
 * went out included); a call lost with its connection is sent again if
 * it is idempotent or the mount hard, else -EIO.  Returns 0, or -ENOMEM
 * with no err set.  Each call must be nrpc_done'd either way.
 */
int nc_call_many(struct nconn *nc, const struct uvfs_cred *cred,
		 struct nrpc *const *calls, unsigned n, unsigned flags,
		 struct timespec *dl);
/*
 * One call sent now, waited for later (writes behind): nc_start encodes
 * and sends c as cred (NULL: root; a call already encoded goes as it
 * was) with the deadline *dl (kept: the wait runs by it, with the
 * session's liveness and fencing rules, so a call waited for after its
 * deadline is fenced at once if unanswered), and gives the pending call;
 * 0, or why it did not go (nothing pending).  nc_wait_by waits for it,
 * by that deadline or dl if later (a read ahead waited for by the read
 * that wants it), sends it again after a loss as nc_call_many does, sets
 * c->err and frees the pending call.  With NC_NOWAIT nc_start never waits
 * (-EAGAIN where it would: nothing went out; a call the link took a part
 * of went, and nc_wait_by sends the rest); sent again after a loss,
 * the call waits as any.  Every call started is waited for
 * (or abandoned) exactly once (a forced unmount ends the wait at once);
 * c stays the caller's (nrpc_done it after the wait, or nrpc_again and
 * start it again).
 */
struct npend;
int nc_start(struct nconn *nc, const struct uvfs_cred *cred, struct nrpc *c,
	     unsigned flags, const struct timespec *dl, struct npend **out);
void nc_wait_by(struct nconn *nc, struct npend *p, const struct timespec *dl);
/* Has the pending call's answer (or end) come: would nc_wait_by return
 * without waiting for the server?  (After a loss it may still send it
 * again.) */
bool nc_ready(struct nconn *nc, struct npend *p);
/* Gives up on a pending call without waiting (a read ahead nobody will
 * read): its reply, when it comes, is dropped; p is freed.  c is the
 * caller's again at once (nrpc_done it). */
void nc_abandon(struct nconn *nc, struct npend *p);
/* Waits ms before a call goes again (NFS's JUKEBOX): 0, or -EIO at once
 * when the connection is killed (a forced unmount) before or during the
 * wait. */
int nc_pause(struct nconn *nc, int ms);
/* Sends one call nobody waits for (its reply is dropped): 0 or why it
 * did not go.  c is the caller's again on return (nrpc_done it). */
int nc_send(struct nconn *nc, const struct uvfs_cred *cred, struct nrpc *c);
/* Frees what c's reply holds (its decoded results too) and keeps the
 * request as it was encoded, so that c can go out again as it is (to
 * nc_call_many or nc_start: the same arguments and credential, whatever
 * cred they are given now, and no buffer of the caller's read again):
 * a call the server said to ask again later (NFS's JUKEBOX). */
void nrpc_again(struct nrpc *c);
void nrpc_done(struct nrpc *c);

/* One call on a connection of its own to host:port, as root (the
 * portmapper's GETPORT, MOUNT's MNT at mount time), within timeout_ms. */
int nrpc_oneshot(const char *host, int port, struct nrpc *c, int timeout_ms);
/* The TCP port of prog/vers on host, from its portmapper (port 111). */
int nrpc_getport(const char *host, uint32_t prog, uint32_t vers,
		 int timeout_ms, int *port);

struct nc_stats {
	const char *state;      /* rs_state_display's */
	unsigned long calls, timeouts, losses, reconnects, replays;
	unsigned long unreachable, probes;
	unsigned long strays;   /* replies with a call's tag and another
				 * XID, dropped */
	unsigned long unsolicited;      /* replies to no call out */
	unsigned inflight;
	int last_error;         /* errno, or 0 */
	time_t last_loss;
	bool hard;
};
void nc_stats(struct nconn *nc, struct nc_stats *out);

#endif /* UVFS_NFS_RPC_H */
