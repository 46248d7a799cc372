/*
 * conn.h - the 9P session: one connection to a 9P2000.L server, its
 * requests (tags, deadlines, cancellation by Tflush), its reader, its fid
 * numbers and, on a supervised mount, the registry of fids and the
 * supervisor that recovers a lost session.  Internal to lib/9p; the layers
 * are (docs/session.md):
 *
 *   lib/remote/transport  links (unix, tcp, fd pair), abortive close
 *   lib/remote/proc       server processes, restart limit, backoff
 *   session.c             struct conn: requests and the read role
 *   registry.c            what each fid names (for recovery), what is
 *                         replayable
 *   recover.c             the supervisor: reconnect/respawn, re-walk,
 *                         reopen, identity checks; `uvfs servers` info
 *   client.c, vnops.c,    the driver: nodes, fids, vnode operations
 *   xattr.c
 *
 * Lock order (docs/locking.md): p9sb.lock and conn.lock are never held
 * together; nothing is held across a request but the timed flags
 * (serial_busy, wbusy) under conn.lock.
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
#include "proc.h"
#include "transport.h"

#define NTAGS           256     /* requests in flight per connection */
#define MSIZE_MIN       4096u   /* the smallest msize we accept */
#define REST_MS         5       /* the reader thread rests while callers
				 * read for themselves, until none did for
				 * this long */

#define FLUSH_GRACE_MAX_MS 1000 /* a Tflush unconfirmed this long (or a
				 * quarter of the deadline, if less) after
				 * the deadline: the link is aborted */
#define UNREACH_CONNECT_MS 500  /* a connect attempt while unreachable */
#define UNREACH_BACKOFF_MS 100  /* ... and the pause between them */

enum req_kind { REQ_CALL, REQ_CLUNK, REQ_FLUSH, REQ_PROBE };

/*
 * A call's state (docs/session.md), changed only by rq_set_state:
 *
 *   NEW --sent--> SENT --reply, kill, loss--> DONE
 *    |              |
 *    |              +--deadline: Tflush--> FLUSHING --reply (it happened),
 *    |                                        |        Rflush (it did not),
 *    |                                        |        kill, loss (abort)
 *    |                                        v
 *    +--kill, loss, nothing sent---------->  DONE
 *
 * The caller frees the request once DONE; it leaves before DONE never.
 */
enum rq_state { RQ_NEW, RQ_SENT, RQ_FLUSHING, RQ_DONE };

/*
 * The connection's state, changed only by conn_set_state (c->lock):
 *
 *   UP ----loss (EOF, reset, crash)----> LOST -------+
 *    |                                    ^          | a new link
 *    +--peer silent (deadline and flush   |          v
 *    |  unanswered, TCP timeout)--> UNREACHABLE --> RECOVERING --> UP
 *    |                                    ^          |
 *    |                                    +----------+ the attempt failed
 *   any --cancel, unmount, limit, protocol violation--> DEAD
 *
 * Unsupervised connections go from UP to DEAD directly.  While UNREACHABLE
 * new calls fail at once with -EIO (soft), or wait for UP (hard).
 */
enum conn_state { CS_UP, CS_UNREACHABLE, CS_LOST, CS_RECOVERING, CS_DEAD };
/* What an rpc() that failed does with the fid it was given. */
enum cleanup { CL_NONE, CL_WALK /* newfid: clunk if it was created */,
	       CL_CLUNK /* clunk it */ };

/* What a request does to the fid registry when it succeeds. */
struct regop {
	uint8_t type;           /* the T-message type; 0: nothing */
	uint32_t fid, fid2, newfid, flags;
	char *s1, *s2;          /* walk: names joined by '/'; names */
	uint16_t nw;
};

struct req {
	enum req_kind kind;
	enum rq_state state;    /* CALL: c.lock; rq_set_state */
	bool lost;              /* CALL: the session died under it */
	bool flushed;           /* CALL: Rflush came before any reply */
	bool timed_out;         /* CALL: its deadline passed (the waiter's) */
	uint64_t sent_ns;       /* CALL: when it went out (monotonic) */
	uint64_t gen;           /* the session its tag belongs to */
	struct regop reg;       /* CALL on a supervised connection */
	uint16_t tag;
	uint8_t rtype;          /* CALL: the expected reply type */
	int err;
	pthread_cond_t cv;
	void *rbuf;             /* the reply's bytes; r points into them */
	struct p9_msg r;
	enum cleanup cl;        /* CALL: undo on failure */
	uint32_t fid;           /* CALL: cleanup fid; CLUNK: the fid */
	struct req *target;     /* FLUSH: the request it cancels (NULL once
				 * that one is DONE) */
	struct req *flush;      /* CALL: its Tflush's request, while out */
};

struct conn {
	struct rt_link link;    /* lock (written by the supervisor
				 * between sessions; read by the session's
				 * threads, which it joins first) */
	struct rt_tcp_opts tcp;         /* const: liveness of tcp: links */
	int evfd;               /* readable once killed: wakes poll()s */
	uint32_t msize;
	int timeout_ms;
	bool serial;
	pthread_condattr_t cattr;       /* CLOCK_MONOTONIC */
	pthread_mutex_t lock;           /* everything below */
	pthread_cond_t cv;              /* a tag freed, or killed */
	/* Locks with a deadline (and that kill breaks), held across I/O:
	 * flags under lock, waited for on lock_cv. */
	bool serial_busy;               /* serial mode: a request is out */
	bool wbusy;                     /* a message is being written */
	pthread_cond_t lock_cv;
	atomic_bool dead;               /* written under lock: state is LOST,
					 * UNREACHABLE or DEAD (nothing may be
					 * sent, the link is cut) */
	struct req *tags[NTAGS];
	unsigned nused, hint;
	uint32_t *free_fids;            /* fid numbers to reuse */
	size_t nfree, capfree;
	uint32_t next_fid;
	uint32_t *clunkq;               /* fids waiting for a Tclunk */
	size_t nclunk, capclunk;
	bool closing;           /* unmount: clunks are queued, sent at once */
	unsigned long unsolicited, bad_replies, timeouts;
	pthread_t reader;
	bool reader_started;
	/* The read role: one thread at a time reads the socket, either the
	 * reader thread or a caller waiting for its reply (a leader), which
	 * then dispatches every reply it reads, its own among them. */
	enum { RD_FREE, RD_THREAD, RD_CALLER } rd;      /* lock */
	unsigned long demand;   /* lock: callers that wanted the role */
	unsigned nfollow;       /* lock: callers waiting on their cv */
	pthread_cond_t rd_cv;   /* the reader thread's rest */
	uint8_t *rb;            /* the role's: bytes read, not dispatched */
	size_t rb_start, rb_have;
	uint64_t rb_gen;        /* the session rb's bytes come from */

	/* Supervision (types "hostfs" and "diod", and "9p" over unix: or
	 * tcp:, docs/recovery.md).  An unsupervised connection ("9p" over
	 * fd:, or noreconnect) has supervised false: any loss is a kill. */
	bool supervised;        /* lock: losses are recovered, not fatal */
	enum conn_state state;  /* lock: conn_set_state */
	bool hard;              /* const: calls wait out UNREACHABLE */
	bool silent;            /* lock: UNREACHABLE was entered and UP not
				 * reached since: a RECOVERING session fails
				 * calls fast too (soft) */
	bool probing;           /* lock: a probe (Tgetattr of fid 0) is out */
	_Atomic uint64_t rx_ns; /* the last bytes from the server (monotonic) */
	_Atomic uint64_t sgen;  /* written under lock: session generation */
	pthread_cond_t state_cv;        /* the state changed */
	pthread_cond_t sup_cv;          /* wakes the supervisor */
	int pidfd;              /* the server's, or -1 (none spawned, or
				 * no pidfd_open): the reader polls it */
	/* The fid registry (supervised only): what every fid the server
	 * holds names, to create it again on a new server.  By number. */
	struct fident *fids;    /* lock */
	size_t nfidents;
	bool track;             /* const: keep the registry */
	struct sup *sup;        /* const: the supervisor, or NULL */
	bool proto_fatal;       /* const: a protocol violation kills instead
				 * of being a loss (a server we reconnect to
				 * but cannot restart) */
	struct p9_qid root_qid;
	unsigned long losses, replays;  /* lock */
	unsigned long unreachable;      /* lock: times the peer went silent */
	unsigned long probes;           /* lock: probes sent */
	int last_err;                   /* lock: why the last loss (-errno) */
	struct timespec lost_at;        /* lock: a recovery began */
	time_t lost_wall;               /* lock: ... wall clock, 0: never */
};

/* A fid as the server knows it (registry entry). */
struct fident {
	bool used;
	bool stale;             /* its file changed identity or vanished in
				 * a restart: requests naming it -ESTALE */
	bool unknown;           /* walked from a fid with no entry */
	char *path;             /* from the root, names joined by '/' */
	struct p9_qid qid;
	int32_t oflags;         /* 9P open flags once opened, else -1 */
};


#define BACKOFF_MIN_MS    10
#define BACKOFF_MAX_MS    1000

/* The supervisor of a supervised mount (recover.c, docs/recovery.md):
 * one per mount, no global table. */
struct sup {
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
	struct rproc_limit limit;       /* supervisor: restarts= window= */
	pid_t pid;                      /* c.lock: the server, 0 none (always
					 * 0 with reconnect) */
	bool stop;                      /* c.lock: unmount */
	pthread_t thread;
	bool started;
	unsigned long nrestarts;        /* c.lock: sessions opened (servers
					 * spawned, connections made) */
	uint64_t last_recovery_ns;      /* c.lock */
	unsigned long stale_fids;       /* c.lock */
	struct sup *next;               /* sup_list_lock: live supervised
					 * mounts, for uvfs_9p_server_info */
};

struct reply {
	void *buf;
	struct p9_msg m;
};

#define RPC_NOREPLAY 0x1        /* never replay (an append write) */
#define RPC_INTERNAL 0x2        /* the supervisor's: runs while recovering,
				 * never waits for a recovery */

/* A call's deadline across all its requests (DESIGN invariant 12): the
 * driver opens one at the entry of each operation; every request of the
 * operation (pieces, retries, replays, re-walks) waits at most until it.
 * Nested: the outermost one counts.  Per thread. */
struct call_dl {
	bool set;
	struct timespec dl;
};
void call_begin(const struct conn *c, struct call_dl *saved);
void call_end(const struct call_dl *saved);

/* ---- session.c ---- */
void conn_set_state(struct conn *c, enum conn_state to);
const char *conn_state_name(enum conn_state s);
/* => c->lock held: recovering (LOST, UNREACHABLE or RECOVERING)? */
bool conn_recovering_locked(const struct conn *c);
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
int rpc(struct conn *c, struct p9_msg *t, uint8_t rtype, struct reply *out,
	enum cleanup cl, uint32_t clfid);
void reply_free(struct reply *rp);
int fid_alloc(struct conn *c, uint32_t *fid);
void fid_free(struct conn *c, uint32_t fid);
void fid_free_locked(struct conn *c, uint32_t fid);
void clunk_async(struct conn *c, uint32_t fid);
void clunk_drain(struct conn *c);
void clunk_drain_by(struct conn *c, const struct timespec *dl);
uint64_t conn_sgen(struct conn *c);

/* ---- registry.c ---- */
struct fident *reg_get(struct conn *c, uint32_t fid);
void reg_drop_locked(struct conn *c, uint32_t fid);
void reg_apply_locked(struct conn *c, const struct regop *op,
		      const struct p9_msg *m);
int regop_make(const struct p9_msg *t, struct regop *op);
bool replayable(uint8_t type);
int msg_fids(const struct p9_msg *t, uint32_t f[2]);

/* ---- recover.c ---- */
/* The server of session gen broke the protocol and cannot be restarted:
 * the mount is dead. */
void proto_kill(struct conn *c, uint64_t gen);
/* The supervisor's thread of c (c->sup set up). */
int sup_start(struct conn *c);
void sup_stop(struct conn *c);
void sup_free(struct sup *sp);
/* Spawns c->sup's server as c's session (first, or again). */
int spawn_server(struct conn *c);
/* Supervisor, after a loss (or at unmount): no reader, link or server
 * left of the old session. */
void session_teardown(struct conn *c, int grace_ms);

#endif /* UVFS_9P_CONN_H */
