/*
 * memfs_i.h - memfs's private structures and constants, and what its files
 * share: memfs.c (nodes, page accounting, options, the instance,
 * attributes, file data, the table), memfs_itab.c (the ino table),
 * memfs_radix.c (the page tree), memfs_dir.c (directories and the
 * operations on names), memfs_xattr.c (extended attributes),
 * memfs_holes.c (fallocate, reserved pages, SEEK_DATA/SEEK_HOLE,
 * copy_range), memfs_pages.c (the page pool every data page comes from),
 * and the node lock's helpers (node_lock, node_unlock) below.  The
 * lifecycle, the lock order and the lock legend (c, ns, n, t, a) are in
 * memfs.c.
 */
#ifndef UVFS_MEMFS_I_H
#define UVFS_MEMFS_I_H

#include <uvfs/fs.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

#define PG_SHIFT 12
#define PG_SIZE ((size_t)1 << PG_SHIFT)
#define PG_MASK (PG_SIZE - 1)

#define RADIX_SHIFT 6
#define RADIX_FAN (1u << RADIX_SHIFT)
#define RADIX_MASK ((uint64_t)RADIX_FAN - 1)
#define RADIX_MAX_HEIGHT 10 /* 60 bits of page index: beyond off_t */

#define FILE_SIZE_MAX ((off_t)INT64_MAX)
#define XATTR_NAME_LEN_MAX 255  /* Linux XATTR_NAME_MAX */
#define SYMLINK_MAX 4095
#define SYMLINK_PAGED_MIN 128   /* a target this long takes a page, as
				   tmpfs's (SHORT_SYMLINK_LEN) */
#define DIRENT_BOGO 20     /* st_size of a directory per entry, "." and
				    ".." included, as tmpfs */
#define DIR_MIN_TAB 8
#define DIR_MIN_ORD 16
#define ITAB_MIN 64
#define READDIR_BATCH 16
#define UNLIMITED_BLOCKS ((uint64_t)1 << 32)
#define UNLIMITED_FILES ((uint64_t)1 << 32)

/* (KILLPRIV: memfs clears the bits as any mode it is given) */
#define SET_ALL (UVFS_SET_MODE | UVFS_SET_UID | UVFS_SET_GID | UVFS_SET_SIZE | \
		 UVFS_SET_ATIME | UVFS_SET_MTIME | UVFS_SET_KILLPRIV)

/* ---- structures -------------------------------------------------------- */

/* A sparse map page index -> page (PG_SIZE bytes).  Height 0 is the empty
 * tree (root NULL); a tree of height h maps indices below 2^(6h); the slots
 * of height-1 nodes are pages. */
struct radix_node {
	void *slot[RADIX_FAN];
	unsigned count;         /* non-NULL slots */
};

struct radix {
	void *root;
	unsigned height;
};

struct node;

/* One extended attribute of a node. */
struct xattr {
	struct xattr *next;     /* n: the node's list */
	size_t nlen;            /* c: strlen of the name */
	size_t vlen;            /* c */
	char data[];            /* c: the name, a NUL, the value */
};

/* One name in a directory. */
struct dent {
	struct dent *hnext;     /* ns: name hash chain */
	struct node *child;     /* ns */
	uint64_t seq;           /* ns: position in the listing, set at insert */
	uint64_t hash;          /* c */
	size_t slot;            /* ns: its index in the directory's ord (set
				   at insert, moved by a compaction): a
				   removal finds it without a search */
	uint16_t len;           /* c: <= NAME_MAX */
	char name[];            /* c */
};
_Static_assert(NAME_MAX <= UINT16_MAX, "dent.len holds a name length");

/* A place in a directory's listing; de NULL once the entry is gone. */
struct slot {
	uint64_t seq;
	struct dent *de;
};

/* All fields: ns. */
struct dir {
	struct dent **tab;      /* name hash, ntab buckets (a power of 2) */
	size_t ntab;
	size_t nent;            /* live entries */
	struct slot *ord;       /* entries by ascending seq, with tombstones */
	size_t nord, cord;      /* slots used, slots allocated */
	size_t ntomb;           /* tombstones among the nord */
	uint64_t next_seq;      /* starts at 2: cookies 0, 1 are ".", ".." */
	struct node *parent;    /* "..": self for the root, NULL once removed */
};

/* The fields are in the order of the cache lines (a node is 248 bytes,
 * a 256-byte block with mimalloc, so its lines start at 0, 64, 128):
 * the first line is what the ino table's chain probes (ino, inext) and
 * what every change takes (lock, aseq, type); the second what an unlink
 * changes (nlink, ctime, vrefs) and what a permission check reads (mode,
 * uid, gid), so that each touches two lines; the third the times a
 * write or a read changes and the data (docs/memfs.md, "The node's
 * cache lines"). */
struct node {
	pthread_mutex_t lock;
	uint64_t ino;           /* c */
	struct node *inext;     /* t: ino table chain */
	mode_t type;            /* c: the S_IFMT bits */
	_Atomic uint32_t aseq;  /* n to change (node_lock, node_unlock):
				 * odd while the lock is held; read
				 * without it (op_getattr) */
	nlink_t nlink;          /* ns (written) and n to change; either to read */
	struct timespec ctime;  /* n */
	off_t size;             /* n; directories: also ns (written) to change */
	uint64_t vrefs;         /* t: vget minus reclaim */
	mode_t mode;            /* n: type | permission bits */
	uid_t uid;              /* n */
	gid_t gid;              /* n */
	dev_t rdev;             /* c */
	struct timespec atime, mtime; /* n */
	struct xattr *xattrs;   /* n: extended attributes, oldest first */
	size_t xbytes;          /* n: their names (with NULs) and values;
				 * charged in whole pages to used_pages */
	union {
		struct {
			struct radix pages;     /* n */
			uint64_t npages;        /* n: pages in the tree,
						   reserved ones too */
		} reg;
		struct dir dir;                 /* ns */
		char *target;                   /* c: symlinks */
	} u;
};
_Static_assert(offsetof(struct node, nlink) == 64 &&
	       offsetof(struct node, gid) + sizeof(gid_t) <= 128,
	       "an unlink's and a permission check's fields share the "
	       "node's second cache line");

/* The ino table (memfs_itab.c): a chained hash through node->inext whose
 * doublings move the old buckets a few at a time.  Lock: itab_lock. */
struct itab {
	struct node **b;        /* nb buckets (a power of 2): inserts go here */
	size_t nb;
	struct node **old;      /* while a doubling moves: the previous
				 * buckets, nold of them, or NULL */
	size_t nold;
	size_t moved;           /* old's buckets [0, moved) are moved (NULL) */
	size_t count;           /* nodes in the two */
};

struct memfs {
	pthread_rwlock_t ns_lock;
	pthread_mutex_t itab_lock;
	struct itab itab;       /* t: ino -> node (memfs_itab.c) */
	uint64_t next_ino;      /* t */
	struct node *root;      /* c */
	uint64_t max_pages;     /* c: 0 is unlimited */
	uint64_t hash_key;      /* c: name_hash's key, made at mount */
	_Atomic uint64_t used_pages; /* a: data pages, xattr pages */
};

struct options {
	uint64_t max_pages;
	mode_t mode;
	uid_t uid;
	gid_t gid;
};


/* ---- small helpers ----------------------------------------------------- */

/* ThreadSanitizer cannot tell a seqlock's discarded reads from a race:
 * under it, getattr always takes the lock (GCC says so with
 * __SANITIZE_THREAD__, clang with __has_feature). */
#if defined(__SANITIZE_THREAD__)
#define MEMFS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MEMFS_TSAN 1
#endif
#endif
#ifndef MEMFS_TSAN
#define MEMFS_TSAN 0
#endif

/* The node lock, and the sequence it keeps: n->aseq is odd while the lock
 * is held, so op_getattr can copy the attributes without the lock and
 * take them again if a holder came in between (a seqlock; docs/memfs.md,
 * "Attributes without the lock").  Every holder of n->lock takes it
 * through these, so no change of an attribute can be missed by the
 * sequence; only the fallbacks of getattr and permission, which read and
 * change nothing, take the mutex itself. */
static inline void node_lock(struct node *n)
{
	pthread_mutex_lock(&n->lock);
	atomic_store_explicit(&n->aseq, atomic_load_explicit(
		&n->aseq, memory_order_relaxed) + 1, memory_order_relaxed);
#if !MEMFS_TSAN        /* its builds read under the lock */
	atomic_thread_fence(memory_order_release);  /* odd before writes */
#endif
}

static inline void node_unlock(struct node *n)
{
	atomic_store_explicit(&n->aseq, atomic_load_explicit(
		&n->aseq, memory_order_relaxed) + 1, memory_order_release);
	pthread_mutex_unlock(&n->lock);
}

static inline void now(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

static inline bool ts_le(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec <= b->tv_nsec);
}

/* => n->lock held.  A read, a listing, a symlink's target read: the
 * atime moves as Linux's relatime (the default mount option, tmpfs's
 * too) moves it: when it is not after the mtime or the ctime, or is a
 * day old (docs/differences.md, "Times"). */
static inline void touch_atime_locked(struct node *n)
{
	struct timespec ts;

	now(&ts);
	if (ts_le(&n->atime, &n->mtime) || ts_le(&n->atime, &n->ctime) ||
	    ts.tv_sec - n->atime.tv_sec >= 24 * 60 * 60)
		n->atime = ts;
}

/* The pages a symlink's target is charged (size=, st_blocks, statfs):
 * one for a target of SYMLINK_PAGED_MIN bytes or more, which tmpfs keeps
 * in a page of its own, none for a shorter one, which it keeps in the
 * inode.  n is a symlink: its size, the target's length, is constant. */
static inline uint64_t symlink_pages(const struct node *n)
{
	return n->size >= SYMLINK_PAGED_MIN;
}

static inline struct memfs *sb_fs(struct uvfs_sb *sb)
{
	return uvfs_sb_private(sb);
}

static inline bool in_group(const struct uvfs_cred *cred, gid_t gid)
{
	unsigned n = cred->ngroups;

	if (cred->gid == gid)
		return true;
	if (n > UVFS_NGROUPS_MAX)
		n = UVFS_NGROUPS_MAX;
	for (unsigned i = 0; i < n; i++)
		if (cred->groups[i] == gid)
			return true;
	return false;
}

static inline bool time_valid(const struct timespec *ts)
{
	return ts->tv_nsec == UTIME_NOW || ts->tv_nsec == UTIME_OMIT ||
	       (ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000L);
}

/* => 0 with *lenp set, -ENAMETOOLONG, or -EINVAL for "", ".", ".." and
 *    names with a '/' (the core never passes those). */
static inline int name_check(const char *name, size_t *lenp)
{
	size_t len = strnlen(name, NAME_MAX + 1);

	if (len > NAME_MAX)
		return -ENAMETOOLONG;
	if (len == 0 || memchr(name, '/', len) != NULL)
		return -EINVAL;
	if (name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.')))
		return -EINVAL;
	*lenp = len;
	return 0;
}

/* murmur3's finalizer: every bit of x moves every bit of the result. */
static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* FNV-1a from the instance's key (fs->hash_key), then mix64.  A bucket is
 * the hash's low bits, and FNV-1a's low bits depend on the low bits of its
 * state and input alone: unkeyed and unmixed, names that share a bucket
 * could be computed ahead by anyone, and a user who made them in a shared
 * directory had every call on them walk one long chain with ns_lock held
 * (test_memfs test_name_hash_spread). */
static inline uint64_t name_hash(uint64_t key, const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ key;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 0x100000001b3ULL;
	}
	return mix64(h);
}

/* memfs_itab.c: the ino table; all but init with itab_lock held.  An
 * insert gives n the next ino; nothing fails but init (-ENOMEM).
 * free_all: memfs_node_free of every node, then the table (unmount). */
int memfs_itab_init(struct itab *t);
void memfs_itab_insert_locked(struct memfs *fs, struct node *n);
struct node *memfs_itab_find_locked(struct memfs *fs, uint64_t ino);
void memfs_itab_remove_locked(struct memfs *fs, struct node *n);
void memfs_itab_free_all(struct memfs *fs);

/* memfs.c: nodes, page accounting */
struct node *memfs_node_new(mode_t mode, uid_t uid, gid_t gid, dev_t rdev,
			    const char *target);
void memfs_node_free(struct memfs *fs, struct node *n);
bool memfs_node_unlink(struct memfs *fs, struct node *n,
		       const struct timespec *ts);
void memfs_dir_touch(struct node *d, int dlink, int dent,
		     const struct timespec *ts);
void memfs_node_touch_ctime(struct node *n, const struct timespec *ts);
int memfs_pages_count(struct memfs *fs, uint64_t n);
int memfs_pages_count_max(struct memfs *fs, uint64_t n, uint64_t max);
void memfs_pages_uncount(struct memfs *fs, uint64_t n);
uint64_t memfs_xattr_pages(size_t bytes);

/* The reserved page: what fallocate puts where a file had no page (see
 * memfs_holes.c).  One shared page of zeros, never written. */
extern const char memfs_reserved_page[PG_SIZE];
#define MEMFS_RESERVED ((void *)memfs_reserved_page)
int memfs_page_alloc(struct memfs *fs, char **pgp);
/* The page of n at idx, ready to be written: made (counted: -ENOSPC) where
 * there was none, made its own where it was reserved.  => n->lock held. */
int memfs_page_for_write(struct memfs *fs, struct node *n, uint64_t idx,
			 char **pgp);

/* memfs_pages.c: the page pool, one per process (docs/memfs.md) */
#define MEMFS_POOL_BATCH 256    /* pages per memfs_pool_get at most */
/* n pages (at most MEMFS_POOL_BATCH), zeros if zero is set.  => 0, or
 * -ENOMEM with none taken.  Any thread, any memfs lock held. */
int memfs_pool_get(char **pages, unsigned n, bool zero);
/* Gives back one page from memfs_pool_get. */
void memfs_pool_put(void *pg);
/* Fills dst, a page from memfs_pool_get that no other thread can see yet
 * or a page of a file whose node lock the caller holds, with the PG_SIZE
 * bytes at src (any alignment), with stores that go around the caches
 * where the machine has them: such a store need not first read the line
 * it replaces, which for a page not touched lately (a pool page, a page of
 * a file larger than the caches) is what a plain copy pays most for
 * (docs/memfs.md, "Filling a page around the cache").  For pages nobody
 * reads soon.  memfs_page_fill_end must follow the last fill before the
 * page is published (put in a file's page tree) or the node lock is
 * dropped. */
void memfs_page_fill(char *dst, const char *src);
void memfs_page_fill_end(void);
/* The pool's limits, in chunks of 2 MiB: empty chunks kept as they are
 * (hot_max), and kept given to the kernel with MADV_FREE (lazy_max);
 * what is over them now is given back at once. */
void memfs_pool_set_limits(uint64_t hot_max, uint64_t lazy_max);
void memfs_pool_limits(uint64_t *hot_max, uint64_t *lazy_max);
/* For tests: how the pool maps a new chunk's memory (len bytes, read and
 * write, private; MAP_FAILED on failure).  NULL puts mmap back.  => the
 * previous one. */
typedef void *memfs_pool_map_fn(size_t len);
memfs_pool_map_fn *memfs_pool_set_map(memfs_pool_map_fn *fn);
struct memfs_pool_stats {
	uint64_t chunks;        /* mapped, in every state */
	uint64_t used;          /* pages handed out */
	uint64_t partial, hot, lazy;    /* chunks in those states */
	uint64_t mmaps, munmaps, lazy_frees;    /* since the start */
};
void memfs_pool_stats(struct memfs_pool_stats *st);

/* memfs_radix.c: the page tree */
void *memfs_radix_lookup(const struct radix *t, uint64_t idx);
int memfs_radix_insert(struct radix *t, uint64_t idx, void *page);
/* Takes the pages at [from, to) out (back to the pool, but for
 * MEMFS_RESERVED);
 * => how many. */
uint64_t memfs_radix_punch(struct radix *t, uint64_t from, uint64_t to);
uint64_t memfs_radix_trunc(struct radix *t, uint64_t from);
/* The slot of the page at idx, NULL if there is no page. */
void **memfs_radix_slot(const struct radix *t, uint64_t idx);
/* The first page at index >= from (its index in *idx), NULL if none. */
void *memfs_radix_next(const struct radix *t, uint64_t from, uint64_t *idx);
/* How many pages at [from, to). */
uint64_t memfs_radix_count(const struct radix *t, uint64_t from, uint64_t to);

/* memfs_holes.c: fallocate, SEEK_DATA / SEEK_HOLE, copy_range */
void memfs_punch_locked(struct memfs *fs, struct node *n, uint64_t start,
			uint64_t end);
int memfs_fallocate(struct uvfs_sb *sb, void *priv, void *fh, int mode,
		    off_t off, off_t len);
off_t memfs_seek_data(struct uvfs_sb *sb, void *priv, void *fh, off_t off,
		      int whence);
ssize_t memfs_copy_range(struct uvfs_sb *sb, void *src, void *src_fh,
			 off_t off_in, void *dst, void *dst_fh, off_t off_out,
			 size_t len);

/* memfs_dir.c: directories; the operations on names */
void memfs_dir_fini(struct dir *d);
size_t memfs_dir_slot(const struct dir *d, uint64_t seq);
int memfs_lookup(struct uvfs_sb *sb, void *dirp, const char *name,
		 struct uvfs_ident *id);
int memfs_create(struct uvfs_sb *sb, void *dirp, const char *name,
		 mode_t mode, dev_t rdev, const char *target,
		 const struct uvfs_cred *cred, struct uvfs_ident *id);
int memfs_link(struct uvfs_sb *sb, void *dirp, const char *name,
	       void *priv);
int memfs_unlink(struct uvfs_sb *sb, void *dirp, const char *name,
		 int isdir);
int memfs_rename(struct uvfs_sb *sb, void *odirp, const char *oname,
		 void *ndirp, const char *nname, unsigned flags);
ssize_t memfs_readlink(struct uvfs_sb *sb, void *priv, char *buf,
		       size_t size);

/* memfs_xattr.c: the extended-attribute operations */
ssize_t memfs_getxattr(struct uvfs_sb *sb, void *priv, const char *name,
		       void *value, size_t size);
ssize_t memfs_listxattr(struct uvfs_sb *sb, void *priv, char *list,
			size_t size);
int memfs_setxattr(struct uvfs_sb *sb, void *priv, const char *name,
		   const void *value, size_t size, int flags);
int memfs_removexattr(struct uvfs_sb *sb, void *priv, const char *name);

#endif
