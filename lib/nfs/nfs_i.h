/*
 * nfs_i.h - the NFS driver's own objects, shared by its files (nothing
 * outside lib/nfs sees them):
 *
 *   mount.c  options, the mount and unmount, the directory of mounts
 *            (uvfs_nfs_info), the check after a reconnect, vget/reclaim
 *   node.c   the node table and the attribute cache
 *   nfs.c    the vnode operations and the type's table
 *   remove.c a name's removal against the opens of its file: silly
 *            rename, and the pins that order the two
 *   names.c  the name cache
 *   wb.c     writes behind and COMMIT
 *   ra.c     read-ahead windows
 *   nfs3.c   NFSv3/MOUNT v3 procedures (nfs3_call.c, nfs3_send.c:
 *            their call machinery); rpc.c: ONC RPC on lib/remote
 *
 * Objects and their lifecycles:
 *
 *   struct nsb   one per mount: made by nv_mount (MOUNT v3 gives the root
 *                handle, then an NFS v3 connection is kept), freed by
 *                nv_unmount once every vnode is reclaimed.
 *   struct node  one per file the driver has a handle for, in a table by
 *                ino (the server's fileid).  Installed by lookup, create and
 *                readdir (READDIRPLUS carries handles); taken by vget
 *                (refs++), given back by reclaim (refs--, then onto a small
 *                LRU of unreferenced nodes so that a vget racing with the
 *                reclaim still finds it; the LRU's overflow is freed).  The
 *                root node is never freed before the unmount.  A node's
 *                identity is its handle: a lookup that finds another
 *                handle (or type) for a fileid in the table makes a new
 *                node (a new gen, which the core sees as a new file) and,
 *                if vnodes still hold the old one, takes that out of the
 *                table (replaced: freed at its last reclaim).  A fileid is
 *                soon reused on many servers (the disk's inode numbers).
 *   struct handle  one per open file: counts the node's opens, keeps the
 *                opener's credentials.  A file unlinked while open is
 *                renamed to ".nfsXXXX" in its directory instead (silly
 *                rename) and removed at its last close, as Linux's client
 *                does (remove.c).
 *   struct rmpin one per removal of a name in flight (remove.c), on the
 *                remover's stack.
 *   struct sillyrm one per silly-renamed file's REMOVE, queued by its
 *                last close and ended by the mount's reaper thread when
 *                answered, given up at its deadline, or dropped by a
 *                forced unmount (remove.c); the reaper is started by the
 *                first and joined at the unmount.
 *
 * Locks: s->lock (a leaf, never held across a request) guards the node
 * table, the LRU and every mutable node field but the writes behind.  An
 * open file's ra_lock guards its read-ahead window and is held across the
 * waits for the READs of it that a read needs (ra.c); a node's wb_lock
 * guards its writes behind and is held across their waits, COMMITs and
 * resends (wb.c); both are taken before
 * s->lock and the session's, never together.  The session's lock is
 * lib/remote's own; the name cache's is names.c's (a leaf).  dir_lock
 * (mount.c) guards the directory of live mounts that uvfs_nfs_info
 * searches (taken before a session's lock, never with s->lock).  s->sr_cv
 * (with s->lock) is waited on by the reaper for work and by an RMDIR for
 * the removals it waits for, never across a request.
 */
#ifndef UVFS_NFS_I_H
#define UVFS_NFS_I_H

#include <stdatomic.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include <uvfs/fs.h>

#include "deadline.h"
#include "htab.h"
#include "names.h"
#include "nfs3.h"
#include "rpc.h"

#define LRU_MAX         8192            /* unreferenced nodes kept (a
					 * listing's entries, for ls -l) */
#define TIMEOUT_DEFAULT 10000
#define WINDOW_DEFAULT  60000           /* restarts= counts in this window */
#define ACTIMEO_DEFAULT 3               /* seconds, as Linux's acregmin */
#define IO_MAX          (1u << 20)      /* bytes per READ/WRITE, at most */
#define DIR_MAX         (512u << 10)    /* READDIRPLUS maxcount: a listing
					 * of thousands in one reply */
#define WINDOW_BYTES    (8u << 20)      /* a read's or write's requests in
					 * flight: at most this many bytes */
#define WINDOW_MAX      16u             /* ... and this many requests */
#define RA_BYTES        (8u << 20)      /* read ahead of a sequential read:
					 * held or in flight per open file */
#define RA_PIECES       64u             /* ... in at most this many READs */
#define RA_MOUNT_BYTES  (64u << 20)     /* ... and per mount, all files */
#define WB_WINDOW       (8u << 20)      /* a file's writes behind in
					 * flight: at most this many bytes */
#define WB_COMMIT_AT    (32u << 20)     /* written, not committed, kept
					 * for a resend: past it, a COMMIT
					 * in the background */
#define WB_KEEP         (64u << 20)     /* ... past this, the writer
					 * waits for a COMMIT */
#define CREATE_FRESH_NS 1000000000ull   /* an open this soon after our
					 * CREATE uses its attributes */

/* What the mount may trust of what it saw (docs/nfs.md, "Caching
 * modes"). */
enum cache_mode {
	CACHE_NONE,     /* every getattr asks the server */
	CACHE_CTO,      /* attributes for actimeo, again at every open */
	CACHE_LOOSE,    /* attributes and names until this mount changes
			 * something: for a mount only one client writes */
};

struct node {
	uint64_t ino;                   /* the fileid; set once */
	uint64_t gen;                   /* s->lock: this file's incarnation
					 * (s->node_seq when its handle was
					 * installed), the core's ident gen:
					 * a fileid reused by another file is
					 * another node */
	bool replaced;                  /* s->lock: out of the table, another
					 * file has its fileid (freed at its
					 * last reclaim) */
	/* s->lock: */
	struct fh3 fh;
	mode_t type;
	int refs;                       /* vget - reclaim */
	struct hlink hl;                /* s->table, by ino */
	bool hashed;                    /* in s->table */
	struct node *lnext, *lprev;     /* on the LRU while refs == 0 */
	bool st_valid;
	struct stat st;
	uint64_t st_ns, st_gen;         /* when cached, and s->gen then */
	uint64_t attr_gen;              /* the attributes' generation: a
					 * reply's replace them only through
					 * nn_attr_apply_locked (below) */
	unsigned wr_out;                /* this client's WRITEs in flight
					 * (wb.c, as wb_out), and the end of
					 * the furthest sent since none were:
					 * while any is out, the size is at
					 * least that */
	uint64_t wr_end;
	int opens;                      /* open handles (not directories) */
	/* unlinked while open: the REMOVE of its ".nfsXXXX" name, made at
	 * the silly rename, queued at the last close (nv_release, or the
	 * nn_open_undo of a failed open that found the others closed):
	 * nothing there must be allocated, so nothing there can lose it.
	 * A node with no open has none, but at a forced unmount */
	struct sillyrm *silly;
	uint64_t cverf;                 /* READDIRPLUS cookie verifier */
	uint64_t created_ns;            /* made by this client's CREATE then
					 * (its reply's attributes are the
					 * open's: no GETATTR), or 0 */
	uint64_t created_rm;            /* ... and s->rm_seq then */
	bool dirty;                     /* unstable writes not committed */
	uint64_t vgen;                  /* s->cgen when its handle was last
					 * seen naming its file (a GETATTR,
					 * the reconnect's check, a reply
					 * that named both): nn_fh_verified */
	atomic_bool stale;              /* after a reconnect its handle named
					 * another file: every call -ESTALE
					 * (nn_fh), and no request of its
					 * goes, not even again (ctx_on);
					 * set under s->lock, read without by
					 * the session's admit */
	uint64_t wgen;                  /* bumped by this mount's writes and
					 * size changes (read-ahead is old) */
	uint64_t dver;                  /* a directory's version: a new
					 * s->dver_seq when its attributes
					 * show a change or this mount
					 * changes a name in it (its
					 * negative names are old) */
	/* writes behind (wb.c), under wb_lock (taken before s->lock): */
	pthread_mutex_t wb_lock;
	struct wbuf *wb_head;           /* in flight or kept, in order sent */
	unsigned wb_out;                /* in flight */
	size_t wb_out_bytes;            /* ... and their bytes */
	size_t wb_kept;                 /* answered, not committed */
	int wb_err;                     /* the last failure, and how many */
	uint64_t wb_eseq;               /* so far: each open file reports
					 * it once (struct handle's
					 * wb_seen) */
	struct n3cpend *wb_commit;      /* a COMMIT in the background */
	uint64_t wb_cseq;               /* ... its number (the wbufs it
					 * covers carry it) */
};

/*
 * Attributes out of order.  Several calls on one file can be in flight
 * (writes behind, read-ahead, a getattr, a truncation from another
 * thread), and their replies are taken in any order: each call is given
 * a number from the mount's counter (nn_attr_gen, s->attr_seq) before it
 * is sent, and the attributes its reply carries reach the node only
 * through nn_attr_apply_locked, which takes them if the call went after
 * the node's attributes were last set (gen > n->attr_gen) or if their
 * ctime is later than the node's (the server changed the file since,
 * whatever the order of the calls); else they are older than what the
 * node holds and are dropped.  Attributes taken that show a change (size,
 * mtime, ctime) set n->attr_gen to a new number, later than every call in
 * flight, as Linux's nfs_update_inode sets its barrier; a SETATTR's reply
 * (this client's own change, which must win) is applied with a number
 * taken after it came.  While this client's WRITEs are in flight
 * (n->wr_out) the size is at least the end of the furthest of them
 * (n->wr_end), whatever a reply says: as Linux keeps the size its own
 * writes made while they are pending.  docs/nfs.md, "Attributes out of
 * order".
 */

/* The cookies one listing of an open directory asked the server from,
 * to find a server whose cookies come round again (a loop: the listing
 * would never end): Brent's cycle finding, in constant room, over the
 * cookies of the READDIRPLUS requests (nv_readdir). */
struct dloop {
	bool on;                        /* a listing under way ... */
	uint64_t next;                  /* ... which its caller resumes at
					 * this cookie (where it stopped) */
	uint64_t saved;                 /* the cookie compared with */
	uint64_t power, lam;            /* Brent's: the stretch, its length */
};

struct handle {
	struct node *n;
	int flags;
	bool has_cred;                  /* the opener's credentials (for the */
	struct uvfs_cred cred;          /* COMMIT at the last close) */
	/* a directory's: the entries of its last READDIRPLUS reply that the
	 * last readdir did not take, and the cookie they follow (guarded by
	 * the open file's lock, which the core holds across readdir) */
	struct n3dent *rest;
	uint64_t rest_cookie;
	bool rest_eof;
	uint64_t rest_gen;              /* s->gen when they were asked */
	uint64_t rest_agen;             /* ... and their attributes' number
					 * (nn_attr_gen) */
	uint64_t rest_dver;             /* ... and the directory's dver */
	struct dloop loop;              /* its listing's cookies (the same
					 * lock) */
	/* a file's: the node's wb_eseq up to which this open file has
	 * reported the errors of writes behind (its open's, then its fsyncs'
	 * and closes'), under the node's wb_lock */
	uint64_t wb_seen;
	/* a file's read-ahead (ra.c, docs/nfs.md), under ra_lock: */
	pthread_mutex_t ra_lock;
	uint64_t next_off;              /* where a sequential read goes on */
	struct rapiece *ra;             /* the window: READs in flight or
					 * answered, contiguous, by offset */
	unsigned ra_n;
	size_t ra_bytes;                /* their lengths (in s->ra_bytes) */
	uint64_t ra_wgen;               /* the node's wgen when started */
	struct timespec ra_mtime;       /* ... and its mtime and size then */
	off_t ra_size;
};

/* One READ of a read-ahead window (ra.c). */
struct rapiece {
	uint64_t off;
	uint32_t len;                   /* asked */
	struct n3rpend *pend;           /* in flight; NULL once answered */
	char *data;                     /* len bytes: got of them answered */
	uint32_t got;
	bool eof;                       /* ... and the file ends there */
};

struct nsb {
	struct nsb *dnext;              /* dir_lock: the directory of mounts */
	char *source;                   /* set once: as mounted */
	struct uvfs_sb *sb;             /* set once */
	atomic_ulong stale;             /* handles that named another file */
	atomic_ulong rewrites;          /* WRITEs sent again: the verifier
					 * changed before their COMMIT */
	atomic_ulong commits_behind;    /* COMMITs sent in the background */
	atomic_ulong commit_waits;      /* writes that waited for a COMMIT
					 * (the second bound) */
	atomic_size_t ra_bytes;         /* read-ahead windows of all open
					 * files: at most RA_MOUNT_BYTES */
	_Atomic uint64_t attr_seq;      /* the last number nn_attr_gen gave */
	pthread_mutex_t lock;
	/* set at mount: */
	struct nconn *nc;
	struct node *root;
	int timeout_ms;
	uint64_t ac_ns;                 /* attribute cache lifetime */
	uint64_t names_ns;              /* name cache lifetime (0: none) */
	enum cache_mode cache;
	struct nnames names;            /* its own lock */
	bool hard;
	uint32_t rtmax, wtmax, dtmax;
	/* s->lock: */
	struct htab table;              /* the nodes by ino (grows) */
	struct node lru;                /* list head */
	unsigned nlru;
	uint64_t gen;                   /* bumped by a reconnect, and with
					 * cache=loose by every name this
					 * mount changes: what was cached
					 * before is old */
	uint64_t cgen;                  /* bumped by each reconnect's check
					 * (nv_rebuild): a handle not seen
					 * naming its file since is checked
					 * before it is used (node.vgen) */
	uint64_t dver_seq;              /* the last node->dver given */
	uint64_t node_seq;              /* the last node->gen given */
	unsigned nopen;                 /* open handles of the mount */
	unsigned silly_seq;
	struct rmpin *rm_pins;          /* removals in flight (remove.c) */
	uint64_t rm_seq;                /* removals begun (remove.c) */
	pthread_cond_t rm_cv;           /* with s->lock: a pin went */
	/* the REMOVEs of silly-renamed files at their last close (remove.c),
	 * s->lock: */
	struct sillyrm *so_head;        /* made, the file still open here
					 * (nn_silly_opened_locked to its
					 * last close, nn_silly_remove) */
	struct sillyrm *sr_head;        /* queued or in flight, oldest first
					 * (only the reaper takes one off) */
	unsigned sr_n;                  /* ... how many */
	uint64_t sr_ended;              /* how many ended since the mount
					 * (answered, given up, dropped) */
	bool sr_started;                /* sr_thread runs: joined at unmount */
	bool sr_exited;                 /* ... and has ended */
	bool sr_drain;                  /* unmount: the reaper ends once
					 * sr_head is empty */
	bool sr_stop;                   /* forced unmount (or an unmount past
					 * its wait): every one ends now,
					 * nothing more is sent */
	pthread_cond_t sr_cv;           /* with s->lock, CLOCK_MONOTONIC: one
					 * queued or ended, sr_stop, sr_exited */
	pthread_t sr_thread;            /* set before sr_started */
};

/* A silly-renamed file's REMOVE, from its silly rename (nn_silly_new: kept
 * in its node) and its last close (nn_silly_remove) until it ends:
 * answered (the name gone, or an error), given up at its deadline, or
 * dropped by a forced unmount.  On s->sr_head; queued by the closer,
 * taken off and freed by the reaper (or by nn_silly_remove when the
 * mount has stopped its reaper, or with its node, never queued:
 * nn_silly_free). */
struct sillyrm {
	struct sillyrm *next;           /* s->lock: on s->so_head, then on
					 * s->sr_head */
	struct fh3 dir;                 /* set once: the directory ... */
	char *name;                     /* ... and the ".nfsXXXX" name */
	bool has_cred;                  /* set once: as the unlinker (as */
	struct uvfs_cred cred;          /* Linux sends it) */
	/* the reaper's once queued (the close sets them before: its own
	 * try), read by it under s->lock too, written without: */
	struct n3mpend *pend;           /* in flight, or NULL */
	bool went;                      /* sent at least once: dl is set */
	struct timespec dl;             /* the mount's timeout after it
					 * first went: given up past it */
	uint64_t again_ns;              /* not in flight: sent (again) then
					 * (0: at once) */
	int pause_ms;                   /* the backoff's next pause */
};

/* A removal of a name in flight (remove.c): from nn_remove_begin to
 * nn_remove_end, on the remover's stack; s->lock guards the fields. */
struct rmpin {
	struct rmpin *next;
	uint64_t ino;                   /* the file the name led to */
	bool any;                       /* not looked up: any file */
	bool held;                      /* on s->rm_pins */
};

struct opts {
	enum cache_mode cache;
	int timeout_ms;
	int actimeo;                    /* seconds */
	bool hard;
	long restarts, window_ms;       /* the reconnect limit (< 0: none) */
};

#define S(sb) ((struct nsb *)uvfs_sb_private(sb))

/* The context of one vnode operation: its deadline starts now. */
static inline struct n3 ctx_of(struct nsb *s)
{
	/* as whom: the caller (AUTH_SYS), or root on a thread that has none */
	struct n3 c = { .nc = s->nc, .cred = uvfs_cred_current() };

	deadline_in(&c.dl, s->timeout_ms);
	return c;
}

/* The same for an operation on node n: none of its requests goes once n
 * is found stale (-ESTALE), whenever that is: not a hard mount's replay
 * after a loss, which waits for the reconnect whose check may find it,
 * nor a resend after a JUKEBOX (rpc.h, nrpc.gone).  nn_fh refuses the
 * handle before; this is for the requests already made with it. */
static inline struct n3 ctx_on(struct nsb *s, struct node *n)
{
	struct n3 c = ctx_of(s);

	c.gone[0] = &n->stale;
	return c;
}

/* The same for an operation on two nodes (a LINK's file and directory, a
 * RENAME's two directories): none of its requests goes once either is
 * found stale. */
static inline struct n3 ctx_on2(struct nsb *s, struct node *a,
				struct node *b)
{
	struct n3 c = ctx_on(s, a);

	c.gone[1] = &b->stale;
	return c;
}

/* Requests in flight for one read or write: enough to fill a link, at
 * most WINDOW_BYTES. */
static inline unsigned window_of(uint32_t piece)
{
	unsigned w = WINDOW_BYTES / piece;

	return w < 1 ? 1 : w > WINDOW_MAX ? WINDOW_MAX : w;
}

/* node.c: the node table and the attribute cache */
struct node *nn_find_locked(struct nsb *s, uint64_t ino);
void nn_lru_del_locked(struct nsb *s, struct node *n);
void nn_hash_del_locked(struct nsb *s, struct node *n);
void nn_free(struct node *n);
/* The number of a call about to be sent, for the attributes its reply
 * brings (a new one each time: later calls, larger numbers). */
uint64_t nn_attr_gen(struct nsb *s);
/* Puts st, from the reply to the call numbered agen, in n's attribute
 * cache if it is not older than what n holds (the rule above struct
 * handle): true if it did.  The one way a reply's attributes reach a
 * node.  => s->lock held. */
bool nn_attr_apply_locked(struct nsb *s, struct node *n,
			  const struct stat *st, uint64_t agen);
/* Installs (fh, st) of a file the server named in the reply to the call
 * numbered agen.  gen (if asked): the node's incarnation, the core's
 * ident gen */
int nn_install(struct nsb *s, const struct fh3 *fh, const struct stat *st,
	       uint64_t agen, uint64_t *ino, uint64_t *gen);
/* n's handle, into *fh: 0, or -ESTALE (fh untouched) once n is found
 * stale, its handle naming another file now (a reconnect's check,
 * nv_rebuild, or a GETATTR's): a request on it would act on that other
 * file.  Every request on a node's handle takes the handle here, so no
 * operation, present or future, sends one on a stale node; the check is
 * one load and a branch in the critical section that copies the handle.
 * nn_fh_locked: => s->lock held. */
static inline int nn_fh_locked(const struct node *n, struct fh3 *fh)
{
	if (atomic_load_explicit(&n->stale, memory_order_relaxed))
		return -ESTALE;
	*fh = n->fh;
	return 0;
}
int nn_fh(struct nsb *s, struct node *n, struct fh3 *fh);
/* The same, for a request that acts on n's file by its handle alone (a
 * name in a directory, a listing, a setattr, a readlink: none of which
 * needs n open): if no answer since the last reconnect said the handle
 * still names n's file, a GETATTR asks first (c's deadline); another
 * file: -ESTALE, and n is stale for good.  Only the root and open files
 * are checked by the reconnect itself. */
int nn_fh_verified(struct nsb *s, struct n3 *c, struct node *n,
		   struct fh3 *fh);
/* 0, or -ESTALE as nn_fh, for an operation that may answer without a
 * request on the handle (a lookup from the name cache). */
int nn_live(struct nsb *s, struct node *n);
/* a's attributes (if any, and n's file's) from the reply to the call
 * numbered agen, through nn_attr_apply_locked */
void nn_attr(struct nsb *s, struct node *n, const struct n3attr *a,
	     uint64_t agen);
void nn_invalidate_all(struct nsb *s);
void nn_name_changed(struct nsb *s);
void nn_forget_attr(struct nsb *s, uint64_t ino);
enum nname_hit nn_name_get(struct nsb *s, struct node *d, const char *name,
			   struct uvfs_ident *id);
uint64_t nn_gen(struct nsb *s);
uint64_t nn_dir_ver(struct nsb *s, struct node *d);
void nn_dir_changed(struct nsb *s, struct node *d);
void nn_name_put(struct nsb *s, struct node *d, const char *name,
		 uint64_t ino, mode_t type, uint64_t gen);
void nn_name_put_neg(struct nsb *s, struct node *d, const char *name,
		     uint64_t gen, uint64_t dver);
void nn_name_put_since(struct nsb *s, struct node *d, const char *name,
		       uint64_t ino, mode_t type, uint64_t gen, uint64_t dver);
void nn_name_gone(struct nsb *s, struct node *d, const char *name);
int nn_getattr(struct nsb *s, struct n3 *c, struct node *n,
		 struct stat *st, bool force);
/* r from a request on n's handle: -ESTALE drops the names kept for n's
 * file (the core's second try asks the server).  => r */
int nn_handle_stale(struct nsb *s, struct node *n, int r);
/* The same for an open: a file removed is -ESTALE (the core looks its
 * name up again), where nn_getattr answers the cached attributes with no
 * links (what a descriptor open on a removed file shows). */
int nn_getattr_live(struct nsb *s, struct n3 *c, struct node *n,
		    struct stat *st, bool force);

/* nfs.c */
/* Looks name up in d and installs what it names: its ident (ino, type,
 * the node's incarnation), and if asked its handle. */
int nn_lookup_install(struct nsb *s, struct n3 *c, struct node *d,
		      const char *name, struct uvfs_ident *id,
		      struct fh3 *fhp);

/* remove.c: a name's removal against the opens of its file */
/* Before the REMOVE or RENAME that takes name in d (a rename's target:
 * same_as_dir_name in same_dir its source): 1 if the name was the last of
 * a file open here and is renamed to a ".nfsXXXX" name instead (the
 * removal is done), 0 to go on (then nn_remove_end after it), or an
 * error. */
int nn_remove_begin(struct nsb *s, struct n3 *c, struct node *d,
		    const char *name, const char *same_as_dir_name,
		    struct node *same_dir, struct rmpin *pin);
void nn_remove_end(struct nsb *s, struct rmpin *pin);
/* Counts an open of n (not a directory) and waits for the removals in
 * flight that may take its file: true if it waited (the file may be gone:
 * ask the server).  nn_open_undo if the open fails after. */
bool nn_open_begin(struct nsb *s, struct node *n);
void nn_open_undo(struct nsb *s, struct node *n);
/* The REMOVE of name in dir, as cred (NULL: root), for a silly rename
 * about to be made: the entry, with the mount's reaper started; NULL if
 * either cannot be had (the rename does not happen: -ENOMEM).
 * nn_silly_free frees one never queued. */
struct sillyrm *nn_silly_new(struct nsb *s, const struct fh3 *dir,
			     const char *name, const struct uvfs_cred *cred);
/* The rename was made and e is its file's (n->silly): until its last
 * close, an RMDIR of its directory answered "not empty" waits a moment
 * for that close (nn_silly_wait).  => s->lock held. */
void nn_silly_opened_locked(struct nsb *s, struct sillyrm *e);
/* Frees e, on no list (a rename that failed), or at the unmount with the
 * node that still has it (the lists go with the mount). */
void nn_silly_free(struct sillyrm *e);
/* The REMOVE at the file's last close (e taken).  Sent here if it can go
 * at once (NC_NOWAIT), and queued for the mount's reaper, which sends it
 * if not, takes its answer and asks again after a JUKEBOX or a loss
 * (n3_backoff's pauses) until the mount's timeout after it first went.
 * Waits for no answer, reconnect, free tag or room in the link; nothing
 * it allocates must succeed (a try that cannot start is the reaper's).
 * A REMOVE the link took only a part of went (RS_NOWAIT): its end is
 * the session's, sent by the next request or by the reaper's wait. */
void nn_silly_remove(struct nsb *s, struct sillyrm *e);
/* Before an RMDIR, or a RENAME over a directory, goes: a mark for
 * nn_silly_wait. */
uint64_t nn_silly_mark(struct nsb *s);
/* After it was answered "not empty": waits, by c's deadline, for the
 * silly-renamed files' REMOVEs still pending in the directory name in d,
 * and at most SILLY_CLOSE_MS for the last closes of those still open
 * here (a forced unmount ends the wait).  true if it is worth asking once
 * more: it waited for them and all ended, or a removal ended since mark
 * (it may have been done after the RMDIR). */
bool nn_silly_wait(struct nsb *s, struct n3 *c, struct node *d,
		   const char *name, uint64_t mark);
/* RMDIR of name in d (*da: d's attributes after), asked once more after
 * nn_silly_wait if answered not empty. */
int nn_rmdir(struct nsb *s, struct n3 *c, struct node *d, const char *name,
	     struct n3attr *da);
/* The mount's side: nn_silly_init at the mount; nn_silly_cancel at a
 * forced unmount, before the connection is killed (every pending REMOVE
 * dropped, nothing more sent, waiters woken); nn_silly_fini at the
 * unmount: the pending ones get until the mount's timeout to end, then
 * are dropped (the connection killed), and the reaper is joined. */
void nn_silly_init(struct nsb *s);
void nn_silly_cancel(struct nsb *s);
void nn_silly_fini(struct nsb *s);

/* wb.c: writes behind and COMMIT */
void nw_init(struct node *n);
/* Sends len bytes at off behind, for the open file whose wb_seen is seen
 * (NULL: none): the count sent, or an error (at once, -ESTALE for a stale
 * node, then a write behind's latched one that seen has not reported
 * yet). */
ssize_t nw_write(struct nsb *s, struct n3 *c, struct node *n,
		 const uint64_t *seen, const void *buf, size_t len,
		 uint64_t off);
/* O_APPEND: waits for the writes of n in flight, asks the server for the
 * size (the cache's with cache=loose) and sends len bytes behind at it
 * (*at), all under n->wb_lock, so that two appends of this mount never
 * write at one end: the count sent, or an error (-EFBIG if the end
 * would pass the largest offset: nothing sent). */
ssize_t nw_append(struct nsb *s, struct n3 *c, struct node *n,
		  const uint64_t *seen, const void *buf, size_t len,
		  uint64_t *at);
/* Waits for every write of n in flight (their errors are latched; a
 * JUKEBOX asked again within c's deadline). */
void nw_settle(struct nsb *s, struct n3 *c, struct node *n);
/* Waits for them, COMMITs (sending again what a changed verifier may
 * have lost): 0 or an error (-ESTALE at once for a stale node).  seen
 * (an open file's wb_seen: fsync, close) gets the latched error first if
 * it has not reported it yet (then it has); NULL (a truncation): only the
 * commit's own. */
int nw_commit(struct nsb *s, struct n3 *c, struct node *n, uint64_t *seen);
/* n's count of write-behind errors now (an open file reports those after
 * it). */
uint64_t nw_errseq(struct node *n);
/* Drops what n sent behind and the server has not committed, without
 * waiting: the WRITEs in flight given up (never sent again), the kept
 * ones freed, the background COMMIT given up, n no longer dirty (its
 * last release commits nothing).  Its file was revoked (nv_revoke). */
void nw_drop(struct nsb *s, struct node *n);
/* Waits for what is still in flight and drops what is kept (the node's
 * end; the connection must still be there). */
void nw_fini(struct node *n);

/* ra.c: an open file's read-ahead window (docs/nfs.md, "Read-ahead") */
/* A read of n (< RA_BYTES) bytes at off through h's window: the bytes
 * read (short only at the end of the file), an error, or -EAGAIN (not
 * from the window: the caller reads for itself).  => h->ra_lock held. */
ssize_t nr_read(struct nsb *s, struct n3 *c, struct node *nd,
		struct handle *h, void *buf, size_t n, uint64_t off);
/* Drops h's window without waiting.  => h->ra_lock held (or h is being
 * freed). */
void nr_drop(struct nsb *s, struct handle *h);

/* mount.c: the mount's side of the type's table */
extern const struct uvfs_fsopt nv_fsopts[];
int nv_mount(struct uvfs_sb *sb, const char *source, const char *options,
	     uint64_t *root_ino);
void nv_unmount(struct uvfs_sb *sb);
void nv_cancel(struct uvfs_sb *sb);
int nv_statfs(struct uvfs_sb *sb, struct statvfs *st);
int nv_vget(struct uvfs_sb *sb, uint64_t ino, void **priv);
/* The supervisor's hook after a reconnect (rpc.h's nc_rebuild_fn; arg:
 * the struct nsb): the root and every open file checked, a handle that
 * names another file now makes its node stale. */
int nv_rebuild(void *arg);
void nv_reclaim(struct uvfs_sb *sb, void *priv);

#endif /* UVFS_NFS_I_H */
