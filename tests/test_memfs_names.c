/*
 * test_memfs_names.c - memfs's names: create and lookup, readdir cookies
 * while entries come and go, rename (every flag, directories, over a
 * victim), link and unlink, an unlinked file still readable through its
 * handle, and the length limits of names and symlink targets.
 * Included by test_memfs.c (it uses that file's stand-in for the core,
 * its fixture and helpers); not a program of its own.
 */

static void test_create_lookup(void **state)
{
	struct fx *f = *state;
	static struct listing l;
	uint64_t ino, reg, dir, lnk, chr, blk, fifo, sock;
	void *p, *file;
	struct stat st;
	char buf[16];

	reg = mk(f, f->root, "reg", S_IFREG | 0644);
	dir = mk(f, f->root, "dir", S_IFDIR | 0755);
	lnk = mk(f, f->root, "lnk", S_IFLNK | 0600);
	assert_int_equal(create_ino(&f->sb, f->root, "chr", S_IFCHR | 0600,
				     makedev(1, 3), NULL, &root_cred, &chr),
			 0);
	assert_int_equal(create_ino(&f->sb, f->root, "blk", S_IFBLK | 0600,
				     makedev(8, 1), NULL, &root_cred, &blk),
			 0);
	fifo = mk(f, f->root, "fifo", S_IFIFO | 0600);
	sock = mk(f, f->root, "sock", S_IFSOCK | 0600);

	assert_int_equal(look(f, f->root, "reg"), reg);
	assert_int_equal(look(f, f->root, "dir"), dir);
	assert_int_equal(look(f, f->root, "lnk"), lnk);
	assert_int_equal(look(f, f->root, "chr"), chr);
	assert_int_equal(look(f, f->root, "blk"), blk);
	assert_int_equal(look(f, f->root, "fifo"), fifo);
	assert_int_equal(look(f, f->root, "sock"), sock);
	assert_int_equal(look(f, f->root, "nope"), 0);

	st = sget(f, f->root);
	assert_int_equal(st.st_ino, f->root_ino);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_nlink, 3);
	/* as tmpfs: 20 bytes a name, "." and ".." counted (an empty
	 * directory is 40 bytes: shmem_get_inode) */
	assert_int_equal(st.st_size, (2 + 7) * 20);

	file = hold(f, reg);
	st = sget(f, file);
	assert_int_equal(st.st_mode, S_IFREG | 0644);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(st.st_blksize, 4096);
	assert_int_equal(st.st_ino, reg);
	p = hold(f, dir);
	st = sget(f, p);
	assert_int_equal(st.st_mode, S_IFDIR | 0755);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(st.st_size, 2 * 20);
	p = hold(f, lnk);
	st = sget(f, p);
	assert_int_equal(st.st_mode, S_IFLNK | 0777);
	assert_int_equal(st.st_size, 6);
	assert_int_equal(ops->readlink(&f->sb, p, buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "target", 6);
	assert_int_equal(ops->readlink(&f->sb, p, buf, 3), 3);
	assert_memory_equal(buf, "tar", 3);
	assert_int_equal(ops->readlink(&f->sb, file, buf, sizeof(buf)),
			 -EINVAL);
	p = hold(f, chr);
	st = sget(f, p);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(1, 3));
	p = hold(f, blk);
	assert_int_equal(sget(f, p).st_rdev, makedev(8, 1));
	p = hold(f, sock);
	assert_true(S_ISSOCK(sget(f, p).st_mode));
	p = hold(f, fifo);
	assert_true(S_ISFIFO(sget(f, p).st_mode));

	/* errors */
	assert_int_equal(create_as(f, f->root, "reg", S_IFREG | 0644,
				   &root_cred, &ino), -EEXIST);
	assert_int_equal(create_as(f, f->root, "dir", S_IFDIR | 0755,
				   &root_cred, &ino), -EEXIST);
	assert_int_equal(create_as(f, file, "x", S_IFREG | 0644, &root_cred,
				   &ino), -ENOTDIR);
	assert_int_equal(lookup_ino(&f->sb, file, "x", &ino), -ENOTDIR);
	assert_int_equal(create_as(f, f->root, "bad", 0644, &root_cred,
				   &ino), -EINVAL);
	assert_int_equal(create_ino(&f->sb, f->root, "l2", S_IFLNK | 0777, 0,
				     "", &root_cred, &ino), -ENOENT);
	assert_int_equal(ops->read(&f->sb, f->root, NULL, buf, 1, 0),
			 -EISDIR);
	assert_int_equal(ops->readdir(&f->sb, file, NULL, 0, collect, &l),
			 -ENOTDIR);

	/* readdir: ".", ".." (the root itself), then entries in order */
	list_dir(f, f->root, &l);
	assert_int_equal(l.n, 9);
	assert_string_equal(l.e[0].name, ".");
	assert_int_equal(l.e[0].ino, f->root_ino);
	assert_int_equal(l.e[0].next, 1);
	assert_string_equal(l.e[1].name, "..");
	assert_int_equal(l.e[1].ino, f->root_ino);
	assert_int_equal(l.e[1].next, 2);
	assert_string_equal(l.e[2].name, "reg");
	assert_int_equal(l.e[2].type, DT_REG);
	assert_int_equal(l.e[3].type, DT_DIR);
	assert_int_equal(l.e[4].type, DT_LNK);
	assert_int_equal(l.e[5].type, DT_CHR);
	assert_int_equal(l.e[6].type, DT_BLK);
	assert_int_equal(l.e[7].type, DT_FIFO);
	assert_int_equal(l.e[8].type, DT_SOCK);
	assert_string_equal(l.e[8].name, "sock");

	/* ".." of a subdirectory */
	list_dir(f, hold(f, dir), &l);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.e[0].ino, dir);
	assert_int_equal(l.e[1].ino, f->root_ino);

	/* inos are never reused */
	assert_int_equal(ops->unlink(&f->sb, f->root, "sock", 0), 0);
	ino = mk(f, f->root, "sock", S_IFSOCK | 0600);
	assert_true(ino > sock && ino > fifo);
}

/* An entry present throughout is listed exactly once, while others come
 * and go between the calls; nothing is listed after it was removed. */
static void test_readdir_cookies(void **state)
{
	enum { N = 300, BATCH = 7 };
	struct fx *f = *state;
	static struct listing l;
	static bool exists[2 * N], throughout[2 * N];
	static int seen[2 * N];
	uint64_t cookie = 0;
	unsigned round = 0, nnew = 0;
	char name[32];
	bool dots = false;

	memset(exists, 0, sizeof(exists));
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "e%03d", i);
		mk(f, f->root, name, S_IFREG | 0644);
		exists[i] = throughout[i] = true;
	}
	for (;;) {
		l.n = 0;
		l.limit = BATCH;
		assert_int_equal(ops->readdir(&f->sb, f->root, NULL, cookie,
					      collect, &l), 0);
		if (l.n == 0)
			break;
		for (size_t i = 0; i < l.n; i++) {
			int id;

			if (strcmp(l.e[i].name, ".") == 0 ||
			    strcmp(l.e[i].name, "..") == 0) {
				assert_true(cookie < 2);
				dots = true;
				continue;
			}
			id = atoi(l.e[i].name + 1);
			if (l.e[i].name[0] == 'n')
				id += N;
			assert_true(exists[id]);
			seen[id]++;
			assert_int_equal(seen[id], 1);
			assert_int_equal(l.e[i].ino,
					 look(f, f->root, l.e[i].name));
		}
		cookie = l.e[l.n - 1].next;

		/* Remove the entry just listed (the cookie is its seq + 1),
		 * some ahead and some behind, and add new ones. */
		round++;
		for (int k = 0; k < 6; k++) {
			int id = (int)((round * 37 + (unsigned)k * 101) % N);

			if (k == 0 && l.e[l.n - 1].name[0] == 'e')
				id = atoi(l.e[l.n - 1].name + 1);
			if (!exists[id])
				continue;
			snprintf(name, sizeof(name), "e%03d", id);
			assert_int_equal(ops->unlink(&f->sb, f->root, name,
						     0), 0);
			exists[id] = throughout[id] = false;
		}
		if (nnew < N) {
			snprintf(name, sizeof(name), "n%03u", nnew);
			mk(f, f->root, name, S_IFREG | 0644);
			exists[N + nnew++] = true;
		}
		assert_true(round < 10 * N);
	}
	assert_true(dots);
	for (int i = 0; i < 2 * N; i++)
		if (throughout[i])
			assert_int_equal(seen[i], 1);

	/* A fresh listing returns what exists, in creation order. */
	list_dir(f, f->root, &l);
	{
		size_t n = 0;

		for (int i = 0; i < 2 * N; i++)
			n += exists[i];
		assert_int_equal(l.n, n + 2);
		for (size_t i = 3; i < l.n; i++)
			assert_true(l.e[i - 1].next <= l.e[i].next);
	}

	/* A cookie beyond the end lists nothing; fill stopping at once is
	 * not an error. */
	l.n = 0;
	l.limit = LIST_MAX;
	assert_int_equal(ops->readdir(&f->sb, f->root, NULL, UINT64_MAX,
				      collect, &l), 0);
	assert_int_equal(l.n, 0);
	l.limit = 0;
	assert_int_equal(ops->readdir(&f->sb, f->root, NULL, 0, collect, &l),
			 0);
	assert_int_equal(l.n, 0);
}

static int rn(struct fx *f, void *od, const char *on, void *nd,
	      const char *nn, unsigned flags)
{
	return ops->rename(&f->sb, od, on, nd, nn, flags);
}

static void test_rename(void **state)
{
	struct fx *f = *state;
	static struct listing l;
	void *a = mkh(f, f->root, "a", S_IFDIR | 0755);
	void *b = mkh(f, a, "b", S_IFDIR | 0755);
	void *c = mkh(f, b, "c", S_IFDIR | 0755);
	void *ne = mkh(f, f->root, "ne", S_IFDIR | 0755);
	void *e = mkh(f, f->root, "e", S_IFDIR | 0755);
	void *file = mkh(f, f->root, "f", S_IFREG | 0644);
	uint64_t f_ino = look(f, f->root, "f"), b_ino = look(f, a, "b");
	uint64_t g_ino, k_ino, e_ino = look(f, f->root, "e");
	uint64_t a_ino = look(f, f->root, "a"), c_ino = look(f, b, "c");
	void *g;

	mk(f, ne, "x", S_IFREG | 0644);
	g = mkh(f, f->root, "g", S_IFREG | 0644);
	g_ino = look(f, f->root, "g");
	assert_int_equal(nlink_of(f, f->root), 2 + 3);
	assert_int_equal(nlink_of(f, a), 3);

	/* flags */
	assert_int_equal(rn(f, f->root, "f", f->root, "z", 1u << 2), -EINVAL);
	assert_int_equal(rn(f, f->root, "f", f->root, "z",
			    RENAME_NOREPLACE | RENAME_EXCHANGE), -EINVAL);
	/* missing */
	assert_int_equal(rn(f, f->root, "nope", f->root, "z", 0), -ENOENT);
	assert_int_equal(rn(f, f->root, "f", f->root, "nope",
			    RENAME_EXCHANGE), -ENOENT);
	assert_int_equal(rn(f, f->root, "f", file, "z", 0), -ENOTDIR);
	/* NOREPLACE */
	assert_int_equal(rn(f, f->root, "f", f->root, "g", RENAME_NOREPLACE),
			 -EEXIST);
	assert_int_equal(rn(f, f->root, "f", f->root, "f2", RENAME_NOREPLACE),
			 0);
	assert_int_equal(rn(f, f->root, "f2", f->root, "f", 0), 0);
	assert_int_equal(look(f, f->root, "f"), f_ino);
	assert_int_equal(look(f, f->root, "f2"), 0);
	/* into its own subtree, or onto an ancestor */
	assert_int_equal(rn(f, f->root, "a", c, "z", 0), -EINVAL);
	assert_int_equal(rn(f, f->root, "a", a, "z", 0), -EINVAL);
	assert_int_equal(rn(f, a, "b", c, "z", 0), -EINVAL);
	assert_int_equal(rn(f, b, "c", f->root, "a", 0), -ENOTEMPTY);
	/* type clashes */
	assert_int_equal(rn(f, f->root, "e", f->root, "ne", 0), -ENOTEMPTY);
	assert_int_equal(rn(f, f->root, "f", f->root, "e", 0), -EISDIR);
	assert_int_equal(rn(f, f->root, "e", f->root, "f", 0), -ENOTDIR);
	assert_int_equal(look(f, f->root, "e"), e_ino);
	assert_int_equal(look(f, f->root, "f"), f_ino);
	/* onto itself */
	assert_int_equal(rn(f, f->root, "f", f->root, "f", 0), 0);
	assert_int_equal(look(f, f->root, "f"), f_ino);

	/* EXCHANGE of a file and a directory in different parents */
	assert_int_equal(rn(f, f->root, "f", a, "b", RENAME_EXCHANGE), 0);
	assert_int_equal(look(f, f->root, "f"), b_ino);
	assert_int_equal(look(f, a, "b"), f_ino);
	assert_int_equal(nlink_of(f, f->root), 2 + 4);
	assert_int_equal(nlink_of(f, a), 2);
	list_dir(f, b, &l);
	assert_int_equal(find_ent(&l, "..")->ino, f->root_ino);
	list_dir(f, f->root, &l);
	assert_int_equal(find_ent(&l, "f")->type, DT_DIR);
	list_dir(f, a, &l);
	assert_int_equal(find_ent(&l, "b")->type, DT_REG);
	/* the old parent may now be moved below b again */
	assert_int_equal(rn(f, f->root, "a", b, "a", 0), 0);
	assert_int_equal(nlink_of(f, f->root), 2 + 3);
	assert_int_equal(nlink_of(f, b), 4);
	/* and back, exchanging two directories */
	assert_int_equal(rn(f, f->root, "f", b, "a", RENAME_EXCHANGE),
			 -EINVAL);
	assert_int_equal(rn(f, b, "a", b, "c", RENAME_EXCHANGE), 0);
	assert_int_equal(rn(f, b, "c", f->root, "e", RENAME_EXCHANGE), 0);
	/* now /e is a (holding the file "b"), b/c is old e, b/a is c */
	assert_int_equal(look(f, a, "b"), f_ino);
	assert_int_equal(look(f, f->root, "e"), a_ino);
	assert_int_equal(look(f, b, "c"), e_ino);
	assert_int_equal(look(f, b, "a"), c_ino);
	list_dir(f, a, &l);
	assert_int_equal(find_ent(&l, "..")->ino, f->root_ino);
	list_dir(f, e, &l);
	assert_int_equal(find_ent(&l, "..")->ino, look(f, f->root, "f"));
	assert_int_equal(nlink_of(f, b), 4);
	assert_int_equal(nlink_of(f, f->root), 2 + 3);

	/* links to one file: no-op */
	assert_int_equal(ops->link(&f->sb, f->root, "h", g), 0);
	assert_int_equal(rn(f, f->root, "g", f->root, "h", 0), 0);
	assert_int_equal(look(f, f->root, "g"), g_ino);
	assert_int_equal(look(f, f->root, "h"), g_ino);
	assert_int_equal(nlink_of(f, g), 2);

	/* replacing a file: it loses its link and, unheld, goes away */
	k_ino = mk(f, f->root, "k", S_IFREG | 0644);
	assert_int_equal(rn(f, f->root, "h", f->root, "k", 0), 0);
	assert_int_equal(look(f, f->root, "k"), g_ino);
	assert_int_equal(look(f, f->root, "h"), 0);
	assert_int_equal(nlink_of(f, g), 2);
	{
		void *p;

		assert_int_equal(ops->vget(&f->sb, k_ino, &p), -ENOENT);
	}

	/* a directory over an empty one in another parent */
	{
		void *d1 = mkh(f, f->root, "d1", S_IFDIR | 0755);
		void *d2 = mkh(f, ne, "d2", S_IFDIR | 0755);
		nlink_t rootl = nlink_of(f, f->root);

		assert_int_equal(nlink_of(f, ne), 3);
		assert_int_equal(rn(f, f->root, "d1", ne, "d2", 0), 0);
		assert_int_equal(nlink_of(f, f->root), rootl - 1);
		assert_int_equal(nlink_of(f, ne), 3);
		assert_int_equal(nlink_of(f, d2), 0);
		assert_int_equal(nlink_of(f, d1), 2);
		list_dir(f, d1, &l);
		assert_int_equal(find_ent(&l, "..")->ino,
				 look(f, f->root, "ne"));
		/* plain move of a directory */
		assert_int_equal(rn(f, ne, "d2", f->root, "d3", 0), 0);
		assert_int_equal(nlink_of(f, f->root), rootl);
		assert_int_equal(nlink_of(f, ne), 2);
		/* within one directory, over an empty directory */
		mk(f, f->root, "d4", S_IFDIR | 0755);
		assert_int_equal(nlink_of(f, f->root), rootl + 1);
		assert_int_equal(rn(f, f->root, "d3", f->root, "d4", 0), 0);
		assert_int_equal(nlink_of(f, f->root), rootl);
		assert_int_equal(look(f, f->root, "d3"), 0);
	}
}

static void test_link_unlink(void **state)
{
	struct fx *f = *state;
	static struct listing l;
	void *x = mkh(f, f->root, "x", S_IFREG | 0644);
	void *d, *s, *p;
	uint64_t ino;

	assert_int_equal(ops->link(&f->sb, f->root, "y", x), 0);
	assert_int_equal(nlink_of(f, x), 2);
	assert_int_equal(look(f, f->root, "y"), look(f, f->root, "x"));
	assert_int_equal(ops->link(&f->sb, f->root, "y", x), -EEXIST);
	assert_int_equal(ops->link(&f->sb, f->root, "z", f->root), -EPERM);
	assert_int_equal(ops->link(&f->sb, x, "z", x), -ENOTDIR);
	assert_int_equal(ops->unlink(&f->sb, f->root, "x", 0), 0);
	assert_int_equal(nlink_of(f, x), 1);
	assert_int_equal(ops->unlink(&f->sb, f->root, "x", 0), -ENOENT);
	assert_int_equal(ops->unlink(&f->sb, f->root, "y", 0), 0);
	assert_int_equal(nlink_of(f, x), 0);
	/* no linking back a file with no links */
	assert_int_equal(ops->link(&f->sb, f->root, "x", x), -ENOENT);

	assert_int_equal(nlink_of(f, f->root), 2);
	d = mkh(f, f->root, "d", S_IFDIR | 0755);
	assert_int_equal(nlink_of(f, f->root), 3);
	s = mkh(f, d, "s", S_IFDIR | 0755);
	mk(f, d, "file", S_IFREG | 0644);
	assert_int_equal(nlink_of(f, d), 3);
	assert_int_equal(sget(f, d).st_size, 80);   /* "s", "file" and 40 */
	assert_int_equal(ops->unlink(&f->sb, f->root, "d", 1), -ENOTEMPTY);
	assert_int_equal(ops->unlink(&f->sb, f->root, "d", 0), -EISDIR);
	assert_int_equal(ops->unlink(&f->sb, d, "file", 1), -ENOTDIR);
	assert_int_equal(ops->unlink(&f->sb, d, "s", 0), -EISDIR);
	assert_int_equal(ops->unlink(&f->sb, d, "s", 1), 0);
	assert_int_equal(nlink_of(f, s), 0);
	assert_int_equal(nlink_of(f, d), 2);
	assert_int_equal(ops->unlink(&f->sb, d, "file", 0), 0);
	assert_int_equal(ops->unlink(&f->sb, f->root, "d", 1), 0);
	assert_int_equal(nlink_of(f, f->root), 2);
	assert_int_equal(nlink_of(f, d), 0);

	/* a removed directory: empty, no creation, no listing */
	assert_int_equal(create_as(f, d, "n", S_IFREG | 0644, &root_cred,
				   &ino), -ENOENT);
	assert_int_equal(lookup_ino(&f->sb, d, "file", &ino), -ENOENT);
	assert_int_equal(ops->link(&f->sb, d, "n", x), -ENOENT);
	p = mkh(f, f->root, "q", S_IFREG | 0644);
	assert_int_equal(ops->link(&f->sb, d, "n", p), -ENOENT);
	assert_int_equal(rn(f, f->root, "q", d, "q", 0), -ENOENT);
	list_dir(f, d, &l);
	assert_int_equal(l.n, 0);

	list_dir(f, f->root, &l);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.e[2].name, "q");
}

static void test_unlinked_readable(void **state)
{
	struct fx *f = *state;
	static char buf[10000], back[10000];
	struct statvfs sv;
	uint64_t ino = mk(f, f->root, "u", S_IFREG | 0644);
	void *p1, *p2;

	assert_int_equal(ops->vget(&f->sb, ino, &p1), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7);
	assert_int_equal(pwr(f, p1, buf, sizeof(buf), 0), sizeof(buf));
	assert_int_equal(ops->unlink(&f->sb, f->root, "u", 0), 0);
	assert_int_equal(look(f, f->root, "u"), 0);
	assert_int_equal(nlink_of(f, p1), 0);
	assert_int_equal(ops->read(&f->sb, p1, NULL, back, sizeof(back), 0),
			 sizeof(back));
	assert_memory_equal(buf, back, sizeof(buf));
	/* still writable, and vget still finds it */
	assert_int_equal(pwr(f, p1, "!", 1, 0), 1);
	assert_int_equal(ops->vget(&f->sb, ino, &p2), 0);
	assert_ptr_equal(p1, p2);
	ops->reclaim(&f->sb, p1);
	memset(back, 0, sizeof(back));
	assert_int_equal(ops->read(&f->sb, p2, NULL, back, sizeof(back), 0),
			 sizeof(back));
	assert_int_equal(back[0], '!');
	assert_memory_equal(buf + 1, back + 1, sizeof(buf) - 1);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_blocks - sv.f_bfree, 3);
	ops->reclaim(&f->sb, p2);
	assert_int_equal(ops->vget(&f->sb, ino, &p1), -ENOENT);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_blocks, sv.f_bfree);

	/* reclaim of a linked node keeps it */
	ino = mk(f, f->root, "v", S_IFREG | 0644);
	assert_int_equal(ops->vget(&f->sb, ino, &p1), 0);
	ops->reclaim(&f->sb, p1);
	assert_int_equal(ops->vget(&f->sb, ino, &p1), 0);
	ops->reclaim(&f->sb, p1);
	/* an unheld node goes with its last link */
	assert_int_equal(ops->unlink(&f->sb, f->root, "v", 0), 0);
	assert_int_equal(ops->vget(&f->sb, ino, &p1), -ENOENT);
	assert_int_equal(ops->vget(&f->sb, 123456789, &p1), -ENOENT);
}

static void test_names(void **state)
{
	struct fx *f = *state;
	static char name[300], target[5000], buf[5000];
	uint64_t ino;
	void *p;

	memset(name, 'n', 255);
	name[255] = '\0';
	ino = mk(f, f->root, name, S_IFREG | 0644);
	assert_int_equal(look(f, f->root, name), ino);
	name[255] = 'n';
	name[256] = '\0';
	assert_int_equal(create_as(f, f->root, name, S_IFREG | 0644,
				   &root_cred, &ino), -ENAMETOOLONG);
	assert_int_equal(lookup_ino(&f->sb, f->root, name, &ino),
			 -ENAMETOOLONG);
	assert_int_equal(ops->unlink(&f->sb, f->root, name, 0),
			 -ENAMETOOLONG);
	assert_int_equal(rn(f, f->root, name, f->root, "x", 0),
			 -ENAMETOOLONG);
	p = mkh(f, f->root, "file", S_IFREG | 0644);
	assert_int_equal(ops->link(&f->sb, f->root, name, p), -ENAMETOOLONG);
	assert_int_equal(rn(f, f->root, "file", f->root, name, 0),
			 -ENAMETOOLONG);
	name[255] = '\0';
	ino = look(f, f->root, "file");
	assert_int_equal(rn(f, f->root, "file", f->root, name, 0), 0);
	assert_int_equal(look(f, f->root, name), ino);

	/* never ".", "..", "" or with '/' */
	assert_int_equal(create_as(f, f->root, ".", S_IFREG | 0644,
				   &root_cred, &ino), -EINVAL);
	assert_int_equal(create_as(f, f->root, "..", S_IFDIR | 0755,
				   &root_cred, &ino), -EINVAL);
	assert_int_equal(create_as(f, f->root, "", S_IFREG | 0644,
				   &root_cred, &ino), -EINVAL);
	assert_int_equal(create_as(f, f->root, "a/b", S_IFREG | 0644,
				   &root_cred, &ino), -EINVAL);
	mk(f, f->root, "...", S_IFREG | 0644);
	mk(f, f->root, ".hidden", S_IFREG | 0644);

	/* symlink targets up to 4095 bytes */
	memset(target, 't', 4095);
	target[4095] = '\0';
	assert_int_equal(create_ino(&f->sb, f->root, "s", S_IFLNK | 0777, 0,
				     target, &root_cred, &ino), 0);
	p = hold(f, ino);
	assert_int_equal(sget(f, p).st_size, 4095);
	assert_int_equal(ops->readlink(&f->sb, p, buf, sizeof(buf)), 4095);
	assert_memory_equal(buf, target, 4095);
	target[4095] = 't';
	target[4096] = '\0';
	assert_int_equal(create_ino(&f->sb, f->root, "s2", S_IFLNK | 0777, 0,
				     target, &root_cred, &ino),
			 -ENAMETOOLONG);
	assert_int_equal(create_ino(&f->sb, f->root, "s3", S_IFLNK | 0777, 0,
				     NULL, &root_cred, &ino), -EINVAL);
}

/* A directory's names are spread over its buckets by a hash no caller can
 * compute ahead: with the plain FNV-1a of the name, whose low bits (the
 * bucket) depend only on the low bits of its state and input, names that
 * all fall in one bucket were found by trying a few million, and a user
 * who made them in a shared directory made every lookup, create and
 * removal of one of them walk the whole chain with ns_lock held, the
 * instance's every namespace change waiting (hash flooding).  256 names
 * the plain hash puts in one bucket of any table up to 4096 buckets must
 * spread. */
static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void test_name_hash_spread(void **state)
{
	enum { NAMES = 256 };
	struct fx *f = *state;
	struct node *d = mkh(f, f->root, "flood", S_IFDIR | 0755);
	const struct dir *dir = &d->u.dir;
	char name[32];
	size_t made = 0, longest = 0;

	for (uint32_t i = 0; made < NAMES; i++) {
		snprintf(name, sizeof(name), "x%08x", i);
		if ((fnv1a(name) & 0xfff) != 0x5a5)
			continue;
		mk(f, d, name, S_IFREG | 0644);
		made++;
	}
	assert_true(dir->ntab >= NAMES && dir->ntab <= 4096);
	for (size_t b = 0; b < dir->ntab; b++) {
		size_t len = 0;

		for (const struct dent *de = dir->tab[b]; de != NULL;
		     de = de->hnext)
			len++;
		if (len > longest)
			longest = len;
	}
	assert_true(longest < 16);      /* ~5 for 256 spread over 256 */
}
