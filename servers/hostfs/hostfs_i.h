/*
 * hostfs_i.h - what hostfs.c (confinement, identity, the operations on
 * one file, the table) and names.c (the operations on names) share.
 */
#ifndef UVFS_HOSTFS_I_H
#define UVFS_HOSTFS_I_H

#include <linux/openat2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#include "hostfs.h"
#include "pathidx.h"

struct hostfs {
	int rootfd;             /* O_PATH, the export */
	dev_t rootdev;
	bool as_root;           /* switch fsuid/fsgid per request */
	pthread_mutex_t flock;  /* the fid index: paths, every hfid's hp
				 * and links */
	/* rn_lock: a read-write lock, writers preferred (a stream of
	 * readers cannot keep a rename waiting).  Written by the renames
	 * through the server, one at a time: each takes its paths, renames
	 * on the host and moves its fids in the index with none other
	 * between (hs_rn_enter).  Read by Tremove and Tlink from their
	 * check that the entry naming their fid is still its file to their
	 * act on that name, so that no rename through the server puts
	 * another file there between (hs_rn_read_enter); and read and
	 * dropped at once to wait for a rename (hs_rn_again).  rn_seq
	 * (changed with rn_lock written, read without it) is odd from just
	 * before a rename's renameat to just after its fids moved: a fid's
	 * path copied then may name where its file was, so every resolution
	 * by a fid's path that fails while rn_seq moved waits for that
	 * rename and tries again (hs_rn_mark, hs_rn_again; resolve.c,
	 * "resolutions by path that a rename raced").  While rn_lock is
	 * held either way rn_seq does not move.  The lock order:
	 * docs/locking.md. */
	pthread_rwlock_t rn_lock;
	atomic_ulong rn_seq;
	atomic_ulong id_switches; /* fsuid/fsgid changes made (tests) */
	struct pidx paths;      /* flock: every fid by its path (renames,
				 * removals: names.c); a node's head is
				 * the first hfid at it */
};

/* A fid's object.  Its path is changed only by lcreate (fid exclusively
 * locked) and rename (rename_fids), under flock and plock both, so either
 * lock keeps it for a reader (who copies it: hf_snap); its identity only
 * by lcreate, under plock.  The lock order: docs/locking.md. */
struct hfid {
	pthread_mutex_t plock;
	struct pidx_node *hp;   /* flock + plock to change, either to read:
				 * its path, hp->path, relative to the
				 * root ("." = root); hp lives while hf
				 * is at it */
	dev_t dev;              /* plock */
	ino_t ino;              /* plock */
	mode_t type;            /* plock: S_IFMT bits */
	int fd;                 /* plock + the fid's lock: opened: the
				 * open descriptor, else -1 */
	int ofd;                /* plock: set once: the file was removed
				 * through the server, here it still is */
	struct hfid *next, *prev; /* flock: the fids at hp (from hp->head) */
	struct hfid *mnext;     /* flock: rename_fids' fids to move */
};

#define RESOLVE_FLAGS (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | \
		       RESOLVE_NO_MAGICLINKS)

/* resolve.c: paths (hs_resolve, hs_resolve_at, hs_path_join) and a
 * fid's file by its path (hs_fid_fd, the retry after a rename);
 * hostfs.c: confinement, identity, helpers */
void hs_create_gid_done(struct hostfs *hs, struct p9srv_fid *dir);
void hs_create_gid(struct hostfs *hs, struct p9srv_fid *dir, uint32_t gid);
int hs_dir_fd(struct hostfs *hs, struct p9srv_fid *dir, bool *owned);
int hs_fid_fd(struct hostfs *hs, struct p9srv_fid *f, int flags,
	      bool *owned, struct stat *st);
void hs_fd_done(int fd, bool owned);
/* A resolution by a fid's path that a rename through the server raced
 * goes round again (resolve.c, "resolutions by path that a rename
 * raced"); the single tries that hs_fid_fd and the walk go round.
 * rn_lock: written by a rename (hs_rn_enter, hs_rn_exit), read by a
 * removal or a link of a fid (hs_rn_read_enter, hs_rn_read_exit). */
void hs_rn_enter(struct hostfs *hs);
void hs_rn_exit(struct hostfs *hs);
void hs_rn_read_enter(struct hostfs *hs);
void hs_rn_read_exit(struct hostfs *hs);
unsigned long hs_rn_mark(struct hostfs *hs);
bool hs_rn_raced(struct hostfs *hs, unsigned long mark);
bool hs_rn_again(struct hostfs *hs, unsigned long mark, int err, int tries);
int hs_fid_fd_by_path_once(struct hostfs *hs, struct hfid *hf, int flags,
			   char **pathp, struct stat *st);
int hs_fid_fd_once(struct hostfs *hs, struct hfid *hf, int flags,
		   bool *owned, struct stat *st);
uint16_t hs_file_gen(int dfd, const char *name);
int hs_name_check(struct p9_str n, char *out);
char *hs_path_join(const char *dir, const char *name);
int hs_resolve(struct hostfs *hs, const char *path, int flags);
int hs_resolve_at(int dirfd, const char *path, int flags);
bool hs_same_file(dev_t dev, ino_t ino, mode_t type, const struct stat *st);
void hs_stat_qid(struct hostfs *hs, const struct stat *st, uint16_t gen,
		 struct p9_qid *q);
char *hf_snap(struct hfid *hf, dev_t *dev, ino_t *ino, mode_t *type);
/* The fid index (hostfs.c): the first fid at n; hf put at path (0, or
 * -ENOMEM: it stays where it was); hf taken out.  => flock held. */
struct hfid *hs_index_first(const struct pidx_node *n);
int hs_index_put_locked(struct hostfs *hs, struct hfid *hf, const char *path,
			size_t len);
void hs_index_drop_locked(struct hostfs *hs, struct hfid *hf);
struct hostfs *hs_of(struct p9srv_req *r);

/* names.c: the operations on names (in hostfs_ops) */
int hs_mkdir(struct p9srv_req *r, struct p9srv_fid *dir,
	     const struct p9_tmkdir *t, struct p9_qid *qid);
int hs_symlink(struct p9srv_req *r, struct p9srv_fid *dir,
	       const struct p9_tsymlink *t, struct p9_qid *qid);
int hs_mknod(struct p9srv_req *r, struct p9srv_fid *dir,
	     const struct p9_tmknod *t, struct p9_qid *qid);
int hs_link(struct p9srv_req *r, struct p9srv_fid *dir,
	    struct p9srv_fid *f, struct p9_str n);
int hs_rename(struct p9srv_req *r, struct p9srv_fid *f,
	      struct p9srv_fid *dir, struct p9_str n);
int hs_renameat(struct p9srv_req *r, struct p9srv_fid *od,
		struct p9_str on, struct p9srv_fid *nd,
		struct p9_str nn);
int hs_unlinkat(struct p9srv_req *r, struct p9srv_fid *dir,
		struct p9_str n, uint32_t flags);
/* xattr.c: the extended attributes (in hostfs_ops) */
ssize_t hs_xattrwalk(struct p9srv_req *r, struct p9srv_fid *f,
		     const char *name, void *buf, size_t cap);
int hs_xattrcreate(struct p9srv_req *r, struct p9srv_fid *f,
		   const char *name, const void *value, size_t size,
		   uint32_t flags);
/* names.c: removes the entry a create made when the reply is an error */
void hs_undo_create(int dfd, const char *name, int fd, mode_t type);
int hs_remove(struct p9srv_req *r, struct p9srv_fid *f);

#endif
