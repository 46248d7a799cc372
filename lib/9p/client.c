/*
 * client.c - the 9P2000.L client driver (file-system type "9p").
 *
 * Two layers.
 *
 * The connection (struct conn) carries requests to one server and never
 * blocks without a deadline (DESIGN invariants 4 and 9):
 *
 *   caller                          reader thread (per session)
 *   ------                          -------------
 *   rpc(): take a tag (table of     reads only while no caller does
 *     NTAGS), pack, send            (the replies to clunks and flushes,
 *     (non-blocking fd, poll with   late replies, EOF while idle); rests
 *     the deadline)                 while callers read for themselves
 *   nobody reads: take the read
 *     role, read and dispatch       dispatch: frame with p9_frame_size,
 *     (every reply, to its          find the request by tag, unpack and
 *     waiter) until ours is done;   check the reply type, free the tag,
 *     pass the role on              signal the request's condition
 *   else wait on the request's own
 *     condition until the deadline
 *
 *   The read role (c->rd) is held by one thread at a time: a waiting
 *   caller when one is free to (leader/follower: a lone request's reply
 *   wakes only its caller), else the reader thread.  Its holder never
 *   writes.
 *
 *   Request states: SENT -> DONE (reply, or -EIO by kill) and the waiter
 *   frees it; or SENT -> ABANDONED (deadline passed: the waiter returns
 *   -ETIMEDOUT and a Tflush is sent) -> freed by the reader when Rflush
 *   arrives (only then is the tag reused) or by kill.  A late reply to an
 *   abandoned request is honoured: its fid side effects are undone (a fid
 *   it created is clunked).
 *
 *   kill() (a broken stream, framing lost, an oversized message, EOF,
 *   cancel, unmount) completes every waiting request with -EIO at once,
 *   frees the others, wakes every poll through an eventfd, and makes every
 *   later request fail fast.  It never waits for the server.
 *
 *   Clunks are asynchronous: the fid number goes back to the allocator
 *   when Rclunk arrives.  The read role's holder never writes (a reader
 *   stuck behind a writer that waits for the server to read would
 *   deadlock).
 *
 * The driver maps vnodes to fids.  Each known file is a struct node in a
 * table by ino (= qid.path) holding a walked, never-opened fid.  lookup
 * walks a new fid and installs it (replacing the node's older fid: servers
 * such as diod name fids by path, and a fresh walk follows renames); vget
 * takes a node from the table; reclaim drops it to a small LRU of
 * unreferenced nodes (so a vget that races with the reclaim of the same
 * ino still finds it), whose overflow clunks.  Open files get their own
 * fid (Twalk clone + Tlopen).  Fids are refcounted (struct fid) so an
 * operation in flight keeps using the fid it read even if lookup swaps it.
 *
 * Locks: conn.lock guards the connection's state; the two locks held
 * across I/O (the serial-mode request lock and the writer's) are flags
 * under it, taken with a deadline and broken by kill.  sb.lock (nodes,
 * handles) is never held across a request, nor with conn.lock.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <uvfs/9p.h>
#include <uvfs/fs.h>

#include "p9.h"

#define NTAGS           256     /* requests in flight per connection */
#define REST_MS         5       /* the reader thread rests while callers
				 * read for themselves, until none did for
				 * this long */
#define LRU_MAX         256     /* unreferenced nodes kept */
#define NBUCKETS        4096
#define MSIZE_DEFAULT   (512u * 1024)
#define MSIZE_MIN       4096u
#define TIMEOUT_DEFAULT 10000
#define RESTARTS_DEFAULT  5     /* hostfs: restarts ... */
#define WINDOW_DEFAULT_MS 60000 /* ... within this window */
#define RECONNECTS_DEFAULT 30   /* 9p over an address: attempts within the
				 * window (backing off to 1 s: a server
				 * gone for ~24 s makes the mount dead) */

/* ---- the connection ---------------------------------------------------- */

enum req_kind { REQ_CALL, REQ_CLUNK, REQ_FLUSH };
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
	bool lost;              /* CALL: the session died under it */
	uint64_t gen;           /* the session its tag belongs to */
	struct regop reg;       /* CALL on a supervised connection */
	uint16_t tag;
	uint8_t rtype;          /* CALL: the expected reply type */
	bool done;              /* CALL: c.lock; the waiter may look */
	bool abandoned;         /* CALL: the waiter left (c.lock) */
	bool flushing;          /* abandoned and a Tflush is out */
	bool replied;           /* abandoned, and its reply came */
	bool late_ok;           /* ... and was a success */
	int err;
	pthread_cond_t cv;
	void *rbuf;             /* the reply's bytes; r points into them */
	struct p9_msg r;
	enum cleanup cl;        /* CALL: undo on failure */
	uint32_t fid;           /* CALL: cleanup fid; CLUNK: the fid */
	struct req *flushed;    /* FLUSH: the abandoned request */
};

struct conn {
	int fd_r, fd_w;
	bool sock;              /* fd_w is a socket (send MSG_NOSIGNAL) */
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
	atomic_bool dead;               /* written under lock */
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
	bool perm_dead;         /* lock: killed for good (cancel, unmount,
				 * restart limit): every request -EIO */
	bool recovering;        /* lock: the session was lost; new requests
				 * wait (deadline) until it is back */
	_Atomic uint64_t sgen;  /* written under lock: session generation */
	pthread_cond_t state_cv;        /* recovering turned false */
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
	unsigned long losses, replays;
	struct timespec lost_at;        /* lock: a recovery began */
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

static void deadline_in(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* Milliseconds left until dl (0 if passed), rounded up. */
static int ms_left(const struct timespec *dl)
{
	struct timespec now;
	long long ns;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (long long)(dl->tv_sec - now.tv_sec) * 1000000000LL +
	     (dl->tv_nsec - now.tv_nsec);
	if (ns <= 0)
		return 0;
	return (int)((ns + 999999) / 1000000);
}

/* Takes *busy (one of c's timed locks) by the deadline: 0, -ETIMEDOUT,
 * or -EIO once the connection is dead.  *gen (if not NULL): the session
 * it was taken in. */
static int tlock_take(struct conn *c, bool *busy, const struct timespec *dl,
		      uint64_t *gen)
{
	int r = 0;

	pthread_mutex_lock(&c->lock);
	while (*busy && !atomic_load(&c->dead))
		if (pthread_cond_timedwait(&c->lock_cv, &c->lock, dl) ==
		    ETIMEDOUT)
			break;
	if (atomic_load(&c->dead))
		r = -EIO;
	else if (*busy)
		r = -ETIMEDOUT;
	else
		*busy = true;
	if (gen)
		*gen = atomic_load(&c->sgen);
	pthread_mutex_unlock(&c->lock);
	return r;
}

static void tlock_give(struct conn *c, bool *busy)
{
	pthread_mutex_lock(&c->lock);
	*busy = false;
	pthread_cond_broadcast(&c->lock_cv);
	pthread_mutex_unlock(&c->lock);
}

/* ---- the fid registry (supervised connections) -------------------------
 * Every fid the server holds, by number: the path it names from the root,
 * its qid, its open flags.  Updated by the reader as replies arrive (so a
 * recovery, which runs after the old reader is joined, sees every fid the
 * old server created), and when a fid is given up (clunk queued, Tremove
 * sent).  A new server gets every entry walked again under the same
 * number, so requests replayed after a restart name the same fids. */

/* => c->lock held */
static struct fident *reg_get(struct conn *c, uint32_t fid)
{
	if (!c->fids || fid >= c->nfidents || !c->fids[fid].used)
		return NULL;
	return &c->fids[fid];
}

/* => c->lock held; a cleared entry for fid (NULL on ENOMEM) */
static struct fident *reg_slot(struct conn *c, uint32_t fid)
{
	if (fid >= c->nfidents) {
		size_t n = c->nfidents ? c->nfidents : 64;
		while (n <= fid)
			n *= 2;
		struct fident *a = realloc(c->fids, n * sizeof(*a));
		if (!a)
			return NULL;
		memset(a + c->nfidents, 0, (n - c->nfidents) * sizeof(*a));
		c->fids = a;
		c->nfidents = n;
	}
	struct fident *e = &c->fids[fid];
	free(e->path);
	memset(e, 0, sizeof(*e));
	e->used = true;
	e->oflags = -1;
	return e;
}

static void reg_drop_locked(struct conn *c, uint32_t fid)
{
	struct fident *e = reg_get(c, fid);

	if (e) {
		free(e->path);
		memset(e, 0, sizeof(*e));
	}
}

/* base + '/'-joined names, with "." and ".." resolved (".." of the root
 * is the root).  NULL on ENOMEM. */
static char *path_join(const char *base, const char *names)
{
	size_t bl = strlen(base), nl = names ? strlen(names) : 0;
	char *out = malloc(bl + nl + 2), *dup = names ? strdup(names) : NULL;
	char *tok, *save = NULL;
	size_t len = bl;

	if (!out || (names && !dup)) {
		free(out);
		free(dup);
		return NULL;
	}
	memcpy(out, base, bl + 1);
	for (tok = dup ? strtok_r(dup, "/", &save) : NULL; tok;
	     tok = strtok_r(NULL, "/", &save)) {
		if (strcmp(tok, ".") == 0)
			continue;
		if (strcmp(tok, "..") == 0) {
			char *slash = strrchr(out, '/');
			len = slash ? (size_t)(slash - out) : 0;
			out[len] = '\0';
			continue;
		}
		if (len)
			out[len++] = '/';
		memcpy(out + len, tok, strlen(tok) + 1);
		len += strlen(tok);
	}
	free(dup);
	return out;
}

/* A rename of the file at path `from` to `to`: entries at or below it
 * follow (an entry left at `to`, the replaced file, turns stale at the
 * next restart: its qid will not match). */
static void reg_rename_locked(struct conn *c, const char *from, const char *to)
{
	size_t fl = strlen(from);

	for (size_t i = 0; i < c->nfidents; i++) {
		struct fident *e = &c->fids[i];
		if (!e->used || !e->path || strncmp(e->path, from, fl) != 0 ||
		    (e->path[fl] != '\0' && e->path[fl] != '/'))
			continue;
		char *np = malloc(strlen(to) + strlen(e->path + fl) + 1);
		if (!np) {
			e->unknown = true;
			continue;
		}
		strcpy(np, to);
		strcat(np, e->path + fl);
		free(e->path);
		e->path = np;
	}
}

/* => c->lock held.  rq's reply m was a success: record its fid effects. */
static void reg_apply_locked(struct conn *c, const struct regop *op,
			     const struct p9_msg *m)
{
	struct fident *src, *e;
	char *path = NULL, *p2 = NULL;

	switch (op->type) {
	case P9_TATTACH:
		if ((e = reg_slot(c, op->fid))) {
			e->path = strdup("");
			e->unknown = !e->path;
			e->qid = m->rattach.qid;
		}
		break;
	case P9_TWALK: {
		struct p9_qid q;
		bool known;

		if (m->rwalk.nwqid != op->nw)
			break;          /* a partial walk creates no fid */
		src = reg_get(c, op->fid);
		known = src && !src->unknown && src->path;
		if (known)
			path = path_join(src->path, op->s1);
		if (op->nw)
			q = m->rwalk.wqid[op->nw - 1];
		else
			q = src ? src->qid : (struct p9_qid){ 0 };
		bool stale = src && src->stale;
		if ((e = reg_slot(c, op->newfid))) {
			e->path = path;
			path = NULL;
			e->unknown = !e->path;
			e->stale = stale;
			e->qid = q;
		}
		break;
	}
	case P9_TLOPEN:
		if ((e = reg_get(c, op->fid))) {
			e->oflags = (int32_t)op->flags;
			e->qid = m->rlopen.qid;
		}
		break;
	case P9_TLCREATE:
		if ((e = reg_get(c, op->fid))) {
			path = e->path ? path_join(e->path, op->s1) : NULL;
			free(e->path);
			e->path = path;
			path = NULL;
			e->unknown = e->unknown || !e->path;
			/* reopened without O_CREAT, O_EXCL, O_TRUNC */
			e->oflags = (int32_t)(op->flags & ~(0100u | 0200u |
							    01000u));
			e->qid = m->rlcreate.qid;
		}
		break;
	case P9_TRENAMEAT:
		src = reg_get(c, op->fid);
		e = reg_get(c, op->fid2);
		if (src && src->path && e && e->path) {
			path = path_join(src->path, op->s1);
			p2 = path_join(e->path, op->s2);
			if (path && p2)
				reg_rename_locked(c, path, p2);
		}
		break;
	case P9_TRENAME:
		src = reg_get(c, op->fid);
		e = reg_get(c, op->fid2);
		if (src && src->path && e && e->path) {
			path = strdup(src->path);
			p2 = path_join(e->path, op->s1);
			if (path && p2)
				reg_rename_locked(c, path, p2);
		}
		break;
	case P9_TXATTRCREATE:
		/* an xattr-write fid: a new server must not get it back as
		 * a plain fid, whose Tclunk would "commit" nothing and
		 * succeed (docs/recovery.md) */
		reg_drop_locked(c, op->fid);
		break;
	default:
		break;
	}
	free(path);
	free(p2);
}

/* => c->lock held */
static int fid_alloc_locked(struct conn *c, uint32_t *fid)
{
	if (c->nfree) {
		*fid = c->free_fids[--c->nfree];
		return 0;
	}
	if (c->next_fid == P9_NOFID)
		return -ENFILE;
	*fid = c->next_fid++;
	return 0;
}

static int fid_alloc(struct conn *c, uint32_t *fid)
{
	pthread_mutex_lock(&c->lock);
	int r = fid_alloc_locked(c, fid);
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* Pushes v onto a growable array; on ENOMEM the value is dropped (a fid
 * number lost, never reused: harmless). */
static void push_locked(uint32_t **a, size_t *n, size_t *cap, uint32_t v)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		uint32_t *na = realloc(*a, nc * sizeof(*na));
		if (!na)
			return;
		*a = na;
		*cap = nc;
	}
	(*a)[(*n)++] = v;
}

static void fid_free_locked(struct conn *c, uint32_t fid)
{
	reg_drop_locked(c, fid);
	push_locked(&c->free_fids, &c->nfree, &c->capfree, fid);
}

static void fid_free(struct conn *c, uint32_t fid)
{
	pthread_mutex_lock(&c->lock);
	fid_free_locked(c, fid);
	pthread_mutex_unlock(&c->lock);
}

/* => c->lock held.  fid is given up: a Tclunk will go out (the number is
 * reused after Rclunk).  A new server never gets it again. */
static void clunk_queue_locked(struct conn *c, uint32_t fid)
{
	reg_drop_locked(c, fid);
	push_locked(&c->clunkq, &c->nclunk, &c->capclunk, fid);
}

/* => c->lock held; a free tag exists (nused < NTAGS). */
static uint16_t tag_take_locked(struct conn *c, struct req *rq)
{
	unsigned t = c->hint;

	while (c->tags[t % NTAGS])
		t++;
	t %= NTAGS;
	c->tags[t] = rq;
	c->nused++;
	c->hint = t + 1;
	rq->tag = (uint16_t)t;
	rq->gen = atomic_load(&c->sgen);
	return (uint16_t)t;
}

static void tag_release_locked(struct conn *c, struct req *rq)
{
	if (c->tags[rq->tag] == rq) {
		c->tags[rq->tag] = NULL;
		c->nused--;
		pthread_cond_broadcast(&c->cv);
	}
}

static struct req *req_new(struct conn *c, enum req_kind kind)
{
	struct req *rq = calloc(1, sizeof(*rq));

	if (!rq)
		return NULL;
	rq->kind = kind;
	if (kind == REQ_CALL)
		pthread_cond_init(&rq->cv, &c->cattr);
	return rq;
}

static void req_free(struct req *rq)
{
	if (!rq)
		return;
	if (rq->kind == REQ_CALL)
		pthread_cond_destroy(&rq->cv);
	free(rq->reg.s1);
	free(rq->reg.s2);
	free(rq->rbuf);
	free(rq);
}

/* => c->lock held.  A request failed (or was abandoned and is now over):
 * dispose of its fid.  Only queues; the caller drains. */
static void cleanup_locked(struct conn *c, enum cleanup cl, uint32_t fid,
			   bool ok)
{
	if (cl == CL_NONE || c->perm_dead)
		return;
	if (cl == CL_CLUNK || ok)
		clunk_queue_locked(c, fid);
	else
		fid_free_locked(c, fid);
}

/* The connection is lost for good: every waiter gets -EIO now, nothing
 * waits for the server, later requests fail fast, no restart.  Any
 * thread, any time. */
static void conn_kill(struct conn *c)
{
	uint64_t one = 1;

	pthread_mutex_lock(&c->lock);
	if (!c->perm_dead) {
		c->perm_dead = true;
		c->recovering = false;
		atomic_store(&c->dead, true);
		for (unsigned i = 0; i < NTAGS; i++) {
			struct req *rq = c->tags[i];
			if (!rq)
				continue;
			c->tags[i] = NULL;
			if (rq->kind == REQ_CALL && !rq->abandoned) {
				rq->done = true;
				rq->err = -EIO;
				pthread_cond_signal(&rq->cv);
			} else {
				req_free(rq);
			}
		}
		c->nused = 0;
		c->nclunk = 0;
		pthread_cond_broadcast(&c->cv);
		pthread_cond_broadcast(&c->lock_cv);
		pthread_cond_broadcast(&c->state_cv);
		pthread_cond_broadcast(&c->sup_cv);
		pthread_cond_broadcast(&c->rd_cv);
	}
	pthread_mutex_unlock(&c->lock);
	if (write(c->evfd, &one, sizeof(one)) < 0) {
		/* the counter cannot overflow from one write per kill */
	}
}

/*
 * Session gen died (EOF, a write error, lost framing, the server's pidfd).
 * Unsupervised: conn_kill.  Supervised: the session is over but the
 * connection lives on: every request waiting for a reply is completed as
 * lost (rpc replays it or fails it with -EIO), clunks and flushes in flight
 * are forgotten (their fid numbers are free: the new server never had
 * them), the socket is shut down (wakes the reader and any writer), and
 * the supervisor is woken.  A stale gen (an older session) does nothing.
 */
static void conn_lost(struct conn *c, uint64_t gen)
{
	pthread_mutex_lock(&c->lock);
	if (c->perm_dead || gen != atomic_load(&c->sgen)) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	if (!c->supervised) {
		pthread_mutex_unlock(&c->lock);
		conn_kill(c);
		return;
	}
	c->losses++;
	if (!c->recovering)
		clock_gettime(CLOCK_MONOTONIC, &c->lost_at);
	atomic_store(&c->dead, true);
	c->recovering = true;
	atomic_store(&c->sgen, gen + 1);
	for (unsigned i = 0; i < NTAGS; i++) {
		struct req *rq = c->tags[i];
		if (!rq)
			continue;
		c->tags[i] = NULL;
		if (rq->kind == REQ_CALL && !rq->abandoned) {
			rq->done = true;
			rq->lost = true;
			rq->err = -EIO;
			pthread_cond_signal(&rq->cv);
		} else if (rq->kind == REQ_CALL) {
			/* abandoned: its fid goes as if the reply failed */
			cleanup_locked(c, rq->cl, rq->fid, rq->late_ok);
			req_free(rq);
		} else {
			if (rq->kind == REQ_CLUNK)
				fid_free_locked(c, rq->fid);
			req_free(rq);
		}
	}
	c->nused = 0;
	if (c->fd_r >= 0)
		shutdown(c->fd_r, SHUT_RDWR);
	pthread_cond_broadcast(&c->cv);
	pthread_cond_broadcast(&c->lock_cv);
	pthread_cond_broadcast(&c->sup_cv);
	pthread_cond_broadcast(&c->rd_cv);
	pthread_mutex_unlock(&c->lock);
}

static void proto_kill(struct conn *c, uint64_t gen);

/* Session gen ended with err (read_step): -EPROTO (the server broke the
 * framing) on a connection whose server we cannot restart makes the mount
 * dead (reconnecting would replay requests to the same broken server,
 * docs/recovery.md); anything else is a loss. */
static void session_end(struct conn *c, uint64_t gen, int err)
{
	if (err == -EPROTO && c->proto_fatal)
		proto_kill(c, gen);
	else
		conn_lost(c, gen);
}

/* Writes one whole message of session gen by the deadline.  0;
 * -ETIMEDOUT if nothing was written (the caller may give up cleanly);
 * -EIO if the connection is dead, died here (a message cut in the middle
 * loses the framing), or is in another session now. */
static int send_msg(struct conn *c, const void *buf, size_t len,
		    const struct timespec *dl, uint64_t gen)
{
	size_t off = 0;
	uint64_t g;
	int r = 0;

	r = tlock_take(c, &c->wbusy, dl, &g);
	if (r)
		return r;
	if (g != gen) {
		tlock_give(c, &c->wbusy);
		return -EIO;
	}
	while (off < len) {
		ssize_t n;

		if (atomic_load(&c->dead)) {
			r = -EIO;
			break;
		}
		if (c->sock)
			n = send(c->fd_w, (const char *)buf + off, len - off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		else
			n = write(c->fd_w, (const char *)buf + off, len - off);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p[2] = {
				{ .fd = c->fd_w, .events = POLLOUT },
				{ .fd = c->evfd, .events = POLLIN },
			};
			int ms = ms_left(dl);
			if (ms == 0) {
				r = off ? -EIO : -ETIMEDOUT;
				break;
			}
			if (poll(p, 2, ms) < 0 && errno != EINTR) {
				r = -EIO;
				break;
			}
			continue;
		}
		r = -EIO;
		break;
	}
	tlock_give(c, &c->wbusy);
	if (r == -EIO)
		conn_lost(c, gen);
	return r;
}

/* Sends Tclunk for the queued fids, as many as there are free tags; the
 * numbers are reused when Rclunk arrives.  Never waits for a reply.  Not
 * while a recovery runs (a clunk must follow the walk that recreates the
 * fid on the new server). */
static void clunk_drain_by(struct conn *c, const struct timespec *dl)
{
	for (;;) {
		uint8_t buf[P9_HDRSZ + 4];
		struct p9_msg m = { .type = P9_TCLUNK };
		struct req *rq;
		ssize_t len;
		uint32_t fid;
		uint64_t gen;
		int r;

		pthread_mutex_lock(&c->lock);
		if (atomic_load(&c->dead) || c->recovering ||
		    c->nclunk == 0 || c->nused == NTAGS) {
			pthread_mutex_unlock(&c->lock);
			return;
		}
		rq = req_new(c, REQ_CLUNK);
		if (!rq) {
			pthread_mutex_unlock(&c->lock);
			return;
		}
		fid = c->clunkq[--c->nclunk];
		rq->fid = fid;
		m.tag = tag_take_locked(c, rq);
		gen = rq->gen;
		pthread_mutex_unlock(&c->lock);

		m.tclunk.fid = fid;
		len = p9_pack(buf, sizeof(buf), &m);
		r = len > 0 ? send_msg(c, buf, (size_t)len, dl, gen) : -EIO;
		if (r == -ETIMEDOUT) {
			pthread_mutex_lock(&c->lock);
			if (atomic_load(&c->sgen) == gen &&
			    c->tags[m.tag] == rq) {
				tag_release_locked(c, rq);
				req_free(rq);
				push_locked(&c->clunkq, &c->nclunk,
					    &c->capclunk, fid);
			}
			pthread_mutex_unlock(&c->lock);
			return;
		}
		if (r)
			return;
	}
}

static void clunk_drain(struct conn *c)
{
	struct timespec dl;

	deadline_in(&dl, c->timeout_ms);
	clunk_drain_by(c, &dl);
}

static void clunk_async(struct conn *c, uint32_t fid)
{
	bool closing;

	pthread_mutex_lock(&c->lock);
	if (!c->perm_dead)
		clunk_queue_locked(c, fid);
	closing = c->closing;
	pthread_mutex_unlock(&c->lock);
	if (!closing)
		clunk_drain(c);
}

/* The reader of session gen: one complete frame.  Copies what it keeps. */
static void dispatch(struct conn *c, const uint8_t *frame, uint32_t size,
		     uint64_t gen)
{
	struct p9_msg m;
	uint8_t type;
	uint16_t tag;
	void *copy;
	int ur;

	if (p9_peek(frame, size, &type, &tag) != 0)
		return;         /* p9_frame_size guarantees a header */
	copy = malloc(size);
	if (copy) {
		memcpy(copy, frame, size);
		ur = p9_unpack(copy, size, &m);
	} else {
		ur = -ENOMEM;
	}

	pthread_mutex_lock(&c->lock);
	if (gen != atomic_load(&c->sgen))
		goto out;       /* an older session's bytes */
	struct req *rq = tag < NTAGS ? c->tags[tag] : NULL;
	if (!rq) {
		c->unsolicited++;
		goto out;
	}
	switch (rq->kind) {
	case REQ_CLUNK:
		tag_release_locked(c, rq);
		fid_free_locked(c, rq->fid);    /* clunked whatever the reply */
		req_free(rq);
		break;
	case REQ_FLUSH: {
		struct req *old = rq->flushed;
		if (c->tags[old->tag] == old) {
			tag_release_locked(c, old);
			cleanup_locked(c, old->cl, old->fid, old->late_ok);
			req_free(old);
		}
		tag_release_locked(c, rq);
		req_free(rq);
		break;
	}
	case REQ_CALL:
		if (rq->abandoned) {
			rq->replied = true;
			rq->late_ok = ur == 0 && type == rq->rtype;
			if (rq->late_ok)
				reg_apply_locked(c, &rq->reg, &m);
			if (!rq->flushing) {
				tag_release_locked(c, rq);
				cleanup_locked(c, rq->cl, rq->fid, rq->late_ok);
				req_free(rq);
			}
			break;
		}
		tag_release_locked(c, rq);
		if (ur != 0 || (type != rq->rtype && type != P9_RLERROR)) {
			c->bad_replies++;
			rq->err = -EIO;
		} else {
			if (type == rq->rtype)
				reg_apply_locked(c, &rq->reg, &m);
			rq->rbuf = copy;
			rq->r = m;
			copy = NULL;
		}
		rq->done = true;
		pthread_cond_signal(&rq->cv);
		break;
	}
out:
	pthread_mutex_unlock(&c->lock);
	free(copy);
}

/*
 * The read role.  => the calling thread holds it (c->rd) for session gen.
 *
 * Dispatches every complete frame read so far; -EPROTO if the framing is
 * lost (a frame larger than msize or smaller than a header: the caller
 * then ends the session, session_end).
 */
static int read_frames(struct conn *c, uint64_t gen)
{
	if (c->rb_gen != gen) {         /* an older session's bytes */
		c->rb_gen = gen;
		c->rb_start = c->rb_have = 0;
	}
	while (c->rb_have >= 4) {
		uint32_t size;
		if (p9_frame_size(c->rb + c->rb_start, c->rb_have, c->msize,
				  &size) != 0)
			return -EPROTO;
		if (c->rb_have < size)
			break;
		dispatch(c, c->rb + c->rb_start, size, gen);
		c->rb_start += size;
		c->rb_have -= size;
	}
	if (c->rb_start > 0) {
		memmove(c->rb, c->rb + c->rb_start, c->rb_have);
		c->rb_start = 0;
	}
	return 0;
}

/*
 * Waits up to ms (-1: forever) for the socket (fd of session gen), reads
 * once and dispatches.  0 to go on (also on a timeout); 1 if the
 * connection was killed or the session is over; -EIO if the session is
 * lost here (EOF, a read error, the server's pidfd), -EPROTO if the
 * framing is lost: the caller calls session_end(gen, err) once it has
 * given the role up.
 */
static int read_step(struct conn *c, uint64_t gen, int fd, int pidfd,
		     int ms)
{
	struct pollfd p[3] = {
		{ .fd = fd, .events = POLLIN },
		{ .fd = c->evfd, .events = POLLIN },
		{ .fd = pidfd, .events = POLLIN },
	};
	ssize_t n;
	int r = read_frames(c, gen);

	if (r < 0)
		return r;
	n = poll(p, pidfd >= 0 ? 3 : 2, ms);
	if (n < 0 && errno != EINTR)
		return -EIO;
	if (p[1].revents || atomic_load(&c->dead) ||
	    atomic_load(&c->sgen) != gen)
		return 1;
	if (n <= 0)
		return 0;
	if (pidfd >= 0 && p[2].revents && !p[0].revents)
		return -EIO;            /* the server died */
	if (!p[0].revents)
		return 0;
	n = read(fd, c->rb + c->rb_have, c->msize - c->rb_have);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0)
		return -EIO;            /* EOF or error */
	c->rb_have += (size_t)n;
	return read_frames(c, gen);
}

/* The role is free: wakes a caller waiting for its reply, if any, to take
 * it.  => c->lock held. */
static void role_offer_locked(struct conn *c)
{
	if (c->rd != RD_FREE || c->nfollow == 0)
		return;
	for (unsigned i = 0; i < NTAGS; i++) {
		struct req *rq = c->tags[i];
		if (rq && rq->kind == REQ_CALL && !rq->done &&
		    !rq->abandoned) {
			pthread_cond_signal(&rq->cv);
			break;
		}
	}
}

/* Gives the role up and offers it.  => c->lock held. */
static void role_give_locked(struct conn *c)
{
	c->rd = RD_FREE;
	role_offer_locked(c);
	if (c->recovering || c->perm_dead)  /* session_teardown waits */
		pthread_cond_broadcast(&c->lock_cv);
	if (c->closing)                     /* the reader thread waits */
		pthread_cond_broadcast(&c->rd_cv);
}

/*
 * A caller waiting for rq's reply reads for itself, until rq is done, the
 * deadline dl, or the session's end.  => c->lock held, the role free, rq
 * of the current session; c->lock held again on return, the role given
 * up.
 */
static void lead_locked(struct conn *c, struct req *rq,
			const struct timespec *dl)
{
	uint64_t gen = rq->gen;
	int fd = c->fd_r, pidfd = c->pidfd, r = 0;

	c->rd = RD_CALLER;
	c->demand++;
	while (!rq->done) {
		int ms = ms_left(dl);
		if (ms == 0)
			break;
		pthread_mutex_unlock(&c->lock);
		r = read_step(c, gen, fd, pidfd, ms);
		pthread_mutex_lock(&c->lock);
		if (r != 0)
			break;
	}
	role_give_locked(c);
	if (r < 0) {
		pthread_mutex_unlock(&c->lock);
		session_end(c, gen, r);
		pthread_mutex_lock(&c->lock);
	}
}

struct reader_arg {
	struct conn *c;
	uint64_t gen;
};

/*
 * The reader thread of session gen: reads whenever no caller does (the
 * replies to asynchronous clunks and flushes, late replies, the end of
 * the session while idle).  While callers read for themselves it rests,
 * until none has wanted the role for REST_MS (or the connection closes).
 */
static void *reader_main(void *arg)
{
	struct reader_arg *ra = arg;
	struct conn *c = ra->c;
	uint64_t gen = ra->gen;
	int pidfd = c->pidfd;   /* the supervisor set it before starting us */
	int fd = c->fd_r, r = 0;
	unsigned long seen;

	free(ra);
	pthread_mutex_lock(&c->lock);
	seen = c->demand;
	for (;;) {
		if (atomic_load(&c->dead) || atomic_load(&c->sgen) != gen)
			break;
		if (!c->closing && (c->rd != RD_FREE || c->demand != seen)) {
			struct timespec dl;
			seen = c->demand;
			deadline_in(&dl, REST_MS);
			pthread_cond_timedwait(&c->rd_cv, &c->lock, &dl);
			continue;
		}
		if (c->rd != RD_FREE) {         /* closing: wait for it */
			pthread_cond_wait(&c->rd_cv, &c->lock);
			continue;
		}
		c->rd = RD_THREAD;
		pthread_mutex_unlock(&c->lock);
		r = read_step(c, gen, fd, pidfd, -1);
		pthread_mutex_lock(&c->lock);
		role_give_locked(c);
		if (r != 0)
			break;
	}
	pthread_mutex_unlock(&c->lock);
	if (r < 0)
		session_end(c, gen, r);
	return NULL;
}

static int reader_start(struct conn *c)
{
	struct reader_arg *ra = malloc(sizeof(*ra));
	int r;

	if (!ra)
		return -ENOMEM;
	if (!c->rb && !(c->rb = malloc(c->msize))) {
		free(ra);
		return -ENOMEM;
	}
	ra->c = c;
	ra->gen = atomic_load(&c->sgen);
	r = -pthread_create(&c->reader, NULL, reader_main, ra);
	if (r)
		free(ra);
	c->reader_started = r == 0;
	return r;
}

struct reply {
	void *buf;
	struct p9_msg m;
};

static void reply_free(struct reply *rp)
{
	free(rp->buf);
	rp->buf = NULL;
}

static int ecode_err(uint32_t e)
{
	return e > 0 && e < 4096 ? -(int)e : -EIO;
}

#define RPC_NOREPLAY 0x1        /* never replay (an append write) */
#define RPC_INTERNAL 0x2        /* the supervisor's: runs while recovering,
				 * never waits for a recovery */

/* Replayed after a restart when the session died under them: requests
 * whose effect is the same done twice (docs/recovery.md). */
static bool replayable(uint8_t type)
{
	switch (type) {
	case P9_TWALK: case P9_TGETATTR: case P9_TSETATTR: case P9_TREAD:
	case P9_TWRITE: case P9_TREADDIR: case P9_TREADLINK: case P9_TSTATFS:
	case P9_TLOPEN: case P9_TFSYNC: case P9_TCLUNK: case P9_TXATTRWALK:
		return true;
	default:
		return false;
	}
}

/* The fids a T-message names (that must exist on the server). */
static int msg_fids(const struct p9_msg *t, uint32_t f[2])
{
	switch (t->type) {
	case P9_TWALK: f[0] = t->twalk.fid; return 1;
	case P9_TGETATTR: f[0] = t->tgetattr.fid; return 1;
	case P9_TSETATTR: f[0] = t->tsetattr.fid; return 1;
	case P9_TREAD: f[0] = t->tread.fid; return 1;
	case P9_TWRITE: f[0] = t->twrite.fid; return 1;
	case P9_TREADDIR: f[0] = t->treaddir.fid; return 1;
	case P9_TREADLINK: f[0] = t->treadlink.fid; return 1;
	case P9_TSTATFS: f[0] = t->tstatfs.fid; return 1;
	case P9_TLOPEN: f[0] = t->tlopen.fid; return 1;
	case P9_TFSYNC: f[0] = t->tfsync.fid; return 1;
	case P9_TLCREATE: f[0] = t->tlcreate.fid; return 1;
	case P9_TMKDIR: f[0] = t->tmkdir.dfid; return 1;
	case P9_TSYMLINK: f[0] = t->tsymlink.fid; return 1;
	case P9_TMKNOD: f[0] = t->tmknod.dfid; return 1;
	case P9_TUNLINKAT: f[0] = t->tunlinkat.dirfid; return 1;
	case P9_TREMOVE: f[0] = t->tremove.fid; return 1;
	case P9_TLINK: f[0] = t->tlink.dfid; f[1] = t->tlink.fid; return 2;
	case P9_TRENAME: f[0] = t->trename.fid; f[1] = t->trename.dfid;
		return 2;
	case P9_TRENAMEAT: f[0] = t->trenameat.olddirfid;
		f[1] = t->trenameat.newdirfid; return 2;
	case P9_TXATTRWALK: f[0] = t->txattrwalk.fid; return 1;
	case P9_TXATTRCREATE: f[0] = t->txattrcreate.fid; return 1;
	default: return 0;
	}
}

static char *str_dup(struct p9_str s)
{
	char *d = malloc(s.len + 1);

	if (d) {
		memcpy(d, s.s, s.len);
		d[s.len] = '\0';
	}
	return d;
}

/* What t does to the registry when it succeeds.  -ENOMEM. */
static int regop_make(const struct p9_msg *t, struct regop *op)
{
	memset(op, 0, sizeof(*op));
	switch (t->type) {
	case P9_TATTACH:
		op->fid = t->tattach.fid;
		break;
	case P9_TWALK: {
		size_t len = 1;
		op->fid = t->twalk.fid;
		op->newfid = t->twalk.newfid;
		op->nw = t->twalk.nwname;
		for (unsigned i = 0; i < op->nw; i++)
			len += t->twalk.wname[i].len + 1;
		if (!(op->s1 = malloc(len)))
			return -ENOMEM;
		op->s1[0] = '\0';
		for (unsigned i = 0, o = 0; i < op->nw; i++) {
			if (i)
				op->s1[o++] = '/';
			memcpy(op->s1 + o, t->twalk.wname[i].s,
			       t->twalk.wname[i].len);
			o += t->twalk.wname[i].len;
			op->s1[o] = '\0';
		}
		break;
	}
	case P9_TLOPEN:
		op->fid = t->tlopen.fid;
		op->flags = t->tlopen.flags;
		break;
	case P9_TLCREATE:
		op->fid = t->tlcreate.fid;
		op->flags = t->tlcreate.flags;
		if (!(op->s1 = str_dup(t->tlcreate.name)))
			return -ENOMEM;
		break;
	case P9_TRENAMEAT:
		op->fid = t->trenameat.olddirfid;
		op->fid2 = t->trenameat.newdirfid;
		op->s1 = str_dup(t->trenameat.oldname);
		op->s2 = str_dup(t->trenameat.newname);
		if (!op->s1 || !op->s2)
			return -ENOMEM;
		break;
	case P9_TRENAME:
		op->fid = t->trename.fid;
		op->fid2 = t->trename.dfid;
		if (!(op->s1 = str_dup(t->trename.name)))
			return -ENOMEM;
		break;
	case P9_TXATTRCREATE:
		op->fid = t->txattrcreate.fid;
		break;
	default:
		return 0;
	}
	op->type = t->type;
	return 0;
}

/*
 * One request.  => t has everything but the tag.
 * 0 and *out filled (reply_free it), or a negative errno: the server's
 * Rlerror, -ETIMEDOUT (deadline passed; a Tflush went out), -EIO (dead
 * connection, bad reply, or the server died under a request that cannot
 * be replayed), -ESTALE (a fid whose file changed identity in a restart),
 * -ENOMEM, -EMSGSIZE (too big for msize).
 * On failure the fid named by cl is disposed of (CL_WALK: freed, or
 * clunked if it turns out the server created it; CL_CLUNK: clunked).
 * On a supervised connection a request waits (deadline) while the server
 * is restarted, and one that was out when the server died is sent again
 * to the new one if it is replayable.
 */
static int rpc_x(struct conn *c, struct p9_msg *t, uint8_t rtype,
		 struct reply *out, enum cleanup cl, uint32_t clfid,
		 unsigned flags)
{
	struct timespec dl;
	struct req *rq = NULL;
	ssize_t len;
	void *buf = NULL;
	bool internal = flags & RPC_INTERNAL;
	bool replay = !internal && !(flags & RPC_NOREPLAY) &&
		      replayable(t->type);
	bool have_serial = false;
	uint32_t fids[2];
	int nf = msg_fids(t, fids);
	uint64_t gen;
	int r;

	if (!internal)
		clunk_drain(c);
	deadline_in(&dl, c->timeout_ms);
again:
	len = p9_packed_size(t);
	if (len < 0 || (size_t)len > c->msize) {
		r = len < 0 ? -EINVAL : -EMSGSIZE;
		goto fail;
	}
	buf = malloc((size_t)len);
	rq = req_new(c, REQ_CALL);
	/* the supervisor's requests recreate what the registry says: they
	 * must not rewrite it (a re-walk would forget the open flags if the
	 * session died again before the reopen) */
	if (!buf || !rq || (c->track && !internal &&
			    regop_make(t, &rq->reg))) {
		req_free(rq);
		r = -ENOMEM;
		goto fail;
	}
	rq->rtype = rtype;
	rq->cl = cl;
	rq->fid = clfid;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		r = 0;
		if (c->perm_dead) {
			r = -EIO;
			break;
		}
		if (internal ? atomic_load(&c->dead) :
		    (c->recovering || atomic_load(&c->dead))) {
			if (internal || !c->recovering) {
				r = -EIO;
				break;
			}
			/* the server is being restarted: wait for it */
			if (pthread_cond_timedwait(&c->state_cv, &c->lock,
						   &dl) == ETIMEDOUT &&
			    c->recovering) {
				r = -ETIMEDOUT;
				break;
			}
			continue;
		}
		if (c->serial && !internal && !have_serial) {
			pthread_mutex_unlock(&c->lock);
			r = tlock_take(c, &c->serial_busy, &dl, NULL);
			pthread_mutex_lock(&c->lock);
			if (r == -EIO)
				continue;       /* dead or lost: see above */
			if (r)
				break;
			have_serial = true;
			continue;
		}
		if (c->nused == NTAGS) {
			if (pthread_cond_timedwait(&c->cv, &c->lock, &dl) ==
			    ETIMEDOUT && c->nused == NTAGS) {
				r = -ETIMEDOUT;
				break;
			}
			continue;
		}
		break;
	}
	for (int i = 0; r == 0 && i < nf; i++) {
		struct fident *e = reg_get(c, fids[i]);
		if (e && e->stale)
			r = -ESTALE;
	}
	if (r) {
		pthread_mutex_unlock(&c->lock);
		req_free(rq);
		rq = NULL;
		goto fail;
	}
	if (t->type == P9_TREMOVE)      /* the fid goes whatever happens */
		reg_drop_locked(c, t->tremove.fid);
	t->tag = tag_take_locked(c, rq);
	gen = rq->gen;
	pthread_mutex_unlock(&c->lock);
	p9_pack(buf, (size_t)len, t);

	r = send_msg(c, buf, (size_t)len, &dl, gen);
	free(buf);
	buf = NULL;

	pthread_mutex_lock(&c->lock);
	if (r == -ETIMEDOUT && !rq->done) {
		/* nothing went out: give the tag back, no flush needed */
		tag_release_locked(c, rq);
		pthread_mutex_unlock(&c->lock);
		req_free(rq);
		rq = NULL;
		goto fail;
	}
	while (!rq->done) {
		int w;

		/* nobody reads: read for ourselves (and for the others) */
		if (c->rd == RD_FREE && rq->gen == atomic_load(&c->sgen) &&
		    !atomic_load(&c->dead) && ms_left(&dl) > 0) {
			lead_locked(c, rq, &dl);
			continue;
		}
		if (c->rd == RD_THREAD)
			c->demand++;    /* the reader thread rests after this */
		c->nfollow++;
		w = pthread_cond_timedwait(&rq->cv, &c->lock, &dl);
		c->nfollow--;
		if (w != ETIMEDOUT || rq->done)
			continue;
		/* Deadline: only this request fails.  Flush it; the tag is
		 * reused once Rflush (or kill) frees it. */
		struct req *fl = NULL;
		struct p9_msg fm = { .type = P9_TFLUSH };
		uint16_t ftag = 0;
		uint8_t fbuf[P9_HDRSZ + 2];

		c->timeouts++;
		rq->abandoned = true;
		role_offer_locked(c);   /* we may have been woken to read */
		if (c->nused < NTAGS && (fl = req_new(c, REQ_FLUSH))) {
			fl->flushed = rq;
			rq->flushing = true;
			fm.tag = ftag = tag_take_locked(c, fl);
			fm.tflush.oldtag = rq->tag;
		}
		pthread_mutex_unlock(&c->lock);
		if (fl) {
			struct timespec fdl;
			ssize_t fl_len = p9_pack(fbuf, sizeof(fbuf), &fm);

			deadline_in(&fdl, c->timeout_ms);
			if (fl_len < 0 ||
			    send_msg(c, fbuf, (size_t)fl_len, &fdl, gen) ==
			    -ETIMEDOUT) {
				/* not sent: the late reply frees the tag
				 * (or has come already) */
				pthread_mutex_lock(&c->lock);
				if (atomic_load(&c->sgen) == gen &&
				    c->tags[ftag] == fl) {
					tag_release_locked(c, fl);
					req_free(fl);
					rq->flushing = false;
					if (rq->replied) {
						tag_release_locked(c, rq);
						cleanup_locked(c, rq->cl,
							       rq->fid,
							       rq->late_ok);
						req_free(rq);
					}
				}
				pthread_mutex_unlock(&c->lock);
			}
		}
		if (have_serial)
			tlock_give(c, &c->serial_busy);
		return -ETIMEDOUT;
	}
	/* done: the reader, a kill or a loss freed the tag */
	role_offer_locked(c);   /* we may have been woken to read */
	if (rq->lost) {
		bool again_ok = replay && !c->perm_dead;
		if (again_ok)
			c->replays++;
		pthread_mutex_unlock(&c->lock);
		req_free(rq);
		rq = NULL;
		if (have_serial)
			tlock_give(c, &c->serial_busy);
		have_serial = false;
		if (again_ok && ms_left(&dl) > 0)
			goto again;
		r = again_ok ? -ETIMEDOUT : -EIO;
		goto fail_nolock;
	}
	r = rq->err;
	if (r == 0 && rq->r.type == P9_RLERROR)
		r = ecode_err(rq->r.rlerror.ecode);
	if (r)
		cleanup_locked(c, cl, clfid, false);
	pthread_mutex_unlock(&c->lock);
	if (have_serial)
		tlock_give(c, &c->serial_busy);
	if (r) {
		req_free(rq);
		if (!internal)
			clunk_drain(c);
		return r;
	}
	out->buf = rq->rbuf;
	out->m = rq->r;
	rq->rbuf = NULL;
	req_free(rq);
	return 0;

fail:
	if (have_serial)
		tlock_give(c, &c->serial_busy);
fail_nolock:
	free(buf);
	pthread_mutex_lock(&c->lock);
	cleanup_locked(c, cl, clfid, false);
	pthread_mutex_unlock(&c->lock);
	if (!internal)
		clunk_drain(c);
	return r;
}

static int rpc(struct conn *c, struct p9_msg *t, uint8_t rtype,
	       struct reply *out, enum cleanup cl, uint32_t clfid)
{
	return rpc_x(c, t, rtype, out, cl, clfid, 0);
}
/* Reads exactly n bytes by the deadline (before the reader runs); -EIO
 * once the connection is killed (a supervisor reconnecting to a server
 * that accepts and does not answer must not hold an unmount up). */
static int read_full(struct conn *c, void *buf, size_t n,
		     const struct timespec *dl)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = read(c->fd_r, (char *)buf + got, n - got);
		if (k > 0) {
			got += (size_t)k;
			continue;
		}
		if (k == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		struct pollfd p[2] = {
			{ .fd = c->fd_r, .events = POLLIN },
			{ .fd = c->evfd, .events = POLLIN },
		};
		int ms = ms_left(dl);
		if (ms == 0)
			return -ETIMEDOUT;
		if (poll(p, 2, ms) > 0 && p[1].revents)
			return -EIO;
	}
	return 0;
}

/* Tversion, synchronously (no reader yet): negotiates c->msize. */
static int conn_version(struct conn *c, bool fixed)
{
	struct p9_msg m = { .type = P9_TVERSION, .tag = P9_NOTAG };
	struct timespec dl;
	uint8_t hdr[4], *buf;
	uint32_t size;
	ssize_t len;
	int r;

	m.tversion.msize = c->msize;
	m.tversion.version = P9_STR(P9_VERSION_L);
	uint8_t tbuf[64];
	len = p9_pack(tbuf, sizeof(tbuf), &m);
	if (len < 0)
		return -EINVAL;
	deadline_in(&dl, c->timeout_ms);
	r = send_msg(c, tbuf, (size_t)len, &dl, atomic_load(&c->sgen));
	if (r)
		return r;
	r = read_full(c, hdr, 4, &dl);
	if (r)
		return r;
	r = p9_frame_size(hdr, 4, c->msize, &size);
	if (r)
		return -EPROTO;
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, hdr, 4);
	r = read_full(c, buf + 4, size - 4, &dl);
	if (r == 0 && p9_unpack(buf, size, &m) != 0)
		r = -EPROTO;
	if (r == 0 && m.type == P9_RLERROR)
		r = ecode_err(m.rlerror.ecode);
	else if (r == 0 && (m.type != P9_RVERSION ||
			    !p9_str_eq(m.rversion.version, P9_VERSION_L)))
		r = -EPROTONOSUPPORT;
	else if (r == 0 && (m.rversion.msize > c->msize ||
			    m.rversion.msize < MSIZE_MIN))
		r = -EPROTO;
	if (r == 0 && c->msize != m.rversion.msize) {
		if (fixed)
			r = -EPROTO;    /* a restarted server: same msize */
		else
			c->msize = m.rversion.msize;
	}
	free(buf);
	return r;
}

static int conn_init(struct conn *c)
{
	c->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->evfd < 0)
		return -errno;
	pthread_condattr_init(&c->cattr);
	pthread_condattr_setclock(&c->cattr, CLOCK_MONOTONIC);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cv, &c->cattr);
	pthread_cond_init(&c->lock_cv, &c->cattr);
	pthread_cond_init(&c->state_cv, &c->cattr);
	pthread_cond_init(&c->sup_cv, &c->cattr);
	pthread_cond_init(&c->rd_cv, &c->cattr);
	atomic_init(&c->dead, false);
	atomic_init(&c->sgen, 0);
	c->pidfd = -1;
	c->next_fid = 1;        /* fid 0 is the root */
	return 0;
}

/* Waits (bounded) for the requests in flight, kills, joins the reader,
 * closes and frees everything. */
static void conn_fini_wait(struct conn *c, int drain_ms)
{
	struct timespec dl;

	deadline_in(&dl, drain_ms);
	pthread_mutex_lock(&c->lock);
	while (!atomic_load(&c->dead) && c->nused > 0)
		if (pthread_cond_timedwait(&c->cv, &c->lock, &dl) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&c->lock);
	conn_kill(c);
}

static void conn_fini(struct conn *c, int drain_ms)
{
	conn_fini_wait(c, drain_ms);
	if (c->fd_r >= 0)
		shutdown(c->fd_r, SHUT_RDWR);
	if (c->reader_started)
		pthread_join(c->reader, NULL);
	if (c->fd_r >= 0)
		close(c->fd_r);
	if (c->fd_w >= 0 && c->fd_w != c->fd_r)
		close(c->fd_w);
	close(c->evfd);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->lock_cv);
	pthread_cond_destroy(&c->state_cv);
	pthread_cond_destroy(&c->sup_cv);
	pthread_cond_destroy(&c->rd_cv);
	pthread_condattr_destroy(&c->cattr);
	free(c->rb);
	for (size_t i = 0; i < c->nfidents; i++)
		free(c->fids[i].path);
	free(c->fids);
	free(c->free_fids);
	free(c->clunkq);
}

/* ---- sources ----------------------------------------------------------- */

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/*
 * The connects wait at most timeout_ms, and not at all once evfd (the
 * connection's kill) is readable: -EIO then.  The socket is non-blocking.
 */
static int connect_unix(const char *path, int timeout_ms, int evfd, int *fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timespec dl;
	int s;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		return -errno;
	deadline_in(&dl, timeout_ms);
	/* a full backlog (a server that does not accept) answers EAGAIN at
	 * once, where a blocking connect would wait for ever: try again */
	while (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno, ms = ms_left(&dl);
		struct pollfd p = { .fd = evfd, .events = POLLIN };

		if (e == EAGAIN && ms > 0 &&
		    poll(&p, 1, ms < 10 ? ms : 10) == 0)
			continue;
		close(s);
		return e != EAGAIN ? -e : p.revents ? -EIO : -ETIMEDOUT;
	}
	*fd = s;
	return 0;
}

static int connect_tcp(const char *hostport, int timeout_ms, int evfd,
		       int *fd)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int r = -ECONNREFUSED;
	size_t hl;

	if (!colon || colon == hostport || !colon[1])
		return -EINVAL;
	hl = (size_t)(colon - hostport);
	if (hl >= sizeof(host))
		return -ENAMETOOLONG;
	memcpy(host, hostport, hl);
	host[hl] = '\0';
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		return -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		int s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
			       SOCK_NONBLOCK, ai->ai_protocol);
		if (s < 0) {
			r = -errno;
			continue;
		}
		if (connect(s, ai->ai_addr, ai->ai_addrlen) < 0 &&
		    errno != EINPROGRESS) {
			r = -errno;
			close(s);
			continue;
		}
		struct pollfd p[2] = {
			{ .fd = s, .events = POLLOUT },
			{ .fd = evfd, .events = POLLIN },
		};
		int err = 0;
		socklen_t el = sizeof(err);
		if (poll(p, 2, timeout_ms) < 1 || p[1].revents) {
			r = p[1].revents ? -EIO : -ETIMEDOUT;
			close(s);
			if (p[1].revents)
				break;
			continue;
		}
		getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err) {
			r = -err;
			close(s);
			continue;
		}
		int one = 1;
		setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one,
			   sizeof(one));
		*fd = s;
		r = 0;
		break;
	}
	freeaddrinfo(res);
	return r;
}

static int parse_int(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* A source one can connect to again (unix:, tcp:)? */
static bool source_is_address(const char *source)
{
	return strncmp(source, "unix:", 5) == 0 ||
	       strncmp(source, "tcp:", 4) == 0;
}

/* Connects to a unix: or tcp: source: *fd non-blocking, close-on-exec. */
static int connect_addr(struct conn *c, const char *source, int *fd)
{
	if (strncmp(source, "unix:", 5) == 0)
		return connect_unix(source + 5, c->timeout_ms, c->evfd, fd);
	if (strncmp(source, "tcp:", 4) == 0)
		return connect_tcp(source + 4, c->timeout_ms, c->evfd, fd);
	return -EINVAL;
}

static int conn_open(struct conn *c, const char *source)
{
	int r;

	c->fd_r = c->fd_w = -1;
	if (source_is_address(source)) {
		r = connect_addr(c, source, &c->fd_r);
		c->fd_w = c->fd_r;
	} else if (strncmp(source, "fd:", 3) == 0) {
		char tmp[64], *comma;
		long rfd, wfd;

		if (strlen(source + 3) >= sizeof(tmp))
			return -EINVAL;
		strcpy(tmp, source + 3);
		comma = strchr(tmp, ',');
		if (!comma)
			return -EINVAL;
		*comma = '\0';
		if (parse_int(tmp, 0, INT_MAX, &rfd) ||
		    parse_int(comma + 1, 0, INT_MAX, &wfd))
			return -EINVAL;
		c->fd_r = fcntl((int)rfd, F_DUPFD_CLOEXEC, 3);
		if (c->fd_r < 0)
			return -errno;
		if (wfd == rfd) {
			c->fd_w = c->fd_r;
		} else {
			c->fd_w = fcntl((int)wfd, F_DUPFD_CLOEXEC, 3);
			if (c->fd_w < 0) {
				r = -errno;
				close(c->fd_r);
				c->fd_r = -1;
				return r;
			}
		}
		r = 0;
	} else {
		return -EINVAL;
	}
	if (r)
		return r;
	struct stat st;
	c->sock = fstat(c->fd_w, &st) == 0 && S_ISSOCK(st.st_mode);
	r = set_nonblock(c->fd_r);
	if (!r && c->fd_w != c->fd_r)
		r = set_nonblock(c->fd_w);
	return r;
}

/* ---- the driver -------------------------------------------------------- */

/* A fid that operations share; clunked when the last user drops it. */
struct fid {
	uint32_t num;
	atomic_uint refs;
};

/* A file the driver knows: a vnode's private object. */
struct node {
	uint64_t ino;           /* qid.path */
	struct fid *fid;        /* s->lock; walked, never opened */
	unsigned refs;          /* s->lock: vnodes using it (+1 the root) */
	atomic_uint type;       /* S_IFMT once known (getattr), else 0 */
	unsigned nopen;         /* s->lock: handles open on it */
	/* s->lock: where the fid was walked to (the parent's ino and the
	 * name; NULL if unknown) and s->gen then, to walk again from the
	 * root after a rename made a path-named fid stale */
	uint64_t pino;
	char *name;
	uint64_t gen;
	struct node *hnext;     /* s->lock: hash chain */
	struct node *lprev, *lnext; /* s->lock: LRU when refs == 0 */
};

/* An open file (the core's fh). */
struct handle {
	struct fid *fid;        /* walked and Tlopen'ed */
	uint32_t iounit;
	bool append;            /* opened O_APPEND: writes are never replayed
				 * (the server appends whatever the offset) */
	struct node *node;
	struct handle *prev, *next; /* s->lock: open handles */
};

struct p9sb {
	struct conn c;
	pthread_mutex_t lock;   /* nodes, LRU, handles */
	struct node *hash[NBUCKETS];
	struct node lru;        /* head: lnext newest */
	unsigned nlru;
	struct handle handles;  /* list head */
	struct node *root;
	uint64_t gen;           /* lock: renames so far */
	uid_t uid;              /* the attach user (n_uname) */
	atomic_bool no_unlinkat, no_renameat; /* server lacks them: fall
					       * back to Tremove, Trename */
};

static struct p9sb *S(struct uvfs_sb *sb)
{
	return uvfs_sb_private(sb);
}

static struct fid *fid_new(uint32_t num)
{
	struct fid *f = malloc(sizeof(*f));

	if (f) {
		f->num = num;
		atomic_init(&f->refs, 1);
	}
	return f;
}

static void fid_put(struct p9sb *s, struct fid *f)
{
	if (f && atomic_fetch_sub(&f->refs, 1) == 1) {
		clunk_async(&s->c, f->num);
		free(f);
	}
}

static struct fid *node_fid(struct p9sb *s, struct node *n)
{
	pthread_mutex_lock(&s->lock);
	struct fid *f = n->fid;
	atomic_fetch_add(&f->refs, 1);
	pthread_mutex_unlock(&s->lock);
	return f;
}

/* For getattr: an open handle's fid if there is one (an open file can be
 * unlinked, and a path-based server such as diod answers it only through
 * the open fid), else the node's. */
static struct fid *node_attr_fid(struct p9sb *s, struct node *n)
{
	struct fid *f = NULL;

	pthread_mutex_lock(&s->lock);
	if (n->nopen)
		for (struct handle *h = s->handles.next; h != &s->handles;
		     h = h->next)
			if (h->node == n) {
				f = h->fid;
				break;
			}
	if (!f)
		f = n->fid;
	atomic_fetch_add(&f->refs, 1);
	pthread_mutex_unlock(&s->lock);
	return f;
}

static unsigned bucket(uint64_t ino)
{
	uint64_t h = ino * 0x9e3779b97f4a7c15ULL;
	return (unsigned)(h >> 52) & (NBUCKETS - 1);
}

static struct node *node_find_locked(struct p9sb *s, uint64_t ino)
{
	struct node *n;

	for (n = s->hash[bucket(ino)]; n; n = n->hnext)
		if (n->ino == ino)
			return n;
	return NULL;
}

static void lru_del_locked(struct p9sb *s, struct node *n)
{
	if (n->lnext) {
		n->lprev->lnext = n->lnext;
		n->lnext->lprev = n->lprev;
		n->lprev = n->lnext = NULL;
		s->nlru--;
	}
}

static void hash_del_locked(struct p9sb *s, struct node *n)
{
	struct node **pp = &s->hash[bucket(n->ino)];

	while (*pp != n)
		pp = &(*pp)->hnext;
	*pp = n->hnext;
}

/* Installs a freshly walked fid for ino (ownership passes): the node's
 * fid is replaced (if replace; never the root's: the attach fid is the
 * one fid whose path cannot go stale), or a new unreferenced node made
 * (on the LRU). */
static void node_free(struct p9sb *s, struct node *n)
{
	fid_put(s, n->fid);
	free(n->name);
	free(n);
}

/* => s->lock held.  Records where n's fid was walked to. */
static void node_set_name_locked(struct node *n, uint64_t pino,
				 const char *name, uint64_t gen)
{
	char *dup = name ? strdup(name) : NULL;

	if (name && !dup)
		return;         /* keeps the old name: a later walk fixes it */
	free(n->name);
	n->name = dup;
	n->pino = pino;
	n->gen = gen;
}

static int node_install(struct p9sb *s, uint64_t ino, uint32_t fidnum,
			bool replace, uint64_t pino, const char *name,
			uint64_t gen)
{
	struct fid *f = fid_new(fidnum), *old = NULL;
	struct node *n, *evict = NULL;

	if (!f) {
		clunk_async(&s->c, fidnum);
		return -ENOMEM;
	}
	pthread_mutex_lock(&s->lock);
	n = node_find_locked(s, ino);
	if (n && (!replace || n == s->root)) {
		old = f;        /* keep the node's */
	} else if (n) {
		old = n->fid;
		n->fid = f;
		if (name)
			node_set_name_locked(n, pino, name, gen);
	} else {
		n = calloc(1, sizeof(*n));
		if (!n) {
			pthread_mutex_unlock(&s->lock);
			fid_put(s, f);
			return -ENOMEM;
		}
		n->ino = ino;
		n->fid = f;
		if (name)
			node_set_name_locked(n, pino, name, gen);
		n->hnext = s->hash[bucket(ino)];
		s->hash[bucket(ino)] = n;
		n->lnext = s->lru.lnext;
		n->lprev = &s->lru;
		n->lnext->lprev = n;
		s->lru.lnext = n;
		s->nlru++;
		if (s->nlru > LRU_MAX) {
			evict = s->lru.lprev;
			lru_del_locked(s, evict);
			hash_del_locked(s, evict);
		}
	}
	pthread_mutex_unlock(&s->lock);
	fid_put(s, old);
	if (evict)
		node_free(s, evict);
	return 0;
}

static int walk(struct p9sb *s, uint32_t fid, const char *name,
		uint32_t *newfid, struct p9_qid *qid)
{
	struct p9_msg m = { .type = P9_TWALK };
	struct reply rp;
	uint32_t nf;
	int r;

	r = fid_alloc(&s->c, &nf);
	if (r)
		return r;
	m.twalk.fid = fid;
	m.twalk.newfid = nf;
	if (name) {
		if (strlen(name) > 65535)
			return fid_free(&s->c, nf), -ENAMETOOLONG;
		m.twalk.nwname = 1;
		m.twalk.wname[0] = p9_str(name);
	}
	r = rpc(&s->c, &m, P9_RWALK, &rp, CL_WALK, nf);
	if (r)
		return r;
	if (rp.m.rwalk.nwqid != m.twalk.nwname) {
		/* a partial walk creates no fid */
		r = rp.m.rwalk.nwqid < m.twalk.nwname ? -ENOENT : -EIO;
		reply_free(&rp);
		fid_free(&s->c, nf);
		return r;
	}
	if (name && qid)
		*qid = rp.m.rwalk.wqid[0];
	reply_free(&rp);
	*newfid = nf;
	return 0;
}

static uint64_t sb_gen(struct p9sb *s)
{
	pthread_mutex_lock(&s->lock);
	uint64_t g = s->gen;
	pthread_mutex_unlock(&s->lock);
	return g;
}

#define REWALK_MAX 256  /* path depth tried */

/*
 * Walks to n again from the root by the names the table remembers, and
 * installs the new fid: for servers that name fids by path (diod), after
 * a rename above n.  0, or -ESTALE if the chain of names is incomplete or
 * leads to another file, or the walk's error.
 */
static int rewalk(struct p9sb *s, struct node *n)
{
	char **names = calloc(REWALK_MAX, sizeof(*names));
	struct fid *rootf = NULL;
	struct node *p;
	uint64_t gen;
	uint32_t cur = P9_NOFID;
	size_t depth = 0, i;
	int r = -ESTALE;

	if (!names)
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	gen = s->gen;
	for (p = n; p && p != s->root && depth < REWALK_MAX; depth++) {
		if (!p->name || !(names[depth] = strdup(p->name)))
			break;
		p = node_find_locked(s, p->pino);
	}
	if (p == s->root) {
		rootf = s->root->fid;
		atomic_fetch_add(&rootf->refs, 1);
	}
	pthread_mutex_unlock(&s->lock);
	if (!rootf || depth == 0)
		goto out;

	/* names[depth-1] is just below the root */
	for (i = depth; i > 0;) {
		struct p9_msg m = { .type = P9_TWALK };
		struct reply rp;
		uint32_t nf;
		uint16_t k = 0;

		r = fid_alloc(&s->c, &nf);
		if (r)
			break;
		m.twalk.fid = cur == P9_NOFID ? rootf->num : cur;
		m.twalk.newfid = nf;
		while (i > 0 && k < P9_MAXWELEM)
			m.twalk.wname[k++] = p9_str(names[--i]);
		m.twalk.nwname = k;
		r = rpc(&s->c, &m, P9_RWALK, &rp, CL_WALK, nf);
		if (r)
			break;
		bool whole = rp.m.rwalk.nwqid == k;
		uint64_t last = whole ? rp.m.rwalk.wqid[k - 1].path : 0;
		reply_free(&rp);
		if (!whole) {
			fid_free(&s->c, nf);
			r = -ENOENT;
			break;
		}
		if (cur != P9_NOFID)
			clunk_async(&s->c, cur);
		cur = nf;
		if (i == 0 && last != n->ino)
			r = -ESTALE;    /* another file has that path now */
	}
	if (r == 0) {
		struct fid *f = fid_new(cur), *old;
		if (!f) {
			r = -ENOMEM;
			goto out;
		}
		cur = P9_NOFID;
		pthread_mutex_lock(&s->lock);
		old = n->fid;
		n->fid = f;
		n->gen = gen;
		pthread_mutex_unlock(&s->lock);
		fid_put(s, old);
	}
out:
	if (cur != P9_NOFID)
		clunk_async(&s->c, cur);
	if (rootf)
		fid_put(s, rootf);
	for (i = 0; i < depth; i++)
		free(names[i]);
	free(names);
	return r;
}

/* An operation on n's fid failed with r: true if it is worth retrying
 * because n's fid was walked before a rename and could walk again. */
static bool stale_retry(struct p9sb *s, struct node *n, int r)
{
	bool old;

	if (r != -ENOENT || n == s->root)
		return false;
	pthread_mutex_lock(&s->lock);
	old = n->gen < s->gen;
	n->gen = s->gen;        /* once per rename, even if it fails */
	pthread_mutex_unlock(&s->lock);
	return old && rewalk(s, n) == 0;
}

static int getattr_fid(struct p9sb *s, uint32_t fid, struct p9_rgetattr *ga)
{
	struct p9_msg m = { .type = P9_TGETATTR };
	struct reply rp;
	int r;

	m.tgetattr.fid = fid;
	m.tgetattr.request_mask = P9_GETATTR_BASIC;
	r = rpc(&s->c, &m, P9_RGETATTR, &rp, CL_NONE, 0);
	if (r)
		return r;
	*ga = rp.m.rgetattr;
	reply_free(&rp);
	return 0;
}

/* Linux O_* -> 9P2000.L open flags (the values of x86 Linux). */
static uint32_t dotl_flags(int flags)
{
	static const struct { int o; uint32_t p; } map[] = {
		{ O_APPEND, 02000 }, { O_DSYNC, 010000 },
		{ O_DIRECT, 040000 }, { O_LARGEFILE, 0100000 },
		{ O_DIRECTORY, 0200000 }, { O_NOATIME, 01000000 },
		{ O_SYNC & ~O_DSYNC, 04000000 },
	};
	uint32_t p = (uint32_t)(flags & O_ACCMODE);

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].o && (flags & map[i].o) == map[i].o)
			p |= map[i].p;
	return p;
}

/* Clones n's fid and opens the clone.  => *fid, *iounit */
static int open_fid_once(struct p9sb *s, struct node *n, int flags,
			 uint32_t *fid, uint32_t *iounit)
{
	struct p9_msg m = { .type = P9_TLOPEN };
	struct fid *nf = node_fid(s, n);
	struct reply rp;
	uint32_t of;
	int r;

	r = walk(s, nf->num, NULL, &of, NULL);
	fid_put(s, nf);
	if (r)
		return r;
	m.tlopen.fid = of;
	m.tlopen.flags = dotl_flags(flags);
	r = rpc(&s->c, &m, P9_RLOPEN, &rp, CL_CLUNK, of);
	if (r)
		return r;
	*iounit = rp.m.rlopen.iounit;
	reply_free(&rp);
	*fid = of;
	return 0;
}

static bool stale_retry(struct p9sb *s, struct node *n, int r);

static int open_fid(struct p9sb *s, struct node *n, int flags, uint32_t *fid,
		    uint32_t *iounit)
{
	int r = open_fid_once(s, n, flags, fid, iounit);

	if (r && stale_retry(s, n, r))
		r = open_fid_once(s, n, flags, fid, iounit);
	return r;
}

/* The largest data count for one Tread/Twrite. */
static uint32_t io_max(struct p9sb *s, uint32_t iounit)
{
	uint32_t m = s->c.msize - P9_IOHDRSZ;
	return iounit && iounit < m ? iounit : m;
}

/* ---- options and mount ------------------------------------------------- */

/* What a mount of each type talks to: a server it was given (an address
 * or descriptors), or one it spawns. */
enum server_kind { SERVER_NONE, SERVER_HOSTFS, SERVER_DIOD };

struct opts {
	char aname[PATH_MAX];
	char uname[256];
	char server[PATH_MAX];  /* hostfs, diod */
	long msize, timeout;
	long restarts, window;  /* supervised mounts */
	bool serial, has_uname, has_server;
	bool noreconnect;       /* 9p: a lost connection stays lost */
};

static int parse_opts(const char *options, struct opts *o,
		      enum server_kind kind)
{
	bool hostfs = kind != SERVER_NONE;      /* we start the server */
	char *dup, *tok, *save = NULL;
	int r = 0;

	snprintf(o->aname, sizeof(o->aname), "%s", "");
	o->msize = MSIZE_DEFAULT;
	o->timeout = TIMEOUT_DEFAULT;
	o->restarts = hostfs ? RESTARTS_DEFAULT : RECONNECTS_DEFAULT;
	o->window = WINDOW_DEFAULT_MS;
	if (!options || !*options)
		return 0;
	dup = strdup(options);
	if (!dup)
		return -ENOMEM;
	for (tok = strtok_r(dup, ",", &save); tok && !r;
	     tok = strtok_r(NULL, ",", &save)) {
		if (hostfs && strncmp(tok, "server=", 7) == 0) {
			if (strlen(tok + 7) >= sizeof(o->server))
				r = -ENAMETOOLONG;
			else
				strcpy(o->server, tok + 7);
			o->has_server = true;
		} else if (strncmp(tok, "restarts=", 9) == 0) {
			r = parse_int(tok + 9, 0, 1000000L, &o->restarts);
		} else if (strncmp(tok, "window=", 7) == 0) {
			r = parse_int(tok + 7, 1, 24 * 3600 * 1000L,
				      &o->window);
		} else if (!hostfs && strcmp(tok, "noreconnect") == 0) {
			o->noreconnect = true;
		} else if (!hostfs && strncmp(tok, "aname=", 6) == 0) {
			if (strlen(tok + 6) >= sizeof(o->aname))
				r = -ENAMETOOLONG;
			else
				strcpy(o->aname, tok + 6);
		} else if (strncmp(tok, "uname=", 6) == 0) {
			if (strlen(tok + 6) >= sizeof(o->uname))
				r = -ENAMETOOLONG;
			else
				strcpy(o->uname, tok + 6);
			o->has_uname = true;
		} else if (strncmp(tok, "msize=", 6) == 0) {
			r = parse_int(tok + 6, MSIZE_MIN, 16 << 20, &o->msize);
		} else if (strncmp(tok, "timeout=", 8) == 0) {
			r = parse_int(tok + 8, 1, 24 * 3600 * 1000L,
				      &o->timeout);
		} else if (strcmp(tok, "serial") == 0) {
			o->serial = true;
		} else {
			r = -EINVAL;
		}
	}
	free(dup);
	return r;
}

/* ---- supervision: types "hostfs", "diod"; "9p" reconnecting -------------
 * (docs/recovery.md)
 *
 * hostfs and diod mounts spawn the server on a socketpair (its stdin and
 * stdout) and keep its pid and a pidfd.  A "9p" mount of a unix: or tcp:
 * source (unless noreconnect) has the same supervisor with nothing to
 * spawn: a session is a connection to the address, with no pid and no
 * pidfd.  The reader of each session polls the socket and the pidfd; EOF,
 * a read or write error, lost framing or the pidfd turning readable is
 * conn_lost(): the waiters are completed as lost, and the supervisor
 * thread (one per mount) takes over:
 *
 *   join the old reader, close the socket, SIGKILL + reap the old server
 *   (if we spawned one);
 *   restart limit (restarts= within window=): past it conn_kill (dead);
 *   back off (10 ms, doubling to 1 s while attempts fail);
 *   spawn, or connect to the address again; Tversion (same msize), start a
 *   reader, Tattach fid 0, walk every registered fid again from fid 0
 *   under its own number, Tlopen the ones that were open, compare qids
 *   (path and type): a mismatch or a failed walk marks the fid stale (its
 *   requests -ESTALE);
 *   recovering = false: the waiting requests go (replays among them).
 *
 * On a reconnecting mount a protocol violation is no loss but the end:
 * lost framing (proto_kill) or a Tversion answered otherwise than at mount
 * makes the mount dead at once.  We cannot restart that server, and the
 * one we would reach again is the one that broke the protocol.
 *
 * Only the supervisor sends while recovering (RPC_INTERNAL); every other
 * request waits on state_cv with its deadline; clunks wait in the queue.
 */
#define BACKOFF_MIN_MS    10
#define BACKOFF_MAX_MS    1000

struct sup {
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
	long restarts, window_ms;       /* const: the limit */
	pid_t pid;                      /* c.lock: the server, 0 none (always
					 * 0 with reconnect) */
	bool stop;                      /* c.lock: unmount */
	pthread_t thread;
	bool started;
	struct timespec *stamps;        /* supervisor: recent restarts */
	size_t nstamps;
	unsigned long nrestarts;        /* c.lock: sessions opened (servers
					 * spawned, connections made) */
	uint64_t last_recovery_ns;      /* c.lock */
	unsigned long stale_fids;       /* c.lock */
};

/* For uvfs_9p_server_info: live supervised mounts (by source). */
static pthread_mutex_t sup_list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn *sup_list[256];

static long long ts_ns(const struct timespec *t)
{
	return (long long)t->tv_sec * 1000000000LL + t->tv_nsec;
}

static int spawn_server(struct conn *c)
{
	struct sup *sp = c->sup;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, def;
	int sv[2], r;
	pid_t pid;
	char *hostfs_argv[] = { sp->server, sp->source, NULL };
	/* diod on the inherited socket (long options: its -w is ambiguous),
	 * no authentication, its log out of our stderr; all users squashed
	 * when we are not root (it could not switch users anyway) */
	char *diod_argv[] = { sp->server, "-f", "-n", "--rfdno", "0",
			      "--wfdno", "0", "-e", sp->source, "-L",
			      "/dev/null", geteuid() ? "-S" : NULL, NULL };
	char **argv = sp->diod ? diod_argv : hostfs_argv;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	for (int i = 0; i < 2; i++)
		if (sv[i] < 3) {        /* dup2 onto 0/1 must not be a no-op */
			int n = fcntl(sv[i], F_DUPFD_CLOEXEC, 3);
			close(sv[i]);
			sv[i] = n;
		}
	if (sv[0] < 0 || sv[1] < 0) {
		r = -errno;
		if (sv[0] >= 0)
			close(sv[0]);
		if (sv[1] >= 0)
			close(sv[1]);
		return r;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
	/* nothing else of ours: an inherited descriptor (another mount's
	 * socket, /dev/fuse) would outlive us in the server */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGHUP);
	sigaddset(&def, SIGUSR2);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
				 POSIX_SPAWN_SETSIGDEF);
	r = -posix_spawn(&pid, sp->server, &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(sv[1]);
	if (r) {
		close(sv[0]);
		return r;
	}
	r = set_nonblock(sv[0]);
	pthread_mutex_lock(&c->lock);
	c->fd_r = c->fd_w = sv[0];
	c->sock = true;
	c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0); /* -1: EOF only */
	sp->pid = pid;
	sp->nrestarts++;
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* Reconnect: the address again (the connect waits at most the request
 * timeout, and not at all once the connection is killed).  No pid, no
 * pidfd: the session ends by EOF or an error alone. */
static int connect_server(struct conn *c)
{
	struct sup *sp = c->sup;
	int fd, r = connect_addr(c, sp->source, &fd);

	if (r)
		return r;
	pthread_mutex_lock(&c->lock);
	c->fd_r = c->fd_w = fd;
	c->sock = true;
	sp->nrestarts++;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* Supervisor: a new session (c's socket).  0, or why none: nothing of it
 * is left to lose then (session_teardown still closes what there is). */
static int session_start(struct conn *c)
{
	return c->sup->reconnect ? connect_server(c) : spawn_server(c);
}

/* The server of session gen broke the protocol and we cannot restart it:
 * the mount is dead (session_end). */
static void proto_kill(struct conn *c, uint64_t gen)
{
	bool now;

	pthread_mutex_lock(&c->lock);
	now = !c->perm_dead && atomic_load(&c->sgen) == gen;
	pthread_mutex_unlock(&c->lock);
	if (!now)
		return;
	fprintf(stderr, "uvfs: %s %s: protocol violation (framing lost): "
		"the mount is dead\n", c->sup->type, c->sup->source);
	conn_kill(c);
}

/* Supervisor, after a loss (or at unmount): no reader, no socket, no
 * server left of the old session (with reconnect there is no server of
 * ours: pid 0, no pidfd). */
static void session_teardown(struct conn *c, int grace_ms)
{
	struct sup *sp = c->sup;
	int fd;
	pid_t pid;

	if (c->reader_started) {
		pthread_join(c->reader, NULL);
		c->reader_started = false;
	}
	pthread_mutex_lock(&c->lock);
	/* a writer, or a caller reading, still on the old socket (it was
	 * shut down: they leave at once) */
	while (c->wbusy || c->rd == RD_CALLER)
		pthread_cond_wait(&c->lock_cv, &c->lock);
	fd = c->fd_r;
	c->fd_r = c->fd_w = -1;
	pid = sp->pid;
	sp->pid = 0;
	pthread_mutex_unlock(&c->lock);
	if (fd >= 0)
		close(fd);
	if (pid > 0) {
		int st;
		/* it exits at EOF; past the grace period, or with grace 0,
		 * it is killed */
		for (int i = 0; i < grace_ms; i++) {
			if (waitpid(pid, &st, WNOHANG) == pid) {
				pid = 0;
				break;
			}
			usleep(1000);
		}
		if (pid > 0) {
			kill(pid, SIGKILL);
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
				;
		}
	}
	if (c->pidfd >= 0) {
		close(c->pidfd);
		c->pidfd = -1;
	}
}

/* Another restart allowed by the limit?  Records it if so. */
static bool restart_allowed(struct sup *sp)
{
	struct timespec now;
	size_t i, k = 0;

	clock_gettime(CLOCK_MONOTONIC, &now);
	for (i = 0; i < sp->nstamps; i++)
		if (ts_ns(&now) - ts_ns(&sp->stamps[i]) <
		    sp->window_ms * 1000000LL)
			sp->stamps[k++] = sp->stamps[i];
	sp->nstamps = k;
	if ((long)k >= sp->restarts)
		return false;
	sp->stamps[sp->nstamps++] = now;
	return true;
}

/* => c->lock held */
static void mark_stale_locked(struct conn *c, uint32_t fid)
{
	struct fident *e = reg_get(c, fid);

	if (e && !e->stale) {
		e->stale = true;
		c->sup->stale_fids++;
	}
}

struct snap {
	uint32_t fid;
	char *path;
	struct p9_qid qid;
	int32_t oflags;
	bool unknown;
};

/* Walks fid (a new number on the new server) to path from fid 0.  0 and
 * *q the last qid, a server error, or -EIO (session gone). */
static int walk_path(struct conn *c, uint32_t fid, const char *path,
		     struct p9_qid *q)
{
	char *dup = strdup(path), *save = NULL, *tok;
	bool first = true;
	int r = 0;

	if (!dup)
		return -ENOMEM;
	tok = strtok_r(dup, "/", &save);
	do {
		struct p9_msg m = { .type = P9_TWALK };
		struct reply rp;

		m.twalk.fid = first ? 0 : fid;
		m.twalk.newfid = fid;
		while (tok && m.twalk.nwname < P9_MAXWELEM) {
			m.twalk.wname[m.twalk.nwname++] = p9_str(tok);
			tok = strtok_r(NULL, "/", &save);
		}
		r = rpc_x(c, &m, P9_RWALK, &rp, CL_NONE, 0, RPC_INTERNAL);
		if (r)
			break;
		if (rp.m.rwalk.nwqid != m.twalk.nwname) {
			reply_free(&rp);
			r = -ENOENT;
			break;
		}
		if (m.twalk.nwname)
			*q = rp.m.rwalk.wqid[m.twalk.nwname - 1];
		else
			*q = c->root_qid;
		reply_free(&rp);
		first = false;
	} while (tok);
	free(dup);
	return r;
}

#define REWALK_THREADS 8

struct rewalk {
	struct conn *c;
	struct snap *sn;
	size_t n;
	uint64_t gen;
	atomic_size_t next;
	atomic_bool failed;     /* the new session died too */
};

/* Walks, reopens and checks snapshot entries until none is left. */
static void *rewalk_main(void *arg)
{
	struct rewalk *rw = arg;
	struct conn *c = rw->c;
	struct reply rp;
	size_t i;

	while (!atomic_load(&rw->failed) &&
	       (i = atomic_fetch_add(&rw->next, 1)) < rw->n) {
		struct snap *sn = rw->sn;
		struct p9_qid q = { 0 };
		bool stale = false;
		int e = walk_path(c, sn[i].fid, sn[i].path, &q);

		if (e == 0 && (q.path != sn[i].qid.path ||
			       q.type != sn[i].qid.type))
			stale = true;   /* another file has that path now */
		else if (e == 0 && sn[i].oflags >= 0) {
			struct p9_msg o = { .type = P9_TLOPEN };
			o.tlopen.fid = sn[i].fid;
			o.tlopen.flags = (uint32_t)sn[i].oflags;
			e = rpc_x(c, &o, P9_RLOPEN, &rp, CL_NONE, 0,
				  RPC_INTERNAL);
			if (e == 0)
				reply_free(&rp);
		}
		if (e && (e == -EIO || e == -ETIMEDOUT ||
			  atomic_load(&c->sgen) != rw->gen)) {
			atomic_store(&rw->failed, true);
			break;
		}
		if (e)
			stale = true;   /* vanished, or cannot be reopened */
		if (stale) {
			pthread_mutex_lock(&c->lock);
			mark_stale_locked(c, sn[i].fid);
			pthread_mutex_unlock(&c->lock);
		}
	}
	return NULL;
}

/* The new server is up (version done, reader running): attach, recreate
 * every registered fid.  0, or -EIO when the session died meanwhile. */
static int recover_fids(struct conn *c, uint64_t gen)
{
	struct sup *sp = c->sup;
	struct p9_msg m = { .type = P9_TATTACH };
	struct snap *sn = NULL;
	size_t n = 0, i;
	struct reply rp;
	int r;

	m.tattach.fid = 0;
	m.tattach.afid = P9_NOFID;
	m.tattach.uname = p9_str(sp->uname);
	m.tattach.aname = p9_str(sp->aname);
	m.tattach.n_uname = sp->n_uname;
	r = rpc_x(c, &m, P9_RATTACH, &rp, CL_NONE, 0, RPC_INTERNAL);
	if (r)
		return atomic_load(&c->sgen) == gen && r != -EIO ? r : -EIO;
	bool root_same = rp.m.rattach.qid.path == c->root_qid.path &&
			 rp.m.rattach.qid.type == c->root_qid.type;
	reply_free(&rp);

	pthread_mutex_lock(&c->lock);
	sn = calloc(c->nfidents ? c->nfidents : 1, sizeof(*sn));
	for (i = 1; sn && i < c->nfidents; i++) {
		struct fident *e = &c->fids[i];
		if (!e->used || e->stale)
			continue;
		if (!root_same || e->unknown || !e->path) {
			mark_stale_locked(c, (uint32_t)i);
			continue;
		}
		sn[n].path = strdup(e->path);
		if (!sn[n].path) {
			mark_stale_locked(c, (uint32_t)i);
			continue;
		}
		sn[n].fid = (uint32_t)i;
		sn[n].qid = e->qid;
		sn[n].oflags = e->oflags;
		n++;
	}
	pthread_mutex_unlock(&c->lock);
	if (!sn)
		return -ENOMEM;

	/* pipelined: a few threads, each walking and reopening in turn */
	struct rewalk rw = { .c = c, .sn = sn, .n = n, .gen = gen };
	pthread_t th[REWALK_THREADS];
	size_t nth = 0;
	atomic_init(&rw.next, 0);
	atomic_init(&rw.failed, false);
	for (; nth < REWALK_THREADS && nth * 16 < n; nth++)
		if (pthread_create(&th[nth], NULL, rewalk_main, &rw) != 0)
			break;
	rewalk_main(&rw);
	for (i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	r = atomic_load(&rw.failed) ? -EIO : 0;
	for (i = 0; i < n; i++)
		free(sn[i].path);
	free(sn);
	return r;
}

static void *sup_main(void *arg)
{
	struct conn *c = arg;
	struct sup *sp = c->sup;
	int backoff = BACKOFF_MIN_MS;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->recovering && !c->perm_dead && !sp->stop)
			pthread_cond_wait(&c->sup_cv, &c->lock);
		if (c->perm_dead || sp->stop)
			break;
		uint64_t gen = atomic_load(&c->sgen);
		pthread_mutex_unlock(&c->lock);

		session_teardown(c, 0);
		if (!restart_allowed(sp)) {
			if (sp->reconnect)
				fprintf(stderr, "uvfs: 9p %s: connection lost; "
					"%ld attempts to reconnect within %ld "
					"ms: the mount is dead\n", sp->source,
					sp->restarts, sp->window_ms);
			else
				fprintf(stderr, "uvfs: %s %s: the server died "
					"%ld times within %ld ms: the mount is "
					"dead\n", sp->type, sp->source,
					sp->restarts + 1, sp->window_ms);
			conn_kill(c);
			pthread_mutex_lock(&c->lock);
			break;
		}
		struct timespec dl;
		deadline_in(&dl, backoff);
		pthread_mutex_lock(&c->lock);
		while (!c->perm_dead && !sp->stop)
			if (pthread_cond_timedwait(&c->sup_cv, &c->lock,
						   &dl) == ETIMEDOUT)
				break;
		if (c->perm_dead || sp->stop)
			break;
		pthread_mutex_unlock(&c->lock);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
			  backoff * 2;

		/* no session (the address refuses, the binary cannot be
		 * spawned): nothing to lose, try again */
		if (session_start(c) != 0) {
			pthread_mutex_lock(&c->lock);
			continue;
		}
		int r = 0;
		pthread_mutex_lock(&c->lock);
		if (atomic_load(&c->sgen) == gen && !c->perm_dead && !sp->stop)
			atomic_store(&c->dead, false);
		else
			r = -EIO;
		pthread_mutex_unlock(&c->lock);
		if (r == 0)
			r = conn_version(c, true);
		if (sp->reconnect && (r == -EPROTO || r == -EPROTONOSUPPORT)) {
			/* the address answers, but not as the server we
			 * mounted (another version, a smaller msize: the
			 * open fids' I/O sizes depend on it) */
			fprintf(stderr, "uvfs: 9p %s: the server answers "
				"Tversion otherwise than at mount: the mount "
				"is dead\n", sp->source);
			conn_kill(c);
			pthread_mutex_lock(&c->lock);
			break;
		}
		if (r == 0)
			r = reader_start(c);
		if (r == 0)
			r = recover_fids(c, gen);

		pthread_mutex_lock(&c->lock);
		if (r == 0 && atomic_load(&c->sgen) == gen && !c->perm_dead) {
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			sp->last_recovery_ns = (uint64_t)(ts_ns(&now) -
							  ts_ns(&c->lost_at));
			c->recovering = false;
			pthread_cond_broadcast(&c->state_cv);
			backoff = BACKOFF_MIN_MS;
			pthread_mutex_unlock(&c->lock);
			clunk_drain(c);
			/* the new server may see other files than the old one
			 * did: front ends drop their caches */
			uvfs_sb_changed(sp->sb);
			pthread_mutex_lock(&c->lock);
			continue;
		}
		/* this attempt failed: lose its session, try again */
		if (!c->perm_dead && atomic_load(&c->sgen) == gen) {
			pthread_mutex_unlock(&c->lock);
			conn_lost(c, gen);
			pthread_mutex_lock(&c->lock);
		}
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* The server binary: $UVFS_HOSTFS for uvfs-hostfs (uvfsd sets it to the
 * one of its own build tree or installation), else next to the running
 * program, else in PATH. */
static int find_server(const char *name, char *out, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	const char *path = getenv("PATH");
	const char *env = strcmp(name, "uvfs-hostfs") == 0 ?
			  getenv("UVFS_HOSTFS") : NULL;

	if (env && *env && (size_t)snprintf(out, size, "%s", env) < size &&
	    access(out, X_OK) == 0)
		return 0;

	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			if ((size_t)snprintf(out, size, "%s/%s", self,
					     name) < size &&
			    access(out, X_OK) == 0)
				return 0;
		}
	}
	while (path && *path) {
		const char *colon = strchr(path, ':');
		size_t len = colon ? (size_t)(colon - path) : strlen(path);
		if (len && (size_t)snprintf(out, size, "%.*s/%s", (int)len,
					    path, name) < size &&
		    access(out, X_OK) == 0)
			return 0;
		path = colon ? colon + 1 : NULL;
	}
	/* daemons live in sbin, which a user's PATH may lack */
	if ((size_t)snprintf(out, size, "/usr/sbin/%s", name) < size &&
	    access(out, X_OK) == 0)
		return 0;
	return -ENOENT;
}

static void sup_free(struct sup *sp)
{
	if (!sp)
		return;
	free(sp->server);
	free(sp->source);
	free(sp->uname);
	free(sp->aname);
	free(sp->stamps);
	free(sp);
}

static void sup_list_add(struct conn *c)
{
	pthread_mutex_lock(&sup_list_lock);
	for (size_t i = 0; i < sizeof(sup_list) / sizeof(sup_list[0]); i++)
		if (!sup_list[i]) {
			sup_list[i] = c;
			break;
		}
	pthread_mutex_unlock(&sup_list_lock);
}

static void sup_list_del(struct conn *c)
{
	pthread_mutex_lock(&sup_list_lock);
	for (size_t i = 0; i < sizeof(sup_list) / sizeof(sup_list[0]); i++)
		if (sup_list[i] == c)
			sup_list[i] = NULL;
	pthread_mutex_unlock(&sup_list_lock);
}

/* Unmount: the supervisor stops (a recovery in progress is abandoned:
 * the connection is killed), later losses are kills. */
static void sup_stop(struct conn *c)
{
	struct sup *sp = c->sup;
	bool kill_it;

	if (!sp)
		return;
	sup_list_del(c);
	pthread_mutex_lock(&c->lock);
	sp->stop = true;
	c->supervised = false;
	kill_it = c->recovering;
	pthread_cond_broadcast(&c->sup_cv);
	pthread_mutex_unlock(&c->lock);
	if (kill_it)
		conn_kill(c);
	if (sp->started)
		pthread_join(sp->thread, NULL);
	sp->started = false;
}

int uvfs_9p_server_info(struct uvfs *u, const char *target,
			struct uvfs_9p_server_info *out)
{
	struct uvfs_mount_info *mi = NULL;
	size_t n = 0, i;
	int r = uvfs_mount_list(u, &mi, &n);
	char source[256] = "";
	char type[32] = "";

	if (r)
		return r;
	for (i = 0; i < n; i++)
		if (strcmp(mi[i].target, target) == 0 &&
		    (strcmp(mi[i].type, "hostfs") == 0 ||
		     strcmp(mi[i].type, "diod") == 0 ||
		     strcmp(mi[i].type, "9p") == 0)) {
			snprintf(source, sizeof(source), "%s", mi[i].source);
			snprintf(type, sizeof(type), "%s", mi[i].type);
		}
	free(mi);
	if (!source[0])
		return -ENOENT;
	r = -ENOENT;
	pthread_mutex_lock(&sup_list_lock);
	for (i = sizeof(sup_list) / sizeof(sup_list[0]); i-- > 0;) {
		struct conn *c = sup_list[i];
		if (!c || strcmp(c->sup->type, type) != 0 ||
		    strcmp(c->sup->source, source) != 0)
			continue;
		pthread_mutex_lock(&c->lock);
		memset(out, 0, sizeof(*out));
		out->pid = c->sup->pid;
		out->recovering = c->recovering;
		out->dead = c->perm_dead;
		out->connected = !atomic_load(&c->dead) && !c->recovering;
		out->restarts = c->sup->nrestarts ? c->sup->nrestarts - 1 : 0;
		out->losses = c->losses;
		out->replays = c->replays;
		out->stale_fids = c->sup->stale_fids;
		out->last_recovery_ns = c->sup->last_recovery_ns;
		pthread_mutex_unlock(&c->lock);
		r = 0;
		break;
	}
	pthread_mutex_unlock(&sup_list_lock);
	return r;
}

pid_t uvfs_9p_server_pid(struct uvfs *u, const char *target)
{
	struct uvfs_9p_server_info si;
	int r = uvfs_9p_server_info(u, target, &si);

	return r ? r : si.pid;
}

static void p9_free(struct p9sb *s)
{
	int ms = s->c.timeout_ms < 1000 ? s->c.timeout_ms : 1000;
	struct handle *h, *hn;
	struct timespec dl;

	sup_stop(&s->c);
	/* queue every clunk, then send what goes out within one short
	 * deadline: a hung server delays unmount by at most 2 x ms */
	pthread_mutex_lock(&s->c.lock);
	s->c.closing = true;
	pthread_cond_broadcast(&s->c.rd_cv);   /* the reader: no more rest */
	pthread_mutex_unlock(&s->c.lock);
	for (h = s->handles.next; h != &s->handles; h = hn) {
		hn = h->next;
		fid_put(s, h->fid);
		free(h);
	}
	for (unsigned b = 0; b < NBUCKETS; b++) {
		struct node *n, *nn;
		for (n = s->hash[b]; n; n = nn) {
			nn = n->hnext;
			node_free(s, n);
		}
	}
	deadline_in(&dl, ms);
	clunk_drain_by(&s->c, &dl);
	if (s->c.sup) {
		/* the server exits at EOF; a hung one is killed after ms */
		conn_fini_wait(&s->c, ms);
		session_teardown(&s->c, ms);
	}
	conn_fini(&s->c, ms);
	sup_free(s->c.sup);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int mount_common(struct uvfs_sb *sb, const char *source,
			const char *options, uint64_t *root_ino,
			enum server_kind kind)
{
	bool hostfs = kind != SERVER_NONE;      /* we start the server */
	bool reconnect;         /* 9p over an address: we connect again */
	struct p9_msg m = { .type = P9_TATTACH };
	struct opts o = { 0 };
	struct reply rp;
	struct p9sb *s;
	struct stat st;
	int r;

	r = parse_opts(options, &o, kind);
	if (r)
		return r;
	if (!source)
		return -EINVAL;
	reconnect = !hostfs && !o.noreconnect && source_is_address(source);
	if (hostfs) {
		/* the export: an absolute host directory */
		if (source[0] != '/')
			return -EINVAL;
		if (stat(source, &st) < 0)
			return -errno;
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR;
		if (!o.has_server &&
		    find_server(kind == SERVER_DIOD ? "diod" : "uvfs-hostfs",
				o.server, sizeof(o.server)) != 0)
			return -ENOENT;
		if (kind == SERVER_DIOD)        /* diod attaches by export */
			snprintf(o.aname, sizeof(o.aname), "%s", source);
		if (access(o.server, X_OK) != 0)
			return -errno;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->lru.lnext = s->lru.lprev = &s->lru;
	s->handles.next = s->handles.prev = &s->handles;
	s->c.msize = (uint32_t)o.msize;
	s->c.timeout_ms = (int)o.timeout;
	s->c.serial = o.serial;
	s->c.fd_r = s->c.fd_w = -1;
	r = conn_init(&s->c);
	if (r) {
		pthread_mutex_destroy(&s->lock);
		free(s);
		return r;
	}
	if (hostfs || reconnect) {
		struct sup *sp = calloc(1, sizeof(*sp));
		s->c.sup = sp;
		/* from the first Tattach on: fid 0's path is where every
		 * other path starts */
		s->c.track = true;
		s->c.proto_fatal = reconnect;
		if (sp) {
			sp->sb = sb;
			sp->type = kind == SERVER_DIOD ? "diod" :
				   hostfs ? "hostfs" : "9p";
			sp->server = hostfs ? strdup(o.server) : NULL;
			sp->source = strdup(source);
			sp->diod = kind == SERVER_DIOD;
			sp->reconnect = reconnect;
			sp->restarts = o.restarts;
			sp->window_ms = o.window;
			sp->stamps = calloc((size_t)o.restarts + 1,
					    sizeof(*sp->stamps));
		}
		if (!sp || (hostfs && !sp->server) || !sp->source ||
		    !sp->stamps)
			r = -ENOMEM;
		else if (hostfs)
			r = spawn_server(&s->c);
		else if ((r = conn_open(&s->c, source)) == 0)
			sp->nrestarts = 1;      /* the first session */
	} else {
		r = conn_open(&s->c, source);
	}
	if (!r)
		r = conn_version(&s->c, false);
	if (!r)
		r = reader_start(&s->c);
	if (r)
		goto fail;

	/* attach: as uname (default: the effective user) */
	s->uid = geteuid();
	if (o.has_uname) {
		struct passwd pw, *pwp = NULL;
		char pbuf[4096];
		if (getpwnam_r(o.uname, &pw, pbuf, sizeof(pbuf), &pwp) == 0 &&
		    pwp)
			s->uid = pw.pw_uid;
		else
			s->uid = (uid_t)P9_NONUNAME; /* the server maps it */
	} else {
		struct passwd pw, *pwp = NULL;
		char pbuf[4096];
		if (getpwuid_r(s->uid, &pw, pbuf, sizeof(pbuf), &pwp) == 0 &&
		    pwp)
			snprintf(o.uname, sizeof(o.uname), "%s", pw.pw_name);
	}
	if (s->c.sup) {
		s->c.sup->uname = strdup(o.uname);
		s->c.sup->aname = strdup(o.aname);
		s->c.sup->n_uname = (uint32_t)s->uid;
		if (!s->c.sup->uname || !s->c.sup->aname) {
			r = -ENOMEM;
			goto fail;
		}
	}
	m.tattach.fid = 0;
	m.tattach.afid = P9_NOFID;
	m.tattach.uname = p9_str(o.uname);
	m.tattach.aname = p9_str(o.aname);
	m.tattach.n_uname = (uint32_t)s->uid;
	r = rpc(&s->c, &m, P9_RATTACH, &rp, CL_NONE, 0);
	if (r)
		goto fail;
	uint64_t ino = rp.m.rattach.qid.path;
	s->c.root_qid = rp.m.rattach.qid;
	reply_free(&rp);
	r = node_install(s, ino, 0, false, 0, NULL, 0);
	if (r)
		goto fail;
	pthread_mutex_lock(&s->lock);
	s->root = node_find_locked(s, ino);
	lru_del_locked(s, s->root);
	s->root->refs = 1;      /* the mount's, for good */
	atomic_store(&s->root->type, S_IFDIR);
	pthread_mutex_unlock(&s->lock);
	if (s->c.sup) {
		r = -pthread_create(&s->c.sup->thread, NULL, sup_main, &s->c);
		if (r)
			goto fail;
		s->c.sup->started = true;
		pthread_mutex_lock(&s->c.lock);
		s->c.supervised = true;
		pthread_mutex_unlock(&s->c.lock);
		sup_list_add(&s->c);
	}
	uvfs_sb_set_private(sb, s);
	*root_ino = ino;
	return 0;
fail:
	p9_free(s);
	return r;
}

static int p9_mount(struct uvfs_sb *sb, const char *source,
		    const char *options, uint64_t *root_ino)
{
	return mount_common(sb, source, options, root_ino, SERVER_NONE);
}

static int hostfs_mount(struct uvfs_sb *sb, const char *source,
			const char *options, uint64_t *root_ino)
{
	return mount_common(sb, source, options, root_ino, SERVER_HOSTFS);
}

static int diod_mount(struct uvfs_sb *sb, const char *source,
		      const char *options, uint64_t *root_ino)
{
	return mount_common(sb, source, options, root_ino, SERVER_DIOD);
}

static void p9_unmount(struct uvfs_sb *sb)
{
	struct p9sb *s = S(sb);

	if (s)
		p9_free(s);
	uvfs_sb_set_private(sb, NULL);
}

static void p9_cancel(struct uvfs_sb *sb)
{
	struct p9sb *s = S(sb);

	if (!s)
		return;
	conn_kill(&s->c);
	if (s->c.sup) {
		/* the mount is dead: its server goes now (reaped at unmount;
		 * SIGKILL works on a stopped process too) */
		pthread_mutex_lock(&s->c.lock);
		if (s->c.sup->pid > 0)
			kill(s->c.sup->pid, SIGKILL);
		pthread_mutex_unlock(&s->c.lock);
	}
}

static int p9_statfs(struct uvfs_sb *sb, struct statvfs *st)
{
	struct p9sb *s = S(sb);
	struct p9_msg m = { .type = P9_TSTATFS };
	struct fid *f = node_fid(s, s->root);
	struct reply rp;
	int r;

	m.tstatfs.fid = f->num;
	r = rpc(&s->c, &m, P9_RSTATFS, &rp, CL_NONE, 0);
	fid_put(s, f);
	if (r)
		return r;
	memset(st, 0, sizeof(*st));
	st->f_bsize = st->f_frsize = rp.m.rstatfs.bsize;
	st->f_blocks = rp.m.rstatfs.blocks;
	st->f_bfree = rp.m.rstatfs.bfree;
	st->f_bavail = rp.m.rstatfs.bavail;
	st->f_files = rp.m.rstatfs.files;
	st->f_ffree = st->f_favail = rp.m.rstatfs.ffree;
	st->f_namemax = rp.m.rstatfs.namelen;
	reply_free(&rp);
	return 0;
}

static int p9_vget(struct uvfs_sb *sb, uint64_t ino, void **priv)
{
	struct p9sb *s = S(sb);
	struct node *n;

	pthread_mutex_lock(&s->lock);
	n = node_find_locked(s, ino);
	if (n) {
		lru_del_locked(s, n);
		n->refs++;
	}
	pthread_mutex_unlock(&s->lock);
	if (!n)
		return -ESTALE; /* not walked to (or evicted long ago) */
	*priv = n;
	return 0;
}

static void p9_reclaim(struct uvfs_sb *sb, void *priv)
{
	struct p9sb *s = S(sb);
	struct node *n = priv, *evict = NULL;

	pthread_mutex_lock(&s->lock);
	if (--n->refs == 0) {
		n->lnext = s->lru.lnext;
		n->lprev = &s->lru;
		n->lnext->lprev = n;
		s->lru.lnext = n;
		if (++s->nlru > LRU_MAX) {
			evict = s->lru.lprev;
			lru_del_locked(s, evict);
			hash_del_locked(s, evict);
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (evict)
		node_free(s, evict);
}

static void fill_stat(const struct node *n, const struct p9_rgetattr *g,
		      struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_mode = g->mode;
	st->st_nlink = g->nlink;
	st->st_uid = g->uid;
	st->st_gid = g->gid;
	st->st_rdev = g->rdev;
	st->st_size = (off_t)g->size;
	st->st_blksize = (blksize_t)g->blksize;
	st->st_blocks = (blkcnt_t)g->blocks;
	st->st_atim.tv_sec = (time_t)g->atime_sec;
	st->st_atim.tv_nsec = (long)g->atime_nsec;
	st->st_mtim.tv_sec = (time_t)g->mtime_sec;
	st->st_mtim.tv_nsec = (long)g->mtime_nsec;
	st->st_ctim.tv_sec = (time_t)g->ctime_sec;
	st->st_ctim.tv_nsec = (long)g->ctime_nsec;
}

static int getattr_once(struct uvfs_sb *sb, void *priv, struct stat *st)
{
	struct p9sb *s = S(sb);
	struct node *n = priv;
	struct fid *f = node_attr_fid(s, n);
	struct p9_rgetattr ga = { 0 };
	int r = getattr_fid(s, f->num, &ga);

	fid_put(s, f);
	if (r)
		return r;
	fill_stat(n, &ga, st);
	atomic_store(&n->type, ga.mode & S_IFMT);
	return 0;
}

static int setattr_fid(struct p9sb *s, uint32_t fid,
		       const struct uvfs_setattr *sa)
{
	struct p9_msg m = { .type = P9_TSETATTR };
	struct p9_tsetattr *t = &m.tsetattr;
	struct reply rp;
	int r;

	t->fid = fid;
	if (sa->valid & UVFS_SET_MODE) {
		t->valid |= P9_SETATTR_MODE;
		t->mode = sa->mode & 07777;
	}
	if (sa->valid & UVFS_SET_UID) {
		t->valid |= P9_SETATTR_UID;
		t->uid = sa->uid;
	}
	if (sa->valid & UVFS_SET_GID) {
		t->valid |= P9_SETATTR_GID;
		t->gid = sa->gid;
	}
	if (sa->valid & UVFS_SET_SIZE) {
		if (sa->size < 0)
			return -EINVAL;
		t->valid |= P9_SETATTR_SIZE;
		t->size = (uint64_t)sa->size;
	}
	if ((sa->valid & UVFS_SET_ATIME) && sa->atime.tv_nsec != UTIME_OMIT) {
		t->valid |= P9_SETATTR_ATIME;
		if (sa->atime.tv_nsec != UTIME_NOW) {
			t->valid |= P9_SETATTR_ATIME_SET;
			t->atime_sec = (uint64_t)sa->atime.tv_sec;
			t->atime_nsec = (uint64_t)sa->atime.tv_nsec;
		}
	}
	if ((sa->valid & UVFS_SET_MTIME) && sa->mtime.tv_nsec != UTIME_OMIT) {
		t->valid |= P9_SETATTR_MTIME;
		if (sa->mtime.tv_nsec != UTIME_NOW) {
			t->valid |= P9_SETATTR_MTIME_SET;
			t->mtime_sec = (uint64_t)sa->mtime.tv_sec;
			t->mtime_nsec = (uint64_t)sa->mtime.tv_nsec;
		}
	}
	if (t->valid == 0)
		return 0;
	r = rpc(&s->c, &m, P9_RSETATTR, &rp, CL_NONE, 0);
	if (r == 0)
		reply_free(&rp);
	return r;
}

static int setattr_once(struct uvfs_sb *sb, void *priv,
		      const struct uvfs_setattr *sa)
{
	struct p9sb *s = S(sb);
	struct fid *f = node_fid(s, priv);
	int r = setattr_fid(s, f->num, sa);

	fid_put(s, f);
	return r;
}

static int p9_lookup(struct uvfs_sb *sb, void *dir, const char *name,
		     uint64_t *ino)
{
	struct p9sb *s = S(sb);
	struct node *d = dir;
	struct p9_qid qid;
	uint32_t nf;
	int r;

	if (d == s->root && strcmp(name, "..") == 0) {
		*ino = d->ino;
		return 0;
	}
	bool retried = false;
again:;
	uint64_t gen = sb_gen(s);
	struct fid *f = node_fid(s, d);
	r = walk(s, f->num, name, &nf, &qid);
	fid_put(s, f);
	if (r && !retried && stale_retry(s, d, r)) {
		retried = true;
		goto again;
	}
	if (r)
		return r;
	/* a fid walked through ".." names a path that a rename of the
	 * child can invalidate (diod): keep the node's own */
	if (strcmp(name, "..") == 0)
		r = node_install(s, qid.path, nf, false, 0, NULL, 0);
	else
		r = node_install(s, qid.path, nf, true, d->ino, name, gen);
	if (r)
		return r;
	*ino = qid.path;
	return 0;
}

/* Walks dir/name into the table after a create or a rename. */
static int install_name(struct p9sb *s, struct node *dir, uint32_t dirfid,
			const char *name, uint64_t *ino, uint32_t *fidout)
{
	struct p9_qid qid;
	uint32_t nf;
	uint64_t gen = sb_gen(s);
	int r = walk(s, dirfid, name, &nf, &qid);

	if (r)
		return r;
	*fidout = nf;
	r = node_install(s, qid.path, nf, true, dir->ino, name, gen);
	if (r)
		return r;
	*ino = qid.path;
	return 0;
}

static int create_once(struct uvfs_sb *sb, void *dir, const char *name,
		       mode_t mode, dev_t rdev, const char *target,
		     const struct uvfs_cred *cred, uint64_t *ino)
{
	struct p9sb *s = S(sb);
	struct fid *df = node_fid(s, dir);
	struct p9_msg m = { 0 };
	struct reply rp;
	uint32_t gid = cred ? cred->gid : 0, newfid, cf;
	uint8_t rtype;
	int r;

	if (strlen(name) > 65535 || (target && strlen(target) > 65535)) {
		r = -ENAMETOOLONG;
		goto out;
	}
	switch (mode & S_IFMT) {
	case S_IFREG:
		/* Tlcreate turns the fid into the open new file: clone the
		 * directory's first, then walk to the file for a plain fid */
		r = walk(s, df->num, NULL, &cf, NULL);
		if (r)
			goto out;
		m.type = P9_TLCREATE;
		m.tlcreate.fid = cf;
		m.tlcreate.name = p9_str(name);
		m.tlcreate.flags = 0100 | 0200; /* O_RDONLY|O_CREAT|O_EXCL */
		m.tlcreate.mode = mode & 07777;
		m.tlcreate.gid = gid;
		r = rpc(&s->c, &m, P9_RLCREATE, &rp, CL_CLUNK, cf);
		if (r)
			goto out;
		reply_free(&rp);
		clunk_async(&s->c, cf);
		goto created;
	case S_IFDIR:
		m.type = P9_TMKDIR;
		m.tmkdir.dfid = df->num;
		m.tmkdir.name = p9_str(name);
		m.tmkdir.mode = mode & 07777;
		m.tmkdir.gid = gid;
		rtype = P9_RMKDIR;
		break;
	case S_IFLNK:
		if (!target) {
			r = -EINVAL;
			goto out;
		}
		m.type = P9_TSYMLINK;
		m.tsymlink.fid = df->num;
		m.tsymlink.name = p9_str(name);
		m.tsymlink.symtgt = p9_str(target);
		m.tsymlink.gid = gid;
		rtype = P9_RSYMLINK;
		break;
	case S_IFCHR: case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		m.type = P9_TMKNOD;
		m.tmknod.dfid = df->num;
		m.tmknod.name = p9_str(name);
		m.tmknod.mode = mode & (S_IFMT | 07777);
		m.tmknod.major = major(rdev);
		m.tmknod.minor = minor(rdev);
		m.tmknod.gid = gid;
		rtype = P9_RMKNOD;
		break;
	default:
		r = -EINVAL;
		goto out;
	}
	r = rpc(&s->c, &m, rtype, &rp, CL_NONE, 0);
	if (r)
		goto out;
	reply_free(&rp);
created:
	r = install_name(s, dir, df->num, name, ino, &newfid);
	if (r == 0 && cred && s->uid == 0 && cred->uid != 0) {
		/* attached as root: give the file to the caller */
		struct uvfs_setattr sa = { .valid = UVFS_SET_UID |
					   UVFS_SET_GID, .uid = cred->uid,
					   .gid = cred->gid };
		struct p9_rgetattr ga = { 0 };
		struct fid *nf;
		struct node *n;

		pthread_mutex_lock(&s->lock);
		n = node_find_locked(s, *ino);
		nf = n ? n->fid : NULL;
		if (nf)
			atomic_fetch_add(&nf->refs, 1);
		pthread_mutex_unlock(&s->lock);
		if (nf) {
			/* keep the group the server chose (setgid dirs) */
			if (getattr_fid(s, nf->num, &ga) == 0)
				sa.gid = ga.gid;
			setattr_fid(s, nf->num, &sa);
			if (S_ISREG(mode) && (mode & 06000)) {
				sa.valid = UVFS_SET_MODE;
				sa.mode = mode & 07777;
				setattr_fid(s, nf->num, &sa);
			}
			fid_put(s, nf);
		}
	}
out:
	fid_put(s, df);
	return r;
}

static int link_once(struct uvfs_sb *sb, void *dir, const char *name,
		     void *priv)
{
	struct p9sb *s = S(sb);
	struct fid *df = node_fid(s, dir), *f = node_fid(s, priv);
	struct p9_msg m = { .type = P9_TLINK };
	struct reply rp;
	int r;

	m.tlink.dfid = df->num;
	m.tlink.fid = f->num;
	m.tlink.name = p9_str(name);
	r = rpc(&s->c, &m, P9_RLINK, &rp, CL_NONE, 0);
	if (r == 0)
		reply_free(&rp);
	fid_put(s, f);
	fid_put(s, df);
	return r;
}

/* Tremove of dir/name, for servers without Tunlinkat (diod 1.0): checks
 * the type first, as unlinkat(2) would. */
static int remove_name(struct p9sb *s, uint32_t dirfid, const char *name,
		       int isdir)
{
	struct p9_msg m = { .type = P9_TREMOVE };
	struct p9_rgetattr ga = { 0 };
	struct reply rp;
	uint32_t f;
	int r;

	r = walk(s, dirfid, name, &f, NULL);
	if (r)
		return r;
	r = getattr_fid(s, f, &ga);
	if (r == 0 && isdir && !S_ISDIR(ga.mode))
		r = -ENOTDIR;
	else if (r == 0 && !isdir && S_ISDIR(ga.mode))
		r = -EISDIR;
	if (r) {
		clunk_async(&s->c, f);
		return r;
	}
	/* Tremove clunks the fid whatever the outcome */
	m.tremove.fid = f;
	r = rpc(&s->c, &m, P9_RREMOVE, &rp, CL_NONE, 0);
	if (r == 0)
		reply_free(&rp);
	if (r != -ETIMEDOUT && r != -EIO)
		fid_free(&s->c, f);
	return r;
}

static int unlink_once(struct uvfs_sb *sb, void *dir, const char *name,
		       int isdir)
{
	struct p9sb *s = S(sb);
	struct fid *df = node_fid(s, dir);
	struct p9_msg m = { .type = P9_TUNLINKAT };
	struct reply rp;
	int r = -EOPNOTSUPP;

	if (!atomic_load(&s->no_unlinkat)) {
		m.tunlinkat.dirfid = df->num;
		m.tunlinkat.name = p9_str(name);
		m.tunlinkat.flags = isdir ? 0x200 /* AT_REMOVEDIR */ : 0;
		r = rpc(&s->c, &m, P9_RUNLINKAT, &rp, CL_NONE, 0);
		if (r == 0)
			reply_free(&rp);
		if (r == -EOPNOTSUPP || r == -ENOSYS)
			atomic_store(&s->no_unlinkat, true);
	}
	if (r == -EOPNOTSUPP || r == -ENOSYS)
		r = remove_name(s, df->num, name, isdir);
	fid_put(s, df);
	return r;
}

static int rename_once(struct uvfs_sb *sb, void *odir, const char *oname,
		       void *ndir, const char *nname, unsigned flags)
{
	struct p9sb *s = S(sb);
	struct fid *of, *nf;
	struct p9_msg m = { .type = P9_TRENAMEAT };
	struct reply rp;
	int r;

	if (flags & ~1u)        /* RENAME_EXCHANGE: not in 9P2000.L */
		return -EINVAL;
	of = node_fid(s, odir);
	nf = node_fid(s, ndir);
	if (flags & 1u) {       /* RENAME_NOREPLACE: checked, not atomic */
		uint32_t tf;
		r = walk(s, nf->num, nname, &tf, NULL);
		if (r == 0) {
			clunk_async(&s->c, tf);
			r = -EEXIST;
		} else if (r == -ENOENT) {
			r = 0;
		}
		if (r)
			goto out;
	}
	r = -EOPNOTSUPP;
	if (!atomic_load(&s->no_renameat)) {
		m.trenameat.olddirfid = of->num;
		m.trenameat.oldname = p9_str(oname);
		m.trenameat.newdirfid = nf->num;
		m.trenameat.newname = p9_str(nname);
		r = rpc(&s->c, &m, P9_RRENAMEAT, &rp, CL_NONE, 0);
		if (r == 0)
			reply_free(&rp);
		if (r == -EOPNOTSUPP || r == -ENOSYS)
			atomic_store(&s->no_renameat, true);
	}
	if (r == -EOPNOTSUPP || r == -ENOSYS) {
		/* Trename: walk to the file, move it */
		uint32_t f;
		r = walk(s, of->num, oname, &f, NULL);
		if (r)
			goto out;
		m = (struct p9_msg){ .type = P9_TRENAME };
		m.trename.fid = f;
		m.trename.dfid = nf->num;
		m.trename.name = p9_str(nname);
		r = rpc(&s->c, &m, P9_RRENAME, &rp, CL_NONE, 0);
		if (r == 0)
			reply_free(&rp);
		clunk_async(&s->c, f);
	}
out:
	fid_put(s, nf);
	fid_put(s, of);
	return r;
}

static ssize_t readlink_once(struct uvfs_sb *sb, void *priv, char *buf,
			     size_t size)
{
	struct p9sb *s = S(sb);
	struct fid *f = node_fid(s, priv);
	struct p9_msg m = { .type = P9_TREADLINK };
	struct reply rp;
	int r;

	m.treadlink.fid = f->num;
	r = rpc(&s->c, &m, P9_RREADLINK, &rp, CL_NONE, 0);
	fid_put(s, f);
	if (r)
		return r;
	size_t n = rp.m.rreadlink.target.len;
	if (n > size)
		n = size;
	memcpy(buf, rp.m.rreadlink.target.s, n);
	reply_free(&rp);
	return (ssize_t)n;
}

static int p9_open(struct uvfs_sb *sb, void *priv, int flags, void **fh)
{
	struct p9sb *s = S(sb);
	struct node *n = priv;
	unsigned type = atomic_load(&n->type);
	struct handle *h;
	int r;

	/* Only regular files and directories have I/O through the driver:
	 * opening a FIFO or a device on the server could block it. */
	if (type != S_IFREG && type != S_IFDIR) {
		*fh = NULL;
		return 0;
	}
	if (type == S_IFDIR)
		flags = O_RDONLY;
	else
		flags &= O_ACCMODE | O_APPEND | O_DSYNC | O_SYNC | O_DIRECT |
			 O_NOATIME;
	uint32_t of;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	r = open_fid(s, n, flags, &of, &h->iounit);
	if (r) {
		free(h);
		return r;
	}
	h->fid = fid_new(of);
	if (!h->fid) {
		clunk_async(&s->c, of);
		free(h);
		return -ENOMEM;
	}
	h->node = n;
	h->append = (flags & O_APPEND) != 0;
	pthread_mutex_lock(&s->lock);
	n->nopen++;
	h->next = s->handles.next;
	h->prev = &s->handles;
	h->next->prev = h;
	s->handles.next = h;
	pthread_mutex_unlock(&s->lock);
	*fh = h;
	return 0;
}

static void p9_release(struct uvfs_sb *sb, void *priv, void *fh)
{
	struct p9sb *s = S(sb);
	struct handle *h = fh;

	(void)priv;
	if (!h)
		return;
	pthread_mutex_lock(&s->lock);
	h->prev->next = h->next;
	h->next->prev = h->prev;
	h->node->nopen--;
	pthread_mutex_unlock(&s->lock);
	fid_put(s, h->fid);
	free(h);
}

/* The open fid for an I/O: fh's, or a temporary one (fh NULL: node API). */
static int io_fid(struct p9sb *s, struct node *n, struct handle *h,
		  int flags, uint32_t *fid, uint32_t *iounit, bool *tmp)
{
	if (h) {
		*fid = h->fid->num;     /* the core holds fh across the call */
		*iounit = h->iounit;
		*tmp = false;
		return 0;
	}
	*tmp = true;
	return open_fid(s, n, flags, fid, iounit);
}

static ssize_t p9_read(struct uvfs_sb *sb, void *priv, void *fh, void *buf,
		       size_t n, off_t off)
{
	struct p9sb *s = S(sb);
	uint32_t fid, iounit;
	size_t done = 0;
	bool tmp;
	int r;

	if (off < 0)
		return -EINVAL;
	r = io_fid(s, priv, fh, O_RDONLY, &fid, &iounit, &tmp);
	if (r)
		return r;
	uint32_t max = io_max(s, iounit);
	while (done < n) {
		struct p9_msg m = { .type = P9_TREAD };
		struct reply rp;
		uint32_t want = n - done > max ? max : (uint32_t)(n - done);

		m.tread.fid = fid;
		m.tread.offset = (uint64_t)off + done;
		m.tread.count = want;
		r = rpc(&s->c, &m, P9_RREAD, &rp, CL_NONE, 0);
		if (r)
			break;
		uint32_t got = rp.m.rread.count;
		if (got > want) {
			reply_free(&rp);
			r = -EIO;
			break;
		}
		memcpy((char *)buf + done, rp.m.rread.data, got);
		reply_free(&rp);
		done += got;
		if (got < want)
			break;
	}
	if (tmp)
		clunk_async(&s->c, fid);
	return done > 0 ? (ssize_t)done : r;
}

static ssize_t p9_write(struct uvfs_sb *sb, void *priv, void *fh,
			const void *buf, size_t n, off_t *off)
{
	struct p9sb *s = S(sb);
	bool append = *off < 0;
	uint32_t fid, iounit;
	size_t done = 0;
	uint64_t pos;
	bool tmp;
	int r;

	r = io_fid(s, priv, fh, append ? O_WRONLY | O_APPEND : O_WRONLY,
		   &fid, &iounit, &tmp);
	if (r)
		return r;
	/* append: the handle was opened O_APPEND, the server appends and
	 * ignores the offset; the size afterwards says where it ended */
	pos = append ? 0 : (uint64_t)*off;
	uint32_t max = io_max(s, iounit);
	while (done < n) {
		struct p9_msg m = { .type = P9_TWRITE };
		struct reply rp;
		uint32_t want = n - done > max ? max : (uint32_t)(n - done);

		m.twrite.fid = fid;
		m.twrite.offset = pos + done;
		m.twrite.count = want;
		m.twrite.data = (const char *)buf + done;
		/* an append is not replayed: it may have happened */
		r = rpc_x(&s->c, &m, P9_RWRITE, &rp, CL_NONE, 0,
			  append || (fh && ((struct handle *)fh)->append) ?
			  RPC_NOREPLAY : 0);
		if (r)
			break;
		uint32_t got = rp.m.rwrite.count;
		reply_free(&rp);
		if (got > want) {
			r = -EIO;
			break;
		}
		done += got;
		if (got < want)
			break;
	}
	if (done > 0 || r == 0) {
		if (append) {
			struct p9_rgetattr ga = { 0 };
			int e = getattr_fid(s, fid, &ga);
			if (e == 0)
				*off = (off_t)ga.size;
			else if (done == 0)
				r = e;
			else
				*off = 0;       /* unknown: best effort */
		} else {
			*off += (off_t)done;
		}
	}
	if (tmp)
		clunk_async(&s->c, fid);
	return done > 0 ? (ssize_t)done : r;
}

static int p9_fsync(struct uvfs_sb *sb, void *priv, void *fh, int datasync)
{
	struct p9sb *s = S(sb);
	struct node *n = priv;
	struct p9_msg m = { .type = P9_TFSYNC };
	struct reply rp;
	uint32_t fid, iounit;
	bool tmp;
	int r;

	if (!fh && atomic_load(&n->type) != S_IFREG &&
	    atomic_load(&n->type) != S_IFDIR)
		return 0;
	r = io_fid(s, n, fh, O_RDONLY, &fid, &iounit, &tmp);
	if (r)
		return r;
	m.tfsync.fid = fid;
	m.tfsync.datasync = datasync ? 1 : 0;
	r = rpc(&s->c, &m, P9_RFSYNC, &rp, CL_NONE, 0);
	if (r == 0)
		reply_free(&rp);
	if (tmp)
		clunk_async(&s->c, fid);
	return r;
}

static int p9_readdir(struct uvfs_sb *sb, void *priv, void *fh,
		      uint64_t cookie, uvfs_filldir_t fill, void *arg)
{
	struct p9sb *s = S(sb);
	uint32_t fid, iounit;
	char name[NAME_MAX + 1];
	bool tmp, stop = false;
	int r;

	r = io_fid(s, priv, fh, O_RDONLY | O_DIRECTORY, &fid, &iounit, &tmp);
	if (r)
		return r;
	while (!stop) {
		struct p9_msg m = { .type = P9_TREADDIR };
		struct p9_dirent_iter it;
		struct p9_dirent d;
		struct reply rp;
		int k, any = 0;

		m.treaddir.fid = fid;
		m.treaddir.offset = cookie;
		m.treaddir.count = s->c.msize - P9_IOHDRSZ; /* diod's bound */
		r = rpc(&s->c, &m, P9_RREADDIR, &rp, CL_NONE, 0);
		if (r)
			break;
		p9_dirent_iter_init(&it, rp.m.rreaddir.data,
				    rp.m.rreaddir.count);
		while ((k = p9_dirent_next(&it, &d)) == 1) {
			any = 1;
			if (d.name.len > NAME_MAX) {
				cookie = d.offset;      /* cannot be named */
				continue;
			}
			memcpy(name, d.name.s, d.name.len);
			name[d.name.len] = '\0';
			if (fill(arg, name, d.qid.path, d.type, d.offset)) {
				stop = true;
				break;
			}
			cookie = d.offset;
		}
		reply_free(&rp);
		if (k < 0) {
			r = -EIO;
			break;
		}
		if (!any)
			break;          /* the end */
		if (!stop && cookie == m.treaddir.offset) {
			r = -EIO;       /* no progress: a broken server */
			break;
		}
	}
	if (tmp)
		clunk_async(&s->c, fid);
	return r;
}

/* ---- retried once when a rename made a path-named fid stale ---------- */

static int p9_getattr(struct uvfs_sb *sb, void *priv, struct stat *st)
{
	int r = getattr_once(sb, priv, st);

	if (r && stale_retry(S(sb), priv, r))
		r = getattr_once(sb, priv, st);
	return r;
}

static int p9_setattr(struct uvfs_sb *sb, void *priv,
		      const struct uvfs_setattr *sa)
{
	int r = setattr_once(sb, priv, sa);

	if (r && stale_retry(S(sb), priv, r))
		r = setattr_once(sb, priv, sa);
	return r;
}

static ssize_t p9_readlink(struct uvfs_sb *sb, void *priv, char *buf,
			   size_t size)
{
	ssize_t r = readlink_once(sb, priv, buf, size);

	if (r < 0 && stale_retry(S(sb), priv, (int)r))
		r = readlink_once(sb, priv, buf, size);
	return r;
}

static int p9_create(struct uvfs_sb *sb, void *dir, const char *name,
		     mode_t mode, dev_t rdev, const char *target,
		     const struct uvfs_cred *cred, uint64_t *ino)
{
	int r = create_once(sb, dir, name, mode, rdev, target, cred, ino);

	if (r && stale_retry(S(sb), dir, r))
		r = create_once(sb, dir, name, mode, rdev, target, cred, ino);
	return r;
}

static int p9_link(struct uvfs_sb *sb, void *dir, const char *name,
		   void *priv)
{
	int r = link_once(sb, dir, name, priv);

	if (r) {
		bool a = stale_retry(S(sb), dir, r);
		bool b = stale_retry(S(sb), priv, r);
		if (a || b)
			r = link_once(sb, dir, name, priv);
	}
	return r;
}

static int p9_unlink(struct uvfs_sb *sb, void *dir, const char *name,
		     int isdir)
{
	int r = unlink_once(sb, dir, name, isdir);

	if (r && stale_retry(S(sb), dir, r))
		r = unlink_once(sb, dir, name, isdir);
	return r;
}

static int p9_rename(struct uvfs_sb *sb, void *odir, const char *oname,
		     void *ndir, const char *nname, unsigned flags)
{
	struct p9sb *s = S(sb);
	int r = rename_once(sb, odir, oname, ndir, nname, flags);

	if (r) {
		bool a = stale_retry(s, odir, r);
		bool b = stale_retry(s, ndir, r);
		if (a || b)
			r = rename_once(sb, odir, oname, ndir, nname, flags);
	}
	if (r == 0) {
		/* fids walked below the old name may be stale now (diod);
		 * the moved file gets a fid by its new name */
		struct fid *nf = node_fid(s, ndir);
		uint64_t ino;
		uint32_t fid;

		pthread_mutex_lock(&s->lock);
		s->gen++;
		pthread_mutex_unlock(&s->lock);
		install_name(s, ndir, nf->num, nname, &ino, &fid);
		fid_put(s, nf);
	}
	return r;
}

/* ---- extended attributes (docs/9p-client.md) -------------------------
 * get/list: Txattrwalk(node fid -> new fid, name or "") gives the size;
 * Tread the copy the server took from 0; Tclunk (async).  Read only: if
 * the server was restarted meanwhile (the new one never had the xattr
 * fid: its Tread answers EBADF), the whole sequence runs again.
 * set/remove: Twalk (clone), Txattrcreate(clone, name, size, flags),
 * Twrite the value, Tclunk, which commits: its Rlerror is the answer.
 * Not replayed: after a restart under them they fail with EIO. */

#define XATTR_TRIES 3   /* get/list: runs of the sequence */

static uint64_t conn_sgen(struct conn *c)
{
	return atomic_load(&c->sgen);
}

static ssize_t xattr_get_once(struct p9sb *s, struct node *n,
			      const char *name, void *buf, size_t size)
{
	struct p9_msg m = { .type = P9_TXATTRWALK };
	struct fid *f;
	struct reply rp;
	uint64_t len, done = 0;
	uint32_t xf;
	int r;

	r = fid_alloc(&s->c, &xf);
	if (r)
		return r;
	f = node_fid(s, n);
	m.txattrwalk.fid = f->num;
	m.txattrwalk.newfid = xf;
	m.txattrwalk.name = p9_str(name);
	r = rpc(&s->c, &m, P9_RXATTRWALK, &rp, CL_WALK, xf);
	fid_put(s, f);
	if (r)
		return r;
	len = rp.m.rxattrwalk.size;
	reply_free(&rp);
	if (len > UVFS_XATTR_SIZE_MAX)
		r = -E2BIG;             /* more than any caller may take */
	else if (size && len > size)
		r = -ERANGE;
	while (r == 0 && size && done < len) {
		struct p9_msg t = { .type = P9_TREAD };
		uint32_t want = io_max(s, 0);

		if (len - done < want)
			want = (uint32_t)(len - done);
		t.tread.fid = xf;
		t.tread.offset = done;
		t.tread.count = want;
		r = rpc(&s->c, &t, P9_RREAD, &rp, CL_NONE, 0);
		if (r)
			break;
		uint32_t got = rp.m.rread.count;
		if (got > want || got == 0)
			r = -EIO;       /* past, or short of, what it said */
		else
			memcpy((char *)buf + done, rp.m.rread.data, got);
		reply_free(&rp);
		done += got;
	}
	clunk_async(&s->c, xf);
	return r ? r : (ssize_t)len;
}

/* name "": the list of names. */
static ssize_t xattr_get(struct p9sb *s, struct node *n, const char *name,
			 void *buf, size_t size)
{
	for (int tries = 1;; tries++) {
		uint64_t g = conn_sgen(&s->c);
		ssize_t r = xattr_get_once(s, n, name, buf, size);

		if (r < 0 && stale_retry(s, n, (int)r))
			r = xattr_get_once(s, n, name, buf, size);
		if (r >= 0 || tries == XATTR_TRIES || conn_sgen(&s->c) == g)
			return r;
		/* a restart under it: read it again from the new server */
	}
}

/* size 0: remove. */
static int xattr_set_once(struct p9sb *s, struct node *n, const char *name,
			  const void *value, size_t size, int flags)
{
	struct p9_msg m = { .type = P9_TXATTRCREATE };
	struct fid *f = node_fid(s, n);
	struct reply rp;
	uint32_t xf, max = io_max(s, 0);
	uint64_t g;
	size_t done = 0;
	int r;

	r = walk(s, f->num, NULL, &xf, NULL);
	fid_put(s, f);
	if (r)
		return r;
	g = conn_sgen(&s->c);
	m.txattrcreate.fid = xf;
	m.txattrcreate.name = p9_str(name);
	m.txattrcreate.attr_size = size;
	m.txattrcreate.flags = (uint32_t)flags;
	r = rpc_x(&s->c, &m, P9_RXATTRCREATE, &rp, CL_CLUNK, xf,
		  RPC_NOREPLAY);
	if (r)
		goto out;
	reply_free(&rp);
	while (done < size) {
		struct p9_msg t = { .type = P9_TWRITE };
		uint32_t want = size - done < max ? (uint32_t)(size - done)
						  : max;

		t.twrite.fid = xf;
		t.twrite.offset = done;
		t.twrite.count = want;
		t.twrite.data = (const uint8_t *)value + done;
		r = rpc_x(&s->c, &t, P9_RWRITE, &rp, CL_NONE, 0,
			  RPC_NOREPLAY);
		if (r)
			break;
		uint32_t got = rp.m.rwrite.count;
		reply_free(&rp);
		if (got == 0 || got > want) {
			r = -EIO;
			break;
		}
		done += got;
	}
	if (r) {
		/* the clunk commits what came (a server should refuse a
		 * short value: ours and QEMU's do, diod does not) */
		clunk_async(&s->c, xf);
		goto out;
	}
	struct p9_msg c = { .type = P9_TCLUNK };
	c.tclunk.fid = xf;
	r = rpc_x(&s->c, &c, P9_RCLUNK, &rp, CL_CLUNK, xf, RPC_NOREPLAY);
	if (r == 0) {
		reply_free(&rp);
		fid_free(&s->c, xf);
	}
out:
	/* a restart in between: the new server never had the xattr fid, so
	 * whatever failed, the old one may or may not have committed */
	if (r && conn_sgen(&s->c) != g)
		r = -EIO;
	return r;
}

static ssize_t p9_getxattr(struct uvfs_sb *sb, void *priv, const char *name,
			   void *value, size_t size)
{
	if (!*name)
		return -EINVAL;         /* "" would be the list */
	return xattr_get(S(sb), priv, name, value, size);
}

static ssize_t p9_listxattr(struct uvfs_sb *sb, void *priv, char *list,
			    size_t size)
{
	return xattr_get(S(sb), priv, "", list, size);
}

static int p9_setxattr(struct uvfs_sb *sb, void *priv, const char *name,
		       const void *value, size_t size, int flags)
{
	struct p9sb *s = S(sb);
	int r;

	/* 9P2000.L has no empty value: a zero-size Txattrcreate removes
	 * (diod, QEMU, ours); refused rather than turned into a removal */
	if (size == 0)
		return -EOPNOTSUPP;
	r = xattr_set_once(s, priv, name, value, size, flags);
	if (r && stale_retry(s, priv, r))
		r = xattr_set_once(s, priv, name, value, size, flags);
	return r;
}

static int p9_removexattr(struct uvfs_sb *sb, void *priv, const char *name)
{
	struct p9sb *s = S(sb);
	int r = xattr_set_once(s, priv, name, NULL, 0, 0);

	if (r && stale_retry(s, priv, r))
		r = xattr_set_once(s, priv, name, NULL, 0, 0);
	return r;
}

/* Every type of this driver shares its operations; they differ in how
 * the server is reached (mount). */
/* The options of each type, as parse_opts() takes them (for the core's
 * check and `uvfs mount --help`). */
#define P9_FSOPTS_COMMON                                                \
	{ "uname", UVFS_FSOPT_STRING, "NAME: the user to attach as" },  \
	{ "msize", UVFS_FSOPT_NUMBER,                                   \
	  "N: the largest message offered (524288; 4096..16777216)" },  \
	{ "timeout", UVFS_FSOPT_NUMBER,                                 \
	  "MS: a request's deadline (10000)" },                         \
	{ "serial", UVFS_FSOPT_FLAG, "one request at a time" },         \
	{ "window", UVFS_FSOPT_NUMBER,                                  \
	  "MS: the window restarts= counts in (60000)" }
static const struct uvfs_fsopt p9_fsopts[] = {
	{ "aname", UVFS_FSOPT_STRING, "PATH: the tree to attach to" },
	{ "restarts", UVFS_FSOPT_NUMBER,
	  "N: reconnections within window= before the mount is dead (30)" },
	{ "noreconnect", UVFS_FSOPT_FLAG,
	  "a lost connection stays lost (EIO)" },
	P9_FSOPTS_COMMON,
	{ NULL, 0, NULL },
};
static const struct uvfs_fsopt hostfs_fsopts[] = {
	{ "server", UVFS_FSOPT_STRING,
	  "PATH: the server binary (default: $UVFS_HOSTFS, uvfs-hostfs next "
	  "to the program or in PATH; diod in PATH or /usr/sbin)" },
	{ "restarts", UVFS_FSOPT_NUMBER,
	  "N: server restarts within window= before the mount is dead (5)" },
	P9_FSOPTS_COMMON,
	{ NULL, 0, NULL },
};

#define P9_OPS(type_name, mount_fn, fsopts, source)                     \
	{                                                               \
		.name = type_name,                                      \
		.options = fsopts,                                      \
		.source_help = source,                                  \
		.flags = UVFS_FS_NO_NAMECACHE,                          \
		.mount = mount_fn,                                      \
		.unmount = p9_unmount,                                  \
		.cancel = p9_cancel,                                    \
		.statfs = p9_statfs,                                    \
		.vget = p9_vget,                                        \
		.reclaim = p9_reclaim,                                  \
		.getattr = p9_getattr,                                  \
		.setattr = p9_setattr,                                  \
		.lookup = p9_lookup,                                    \
		.create = p9_create,                                    \
		.link = p9_link,                                        \
		.unlink = p9_unlink,                                    \
		.rename = p9_rename,                                    \
		.readlink = p9_readlink,                                \
		.open = p9_open,                                        \
		.release = p9_release,                                  \
		.read = p9_read,                                        \
		.write = p9_write,                                      \
		.fsync = p9_fsync,                                      \
		.readdir = p9_readdir,                                  \
		.getxattr = p9_getxattr,                                \
		.setxattr = p9_setxattr,                                \
		.listxattr = p9_listxattr,                              \
		.removexattr = p9_removexattr,                          \
	}

/* "9p": a server reached by a Unix socket, TCP or an fd pair. */
const struct uvfs_fstype_ops uvfs_9p_ops = P9_OPS("9p", p9_mount, p9_fsopts,
	"SOURCE: unix:PATH, tcp:HOST:PORT or fd:RFD,WFD (a 9P2000.L server)");
/* "hostfs": over a uvfs-hostfs it spawns and restarts. */
const struct uvfs_fstype_ops uvfs_hostfs_ops = P9_OPS("hostfs", hostfs_mount,
	hostfs_fsopts, "SOURCE: a host directory, served by uvfs-hostfs");
/* "diod": over a diod it spawns and restarts (docs/recovery.md). */
const struct uvfs_fstype_ops uvfs_diod_ops = P9_OPS("diod", diod_mount,
	hostfs_fsopts, "SOURCE: a host directory, served by diod");

int uvfs_9p_register(struct uvfs *u)
{
	int r = uvfs_fstype_register(u, &uvfs_9p_ops);

	if (r == -EEXIST)       /* as documented: not an error */
		r = 0;
	if (r == 0) {
		int h = uvfs_fstype_register(u, &uvfs_hostfs_ops);
		if (h && h != -EEXIST)
			r = h;
	}
	if (r == 0) {
		int d = uvfs_fstype_register(u, &uvfs_diod_ops);
		if (d && d != -EEXIST)
			r = d;
	}
	return r;
}
