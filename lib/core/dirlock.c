/*
 * dirlock.c - the directory locks: what holds a directory from the lookup
 * of a name in it to the driver's call that changes that name (unlink,
 * rmdir, rename, link, create: names.c, fileopen.c, node.c).
 *
 * A superblock owns SB_NDIRLOCKS mutexes (sb->dirlocks, made with the sb
 * and destroyed with it); a directory's lock is the one its inode number
 * hashes to, so every vnode of one directory (a dead one and its
 * successor too) has the same lock, and a vnode carries no lock of its
 * own (its size is counted: docs/design.md, "Vnode memory").  Two
 * directories may share a lock: their name changes then wait for each
 * other, which costs time, never correctness.
 *
 * A struct dirop (core.h) records the lock it holds (d->locked) and
 * dirop_end releases it; a rename holds two, taken in the order of their
 * addresses (once when they are the same), so that two renames cannot
 * wait for each other.  Nothing here outlives the call that takes it.
 *
 * Order (docs/locking.md): taken outside every gate, before any other
 * lock of the core; held across the lookup, the checks and the driver's
 * call.  docs/locking.md says why no rename mutex is needed.
 */
#include "core.h"

void dirlocks_init(struct uvfs_sb *sb)
{
	for (unsigned i = 0; i < SB_NDIRLOCKS; i++)
		pthread_mutex_init(&sb->dirlocks[i], NULL);
}

void dirlocks_destroy(struct uvfs_sb *sb)
{
	for (unsigned i = 0; i < SB_NDIRLOCKS; i++)
		pthread_mutex_destroy(&sb->dirlocks[i]);
}

/* The lock of the directory dvp: a multiplicative hash of its inode
 * number, top bits (SB_NDIRLOCKS = 64). */
static pthread_mutex_t *dirlock_of(const struct vnode *dvp)
{
	uint64_t h = dvp->ino * 0x9e3779b97f4a7c15ULL;

	_Static_assert(SB_NDIRLOCKS == 64, "the hash keeps 6 bits");
	return &dvp->sb->dirlocks[h >> 58];
}

void dirop_lock(struct dirop *d)
{
	d->locked = dirlock_of(d->np.dir.vp);
	pthread_mutex_lock(d->locked);
}

void dirop_lock2(struct dirop *o, struct dirop *n)
{
	pthread_mutex_t *a = dirlock_of(o->np.dir.vp);
	pthread_mutex_t *b = dirlock_of(n->np.dir.vp);

	if (a == b) {
		pthread_mutex_lock(a);
		o->locked = a;
		n->locked = NULL;
		return;
	}
	/* the same order in every rename: by address (the two may be of
	 * two superblocks: a rename across mounts, -EXDEV later) */
	if ((uintptr_t)a < (uintptr_t)b) {
		pthread_mutex_lock(a);
		pthread_mutex_lock(b);
	} else {
		pthread_mutex_lock(b);
		pthread_mutex_lock(a);
	}
	o->locked = a;
	n->locked = b;
}

void dirop_unlock(struct dirop *d)
{
	if (d->locked) {
		pthread_mutex_unlock(d->locked);
		d->locked = NULL;
	}
}
