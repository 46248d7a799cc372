/*
 * test_p9server_renames.c - hostfs's requests that race a rename through
 * the server of a directory above their fid (docs/server.md, "The fid
 * index").  A fid names its file by path; a rename moves the paths of
 * the fids below it in the index after the host's rename, so a path
 * copied between the two names where the file was, and a resolution by
 * it fails (ENOENT) although the file is there.  Such a request waits
 * for the rename and resolves again.  A walk that resolved its names
 * before a rename and registered its new fid after it must not leave
 * that fid at the old path.  A fid whose file a rename replaced holds a
 * descriptor of it before the rename is done; a request that waited for
 * that rename acts on it.  A link or a removal of a fid is not raced
 * so: it waits for a rename under way before it checks that the fid's
 * entry is still its file, and a rename waits for it from that check to
 * its act on the entry (rn_lock), so that no rename puts another file
 * at the name between.
 *
 * Two connections to one server: A renames a/d to b/d and back, B holds
 * fids of d (10), d/f (12) and d/e (13).  The races are made to happen
 * through the table of system calls (sys.h): a rename held after its
 * renameat until a resolution by the old path has failed (rh_renameat),
 * or a resolution that succeeded held until a whole rename has run
 * (rh_openat2), or a removal's unlinkat or a link's linkat held while a
 * rename over the fid's name is sent (rh_unlinkat, rh_linkat).  Then the
 * same without hooks, many times
 * (walks_race_renames; UVFS_P9SERVER_RACE_WALKS=N walks, 4000 by
 * default).
 * Included by test_p9server.c (it uses that file's client and helpers);
 * not a program of its own.
 */

static long (*real_openat2)(int, const char *, struct open_how *, size_t);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_unlinkat)(int, const char *, int);
static int (*real_linkat)(int, const char *, int, const char *, int);

/* The hooks' state, under rh_mu. */
static pthread_mutex_t rh_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rh_cv = PTHREAD_COND_INITIALIZER;
static struct {
	bool armed;             /* the next renameat is held */
	bool held;              /* it is: the host's rename is made */
	bool failed;            /* a resolution of fail_path failed since */
	bool fail_any;          /* any resolution of fail_path counts (one
				 * that fails later: ESTALE) */
	char fail_path[64];
	char pause_path[64];    /* the next resolution of it that succeeds
				 * waits for go */
	bool paused, go;
	bool go_late;           /* a paused resolution gave up waiting */
	bool renamed;           /* a renameat was made */
	char act_name[64];      /* the next unlinkat of it, or linkat to
				 * it, waits for act_go before it acts */
	bool acting, act_go;
	bool act_late;          /* a held unlinkat or linkat gave up */
} rh;

/* => rh_mu held.  Waits up to ms for *flag; whether it came. */
static bool rh_wait_locked(const bool *flag, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (!*flag)
		if (pthread_cond_timedwait(&rh_cv, &rh_mu, &ts) != 0)
			break;
	return *flag;
}

/* => rh_mu held.  If slot names name (a hold asked for): the slot is
 * cleared, *reached set, and the call held until *go, or 5 s (*late). */
static void rh_hold_locked(char *slot, const char *name, bool *reached,
			   const bool *go, bool *late)
{
	if (!slot[0] || strcmp(name, slot) != 0)
		return;
	slot[0] = '\0';
	*reached = true;
	pthread_cond_broadcast(&rh_cv);
	if (!rh_wait_locked(go, 5000))
		*late = true;
}

static bool rh_wait(const bool *flag, int ms)
{
	pthread_mutex_lock(&rh_mu);
	bool ok = rh_wait_locked(flag, ms);
	pthread_mutex_unlock(&rh_mu);
	return ok;
}

static bool rh_get(const bool *flag)
{
	pthread_mutex_lock(&rh_mu);
	bool v = *flag;
	pthread_mutex_unlock(&rh_mu);
	return v;
}

static void rh_set(bool *flag)
{
	pthread_mutex_lock(&rh_mu);
	*flag = true;
	pthread_cond_broadcast(&rh_cv);
	pthread_mutex_unlock(&rh_mu);
}

/* Whatever a hook holds goes on at once, and nothing more is held (a
 * test that failed midway). */
static void rh_release(void)
{
	pthread_mutex_lock(&rh_mu);
	rh.armed = false;
	rh.pause_path[0] = rh.act_name[0] = '\0';
	rh.failed = rh.go = rh.act_go = true;
	pthread_cond_broadcast(&rh_cv);
	pthread_mutex_unlock(&rh_mu);
}

/* An armed rename is held between the host's rename and the move of its
 * fids (rn_seq odd) until a resolution of fail_path has failed, or 5 s. */
static int rh_renameat(int od, const char *op, int nd, const char *np)
{
	int ret = real_renameat(od, op, nd, np), e = errno;

	pthread_mutex_lock(&rh_mu);
	rh.renamed = true;
	pthread_cond_broadcast(&rh_cv);
	if (rh.armed) {
		rh.armed = false;
		rh.held = true;
		pthread_cond_broadcast(&rh_cv);
		rh_wait_locked(&rh.failed, 5000);
	}
	pthread_mutex_unlock(&rh_mu);
	errno = e;
	return ret;
}

static long rh_openat2(int dfd, const char *p, struct open_how *h, size_t sz)
{
	long fd = real_openat2(dfd, p, h, sz);
	int e = errno;

	pthread_mutex_lock(&rh_mu);
	if ((fd < 0 || rh.fail_any) && rh.held &&
	    strcmp(p, rh.fail_path) == 0) {
		rh.failed = true;
		pthread_cond_broadcast(&rh_cv);
	}
	if (fd >= 0)
		rh_hold_locked(rh.pause_path, p, &rh.paused, &rh.go,
			       &rh.go_late);
	pthread_mutex_unlock(&rh_mu);
	errno = e;
	return fd;
}

/* The next unlinkat of act_name, or linkat to it, is held before it
 * acts until act_go, or 5 s. */
static void rh_act_hold(const char *name)
{
	pthread_mutex_lock(&rh_mu);
	rh_hold_locked(rh.act_name, name, &rh.acting, &rh.act_go,
		       &rh.act_late);
	pthread_mutex_unlock(&rh_mu);
}

static int rh_unlinkat(int dfd, const char *p, int fl)
{
	rh_act_hold(p);
	return real_unlinkat(dfd, p, fl);
}

static int rh_linkat(int od, const char *op, int nd, const char *np, int fl)
{
	rh_act_hold(np);
	return real_linkat(od, op, nd, np, fl);
}

/* A test's state, on the heap from rnv_setup to rnv_teardown, which
 * undoes whatever rnv_start and the test got to (a test that failed
 * midway leaves no directory, thread, connection or hook behind). */
struct rnv {
	struct hostfs *hs;
	struct p9srv *s;
	struct tc a, b;         /* A renames, B races it */
	bool there;             /* d is in b */
	bool dir, a_up, b_up;   /* made: tmpl, A's and B's connections */
	/* A's rename on a thread of its own (rnv_hold, walks_race_renames'
	 * loop, until it sees stop) */
	pthread_t th;
	bool th_up;
	atomic_bool stop;
	unsigned long renames;  /* the loop's */
	uint32_t loop_err;
	/* the rename rnv_hold holds if on is set, else d to the other
	 * parent */
	struct {
		uint32_t odir, ndir;
		const char *on, *nn;
	} held;
};

#define RNV_TEST(fn) cmocka_unit_test_setup_teardown(fn, rnv_setup, \
							  rnv_teardown)

static int rnv_setup(void **state)
{
	struct rnv *v = calloc(1, sizeof(*v));

	*state = v;
	return v ? 0 : -1;
}

/* tmpl holds a/d/f, a/d/e/ and b/; A: fids 2 (a) and 3 (b); B: fids 10
 * (a/d), 12 (a/d/f), 13 (a/d/e). */
static void rnv_start(struct rnv *v, bool hooks)
{
	char p[128];

	pthread_mutex_lock(&rh_mu);
	memset(&rh, 0, sizeof(rh));
	pthread_mutex_unlock(&rh_mu);
	strcpy(tmpl, "/tmp/uvfs-p9srv-XXXXXX");
	assert_non_null(mkdtemp(tmpl));
	v->dir = true;
	const char *dirs[] = { "a", "b", "a/d", "a/d/e" };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", tmpl, dirs[i]);
		assert_int_equal(mkdir(p, 0755), 0);
	}
	snprintf(p, sizeof(p), "%s/a/d/f", tmpl);
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(hostfs_open(tmpl, &v->hs), 0);
	assert_int_equal(p9srv_new(&hostfs_ops, v->hs, NULL, &v->s), 0);
	/* the table is changed while no server thread runs; from libc (a
	 * test failed before may have left its hooks) */
	uvfs_sys_reset();
	if (hooks) {
		real_openat2 = uvfs_sys_set("openat2", (void *)rh_openat2);
		real_renameat = uvfs_sys_set("renameat", (void *)rh_renameat);
		real_unlinkat = uvfs_sys_set("unlinkat", (void *)rh_unlinkat);
		real_linkat = uvfs_sys_set("linkat", (void *)rh_linkat);
		assert_non_null(real_openat2);
		assert_non_null(real_renameat);
		assert_non_null(real_unlinkat);
		assert_non_null(real_linkat);
	}
	tc_start(&v->a, v->s);
	v->a_up = true;
	tc_start(&v->b, v->s);
	v->b_up = true;
	tc_version(&v->a, 65536);
	tc_version(&v->b, 65536);
	assert_int_equal(tc_attach(&v->a, 1, 0, NULL), 0);
	assert_int_equal(tc_attach(&v->b, 1, 0, NULL), 0);
	assert_int_equal(tc_walk(&v->a, 1, 2, "a", NULL), 0);
	assert_int_equal(tc_walk(&v->a, 1, 3, "b", NULL), 0);
	assert_int_equal(tc_walk(&v->b, 1, 10, "a/d", NULL), 0);
	assert_int_equal(tc_walk(&v->b, 1, 12, "a/d/f", NULL), 0);
	assert_int_equal(tc_walk(&v->b, 1, 13, "a/d/e", NULL), 0);
}

/* The rename thread stopped, the connections closed, the hooks taken
 * off, the server freed (no path left in its index: -1 if one is) and
 * tmpl removed, as far as each was made. */
static int rnv_teardown(void **state)
{
	struct rnv *v = *state;
	int ret = 0;

	if (!v)
		return 0;
	rh_release();
	if (v->th_up) {
		atomic_store(&v->stop, true);
		pthread_join(v->th, NULL);
	}
	if (v->a_up)
		tc_stop(&v->a);
	if (v->b_up)
		tc_stop(&v->b);
	uvfs_sys_reset();
	if (v->s)
		p9srv_free(v->s);
	if (v->hs) {
		size_t n = hostfs_indexed_paths(v->hs);
		if (n != 0) {
			fprintf(stderr, "rnv_teardown: %zu paths left in "
				"the fid index\n", n);
			ret = -1;
		}
		hostfs_close(v->hs);
	}
	if (v->dir)
		rm_rf(tmpl);
	free(v);
	*state = NULL;
	return ret;
}

/* A's Trenameat(odir, on, ndir, nn): 0 or the error. */
static uint32_t rnv_renameat(struct rnv *v, uint32_t odir, const char *on,
			     uint32_t ndir, const char *nn)
{
	struct p9_msg t = { .type = P9_TRENAMEAT }, r;

	t.trenameat.olddirfid = odir;
	t.trenameat.oldname = p9_str(on);
	t.trenameat.newdirfid = ndir;
	t.trenameat.newname = p9_str(nn);
	return tc_err(&v->a, &t, &r);
}

/* A's rename of d to the other parent: 0 or the error. */
static uint32_t rnv_rename(struct rnv *v)
{
	uint32_t e = rnv_renameat(v, v->there ? 3 : 2, "d",
				  v->there ? 2 : 3, "d");

	if (e == 0)
		v->there = !v->there;
	return e;
}

static void *rnv_rename_main(void *arg)
{
	struct rnv *v = arg;
	uint32_t e = v->held.on ? rnv_renameat(v, v->held.odir, v->held.on,
					       v->held.ndir, v->held.nn)
				: rnv_rename(v);

	return (void *)(uintptr_t)e;
}

/* The inode of tmpl/rel on the host. */
static uint64_t host_ino(const char *rel)
{
	char p[128];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", tmpl, rel);
	assert_int_equal(lstat(p, &st), 0);
	return st.st_ino;
}

static bool host_has(const char *rel)
{
	char p[128];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", tmpl, rel);
	return lstat(p, &st) == 0;
}

/* fid (on B) names the file at rel, as getattr tells. */
static void assert_names(struct rnv *v, uint32_t fid, const char *rel)
{
	struct p9_rgetattr a = { 0 };
	uint64_t ino = host_ino(rel);

	assert_int_equal(tc_getattr(&v->b, fid, &a), 0);
	assert_int_equal(qid_ino(a.qid.path, ino), ino);
}

/* A's rename (v->held's, else d to the other parent) is started and held
 * after the host's rename until a resolution of fail_path fails (or, with
 * any, is made at all); the caller then sends B's request and joins the
 * rename (rnv_held_join). */
static void rnv_hold(struct rnv *v, const char *fail_path, bool any)
{
	pthread_mutex_lock(&rh_mu);
	strcpy(rh.fail_path, fail_path);
	rh.fail_any = any;
	rh.held = rh.failed = false;    /* (a hold before this one) */
	rh.armed = true;
	pthread_mutex_unlock(&rh_mu);
	assert_int_equal(pthread_create(&v->th, NULL, rnv_rename_main, v), 0);
	v->th_up = true;
	assert_true(rh_wait(&rh.held, 5000));
}

static void rnv_held_start(struct rnv *v, const char *fail_path)
{
	v->held.on = NULL;
	rnv_hold(v, fail_path, false);
}

static void rnv_held_join(struct rnv *v)
{
	void *ret;

	pthread_join(v->th, &ret);
	v->th_up = false;
	assert_int_equal((uintptr_t)ret, 0);
	assert_true(rh_get(&rh.failed));        /* the race did happen */
}

/* B's Twalk(fid, 11, name), held in its resolution of pause_path once
 * that succeeded, while A renames d (the whole rename); the walk's error
 * (EIO: walked in part). */
static uint32_t walk_paused_by_rename(struct rnv *v, uint32_t fid,
				      const char *name, const char *pause_path)
{
	struct p9_msg t = { .type = P9_TWALK, .tag = 7 }, r;

	pthread_mutex_lock(&rh_mu);
	strcpy(rh.pause_path, pause_path);
	rh.paused = rh.go = rh.go_late = false;
	pthread_mutex_unlock(&rh_mu);
	t.twalk.fid = fid;
	t.twalk.newfid = 11;
	t.twalk.nwname = 1;
	t.twalk.wname[0] = p9_str(name);
	tc_send(&v->b, &t);
	assert_true(rh_wait(&rh.paused, 5000));
	assert_int_equal(rnv_rename(v), 0);
	rh_set(&rh.go);
	tc_recv(&v->b, &r);
	assert_false(rh_get(&rh.go_late));      /* the rename ran whole */
	assert_int_equal(r.tag, 7);
	if (r.type == P9_RLERROR)
		return r.rlerror.ecode;
	assert_int_equal(r.type, P9_RWALK);
	return r.rwalk.nwqid == 1 ? 0 : EIO;
}

/* Twalk from d's fid while a rename of d is between the host's rename
 * and the move of the fids: its start, resolved by the old path, is not
 * there; the walk waits for the rename and walks from the new one.  A
 * walk of ".." from d/e paused after it resolved d/e while d is renamed:
 * ".." by the path it copied (b/d) is not there; walked again, it is
 * a/d. */
static void walk_start_races_rename(void **state)
{
	struct rnv *v = *state;

	rnv_start(v, true);
	rnv_held_start(v, "a/d");
	int64_t w = tc_walk(&v->b, 10, 11, "f", NULL);
	rnv_held_join(v);
	assert_int_equal(w, 0);
	assert_names(v, 11, "b/d/f");
	assert_int_equal(tc_clunk(&v->b, 11), 0);
	assert_int_equal(walk_paused_by_rename(v, 13, "..", "b/d/e"), 0);
	assert_names(v, 11, "a/d");
}

/* A walk from d to f paused after it opened f, a rename of d run whole
 * meanwhile: the new fid is at b/d/f, not at a/d/f where f was when
 * walked (and where it would stay: the rename moved the fids it found). */
static void walk_registers_after_rename(void **state)
{
	struct rnv *v = *state;

	rnv_start(v, true);
	assert_int_equal(walk_paused_by_rename(v, 10, "f", "f"), 0);
	assert_names(v, 11, "b/d/f");
}

/* The answer r to request t: 0, or its error. */
static uint32_t answer(const struct p9_msg *r, const struct p9_msg *t)
{
	if (r->type == P9_RLERROR)
		return r->rlerror.ecode;
	assert_int_equal(r->type, t->type + 1);
	return 0;
}

/* B's request t sent while A's rename of d is held after the host's
 * rename (rn_lock written, rn_seq odd): a link or a removal of a fid
 * waits for the rename before its check (its path is from before the
 * rename), so no answer comes while the rename is held (300 ms); then
 * the rename goes on, and the answer, 0 or the error. */
static uint32_t sent_while_rename_held(struct rnv *v, struct p9_msg *t)
{
	struct p9_msg r;

	rnv_held_start(v, "");  /* no resolution releases it: below */
	t->tag = 7;
	tc_send(&v->b, t);
	int early = tc_recv_timeout(&v->b, &r, 300);
	rh_set(&rh.failed);     /* the rename goes on */
	rnv_held_join(v);
	assert_int_equal(early, -1);
	tc_recv(&v->b, &r);
	assert_int_equal(r.tag, 7);
	return answer(&r, t);
}

/* Tlink of d/f and Tremove of it, each sent while a rename of d is held
 * so: each acts on f where the rename put it. */
static void link_remove_race_rename(void **state)
{
	struct rnv *v = *state;
	struct p9_msg t;

	rnv_start(v, true);
	t = (struct p9_msg){ .type = P9_TLINK };
	t.tlink.dfid = 1;
	t.tlink.fid = 12;
	t.tlink.name = P9_STR("l");
	assert_int_equal(sent_while_rename_held(v, &t), 0);
	assert_int_equal(host_ino("l"), host_ino("b/d/f"));

	t = (struct p9_msg){ .type = P9_TREMOVE };
	t.tremove.fid = 12;
	assert_int_equal(sent_while_rename_held(v, &t), 0);
	assert_false(host_has("a/d/f"));        /* d is back in a */
	assert_true(host_has("l"));
}

/* A file made at tmpl/rel (a directory if dir). */
static void host_make(const char *rel, bool dir)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/%s", tmpl, rel);
	if (dir) {
		assert_int_equal(mkdir(p, 0755), 0);
		return;
	}
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	close(fd);
}

/* fid (on B) names the removed file that had inode ino. */
static void assert_names_removed(struct rnv *v, uint32_t fid, uint64_t ino)
{
	struct p9_rgetattr a = { 0 };

	assert_int_equal(tc_getattr(&v->b, fid, &a), 0);
	assert_int_equal(qid_ino(a.qid.path, ino), ino);
	assert_int_equal(a.nlink, 0);
}

/* A rename through the server over the file a fid names (a/d/f over b/t,
 * B's fid at b/t) gives that fid a descriptor of the removed file before
 * it moves the fids.  A request on the fid that resolved b/t meanwhile
 * reached f (ESTALE) and waits for the rename; then it acts on that
 * descriptor, as it would have before the rename: a clone (Twalk with no
 * names) and Tgetattr reach the removed file, a walk of a name from it
 * answers ENOENT (nothing is in a removed directory). */
static void requests_race_rename_over_fid(void **state)
{
	struct rnv *v = *state;

	rnv_start(v, true);
	host_make("b/t", false);
	host_make("b/u", false);
	host_make("b/w", true);
	host_make("a/d/g", false);
	uint64_t t_ino = host_ino("b/t"), u_ino = host_ino("b/u");
	assert_int_equal(tc_walk(&v->a, 1, 4, "a/d", NULL), 0);
	assert_int_equal(tc_walk(&v->b, 1, 14, "b/t", NULL), 0);
	assert_int_equal(tc_walk(&v->b, 1, 15, "b/u", NULL), 0);
	assert_int_equal(tc_walk(&v->b, 1, 16, "b/w", NULL), 0);

	v->held.odir = 4;
	v->held.ndir = 3;
	v->held.on = "f";
	v->held.nn = "t";
	rnv_hold(v, "b/t", true);
	int64_t w = tc_walk(&v->b, 14, 17, "", NULL);
	rnv_held_join(v);
	assert_int_equal(w, 0);
	assert_names_removed(v, 17, t_ino);

	v->held.on = "g";
	v->held.nn = "u";
	rnv_hold(v, "b/u", true);
	struct p9_rgetattr a = { 0 };
	uint32_t e = tc_getattr(&v->b, 15, &a);
	rnv_held_join(v);
	assert_int_equal(e, 0);
	assert_int_equal(qid_ino(a.qid.path, u_ino), u_ino);
	assert_int_equal(a.nlink, 0);

	v->held.on = "e";
	v->held.nn = "w";
	rnv_hold(v, "b/w", true);
	w = tc_walk(&v->b, 16, 18, "x", NULL);
	rnv_held_join(v);
	assert_int_equal(w, ENOENT);
}

/* tmpl/rel made holding text. */
static void host_write(const char *rel, const char *text)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/%s", tmpl, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* tmpl/rel holds text. */
static void assert_host_text(const char *rel, const char *text)
{
	char p[128], buf[64];

	snprintf(p, sizeof(p), "%s/%s", tmpl, rel);
	int fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, text);
}

/* B's request t (a Tremove or Tlink of fid 14, at b/x, or a Tunlinkat
 * of x in b) held after its check that b/x is still the fid's file (for
 * Tunlinkat: after it took x's descriptor for the fids at b/x), before
 * it acts (act_name: the
 * name its unlinkat removes or its linkat makes); A's Trenameat of b/y
 * over b/x sent meanwhile, from a thread.  The rename must not run
 * between the check and the act: it waits for the request, which acts
 * on the fid's own file.  The rename is given 500 ms to reach the host
 * (a rename that does has replaced b/x under the request: *renamed),
 * then the request goes on; B's answer. */
static uint32_t act_held_rename_over(struct rnv *v, struct p9_msg *t,
				     const char *act_name, bool *renamed)
{
	struct p9_msg r;

	pthread_mutex_lock(&rh_mu);
	strcpy(rh.act_name, act_name);
	rh.acting = rh.act_go = rh.act_late = rh.renamed = false;
	pthread_mutex_unlock(&rh_mu);
	t->tag = 7;
	tc_send(&v->b, t);
	assert_true(rh_wait(&rh.acting, 5000));
	v->held.odir = 3;
	v->held.ndir = 3;
	v->held.on = "y";
	v->held.nn = "x";
	assert_int_equal(pthread_create(&v->th, NULL, rnv_rename_main, v), 0);
	v->th_up = true;
	*renamed = rh_wait(&rh.renamed, 500);
	rh_set(&rh.act_go);
	tc_recv(&v->b, &r);
	assert_int_equal(r.tag, 7);
	void *ret;
	pthread_join(v->th, &ret);
	v->th_up = false;
	assert_int_equal((uintptr_t)ret, 0);
	assert_false(rh_get(&rh.act_late));
	/* y's file is at x, whatever came first */
	assert_true(host_has("b/x"));
	assert_host_text("b/x", "y");
	assert_false(host_has("b/y"));
	assert_names(v, 15, "b/x");
	return answer(&r, t);
}

/* The start of the tests below: b/x holding "x", b/y holding "y", and
 * B's fids 14 at b/x and 15 at b/y. */
static void xy_start(struct rnv *v)
{
	rnv_start(v, true);
	host_write("b/x", "x");
	host_write("b/y", "y");
	assert_int_equal(tc_walk(&v->b, 1, 14, "b/x", NULL), 0);
	assert_int_equal(tc_walk(&v->b, 1, 15, "b/y", NULL), 0);
}

/* Tremove of b/x (fid 14) while a rename of b/y over b/x comes between
 * its check and its unlinkat: x's file is removed and y's is at x, as if
 * the rename came after.  (Before the removals took rn_lock, the rename
 * ran in between and the removal unlinked y's file from x: y's data
 * lost, x's file left whole with no name.) */
static void remove_race_rename_over(void **state)
{
	struct rnv *v = *state;

	xy_start(v);
	struct p9_msg t = { .type = P9_TREMOVE };
	t.tremove.fid = 14;
	bool renamed;
	assert_int_equal(act_held_rename_over(v, &t, "x", &renamed), 0);
	assert_false(renamed);          /* it waited for the removal */
}

/* Tlink of b/x (fid 14) to l while a rename of b/y over b/x comes
 * between its check and its linkat: l is x's file (the fid's), not y's
 * that the rename put at x. */
static void link_race_rename_over(void **state)
{
	struct rnv *v = *state;

	xy_start(v);
	uint64_t x_ino = host_ino("b/x");
	struct p9_msg t = { .type = P9_TLINK };
	t.tlink.dfid = 1;
	t.tlink.fid = 14;
	t.tlink.name = P9_STR("l");
	bool renamed;
	assert_int_equal(act_held_rename_over(v, &t, "l", &renamed), 0);
	assert_int_equal(host_ino("l"), x_ino);
	assert_host_text("l", "x");
	assert_false(renamed);          /* it waited for the link */
}

/* Tunlinkat of x in b while a rename of b/y over b/x comes between the
 * descriptor it takes for x's fids and its unlinkat: x's file is
 * removed and y's is at x, its fid (15) naming it there, as if the
 * rename came after.  (Before Tunlinkat read rn_lock, the rename ran in
 * between and the unlinkat removed y's file from x: fid 15, moved to
 * b/x, named nothing.) */
static void unlinkat_race_rename_over(void **state)
{
	struct rnv *v = *state;

	xy_start(v);
	assert_int_equal(tc_walk(&v->b, 1, 16, "b", NULL), 0);
	struct p9_msg t = { .type = P9_TUNLINKAT };
	t.tunlinkat.dirfid = 16;
	t.tunlinkat.name = P9_STR("x");
	bool renamed;
	assert_int_equal(act_held_rename_over(v, &t, "x", &renamed), 0);
	assert_false(renamed);          /* it waited for the removal */
}

/* The same races as they come: A renames d back and forth without pause
 * while B walks from d's fid to f and from d/e's to "..", and stats what
 * each walk made.  Every walk and every stat should succeed. */
static void *rename_loop_main(void *arg)
{
	struct rnv *v = arg;

	while (!atomic_load(&v->stop) && (v->loop_err = rnv_rename(v)) == 0)
		v->renames++;
	return NULL;
}

static void walks_race_renames(void **state)
{
	struct rnv *v = *state;
	unsigned long walk_failed = 0, stat_failed = 0, clunk_failed = 0;
	const char *env = getenv("UVFS_P9SERVER_RACE_WALKS");
	unsigned long n = env ? strtoul(env, NULL, 10) : 4000;

	rnv_start(v, false);
	assert_int_equal(pthread_create(&v->th, NULL, rename_loop_main, v), 0);
	v->th_up = true;
	for (unsigned long i = 0; i < n; i++) {
		uint32_t from = i % 2 ? 13 : 10;
		int64_t w = tc_walk(&v->b, from, 11, i % 2 ? ".." : "f", NULL);
		if (w != 0) {
			walk_failed++;
			continue;
		}
		if (tc_getattr(&v->b, 11, NULL) != 0)
			stat_failed++;
		if (tc_clunk(&v->b, 11) != 0)
			clunk_failed++;
	}
	atomic_store(&v->stop, true);
	pthread_join(v->th, NULL);
	v->th_up = false;
	printf("walks_race_renames: %lu walks, %lu renames: %lu walks "
	       "failed, %lu stats of a walked fid failed, %lu clunks "
	       "failed\n", n, v->renames, walk_failed, stat_failed,
	       clunk_failed);
	assert_int_equal(v->loop_err, 0);
	assert_int_equal(walk_failed, 0);
	assert_int_equal(stat_failed, 0);
	assert_int_equal(clunk_failed, 0);
}
