/*
 * test_nfs_rpc_stale.c - test_nfs_rpc's cases for a node found stale:
 * its handle names another file now (a server that reuses handles), seen
 * by the check after a reconnect (nv_rebuild), by a GETATTR, or by the
 * GETATTR that asks first for a node the reconnect did not check (a
 * directory not open), or its file's identity not known after it (the
 * server answered the check's GETATTR with an error).  Nothing
 * may go on that handle after (nn_fh, the one accessor of a node's
 * handle, refuses it): every call through the node is -ESTALE, what
 * the driver would send on its own (the COMMIT at a last release) is
 * not sent, and neither is a request made before and sent again after
 * (a hard mount's replay, refused at the send: ctx_on).  The driver's vnode operations are called as the core calls
 * them, on the scripted server's file with attributes (fa_on, fa_fileid
 * moved to another file's).  Included by test_nfs_rpc.c (after
 * test_nfs_rpc_attr.c: attr_mount); not a program of its own.
 */

/* A mount (soft, or hard) of the scripted server's file (size bytes,
 * its times t) whose reconnect runs the driver's check (rebuild:
 * nv_rebuild), m->n in the node table, as the check finds it. */
static struct nconn *checked_mount_new(struct attr_mount *m, bool hard,
				       uint64_t size, uint32_t t)
{
	struct nc_opts no = { .timeout_ms = 2000, .hard = hard,
			      .restarts = -1, .window_ms = 60000,
			      .source = "test", .rebuild = nv_rebuild };
	struct nconn *nc;

	atomic_store(&mode, M_OK);
	attr_mount_new(m, NULL, size, t, false);
	no.rebuild_arg = m->s;
	assert_int_equal(nconn_new("127.0.0.1", port, &no, &nc), 0);
	m->s->nc = nc;
	assert_int_equal(htab_init(&m->s->table), 0);
	htab_add(&m->s->table, &m->n->hl, htab_hash64(m->n->ino));
	m->n->hashed = true;
	assert_int_equal(nnames_init(&m->s->names), 0);
	return nc;
}

static void checked_mount_free(struct attr_mount *m, struct nconn *nc)
{
	atomic_store(&fa_fileid, 4242);
	htab_del(&m->s->table, &m->n->hl);
	htab_fini(&m->s->table);
	nnames_fini(&m->s->names);
	attr_mount_free(m, nc);
}

/* A file open across a reconnect whose handle names another file after
 * it (a server that reuses handles: the export of a FUSE file system
 * whose daemon restarted, one without generation numbers): the check
 * after the reconnect (nv_rebuild) makes its node stale, and every call
 * through it is -ESTALE (nfs_i.h: "every call -ESTALE"), nothing read
 * from the other file, nothing written into it.  Before, only a getattr
 * said so: a read gave the other file's bytes, a write went into it, and
 * fsync committed it, 0. */
static void stale_after_reconnect(void **state)
{
	const struct uvfs_fstype_ops *o = &uvfs_nfs_ops;
	struct attr_mount m;
	struct nconn *nc;
	struct stat st;
	char buf[100];
	void *h;

	(void)state;
	memset(buf, 'w', sizeof(buf));
	nc = checked_mount_new(&m, false, FILE_SIZE, 700);
	assert_int_equal(o->open(&m.sb, m.n, O_RDWR, &h), 0);
	assert_int_equal(o->read(&m.sb, m.n, h, buf, sizeof(buf), 0),
			 (ssize_t)sizeof(buf));
	/* the server goes and comes back; the handle names another file */
	atomic_store(&refusing, true);
	while (atomic_load(&listening))
		usleep(5 * 1000);
	struct n3 c = ctx(nc, 300);
	assert_true(n3_getattr(&c, &m.n->fh, &st) < 0);   /* hung up on */
	atomic_store(&fa_fileid, 4343);
	atomic_store(&refusing, false);
	bool stale = false;
	for (int i = 0; i < 500 && !stale; i++) {
		usleep(10 * 1000);
		pthread_mutex_lock(&m.s->lock);
		stale = m.n->stale;
		pthread_mutex_unlock(&m.s->lock);
	}
	off_t off = 0;
	ssize_t r = o->read(&m.sb, m.n, h, buf, sizeof(buf), 0);
	ssize_t w = o->write(&m.sb, m.n, h, buf, sizeof(buf), &off);
	int f = o->fsync(&m.sb, m.n, h, 0);
	struct uvfs_setattr sa = { .valid = UVFS_SET_SIZE, .size = 0 };
	int t = o->setattr(&m.sb, m.n, &sa);
	printf("a handle that names another file after a reconnect: stale "
	       "%d; read %zd, write %zd, fsync %d, truncate %d\n", stale, r,
	       w, f, t);
	atomic_store(&fa_fileid, 4242);
	assert_true(stale);
	assert_int_equal(r, -ESTALE);
	assert_int_equal(w, -ESTALE);
	assert_int_equal(f, -ESTALE);
	assert_int_equal(t, -ESTALE);
	o->release(&m.sb, m.n, h);
	checked_mount_free(&m, nc);
}

/* A file open across a reconnect whose GETATTR the server answers with an
 * error (NFS3ERR_IO, or a type no file has: it answered, but not who the
 * file is): its node is stale, as one found naming another file, and the
 * reconnect completes.  Before, the check's attempt failed on it, and
 * the supervisor's next attempts too, for as long as the server answered
 * so: the mount never came back (every call -ETIMEDOUT, a READ of
 * another handle too). */
static void stale_when_check_answered_error(void **state)
{
	const struct uvfs_fstype_ops *o = &uvfs_nfs_ops;
	static const int how[] = { NFS3ERR_IO, -1 };

	(void)state;
	for (size_t k = 0; k < sizeof(how) / sizeof(how[0]); k++) {
		struct attr_mount m;
		struct nconn *nc;
		char buf[100];
		void *h;
		nc = checked_mount_new(&m, false, FILE_SIZE, 700);
		assert_int_equal(o->open(&m.sb, m.n, O_RDWR, &h), 0);
		/* the server goes and comes back, answering the file's
		 * GETATTR with an error */
		atomic_store(&refusing, true);
		while (atomic_load(&listening))
			usleep(5 * 1000);
		struct stat st;
		struct n3 c = ctx(nc, 300);
		assert_true(n3_getattr(&c, &m.n->fh, &st) < 0);
		if (how[k] < 0)
			atomic_store(&fa_type, 0);
		else
			atomic_store(&getattr_status, how[k]);
		atomic_store(&refusing, false);
		/* a READ of the server's file by its handle, not the node */
		char rb[10];
		c = ctx(nc, 2000);
		bool eof;
		ssize_t rd = n3_read(&c, &m.n->fh, rb, sizeof(rb), 0, &eof,
				     NULL);
		bool stale;
		pthread_mutex_lock(&m.s->lock);
		stale = m.n->stale;
		pthread_mutex_unlock(&m.s->lock);
		ssize_t r = o->read(&m.sb, m.n, h, buf, sizeof(buf), 0);
		atomic_store(&getattr_status, NFS3_OK);
		atomic_store(&fa_type, NF3REG);
		printf("the check's GETATTR answered %s: a READ after the "
		       "reconnect %zd, the node stale %d, a read through it "
		       "%zd\n", how[k] < 0 ? "a type no file has" :
		       "NFS3ERR_IO", rd, stale, r);
		assert_int_equal(rd, (ssize_t)sizeof(rb));
		assert_true(stale);
		assert_int_equal(r, -ESTALE);
		o->release(&m.sb, m.n, h);
		checked_mount_free(&m, nc);
	}
}

/* Waits until the session is back (a GETATTR of the root answered). */
static void await_back(struct nconn *nc)
{
	struct fh3 root = { .len = 8, .data = ROOT_FH };
	struct stat st;
	int r = -1;

	for (int i = 0; i < 100 && r != 0; i++) {
		struct n3 c = ctx(nc, 2000);
		r = n3_getattr(&c, &root, &st);
	}
	assert_int_equal(r, 0);
}

/* The server goes (the session lost) and comes back, with the file of
 * fileid id behind its handles. */
static void server_restart(struct nconn *nc, uint64_t id)
{
	struct fh3 root = { .len = 8, .data = ROOT_FH };
	struct stat st;

	atomic_store(&refusing, true);
	while (atomic_load(&listening))
		usleep(5 * 1000);
	struct n3 c = ctx(nc, 300);
	assert_true(n3_getattr(&c, &root, &st) < 0);    /* hung up on */
	atomic_store(&fa_fileid, id);
	atomic_store(&refusing, false);
	await_back(nc);
}

/* A directory not open (the reconnect checks only the root and the open
 * files) whose handle names another directory after the server came
 * back: a lookup of a name in it and a listing of it are -ESTALE (a
 * GETATTR asks first, once per reconnect, and finds the other fileid),
 * not the other directory's answers; with its handle still its own,
 * that GETATTR is the only cost, once, and none before any reconnect.
 * Before, the LOOKUP and the READDIRPLUS went on the handle: the other
 * directory's names were listed (and a CREATE or REMOVE there would
 * have acted in it). */
static void stale_dir_checked_after_reconnect(void **state)
{
	const struct uvfs_fstype_ops *o = &uvfs_nfs_ops;
	struct uvfs_ident id;
	struct attr_mount m;
	struct nconn *nc;

	(void)state;
	atomic_store(&fa_type, NF3DIR);
	nc = checked_mount_new(&m, false, 4096, 700);
	m.n->type = S_IFDIR;
	m.n->st.st_mode = S_IFDIR | 0755;
	m.n->fh = (struct fh3){ .len = 8, .data = DIR_FH };
	dir_reset("x", "y", NULL);
	int g0 = atomic_load(&seen[NFS3_GETATTR]);
	int l0 = o->lookup(&m.sb, m.n, "x", &id);
	int g1 = atomic_load(&seen[NFS3_GETATTR]);
	/* back with the same directory behind the handle: asked once */
	server_restart(nc, 4242);
	int g2 = atomic_load(&seen[NFS3_GETATTR]);
	int l1 = o->lookup(&m.sb, m.n, "x", &id);
	int l2 = o->lookup(&m.sb, m.n, "x", &id);
	int g3 = atomic_load(&seen[NFS3_GETATTR]);
	/* back with another directory behind it */
	server_restart(nc, 4343);
	char names[256] = "";
	int l3 = o->lookup(&m.sb, m.n, "x", &id);
	int rd = o->readdir(&m.sb, m.n, NULL, 0, list_fill, names);
	atomic_store(&fa_fileid, 4242);
	atomic_store(&fa_type, NF3REG);
	dir_reset(NULL);
	printf("a directory not open: lookups %d (%d GETATTR), after a "
	       "reconnect %d, %d (%d GETATTR); its handle another "
	       "directory's after the next: lookup %d, listing %d \"%s\"\n",
	       l0, g1 - g0, l1, l2, g3 - g2, l3, rd, names);
	assert_int_equal(g1 - g0, 0);
	assert_int_equal(g3 - g2, 1);
	assert_int_equal(l3, -ESTALE);
	assert_int_equal(rd, -ESTALE);
	assert_string_equal(names, "");
	checked_mount_free(&m, nc);
}

/* The same found by a getattr, with no reconnect: the GETATTR of an open
 * file's handle answers another fileid.  That getattr is -ESTALE, and so
 * is every call through the file after it.  Before, only that getattr
 * was: the read after it gave the other file's bytes. */
static void stale_seen_by_getattr(void **state)
{
	const struct uvfs_fstype_ops *o = &uvfs_nfs_ops;
	struct nconn *nc = connect_to(2000);
	struct attr_mount m;
	struct stat st;
	char buf[100];
	void *h;

	(void)state;
	atomic_store(&mode, M_OK);
	attr_mount_new(&m, nc, FILE_SIZE, 800, true);   /* asks the server */
	assert_int_equal(o->open(&m.sb, m.n, O_RDWR, &h), 0);
	atomic_store(&fa_fileid, 4343);
	m.n->st_gen = m.s->gen - 1;                     /* asks again */
	int g = o->getattr(&m.sb, m.n, &st);
	ssize_t r = o->read(&m.sb, m.n, h, buf, sizeof(buf), 0);
	atomic_store(&fa_fileid, 4242);
	printf("a GETATTR that names another file: getattr %d, the read "
	       "after it %zd\n", g, r);
	assert_int_equal(g, -ESTALE);
	assert_int_equal(r, -ESTALE);
	o->release(&m.sb, m.n, h);
	attr_mount_free(&m, nc);
}

/* A file written behind through a descriptor whose flush never came (or
 * failed): its last release sends the COMMIT, not waited for, as the
 * opener.  Found stale before that release, the node sends none: the
 * COMMIT would go on a handle that names another file.  Before, the
 * release read the node's handle itself (not through nn_fh) and
 * committed it. */
static void stale_release_sends_nothing(void **state)
{
	const struct uvfs_fstype_ops *o = &uvfs_nfs_ops;
	struct nconn *nc = connect_to(2000);
	struct attr_mount m;
	struct stat st;
	char buf[100];
	off_t off = 0;
	void *h;

	(void)state;
	memset(buf, 'r', sizeof(buf));
	atomic_store(&mode, M_OK);
	attr_mount_new(&m, nc, FILE_SIZE, 900, false);
	assert_int_equal(o->open(&m.sb, m.n, O_RDWR, &h), 0);
	assert_int_equal(o->write(&m.sb, m.n, h, buf, sizeof(buf), &off),
			 (ssize_t)sizeof(buf));
	struct n3 c = ctx(nc, 2000);
	nw_settle(m.s, &c, m.n);        /* answered, not committed */
	/* the next GETATTR finds another file behind the handle */
	atomic_store(&fa_fileid, 4343);
	m.n->st_gen = m.s->gen - 1;
	int g = o->getattr(&m.sb, m.n, &st);
	atomic_store(&seen[NFS3_COMMIT], 0);
	o->release(&m.sb, m.n, h);
	usleep(200 * 1000);     /* a COMMIT sent would have come by now */
	int commits = atomic_load(&seen[NFS3_COMMIT]);
	atomic_store(&fa_fileid, 4242);
	printf("a node found stale with writes not committed: getattr %d, "
	       "COMMITs at its last release %d\n", g, commits);
	assert_int_equal(g, -ESTALE);
	assert_int_equal(commits, 0);
	attr_mount_free(&m, nc);
}

/* The server, silent with a call of ours out, goes (it hangs up at the
 * next call and refuses connections) and comes back with another file
 * (fileid 4343) behind m->n's handle; seen[] counts from its return. */
static void server_back_other(struct attr_mount *m, struct nconn *nc)
{
	struct stat st;

	atomic_store(&refusing, true);
	atomic_store(&mode, M_OK);
	while (atomic_load(&listening))
		usleep(5 * 1000);
	struct n3 c = ctx(nc, 300);
	assert_true(n3_getattr(&c, &m->n->fh, &st) < 0);   /* hung up on */
	for (int i = 0; i < 32; i++)
		atomic_store(&seen[i], 0);
	atomic_store(&fa_fileid, 4343);
	atomic_store(&refusing, false);
}

static bool node_stale(struct attr_mount *m)
{
	bool stale;

	pthread_mutex_lock(&m->s->lock);
	stale = m->n->stale;
	pthread_mutex_unlock(&m->s->lock);
	return stale;
}

struct fsync_op {
	struct attr_mount *m;
	void *h;
	int r;
};

static void *fsync_main(void *arg)
{
	struct fsync_op *f = arg;

	f->r = uvfs_nfs_ops.fsync(&f->m->sb, f->m->n, f->h, 0);
	return NULL;
}

/* A hard mount's WRITE out when the connection is lost is sent again
 * once the server is back (the fsync waiting for it sends it), after the
 * check of the reconnect (nv_rebuild), which finds the file's handle
 * naming another file now: the node is stale, and the WRITE must not go
 * on that handle.  It fails -ESTALE, and so does the fsync; the server
 * gets no WRITE after the reconnect.  Before, the session sent it again
 * (rpc.c knows no nodes): it wrote into the other file, and the fsync
 * committed it there, 0. */
static void stale_hard_replay_not_sent(void **state)
{
	const struct uvfs_fstype_ops *o = &uvfs_nfs_ops;
	struct attr_mount m;
	struct nconn *nc = checked_mount_new(&m, true, FILE_SIZE, 1000);
	char buf[100];
	off_t off = 0;
	void *h;

	(void)state;
	memset(buf, 'h', sizeof(buf));
	assert_int_equal(o->open(&m.sb, m.n, O_RDWR, &h), 0);
	/* the WRITE goes behind, and the server takes it and says nothing */
	atomic_store(&mode, M_SILENT);
	assert_int_equal(o->write(&m.sb, m.n, h, buf, sizeof(buf), &off),
			 (ssize_t)sizeof(buf));
	struct fsync_op f = { .m = &m, .h = h };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, fsync_main, &f), 0);
	usleep(100 * 1000);     /* the fsync waits for the WRITE */
	server_back_other(&m, nc);
	pthread_join(t, NULL);
	int writes = atomic_load(&seen[NFS3_WRITE]);
	int commits = atomic_load(&seen[NFS3_COMMIT]);
	bool stale = node_stale(&m);
	printf("a hard mount's WRITE lost with its connection, the handle "
	       "stale after the reconnect: stale %d, fsync %d, WRITEs after "
	       "the reconnect %d, COMMITs %d\n", stale, f.r, writes, commits);
	assert_true(stale);
	assert_int_equal(f.r, -ESTALE);
	assert_int_equal(writes, 0);
	assert_int_equal(commits, 0);
	o->release(&m.sb, m.n, h);
	checked_mount_free(&m, nc);
}

struct link_op {
	struct attr_mount *m;
	struct node *d;
	int r;
};

static void *link_main(void *arg)
{
	struct link_op *l = arg;

	l->r = uvfs_nfs_ops.link(&l->m->sb, l->d, "x", l->m->n);
	return NULL;
}

/* The same for a LINK (two handles: the file's and the directory's), the
 * file found stale by the reconnect's check: its replay is not sent,
 * and the link fails -ESTALE.  Before, the request carried neither
 * node's flag: the LINK went again, naming the other file. */
static void stale_hard_replay_link_not_sent(void **state)
{
	const struct uvfs_fstype_ops *o = &uvfs_nfs_ops;
	struct attr_mount m;
	struct nconn *nc = checked_mount_new(&m, true, FILE_SIZE, 1000);
	struct node *d = node_new();
	void *h;

	(void)state;
	d->ino = 7;
	d->type = S_IFDIR;
	d->fh = (struct fh3){ .len = 8, .data = DIR_FH };
	d->st.st_mode = S_IFDIR | 0755;
	assert_int_equal(o->open(&m.sb, m.n, O_RDWR, &h), 0);
	atomic_store(&mode, M_SILENT);
	struct link_op l = { .m = &m, .d = d };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, link_main, &l), 0);
	usleep(100 * 1000);     /* the LINK is out, unanswered */
	server_back_other(&m, nc);
	pthread_join(t, NULL);
	int links = atomic_load(&seen[NFS3_LINK]);
	bool stale = node_stale(&m);
	printf("a hard mount's LINK lost with its connection, the file "
	       "stale after the reconnect: stale %d, link %d, LINKs after "
	       "the reconnect %d\n", stale, l.r, links);
	assert_true(stale);
	assert_int_equal(l.r, -ESTALE);
	assert_int_equal(links, 0);
	o->release(&m.sb, m.n, h);
	nw_fini(d);
	pthread_mutex_destroy(&d->wb_lock);
	free(d);
	checked_mount_free(&m, nc);
}
