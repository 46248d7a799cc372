/*
 * server_i.h - the serve loop's private structures, shared by server.c
 * (connections, requests, flush, the fid table) and dispatch.c (what each
 * request does).  The locks named in the legends are listed in server.c.
 */
#ifndef UVFS_P9SRV_I_H
#define UVFS_P9SRV_I_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "htab.h"
#include "p9srv.h"

struct p9srv {
	const struct p9srv_ops *ops;
	void *arg;
	struct p9srv_opts o;
};

enum fid_state { FID_RESERVED, FID_ACTIVE, FID_GONE };

/* An xattr fid's state (p9srv.h, "Extended attributes"). */
enum xattr_kind { XA_READ, XA_WRITE };
struct xattr {
	enum xattr_kind kind;
	char *name;             /* XA_WRITE */
	uint8_t *buf;           /* the value (READ), the buffer (WRITE) */
	size_t size;            /* its length / the announced size */
	size_t filled;          /* WRITE, fid->rw exclusive: bytes written
				 * from 0 without a hole */
	uint32_t flags;         /* WRITE */
	size_t charge;          /* counted in conn.xbytes */
};

struct fid {
	struct p9srv_fid pub;
	struct hlink hl;                /* lock: in conn.fids while hashed */
	enum fid_state state;           /* lock */
	unsigned refs;                  /* lock */
	bool live;                      /* priv valid: clunk() when freed */
	struct xattr *xa;               /* lock: set once: an xattr fid */
	pthread_rwlock_t rw;
};

struct conn;

enum req_state { RQ_QUEUED, RQ_RUNNING };

struct p9srv_req {
	struct conn *c;
	struct p9srv_req *qnext;        /* lock: the queue */
	struct p9srv_req *inext, **iprev; /* lock: the in-flight list */
	enum req_state state;           /* lock */
	pthread_t worker;               /* lock: RUNNING on it */
	atomic_bool flushed;
	uint16_t *ftags;                /* lock: Tflush tags waiting on it */
	unsigned nftags;
	uint8_t *buf;                   /* the frame; t points into it */
	size_t len;
	struct p9_msg t;
};

struct conn {
	struct p9srv *srv;
	int infd, outfd;
	bool sock;                      /* outfd is a socket: send() */
	uint32_t msize;                 /* negotiated (0: not yet) */
	pthread_mutex_t wlock;
	pthread_mutex_t lock;
	pthread_cond_t qcond;           /* work queued, a watchdog wanted, or
					 * the input ended */
	pthread_cond_t wcond;           /* the watchdog's (CLOCK_MONOTONIC) */
	pthread_cond_t idle;            /* a request completed
					 * (CLOCK_MONOTONIC) */
	struct p9srv_req *qhead, **qtail;
	struct p9srv_req *inflight;
	unsigned ninflight, nrunning;
	size_t xbytes;                  /* held by xattr fids */
	atomic_uint nxattr;             /* xattr fids alive: 0 spares the
					 * other requests a fid lookup */
	unsigned nqwait;                /* threads waiting on qcond */
	bool inline_on;                 /* the owner runs inline_seq */
	unsigned long inline_seq;       /* inline runs started */
	bool watching;                  /* a thread is the watchdog */
	bool watch_asleep;              /* ... waiting without a timeout */
	bool ended;                     /* no more input: the pool winds down */
	int err;                        /* what ended it: 0 end of file */
	bool dead;
	uint8_t in[4096];               /* the owner's: input read ahead */
	size_t inoff, inlen;
	struct htab fids;               /* lock: RESERVED and ACTIVE fids by
					 * number (fids.n of them) */
	pthread_t *workers;             /* the pool but for the serve thread */
	unsigned nworkers;              /* started; at most this many run */
};

/* What a request needs while it runs. */
struct run {
	struct p9srv_req *r;
	struct conn *c;
	const struct p9srv_ops *ops;
	struct fid *f, *f2;             /* referenced */
	bool entered;
	struct p9_msg rep;
	uint8_t *rbuf;                  /* read/readdir/readlink data */
};

/* server.c: the fid table (c->lock is taken inside unless _locked). */
struct fid *srv_fid_get(struct conn *c, uint32_t n);
int srv_fid_reserve(struct conn *c, uint32_t n, struct fid **out);
void srv_fid_unhash(struct conn *c, struct fid *f);
void srv_fid_put(struct conn *c, struct fid *f);
void srv_fid_activate(struct conn *c, struct fid *f);
void srv_fid_replace(struct conn *c, struct fid *old, struct fid *nf);
struct fid *srv_fid_find_locked(struct conn *c, uint32_t n);

/* dispatch.c */
int srv_dispatch(struct run *x);
void srv_xattr_free(struct conn *c, struct xattr *xa);
bool srv_is_xattr_fid(struct conn *c, uint32_t n);

#endif
