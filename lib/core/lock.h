/*
 * lock.h - file locks inside the core (private to lib/core): the sets of
 * lockset.c and the lock manager of lock.c.  The rules are in those files
 * and in docs/design.md, "File locks".
 */
#ifndef UVFS_CORE_LOCK_H
#define UVFS_CORE_LOCK_H

#include "core.h"

struct lk_rec {
	struct lk_rec *next;
	struct uvfs_lock l;
	void *via;              /* the struct file it was taken through */
};

struct uvfs_lockset {
	struct lk_rec *head;
};

/* Does lk conflict with a lock of another owner?  *holder: the first. */
bool lockset_conflict(const struct uvfs_lockset *ls,
		      const struct uvfs_lock *lk, struct uvfs_lock *holder);
/* A granted lock or an unlock; 0 or -ENOMEM (ls unchanged). */
int lockset_apply_via(struct uvfs_lockset *ls, const struct uvfs_lock *lk,
		      void *via);
/* Drops the records match() accepts; true if there were any. */
bool lockset_drop(struct uvfs_lockset *ls,
		  bool (*match)(const struct lk_rec *r, const void *arg),
		  const void *arg);
void lockset_clear(struct uvfs_lockset *ls);

/* ---- lock.c ---- */
/* The lock operation of vnode_if.c, inside the gate (vi_lock). */
int lock_try(struct uvfs_sb *sb, struct vnode *vp, void *fh, int cmd,
	     struct uvfs_lock *lk, struct file *via);

/* The node API's calls (node.c): cmd F_GETLK/F_SETLK/F_SETLKW for owner,
 * in the flock space if flock; drop every lock of owner in one space. */
int file_lock_handle(struct file *f, uint64_t owner, int flock, int cmd,
		     struct flock *fl, pid_t pid, struct uvfs_lock_wait *w);
int file_unlock_owner(struct file *f, uint64_t owner, int flock);
/* The asynchronous F_SETLKW of uvfs_file_lock_async, for cred. */
int file_lock_async(struct file *f, const struct uvfs_cred *cred,
		    uint64_t owner, int flock, const struct flock *fl,
		    pid_t pid, struct uvfs_lock_wait *w,
		    uvfs_lock_done_fn done, void *arg);

#endif
