/*
 * driver.h - the 9P client driver's own objects (client.c, fids.c, names.c,
 * cache.c, mount.c, vnops.c, io.c, lock.c, lsplus.c, xattr.c): the nodes
 * behind vnodes, shared fids, open handles, the superblock's private
 * object, and the functions those files share (each under the name of
 * the file that defines it).  Internal to lib/9p.
 */
#ifndef UVFS_9P_DRIVER_H
#define UVFS_9P_DRIVER_H

#include <string.h>
#include <sys/stat.h>
#include <uvfs/fs.h>

#include "conn.h"
#include "htab.h"
#include "pool.h"

#define LRU_MAX         4096    /* unreferenced nodes kept (the names of
				 * one listing walked ahead: LS_MAX) */
#define FIDS_DEFAULT    8192    /* node fids held (fids=): the rest are
				 * released and walked again on demand */

/* Another name of a file (a hard link): its directory's ino and the name. */
struct alias {
	struct alias *next;
	uint64_t pino;
	char name[];
};

#define ALIAS_MAX       16      /* other names kept per file */

/* A file the driver knows: a vnode's private object. */
struct node {
	uint64_t ino;           /* qid.path */
	struct fid *fid;        /* s->lock; walked, never opened */
	unsigned fidgen;        /* s->lock: fids installed so far
				 * (node_set_fid_locked) */
	unsigned refs;          /* s->lock: vnodes using it (+1 the root),
				 * and write-behind jobs */
	unsigned vnodes;        /* s->lock: the vnodes alone (p9_revoke) */
	atomic_uint type;       /* S_IFMT once known (getattr), else 0 */
	unsigned nopen;         /* s->lock: handles open on it */
	/* s->lock: where the fid was walked to (the parent's ino and the
	 * name; NULL if unknown) and s->gen then, to walk again from the
	 * root after a rename made a path-named fid stale */
	uint64_t pino;
	char *name;
	uint64_t gen;
	uint64_t moved;         /* s->lock: s->gen of the last rename of it
				 * (its fid, and those below, may be stale) */
	bool gone;              /* s->lock: its name was removed here (an
				 * unlink, or a rename over it) and it had
				 * no other: it keeps its fid if it has one,
				 * and cannot be walked to again (ENOENT, as
				 * a removed file: never by the old name,
				 * which may be another file's by now) */
	/* s->lock: the file's other names (hard links) this mount made or
	 * found (a lookup of another name gave this qid), not (pino, name);
	 * when the fid's name is gone one of them is walked instead
	 * (docs/9p-client.md, "Hard links") */
	struct alias *aliases;
	unsigned naliases;
	bool linked;            /* s->lock: counted in its parent's kids */
	unsigned kids;          /* s->lock: nodes linked to this one as their
				 * parent: it stays in the table (their walk
				 * again from the root needs its name) */
	struct hlink hl;        /* s->lock: s->hash, by ino */
	/* s->lock: the name cache (docs/9p-client.md, "Round trips"): the
	 * chain of the table by (pino, name), and when the server last
	 * said that name is this file (0: not since a change here) */
	struct hlink nl;        /* s->lock: s->nhash while it has a name */
	uint64_t name_ns, name_sgen;
	/* s->lock: on s->multi while the file may be known here by a name
	 * other than (pino, name): it has aliases, or its cached attributes
	 * say it has more than one link (multi_update_locked).  A name
	 * change visits these and the name's own chain, not the table */
	struct node *mnext, **mpprev;
	struct node *lprev, *lnext; /* s->lock: LRU when refs == 0 */
	/* s->lock: a create or a lookup gave the core this node's number,
	 * and the core's vget follows in the same call: until then (at
	 * most the mount's timeout, monotonic ns; 0: not pinned) the LRU
	 * does not evict it (node_pin) */
	uint64_t pin_ns;
	/* s->lock: the fid cache (docs/9p-client.md, "fids are a cache"):
	 * nodes holding a fid that can be walked again, most recently used
	 * first; fid NULL once released */
	struct node *fprev, *fnext;
	/* s->lock: the attribute cache (docs/9p-client.md, "round trips"):
	 * the last Rgetattr and when it came (monotonic ns); valid while
	 * attr_ok and younger than the mount's actimeo; dropped by every
	 * change this mount makes to the file */
	struct p9_rgetattr attr;
	uint64_t attr_ns;
	uint64_t attr_sgen;     /* the session they came from: a recovery
				 * (the server's files may have changed
				 * meanwhile) makes them stale */
	bool attr_ok;
	bool perm_ok;           /* attr's mode, uid and gid at least (a name
				 * change in a directory leaves them) */
	/* s->lock: the walk a create sent behind for this new file is out
	 * (nodewalk): an operation that needs the node's fid waits for it
	 * (s->walk_cv) rather than walking the name again */
	bool walking;
	/* s->lock: the open fid Tlcreate left (O_RDWR), for the open that
	 * follows a create; clunked if no open takes it */
	struct fid *pre;
	uint32_t pre_iounit;
	/* s->lock: a directory's clone for its next Tlcreate (taken by it,
	 * made again alongside it), and s->gen when it was made */
	struct fid *spare;
	uint64_t spare_gen;
	/* write-behind (pool lock): Twrites sent and not yet answered, and
	 * the first error of one (reported at the next write or fsync) */
	struct pbatch wb;
	atomic_int wb_err;      /* set and cleared under s->lock (wb_run,
				 * p9_revoke); taken without */
	uint64_t wb_end;        /* s->lock: where the last write behind ended */
	/* bumped by a revoke (under c.s.lock, then wb_err cleared under
	 * s->lock): a write behind of an earlier generation is dropped, never
	 * sent again (rpc_guard) and its error not kept */
	atomic_uint wb_gen;
	atomic_ulong dgen;      /* writes and truncations through this mount
				 * (read-ahead from before one is dropped) */
	/* s->lock: a directory's last listing (names, up to LS_MAX), for
	 * the walks and getattrs a lookup of one of them sends together
	 * (kept by cache.c, used by lsplus.c: "ls -l") */
	char **ls;
	unsigned nls;
	uint64_t ls_ns;
	unsigned pf_next;       /* where the last of those batches ended: a
				 * name before it is not a reason for another
				 * (each name of a listing is walked ahead at
				 * most once, whatever the order of lookups) */
};

#define LS_MAX          4096    /* names of a listing kept */

/* A Treaddir reply kept in a directory's handle (io.c). */
struct rdcache {
	struct reply rp;
	uint64_t off;           /* the cookie it was asked from */
	bool eof;               /* it was empty: the end is at off */
	/* the next Treaddir, sent when this reply came (from the offset of
	 * its last entry), so that reaching the end of this one waits for
	 * a reply already on its way (an ls reads to the end) */
	struct conn *ahead_c;   /* NULL: none out */
	struct rpc_async ahead;
	uint64_t ahead_off;
	struct fid *ahead_fid;  /* a use of the fid it went out on, kept
				 * until its reply (a Tclunk must not
				 * overtake it: conn.h, struct fid) */
	/* the reply to that one, already in (a stat that walks the names
	 * ahead took it, for its names: lsplus.c, "ls -l"); the one sent
	 * ahead then follows it */
	bool have_next;
	struct reply next;
	uint64_t next_off;
};

/* An open file (the core's fh). */
struct handle {
	struct fid *fid;        /* walked and Tlopen'ed */
	uint32_t iounit;
	bool append;            /* opened O_APPEND: writes are never replayed
				 * (the server appends whatever the offset) */
	bool sync;              /* O_SYNC, O_DSYNC or O_DIRECT: no write-behind */
	struct rdcache *rd;     /* s->lock (taken out while used): a
				 * directory's last Treaddir reply */
	/* read-ahead (io.c): ra_lock guards ra, ra_next, ra_seq and is held
	 * while a read takes from the pieces */
	pthread_mutex_t ra_lock;
	struct rapiece *ra;     /* pieces asked, by offset */
	uint64_t ra_next;       /* where the last read ended */
	unsigned ra_seq;        /* reads in sequence so far (capped) */
	atomic_uint refs;       /* the core's (open to release) + one per
				 * write behind in flight: the last frees it */
	struct node *node;
	struct handle *prev, *next; /* s->lock: open handles */
};

struct p9sb {
	struct conn c;
	pthread_mutex_t lock;   /* nodes, LRU, handles */
	struct htab hash;       /* lock: the nodes by ino */
	struct htab nhash;      /* lock: the named nodes by (pino, name) */
	struct node lru;        /* head: lnext newest */
	unsigned nlru;
	struct handle handles;  /* list head */
	struct node *root;
	struct node flru;       /* lock: the fid cache's head (fnext: the
				 * most recently used) */
	unsigned nfids, maxfids;        /* lock; const */
	unsigned long fid_releases;     /* lock: fids released by the cache */
	uint64_t gen;           /* lock: renames and removed names so far */
	unsigned nchanging;     /* lock: renames and removals sent whose
				 * names the table does not show yet
				 * (change_begin to change_end): a walk by
				 * names that raced one is tried again */
	unsigned nguarded;      /* lock: walks tried again after such a
				 * race; no change begins while one is
				 * out (walk_cv) */
	struct node *multi;     /* lock: nodes that may have other names
				 * (struct node, mnext) */
	uid_t uid;              /* the attach user (n_uname) */
	pthread_cond_t walk_cv;         /* lock: a node's walk behind a
					 * create ended (node->walking) */
	atomic_bool no_unlinkat, no_renameat; /* server lacks them: fall
					       * back to Tremove, Trename */
	/* Whether it has them is asked at mount, not waited for there
	 * (caps_probe): a Tunlinkat and a Trenameat of "." that no server
	 * carries out, answered EOPNOTSUPP by one without them. */
	pthread_mutex_t caps_lock;      /* the answers' taking (caps_settle) */
	atomic_bool caps_out;           /* caps_lock (set before the
					 * session is shared): the probes
					 * are out, not yet taken */
	struct rpc_async caps_unl, caps_ren;    /* caps_lock */
	struct p9pool pool;     /* requests in flight for one caller */
	struct pbatch ra_b;     /* pool lock: read-ahead pieces in flight */
	struct pbatch nw_b;     /* pool lock: walks behind creates */
	uint64_t actimeo_ns;    /* const: how long attributes are reused */
	bool loose;             /* const: cache=loose: one client writes */
	size_t wbwindow;        /* const: bytes written behind per file
				 * (0: none) */
};

static inline struct p9sb *S(struct uvfs_sb *sb)
{
	return uvfs_sb_private(sb);
}

/* The name index's hash of (pino, name) (names.c). */
static inline uint64_t nhash_of(uint64_t pino, const char *name)
{
	uint64_t h = pino * 0x9e3779b97f4a7c15ULL;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	return h ^ (h >> 29);
}

/* => s->lock held.  The nodes named (pino, name), one after the other:
 *     for (n = named_first(s, &it, pino, name); n;
 *          n = named_next(s, &it, pino, name))
 * (the index must not change meanwhile, but by the removal of the node
 * the loop stops at). */
static inline struct node *named_from(struct hlink *l, struct p9sb *s,
				      struct hiter *it, uint64_t pino,
				      const char *name)
{
	for (; l; l = hiter_next(&s->nhash, it)) {
		struct node *n = htab_entry(l, struct node, nl);
		if (n->pino == pino && strcmp(n->name, name) == 0)
			return n;
	}
	return NULL;
}

static inline struct node *named_first(struct p9sb *s, struct hiter *it,
				       uint64_t pino, const char *name)
{
	return named_from(hiter_first(&s->nhash, it, nhash_of(pino, name)),
			  s, it, pino, name);
}

static inline struct node *named_next(struct p9sb *s, struct hiter *it,
				      uint64_t pino, const char *name)
{
	return named_from(hiter_next(&s->nhash, it), s, it, pino, name);
}

/* ---- client.c: the table of nodes ---- */
/* => s->lock held */
struct node *node_find_locked(struct p9sb *s, uint64_t ino);
void lru_del_locked(struct p9sb *s, struct node *n);
void hash_del_locked(struct p9sb *s, struct node *n);
/* => s->lock held.  n's parent link follows n->pino (pino: the new one;
 * 0: none). */
void node_link_locked(struct p9sb *s, struct node *n, uint64_t pino);
void node_free(struct p9sb *s, struct node *n);
/* fidnum P9_NOFID: the node without a fid (a create's: walked on
 * demand, or by the walk sent behind it).  The walk's name (pino, name)
 * is recorded only if no name changed here since gen and, for a lookup
 * (a name that was there, not one this mount just made), none is
 * changing (a rename or removal under way). */
int node_install(struct p9sb *s, uint64_t ino, uint32_t fidnum,
		 bool replace, uint64_t pino, const char *name, uint64_t gen,
		 bool lookup);
/* ino's node is about to be handed to the core (a create's or a lookup's
 * answer, whose vget follows): kept off the LRU's evictions until that
 * vget, or the mount's timeout (client.c, node_pin).  _pinned: the
 * same as node_install, pinned in the same hold of the lock. */
void node_pin(struct p9sb *s, uint64_t ino);
int node_install_pinned(struct p9sb *s, uint64_t ino, uint32_t fidnum,
			bool replace, uint64_t pino, const char *name,
			uint64_t gen, bool lookup);
/* Walks fid to name (NULL: a clone) into a new fid. */
int walk(struct p9sb *s, uint32_t fid, const char *name, uint32_t *newfid,
	 struct p9_qid *qid);
uint64_t sb_gen(struct p9sb *s);
/* An Rgetattr no file can have: no file type or one Linux does not
 * know, or a size past off_t (a server's bug, which the kernel's FUSE
 * client would take for a bad inode): -EIO, as any malformed answer. */
int attr_check(const struct p9_rgetattr *ga);
/* Tgetattr of fid; an answer attr_check refuses is -EIO. */
int getattr_fid(struct p9sb *s, uint32_t fid, struct p9_rgetattr *ga);
/* Clones n's fid and opens the clone. */
int open_fid(struct p9sb *s, struct node *n, int flags, uint32_t *fid,
	     uint32_t *iounit);
/* The largest data count for one Tread/Twrite. */
uint32_t io_max(struct p9sb *s, uint32_t iounit);
/* Keeps n in the table while a job uses it (node_rele gives it back). */
void node_hold(struct p9sb *s, struct node *n);
void node_rele(struct p9sb *s, struct node *n);

/* ---- fids.c: the nodes' fids and the fid cache ---- */
struct fid *fid_new(uint32_t num);
/* Drops a use; the last one clunks (asynchronously). */
void fid_put(struct p9sb *s, struct fid *f);
/* n's walked fid, with a use taken (walked again first if a rename
 * through this mount moved n or a directory above it since: a path-named
 * fid would name whatever is at the old path): 0 and *f, or why n's fid,
 * released by the cache, could not be walked again (-ENOENT: its file was
 * removed here, or its name is gone on the server, as for a file removed
 * after its lookup; -ESTALE: another file is at its path, or the chain of
 * names to it is not known). */
int node_fid(struct p9sb *s, struct node *n, struct fid **f);
/* For getattr: an open handle's fid if n has one (*open true), else the
 * fid its create opened if it has no walked one yet (*open true), else n's. */
int node_attr_fid(struct p9sb *s, struct node *n, struct fid **f,
		  bool *open);
/* A rename or removal is sent (begin), and the table shows its names
 * (end: after the table's update; wakes walks waiting on walk_cv). */
void change_begin(struct p9sb *s);
void change_end(struct p9sb *s);
/* Around the retry of an operation that failed on a stale fid
 * (stale_retry): the changes under way end first, and none begins until
 * guard_end, so the retry walks names that hold still.  Not around a
 * rename or a removal (change_begin would wait for its own guard). */
void guard_begin(struct p9sb *s);
void guard_end(struct p9sb *s);
/* Walks n again from the root by its chain of names, installs the fid
 * (rewalk_get: and gives the caller a reference to it in *got).  A walk
 * that fails while a rename or removal through this mount is under way
 * (it may have walked names that were just changed on the server) waits
 * for the changes under way to end and is tried again with no new one
 * begun meanwhile (nguarded), REWALK_TRIES times in all (each wait is
 * bounded by a call's deadline). */
int rewalk_get(struct p9sb *s, struct node *n, struct fid **got);
static inline int rewalk(struct p9sb *s, struct node *n)
{
	return rewalk_get(s, n, NULL);
}
/* => s->lock held.  n's fid becomes f (ownership passes); the old one,
 * and one the cache released, are returned to be put unlocked. */
void node_set_fid_locked(struct p9sb *s, struct node *n, struct fid *f,
			 struct fid **old, struct fid **released);
/* => s->lock held.  node_set_fid_locked of f, walked to n at rename
 * generation gen, unless n's fid was walked at a later one (false: f not
 * taken, *old and *released NULL). */
bool node_offer_fid_locked(struct p9sb *s, struct node *n, struct fid *f,
			   uint64_t gen, struct fid **old,
			   struct fid **released);
/* => s->lock held.  n leaves the fid cache (its fid, if any, stays). */
void flru_del_locked(struct p9sb *s, struct node *n);
/* => s->lock held.  Was n, or a directory above it, renamed after
 * rename generation gen (or is its chain of names not known whole)? */
bool moved_since_locked(struct p9sb *s, struct node *n, uint64_t gen);
/* An operation on n's fid failed with r (ENOENT, ESTALE): true if it is
 * worth retrying (under guard_begin), because n's fid was walked before a
 * rename and could walk again, or another caller installed a new one
 * since this thread took it.  The renames under way are waited for first. */
bool stale_retry(struct p9sb *s, struct node *n, int r);
/* An operation on a name in directory d failed with r: true if it is
 * worth making again (under guard_begin where it may): stale_retry's
 * reasons for d, or a rename through this mount overlapped it (the
 * rename generation moved past gen, read before the operation began). */
bool dir_retry(struct p9sb *s, struct node *d, int r, uint64_t gen);
/* What an operation on n itself (getattr, setattr, readlink, open, its
 * xattrs; not one on a name in it) answers when it failed with r after
 * stale_retry: -ESTALE, never -ENOENT. */
int stale_answer(struct p9sb *s, struct node *n, int r);
/* call, an operation on n's fid (a negative errno on failure), made once
 * more under the guard when stale_retry says so.  => its value */
#define STALE_RETRY(s, n, call) __extension__ ({                            \
	__typeof__(call) sr_ = (call);                                      \
	if (sr_ < 0 && stale_retry(s, n, (int)sr_)) {                       \
		guard_begin(s);                                             \
		sr_ = (call);                                               \
		guard_end(s);                                               \
	}                                                                   \
	sr_;                                                                \
})
/* STALE_RETRY of an operation on n itself, answered as stale_answer
 * says. */
#define NODE_CALL(s, n, call) __extension__ ({                              \
	__typeof__(call) nc_ = STALE_RETRY(s, n, call);                     \
	nc_ < 0 ? stale_answer(s, n, (int)nc_) : nc_;                       \
})
/* For a request that consumes a fid (Tremove): the fid of the node named
 * dir/name, if it was walked by that name (no rename since) and nobody
 * else uses it; the node is left without one (walked again on demand).
 * *type: the node's.  NULL if there is none such. */
struct fid *node_fid_take(struct p9sb *s, uint64_t pino, const char *name,
			  mode_t *type);
/* The fid of the node named dir/name, if walked by that name (no rename
 * since), with a use taken, and the node (*np).  NULL if none. */
struct fid *node_name_fid(struct p9sb *s, uint64_t pino, const char *name,
			  struct node **np);
/* n's fid names where the table says n is now (a Trename moved it). */
void node_fid_fresh(struct p9sb *s, struct node *n);

/* ---- cache.c: what is kept for actimeo= ---- */
/* The attribute cache: fresh attributes of n into *ga (true), or false. */
bool attr_get(struct p9sb *s, struct node *n, struct p9_rgetattr *ga);
void attr_put(struct p9sb *s, struct node *n, const struct p9_rgetattr *ga);
void attr_drop(struct p9sb *s, struct node *n);
/* n was read on the server (a listing, a symlink's target): its atime
 * may have moved there (relatime), so the attributes kept are not
 * answered again; the mode, owner and group kept for permission checks
 * stand (docs/9p-client.md, "Round trips"). */
void attr_drop_atime(struct p9sb *s, struct node *n);
/* Fresh mode, uid, gid of n (the rest may be stale). */
bool attr_get_perm(struct p9sb *s, struct node *n, struct p9_rgetattr *ga);
/* The name cache: the file the server last said dir/name is, if that
 * was within the attribute timeout (cache=loose: since any change here)
 * and its type is known: 1, *ino, *type; else 0. */
int name_get(struct p9sb *s, uint64_t pino, const char *name, uint64_t *ino,
	     mode_t *type);
/* => s->lock held.  The same. */
bool name_fresh_locked(struct p9sb *s, uint64_t pino, const char *name,
		       uint64_t *ino, mode_t *type);
/* dir/name changed here (unlinked, replaced): not known any more. */
void name_forget(struct p9sb *s, uint64_t pino, const char *name);
/* A listing of dir from its start (cookie 0: what was kept goes) or on:
 * name is one of its entries. */
void ls_note(struct p9sb *s, struct node *dir, bool start, const char *name);
void ls_free_locked(struct node *dir);

/* ---- names.c: the index by name, hard links, renames ---- */
/* => s->lock held.  n leaves the (pino, name) chain. */
void nhash_del_locked(struct p9sb *s, struct node *n);
/* => s->lock held.  Records where n's fid was walked to (name NULL: it
 * has no name now). */
void node_set_name_locked(struct p9sb *s, struct node *n, uint64_t pino,
			  const char *name, uint64_t gen);
/* => s->lock held.  n joins or leaves s->multi as it now may or may not
 * have other names (aliases, or cached attributes with nlink > 1), or
 * leaves it for good (gone: it leaves the table). */
void multi_update_locked(struct p9sb *s, struct node *n, bool gone);
/* => s->lock held.  The first node named (pino, name), or NULL. */
struct node *nhash_find_locked(struct p9sb *s, uint64_t pino,
			       const char *name);
/* => s->lock held.  (pino, name) is no longer / is another name of n
 * (alias_del_locked: true if it was one). */
bool alias_del_locked(struct p9sb *s, struct node *n, uint64_t pino,
		      const char *name);
void alias_add_locked(struct p9sb *s, struct node *n, uint64_t pino,
		      const char *name);
/* n's fid failed with ENOENT: its name may be gone.  Its other names are
 * walked in turn; true once one reached it. */
bool alias_rewalk(struct p9sb *s, struct node *n);
/* A rename moved (opino, oname) to (npino, nname): the table follows
 * (the node keeps its fid until its next use, when node_fid walks it
 * again by the new name: docs/9p-client.md "fids and renames"); a node
 * at the target name loses it.  The rename generation (s->gen) moves in
 * the same hold of s->lock. */
void node_renamed(struct p9sb *s, uint64_t opino, const char *oname,
		  uint64_t npino, const char *nname);
/* Hard links (docs/9p-client.md, "Hard links"): a link dir/name to n was
 * made; dir/name was removed (its file, if it has another name known,
 * is walked by that one from now on). */
void node_linked(struct p9sb *s, struct node *n, uint64_t pino,
		 const char *name);
void node_name_gone(struct p9sb *s, uint64_t pino, const char *name);
/* The server has just made a new file numbered ino (an exclusive
 * create): a node that had the number belonged to a file now gone (the
 * host reused its inode): its names and attributes go. */
void node_new_file(struct p9sb *s, uint64_t ino);

/* ---- io.c ---- */
/* Waits until the writes behind on n are answered (a stat, a read, a
 * truncate see them). */
void wb_settle(struct p9sb *s, struct node *n);
void rd_free(struct rdcache *rd);
/* The listing of dir goes on past what its open handle has read: the
 * Treaddir sent ahead (if its answer is in, or wait) is taken and its
 * names join dir's listing (the next one sent ahead in turn).  For the
 * walks ahead of an ls -l.  true if it took one. */
bool rd_pull_ahead(struct p9sb *s, struct node *dir, bool wait);
struct handle;
void ra_fini(struct p9sb *s, struct handle *h);
/* the vnode operations on open files */
int p9_open(struct uvfs_sb *sb, void *priv, int flags, void **fh);
void p9_release(struct uvfs_sb *sb, void *priv, void *fh);
ssize_t p9_read(struct uvfs_sb *sb, void *priv, void *fh, void *buf,
		size_t n, off_t off);
ssize_t p9_write(struct uvfs_sb *sb, void *priv, void *fh, const void *buf,
		 size_t n, off_t *off);
int p9_fsync(struct uvfs_sb *sb, void *priv, void *fh, int datasync);
int p9_flush(struct uvfs_sb *sb, void *priv, void *fh);
/* fs.h's revoke: the node's writes behind are dropped, never sent again */
void p9_revoke(struct uvfs_sb *sb, void *priv);
int p9_readdir(struct uvfs_sb *sb, void *priv, void *fh, uint64_t cookie,
	       uvfs_filldir_t fill, void *arg);

/* ---- vnops.c: the vnode operations on attributes and names ---- */
int p9_getattr(struct uvfs_sb *sb, void *priv, struct stat *st);
int p9_permission(struct uvfs_sb *sb, void *priv, int mask,
		  const struct uvfs_cred *cred);
int p9_setattr(struct uvfs_sb *sb, void *priv, const struct uvfs_setattr *sa);
int p9_lookup(struct uvfs_sb *sb, void *dir, const char *name,
	      struct uvfs_ident *id);
int p9_create(struct uvfs_sb *sb, void *dir, const char *name, mode_t mode,
	      dev_t rdev, const char *target, const struct uvfs_cred *cred,
	      struct uvfs_ident *id);
int p9_link(struct uvfs_sb *sb, void *dir, const char *name, void *priv);
int p9_unlink(struct uvfs_sb *sb, void *dir, const char *name, int isdir);
int p9_rename(struct uvfs_sb *sb, void *odir, const char *oname,
	      void *ndir, const char *nname, unsigned flags);
ssize_t p9_readlink(struct uvfs_sb *sb, void *priv, char *buf, size_t size);

/* ---- lock.c ---- */
int p9_lock(struct uvfs_sb *sb, void *priv, void *fh, int cmd,
	    struct uvfs_lock *lk);
void p9_unlock_on_release(struct uvfs_sb *sb, void *priv, void *fh);

/* ---- xattr.c ---- */
ssize_t p9_getxattr(struct uvfs_sb *sb, void *priv, const char *name,
		    void *value, size_t size);
ssize_t p9_listxattr(struct uvfs_sb *sb, void *priv, char *list,
		     size_t size);
int p9_setxattr(struct uvfs_sb *sb, void *priv, const char *name,
		const void *value, size_t size, int flags);
int p9_removexattr(struct uvfs_sb *sb, void *priv, const char *name);

/* lsplus.c: was d listed lately (a stat of each name may follow)?  Then
 * the walks and getattrs ahead of name and the listing's later names. */
bool listed_lately(struct p9sb *s, struct node *d);
void ls_prefetch(struct p9sb *s, struct node *d, const char *name);

/* mount.c: the Tunlinkat and Trenameat probes.  caps_probe sends them
 * after the attach (nothing waits); caps_settle takes their answers
 * before the first unlink or rename that needs them (waiting only if
 * they are not in yet); caps_abandon, at unmount, leaves unanswered
 * ones to the session. */
void caps_probe(struct p9sb *s);
void caps_settle(struct p9sb *s);
void caps_abandon(struct p9sb *s);

#endif /* UVFS_9P_DRIVER_H */
