/*
 * fuse_null.c - the FUSE transport baseline of bench/bench_fuse: a
 * low-level libfuse daemon that answers each request as cheaply as the
 * protocol allows, with no file system behind it.
 *
 * It keeps only what the kernel would notice missing: names (so that an
 * O_EXCL create, a stat, an unlink, a readdir and rm -rf behave), each
 * inode's type, mode and size.  File data is not kept: a write is counted
 * into the size and dropped, a read answers zeros up to the size (one
 * static buffer, no copy).  Attributes are fixed but for type, mode, size
 * and link count.  What uvfsd adds on top of this daemon is what uvfsd
 * costs; what this daemon costs over the kernel's tmpfs is FUSE itself.
 *
 * It is built with the same libfuse and run with uvfsd's settings, so that
 * only the work behind each request differs: the multi-threaded loop (at
 * most 64 workers, 8 idle, no clone_fd), default_permissions, entries,
 * attributes and failed lookups kept by the kernel for an hour (uvfsd's
 * memfs timeouts), keep_cache and noflush at every open, atomic O_TRUNC,
 * no writeback cache.  One difference: uvfsd amends the INIT reply with
 * parallel directory operations, which libfuse 3.14 drops; the workloads
 * of bench_fuse run one caller at a time, so the kernel's per-directory
 * lock is never contended there.
 *
 * State: one table of inodes (index = inode number), each directory with
 * an array of its children's numbers (a removed child leaves a 0, so a
 * readdir offset, the slot + 1, stays valid), one hash of (parent, name).
 * All of it under one mutex: each request holds it for a few loads.
 * Inodes are never reused (numbers only grow); a removed inode's name is
 * freed, its slot stays (the kernel may still send getattr on it).
 *
 * usage: bench_fuse_null MOUNTPOINT [-f] [-d] [-P] [-A]
 *   -f  stay in the foreground (the default when run by bench_fuse; the
 *       daemon never daemonises itself, -f is accepted for symmetry)
 *   -d  libfuse's debug output
 *   -P  without default_permissions (as passthrough_ll): what the
 *       kernel's permission checks cost the transport (one GETATTR of a
 *       directory after each change in it, docs/fuse.md)
 *   -A  allow_other: other users may use the mount (bench_fuse_instr -u)
 * It unmounts and exits on SIGTERM, SIGINT or SIGHUP.
 */
#define FUSE_USE_VERSION 312     /* fuse_loop_cfg_*, as uvfsd */
#define _GNU_SOURCE
#include <errno.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TTL 3600.0              /* uvfsd's timeouts on memfs */
#define ZEROS (1u << 20)        /* the largest read the kernel sends */

struct inode {                  /* all fields: table.lock */
	uint64_t parent;        /* 0: removed (or the root's parent) */
	char *name;             /* NULL once removed */
	mode_t mode;
	off_t size;
	unsigned nlink;
	uint64_t *kids;         /* directories: child numbers, 0 = hole */
	size_t nkids, capkids;
	size_t live;            /* directories: children not removed */
	uint64_t hnext;         /* the next inode in its hash chain */
	size_t slot;            /* its index in its parent's kids */
};

static struct {
	pthread_mutex_t lock;
	struct inode *ino;      /* [0] unused, [1] the root */
	size_t n, cap;
	uint64_t *hash;         /* heads of chains, 0 = empty */
	size_t hsize;           /* a power of two */
} table = { .lock = PTHREAD_MUTEX_INITIALIZER };

static char zeros[ZEROS];       /* never written: .bss, not a 1 MiB file */

static size_t hslot(uint64_t parent, const char *name)
{
	uint64_t h = parent * 0x9e3779b97f4a7c15ull;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	return (size_t)(h ^ (h >> 29)) & (table.hsize - 1);
}

/* => table.lock held.  0 if (parent, name) is not there. */
static uint64_t find(uint64_t parent, const char *name)
{
	for (uint64_t i = table.hash[hslot(parent, name)]; i;
	     i = table.ino[i].hnext)
		if (table.ino[i].parent == parent &&
		    strcmp(table.ino[i].name, name) == 0)
			return i;
	return 0;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 64;
	while (c < need)
		c *= 2;
	void *q = realloc(*p, c * elem);
	if (!q)
		return -ENOMEM;
	memset((char *)q + *cap * elem, 0, (c - *cap) * elem);
	*p = q;
	*cap = c;
	return 0;
}

static int rehash(void)
{
	size_t hs = table.hsize ? table.hsize * 2 : 1024;
	uint64_t *h = calloc(hs, sizeof(*h));

	if (!h)
		return -ENOMEM;
	free(table.hash);
	table.hash = h;
	table.hsize = hs;
	for (uint64_t i = 2; i < table.n; i++) {
		struct inode *in = &table.ino[i];
		if (!in->name)
			continue;
		size_t s = hslot(in->parent, in->name);
		in->hnext = table.hash[s];
		table.hash[s] = i;
	}
	return 0;
}

/* A new inode named name in parent.  => table.lock held; its number or
 * -errno. */
static int64_t add(uint64_t parent, const char *name, mode_t mode)
{
	struct inode *d = &table.ino[parent];
	char *nm;

	if (grow((void **)&d->kids, &d->capkids, d->nkids + 1,
		 sizeof(*d->kids)))
		return -ENOMEM;
	if (table.n + 1 > table.hsize / 2 && rehash())
		return -ENOMEM;
	size_t cap = table.cap;
	if (grow((void **)&table.ino, &cap, table.n + 1, sizeof(*table.ino)))
		return -ENOMEM;
	table.cap = cap;
	if (!(nm = strdup(name)))
		return -ENOMEM;
	d = &table.ino[parent];         /* the table may have moved */
	uint64_t i = table.n++;
	struct inode *in = &table.ino[i];
	memset(in, 0, sizeof(*in));
	in->parent = parent;
	in->name = nm;
	in->mode = mode;
	in->nlink = S_ISDIR(mode) ? 2 : 1;
	size_t s = hslot(parent, name);
	in->hnext = table.hash[s];
	table.hash[s] = i;
	in->slot = d->nkids;
	d->kids[d->nkids++] = i;
	d->live++;
	if (S_ISDIR(mode))
		d->nlink++;
	return (int64_t)i;
}

/* Takes (parent, name) out of the namespace.  => table.lock held. */
static void drop(uint64_t i)
{
	struct inode *in = &table.ino[i], *d = &table.ino[in->parent];
	uint64_t *pp = &table.hash[hslot(in->parent, in->name)];

	while (*pp != i)
		pp = &table.ino[*pp].hnext;
	*pp = in->hnext;
	d->kids[in->slot] = 0;  /* O(1): a scan made unlink O(n) */
	d->live--;
	if (S_ISDIR(in->mode))
		d->nlink--;
	free(in->name);
	in->name = NULL;
	in->parent = 0;
	in->nlink = 0;
}

/* => table.lock held. */
static void fill(uint64_t i, struct stat *st)
{
	const struct inode *in = &table.ino[i];

	memset(st, 0, sizeof(*st));
	st->st_ino = i;
	st->st_mode = in->mode;
	st->st_nlink = in->nlink;
	st->st_size = in->size;
	st->st_blksize = 4096;
	st->st_blocks = (in->size + 511) / 512;
}

static bool valid(fuse_ino_t i)
{
	return i >= 1 && i < table.n;
}

static void reply_new(fuse_req_t req, int64_t i)
{
	struct fuse_entry_param e = { .attr_timeout = TTL,
				      .entry_timeout = TTL };

	if (i < 0) {
		pthread_mutex_unlock(&table.lock);
		fuse_reply_err(req, (int)-i);
		return;
	}
	e.ino = (fuse_ino_t)i;
	fill((uint64_t)i, &e.attr);
	pthread_mutex_unlock(&table.lock);
	fuse_reply_entry(req, &e);
}

static void op_init(void *ud, struct fuse_conn_info *conn)
{
	(void)ud;
	conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	if (conn->capable & FUSE_CAP_DONT_MASK)
		conn->want |= FUSE_CAP_DONT_MASK;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	pthread_mutex_lock(&table.lock);
	uint64_t i = valid(parent) ? find(parent, name) : 0;
	if (!i) {
		/* a negative entry, cached as uvfsd caches memfs's */
		struct fuse_entry_param e = { .entry_timeout = TTL };
		pthread_mutex_unlock(&table.lock);
		fuse_reply_entry(req, &e);
		return;
	}
	reply_new(req, (int64_t)i);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t n)
{
	(void)ino, (void)n;
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t n,
			    struct fuse_forget_data *f)
{
	(void)n, (void)f;
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	pthread_mutex_lock(&table.lock);
	if (!valid(ino)) {
		pthread_mutex_unlock(&table.lock);
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill(ino, &st);
	pthread_mutex_unlock(&table.lock);
	fuse_reply_attr(req, &st, TTL);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	pthread_mutex_lock(&table.lock);
	if (!valid(ino)) {
		pthread_mutex_unlock(&table.lock);
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (to_set & FUSE_SET_ATTR_SIZE)
		table.ino[ino].size = attr->st_size;
	if (to_set & FUSE_SET_ATTR_MODE)
		table.ino[ino].mode = (table.ino[ino].mode & S_IFMT) |
				      (attr->st_mode & 07777);
	fill(ino, &st);
	pthread_mutex_unlock(&table.lock);
	fuse_reply_attr(req, &st, TTL);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	pthread_mutex_lock(&table.lock);
	if (!valid(parent) || find(parent, name))
		return reply_new(req, valid(parent) ? -EEXIST : -ENOENT);
	reply_new(req, add(parent, name, S_IFDIR | (mode & 07777)));
}

static void remove_name(fuse_req_t req, fuse_ino_t parent, const char *name,
			bool dir)
{
	int err = 0;

	pthread_mutex_lock(&table.lock);
	uint64_t i = valid(parent) ? find(parent, name) : 0;
	if (!i)
		err = ENOENT;
	else if (dir && !S_ISDIR(table.ino[i].mode))
		err = ENOTDIR;
	else if (!dir && S_ISDIR(table.ino[i].mode))
		err = EISDIR;
	else if (dir && table.ino[i].live)
		err = ENOTEMPTY;
	else
		drop(i);
	pthread_mutex_unlock(&table.lock);
	fuse_reply_err(req, err);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, false);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, true);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_entry_param e = { .attr_timeout = TTL,
				      .entry_timeout = TTL };
	int64_t i;

	pthread_mutex_lock(&table.lock);
	if (!valid(parent))
		i = -ENOENT;
	else if ((i = (int64_t)find(parent, name)) != 0) {
		if (fi->flags & O_EXCL)
			i = -EEXIST;
		else if (fi->flags & O_TRUNC)
			table.ino[i].size = 0;
	} else {
		i = add(parent, name, S_IFREG | (mode & 07777));
	}
	if (i < 0) {
		pthread_mutex_unlock(&table.lock);
		fuse_reply_err(req, (int)-i);
		return;
	}
	e.ino = (fuse_ino_t)i;
	fill((uint64_t)i, &e.attr);
	pthread_mutex_unlock(&table.lock);
	fi->keep_cache = 1;
	fi->noflush = 1;
	fuse_reply_create(req, &e, fi);
}

static void op_open(fuse_req_t req, fuse_ino_t ino,
		    struct fuse_file_info *fi)
{
	pthread_mutex_lock(&table.lock);
	if (!valid(ino)) {
		pthread_mutex_unlock(&table.lock);
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (fi->flags & O_TRUNC)
		table.ino[ino].size = 0;
	pthread_mutex_unlock(&table.lock);
	fi->keep_cache = 1;
	fi->noflush = 1;
	fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	off_t end;

	(void)fi;
	pthread_mutex_lock(&table.lock);
	end = valid(ino) ? table.ino[ino].size : 0;
	pthread_mutex_unlock(&table.lock);
	if (off >= end)
		size = 0;
	else if ((off_t)size > end - off)
		size = (size_t)(end - off);
	if (size > ZEROS)
		size = ZEROS;
	fuse_reply_buf(req, zeros, size);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)buf;
	pthread_mutex_lock(&table.lock);
	if (valid(ino)) {
		if (fi->flags & O_APPEND)
			off = table.ino[ino].size;
		if (off + (off_t)size > table.ino[ino].size)
			table.ino[ino].size = off + (off_t)size;
	}
	pthread_mutex_unlock(&table.lock);
	fuse_reply_write(req, size);
}

static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	(void)ino, (void)fi;
	fuse_reply_err(req, 0);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	(void)ino;
	fi->keep_cache = 1;
	fi->cache_readdir = 1;
	fuse_reply_open(req, fi);
}

/* Entries from slot off (0: ".", 1: "..", 2 + k: child slot k). */
static void readdir_any(fuse_req_t req, fuse_ino_t ino, size_t size,
			off_t off, bool plus)
{
	char *buf = malloc(size);
	size_t used = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&table.lock);
	if (!valid(ino) || !S_ISDIR(table.ino[ino].mode)) {
		pthread_mutex_unlock(&table.lock);
		free(buf);
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	const struct inode *d = &table.ino[ino];
	for (size_t slot = (size_t)off; slot < 2 + d->nkids; slot++) {
		uint64_t i = slot == 0 ? ino : slot == 1 ? (d->parent ? d->parent
								      : ino)
							 : d->kids[slot - 2];
		const char *name = slot == 0 ? "." : slot == 1 ? ".."
							       : NULL;
		if (!i)
			continue;
		if (!name)
			name = table.ino[i].name;
		size_t n;
		if (plus) {
			struct fuse_entry_param e = { .attr_timeout = TTL,
						      .entry_timeout = TTL };
			if (slot >= 2) {
				e.ino = i;
				fill(i, &e.attr);
			} else {
				e.attr.st_ino = i;
				e.attr.st_mode = S_IFDIR;
			}
			n = fuse_add_direntry_plus(req, buf + used,
						   size - used, name, &e,
						   (off_t)slot + 1);
		} else {
			struct stat st = { .st_ino = i,
					   .st_mode = table.ino[i].mode };
			n = fuse_add_direntry(req, buf + used, size - used,
					      name, &st, (off_t)slot + 1);
		}
		if (n > size - used)
			break;
		used += n;
	}
	pthread_mutex_unlock(&table.lock);
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	readdir_any(req, ino, size, off, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	readdir_any(req, ino, size, off, true);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv = { .f_bsize = 4096, .f_frsize = 4096,
			      .f_namemax = 255 };

	(void)ino;
	fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.create = op_create,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.release = op_release,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_release,
	.statfs = op_statfs,
};

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	const char *mnt = NULL;
	bool debug = false, perms = true, other = false;
	int ret = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-f") == 0)
			continue;
		else if (strcmp(argv[i], "-d") == 0)
			debug = true;
		else if (strcmp(argv[i], "-P") == 0)
			perms = false;
		else if (strcmp(argv[i], "-A") == 0)
			other = true;
		else if (argv[i][0] != '-' && !mnt)
			mnt = argv[i];
		else {
			fprintf(stderr, "usage: bench_fuse_null MOUNTPOINT "
				"[-f] [-d] [-P] [-A]\n");
			return 2;
		}
	}
	if (!mnt) {
		fprintf(stderr, "usage: bench_fuse_null MOUNTPOINT [-f] [-d] "
			"[-P] [-A]\n");
		return 2;
	}
	/* the root: inode 1 */
	table.n = 2;
	table.cap = 1024;
	table.ino = calloc(table.cap, sizeof(*table.ino));
	if (!table.ino || rehash()) {
		fprintf(stderr, "bench_fuse_null: out of memory\n");
		return 1;
	}
	table.ino[1].mode = S_IFDIR | 0755;
	table.ino[1].nlink = 2;
	if (fuse_opt_add_arg(&args, "bench_fuse_null") ||
	    (debug && fuse_opt_add_arg(&args, "-d")) ||
	    fuse_opt_add_arg(&args, "-o") ||
	    fuse_opt_add_arg(&args, perms ? "fsname=fuse_null,"
			     "subtype=fuse_null,default_permissions" :
			     "fsname=fuse_null,subtype=fuse_null") ||
	    (other && (fuse_opt_add_arg(&args, "-o") ||
		       fuse_opt_add_arg(&args, "allow_other")))) {
		fprintf(stderr, "bench_fuse_null: out of memory\n");
		return 1;
	}
	struct fuse_session *se = fuse_session_new(&args, &ops, sizeof(ops),
						   NULL);
	if (!se) {
		fprintf(stderr, "bench_fuse_null: fuse_session_new failed\n");
		goto out_args;
	}
	if (fuse_set_signal_handlers(se) != 0) {
		fprintf(stderr, "bench_fuse_null: cannot set signal handlers\n");
		goto out_session;
	}
	if (fuse_session_mount(se, mnt) != 0) {
		fprintf(stderr, "bench_fuse_null: cannot mount %s\n", mnt);
		goto out_signals;
	}
	struct fuse_loop_config *lc = fuse_loop_cfg_create();
	if (lc) {
		fuse_loop_cfg_set_max_threads(lc, 64);
		fuse_loop_cfg_set_idle_threads(lc, 8);
		fuse_loop_cfg_set_clone_fd(lc, 0);
		ret = fuse_session_loop_mt(se, lc) != 0;
		fuse_loop_cfg_destroy(lc);
	}
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_args:
	fuse_opt_free_args(&args);
	return ret;
}
