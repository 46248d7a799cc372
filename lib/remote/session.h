/*
 * session.h - a protocol-independent session with a remote server
 * (docs/session.md): requests with tags and deadlines, the read role and
 * the reader thread, cancellation that fences, liveness probes, the
 * connection's states, loss and kill.  A protocol (9P today, NFS next)
 * supplies its framing, where a reply's tag is, what a reply does, a
 * cancel message, a probe message, and its own per-request data; it
 * packs its requests itself.  Replay, re-establishing a session and the
 * protocol's own state stay with the protocol (lib/9p/rpc.c,
 * lib/9p/recover.c).
 *
 * Objects: struct rs_session is embedded first in the protocol's
 * connection (rs_session_init to rs_session_fini); struct rs_req belongs
 * to whoever made it with rs_req_new until it is DONE (a call: its
 * caller frees it) or, for the other kinds, to the session (freed at its
 * reply, a loss or a kill).  One reader thread per session (gen),
 * started by rs_reader_start, joined by the supervisor or
 * rs_session_fini.
 *
 * Lock: rs_session.lock guards everything marked "lock"; the protocol's
 * hooks that end in _locked are called with it held, and may use it for
 * their own state (lock order: docs/locking.md).
 */
#ifndef UVFS_REMOTE_SESSION_H
#define UVFS_REMOTE_SESSION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "rstate.h"
#include "transport.h"

#define RS_NTAGS        2048    /* requests in flight per session (9P:
				 * the walks and getattrs ahead of an
				 * ls -l of 1 000 names at once) */
#define RS_REST_MS      5       /* the reader thread rests while callers
				 * read for themselves, until none did for
				 * this long */

enum rs_kind {
	RS_CALL,        /* a caller waits for its reply (rs_call) */
	RS_AUX,         /* nobody waits: its reply or loss goes to the
			 * protocol's aux_done_locked (9P: Tclunk) */
	RS_CANCEL,      /* the cancel of a call past its deadline */
	RS_PROBE,       /* a liveness probe */
};

struct rs_req {
	enum rs_kind kind;
	enum rs_rq_state state;         /* CALL: lock; rs_rq_next */
	bool lost;              /* CALL: the session died under it */
	bool flushed;           /* CALL: the cancel was confirmed first */
	bool timed_out;         /* CALL: its deadline passed */
	bool replied;           /* CALL: a reply was accepted */
	bool abandoned;         /* CALL: nobody will wait (rs_call_abandon):
				 * freed when it ends, reply dropped */
	bool borrowed;          /* CALL: reply is the reader's buffer (no
				 * memory for a copy), only during
				 * reply_locked */
	uint16_t tag;
	uint64_t gen;           /* the session its tag belongs to */
	uint64_t sent_ns;       /* CALL: when it went out (monotonic) */
	int err;                /* CALL: 0 with a reply, or why none */
	pthread_cond_t cv;      /* CALL: its waiter's */
	void *reply;            /* CALL: the reply's frame (owned; the
				 * protocol may keep it: set NULL) */
	uint32_t reply_len;
	struct rs_req *target;  /* CANCEL: the call (NULL once it is DONE) */
	uint16_t oldtag;        /* CANCEL: the call's tag */
	bool fences;            /* CANCEL: the call ended first (its reply):
				 * its tag is held (rs_tag_fenced) until
				 * this cancel is answered, or not sent */
	struct rs_req *cancel;  /* CALL: its cancel, while out */
	void *pd;               /* the protocol's (freed by req_free) */
	uint32_t aux;           /* AUX: the protocol's value (9P: the fid) */
};

/* The unsent end of a message that the link took a part of when its
 * sender could not wait (RS_NOWAIT): session_send.c. */
struct rs_tail {
	uint8_t *buf;           /* the whole message, sys_malloc'd (NULL:
				 * none) */
	size_t off, len;        /* written so far, of len */
	uint64_t gen;           /* the session it was begun in */
	uint16_t tag;           /* the call it carries */
};

struct rs_session;

/* What a protocol supplies.  Optional: pack_cancel (none: a call past its
 * deadline is ended by cutting the link, as when a cancel cannot be
 * sent), pack_probe (none: no probe; TCP's keepalive and user timeout
 * remain), aux_done_locked (a protocol without RS_AUX requests),
 * violation (none: the session is killed), req_free (no pd). */
struct rs_proto {
	/* The size of the frame at buf (have bytes, at least 4): 0 and
	 * *size, or -EPROTO (the framing is lost: a frame over max or
	 * under a header). */
	int (*frame_size)(const uint8_t *buf, size_t have, uint32_t max,
			  uint32_t *size);
	/* The tag of a whole frame: 0, or -EPROTO. */
	int (*reply_tag)(const uint8_t *frame, uint32_t size, uint16_t *tag);
	/* A call's reply (rq->reply, rq->reply_len): 0 to accept it (the
	 * protocol records what it needs in rq->pd), or -EIO for a reply
	 * that is malformed or of the wrong type (counted).  With
	 * rq->borrowed there was no memory for a copy: rq->reply is the
	 * reader's buffer, valid only during this call, and the protocol
	 * keeps nothing pointing into it; -ENOMEM if it needs the bytes
	 * (the call then fails with ENOMEM).  A reply whose effect the
	 * protocol must know (a new fid) is accepted either way. */
	int (*reply_locked)(struct rs_session *s, struct rs_req *rq);
	/* An AUX request answered (lost false) or forgotten in a loss. */
	void (*aux_done_locked)(struct rs_session *s, struct rs_req *rq,
				bool lost);
	/* The cancel of oldtag, the probe: the bytes into buf (cap), or <0. */
	ssize_t (*pack_cancel)(uint8_t *buf, size_t cap, uint16_t tag,
			       uint16_t oldtag);
	ssize_t (*pack_probe)(uint8_t *buf, size_t cap, uint16_t tag);
	/* Frees rq->pd. */
	void (*req_free)(void *pd);
	/* The server broke the protocol on a session we cannot restart
	 * (rs_session.proto_fatal): the protocol says so and kills. */
	void (*violation)(struct rs_session *s, uint64_t gen);
	/* Optional.  A frame broke the framing (frame_size said -EPROTO):
	 * is it, by the start of it there is (buf, have bytes, whose tag
	 * reply_tag found rq's), rq's reply?  Then rq fails with -EIO, a
	 * bad reply, rather than being lost with the others (and sent again
	 * after the reconnect, to be answered so again).  None: all lost. */
	bool (*bad_frame_locked)(struct rs_session *s, struct rs_req *rq,
				 const uint8_t *buf, size_t have);
	/* Optional.  Is frame (size bytes, whose tag reply_tag found call
	 * rq's) rq's own reply, or one to another request that had the
	 * tag (a server's duplicate, a stray reply to an earlier call)?
	 * Not rq's: dropped (counted in strays), rq waits on for its own
	 * by its deadline.  None: every frame with the tag is rq's.  Not
	 * asked for a call given up (rs_call_abandon: rq->pd may be gone):
	 * any frame on its tag ends it. */
	bool (*reply_ours_locked)(struct rs_session *s,
				  const struct rs_req *rq,
				  const uint8_t *frame, uint32_t size);
};

struct rs_session {
	const struct rs_proto *proto;   /* const */
	struct rt_link link;    /* lock (written by the supervisor
				 * between sessions; read by the session's
				 * threads, which it joins first) */
	struct rt_tcp_opts tcp;         /* const: liveness of tcp: links */
	int evfd;               /* readable once killed: wakes poll()s */
	uint32_t msize;         /* the largest frame (negotiated at mount) */
	int timeout_ms;         /* const */
	bool serial;            /* const: one request at a time */
	bool hard;              /* const: calls wait out UNREACHABLE */
	bool proto_fatal;       /* const: a protocol violation kills */
	/* (every condition variable here waits on CLOCK_MONOTONIC:
	 * cond_init_monotonic, lib/util/deadline.h) */
	pthread_mutex_t lock;           /* everything below */
	pthread_cond_t cv;              /* a tag freed, or killed */
	/* Locks with a deadline (and that kill breaks), held across I/O:
	 * flags under lock, waited for on lock_cv. */
	bool serial_busy;               /* serial mode: a request is out */
	bool wbusy;                     /* a message is being written, or
					 * a tail is parked (the tail's) */
	struct rs_tail tail;            /* parked (buf not NULL): the end of
					 * a nowait message the link took a
					 * part of, of the current session;
					 * it holds wbusy with no thread
					 * writing.  The next writer, or its
					 * call's waiter, takes it over and
					 * sends it first; a loss or a kill
					 * frees it (never sent later) */
	unsigned ncork;                 /* callers sending a batch
					 * (rs_batch_begin): the link is
					 * corked while above 0 */
	pthread_cond_t lock_cv;
	struct rs_conn rs;      /* the state (rs_set_state), its condition,
				 * the dead flag (rstate.h) */
	struct rs_req *tags[RS_NTAGS];
	unsigned nused, hint;
	bool closing;           /* unmount: the reader takes the role */
	bool probing;           /* a probe is out */
	_Atomic uint64_t rx_ns; /* the last bytes from the server */
	pthread_t reader;
	bool reader_started;
	/* The read role: one thread at a time reads the link, either the
	 * reader thread or a caller waiting for its reply (a leader), which
	 * then dispatches every reply it reads, its own among them. */
	enum { RD_FREE, RD_THREAD, RD_CALLER } rd;
	unsigned long demand;   /* callers that wanted the role */
	unsigned nfollow;       /* callers waiting on their cv */
	pthread_cond_t rd_cv;   /* the reader thread's rest */
	uint8_t *rb;            /* the role's: bytes read, not dispatched */
	size_t rb_start, rb_have;
	uint64_t rb_gen;        /* the session rb's bytes come from */
	/* Supervision (docs/recovery.md).  Unsupervised: a loss is a kill. */
	bool supervised;        /* losses are recovered, not fatal */
	_Atomic uint64_t sgen;  /* written under lock: session generation */
	pthread_cond_t sup_cv;  /* wakes the supervisor */
	int pidfd;              /* the server's, or -1: the reader polls it */
	unsigned long unsolicited, strays, bad_replies, timeouts, probes;
	unsigned long losses, replays, unreachable;
	int last_err;           /* why the last loss (-errno) */
	struct timespec lost_at;        /* a recovery began (monotonic) */
	time_t lost_wall;       /* ... wall clock, 0: never */
};

int rs_session_init(struct rs_session *s, const struct rs_proto *proto);
/* Waits (bounded) for the requests in flight, then kills: abortively
 * unless everything was answered. */
void rs_session_fini_wait(struct rs_session *s, int drain_ms);
/* rs_session_fini_wait, joins the reader, closes and frees. */
void rs_session_fini(struct rs_session *s, int drain_ms);
int rs_reader_start(struct rs_session *s);
/* For good: every waiter -EIO now, the link cut, later calls -EIO. */
void rs_kill(struct rs_session *s);
/* Session gen is lost (err says why: an unreachable error makes the
 * state UNREACHABLE).  Unsupervised: rs_kill. */
void rs_lost(struct rs_session *s, uint64_t gen, int err);

struct rs_req *rs_req_new(struct rs_session *s, enum rs_kind kind);
void rs_req_free(struct rs_session *s, struct rs_req *rq);

/* The tag rs_call will give rq, to pack it with: packs into buf. */
typedef ssize_t (*rs_pack_fn)(void *arg, uint16_t tag, uint8_t *buf,
			      size_t cap);
/* => s->lock held, before rq takes its tag: 0 or why it may not go. */
typedef int (*rs_admit_fn)(void *arg, struct rs_session *s);

#define RS_INTERNAL 0x1 /* the supervisor's: goes while RECOVERING, never
			 * waits for a recovery, no probe */
#define RS_NOWAIT   0x2 /* rs_call_start only: never waits.  Goes now or
			 * not at all (-EAGAIN, nothing sent): no wait for
			 * the session to be up, a free tag, another writer
			 * (a kept tail is one) or room in the link.  A
			 * message the link took a part of is SENT: its end
			 * is kept (the tail) and goes first with the next
			 * message written, or when its call is waited for
			 * (rs_call_wait), each by that writer's deadline;
			 * a loss or a kill drops it (the call fails as any
			 * call out) */

/*
 * Sends call rq (len bytes from pack) and waits for its end, by dl (the
 * call's deadline; a hard mount may move it): 0 with rq DONE (rq->err,
 * rq->reply, rq->lost, rq->flushed, rq->timed_out say how), or an error
 * before anything went out (-EIO dead or unreachable and soft,
 * -ETIMEDOUT, admit's error; rq is not DONE then and was never sent), or
 * -EIO when a kill ended rq before all of it went out (rq DONE, the link
 * cut: it never reached the server whole).  The caller frees rq.
 */
int rs_call(struct rs_session *s, struct rs_req *rq, size_t len,
	    rs_pack_fn pack, void *arg, rs_admit_fn admit,
	    struct timespec *dl, unsigned flags);

/* rs_call in two halves, for a caller with several calls out at once
 * (NFS: the pieces of one read): rs_call_start packs and sends rq as
 * rs_call does and returns without waiting (0: rq SENT, or DONE already;
 * or, as rs_call, an error: nothing went out, or a kill cut it; with
 * RS_NOWAIT also -EAGAIN, for a caller that may not wait: NFS's last
 * close; with RS_NOWAIT, SENT may mean that the end of rq's message is
 * still kept by the session, the tail);
 * rs_call_wait then waits for rq's end by dl with rs_call's liveness and
 * fencing rules (rq DONE on return), first sending what is left of rq's
 * message in the tail, by dl (not all of it by then: the link is cut,
 * rq timed_out and lost).  Not on a serial session (-EINVAL).
 * Waiting for several in turn is fine: whoever reads dispatches every
 * reply, and a cut link ends them all. */
int rs_call_start(struct rs_session *s, struct rs_req *rq, size_t len,
		  rs_pack_fn pack, void *arg, rs_admit_fn admit,
		  struct timespec *dl, unsigned flags);
void rs_call_wait(struct rs_session *s, struct rs_req *rq,
		  const struct timespec *dl, unsigned flags);

/* Is rq (started with rs_call_start, not yet waited for) DONE: would
 * rs_call_wait return at once?  Never waits. */
bool rs_call_done(struct rs_session *s, struct rs_req *rq);

/* Gives up on rq, started with rs_call_start and not waited for (a
 * read ahead that nobody will read): freed now if it is DONE, else by the
 * session when its reply comes (dropped: reply_locked is not called) or
 * the session ends.  rq is not the caller's any more, nor is rq->pd unless
 * the protocol frees it (req_free). */
void rs_call_abandon(struct rs_session *s, struct rs_req *rq);

/* Around a caller's rs_call_starts of one batch (never around a wait):
 * the link holds their bytes and sends them together at the end of the
 * last batch (rt_cork), so that the server, and the link, see one train,
 * not a request at a time while replies already come back.  Another
 * caller's request meanwhile goes out with the batch. */
void rs_batch_begin(struct rs_session *s);
void rs_batch_end(struct rs_session *s);

/* Sends an AUX request (no waiter) by dl: 0; -EAGAIN (no tag free, not
 * UP: not sent, rq still the caller's); -ETIMEDOUT (not sent, rq still
 * the caller's); -EIO (the session ended: rq is gone). */
int rs_send_aux(struct rs_session *s, struct rs_req *rq, size_t len,
		rs_pack_fn pack, void *arg, const struct timespec *dl);

/* Writes a whole message of session gen by dl (the handshake, before
 * the reader runs): 0, -ETIMEDOUT (nothing written), -EIO. */
int rs_send_raw(struct rs_session *s, const void *buf, size_t len,
		const struct timespec *dl, uint64_t gen);

/* The supervisor after a loss (or unmount): no reader, no link left of
 * the old session; the link's descriptors closed. */
void rs_session_teardown(struct rs_session *s);

uint64_t rs_sgen(struct rs_session *s);

#endif /* UVFS_REMOTE_SESSION_H */
