/*
 * test_nfs_rpc_attr.c - test_nfs_rpc's cases for answers no file can
 * have (a file type NFSv3 does not have, names a listing cannot hold),
 * for replies no server can rightly give (a listing whose cookies come
 * round again, a handle whose length runs past the reply, a reply larger
 * than any asked for),
 * and for attributes that come back out of order: two calls on one file in flight, the reply of the
 * one sent first (older attributes: a smaller or larger size, an older
 * mtime) taken after the other's.  The driver's vnode operations are
 * called as the core calls them (uvfs_nfs_ops: stat, fstat and
 * lseek(SEEK_END) are its getattr), on the scripted server's file with
 * attributes (fa_on), whose GETATTR, READ, WRITE and SETATTR answers the
 * server can hold back (hold_proc).  Included by test_nfs_rpc.c; not a
 * program of its own.
 */

/* ---- attributes out of order ------------------------------------------- */

/* A superblock for the driver's operations: the core's, with only the
 * driver's private data (nothing else of it is read by these). */
struct attr_mount {
	struct uvfs_sb sb;
	struct nsb *s;
	struct node *n;
};

/* The server's file: size bytes, its mtime and ctime at t; the mount's
 * node holds the same, cached a minute (getattr answers from it), or, if
 * old, to be asked again at the next getattr. */
static void attr_mount_new(struct attr_mount *m, struct nconn *nc,
			   uint64_t size, uint32_t t, bool old)
{
	pthread_mutex_lock(&fa_lock);
	fa_on = true;
	fa_size = size;
	fa_time = t;
	pthread_mutex_unlock(&fa_lock);
	atomic_store(&hold_proc, 0);
	atomic_store(&hold_go, false);
	atomic_store(&held_now, false);
	memset(m, 0, sizeof(*m));
	m->s = sb_new(nc);
	m->s->ac_ns = 60ull * 1000000000;
	m->s->cache = CACHE_CTO;
	uvfs_sb_set_private(&m->sb, m->s);
	m->n = node_new();
	m->n->st.st_mode = S_IFREG | 0644;
	m->n->st.st_nlink = 1;
	m->n->st.st_size = (off_t)size;
	m->n->st.st_mtim.tv_sec = m->n->st.st_ctim.tv_sec = t;
	m->n->st_ns = mono_now_ns();
	m->n->st_gen = old ? m->s->gen - 1 : m->s->gen;
}

static void attr_mount_free(struct attr_mount *m, struct nconn *nc)
{
	pthread_mutex_lock(&fa_lock);
	fa_on = false;
	pthread_mutex_unlock(&fa_lock);
	atomic_store(&hold_go, true);   /* nothing is left held */
	sb_node_free(m->s, m->n);
	nconn_free(nc);
}

/* m's node as the scripted server's directory "d" (DIR_FH). */
static void attr_node_dir(struct attr_mount *m)
{
	m->n->ino = 7;
	m->n->type = S_IFDIR;
	m->n->st.st_mode = S_IFDIR | 0755;
	m->n->fh = (struct fh3){ .len = 8, .data = DIR_FH };
}

/* Waits (at most 2 s) until the server holds a call back. */
static void await_held(void)
{
	for (int i = 0; i < 400 && !atomic_load(&held_now); i++)
		usleep(5 * 1000);
	assert_true(atomic_load(&held_now));
}

/* What stat, fstat and lseek(SEEK_END) would show: the driver's
 * getattr. */
static struct stat attr_stat(struct attr_mount *m)
{
	struct stat st;

	assert_int_equal(uvfs_nfs_ops.getattr(&m->sb, m->n, &st), 0);
	return st;
}

struct attr_op {
	struct attr_mount *m;
	ssize_t r;
	struct stat st;
};

static void *attr_read_main(void *arg)
{
	struct attr_op *o = arg;
	char buf[4096];

	o->r = uvfs_nfs_ops.read(&o->m->sb, o->m->n, NULL, buf, sizeof(buf),
				 0);
	return NULL;
}

static void *attr_getattr_main(void *arg)
{
	struct attr_op *o = arg;

	o->r = uvfs_nfs_ops.getattr(&o->m->sb, o->m->n, &o->st);
	return NULL;
}

/* A READ sent before a truncation (SETATTR size 0) and answered with the
 * file as it was before it (FILE_SIZE bytes, time 100), its reply taken
 * after the SETATTR's (0 bytes, time 101): the getattr after both shows
 * the truncated file.  Before, the READ's attributes replaced the
 * SETATTR's: FILE_SIZE bytes and the old mtime. */
static void attrs_read_before_truncate(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct attr_mount m;
	struct attr_op o = { .m = &m };
	pthread_t t;

	(void)state;
	atomic_store(&mode, M_OK);
	attr_mount_new(&m, nc, FILE_SIZE, 100, false);
	atomic_store(&hold_late, false);
	atomic_store(&hold_proc, NFS3_READ);
	assert_int_equal(pthread_create(&t, NULL, attr_read_main, &o), 0);
	await_held();
	struct uvfs_setattr sa = { .valid = UVFS_SET_SIZE, .size = 0 };
	assert_int_equal(uvfs_nfs_ops.setattr(&m.sb, m.n, &sa), 0);
	struct stat st = attr_stat(&m);
	assert_int_equal(st.st_size, 0);
	atomic_store(&hold_go, true);
	pthread_join(t, NULL);
	assert_int_equal(o.r, 4096);
	st = attr_stat(&m);
	printf("a READ's attributes (%u bytes, mtime 100) taken after a "
	       "truncation's (0, mtime 101): size %lld, mtime %lld\n",
	       FILE_SIZE, (long long)st.st_size, (long long)st.st_mtim.tv_sec);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(st.st_mtim.tv_sec, 101);
	assert_int_equal(st.st_ctim.tv_sec, 101);
	attr_mount_free(&m, nc);
}

/* A GETATTR sent before a write that extends the file (1 000 bytes, time
 * 200), its reply taken after the WRITE's (6 000 bytes, time 201) that
 * the fsync waited for: the getattr that sent it, and the one after,
 * show the written file.  Before, both showed 1 000 bytes and the old
 * mtime (an lseek(SEEK_END) after the write found the old end). */
static void attrs_getattr_before_write(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct attr_mount m;
	struct attr_op o = { .m = &m };
	char data[5000];
	pthread_t t;

	(void)state;
	atomic_store(&mode, M_OK);
	attr_mount_new(&m, nc, 1000, 200, true);
	memset(data, 'w', sizeof(data));
	atomic_store(&hold_late, false);
	atomic_store(&hold_proc, NFS3_GETATTR);
	assert_int_equal(pthread_create(&t, NULL, attr_getattr_main, &o), 0);
	await_held();
	off_t off = 1000;
	assert_int_equal(uvfs_nfs_ops.write(&m.sb, m.n, NULL, data,
					    sizeof(data), &off),
			 (ssize_t)sizeof(data));
	assert_int_equal(uvfs_nfs_ops.fsync(&m.sb, m.n, NULL, 0), 0);
	atomic_store(&hold_go, true);
	pthread_join(t, NULL);
	assert_int_equal(o.r, 0);
	struct stat st = attr_stat(&m);
	printf("a GETATTR's attributes (1000 bytes, mtime 200) taken after "
	       "a WRITE's (6000, mtime 201): its getattr %lld bytes, the "
	       "next %lld bytes, mtime %lld\n", (long long)o.st.st_size,
	       (long long)st.st_size, (long long)st.st_mtim.tv_sec);
	assert_int_equal(o.st.st_size, 6000);
	assert_int_equal(st.st_size, 6000);
	assert_int_equal(st.st_mtim.tv_sec, 201);
	attr_mount_free(&m, nc);
}

/* A GETATTR sent first and done by the server last, after another client
 * changed the file (9 000 bytes, time 301), its reply taken after a
 * READ's (1 000 bytes, time 300): older by when it was sent, newer by
 * its ctime, so it is applied; and a READ sent after it is applied as
 * ever. */
static void attrs_newer_ctime_applied(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct attr_mount m;
	struct attr_op o = { .m = &m };
	char buf[100];
	pthread_t t;

	(void)state;
	atomic_store(&mode, M_OK);
	attr_mount_new(&m, nc, 1000, 300, true);
	atomic_store(&hold_late, true);         /* done when let go */
	atomic_store(&hold_proc, NFS3_GETATTR);
	assert_int_equal(pthread_create(&t, NULL, attr_getattr_main, &o), 0);
	await_held();
	assert_int_equal(uvfs_nfs_ops.read(&m.sb, m.n, NULL, buf,
					   sizeof(buf), 0),
			 (ssize_t)sizeof(buf));
	pthread_mutex_lock(&fa_lock);
	fa_size = 9000;                         /* another client's write */
	fa_time = 301;
	pthread_mutex_unlock(&fa_lock);
	atomic_store(&hold_go, true);
	pthread_join(t, NULL);
	assert_int_equal(o.r, 0);
	struct stat st = attr_stat(&m);
	printf("a GETATTR sent before a READ, done after another client's "
	       "write (9000 bytes, ctime 301): its getattr %lld bytes, the "
	       "next %lld bytes, ctime %lld\n", (long long)o.st.st_size,
	       (long long)st.st_size, (long long)st.st_ctim.tv_sec);
	assert_int_equal(o.st.st_size, 9000);
	assert_int_equal(st.st_size, 9000);
	assert_int_equal(st.st_ctim.tv_sec, 301);
	/* another change; a READ sent now brings it */
	pthread_mutex_lock(&fa_lock);
	fa_size = 7000;
	fa_time = 302;
	pthread_mutex_unlock(&fa_lock);
	assert_int_equal(uvfs_nfs_ops.read(&m.sb, m.n, NULL, buf,
					   sizeof(buf), 0),
			 (ssize_t)sizeof(buf));
	st = attr_stat(&m);
	assert_int_equal(st.st_size, 7000);
	assert_int_equal(st.st_ctim.tv_sec, 302);
	attr_mount_free(&m, nc);
}

/* Sizes at the end of what an off_t holds.  The server says its file has
 * 2^64 - 1 bytes (size3 is unsigned): stat shows the largest offset,
 * never a negative size; an O_APPEND write there, or where the file ends
 * 10 bytes short of it, is -EFBIG with nothing sent (as the core answers
 * a write at such a position), its position untouched.  Before, the size
 * was -1, and the append sent its WRITE at 2^64 - 1 and said it had
 * written 64 bytes, the position after it wrapped to 63 (and, 10 bytes
 * short, below zero, which the core's diagnostic build stops at). */
static void attrs_size_past_off_max(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct attr_mount m;
	char data[64];

	(void)state;
	memset(data, 'x', sizeof(data));
	/* a WRITE that goes anyway finds the server busy: it writes
	 * nothing (and the end of the test waits for it 300 ms at most) */
	atomic_store(&mode, M_JUKEBOX);
	atomic_store(&jukebox_proc, NFS3_WRITE);
	atomic_store(&jukebox_left, -1);
	attr_mount_new(&m, nc, UINT64_MAX, 400, true);
	m.s->timeout_ms = 300;
	atomic_store(&seen[NFS3_WRITE], 0);
	struct stat st = attr_stat(&m);
	off_t off = -1;
	ssize_t r = uvfs_nfs_ops.write(&m.sb, m.n, NULL, data, sizeof(data),
				       &off);
	printf("a size of 2^64 - 1 on the server: stat %lld bytes; an "
	       "append there %zd, position %lld, %d WRITEs\n",
	       (long long)st.st_size, r, (long long)off,
	       atomic_load(&seen[NFS3_WRITE]));
	assert_int_equal(st.st_size, INT64_MAX);
	assert_int_equal(r, -EFBIG);
	assert_int_equal(off, -1);
	pthread_mutex_lock(&fa_lock);
	fa_size = INT64_MAX - 10;
	fa_time = 401;
	pthread_mutex_unlock(&fa_lock);
	r = uvfs_nfs_ops.write(&m.sb, m.n, NULL, data, sizeof(data), &off);
	printf("a size 10 bytes short of the largest offset: an append of "
	       "%zu bytes %zd, position %lld\n", sizeof(data), r,
	       (long long)off);
	assert_int_equal(r, -EFBIG);
	assert_int_equal(off, -1);
	assert_int_equal(atomic_load(&seen[NFS3_WRITE]), 0);
	atomic_store(&mode, M_OK);
	attr_mount_free(&m, nc);
}

/* A GETATTR whose file type is none NFSv3 has (0, 8: a server's bug) is
 * -EIO: no file can have it, and through uvfsd the kernel took such a
 * file for a bad inode.  The next GETATTR with a type is taken. */
static void attrs_unknown_type(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct attr_mount m;
	struct stat st;

	(void)state;
	attr_mount_new(&m, nc, 100, 400, true);
	atomic_store(&fa_type, 0);
	assert_int_equal(uvfs_nfs_ops.getattr(&m.sb, m.n, &st), -EIO);
	atomic_store(&fa_type, 8);
	assert_int_equal(uvfs_nfs_ops.getattr(&m.sb, m.n, &st), -EIO);
	atomic_store(&fa_type, NF3REG);
	st = attr_stat(&m);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 100);
	attr_mount_free(&m, nc);
}

/* The names a listing gives (list_names' fill): joined, each with a '|'
 * after it. */
static int list_fill(void *arg, const char *name, uint64_t ino,
		     unsigned char type, uint64_t next)
{
	char *out = arg;

	(void)ino;
	(void)type;
	(void)next;
	strncat(out, name, 255 - strlen(out));
	strncat(out, "|", 255 - strlen(out));
	return 0;
}

/* A listing that has names no file can have ("", "a/b": a server's bug):
 * the driver hands them on with the rest, in the server's order, and the
 * listing goes on past them; the core leaves them out of every listing,
 * whatever the driver (test_vops test_listing_impossible_names: through
 * uvfsd the kernel failed the whole listing, EIO, for one of them).  The
 * driver left them out itself before the check moved to the core. */
static void list_impossible_names(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct attr_mount m;
	char out[256] = "";

	(void)state;
	attr_mount_new(&m, nc, 100, 400, false);
	attr_node_dir(&m);
	dir_reset("x", "y", NULL);
	atomic_store(&dir_odd, true);
	assert_int_equal(uvfs_nfs_ops.readdir(&m.sb, m.n, NULL, 0, list_fill,
					      out), 0);
	atomic_store(&dir_odd, false);
	printf("listed: %s\n", out);
	assert_string_equal(out, "x|y||a/b|");
	dir_reset(NULL);
	attr_mount_free(&m, nc);
}

/* A caller with room for one entry (list_cookie_loop's fill): takes the
 * first, keeps its cookie, refuses the next. */
struct one_fill {
	bool took;
	uint64_t next;
};

static int one_fill(void *arg, const char *name, uint64_t ino,
		    unsigned char type, uint64_t next)
{
	struct one_fill *f = arg;

	(void)name;
	(void)ino;
	(void)type;
	if (f->took)
		return 1;
	f->took = true;
	f->next = next;
	return 0;
}

/* A listing whose cookies come round again (a server's bug: 1, 2, 3, 1,
 * 2, 3... and never the end) is -EIO once a cookie it asked from comes
 * back: a caller that resumes at each entry's cookie through an open
 * directory (as uvfs_readdir with room for one entry) and one call that
 * takes everything.  Before, the first listed for ever and the second
 * until its deadline (-ETIMEDOUT after 5 s). */
static void list_cookie_loop(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct attr_mount m;
	struct handle *h = calloc(1, sizeof(*h));
	char out[256] = "";
	uint64_t cookie = 0, t0;
	int calls, r = 0;

	(void)state;
	assert_non_null(h);
	attr_mount_new(&m, nc, 100, 400, false);
	attr_node_dir(&m);
	h->n = m.n;
	atomic_store(&dir_loop, true);
	for (calls = 0; calls < 1000; calls++) {
		struct one_fill f = { 0 };
		r = uvfs_nfs_ops.readdir(&m.sb, m.n, h, cookie, one_fill, &f);
		if (r || !f.took)
			break;
		cookie = f.next;
	}
	printf("one entry a call: %d after %d calls\n", r, calls);
	assert_int_equal(r, -EIO);
	assert_true(calls < 20);
	t0 = mono_now_ns();
	r = uvfs_nfs_ops.readdir(&m.sb, m.n, NULL, 0, list_fill, out);
	uint64_t ms = (mono_now_ns() - t0) / 1000000;
	printf("one call: %d after %llu ms\n", r, (unsigned long long)ms);
	assert_int_equal(r, -EIO);
	assert_true(ms < 1000);
	atomic_store(&dir_loop, false);
	n3_dents_free(h->rest);
	free(h);
	attr_mount_free(&m, nc);
}

/* A handle of an absurd length (2^31 and more: a server's bug, or an
 * attack) in a LOOKUP's answer and in a listing's entry is -EIO, as every
 * malformed reply.  libnfs's decoder (4.0) does not check such a length
 * against the bytes there (its sum overflows an int): before, each crashed
 * the process (SIGSEGV inside the decoding). */
static void reply_handle_length_absurd(void **state)
{
	static const uint32_t lens[] = { 0x80000000u, 0xc0000000u,
					 0x7ffffffcu, 0xfffffffcu, 65 };
	struct nconn *nc = connect_to(5000);
	struct attr_mount m;

	(void)state;
	attr_mount_new(&m, nc, 100, 400, false);
	attr_node_dir(&m);
	dir_reset("x", NULL);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct fh3 root = { .len = 8, .data = ROOT_FH }, out;
		struct n3 c = { .nc = nc };
		char names[256] = "";
		atomic_store(&bad_fh_len, lens[i]);
		deadline_in(&c.dl, 5000);
		int rl = n3_lookup(&c, &root, "d", &out, NULL);
		int rd = uvfs_nfs_ops.readdir(&m.sb, m.n, NULL, 0, list_fill,
					      names);
		atomic_store(&bad_fh_len, 0);
		printf("a handle of %#x bytes: LOOKUP %d, READDIRPLUS %d\n",
		       lens[i], rl, rd);
		assert_int_equal(rl, -EIO);
		assert_int_equal(rd, -EIO);
	}
	dir_reset(NULL);
	attr_mount_free(&m, nc);
}

/* A reply larger than any the client asks for (2 MiB to a READDIRPLUS of
 * at most 512 KiB: a server's bug) fails that call with -EIO at once, and
 * the connection it came on (which is cut: its framing cannot be trusted)
 * is lost once: the call is not sent again.  Before, it was sent again
 * after each reconnect, answered so again, until its deadline
 * (-ETIMEDOUT after 5 s and a loss each time, each failing every
 * non-idempotent call out with it on a soft mount). */
static void reply_too_large(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct attr_mount m;
	struct nc_stats before, after;
	char names[256] = "";
	struct stat st;

	(void)state;
	attr_mount_new(&m, nc, 100, 400, true);
	attr_node_dir(&m);
	nc_stats(nc, &before);
	atomic_store(&dir_huge, true);
	uint64_t t0 = mono_now_ns();
	int r = uvfs_nfs_ops.readdir(&m.sb, m.n, NULL, 0, list_fill, names);
	uint64_t ms = (mono_now_ns() - t0) / 1000000;
	atomic_store(&dir_huge, false);
	nc_stats(nc, &after);
	printf("a reply of 2 MiB: %d after %llu ms, %lu losses\n", r,
	       (unsigned long long)ms, after.losses - before.losses);
	assert_int_equal(r, -EIO);
	assert_true(ms < 1000);
	assert_true(after.losses - before.losses <= 1);
	/* the mount goes on */
	struct attr_mount f;
	attr_mount_new(&f, nc, 100, 400, true);
	assert_int_equal(uvfs_nfs_ops.getattr(&f.sb, f.n, &st), 0);
	sb_node_free(f.s, f.n);
	attr_mount_free(&m, nc);
}

/* A listing of many names in one reply (14 000, as the 512 KiB it asks
 * for holds) is decoded on a small stack: the entries are a list, and
 * libnfs's decoder, which this driver's follows, took a stack frame per
 * entry, so a server could overflow the caller's stack with one reply
 * (a FUSE worker's).  Decoded on a thread of 256 KiB of stack. */
struct many_list {
	struct attr_mount *m;
	int r;
	unsigned n;
};

static int many_fill(void *arg, const char *name, uint64_t ino,
		     unsigned char type, uint64_t next)
{
	(void)name;
	(void)ino;
	(void)type;
	(void)next;
	((struct many_list *)arg)->n++;
	return 0;
}

static void *many_main(void *arg)
{
	struct many_list *l = arg;

	l->r = uvfs_nfs_ops.readdir(&l->m->sb, l->m->n, NULL, 0, many_fill, l);
	return NULL;
}

static void list_many_small_stack(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct attr_mount m;
	struct many_list l = { .m = &m };
	pthread_attr_t a;
	pthread_t t;

	(void)state;
	attr_mount_new(&m, nc, 100, 400, false);
	attr_node_dir(&m);
	atomic_store(&dir_many, 14000);
	assert_int_equal(pthread_attr_init(&a), 0);
	assert_int_equal(pthread_attr_setstacksize(&a, 256 << 10), 0);
	assert_int_equal(pthread_create(&t, &a, many_main, &l), 0);
	pthread_join(t, NULL);
	pthread_attr_destroy(&a);
	atomic_store(&dir_many, 0);
	printf("14 000 names in one reply: %d, %u listed\n", l.r, l.n);
	assert_int_equal(l.r, 0);
	assert_int_equal(l.n, 14000);
	attr_mount_free(&m, nc);
}
