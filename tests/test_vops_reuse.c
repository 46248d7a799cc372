/*
 * test_vops_reuse.c - the vnode cache against a driver that reuses inode
 * numbers (reusefs): a lookup that finds another type or generation
 * behind a cached vnode of the same ino gets a new vnode, the old one
 * dead; and the cache's table growing under more referenced vnodes than
 * it was sized for.
 * Included by test_vops.c (it uses that file's fixture and helpers); not
 * a program of its own.
 */

/* ---- a driver that reuses inode numbers ---------------------------------
 *
 * reusefs: one flat directory (ino 1) of up to NINO files.  A removed
 * file's ino is free at once (a vget handle does not pin it, as a
 * path-named server fid does not) and the next create takes the lowest
 * free one, with the next generation.  Handles name (ino, gen): once their
 * file is gone they answer ESTALE.
 */
#define NINO 8

struct rnode {
	bool used;
	uint64_t gen;
	mode_t mode;
	char name[32];
};

struct rfs {
	pthread_mutex_t lock;
	struct rnode n[NINO];   /* n[0]: the root (ino 1) */
	uint64_t next_gen;
};

struct rh {
	uint64_t ino, gen;
};

static struct rfs *RFS(struct uvfs_sb *sb)
{
	return uvfs_sb_private(sb);
}

static int r_mount(struct uvfs_sb *sb, const char *src, const char *opts,
		   uint64_t *root)
{
	struct rfs *fs = calloc(1, sizeof(*fs));

	(void)src;
	(void)opts;
	if (!fs)
		return -ENOMEM;
	pthread_mutex_init(&fs->lock, NULL);
	fs->n[0].used = true;
	fs->n[0].gen = 1;
	fs->n[0].mode = S_IFDIR | 0755;
	fs->next_gen = 2;
	uvfs_sb_set_private(sb, fs);
	*root = 1;
	return 0;
}

static void r_unmount(struct uvfs_sb *sb)
{
	struct rfs *fs = RFS(sb);

	pthread_mutex_destroy(&fs->lock);
	free(fs);
}

/* => lock held.  The node of a handle, or NULL if its file is gone. */
static struct rnode *r_node(struct rfs *fs, const struct rh *h)
{
	struct rnode *n = &fs->n[h->ino - 1];

	return n->used && n->gen == h->gen ? n : NULL;
}

static int r_vget(struct uvfs_sb *sb, uint64_t ino, void **priv)
{
	struct rfs *fs = RFS(sb);
	struct rh *h;
	int r = 0;

	if (ino < 1 || ino > NINO)
		return -ESTALE;
	h = malloc(sizeof(*h));
	if (!h)
		return -ENOMEM;
	pthread_mutex_lock(&fs->lock);
	if (!fs->n[ino - 1].used)
		r = -ESTALE;
	h->ino = ino;
	h->gen = fs->n[ino - 1].gen;
	pthread_mutex_unlock(&fs->lock);
	if (r) {
		free(h);
		return r;
	}
	*priv = h;
	return 0;
}

static void r_reclaim(struct uvfs_sb *sb, void *priv)
{
	(void)sb;
	free(priv);
}

static int r_getattr(struct uvfs_sb *sb, void *priv, struct stat *st)
{
	struct rfs *fs = RFS(sb);
	struct rh *h = priv;
	struct rnode *n;
	int r = -ESTALE;

	pthread_mutex_lock(&fs->lock);
	if ((n = r_node(fs, h)) != NULL) {
		memset(st, 0, sizeof(*st));
		st->st_ino = h->ino;
		st->st_mode = n->mode;
		st->st_nlink = 1;
		r = 0;
	}
	pthread_mutex_unlock(&fs->lock);
	return r;
}

static int r_lookup(struct uvfs_sb *sb, void *dir, const char *name,
		    struct uvfs_ident *id)
{
	struct rfs *fs = RFS(sb);
	int r = -ENOENT;

	(void)dir;
	if (strcmp(name, "..") == 0) {
		id->ino = 1;
		id->gen = 1;
		id->type = S_IFDIR;
		return 0;
	}
	pthread_mutex_lock(&fs->lock);
	for (int i = 1; i < NINO; i++)
		if (fs->n[i].used && strcmp(fs->n[i].name, name) == 0) {
			id->ino = (uint64_t)i + 1;
			id->gen = fs->n[i].gen;
			id->type = fs->n[i].mode & S_IFMT;
			r = 0;
		}
	pthread_mutex_unlock(&fs->lock);
	return r;
}

static int r_create(struct uvfs_sb *sb, void *dir, const char *name,
		    mode_t mode, dev_t rdev, const char *target,
		    const struct uvfs_cred *cred, struct uvfs_ident *id)
{
	struct rfs *fs = RFS(sb);
	int r = -ENOSPC, i;

	(void)dir;
	(void)rdev;
	(void)target;
	(void)cred;
	pthread_mutex_lock(&fs->lock);
	for (i = 1; i < NINO; i++)
		if (fs->n[i].used && strcmp(fs->n[i].name, name) == 0) {
			pthread_mutex_unlock(&fs->lock);
			return -EEXIST;
		}
	for (i = 1; i < NINO; i++)
		if (!fs->n[i].used) {
			fs->n[i].used = true;
			fs->n[i].gen = fs->next_gen++;
			fs->n[i].mode = mode;
			snprintf(fs->n[i].name, sizeof(fs->n[i].name), "%s",
				 name);
			id->ino = (uint64_t)i + 1;
			id->gen = fs->n[i].gen;
			id->type = mode & S_IFMT;
			r = 0;
			break;
		}
	pthread_mutex_unlock(&fs->lock);
	return r;
}

static int r_unlink(struct uvfs_sb *sb, void *dir, const char *name,
		    int isdir)
{
	struct rfs *fs = RFS(sb);
	int r = -ENOENT;

	(void)dir;
	pthread_mutex_lock(&fs->lock);
	for (int i = 1; i < NINO; i++)
		if (fs->n[i].used && strcmp(fs->n[i].name, name) == 0) {
			if (!isdir != !S_ISDIR(fs->n[i].mode)) {
				r = isdir ? -ENOTDIR : -EISDIR;
				break;
			}
			fs->n[i].used = false;  /* the ino is free at once */
			r = 0;
		}
	pthread_mutex_unlock(&fs->lock);
	return r;
}

static int r_readdir(struct uvfs_sb *sb, void *priv, void *fh,
		     uint64_t cookie, uvfs_filldir_t fill, void *arg)
{
	(void)sb;
	(void)priv;
	(void)fh;
	if (cookie == 0 && fill(arg, ".", 1, DT_DIR, 1))
		return 0;
	if (cookie <= 1)
		fill(arg, "..", 1, DT_DIR, 2);
	return 0;
}

static const struct uvfs_fstype_ops reusefs_ops = {
	.name = "reusefs",
	.mount = r_mount,
	.unmount = r_unmount,
	.vget = r_vget,
	.reclaim = r_reclaim,
	.getattr = r_getattr,
	.lookup = r_lookup,
	.create = r_create,
	.unlink = r_unlink,
	.readdir = r_readdir,
};

/* A directory, held by a descriptor, is removed; a regular file created
 * next gets its ino: the lookup must not hand out the directory's vnode. */
static void test_ino_reuse_other_type(void **state)
{
	struct stat st, st2;
	int dfd, fd;

	(void)state;
	assert_int_equal(uvfs_mkdir(R, "/r", 0755), 0);
	assert_int_equal(uvfs_mount(R, "reusefs", "none", "/r", ""), 0);
	assert_int_equal(uvfs_mkdir(R, "/r/d", 0755), 0);
	dfd = uvfs_open(R, "/r/d", O_RDONLY | O_DIRECTORY, 0);
	assert_true(dfd >= 0);
	assert_int_equal(uvfs_fstat(R, dfd, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(uvfs_rmdir(R, "/r/d"), 0);
	fd = uvfs_open(R, "/r/f", O_CREAT | O_RDONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_stat(R, "/r/f", &st2), 0);
	assert_int_equal(st2.st_ino, st.st_ino);        /* reused */
	assert_true(S_ISREG(st2.st_mode));
	assert_int_equal(uvfs_fstat(R, fd, &st2), 0);
	assert_true(S_ISREG(st2.st_mode));
	/* the old directory's vnode is dead: the driver cannot serve it */
	assert_int_equal(uvfs_fstat(R, dfd, &st2), -EIO);
	assert_int_equal(uvfs_close(R, dfd), 0);
	assert_int_equal(uvfs_close(R, fd), 0);
	assert_int_equal(uvfs_unlink(R, "/r/f"), 0);
	assert_int_equal(uvfs_umount(R, "/r", 0), 0);
}

/* The same type, another generation: a file held open is removed, a new
 * file takes its ino. */
static void test_ino_reuse_other_gen(void **state)
{
	struct stat st, st2;
	int a, b;

	(void)state;
	assert_int_equal(uvfs_mkdir(R, "/r", 0755), 0);
	assert_int_equal(uvfs_mount(R, "reusefs", "none", "/r", ""), 0);
	a = uvfs_open(R, "/r/a", O_CREAT | O_RDONLY, 0644);
	assert_true(a >= 0);
	assert_int_equal(uvfs_fstat(R, a, &st), 0);
	assert_int_equal(uvfs_unlink(R, "/r/a"), 0);
	b = uvfs_open(R, "/r/b", O_CREAT | O_RDONLY, 0600);
	assert_true(b >= 0);
	assert_int_equal(uvfs_fstat(R, b, &st2), 0);
	assert_int_equal(st2.st_ino, st.st_ino);
	assert_int_equal(st2.st_mode & 07777, 0600);
	assert_int_equal(uvfs_fstat(R, a, &st2), -EIO);
	assert_int_equal(uvfs_close(R, a), 0);
	assert_int_equal(uvfs_close(R, b), 0);
	assert_int_equal(uvfs_unlink(R, "/r/b"), 0);
	assert_int_equal(uvfs_umount(R, "/r", 0), 0);
}

/* ---- the table grows --------------------------------------------------- */

/* More referenced vnodes than two per bucket of the vnode cache: the table
 * doubles (twice here, from its least of 4096 buckets) with every vnode
 * still found.  Each file is held by a node; a lookup of a hard link's
 * name, which the name cache has not seen, goes to the driver and then to
 * the vnode cache by ino: it must give the file's own vnode (the same
 * node), not a second one (another vget of testfs).  Some of it is done
 * while the files are made, so while a doubling is still moving chains
 * (vc_grow_locked), and some files go then, unhashed from either table. */
static void test_vcache_grows(void **state)
{
	enum { N = 20000 };
	struct uvfs_config cfg = { .vcache_max = 16 };
	struct uvfs_node *root, *dir, *x, **nd;
	struct uvfs_stats st0;
	struct uvfs_ctx *c;
	struct uvfs *u;
	struct stat st;
	char name[32];
	long live;

	(void)state;
	bool *mid = calloc(N, sizeof(*mid));  /* has a name "m<i>" */

	nd = calloc(N, sizeof(*nd));
	assert_non_null(nd);
	assert_non_null(mid);
	assert_int_equal(uvfs_new(&cfg, &u), 0);
	assert_int_equal(uvfs_fstype_register(u, &testfs_ops), 0);
	assert_int_equal(uvfs_ctx_new(u, NULL, &c), 0);
	assert_int_equal(uvfs_mkdir(c, "/t", 0755), 0);
	assert_int_equal(uvfs_mount(c, "testfs", "none", "/t", ""), 0);
	assert_int_equal(uvfs_node_root(c, &root), 0);
	assert_int_equal(uvfs_node_lookup(c, root, "t", &dir, &st), 0);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(uvfs_node_create(c, dir, name, S_IFREG | 0644,
						  0, NULL, &nd[i], &st), 0);
		/* While the table grows, its doublings are still moving
		 * chains: an earlier file is found again by a new name (a
		 * vnode-cache lookup), and another goes (unhashed, from
		 * either table) */
		int j = (int)((i * 13L) % (i + 1));
		if (i % 7 == 6 && nd[j] && !mid[j]) {
			snprintf(name, sizeof(name), "m%d", j);
			assert_int_equal(uvfs_node_link(c, nd[j], dir, name,
							&x, &st), 0);
			uvfs_node_release(x, 1);
			assert_int_equal(uvfs_node_lookup(c, dir, name, &x,
							  &st), 0);
			assert_ptr_equal(x, nd[j]);
			uvfs_node_release(x, 1);
			mid[j] = true;
		}
		j = (int)((i * 17L) % (i + 1));
		if (i % 11 == 10 && nd[j] && j != i) {
			snprintf(name, sizeof(name), "f%d", j);
			assert_int_equal(uvfs_node_unlink(c, dir, name, 0), 0);
			if (mid[j]) {
				snprintf(name, sizeof(name), "m%d", j);
				assert_int_equal(uvfs_node_unlink(c, dir, name,
								  0), 0);
			}
			uvfs_node_release(nd[j], 1);
			nd[j] = NULL;
		}
	}
	uvfs_stats(u, &st0);
	assert_true(st0.vnodes >= N * 9 / 10);
	assert_int_equal(uvfs_settle(u, 10000), 0);     /* the reclaims */
	live = testfs_live_nodes();
	for (int i = 0; i < N; i++) {
		if (!nd[i])
			continue;
		snprintf(name, sizeof(name), "l%d", i);
		assert_int_equal(uvfs_node_link(c, nd[i], dir, name, &x, &st),
				 0);
		assert_ptr_equal(x, nd[i]);
		uvfs_node_release(x, 1);
		assert_int_equal(uvfs_node_lookup(c, dir, name, &x, &st), 0);
		assert_ptr_equal(x, nd[i]);
		uvfs_node_release(x, 1);
	}
	assert_int_equal(testfs_live_nodes(), live);
	for (int i = 0; i < N; i++) {
		if (!nd[i])
			continue;
		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(uvfs_node_unlink(c, dir, name, 0), 0);
		snprintf(name, sizeof(name), "l%d", i);
		assert_int_equal(uvfs_node_unlink(c, dir, name, 0), 0);
		if (mid[i]) {
			snprintf(name, sizeof(name), "m%d", i);
			assert_int_equal(uvfs_node_unlink(c, dir, name, 0), 0);
		}
		uvfs_node_release(nd[i], 1);    /* unhashed from its chain */
	}
	uvfs_node_release(dir, 1);
	uvfs_node_release(root, 1);
	assert_int_equal(uvfs_umount(c, "/t", 0), 0);
	uvfs_ctx_free(c);
	assert_int_equal(uvfs_settle(u, 10000), 0);
	uvfs_free(u);
	free(nd);
	free(mid);
}
