/*
 * memfs.c - the built-in in-memory file system.  This file: nodes, page
 * accounting, options, the instance, attributes, file data, readdir and
 * the operations table; the ino table is in memfs_itab.c, the page tree
 * in memfs_radix.c, directories and the operations on names in memfs_dir.c,
 * extended attributes in memfs_xattr.c, the page memory (a pool shared by
 * every instance of the process) in memfs_pages.c, the structures in
 * memfs_i.h.
 *
 * What it owns
 *   One struct memfs per mounted instance (the sb's private data) holding
 *   every node of the instance.  A node is a regular file (data in 4 KiB
 *   pages in a sparse radix tree: holes read as zeros and cost nothing;
 *   fallocate reserves pages, memfs_holes.c), a
 *   directory (a name hash for lookup plus an array in insertion order that
 *   gives readdir stable cookies), a symlink (its target), or a device,
 *   fifo or socket (metadata only).  Any node may also hold extended
 *   attributes: a short list of (name, value) in the order they were first
 *   set (the core keeps user.* to files and directories).  Nodes are named
 *   by a 64-bit ino from a per-instance counter that is never reused; an
 *   ino table (hash) finds a node in O(1) for vget.
 *
 * Space
 *   The size= limit counts pages: the data pages of regular files, a page
 *   for a symlink's target of SYMLINK_PAGED_MIN bytes or more (tmpfs's
 *   page for it), and for each node the bytes of its extended attributes
 *   (names and values) rounded up to whole pages.  All are charged to one
 *   counter, used_pages, before the memory is taken; over the limit a
 *   write, a symlink or a setxattr fails with -ENOSPC.  The data pages themselves come from the page pool
 *   (memfs_pages.c) and go back to it when a file loses them (truncate,
 *   punch, the file's end, the instance's unmount): the count is the
 *   instance's, the memory the process's (docs/memfs.md).
 *
 * Node lifetime
 *   A node lives while it has links (nlink > 0) or vnode references
 *   (vrefs > 0: one per vget not yet matched by a reclaim).  nlink changes
 *   with ns_lock written and the node lock held; vrefs changes under
 *   itab_lock.  Whoever brings the second of the two to zero does so with
 *   the node lock and itab_lock held, takes the node out of the ino table
 *   there, and frees it after dropping its locks: nothing can reach it any
 *   more (no entry names it, no vnode holds it, vget cannot find it).  So an
 *   unlinked file stays readable through its vnode until reclaim.
 *   An unlink or a rename finds its victim by name, and the reclaim of the
 *   victim's last vnode may run at the same time (the core may hold no
 *   vnode of it: the name may have been given to another node since the
 *   core's lookup).  So the one of the two that does not free the node
 *   reads what it needs of it before it drops the node lock, and touches
 *   it no more after: the other may free it at once.
 *
 * Lock order
 *   1. fs->ns_lock   rwlock: the namespace.  Every directory's entries, its
 *                    ".." pointer and listing order; written to change
 *                    links (create, link, unlink, rename), read by lookup
 *                    and readdir.
 *   2. node->lock    mutex: one node's attributes and data.  At most one
 *                    node lock is held at a time.  Taken through
 *                    node_lock/node_unlock (memfs_i.h), which keep
 *                    node->aseq odd while it is held: getattr reads the
 *                    attributes without it and keeps what it read only
 *                    if aseq was even and did not move (a seqlock).
 *   3. fs->itab_lock mutex: the ino table, the ino counter, every vrefs.
 *   4. the page pool's lock (memfs_pages.c): a leaf, taken to get or give
 *                    back pages, with a node lock held or not.
 *   Page accounting (used_pages) is atomic and needs no lock.
 *   Extended attributes are copied in and out under the node lock; their
 *   memory is allocated before the lock is taken and freed after it is
 *   dropped.
 *   readdir calls the caller's fill function with no lock held.
 *
 * Lock legend in the structs below:
 *   c  constant after creation      ns  ns_lock (written to change)
 *   n  the node's lock              t   itab_lock
 *   a  atomic
 */
#define _GNU_SOURCE
#include <uvfs/fs.h>

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "memfs_i.h"
#include "sys.h"

/* ---- page accounting --------------------------------------------------- */

/* Counts n more pages in used_pages.  => 0, or -ENOSPC (nothing counted)
 *    when they would take it past max (0: no limit). */
int memfs_pages_count_max(struct memfs *fs, uint64_t n, uint64_t max)
{
	uint64_t used = atomic_load_explicit(&fs->used_pages,
					     memory_order_relaxed);

	do {
		if (max != 0 && (used >= max || n > max - used))
			return -ENOSPC;
	} while (!atomic_compare_exchange_weak(&fs->used_pages, &used,
					       used + n));
	return 0;
}

/* The same, against the size limit. */
int memfs_pages_count(struct memfs *fs, uint64_t n)
{
	return memfs_pages_count_max(fs, n, fs->max_pages);
}

/* => -ENOSPC when the size limit is reached, -ENOMEM; else *pgp is a
 *    zeroed page, counted in used_pages. */
int memfs_page_alloc(struct memfs *fs, char **pgp)
{
	char *pg;
	int err = memfs_pages_count(fs, 1);

	if (err != 0)
		return err;
	err = memfs_pool_get(&pg, 1, true);
	if (err != 0) {
		atomic_fetch_sub(&fs->used_pages, 1);
		return err;
	}
	*pgp = pg;
	return 0;
}

void memfs_pages_uncount(struct memfs *fs, uint64_t n)
{
	if (n != 0)
		atomic_fetch_sub(&fs->used_pages, n);
}

/* The pages charged for a node's extended attributes, bytes in all. */
uint64_t memfs_xattr_pages(size_t bytes)
{
	return ((uint64_t)bytes + PG_MASK) >> PG_SHIFT;
}

/* ---- nodes ------------------------------------------------------------- */

struct node *memfs_node_new(mode_t mode, uid_t uid, gid_t gid, dev_t rdev,
			    const char *target)
{
	struct node *n = sys_calloc(1, sizeof(*n));

	if (n == NULL)
		return NULL;
	if (target != NULL) {
		n->u.target = sys_strdup(target);
		if (n->u.target == NULL) {
			free(n);
			return NULL;
		}
		n->size = (off_t)strlen(target);
	}
	pthread_mutex_init(&n->lock, NULL);
	n->type = mode & S_IFMT;
	n->mode = mode;
	n->uid = uid;
	n->gid = gid;
	n->rdev = rdev;
	if (n->type == S_IFDIR) {
		n->nlink = 2;
		n->size = 2 * DIRENT_BOGO;      /* "." and "..", as tmpfs */
		n->u.dir.next_seq = 2;
	} else {
		n->nlink = 1;
	}
	now(&n->atime);
	n->mtime = n->ctime = n->atime;
	return n;
}

/* => nothing can reach n any more. */
void memfs_node_free(struct memfs *fs, struct node *n)
{
	struct xattr *x, *next;

	for (x = n->xattrs; x != NULL; x = next) {
		next = x->next;
		free(x);
	}
	memfs_pages_uncount(fs, memfs_xattr_pages(n->xbytes));
	switch (n->type) {
	case S_IFREG:
		memfs_pages_uncount(fs, memfs_radix_trunc(&n->u.reg.pages, 0));
		break;
	case S_IFDIR:
		memfs_dir_fini(&n->u.dir);
		break;
	case S_IFLNK:
		memfs_pages_uncount(fs, symlink_pages(n));
		free(n->u.target);
		break;
	default:
		break;
	}
	pthread_mutex_destroy(&n->lock);
	free(n);
}

/* => n->lock held.  Returns true when n has neither links nor vnode
 *    references: it is then out of the ino table and the caller frees it
 *    once it has dropped its locks. */
static bool unhash_if_dead_locked(struct memfs *fs, struct node *n)
{
	bool dead = false;

	if (n->nlink != 0)
		return false;
	pthread_mutex_lock(&fs->itab_lock);
	if (n->vrefs == 0) {
		memfs_itab_remove_locked(fs, n);
		dead = true;
	}
	pthread_mutex_unlock(&fs->itab_lock);
	return dead;
}

/* Takes a link from n: one from a file, all of a directory's (it is being
 * removed: it is empty and loses its ".." too).
 * => ns written.  Returns true if the caller must memfs_node_free(n);
 *    false if not, and then n may be freed at once by a reclaim on
 *    another thread: the caller touches it no more. */
bool memfs_node_unlink(struct memfs *fs, struct node *n,
		       const struct timespec *ts)
{
	bool dead;

	node_lock(n);
	if (n->type == S_IFDIR) {
		n->nlink = 0;
		n->u.dir.parent = NULL;
	} else {
		assert(n->nlink > 0);
		n->nlink--;
	}
	n->ctime = *ts;
	dead = unhash_if_dead_locked(fs, n);
	node_unlock(n);
	return dead;
}

/* d's entries changed: dlink subdirectories, dent entries more.
 * => ns written. */
void memfs_dir_touch(struct node *d, int dlink, int dent,
		     const struct timespec *ts)
{
	node_lock(d);
	d->nlink += dlink;
	d->size += (off_t)dent * DIRENT_BOGO;
	d->mtime = d->ctime = *ts;
	node_unlock(d);
}

void memfs_node_touch_ctime(struct node *n, const struct timespec *ts)
{
	node_lock(n);
	n->ctime = *ts;
	node_unlock(n);
}

/* ---- regular file data ------------------------------------------------- */

int memfs_page_for_write(struct memfs *fs, struct node *n, uint64_t idx,
			 char **pgp)
{
	char *pg = memfs_radix_lookup(&n->u.reg.pages, idx);
	int err;

	if (pg == MEMFS_RESERVED) {     /* counted already */
		err = memfs_pool_get(&pg, 1, true);
		if (err != 0)
			return err;
		*memfs_radix_slot(&n->u.reg.pages, idx) = pg;
	} else if (pg == NULL) {
		err = memfs_page_alloc(fs, &pg);
		if (err != 0)
			return err;
		err = memfs_radix_insert(&n->u.reg.pages, idx, pg);
		if (err != 0) {
			memfs_pool_put(pg);
			memfs_pages_uncount(fs, 1);
			return err;
		}
		n->u.reg.npages++;
	}
	*pgp = pg;
	return 0;
}

/* Puts pg, a page already filled, at idx of n's data if no page is there
 * (a reserved slot takes it, counted already).  => 0: n owns pg now;
 * 1: a page is there (the caller copies into it and frees pg); -ENOSPC,
 * -ENOMEM.  Node lock held. */
static int page_adopt(struct memfs *fs, struct node *n, uint64_t idx,
		      char *pg)
{
	void *cur = memfs_radix_lookup(&n->u.reg.pages, idx);
	int err;

	if (cur == MEMFS_RESERVED) {
		*memfs_radix_slot(&n->u.reg.pages, idx) = pg;
		return 0;
	}
	if (cur != NULL)
		return 1;
	err = memfs_pages_count(fs, 1);
	if (err != 0)
		return err;
	err = memfs_radix_insert(&n->u.reg.pages, idx, pg);
	if (err != 0) {
		memfs_pages_uncount(fs, 1);
		return err;
	}
	n->u.reg.npages++;
	return 0;
}

/* As tmpfs: a size at or below the old one also frees the pages past it
 * that fallocate(KEEP_SIZE) reserved beyond the end of file; a larger one
 * keeps them (they read as zeros).
 * => n->lock held; n is a regular file; 0 <= size. */
static void truncate_locked(struct memfs *fs, struct node *n, off_t size)
{
	if (size <= n->size) {
		uint64_t first = ((uint64_t)size + PG_MASK) >> PG_SHIFT;
		uint64_t freed = memfs_radix_trunc(&n->u.reg.pages, first);

		n->u.reg.npages -= freed;
		memfs_pages_uncount(fs, freed);
		if (((uint64_t)size & PG_MASK) != 0) {
			char *pg = memfs_radix_lookup(&n->u.reg.pages,
						(uint64_t)size >> PG_SHIFT);

			/* zeros for the bytes a later extension exposes */
			if (pg != NULL && pg != MEMFS_RESERVED)
				memset(pg + (size & PG_MASK), 0,
				       PG_SIZE - (size & PG_MASK));
		}
	}
	n->size = size;
}

/* ---- options ----------------------------------------------------------- */

static int parse_u64(const char *s, uint64_t *out, int base)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

/* N[k|m|g|t], 1024-based; 0 is unlimited.  The limit is in whole pages,
 * rounded up. */
static int parse_size(char *s, uint64_t *pages)
{
	size_t len = strlen(s);
	uint64_t v, mult = 1;
	int err;

	if (len > 0) {
		switch (s[len - 1]) {
		case 't': case 'T': mult <<= 10; /* fall through */
		case 'g': case 'G': mult <<= 10; /* fall through */
		case 'm': case 'M': mult <<= 10; /* fall through */
		case 'k': case 'K': mult <<= 10;
			s[len - 1] = '\0';
			break;
		default:
			break;
		}
	}
	err = parse_u64(s, &v, 10);
	if (err != 0)
		return err;
	if (__builtin_mul_overflow(v, mult, &v))
		return -EINVAL;
	*pages = v / PG_SIZE + (v % PG_SIZE != 0);
	return 0;
}

/* Options: size=N[k|m|g|t] (limit on file data and extended attributes;
 * 0 unlimited), mode=OCTAL, uid=N, gid=N (of the root directory).  "ro"
 * and "rw" are the core's and ignored should they arrive; anything else is
 * -EINVAL. */
static int parse_options(const char *options, struct options *o)
{
	const char *p = options ? options : "";

	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char opt[64];
		uint64_t v;
		int err = 0;

		if (len >= sizeof(opt))
			return -EINVAL;
		memcpy(opt, p, len);
		opt[len] = '\0';
		p += len + (end != NULL);
		if (len == 0 || strcmp(opt, "ro") == 0 ||
		    strcmp(opt, "rw") == 0)
			continue;
		if (strncmp(opt, "size=", 5) == 0) {
			err = parse_size(opt + 5, &o->max_pages);
		} else if (strncmp(opt, "mode=", 5) == 0) {
			err = parse_u64(opt + 5, &v, 8);
			if (err == 0 && v > 07777)
				err = -EINVAL;
			o->mode = (mode_t)v;
		} else if (strncmp(opt, "uid=", 4) == 0) {
			err = parse_u64(opt + 4, &v, 10);
			if (err == 0 && v != (uid_t)v)
				err = -EINVAL;
			o->uid = (uid_t)v;
		} else if (strncmp(opt, "gid=", 4) == 0) {
			err = parse_u64(opt + 4, &v, 10);
			if (err == 0 && v != (gid_t)v)
				err = -EINVAL;
			o->gid = (gid_t)v;
		} else {
			err = -EINVAL;
		}
		if (err != 0)
			return err;
	}
	return 0;
}

/* ---- instance operations ----------------------------------------------- */

/* A key for name_hash no user can know: the clock's nanoseconds at the
 * mount and where the instance sits in memory (ASLR), mixed.  Not a
 * secret against the process itself, which needs none. */
static uint64_t hash_key_new(const struct memfs *fs)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return mix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
		     mix64((uint64_t)(uintptr_t)fs));
}

static int op_mount(struct uvfs_sb *sb, const char *source,
		    const char *options, uint64_t *root_ino)
{
	struct options o = { .max_pages = 0, .mode = 0755, .uid = 0,
			     .gid = 0 };
	pthread_rwlockattr_t attr;
	struct memfs *fs;
	int err;

	(void)source;
	err = parse_options(options, &o);
	if (err != 0)
		return err;
	fs = sys_calloc(1, sizeof(*fs));
	if (fs == NULL)
		return -ENOMEM;
	pthread_rwlockattr_init(&attr);
#ifdef __GLIBC__
	/* lookups must not starve namespace changes; never taken
	 * recursively */
	pthread_rwlockattr_setkind_np(&attr,
		PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
	pthread_rwlock_init(&fs->ns_lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	pthread_mutex_init(&fs->itab_lock, NULL);
	fs->max_pages = o.max_pages;
	fs->hash_key = hash_key_new(fs);
	fs->next_ino = 1;
	atomic_init(&fs->used_pages, 0);
	fs->root = memfs_node_new(S_IFDIR | o.mode, o.uid, o.gid, 0, NULL);
	if (fs->root == NULL)
		goto free_fs;
	fs->root->u.dir.parent = fs->root;
	if (memfs_itab_init(&fs->itab) != 0)
		goto free_root;
	memfs_itab_insert_locked(fs, fs->root); /* not shared yet */
	uvfs_sb_set_private(sb, fs);
	*root_ino = fs->root->ino;
	return 0;

free_root:
	memfs_node_free(fs, fs->root);
free_fs:
	pthread_mutex_destroy(&fs->itab_lock);
	pthread_rwlock_destroy(&fs->ns_lock);
	free(fs);
	return -ENOMEM;
}

/* => every vnode has been reclaimed. */
static void op_unmount(struct uvfs_sb *sb)
{
	struct memfs *fs = sb_fs(sb);

	memfs_itab_free_all(fs);
	assert(atomic_load(&fs->used_pages) == 0);
	pthread_mutex_destroy(&fs->itab_lock);
	pthread_rwlock_destroy(&fs->ns_lock);
	free(fs);
	uvfs_sb_set_private(sb, NULL);
}

static int op_sync(struct uvfs_sb *sb)
{
	(void)sb;
	return 0;
}

static int op_statfs(struct uvfs_sb *sb, struct statvfs *st)
{
	struct memfs *fs = sb_fs(sb);
	uint64_t used = atomic_load(&fs->used_pages);
	uint64_t blocks = fs->max_pages ? fs->max_pages : UNLIMITED_BLOCKS;
	size_t nnodes;

	pthread_mutex_lock(&fs->itab_lock);
	nnodes = fs->itab.count;
	pthread_mutex_unlock(&fs->itab_lock);
	if (blocks < used)
		blocks = used;
	memset(st, 0, sizeof(*st));
	st->f_bsize = PG_SIZE;
	st->f_frsize = PG_SIZE;
	st->f_blocks = blocks;
	st->f_bfree = blocks - used;
	st->f_bavail = blocks - used;
	st->f_files = nnodes + UNLIMITED_FILES;
	st->f_ffree = UNLIMITED_FILES;
	st->f_favail = UNLIMITED_FILES;
	st->f_namemax = NAME_MAX;
	return 0;
}

static int op_vget(struct uvfs_sb *sb, uint64_t ino, void **priv)
{
	struct memfs *fs = sb_fs(sb);
	struct node *n;

	pthread_mutex_lock(&fs->itab_lock);
	n = memfs_itab_find_locked(fs, ino);
	if (n != NULL)
		n->vrefs++;
	pthread_mutex_unlock(&fs->itab_lock);
	if (n == NULL)
		return -ENOENT;
	*priv = n;
	return 0;
}

static void op_reclaim(struct uvfs_sb *sb, void *priv)
{
	struct memfs *fs = sb_fs(sb);
	struct node *n = priv;
	bool dead;

	node_lock(n);
	pthread_mutex_lock(&fs->itab_lock);
	assert(n->vrefs > 0);
	n->vrefs--;
	dead = n->vrefs == 0 && n->nlink == 0;
	if (dead)
		memfs_itab_remove_locked(fs, n);
	pthread_mutex_unlock(&fs->itab_lock);
	node_unlock(n);
	if (dead)
		memfs_node_free(fs, n);
}

/* ---- attributes -------------------------------------------------------- */

/* Zeroes *st.  On x86-64 with nine 16-byte stores: GCC expands memset
 * of its struct stat (144 bytes) to `rep stos`, whose start-up cost was a
 * fifth of a whole in-memory stat (bench/README.md, "bench_stat"). */
static inline void stat_clear(struct stat *st)
{
#if defined(__x86_64__)
	typedef long long v2 __attribute__((vector_size(16), aligned(8),
					      may_alias));
	v2 *v = (v2 *)st;

	_Static_assert(sizeof(*st) == 9 * sizeof(v2), "struct stat's size");
	v[0] = v[1] = v[2] = v[3] = v[4] = v[5] = v[6] = v[7] = v[8] =
		(v2){ 0, 0 };
#else
	memset(st, 0, sizeof(*st));
#endif
}

/* Reads one attribute while a holder of the node lock may write it: one
 * load, never torn into two nor read twice (the sequence decides whether
 * what was read is kept). */
#define ATTR_READ(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/* Copies n's attributes into *st (zeroed); n->lock held or not. */
static inline void attr_copy(const struct node *n, struct stat *st)
{
	st->st_mode = ATTR_READ(n->mode);
	st->st_nlink = ATTR_READ(n->nlink);
	st->st_uid = ATTR_READ(n->uid);
	st->st_gid = ATTR_READ(n->gid);
	st->st_size = ATTR_READ(n->size);
	st->st_blocks = n->type == S_IFREG ?
		(blkcnt_t)(ATTR_READ(n->u.reg.npages) * (PG_SIZE / 512)) :
		n->type == S_IFLNK ?
		(blkcnt_t)(symlink_pages(n) * (PG_SIZE / 512)) : 0;
	st->st_atim.tv_sec = ATTR_READ(n->atime.tv_sec);
	st->st_atim.tv_nsec = ATTR_READ(n->atime.tv_nsec);
	st->st_mtim.tv_sec = ATTR_READ(n->mtime.tv_sec);
	st->st_mtim.tv_nsec = ATTR_READ(n->mtime.tv_nsec);
	st->st_ctim.tv_sec = ATTR_READ(n->ctime.tv_sec);
	st->st_ctim.tv_nsec = ATTR_READ(n->ctime.tv_nsec);
}

/* The copy under the lock: a holder was in the way of the one without. */
static __attribute__((noinline)) void attr_copy_locked(struct node *n,
							 struct stat *st)
{
	pthread_mutex_lock(&n->lock);   /* reads only: aseq stays */
	attr_copy(n, st);
	pthread_mutex_unlock(&n->lock);
}

/* The seqlock's read side: the sequence to pass to attr_read_end if no
 * holder of the node lock is in the way, else odd (read under the lock
 * instead; always, under ThreadSanitizer). */
static inline uint32_t attr_read_begin(const struct node *n)
{
#if MEMFS_TSAN
	(void)n;
	return 1;
#else
	return atomic_load_explicit(&n->aseq, memory_order_acquire);
#endif
}

/* Whether what was read since attr_read_begin gave s is of one moment. */
static inline bool attr_read_end(const struct node *n, uint32_t s)
{
	atomic_thread_fence(memory_order_acquire);
	return atomic_load_explicit(&n->aseq, memory_order_relaxed) == s;
}

/* Without the node lock, unless a holder is in the way: the copy is kept
 * if n->aseq was even before it and unchanged after it; else it is taken
 * again under the lock.  The lock pair was a fifth of an in-memory stat
 * (bench_stat; docs/memfs.md). */
static int op_getattr(struct uvfs_sb *sb, void *priv, struct stat *st)
{
	struct node *n = priv;
	uint32_t s = attr_read_begin(n);

	(void)sb;
	stat_clear(st);
	st->st_ino = n->ino;
	st->st_rdev = n->rdev;
	st->st_blksize = PG_SIZE;
	if (!(s & 1)) {
		attr_copy(n, st);
		if (attr_read_end(n, s))
			return 0;
	}
	attr_copy_locked(n, st);
	return 0;
}

/* => the core has checked permissions.  All checks come before any
 *    change: an error changes nothing. */
static int op_setattr(struct uvfs_sb *sb, void *priv,
		      const struct uvfs_setattr *sa)
{
	struct memfs *fs = sb_fs(sb);
	struct node *n = priv;
	unsigned v = sa->valid;
	bool changed = false;
	struct timespec ts;

	if ((v & ~SET_ALL) != 0)
		return -EINVAL;
	if (v & UVFS_SET_SIZE) {
		if (n->type == S_IFDIR)
			return -EISDIR;
		if (n->type != S_IFREG || sa->size < 0)
			return -EINVAL;
	}
	if (((v & UVFS_SET_ATIME) && !time_valid(&sa->atime)) ||
	    ((v & UVFS_SET_MTIME) && !time_valid(&sa->mtime)))
		return -EINVAL;
	now(&ts);

	node_lock(n);
	if (v & (UVFS_SET_UID | UVFS_SET_GID)) {
		if (v & UVFS_SET_UID)
			n->uid = sa->uid;
		if (v & UVFS_SET_GID)
			n->gid = sa->gid;
		/* As Linux on chown, for every caller: setuid goes, setgid
		 * too when it means setgid (not mandatory locking). */
		if (n->type == S_IFREG) {
			n->mode &= ~(mode_t)S_ISUID;
			if (n->mode & S_IXGRP)
				n->mode &= ~(mode_t)S_ISGID;
		}
		changed = true;
	}
	if (v & UVFS_SET_MODE) { /* after the owner: an explicit mode wins */
		n->mode = n->type | (sa->mode & 07777);
		/* with a size, the mode is a truncation's clearing of
		 * set-user/group-ID: as tmpfs (shmem_setattr), the ctime
		 * moves only if the truncation moves it */
		if (!(v & UVFS_SET_SIZE))
			changed = true;
	}
	if (v & UVFS_SET_SIZE) {
		/* as tmpfs: the times move if the size does, or if pages
		 * are cut (shmem_truncate_range: a truncation to the size
		 * or below of a file that has pages), not for an empty
		 * file kept at its size (an ftruncate or an O_TRUNC open
		 * asks for them too); pages reserved past the end go
		 * whatever the size */
		bool moved = sa->size != n->size ||
			     (sa->size <= n->size && n->u.reg.npages > 0);
		truncate_locked(fs, n, sa->size);
		if (moved) {
			n->mtime = ts;
			changed = true;
		}
	}
	if ((v & UVFS_SET_ATIME) && sa->atime.tv_nsec != UTIME_OMIT) {
		n->atime = sa->atime.tv_nsec == UTIME_NOW ? ts : sa->atime;
		changed = true;
	}
	if ((v & UVFS_SET_MTIME) && sa->mtime.tv_nsec != UTIME_OMIT) {
		n->mtime = sa->mtime.tv_nsec == UTIME_NOW ? ts : sa->mtime;
		changed = true;
	}
	if (changed)
		n->ctime = ts;
	node_unlock(n);
	return 0;
}

/* uid 0 may do anything but execute a non-directory without any x bit. */
static int op_permission(struct uvfs_sb *sb, void *priv, int mask,
			 const struct uvfs_cred *cred)
{
	struct node *n = priv;
	uint32_t s = attr_read_begin(n);   /* as op_getattr */
	bool got = false;
	mode_t mode = 0, perm;
	uid_t uid = 0;
	gid_t gid = 0;

	(void)sb;
	mask &= R_OK | W_OK | X_OK;
	if (!(s & 1)) {
		mode = ATTR_READ(n->mode);
		uid = ATTR_READ(n->uid);
		gid = ATTR_READ(n->gid);
		got = attr_read_end(n, s);
	}
	if (!got) {
		pthread_mutex_lock(&n->lock);   /* reads only: aseq stays */
		mode = n->mode;
		uid = n->uid;
		gid = n->gid;
		pthread_mutex_unlock(&n->lock);
	}

	if (cred->uid == 0) {
		if ((mask & X_OK) && n->type != S_IFDIR &&
		    (mode & (S_IXUSR | S_IXGRP | S_IXOTH)) == 0)
			return -EACCES;
		return 0;
	}
	if (cred->uid == uid)
		perm = mode >> 6;
	else if (in_group(cred, gid))
		perm = mode >> 3;
	else
		perm = mode;
	return ((unsigned)mask & ~(unsigned)perm & 7) ? -EACCES : 0;
}

/* ---- files ------------------------------------------------------------- */

static int op_open(struct uvfs_sb *sb, void *priv, int flags, void **fh)
{
	(void)sb;
	(void)priv;
	(void)flags;
	*fh = NULL;
	return 0;
}

static void op_release(struct uvfs_sb *sb, void *priv, void *fh)
{
	(void)sb;
	(void)priv;
	(void)fh;
}

static ssize_t op_read(struct uvfs_sb *sb, void *priv, void *fh, void *buf,
		       size_t n, off_t off)
{
	struct node *nd = priv;
	size_t done = 0;

	(void)sb;
	(void)fh;
	if (nd->type == S_IFDIR)
		return -EISDIR;
	if (nd->type != S_IFREG || off < 0)
		return -EINVAL;
	if (n > SSIZE_MAX)
		n = SSIZE_MAX;

	node_lock(nd);
	if (off >= nd->size)
		n = 0;
	else if (n > (uint64_t)(nd->size - off))
		n = (size_t)(nd->size - off);
	while (done < n) {
		uint64_t pos = (uint64_t)off + done;
		size_t po = pos & PG_MASK;
		size_t chunk = PG_SIZE - po;
		const char *pg = memfs_radix_lookup(&nd->u.reg.pages,
					      pos >> PG_SHIFT);

		if (chunk > n - done)
			chunk = n - done;
		if (pg != NULL)
			memcpy((char *)buf + done, pg + po, chunk);
		else
			memset((char *)buf + done, 0, chunk);
		done += chunk;
	}
	touch_atime_locked(nd);
	node_unlock(nd);
	return (ssize_t)done;
}

/* Prefill: a write that covers whole pages not yet in the file (writing
 * a new file, the kernel's writeback in 1 MiB pieces) takes fresh pages,
 * and the first touch of a page the pool has just mapped is a page fault
 * (about 3 us on the reference machine, against 0.3 us for the copy;
 * pages the pool kept from a deleted file do not fault).  Those pages
 * are taken from the pool in one call and filled before the node lock is
 * taken, so that writes to one file fault in parallel; under the lock they are
 * adopted (or, if a page appeared meanwhile, copied into it as before),
 * so the write still takes effect at once under the lock.  Up to
 * PREFILL_MAX pages per write, for writes of PREFILL_MIN bytes or more
 * (a small write costs a lock round trip more for nothing). */
#define PREFILL_MIN ((size_t)64 << 10)
#define PREFILL_MAX 256
/* A whole page overwritten in a file of STREAM_FILE_MIN bytes or more goes
 * around the cache too (memfs_page_fill): a file that large is past the
 * caches (a random 4 KiB write's page is not in them, and a plain copy
 * reads each of its lines first), and a page of a file that small may be
 * one just read or written (docs/memfs.md, "Filling a page around the
 * cache"). */
#define STREAM_FILE_MIN ((off_t)16 << 20)
_Static_assert(PREFILL_MAX <= MEMFS_POOL_BATCH, "one pool call per write");

/* One write's pages filled ahead: on the writer's stack, its own. */
struct prefill {
	uint64_t first;                 /* page index of pg[0] */
	unsigned n;                     /* pages in the range */
	char *pg[PREFILL_MAX];          /* NULL: not prefilled */
};

/* Looks (node lock, briefly) for the pages of [pos, pos + n) that are
 * wholly written and missing, and fills fresh ones from buf. */
static void prefill(struct node *nd, const void *buf, size_t n, off_t pos,
		    struct prefill *pf)
{
	uint64_t first = ((uint64_t)pos + PG_MASK) >> PG_SHIFT;
	uint64_t end = ((uint64_t)pos + n) >> PG_SHIFT;
	char *fresh[PREFILL_MAX];
	unsigned want = 0;

	pf->first = first;
	pf->n = 0;
	if (end <= first)
		return;
	if (end - first > PREFILL_MAX)
		end = first + PREFILL_MAX;
	pf->n = (unsigned)(end - first);
	node_lock(nd);
	for (unsigned i = 0; i < pf->n; i++) {
		void *cur = memfs_radix_lookup(&nd->u.reg.pages, first + i);
		/* a marker for now: filled below, outside the lock */
		pf->pg[i] = cur == NULL || cur == MEMFS_RESERVED ?
			    (char *)MEMFS_RESERVED : NULL;
		want += pf->pg[i] != NULL;
	}
	node_unlock(nd);
	if (want == 0)
		return;
	/* the pool's pages, not zeroed: every byte is written now */
	if (memfs_pool_get(fresh, want, false) != 0)
		want = 0;       /* out of memory: the usual path */
	for (unsigned i = 0, j = 0; i < pf->n; i++) {
		if (pf->pg[i] == NULL)
			continue;
		if (want == 0) {
			pf->pg[i] = NULL;
			continue;
		}
		pf->pg[i] = fresh[j++];
		memfs_page_fill(pf->pg[i], (const char *)buf +
				((first + i) << PG_SHIFT) - (uint64_t)pos);
	}
	memfs_page_fill_end();  /* op_write publishes them */
}

/* => *off < 0 appends at the size, atomically.  A write that runs out of
 *    space is short; with nothing written it fails with -ENOSPC (the
 *    mtime and ctime moved all the same, as tmpfs's). */
static ssize_t op_write(struct uvfs_sb *sb, void *priv, void *fh,
			const void *buf, size_t n, off_t *off)
{
	struct memfs *fs = sb_fs(sb);
	struct node *nd = priv;
	struct prefill pf;
	size_t done = 0;
	bool streamed = false;
	off_t pos;
	int err = 0;

	(void)fh;
	if (nd->type == S_IFDIR)
		return -EISDIR;
	if (nd->type != S_IFREG)
		return -EINVAL;
	if (n > SSIZE_MAX)
		n = SSIZE_MAX;

	pf.first = 0;
	pf.n = 0;
	if (*off >= 0 && n >= PREFILL_MIN && *off < FILE_SIZE_MAX &&
	    n <= (uint64_t)(FILE_SIZE_MAX - *off))
		prefill(nd, buf, n, *off, &pf);

	node_lock(nd);
	pos = *off < 0 ? nd->size : *off;
	if (n > 0 && pos >= FILE_SIZE_MAX) {
		err = -EFBIG;
		goto unlock;
	}
	if (n > (uint64_t)(FILE_SIZE_MAX - pos))
		n = (size_t)(FILE_SIZE_MAX - pos);
	while (done < n) {
		uint64_t p = (uint64_t)pos + done;
		size_t po = p & PG_MASK;
		size_t chunk = PG_SIZE - po;
		char *pg;

		if (chunk > n - done)
			chunk = n - done;
		uint64_t k = (p >> PG_SHIFT) - pf.first;
		if (k < pf.n && pf.pg[k] != NULL) {
			err = page_adopt(fs, nd, p >> PG_SHIFT, pf.pg[k]);
			if (err < 0)
				break;
			if (err == 0) {
				pf.pg[k] = NULL;        /* the file's now */
				done += chunk;
				continue;
			}
			err = 0;        /* a page appeared: copy into it */
		}
		err = memfs_page_for_write(fs, nd, p >> PG_SHIFT, &pg);
		if (err != 0)
			break;
		if (chunk == PG_SIZE && nd->size >= STREAM_FILE_MIN) {
			/* readers copy under the node lock: the fence
			 * below comes before its release */
			memfs_page_fill(pg, (const char *)buf + done);
			streamed = true;
		} else {
			memcpy(pg + po, (const char *)buf + done, chunk);
		}
		done += chunk;
	}
	if (streamed)
		memfs_page_fill_end();
	if (done > 0) {
		err = 0;
		if (pos + (off_t)done > nd->size)
			nd->size = pos + (off_t)done;
	}
	if (n > 0) {
		/* as tmpfs, which moves them before it copies
		 * (file_update_time): a write that finds no space or
		 * memory moves them too */
		now(&nd->mtime);
		nd->ctime = nd->mtime;
	}
	if (err == 0)
		*off = pos + (off_t)done;
unlock:
	node_unlock(nd);
	for (unsigned i = 0; i < pf.n; i++)     /* not taken: a page was there */
		if (pf.pg[i] != NULL)
			memfs_pool_put(pf.pg[i]);
	return err != 0 ? err : (ssize_t)done;
}

static int op_fsync(struct uvfs_sb *sb, void *priv, void *fh, int datasync)
{
	(void)sb;
	(void)priv;
	(void)fh;
	(void)datasync;
	return 0;
}

struct dcopy {
	uint64_t ino, next;
	unsigned char type;
	char name[NAME_MAX + 1];
};

static void dcopy_set(struct dcopy *c, const char *name, size_t len,
		      uint64_t ino, unsigned char type, uint64_t next)
{
	memcpy(c->name, name, len);
	c->name[len] = '\0';
	c->ino = ino;
	c->type = type;
	c->next = next;
}

/* Cookies: "." is 0, ".." is 1, an entry is its seq (>= 2); each entry
 * carries next = its cookie + 1, and a listing resumes at the first entry
 * whose seq is >= the cookie.  Entries are copied out in batches under the
 * read lock and handed to fill with no lock held.  A removed directory
 * lists nothing. */
static int op_readdir(struct uvfs_sb *sb, void *priv, void *fh,
		      uint64_t cookie, uvfs_filldir_t fill, void *arg)
{
	struct memfs *fs = sb_fs(sb);
	struct node *d = priv;
	struct dcopy batch[READDIR_BATCH];

	(void)fh;
	if (d->type != S_IFDIR)
		return -ENOTDIR;
	for (;;) {
		const struct dir *dir = &d->u.dir;
		size_t n = 0, i;
		bool more = false;

		pthread_rwlock_rdlock(&fs->ns_lock);
		if (d->nlink == 0) {
			pthread_rwlock_unlock(&fs->ns_lock);
			break;
		}
		if (cookie == 0) {
			cookie = 1;
			dcopy_set(&batch[n++], ".", 1, d->ino, DT_DIR, cookie);
		}
		if (cookie == 1) {
			cookie = 2;
			dcopy_set(&batch[n++], "..", 2, dir->parent->ino,
				  DT_DIR, cookie);
		}
		for (i = memfs_dir_slot(dir, cookie); i < dir->nord; i++) {
			const struct dent *de = dir->ord[i].de;

			if (de == NULL)
				continue;
			if (n == READDIR_BATCH) {
				more = true;
				break;
			}
			cookie = de->seq + 1;
			dcopy_set(&batch[n++], de->name, de->len,
				  de->child->ino, IFTODT(de->child->type),
				  cookie);
		}
		pthread_rwlock_unlock(&fs->ns_lock);

		for (i = 0; i < n; i++)
			if (fill(arg, batch[i].name, batch[i].ino,
				 batch[i].type, batch[i].next) != 0)
				break;
		if (i < n || !more)
			break;
	}
	node_lock(d);
	touch_atime_locked(d);
	node_unlock(d);
	return 0;
}

static const struct uvfs_fsopt memfs_fsopts[] = {
	{ "size", UVFS_FSOPT_SIZE,
	  "BYTES[k|m|g|t]: limit on file data and xattrs (0: none, the default)" },
	{ "mode", UVFS_FSOPT_OCTAL, "OCTAL: the root directory's mode (0755)" },
	{ "uid", UVFS_FSOPT_NUMBER, "N: the root directory's owner (0)" },
	{ "gid", UVFS_FSOPT_NUMBER, "N: the root directory's group (0)" },
	{ NULL, 0, NULL },
};

const struct uvfs_fstype_ops uvfs_memfs_ops = {
	.name = "memfs",
	.options = memfs_fsopts,
	.source_help = "SOURCE: any word (none); the files live in memory",
	.flags = 0,
	.mount = op_mount,
	.unmount = op_unmount,
	.cancel = NULL, /* nothing waits: every operation completes at once */
	.sync = op_sync,
	.statfs = op_statfs,
	.vget = op_vget,
	.reclaim = op_reclaim,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.permission = op_permission,
	.lookup = memfs_lookup,
	.create = memfs_create,
	.link = memfs_link,
	.unlink = memfs_unlink,
	.rename = memfs_rename,
	.readlink = memfs_readlink,
	.open = op_open,
	.release = op_release,
	.read = op_read,
	.write = op_write,
	.fsync = op_fsync,
	.readdir = op_readdir,
	.getxattr = memfs_getxattr,
	.setxattr = memfs_setxattr,
	.listxattr = memfs_listxattr,
	.removexattr = memfs_removexattr,
	.fallocate = memfs_fallocate,
	.seek_data = memfs_seek_data,
	.copy_range = memfs_copy_range,
};
