/*
 * conn.h - a 9P connection: the remote session (lib/remote/session.h:
 * requests, tags, deadlines, cancellation, liveness, states) with 9P's
 * part beside it: fid numbers, the Tclunk queue and, on a supervised
 * mount, the registry of fids and the supervisor that recovers a lost
 * session.  Internal to lib/9p; the layers are (docs/session.md):
 *
 *   lib/remote/transport  links (unix, tcp, fd pair), abortive close
 *   lib/remote/proc       server processes, restart limit, backoff
 *   lib/remote/rstate     the state machines, per-call deadline, liveness
 *   lib/remote/session    requests, the read role, fencing, probes
 *   rpc.c                 9P's hooks, rpc_x, fid numbers, Tclunk, Tversion
 *   registry.c            what each fid names (for recovery), what is
 *                         replayable
 *   recover.c             the supervisor: reconnect/respawn, re-walk,
 *                         reopen, identity checks; `uvfs servers` info
 *   pool.c                many requests in flight for one caller
 *   client.c, fids.c,     the driver (driver.h): nodes, fids, names,
 *   names.c, cache.c,     caches, vnode operations, open files and their
 *   vnops.c, io.c,        I/O, locks, the walks ahead of an ls -l,
 *   lock.c, lsplus.c,     extended attributes, the types and mounts
 *   xattr.c, mount.c
 *
 * Lock order (docs/locking.md): p9sb.lock and conn.s.lock are never held
 * together; nothing is held across a request but the timed flags
 * (serial_busy, wbusy) under conn.s.lock.
 */
#ifndef UVFS_9P_CONN_H
#define UVFS_9P_CONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <uvfs/fs.h>

#include "deadline.h"
#include "p9.h"
#include "pathidx.h"
#include "proc.h"
#include "rstate.h"
#include "session.h"
#include "supervise.h"
#include "transport.h"

#define MSIZE_MIN       4096u   /* the smallest msize we accept */

/* A fid that operations share; clunked when the last user drops it.  A
 * request that nobody waits for any more (rpc_abandon) keeps a use until
 * its reply: a fid's Tclunk never goes out while a request on it is out
 * (a server may free the fid's state under the request: diod 1.0.24
 * crashes in a Treaddir whose fid a concurrent Tclunk closed). */
struct fid {
	uint32_t num;
	atomic_uint refs;
};

/* What an rpc() that failed does with the fid it was given. */
enum cleanup { CL_NONE, CL_WALK /* newfid: clunk if it was created */,
	       CL_CLUNK /* clunk it */ };

/* What a request does to the fid registry when it succeeds. */
struct regop {
	uint8_t type;           /* the T-message type; 0: nothing */
	uint32_t fid, fid2, newfid, flags;
	char *s1, *s2;          /* walk: names joined by '/'; names */
	uint16_t nw;
	uint8_t ltype;          /* Tlock: type, range (kept by lock.c) */
	uint64_t start, length;
};


/* A 9P connection: the remote session (first member: the session's hooks
 * find the connection from it) and what 9P keeps beside it, under the
 * session's lock (c->s.lock) unless marked const. */
struct conn {
	struct rs_session s;
	uint32_t *free_fids;            /* fid numbers to reuse */
	size_t nfree, capfree;
	uint32_t next_fid;
	uint32_t *clunkq;               /* fids waiting for a Tclunk */
	size_t nclunk, capclunk;
	/* The fid registry (supervised only): what every fid the server
	 * holds names, to create it again on a new server.  By number, and
	 * by path (a rename moves the entries at and below its old name:
	 * registry.c); a node's head is the first entry's number + 1. */
	struct fident *fids;
	size_t nfidents;
	struct pidx paths;
	bool track;             /* const: keep the registry */
	struct sup *sup;        /* const: the supervisor, or NULL */
	struct p9_qid root_qid;
	/* the driver's fid cache, for uvfs_9p_server_info (written by the
	 * driver under its own lock) */
	atomic_ulong drv_fids, drv_fid_releases;
	/* round-trip economy (docs/9p-client.md): requests written (calls,
	 * clunks; probes and flushes are the session's own counters) and
	 * the waits for replies: a synchronous call is one; a batch of
	 * calls in flight together (pool.c, lsplus.c) is one */
	atomic_ulong n_sent, n_waits;
	/* Tclunks sent and not yet answered (lock.c: a lock refused while
	 * one is out is asked again once they are in, since a clunk
	 * releases the locks of its fid) */
	atomic_long clunks_out;
};

/* A fid as the server knows it (registry entry). */
struct fident {
	bool used;
	bool stale;             /* its file changed identity or vanished in
				 * a restart: requests naming it -ESTALE */
	bool unknown;           /* walked from a fid with no entry */
	struct pidx_node *pn;   /* its path from the root, names joined by
				 * '/' (reg_path: pn->path), in c->paths;
				 * NULL: none known */
	uint32_t pnext, pprev;  /* the entries at pn, as number + 1 (0:
				 * none) */
	uint32_t mnext;         /* reg_rename_locked's entries to move */
	struct p9_qid qid;
	int32_t oflags;         /* 9P open flags once opened, else -1 */
	struct uvfs_lockset *locks; /* granted Tlocks on it (lock.c), or
				       NULL: taken again after a restart */
};



/* The supervisor of a supervised mount (recover.c, docs/recovery.md):
 * one per mount, no global table. */
struct sup {
	struct rs_super sv;             /* the generic supervisor (its pid,
					 * limit, thread, counters) */
	struct conn *c;                 /* const: the supervised one */
	struct uvfs_sb *sb;             /* const: told of each recovery */
	const char *type;               /* const: "hostfs", "diod", "9p" */
	char *source;                   /* const: the mount's source: the
					 * directory exported (spawned), or
					 * the address (reconnect) */
	char *server;                   /* const: the binary; NULL with
					 * reconnect */
	bool diod;                      /* const: the server is diod */
	bool reconnect;                 /* const: a session is a connection
					 * to source; nothing to spawn, no
					 * pid, no pidfd */
	char *uname, *aname;            /* const: for Tattach again */
	uint32_t n_uname;
	unsigned long stale_fids;       /* c.s.lock */
	struct sup *next;               /* sup_list_lock: live supervised
					 * mounts, for uvfs_9p_server_info */
};

struct reply {
	void *buf;
	struct p9_msg m;
};

#define RPC_NOREPLAY 0x1        /* never replay (an append write) */
/* A request that may go only while *gen is still want: checked when it
 * is admitted (under c->s.lock), at its first sending and at each replay;
 * rpc_guard_bump, under that lock, stops every later one (-ECANCELED,
 * not sent). */
struct rpc_guard {
	const atomic_uint *gen;
	unsigned want;
};
#define RPC_INTERNAL 0x2        /* the supervisor's: runs while recovering,
				 * never waits for a recovery */

/* ---- rpc.c (over lib/remote/session.c) ---- */
int conn_init(struct conn *c);
/* Waits (bounded) for the requests in flight, then kills. */
void conn_fini_wait(struct conn *c, int drain_ms);
/* conn_fini_wait, joins the reader, closes and frees everything. */
void conn_fini(struct conn *c, int drain_ms);
/* Tversion, synchronously (no reader yet): negotiates c->msize (fixed: a
 * restarted server must answer the same). */
int conn_version(struct conn *c, bool fixed);
int reader_start(struct conn *c);
void conn_kill(struct conn *c);
void conn_lost(struct conn *c, uint64_t gen);
/* conn_lost, saying why: err -ETIMEDOUT (or a network's unreachability)
 * makes the state UNREACHABLE rather than LOST. */
void conn_lost_err(struct conn *c, uint64_t gen, int err);
int rpc_x(struct conn *c, struct p9_msg *t, uint8_t rtype,
	  struct reply *out, enum cleanup cl, uint32_t clfid, unsigned flags);
/* rpc_x for a request under guard g (NULL: none) */
int rpc_xg(struct conn *c, struct p9_msg *t, uint8_t rtype,
	   struct reply *out, enum cleanup cl, uint32_t clfid, unsigned flags,
	   const struct rpc_guard *g);
/* Stops the requests guarded by gen: none is admitted once this returns
 * (one admitted before is on its way out). */
void rpc_guard_bump(struct conn *c, atomic_uint *gen);
int rpc(struct conn *c, struct p9_msg *t, uint8_t rtype, struct reply *out,
	enum cleanup cl, uint32_t clfid);
void reply_free(struct reply *rp);
/* A request sent without waiting (rpc_start), waited for later
 * (rpc_finish): no replay, not on a serial session. */
struct rpc_async {
	struct rs_req *rq;
	struct timespec dl;
	bool overlapped;        /* its wait is another's (sent with a call
				 * waited for): not counted */
	bool lost;              /* rpc_finish: it failed because the session
				 * was lost under it (-EIO; rpc_x would
				 * have sent it again) */
};
int rpc_start(struct conn *c, struct p9_msg *t, uint8_t rtype,
	      struct rpc_async *a);
int rpc_finish(struct conn *c, struct rpc_async *a, struct reply *out,
	       enum cleanup cl, uint32_t clfid);
/* Nobody will wait for it: the session frees it at its reply.  hold (or
 * NULL) is the caller's use of the fid the request names: given up when
 * the request ends (its reply, or the session's loss), not before. */
void rpc_abandon(struct conn *c, struct rpc_async *a, struct fid *hold);
/* Its answer is in (rpc_finish will not wait). */
bool rpc_done(struct conn *c, const struct rpc_async *a);
/* A request on fid would go out now: the session is up and the fid did
 * not change identity in a restart (else its error is the caller's to
 * get at once: no write behind). */
bool fid_sendable(struct conn *c, uint32_t fid);
int fid_alloc(struct conn *c, uint32_t *fid);
void fid_free(struct conn *c, uint32_t fid);
void fid_free_locked(struct conn *c, uint32_t fid);
void clunk_async(struct conn *c, uint32_t fid);
/* Drops a use of f; the last one clunks (asynchronously) and frees it. */
void fid_rele(struct conn *c, struct fid *f);
void clunk_drain(struct conn *c);
void clunk_drain_by(struct conn *c, const struct timespec *dl);
uint64_t conn_sgen(struct conn *c);

/* ---- registry.c ---- */
struct fident *reg_get(struct conn *c, uint32_t fid);
/* => c->s.lock held.  e's path from the root, or NULL if none is known
 * (kept while the lock is). */
const char *reg_path(const struct fident *e);
void reg_fini(struct conn *c);
void reg_drop_locked(struct conn *c, uint32_t fid);
void reg_repath_locked(struct conn *c, uint32_t fid, uint32_t dirfid,
		       const char *name);
void reg_apply_locked(struct conn *c, const struct regop *op,
		      const struct p9_msg *m);
int regop_make(const struct p9_msg *t, struct regop *op);
bool replayable(uint8_t type);
int msg_fids(const struct p9_msg *t, uint32_t f[2]);

/* ---- lock.c ---- */
/* => c->s.lock held.  A Tlock on fid was granted (or an unlock sent):
 * its registry entry's lock set follows. */
void reg_lock_note_locked(struct conn *c, uint32_t fid, uint8_t type,
			  uint64_t start, uint64_t length);
/* => c->s.lock held.  A copy of e's lock set, NULL if none (or ENOMEM). */
struct uvfs_lockset *reg_locks_dup_locked(const struct fident *e);
/* The locks of ls again on fid (reopened on a new server), with
 * P9_LOCK_FLAGS_RECLAIM: 0, or why one was not granted. */
int p9_lock_reclaim(struct conn *c, uint32_t fid,
		    const struct uvfs_lockset *ls);

/* ---- recover.c ---- */
/* The server of session gen broke the protocol and cannot be restarted:
 * the mount is dead. */
void proto_kill(struct conn *c, uint64_t gen);
/* The supervisor's thread of c (c->sup set up). */
int sup_start(struct conn *c);
void sup_stop(struct conn *c);
void sup_free(struct sup *sp);
/* Fills c->sup's generic part (after its 9P fields are set). */
int sup_init(struct conn *c, long restarts, long window_ms);
/* Spawns c->sup's server as c's session (first, or again). */
int spawn_server(struct conn *c);
/* After a loss (or at unmount): no reader, link or server left of the
 * old session. */
void session_teardown(struct conn *c, int grace_ms);

#endif /* UVFS_9P_CONN_H */
