/*
 * test_nfs_rpc_silly.c - test_nfs_rpc's cases for the REMOVE of a
 * silly-renamed file at its last close (remove.c's reaper) and the RMDIR
 * that waits for it.  Included by test_nfs_rpc.c (its scripted server,
 * connections and helpers); not a program of its own.
 */

/* ---- the REMOVE of a silly-renamed file at its last close -------------- */

static const struct fh3 dir_fh = { .len = 8, .data = DIR_FH };

/* The root directory's node (the parent of "d"). */
static struct node *root_new(void)
{
	struct node *n = node_new();

	n->ino = 1;
	n->type = S_IFDIR;
	n->st.st_mode = S_IFDIR | 0755;
	n->st.st_ino = 1;
	return n;
}

/* The silly-renamed files' REMOVEs the mount has pending. */
static unsigned pending(struct nsb *s)
{
	pthread_mutex_lock(&s->lock);
	unsigned n = s->sr_n;
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* Waits (at most ms) until proc has been received n times. */
static void await_seen(int proc, int n, int ms)
{
	for (int i = 0; i < ms / 5 && atomic_load(&seen[proc]) < n; i++)
		usleep(5 * 1000);
	assert_true(atomic_load(&seen[proc]) >= n);
}

/* The last close of a silly-renamed file (nv_release's part), as the
 * unlinker cr: answered JUKEBOX twice, the REMOVE is sent again after 10
 * and 20 ms and the name goes; the close returned at once. */
static void silly_remove_jukebox(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct nsb *s = sb_new(nc);
	struct uvfs_cred cr = { .uid = 1000, .gid = 100 };

	(void)state;
	dir_reset(".nfs1", NULL);
	atomic_store(&mode, M_JUKEBOX);
	atomic_store(&jukebox_proc, NFS3_REMOVE);
	atomic_store(&jukebox_left, 2);
	atomic_store(&seen[NFS3_REMOVE], 0);
	uint64_t t0 = now_ms();
	nn_silly_remove(s, nn_silly_new(s, &dir_fh, ".nfs1", &cr));
	uint64_t closed = now_ms() - t0;
	assert_true(pending(s) <= 1);
	for (int i = 0; i < 600 && dir_has(".nfs1"); i++)
		usleep(5 * 1000);
	uint64_t gone = now_ms() - t0;
	for (int i = 0; i < 200 && pending(s) > 0; i++)
		usleep(5 * 1000);
	printf("a silly REMOVE answered JUKEBOX twice: the close returned "
	       "after %llu ms, the name gone after %llu ms, %d REMOVEs\n",
	       (unsigned long long)closed, (unsigned long long)gone,
	       atomic_load(&seen[NFS3_REMOVE]));
	assert_true(closed < 100);
	assert_false(dir_has(".nfs1"));
	assert_true(gone >= 30);                /* 10 + 20 ms of pauses */
	assert_int_equal(atomic_load(&seen[NFS3_REMOVE]), 3);
	assert_int_equal(atomic_load(&seen_uid), 1000); /* the unlinker */
	assert_int_equal(pending(s), 0);
	atomic_store(&mode, M_OK);
	sb_free(s);
	nconn_free(nc);
}

/* An RMDIR answered NOTEMPTY while the REMOVE of the silly-renamed file
 * in the directory is out, its answer held back 1.5 s (the server does it
 * then): it waits for that answer and asks once more, and succeeds.
 * First, with a REMOVE pending in another directory only, an RMDIR of a
 * directory that holds a file is NOTEMPTY at once. */
static void rmdir_waits_for_silly_remove(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct nsb *s = sb_new(nc);
	struct node *root = root_new();
	const struct fh3 other = { .len = 8, .data = "other!!" };
	struct n3attr da = { 0 };

	(void)state;
	/* nothing pending in "d": no wait, one RMDIR */
	dir_reset("kept", NULL);
	atomic_store(&mode, M_JUKEBOX);
	atomic_store(&jukebox_proc, NFS3_REMOVE);
	atomic_store(&jukebox_left, -1);
	atomic_store(&seen[NFS3_REMOVE], 0);
	atomic_store(&seen[NFS3_RMDIR], 0);
	nn_silly_remove(s, nn_silly_new(s, &other, ".nfs2", NULL));
	await_seen(NFS3_REMOVE, 1, 2000);
	struct n3 c = ctx(nc, 5000);
	uint64_t t0 = now_ms();
	int r = nn_rmdir(s, &c, root, "d", &da);
	uint64_t took = now_ms() - t0;
	printf("an RMDIR of a directory with no silly REMOVE pending: %d "
	       "after %llu ms, %d RMDIRs\n", r, (unsigned long long)took,
	       atomic_load(&seen[NFS3_RMDIR]));
	assert_int_equal(r, -ENOTEMPTY);
	assert_true(took < 500);
	assert_int_equal(atomic_load(&seen[NFS3_RMDIR]), 1);
	atomic_store(&mode, M_OK);
	sb_free(s);             /* the other REMOVE: dropped at its end */

	/* its REMOVE's answer held back longer than a second */
	s = sb_new(nc);
	dir_reset(".nfs3", NULL);
	atomic_store(&remove_delay_ms, 1500);
	atomic_store(&seen[NFS3_REMOVE], 0);
	atomic_store(&seen[NFS3_RMDIR], 0);
	t0 = now_ms();
	nn_silly_remove(s, nn_silly_new(s, &dir_fh, ".nfs3", NULL));
	await_seen(NFS3_REMOVE, 1, 2000);
	assert_int_equal(pending(s), 1);
	c = ctx(nc, 5000);
	uint64_t t1 = now_ms();
	r = nn_rmdir(s, &c, root, "d", &da);
	took = now_ms() - t1;
	printf("an RMDIR answered NOTEMPTY while the silly REMOVE's answer "
	       "is held back 1500 ms: %d after %llu ms (%llu ms after the "
	       "close), %d RMDIRs\n", r, (unsigned long long)took,
	       (unsigned long long)(now_ms() - t0),
	       atomic_load(&seen[NFS3_RMDIR]));
	assert_int_equal(r, 0);
	assert_true(now_ms() - t0 >= 1500);
	assert_int_equal(atomic_load(&seen[NFS3_RMDIR]), 2);
	assert_int_equal(pending(s), 0);
	atomic_store(&remove_delay_ms, 0);
	free(root);
	sb_free(s);
	nconn_free(nc);
}

struct closer {
	struct nsb *s;
	struct sillyrm *e;
	int after_ms;
};

static void *closer_main(void *arg)
{
	struct closer *cl = arg;

	usleep((useconds_t)cl->after_ms * 1000);
	nn_silly_remove(cl->s, cl->e);          /* the file's last close */
	return NULL;
}

/* The RMDIR comes before the last close of a file silly-renamed in the
 * directory (through FUSE a RELEASE comes after close(2) returned, and
 * the kernel may send the RMDIR of rm -r first): the RMDIR answered
 * NOTEMPTY waits a moment for that close and its REMOVE, and asks again.
 * A file that stays open: NOTEMPTY after that moment, not the call's
 * deadline.  Before, both were NOTEMPTY at once (nothing pending). */
static void rmdir_waits_for_last_close(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct nsb *s = sb_new(nc);
	struct node *root = root_new();
	struct n3attr da = { 0 };
	struct closer cl = { .s = s, .after_ms = 300 };
	pthread_t t;

	(void)state;
	dir_reset(".nfs8", NULL);
	atomic_store(&seen[NFS3_RMDIR], 0);
	cl.e = nn_silly_new(s, &dir_fh, ".nfs8", NULL);
	assert_non_null(cl.e);
	pthread_mutex_lock(&s->lock);
	nn_silly_opened_locked(s, cl.e);
	pthread_mutex_unlock(&s->lock);
	assert_int_equal(pthread_create(&t, NULL, closer_main, &cl), 0);
	struct n3 c = ctx(nc, 5000);
	uint64_t t0 = now_ms();
	int r = nn_rmdir(s, &c, root, "d", &da);
	uint64_t took = now_ms() - t0;
	pthread_join(t, NULL);
	printf("an RMDIR before the last close (300 ms later) of a file "
	       "silly-renamed in it: %d after %llu ms, %d RMDIRs\n", r,
	       (unsigned long long)took, atomic_load(&seen[NFS3_RMDIR]));
	assert_int_equal(r, 0);
	assert_true(took >= 250);
	assert_int_equal(atomic_load(&seen[NFS3_RMDIR]), 2);
	assert_false(dir_has(".nfs8"));

	/* the file stays open */
	dir_reset(".nfs9", NULL);
	atomic_store(&seen[NFS3_RMDIR], 0);
	struct sillyrm *e = nn_silly_new(s, &dir_fh, ".nfs9", NULL);
	assert_non_null(e);
	pthread_mutex_lock(&s->lock);
	nn_silly_opened_locked(s, e);
	pthread_mutex_unlock(&s->lock);
	c = ctx(nc, 5000);
	t0 = now_ms();
	r = nn_rmdir(s, &c, root, "d", &da);
	took = now_ms() - t0;
	printf("an RMDIR while a file silly-renamed in it stays open: %d "
	       "after %llu ms, %d RMDIRs\n", r, (unsigned long long)took,
	       atomic_load(&seen[NFS3_RMDIR]));
	assert_int_equal(r, -ENOTEMPTY);
	assert_true(took >= 900 && took < 3000);
	assert_int_equal(atomic_load(&seen[NFS3_RMDIR]), 1);
	nn_silly_remove(s, e);                  /* its close, at last */
	free(root);
	sb_free(s);
	nconn_free(nc);
}

struct rmdir_arg {
	struct nsb *s;
	struct node *root;
	struct n3 c;
	int r;
};

static void *rmdir_main(void *arg)
{
	struct rmdir_arg *a = arg;
	struct n3attr da = { 0 };

	a->r = nn_rmdir(a->s, &a->c, a->root, "d", &da);
	return NULL;
}

/* A forced unmount (nv_cancel, then the unmount: nn_silly_fini) while the
 * REMOVE, answered JUKEBOX every time, is in a pause: it ends at once,
 * and so does an RMDIR waiting for it; nothing is sent after. */
static void silly_remove_forced_unmount(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct nsb *s = sb_new(nc);
	struct rmdir_arg a = { .s = s, .root = root_new() };
	pthread_t t;

	(void)state;
	dir_reset(".nfs4", NULL);
	atomic_store(&mode, M_JUKEBOX);
	atomic_store(&jukebox_proc, NFS3_REMOVE);
	atomic_store(&jukebox_left, -1);
	atomic_store(&seen[NFS3_REMOVE], 0);
	atomic_store(&seen[NFS3_RMDIR], 0);
	nn_silly_remove(s, nn_silly_new(s, &dir_fh, ".nfs4", NULL));
	/* past the short pauses (10 .. 640 ms): in one of 1 s by now, and
	 * an RMDIR waiting for it */
	await_seen(NFS3_REMOVE, 8, 5000);
	a.c = ctx(nc, 5000);
	assert_int_equal(pthread_create(&t, NULL, rmdir_main, &a), 0);
	await_seen(NFS3_RMDIR, 1, 2000);
	usleep(100 * 1000);
	int sent = atomic_load(&seen[NFS3_REMOVE]);
	uint64_t t0 = now_ms();
	nn_silly_cancel(s);
	nconn_cancel(nc);
	nn_silly_fini(s);
	uint64_t took = now_ms() - t0;
	pthread_join(t, NULL);
	uint64_t rmdir_took = now_ms() - t0;
	usleep(1500 * 1000);    /* past the pause it was in, and the next */
	printf("a forced unmount during a silly REMOVE's pause: done after "
	       "%llu ms, the waiting RMDIR %d after %llu ms, %d REMOVEs before "
	       "and %d after\n", (unsigned long long)took, a.r,
	       (unsigned long long)rmdir_took, sent,
	       atomic_load(&seen[NFS3_REMOVE]) - sent);
	assert_true(took < 300);
	assert_true(rmdir_took < 300);
	assert_int_equal(a.r, -ENOTEMPTY);
	assert_int_equal(atomic_load(&seen[NFS3_REMOVE]), sent);
	assert_int_equal(atomic_load(&seen[NFS3_RMDIR]), 1);
	assert_true(dir_has(".nfs4"));          /* left behind */
	pthread_mutex_lock(&s->lock);
	assert_true(s->sr_exited && s->sr_n == 0);
	pthread_mutex_unlock(&s->lock);
	atomic_store(&mode, M_OK);
	free(a.root);
	pthread_mutex_destroy(&s->lock);
	free(s);
	nconn_free(nc);
}

/* The last close while the session is reconnecting (the server hung up
 * and refuses connections: a call would wait for it): it returns at
 * once, the reaper sends the REMOVE once the server is back, and the
 * name goes. */
static void silly_remove_close_never_waits(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct nsb *s = sb_new(nc);
	struct nc_stats st;
	GETATTR3res res;

	(void)state;
	dir_reset(".nfs7", NULL);
	atomic_store(&refusing, true);
	while (atomic_load(&listening))
		usleep(5 * 1000);
	/* hung up on, then refused until its deadline */
	int r = getattr(nc, NULL, &res, 300);
	assert_true(r == -ETIMEDOUT || r == -EIO);
	nc_stats(nc, &st);
	assert_string_equal(st.state, "reconnecting");
	uint64_t t0 = now_ms();
	nn_silly_remove(s, nn_silly_new(s, &dir_fh, ".nfs7", NULL));
	uint64_t closed = now_ms() - t0;
	assert_int_equal(pending(s), 1);
	usleep(300 * 1000);
	assert_true(dir_has(".nfs7"));
	atomic_store(&refusing, false);
	t0 = now_ms();
	for (int i = 0; i < 1000 && dir_has(".nfs7"); i++)
		usleep(5 * 1000);
	uint64_t gone = now_ms() - t0;
	for (int i = 0; i < 200 && pending(s) > 0; i++)
		usleep(5 * 1000);
	printf("a last close while the session reconnects: returned after "
	       "%llu ms, the name gone %llu ms after the server listened "
	       "again\n", (unsigned long long)closed, (unsigned long long)gone);
	assert_true(closed < 100);
	assert_false(dir_has(".nfs7"));
	assert_int_equal(pending(s), 0);
	sb_free(s);
	nconn_free(nc);
}

/* An unmount (nn_silly_fini) with a REMOVE whose answer is held back
 * 300 ms waits for it; one answered JUKEBOX every time, on a mount of a
 * 600 ms timeout, is given up by then and left behind. */
static void silly_remove_unmount(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct nsb *s = sb_new(nc);

	(void)state;
	dir_reset(".nfs5", NULL);
	atomic_store(&remove_delay_ms, 300);
	nn_silly_remove(s, nn_silly_new(s, &dir_fh, ".nfs5", NULL));
	uint64_t t0 = now_ms();
	sb_free(s);
	uint64_t took = now_ms() - t0;
	printf("an unmount with a silly REMOVE answered after 300 ms: done "
	       "after %llu ms, the name %s\n", (unsigned long long)took,
	       dir_has(".nfs5") ? "left" : "gone");
	assert_false(dir_has(".nfs5"));
	assert_true(took >= 200 && took < 2000);
	atomic_store(&remove_delay_ms, 0);

	s = sb_new(nc);
	s->timeout_ms = 600;
	dir_reset(".nfs6", NULL);
	atomic_store(&mode, M_JUKEBOX);
	atomic_store(&jukebox_proc, NFS3_REMOVE);
	atomic_store(&jukebox_left, -1);
	nn_silly_remove(s, nn_silly_new(s, &dir_fh, ".nfs6", NULL));
	t0 = now_ms();
	sb_free(s);
	took = now_ms() - t0;
	printf("an unmount with a silly REMOVE answered JUKEBOX always "
	       "(timeout 600 ms): done after %llu ms, the name %s\n",
	       (unsigned long long)took, dir_has(".nfs6") ? "left" : "gone");
	assert_true(dir_has(".nfs6"));
	assert_true(took < 600 + 1000);
	atomic_store(&mode, M_OK);
	nconn_free(nc);
}

/* The link full after the first bytes of the last close's REMOVE (the
 * system-call table's send and poll, overridden: the first REMOVE sent
 * goes 12 bytes out, then the link takes nothing for 300 ms). */
static ssize_t (*real_send)(int, const void *, size_t, int);
static int (*real_poll)(struct pollfd *, nfds_t, int);
static atomic_bool choke_armed;
static atomic_int choke_fd = -1;
static _Atomic uint64_t choke_until_ns;

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static ssize_t choke_send(int fd, const void *buf, size_t n, int fl)
{
	const uint8_t *b = buf;

	/* record mark, XID, CALL, RPC 2, NFS, v3, the procedure */
	if (n >= 28 && rd32(b + 8) == 0 && rd32(b + 16) == NFS_PROGRAM &&
	    rd32(b + 24) == NFS3_REMOVE && atomic_exchange(&choke_armed, false)) {
		atomic_store(&choke_until_ns, mono_now_ns() + 300000000u);
		atomic_store(&choke_fd, fd);
		return real_send(fd, buf, 12, fl);
	}
	if (fd == atomic_load(&choke_fd) &&
	    mono_now_ns() < atomic_load(&choke_until_ns)) {
		errno = EAGAIN;
		return -1;
	}
	return real_send(fd, buf, n, fl);
}

static int choke_poll(struct pollfd *p, nfds_t n, int ms)
{
	uint64_t now = mono_now_ns(), until = atomic_load(&choke_until_ns);
	int fd = atomic_load(&choke_fd);

	for (nfds_t i = 0; i < n && now < until; i++)
		if (p[i].fd == fd && (p[i].events & POLLOUT)) {
			/* no room until then */
			int left = (int)((until - now + 999999) / 1000000);
			usleep((useconds_t)(ms >= 0 && ms < left ? ms : left) *
			       1000);
			for (nfds_t j = 0; j < n; j++)
				p[j].revents = 0;
			return 0;
		}
	return real_poll(p, n, ms);
}

/* The last close whose REMOVE the link took only a part of: it returns
 * at once (the rest is the session's); the reaper's wait sends the rest
 * when the link has room again, and the server gets the REMOVE whole,
 * once: the name goes. */
static void silly_remove_close_part_sent(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct nsb *s = sb_new(nc);

	(void)state;
	dir_reset(".nfs8", NULL);
	atomic_store(&seen[NFS3_REMOVE], 0);
	atomic_store(&choke_fd, -1);
	atomic_store(&choke_armed, true);
	real_send = uvfs_sys_set("send", (void *)choke_send);
	real_poll = uvfs_sys_set("poll", (void *)choke_poll);
	uint64_t t0 = now_ms();
	nn_silly_remove(s, nn_silly_new(s, &dir_fh, ".nfs8", NULL));
	uint64_t closed = now_ms() - t0;
	for (int i = 0; i < 600 && dir_has(".nfs8"); i++)
		usleep(5 * 1000);
	uint64_t gone = now_ms() - t0;
	for (int i = 0; i < 200 && pending(s) > 0; i++)
		usleep(5 * 1000);
	uvfs_sys_set("send", (void *)real_send);
	uvfs_sys_set("poll", (void *)real_poll);
	printf("a last close whose REMOVE the link took 12 bytes of: "
	       "returned after %llu ms, the name gone after %llu ms\n",
	       (unsigned long long)closed, (unsigned long long)gone);
	assert_int_equal(atomic_load(&choke_fd) >= 0, 1); /* it was cut */
	assert_true(closed < 100);
	assert_false(dir_has(".nfs8"));
	assert_true(gone >= 250);               /* not before the room */
	assert_int_equal(atomic_load(&seen[NFS3_REMOVE]), 1);
	assert_int_equal(pending(s), 0);
	sb_free(s);
	nconn_free(nc);
}

/* ---- an open that fails after the other opens closed ------------------- */

/* A superblock for the driver's open and release, which read only its
 * private pointer (uvfs_sb_set_private). */
static struct uvfs_sb open_sb;

struct opener {
	struct uvfs_sb *sb;
	struct node *n;
	void *h;
	int r;
};

static void *opener_main(void *arg)
{
	struct opener *o = arg;

	o->r = uvfs_nfs_ops.open(o->sb, o->n, O_RDONLY, &o->h);
	return NULL;
}

/* A file open here is silly-renamed; a second open of it waits for its
 * GETATTR (answered JUKEBOX until the open's deadline), and the first
 * opener closes meanwhile.  The failed open is then the last: it starts
 * the ".nfs" name's REMOVE, and an RMDIR of the directory after it
 * succeeds.  Before, no REMOVE was ever sent, the name stayed, every
 * RMDIR of the directory waited SILLY_CLOSE_MS for a close that never
 * came (ENOTEMPTY), and the entry stayed on the mount's list of open
 * silly files after its node was freed (a use after free under
 * AddressSanitizer at the next RMDIR). */
static void silly_open_undo_removes(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct nsb *s = sb_new(nc);
	struct uvfs_sb *sb = &open_sb;
	struct node *root = root_new(), *n = node_new();
	struct n3attr da = { 0 };
	void *h1 = NULL;

	(void)state;
	uvfs_sb_set_private(sb, s);
	dir_reset(".nfsU", NULL);
	assert_int_equal(uvfs_nfs_ops.open(sb, n, O_RDWR, &h1), 0);
	struct sillyrm *e = nn_silly_new(s, &dir_fh, ".nfsU", NULL);
	assert_non_null(e);
	pthread_mutex_lock(&s->lock);
	n->silly = e;                           /* as silly_rename does */
	nn_silly_opened_locked(s, e);
	pthread_mutex_unlock(&s->lock);

	s->timeout_ms = 600;
	atomic_store(&mode, M_JUKEBOX);
	atomic_store(&jukebox_proc, NFS3_GETATTR);
	atomic_store(&jukebox_left, -1);
	atomic_store(&seen[NFS3_GETATTR], 0);
	atomic_store(&seen[NFS3_REMOVE], 0);
	struct opener o = { .sb = sb, .n = n };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, opener_main, &o), 0);
	await_seen(NFS3_GETATTR, 1, 2000);      /* the second open waits */
	uvfs_nfs_ops.release(sb, n, h1);        /* the first one's close */
	pthread_join(t, NULL);
	atomic_store(&mode, M_OK);
	s->timeout_ms = 5000;
	assert_int_equal(o.r, -ETIMEDOUT);
	assert_int_equal(n->opens, 0);
	assert_null(n->silly);
	for (int i = 0; i < 400 && dir_has(".nfsU"); i++)
		usleep(5 * 1000);
	struct n3 c = ctx(nc, 5000);
	uint64_t t0 = now_ms();
	int r = nn_rmdir(s, &c, root, "d", &da);
	printf("an open failed after the other's close: %d REMOVE(s), the "
	       "name %s; an RMDIR of its directory: %d after %llu ms\n",
	       atomic_load(&seen[NFS3_REMOVE]),
	       dir_has(".nfsU") ? "left" : "gone", r,
	       (unsigned long long)(now_ms() - t0));
	assert_int_equal(atomic_load(&seen[NFS3_REMOVE]), 1);
	assert_false(dir_has(".nfsU"));
	assert_int_equal(r, 0);
	nn_free(n);
	free(root);
	sb_free(s);
	nconn_free(nc);
}
