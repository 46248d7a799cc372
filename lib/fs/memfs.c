/*
 * memfs.c - the built-in in-memory file system.
 *
 * What it owns
 *   One struct memfs per mounted instance (the sb's private data) holding
 *   every node of the instance.  A node is a regular file (data in 4 KiB
 *   pages in a sparse radix tree: holes read as zeros and cost nothing), a
 *   directory (a name hash for lookup plus an array in insertion order that
 *   gives readdir stable cookies), a symlink (its target), or a device,
 *   fifo or socket (metadata only).  Any node may also hold extended
 *   attributes: a short list of (name, value) in the order they were first
 *   set (the core keeps user.* to files and directories).  Nodes are named
 *   by a 64-bit ino from a per-instance counter that is never reused; an
 *   ino table (hash) finds a node in O(1) for vget.
 *
 * Space
 *   The size= limit counts pages: the data pages of regular files, and for
 *   each node the bytes of its extended attributes (names and values)
 *   rounded up to whole pages.  Both are charged to one counter, used_pages,
 *   before the memory is taken; over the limit a write or a setxattr fails
 *   with -ENOSPC.
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
 *
 * Lock order
 *   1. fs->ns_lock   rwlock: the namespace.  Every directory's entries, its
 *                    ".." pointer and listing order; written to change
 *                    links (create, link, unlink, rename), read by lookup
 *                    and readdir.
 *   2. node->lock    mutex: one node's attributes and data.  At most one
 *                    node lock is held at a time.
 *   3. fs->itab_lock mutex: the ino table, the ino counter, every vrefs.
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

#include "sys.h"

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
#define DIRENT_BOGO 20     /* st_size of a directory per entry, as tmpfs */
#define DIR_MIN_TAB 8
#define DIR_MIN_ORD 16
#define ITAB_MIN 64
#define READDIR_BATCH 16
#define UNLIMITED_BLOCKS ((uint64_t)1 << 32)
#define UNLIMITED_FILES ((uint64_t)1 << 32)

#define SET_ALL (UVFS_SET_MODE | UVFS_SET_UID | UVFS_SET_GID | UVFS_SET_SIZE | \
		 UVFS_SET_ATIME | UVFS_SET_MTIME)

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
	size_t len;             /* c */
	char name[];            /* c */
};

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

struct node {
	pthread_mutex_t lock;
	uint64_t ino;           /* c */
	mode_t type;            /* c: the S_IFMT bits */
	mode_t mode;            /* n: type | permission bits */
	uid_t uid;              /* n */
	gid_t gid;              /* n */
	nlink_t nlink;          /* ns (written) and n to change; either to read */
	dev_t rdev;             /* c */
	off_t size;             /* n; directories: also ns (written) to change */
	struct timespec atime, mtime, ctime; /* n */
	struct xattr *xattrs;   /* n: extended attributes, oldest first */
	size_t xbytes;          /* n: their names (with NULs) and values;
				 * charged in whole pages to used_pages */
	uint64_t vrefs;         /* t: vget minus reclaim */
	struct node *inext;     /* t: ino table chain */
	union {
		struct {
			struct radix pages;     /* n */
			uint64_t npages;        /* n */
		} reg;
		struct dir dir;                 /* ns */
		char *target;                   /* c: symlinks */
	} u;
};

struct memfs {
	pthread_rwlock_t ns_lock;
	pthread_mutex_t itab_lock;
	struct node **itab;     /* t: ino -> node, nitab buckets (power of 2) */
	size_t nitab;           /* t */
	size_t nnodes;          /* t */
	uint64_t next_ino;      /* t */
	struct node *root;      /* c */
	uint64_t max_pages;     /* c: 0 is unlimited */
	_Atomic uint64_t used_pages; /* a: data pages, xattr pages */
};

struct options {
	uint64_t max_pages;
	mode_t mode;
	uid_t uid;
	gid_t gid;
};

/* ---- small helpers ----------------------------------------------------- */

static void now(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

static struct memfs *sb_fs(struct uvfs_sb *sb)
{
	return uvfs_sb_private(sb);
}

static bool in_group(const struct uvfs_cred *cred, gid_t gid)
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

static bool time_valid(const struct timespec *ts)
{
	return ts->tv_nsec == UTIME_NOW || ts->tv_nsec == UTIME_OMIT ||
	       (ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000L);
}

/* => 0 with *lenp set, -ENAMETOOLONG, or -EINVAL for "", ".", ".." and
 *    names with a '/' (the core never passes those). */
static int name_check(const char *name, size_t *lenp)
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

/* FNV-1a */
static uint64_t name_hash(const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* ---- page accounting --------------------------------------------------- */

/* Counts n more pages in used_pages.  => 0, or -ENOSPC (nothing counted)
 *    when they would take it past the size limit. */
static int pages_count(struct memfs *fs, uint64_t n)
{
	uint64_t used = atomic_load_explicit(&fs->used_pages,
					     memory_order_relaxed);

	do {
		if (fs->max_pages != 0 &&
		    (used >= fs->max_pages || n > fs->max_pages - used))
			return -ENOSPC;
	} while (!atomic_compare_exchange_weak(&fs->used_pages, &used,
					       used + n));
	return 0;
}

/* => -ENOSPC when the size limit is reached, -ENOMEM; else *pgp is a
 *    zeroed page, counted in used_pages. */
static int page_alloc(struct memfs *fs, char **pgp)
{
	char *pg;
	int err = pages_count(fs, 1);

	if (err != 0)
		return err;
	pg = sys_calloc(1, PG_SIZE);
	if (pg == NULL) {
		atomic_fetch_sub(&fs->used_pages, 1);
		return -ENOMEM;
	}
	*pgp = pg;
	return 0;
}

static void pages_uncount(struct memfs *fs, uint64_t n)
{
	if (n != 0)
		atomic_fetch_sub(&fs->used_pages, n);
}

/* The pages charged for a node's extended attributes, bytes in all. */
static uint64_t xattr_pages(size_t bytes)
{
	return ((uint64_t)bytes + PG_MASK) >> PG_SHIFT;
}

/* ---- radix tree of pages ----------------------------------------------- */

static void *radix_lookup(const struct radix *t, uint64_t idx)
{
	void *p = t->root;

	if (t->height == 0 || (idx >> (RADIX_SHIFT * t->height)) != 0)
		return NULL;
	for (unsigned h = t->height; h > 0 && p != NULL; h--) {
		struct radix_node *rn = p;

		p = rn->slot[(idx >> (RADIX_SHIFT * (h - 1))) & RADIX_MASK];
	}
	return p;
}

/* => idx has no page yet.  On -ENOMEM the tree may keep empty nodes; they
 *    go with the next truncate or free. */
static int radix_insert(struct radix *t, uint64_t idx, void *page)
{
	unsigned need = 1;
	struct radix_node *rn;

	while (need < RADIX_MAX_HEIGHT && (idx >> (RADIX_SHIFT * need)) != 0)
		need++;
	if (t->root == NULL) {
		rn = sys_calloc(1, sizeof(*rn));
		if (rn == NULL)
			return -ENOMEM;
		t->root = rn;
		t->height = need;
	}
	while (t->height < need) {
		rn = sys_calloc(1, sizeof(*rn));
		if (rn == NULL)
			return -ENOMEM;
		rn->slot[0] = t->root;
		rn->count = 1;
		t->root = rn;
		t->height++;
	}
	rn = t->root;
	for (unsigned h = t->height; h > 1; h--) {
		unsigned i = (idx >> (RADIX_SHIFT * (h - 1))) & RADIX_MASK;

		if (rn->slot[i] == NULL) {
			struct radix_node *c = sys_calloc(1, sizeof(*c));

			if (c == NULL)
				return -ENOMEM;
			rn->slot[i] = c;
			rn->count++;
		}
		rn = rn->slot[i];
	}
	assert(rn->slot[idx & RADIX_MASK] == NULL);
	rn->slot[idx & RADIX_MASK] = page;
	rn->count++;
	return 0;
}

/* Frees the pages at index >= from in the subtree at *slotp, of the given
 * height (0: *slotp is a page) and first index base, and the nodes left
 * empty; returns the number of pages freed. */
static uint64_t radix_trunc_sub(void **slotp, unsigned height, uint64_t base,
				uint64_t from)
{
	struct radix_node *rn = *slotp;
	uint64_t step, freed = 0;

	if (rn == NULL)
		return 0;
	if (height == 0) {
		if (base < from)
			return 0;
		free(*slotp);
		*slotp = NULL;
		return 1;
	}
	step = (uint64_t)1 << (RADIX_SHIFT * (height - 1));
	for (unsigned i = 0; i < RADIX_FAN; i++) {
		uint64_t b = base + i * step;

		if (rn->slot[i] == NULL || b + step <= from)
			continue;
		freed += radix_trunc_sub(&rn->slot[i], height - 1, b, from);
		if (rn->slot[i] == NULL)
			rn->count--;
	}
	if (rn->count == 0) {
		free(rn);
		*slotp = NULL;
	}
	return freed;
}

static uint64_t radix_trunc(struct radix *t, uint64_t from)
{
	uint64_t freed;

	if (t->root == NULL)
		return 0;
	freed = radix_trunc_sub(&t->root, t->height, 0, from);
	/* Collapse roots that only lead to index 0's subtree. */
	while (t->root != NULL && t->height > 1) {
		struct radix_node *rn = t->root;

		if (rn->count != 1 || rn->slot[0] == NULL)
			break;
		t->root = rn->slot[0];
		t->height--;
		free(rn);
	}
	if (t->root == NULL)
		t->height = 0;
	return freed;
}

/* ---- directories ------------------------------------------------------- */

static struct dent *dent_new(const char *name, size_t len)
{
	struct dent *de = sys_malloc(sizeof(*de) + len + 1);

	if (de == NULL)
		return NULL;
	de->hnext = NULL;
	de->child = NULL;
	de->seq = 0;
	de->hash = name_hash(name, len);
	de->len = len;
	memcpy(de->name, name, len + 1);
	return de;
}

static struct dent *dir_find(const struct dir *d, const char *name,
			     size_t len, uint64_t hash)
{
	if (d->ntab == 0)
		return NULL;
	for (struct dent *de = d->tab[hash & (d->ntab - 1)]; de != NULL;
	     de = de->hnext)
		if (de->hash == hash && de->len == len &&
		    memcmp(de->name, name, len) == 0)
			return de;
	return NULL;
}

static int dir_rehash(struct dir *d, size_t ntab)
{
	struct dent **tab = sys_calloc(ntab, sizeof(*tab));

	if (tab == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < d->ntab; i++) {
		struct dent *de, *next;

		for (de = d->tab[i]; de != NULL; de = next) {
			size_t b = de->hash & (ntab - 1);

			next = de->hnext;
			de->hnext = tab[b];
			tab[b] = de;
		}
	}
	free(d->tab);
	d->tab = tab;
	d->ntab = ntab;
	return 0;
}

static void dir_compact(struct dir *d)
{
	size_t j = 0;

	for (size_t i = 0; i < d->nord; i++)
		if (d->ord[i].de != NULL)
			d->ord[j++] = d->ord[i];
	d->nord = j;
	d->ntomb = 0;
}

/* The first slot with seq >= seq (nord if none). */
static size_t dir_slot(const struct dir *d, uint64_t seq)
{
	size_t lo = 0, hi = d->nord;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->ord[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Makes room for one more entry, so that dir_insert cannot fail.
 * => ns written.  Changes nothing a reader can see. */
static int dir_reserve(struct dir *d)
{
	if (d->nent + 1 > d->ntab) {
		int err = dir_rehash(d, d->ntab ? d->ntab * 2 : DIR_MIN_TAB);

		if (err != 0)
			return err;
	}
	if (d->nord == d->cord) {
		if (d->ntomb > 0 && d->ntomb * 2 >= d->nord) {
			dir_compact(d);
		} else {
			size_t c = d->cord ? d->cord * 2 : DIR_MIN_ORD;
			struct slot *o = sys_realloc(d->ord, c * sizeof(*o));

			if (o == NULL)
				return -ENOMEM;
			d->ord = o;
			d->cord = c;
		}
	}
	return 0;
}

/* => ns written; dir_reserve succeeded since the last insert. */
static void dir_insert(struct dir *d, struct dent *de)
{
	size_t b = de->hash & (d->ntab - 1);

	assert(d->nent < d->ntab && d->nord < d->cord);
	de->seq = d->next_seq++;
	de->hnext = d->tab[b];
	d->tab[b] = de;
	d->ord[d->nord].seq = de->seq;
	d->ord[d->nord].de = de;
	d->nord++;
	d->nent++;
}

/* => ns written.  The caller frees de. */
static void dir_remove(struct dir *d, struct dent *de)
{
	struct dent **pp = &d->tab[de->hash & (d->ntab - 1)];
	size_t i;

	while (*pp != de)
		pp = &(*pp)->hnext;
	*pp = de->hnext;
	i = dir_slot(d, de->seq);
	assert(i < d->nord && d->ord[i].de == de);
	d->ord[i].de = NULL;
	d->ntomb++;
	d->nent--;
	while (d->nord > 0 && d->ord[d->nord - 1].de == NULL) {
		d->nord--;
		d->ntomb--;
	}
	if (d->ntomb > DIR_MIN_ORD && d->ntomb * 2 > d->nord)
		dir_compact(d);
	if (d->cord > DIR_MIN_ORD && d->nord < d->cord / 4) {
		struct slot *o = sys_realloc(d->ord, d->cord / 2 * sizeof(*o));

		if (o != NULL) {
			d->ord = o;
			d->cord /= 2;
		}
	}
	if (d->ntab > DIR_MIN_TAB && d->nent < d->ntab / 8)
		(void)dir_rehash(d, d->ntab / 2); /* keeps the old on failure */
}

static void dir_fini(struct dir *d)
{
	for (size_t i = 0; i < d->nord; i++)
		free(d->ord[i].de);
	free(d->ord);
	free(d->tab);
}

/* Is a the directory d or one of its ancestors?  => ns held; d is live. */
static bool dir_is_ancestor(const struct node *a, const struct node *d)
{
	for (;;) {
		if (d == a)
			return true;
		if (d->u.dir.parent == d || d->u.dir.parent == NULL)
			return false;
		d = d->u.dir.parent;
	}
}

/* ---- nodes and the ino table ------------------------------------------- */

static struct node *node_new(mode_t mode, uid_t uid, gid_t gid, dev_t rdev,
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
		n->u.dir.next_seq = 2;
	} else {
		n->nlink = 1;
	}
	now(&n->atime);
	n->mtime = n->ctime = n->atime;
	return n;
}

/* => nothing can reach n any more. */
static void node_free(struct memfs *fs, struct node *n)
{
	struct xattr *x, *next;

	for (x = n->xattrs; x != NULL; x = next) {
		next = x->next;
		free(x);
	}
	pages_uncount(fs, xattr_pages(n->xbytes));
	switch (n->type) {
	case S_IFREG:
		pages_uncount(fs, radix_trunc(&n->u.reg.pages, 0));
		break;
	case S_IFDIR:
		dir_fini(&n->u.dir);
		break;
	case S_IFLNK:
		free(n->u.target);
		break;
	default:
		break;
	}
	pthread_mutex_destroy(&n->lock);
	free(n);
}

static size_t itab_bucket(const struct memfs *fs, uint64_t ino)
{
	return (size_t)(ino & (fs->nitab - 1));
}

/* Makes room for one more node.  => itab_lock held. */
static int itab_reserve_locked(struct memfs *fs)
{
	struct node **tab;
	size_t ntab;

	if (fs->nnodes + 1 <= fs->nitab)
		return 0;
	ntab = fs->nitab ? fs->nitab * 2 : ITAB_MIN;
	tab = sys_calloc(ntab, sizeof(*tab));
	if (tab == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < fs->nitab; i++) {
		struct node *n, *next;

		for (n = fs->itab[i]; n != NULL; n = next) {
			size_t b = (size_t)(n->ino & (ntab - 1));

			next = n->inext;
			n->inext = tab[b];
			tab[b] = n;
		}
	}
	free(fs->itab);
	fs->itab = tab;
	fs->nitab = ntab;
	return 0;
}

/* Gives n its ino and makes vget find it.  => itab_lock held; reserved. */
static void itab_insert_locked(struct memfs *fs, struct node *n)
{
	size_t b;

	n->ino = fs->next_ino++;
	b = itab_bucket(fs, n->ino);
	n->inext = fs->itab[b];
	fs->itab[b] = n;
	fs->nnodes++;
}

static struct node *itab_find_locked(struct memfs *fs, uint64_t ino)
{
	struct node *n;

	for (n = fs->itab[itab_bucket(fs, ino)]; n != NULL; n = n->inext)
		if (n->ino == ino)
			break;
	return n;
}

static void itab_remove_locked(struct memfs *fs, struct node *n)
{
	struct node **pp = &fs->itab[itab_bucket(fs, n->ino)];

	while (*pp != n)
		pp = &(*pp)->inext;
	*pp = n->inext;
	fs->nnodes--;
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
		itab_remove_locked(fs, n);
		dead = true;
	}
	pthread_mutex_unlock(&fs->itab_lock);
	return dead;
}

/* Takes a link from n: one from a file, all of a directory's (it is being
 * removed: it is empty and loses its ".." too).
 * => ns written.  Returns true if the caller must node_free(n). */
static bool node_unlink(struct memfs *fs, struct node *n,
			const struct timespec *ts)
{
	bool dead;

	pthread_mutex_lock(&n->lock);
	if (n->type == S_IFDIR) {
		n->nlink = 0;
		n->u.dir.parent = NULL;
	} else {
		assert(n->nlink > 0);
		n->nlink--;
	}
	n->ctime = *ts;
	dead = unhash_if_dead_locked(fs, n);
	pthread_mutex_unlock(&n->lock);
	return dead;
}

/* d's entries changed: dlink subdirectories, dent entries more.
 * => ns written. */
static void dir_touch(struct node *d, int dlink, int dent,
		      const struct timespec *ts)
{
	pthread_mutex_lock(&d->lock);
	d->nlink += dlink;
	d->size += (off_t)dent * DIRENT_BOGO;
	d->mtime = d->ctime = *ts;
	pthread_mutex_unlock(&d->lock);
}

static void node_touch_ctime(struct node *n, const struct timespec *ts)
{
	pthread_mutex_lock(&n->lock);
	n->ctime = *ts;
	pthread_mutex_unlock(&n->lock);
}

/* ---- regular file data ------------------------------------------------- */

/* => n->lock held; n is a regular file; 0 <= size. */
static void truncate_locked(struct memfs *fs, struct node *n, off_t size)
{
	if (size < n->size) {
		uint64_t first = ((uint64_t)size + PG_MASK) >> PG_SHIFT;
		uint64_t freed = radix_trunc(&n->u.reg.pages, first);

		n->u.reg.npages -= freed;
		pages_uncount(fs, freed);
		if (((uint64_t)size & PG_MASK) != 0) {
			char *pg = radix_lookup(&n->u.reg.pages,
						(uint64_t)size >> PG_SHIFT);

			/* zeros for the bytes a later extension exposes */
			if (pg != NULL)
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
	fs->next_ino = 1;
	atomic_init(&fs->used_pages, 0);
	fs->root = node_new(S_IFDIR | o.mode, o.uid, o.gid, 0, NULL);
	if (fs->root == NULL)
		goto free_fs;
	fs->root->u.dir.parent = fs->root;
	if (itab_reserve_locked(fs) != 0) /* not shared yet */
		goto free_root;
	itab_insert_locked(fs, fs->root);
	uvfs_sb_set_private(sb, fs);
	*root_ino = fs->root->ino;
	return 0;

free_root:
	node_free(fs, fs->root);
free_fs:
	free(fs->itab);
	pthread_mutex_destroy(&fs->itab_lock);
	pthread_rwlock_destroy(&fs->ns_lock);
	free(fs);
	return -ENOMEM;
}

/* => every vnode has been reclaimed. */
static void op_unmount(struct uvfs_sb *sb)
{
	struct memfs *fs = sb_fs(sb);

	for (size_t i = 0; i < fs->nitab; i++) {
		struct node *n, *next;

		for (n = fs->itab[i]; n != NULL; n = next) {
			next = n->inext;
			assert(n->vrefs == 0);
			node_free(fs, n);
		}
	}
	assert(atomic_load(&fs->used_pages) == 0);
	free(fs->itab);
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
	nnodes = fs->nnodes;
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
	n = itab_find_locked(fs, ino);
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

	pthread_mutex_lock(&n->lock);
	pthread_mutex_lock(&fs->itab_lock);
	assert(n->vrefs > 0);
	n->vrefs--;
	dead = n->vrefs == 0 && n->nlink == 0;
	if (dead)
		itab_remove_locked(fs, n);
	pthread_mutex_unlock(&fs->itab_lock);
	pthread_mutex_unlock(&n->lock);
	if (dead)
		node_free(fs, n);
}

/* ---- attributes -------------------------------------------------------- */

static int op_getattr(struct uvfs_sb *sb, void *priv, struct stat *st)
{
	struct node *n = priv;

	(void)sb;
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&n->lock);
	st->st_dev = 0;
	st->st_ino = n->ino;
	st->st_mode = n->mode;
	st->st_nlink = n->nlink;
	st->st_uid = n->uid;
	st->st_gid = n->gid;
	st->st_rdev = n->rdev;
	st->st_size = n->size;
	st->st_blksize = PG_SIZE;
	st->st_blocks = n->type == S_IFREG ?
		(blkcnt_t)(n->u.reg.npages * (PG_SIZE / 512)) : 0;
	st->st_atim = n->atime;
	st->st_mtim = n->mtime;
	st->st_ctim = n->ctime;
	pthread_mutex_unlock(&n->lock);
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

	pthread_mutex_lock(&n->lock);
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
		changed = true;
	}
	if (v & UVFS_SET_SIZE) {
		truncate_locked(fs, n, sa->size);
		n->mtime = ts;
		changed = true;
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
	pthread_mutex_unlock(&n->lock);
	return 0;
}

/* uid 0 may do anything but execute a non-directory without any x bit. */
static int op_permission(struct uvfs_sb *sb, void *priv, int mask,
			 const struct uvfs_cred *cred)
{
	struct node *n = priv;
	mode_t mode, perm;
	uid_t uid;
	gid_t gid;

	(void)sb;
	mask &= R_OK | W_OK | X_OK;
	pthread_mutex_lock(&n->lock);
	mode = n->mode;
	uid = n->uid;
	gid = n->gid;
	pthread_mutex_unlock(&n->lock);

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

/* ---- namespace --------------------------------------------------------- */

static int op_lookup(struct uvfs_sb *sb, void *dirp, const char *name,
		     struct uvfs_ident *id)
{
	struct memfs *fs = sb_fs(sb);
	struct node *d = dirp;
	struct dent *de;
	size_t len;
	uint64_t hash;
	int err;

	if (d->type != S_IFDIR)
		return -ENOTDIR;
	if (strcmp(name, "..") == 0) {
		/* the parent; a removed directory has none left */
		pthread_rwlock_rdlock(&fs->ns_lock);
		err = d->u.dir.parent ? 0 : -ENOENT;
		if (d->u.dir.parent) {
			id->ino = d->u.dir.parent->ino;
			id->type = S_IFDIR;
		}
		pthread_rwlock_unlock(&fs->ns_lock);
		return err;
	}
	err = name_check(name, &len);
	if (err != 0)
		return err;
	hash = name_hash(name, len);
	pthread_rwlock_rdlock(&fs->ns_lock);
	de = dir_find(&d->u.dir, name, len, hash);
	if (de != NULL) {
		id->ino = de->child->ino;
		id->type = de->child->type;
	}
	pthread_rwlock_unlock(&fs->ns_lock);
	return de != NULL ? 0 : -ENOENT;
}

/* => mode carries the type; the core has applied the umask.  Owner from
 *    cred, group and S_ISGID from a setgid parent. */
static int op_create(struct uvfs_sb *sb, void *dirp, const char *name,
		     mode_t mode, dev_t rdev, const char *target,
		     const struct uvfs_cred *cred, struct uvfs_ident *id)
{
	struct memfs *fs = sb_fs(sb);
	struct node *d = dirp, *n;
	struct dent *de;
	struct timespec ts;
	mode_t type = mode & S_IFMT;
	size_t len;
	int err;

	if (d->type != S_IFDIR)
		return -ENOTDIR;
	err = name_check(name, &len);
	if (err != 0)
		return err;
	switch (type) {
	case S_IFLNK:
		if (target == NULL)
			return -EINVAL;
		if (strnlen(target, SYMLINK_MAX + 1) > SYMLINK_MAX)
			return -ENAMETOOLONG;
		if (target[0] == '\0')
			return -ENOENT;
		mode = S_IFLNK | 0777;
		break;
	case S_IFREG: case S_IFDIR: case S_IFIFO: case S_IFSOCK:
		rdev = 0;
		/* fall through */
	case S_IFCHR: case S_IFBLK:
		target = NULL;
		mode &= S_IFMT | 07777;
		break;
	default:
		return -EINVAL;
	}
	n = node_new(mode, cred->uid, cred->gid, rdev, target);
	if (n == NULL)
		return -ENOMEM;
	de = dent_new(name, len);
	if (de == NULL) {
		err = -ENOMEM;
		goto free_node;
	}
	now(&ts);

	pthread_rwlock_wrlock(&fs->ns_lock);
	if (d->nlink == 0) {
		err = -ENOENT;
		goto unlock;
	}
	if (dir_find(&d->u.dir, name, len, de->hash) != NULL) {
		err = -EEXIST;
		goto unlock;
	}
	err = dir_reserve(&d->u.dir);
	if (err != 0)
		goto unlock;
	pthread_mutex_lock(&fs->itab_lock);
	err = itab_reserve_locked(fs);
	pthread_mutex_unlock(&fs->itab_lock);
	if (err != 0)
		goto unlock;

	/* Nothing fails from here on. */
	pthread_mutex_lock(&d->lock);
	if (d->mode & S_ISGID) {
		n->gid = d->gid;
		if (type == S_IFDIR)
			n->mode |= S_ISGID;
		else if ((n->mode & (S_ISGID | S_IXGRP)) ==
				 (S_ISGID | S_IXGRP) &&
			 cred->uid != 0 && !in_group(cred, n->gid))
			n->mode &= ~(mode_t)S_ISGID;
	}
	d->nlink += type == S_IFDIR;
	d->size += DIRENT_BOGO;
	d->mtime = d->ctime = ts;
	pthread_mutex_unlock(&d->lock);
	n->atime = n->mtime = n->ctime = ts;
	if (type == S_IFDIR)
		n->u.dir.parent = d;

	pthread_mutex_lock(&fs->itab_lock);
	itab_insert_locked(fs, n);
	pthread_mutex_unlock(&fs->itab_lock);
	de->child = n;
	dir_insert(&d->u.dir, de);
	id->ino = n->ino;
	id->type = n->type;
	pthread_rwlock_unlock(&fs->ns_lock);
	return 0;

unlock:
	pthread_rwlock_unlock(&fs->ns_lock);
	free(de);
free_node:
	node_free(fs, n);
	return err;
}

static int op_link(struct uvfs_sb *sb, void *dirp, const char *name,
		   void *priv)
{
	struct memfs *fs = sb_fs(sb);
	struct node *d = dirp, *n = priv;
	struct dent *de;
	struct timespec ts;
	size_t len;
	int err;

	if (d->type != S_IFDIR)
		return -ENOTDIR;
	err = name_check(name, &len);
	if (err != 0)
		return err;
	de = dent_new(name, len);
	if (de == NULL)
		return -ENOMEM;
	now(&ts);

	pthread_rwlock_wrlock(&fs->ns_lock);
	if (d->nlink == 0)
		err = -ENOENT;
	else if (dir_find(&d->u.dir, name, len, de->hash) != NULL)
		err = -EEXIST;
	else if (n->type == S_IFDIR)
		err = -EPERM;
	else if (n->nlink == 0)
		err = -ENOENT;
	else
		err = dir_reserve(&d->u.dir);
	if (err == 0) {
		de->child = n;
		dir_insert(&d->u.dir, de);
		pthread_mutex_lock(&n->lock);
		n->nlink++;
		n->ctime = ts;
		pthread_mutex_unlock(&n->lock);
		dir_touch(d, 0, 1, &ts);
	}
	pthread_rwlock_unlock(&fs->ns_lock);
	if (err != 0)
		free(de);
	return err;
}

static int op_unlink(struct uvfs_sb *sb, void *dirp, const char *name,
		     int isdir)
{
	struct memfs *fs = sb_fs(sb);
	struct node *d = dirp, *n = NULL;
	struct dent *de;
	struct timespec ts;
	bool dead = false;
	size_t len;
	int err;

	if (d->type != S_IFDIR)
		return -ENOTDIR;
	err = name_check(name, &len);
	if (err != 0)
		return err;
	now(&ts);

	pthread_rwlock_wrlock(&fs->ns_lock);
	de = dir_find(&d->u.dir, name, len, name_hash(name, len));
	if (de == NULL) {
		err = -ENOENT;
	} else if (isdir) {
		n = de->child;
		if (n->type != S_IFDIR)
			err = -ENOTDIR;
		else if (n->u.dir.nent != 0)
			err = -ENOTEMPTY;
	} else {
		n = de->child;
		if (n->type == S_IFDIR)
			err = -EISDIR;
	}
	if (err == 0) {
		dir_remove(&d->u.dir, de);
		dead = node_unlink(fs, n, &ts);
		dir_touch(d, n->type == S_IFDIR ? -1 : 0, -1, &ts);
	}
	pthread_rwlock_unlock(&fs->ns_lock);
	if (err == 0) {
		free(de);
		if (dead)
			node_free(fs, n);
	}
	return err;
}

/* Linux rename(2) semantics, in Linux's order of checks. */
static int op_rename(struct uvfs_sb *sb, void *odirp, const char *oname,
		     void *ndirp, const char *nname, unsigned flags)
{
	struct memfs *fs = sb_fs(sb);
	struct node *od = odirp, *nd = ndirp, *src, *dst;
	struct dent *ode, *nde, *fresh = NULL;
	bool exchange = flags & RENAME_EXCHANGE, dead = false;
	struct timespec ts;
	size_t olen, nlen;
	int err, odl = 0, ndl = 0;

	if ((flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE)) != 0 ||
	    ((flags & RENAME_NOREPLACE) && exchange))
		return -EINVAL;
	if (od->type != S_IFDIR || nd->type != S_IFDIR)
		return -ENOTDIR;
	err = name_check(oname, &olen);
	if (err == 0)
		err = name_check(nname, &nlen);
	if (err != 0)
		return err;
	if (!exchange) {
		fresh = dent_new(nname, nlen);
		if (fresh == NULL)
			return -ENOMEM;
	}
	now(&ts);

	pthread_rwlock_wrlock(&fs->ns_lock);
	ode = dir_find(&od->u.dir, oname, olen, name_hash(oname, olen));
	if (ode == NULL) {
		err = -ENOENT;
		goto unlock;
	}
	if (nd->nlink == 0) {
		err = -ENOENT;
		goto unlock;
	}
	src = ode->child;
	nde = dir_find(&nd->u.dir, nname, nlen, name_hash(nname, nlen));
	dst = nde ? nde->child : NULL;
	if (exchange && dst == NULL) {
		err = -ENOENT;
		goto unlock;
	}
	if (dst != NULL && (flags & RENAME_NOREPLACE)) {
		err = -EEXIST;
		goto unlock;
	}
	if (src->type == S_IFDIR && dir_is_ancestor(src, nd)) {
		err = -EINVAL;
		goto unlock;
	}
	if (dst != NULL && dst->type == S_IFDIR && dir_is_ancestor(dst, od)) {
		err = exchange ? -EINVAL : -ENOTEMPTY;
		goto unlock;
	}
	if (src == dst) /* the same entry, or links to one file: no-op */
		goto unlock;

	if (exchange) {
		ode->child = dst;
		nde->child = src;
		if (od != nd) {
			if (src->type == S_IFDIR) {
				src->u.dir.parent = nd;
				odl--;
				ndl++;
			}
			if (dst->type == S_IFDIR) {
				dst->u.dir.parent = od;
				ndl--;
				odl++;
			}
		}
		node_touch_ctime(src, &ts);
		node_touch_ctime(dst, &ts);
		dir_touch(od, odl, 0, &ts);
		if (nd != od)
			dir_touch(nd, ndl, 0, &ts);
		goto unlock;
	}

	if (dst != NULL) {
		if (src->type == S_IFDIR) {
			if (dst->type != S_IFDIR)
				err = -ENOTDIR;
			else if (dst->u.dir.nent != 0)
				err = -ENOTEMPTY;
		} else if (dst->type == S_IFDIR) {
			err = -EISDIR;
		}
	} else {
		err = dir_reserve(&nd->u.dir);
	}
	if (err != 0)
		goto unlock;

	/* Nothing fails from here on. */
	dir_remove(&od->u.dir, ode);
	if (dst != NULL) {
		nde->child = src; /* the target name keeps its place */
		if (dst->type == S_IFDIR)
			ndl--;
		dead = node_unlink(fs, dst, &ts);
	} else {
		fresh->child = src;
		dir_insert(&nd->u.dir, fresh);
		fresh = NULL;
	}
	if (src->type == S_IFDIR && od != nd) {
		src->u.dir.parent = nd;
		odl--;
		ndl++;
	}
	node_touch_ctime(src, &ts);
	if (od == nd) {
		dir_touch(od, odl + ndl, dst ? -1 : 0, &ts);
	} else {
		dir_touch(od, odl, -1, &ts);
		dir_touch(nd, ndl, dst ? 0 : 1, &ts);
	}
	free(ode);

unlock:
	pthread_rwlock_unlock(&fs->ns_lock);
	free(fresh);
	if (dead)
		node_free(fs, dst);
	return err;
}

static ssize_t op_readlink(struct uvfs_sb *sb, void *priv, char *buf,
			   size_t size)
{
	struct node *n = priv;
	size_t len;

	(void)sb;
	if (n->type != S_IFLNK)
		return -EINVAL;
	len = (size_t)n->size; /* constant for a symlink */
	if (len > size)
		len = size;
	memcpy(buf, n->u.target, len);
	pthread_mutex_lock(&n->lock);
	now(&n->atime);
	pthread_mutex_unlock(&n->lock);
	return (ssize_t)len;
}

/* ---- extended attributes ----------------------------------------------- */

/* The core has checked the name and the size (fs.h); this holds all the
 * same.  => 0 with *nlenp set, or -ERANGE. */
static int xattr_name(const char *name, size_t *nlenp)
{
	size_t nlen = strnlen(name, XATTR_NAME_LEN_MAX + 1);

	if (nlen == 0 || nlen > XATTR_NAME_LEN_MAX)
		return -ERANGE;
	*nlenp = nlen;
	return 0;
}

static size_t xattr_size(const struct xattr *x)
{
	return x->nlen + 1 + x->vlen;
}

/* => n->lock held.  The link to name's attribute, or the NULL at the end
 *    of the list. */
static struct xattr **xattr_find_locked(struct node *n, const char *name,
					size_t nlen)
{
	struct xattr **pp;

	for (pp = &n->xattrs; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->nlen == nlen && memcmp((*pp)->data, name, nlen) == 0)
			break;
	return pp;
}

/* n's attributes take bytes from now on: charges or gives back the
 * difference in pages.  => n->lock held; 0 or -ENOSPC (nothing changed;
 * never when shrinking). */
static int xattr_charge_locked(struct memfs *fs, struct node *n,
			       size_t bytes)
{
	uint64_t have = xattr_pages(n->xbytes), want = xattr_pages(bytes);

	if (want > have) {
		int err = pages_count(fs, want - have);

		if (err != 0)
			return err;
	} else {
		pages_uncount(fs, have - want);
	}
	n->xbytes = bytes;
	return 0;
}

static ssize_t op_getxattr(struct uvfs_sb *sb, void *priv, const char *name,
			   void *value, size_t size)
{
	struct node *n = priv;
	const struct xattr *x;
	size_t nlen;
	ssize_t r;

	(void)sb;
	r = xattr_name(name, &nlen);
	if (r != 0)
		return r;
	pthread_mutex_lock(&n->lock);
	x = *xattr_find_locked(n, name, nlen);
	if (x == NULL) {
		r = -ENODATA;
	} else if (size != 0 && x->vlen > size) {
		r = -ERANGE;
	} else {
		if (size != 0)
			memcpy(value, x->data + x->nlen + 1, x->vlen);
		r = (ssize_t)x->vlen;
	}
	pthread_mutex_unlock(&n->lock);
	return r;
}

/* Every name, NUL-terminated, in the order first set. */
static ssize_t op_listxattr(struct uvfs_sb *sb, void *priv, char *list,
			    size_t size)
{
	struct node *n = priv;
	const struct xattr *x;
	size_t len = 0;
	ssize_t r;

	(void)sb;
	pthread_mutex_lock(&n->lock);
	for (x = n->xattrs; x != NULL; x = x->next)
		len += x->nlen + 1;
	if (size != 0 && len > size) {
		r = -ERANGE;
	} else {
		if (size != 0) {
			char *p = list;

			for (x = n->xattrs; x != NULL; x = x->next) {
				memcpy(p, x->data, x->nlen + 1);
				p += x->nlen + 1;
			}
		}
		r = (ssize_t)len;
	}
	pthread_mutex_unlock(&n->lock);
	return r;
}

/* A new value takes the old one's place in the list; ctime changes, as on
 * tmpfs. */
static int op_setxattr(struct uvfs_sb *sb, void *priv, const char *name,
		       const void *value, size_t size, int flags)
{
	struct memfs *fs = sb_fs(sb);
	struct node *n = priv;
	struct xattr *x, *old, **pp;
	size_t nlen;
	int err;

	err = xattr_name(name, &nlen);
	if (err != 0)
		return err;
	if (size > UVFS_XATTR_SIZE_MAX)
		return -E2BIG;
	x = sys_malloc(sizeof(*x) + nlen + 1 + size);
	if (x == NULL)
		return -ENOMEM;
	x->next = NULL;
	x->nlen = nlen;
	x->vlen = size;
	memcpy(x->data, name, nlen + 1);
	if (size != 0)
		memcpy(x->data + nlen + 1, value, size);

	pthread_mutex_lock(&n->lock);
	pp = xattr_find_locked(n, name, nlen);
	old = *pp;
	if (old != NULL && (flags & XATTR_CREATE))
		err = -EEXIST;
	else if (old == NULL && (flags & XATTR_REPLACE))
		err = -ENODATA;
	else
		err = xattr_charge_locked(fs, n, n->xbytes + xattr_size(x) -
					  (old ? xattr_size(old) : 0));
	if (err == 0) {
		x->next = old ? old->next : NULL;
		*pp = x;
		now(&n->ctime);
	}
	pthread_mutex_unlock(&n->lock);
	if (err != 0) {
		free(x);
		return err;
	}
	free(old);
	return 0;
}

static int op_removexattr(struct uvfs_sb *sb, void *priv, const char *name)
{
	struct memfs *fs = sb_fs(sb);
	struct node *n = priv;
	struct xattr *x, **pp;
	size_t nlen;
	int err;

	err = xattr_name(name, &nlen);
	if (err != 0)
		return err;
	pthread_mutex_lock(&n->lock);
	pp = xattr_find_locked(n, name, nlen);
	x = *pp;
	if (x != NULL) {
		*pp = x->next;
		err = xattr_charge_locked(fs, n, n->xbytes - xattr_size(x));
		assert(err == 0); /* shrinking */
		now(&n->ctime);
	}
	pthread_mutex_unlock(&n->lock);
	if (x == NULL)
		return -ENODATA;
	free(x);
	return 0;
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

	pthread_mutex_lock(&nd->lock);
	if (off >= nd->size)
		n = 0;
	else if (n > (uint64_t)(nd->size - off))
		n = (size_t)(nd->size - off);
	while (done < n) {
		uint64_t pos = (uint64_t)off + done;
		size_t po = pos & PG_MASK;
		size_t chunk = PG_SIZE - po;
		const char *pg = radix_lookup(&nd->u.reg.pages,
					      pos >> PG_SHIFT);

		if (chunk > n - done)
			chunk = n - done;
		if (pg != NULL)
			memcpy((char *)buf + done, pg + po, chunk);
		else
			memset((char *)buf + done, 0, chunk);
		done += chunk;
	}
	now(&nd->atime);
	pthread_mutex_unlock(&nd->lock);
	return (ssize_t)done;
}

/* => *off < 0 appends at the size, atomically.  A write that runs out of
 *    space is short; with nothing written it fails with -ENOSPC. */
static ssize_t op_write(struct uvfs_sb *sb, void *priv, void *fh,
			const void *buf, size_t n, off_t *off)
{
	struct memfs *fs = sb_fs(sb);
	struct node *nd = priv;
	size_t done = 0;
	off_t pos;
	int err = 0;

	(void)fh;
	if (nd->type == S_IFDIR)
		return -EISDIR;
	if (nd->type != S_IFREG)
		return -EINVAL;
	if (n > SSIZE_MAX)
		n = SSIZE_MAX;

	pthread_mutex_lock(&nd->lock);
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
		char *pg = radix_lookup(&nd->u.reg.pages, p >> PG_SHIFT);

		if (chunk > n - done)
			chunk = n - done;
		if (pg == NULL) {
			err = page_alloc(fs, &pg);
			if (err != 0)
				break;
			err = radix_insert(&nd->u.reg.pages, p >> PG_SHIFT,
					   pg);
			if (err != 0) {
				free(pg);
				pages_uncount(fs, 1);
				break;
			}
			nd->u.reg.npages++;
		}
		memcpy(pg + po, (const char *)buf + done, chunk);
		done += chunk;
	}
	if (done > 0) {
		err = 0;
		if (pos + (off_t)done > nd->size)
			nd->size = pos + (off_t)done;
		now(&nd->mtime);
		nd->ctime = nd->mtime;
	}
	if (err == 0)
		*off = pos + (off_t)done;
unlock:
	pthread_mutex_unlock(&nd->lock);
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
		for (i = dir_slot(dir, cookie); i < dir->nord; i++) {
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
	pthread_mutex_lock(&d->lock);
	now(&d->atime);
	pthread_mutex_unlock(&d->lock);
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
	.lookup = op_lookup,
	.create = op_create,
	.link = op_link,
	.unlink = op_unlink,
	.rename = op_rename,
	.readlink = op_readlink,
	.open = op_open,
	.release = op_release,
	.read = op_read,
	.write = op_write,
	.fsync = op_fsync,
	.readdir = op_readdir,
	.getxattr = op_getxattr,
	.setxattr = op_setxattr,
	.listxattr = op_listxattr,
	.removexattr = op_removexattr,
};
