/*
 * test_umount_parent.c - unmounting, suspending, resuming, the holders
 * and the realpath of a mount that sits inside a mount that cannot
 * answer: one that is suspended, or whose driver hangs in every lookup
 * (and ignores the cancel, as a hung server does).  The parent is
 * memfs without a name cache (ncfs), as 9P and NFS are: every name walked
 * through it asks the driver, behind its gate.  A forced unmount of the
 * child must return at once all the same; the child is gone, its files
 * dead, and the parent resumes as before.
 * Included by test_umount.c (it uses that file's fixture, counters and
 * helpers); not a program of its own.
 */

/* ---- a parent that cannot answer --------------------------------------- */

static struct uvfs_fstype_ops ncfs_ops;
static atomic_int ncfs_hang;            /* lookups wait while set */
static atomic_int ncfs_hung;            /* lookups waiting now */

static int ncfs_lookup(struct uvfs_sb *sb, void *dir, const char *name,
		       struct uvfs_ident *id)
{
	if (atomic_load(&ncfs_hang)) {
		atomic_fetch_add(&ncfs_hung, 1);
		while (atomic_load(&ncfs_hang))    /* a hung server: no */
			sleep_ms(2);               /* cancel ends it */
		atomic_fetch_sub(&ncfs_hung, 1);
	}
	return uvfs_memfs_ops.lookup(sb, dir, name, id);
}

static void ncfs_register(void)
{
	ncfs_ops = uvfs_memfs_ops;
	ncfs_ops.name = "ncfs";
	ncfs_ops.flags |= UVFS_FS_NO_NAMECACHE;
	ncfs_ops.lookup = ncfs_lookup;
	atomic_store(&ncfs_hang, 0);
	atomic_store(&ncfs_hung, 0);
	OK(uvfs_fstype_register(U, &ncfs_ops));
}

/* An administrative call on a thread, so that one that waits fails the
 * test rather than hanging it. */
enum admin_call {
	A_FORCE, A_UMOUNT, A_SUSPEND, A_RESUME, A_HOLDERS, A_REALPATH, A_REVOKE
};

struct bg_admin {
	pthread_t thread;
	struct uvfs_ctx *ctx;
	enum admin_call call;
	const char *target;
	uint64_t id;            /* named by this id instead, if not 0 */
	atomic_int done;
	int result;
	char name[256];         /* A_REALPATH's answer */
};

static void *bg_admin_main(void *arg)
{
	struct bg_admin *b = arg;
	struct uvfs_holder *h = NULL;
	size_t n = 0;

	switch (b->call) {
	case A_FORCE:
		b->result = b->id ? uvfs_umount_id(b->ctx, b->id,
						   UVFS_UMOUNT_FORCE) :
			    uvfs_umount(b->ctx, b->target, UVFS_UMOUNT_FORCE);
		break;
	case A_UMOUNT:
		b->result = b->id ? uvfs_umount_id(b->ctx, b->id, 0) :
			    uvfs_umount(b->ctx, b->target, 0);
		break;
	case A_SUSPEND:
		b->result = b->id ? uvfs_suspend_id(b->ctx, b->id) :
			    uvfs_suspend(b->ctx, b->target);
		break;
	case A_RESUME:
		b->result = b->id ? uvfs_resume_id(b->ctx, b->id) :
			    uvfs_resume(b->ctx, b->target);
		break;
	case A_HOLDERS:
		b->result = b->id ? uvfs_holders_id(b->ctx, b->id, &h, &n) :
			    uvfs_holders(b->ctx, b->target, &h, &n);
		if (b->result == 0)
			b->result = (int)n;
		free(h);
		break;
	case A_REVOKE:
		b->result = uvfs_revoke(b->ctx, b->target);
		break;
	case A_REALPATH:
		b->result = uvfs_realpath(b->ctx, b->target, b->name,
					  sizeof(b->name));
		if (b->result > 0 && strcmp(b->name, "/mnt/x/a/c") != 0)
			b->result = -EINVAL;    /* the wrong name */
		break;
	}
	atomic_store(&b->done, 1);
	return NULL;
}

/* Runs the call, waits up to ms for it.  If it has not returned by then,
 * unblock() lets it go (the parent resumed, the driver let go), and the
 * test fails once it has. */
static int admin_bounded_as(struct uvfs_ctx *c, enum admin_call call,
			    const char *target, uint64_t id, int ms,
			    void (*unblock)(void))
{
	static const char *const names[] = {
		"forced unmount", "unmount", "suspend", "resume", "holders",
		"realpath", "revoke",
	};
	struct bg_admin b = { .ctx = c, .call = call, .target = target,
			      .id = id };
	double t0 = now_ms(), end = t0 + ms;

	assert_int_equal(pthread_create(&b.thread, NULL, bg_admin_main, &b),
			 0);
	while (!atomic_load(&b.done) && now_ms() < end)
		sleep_ms(2);
	bool answered = atomic_load(&b.done);
	double dt = now_ms() - t0;
	if (!answered)
		unblock();
	pthread_join(b.thread, NULL);
	printf("    %s of %s: %s in %.1f ms\n", names[call], target,
	       errname(b.result), dt);
	if (!answered)
		fail_msg("the %s of %s waited for the parent", names[call],
			 target);
	return b.result;
}

static int admin_bounded(struct uvfs_ctx *c, enum admin_call call,
			 const char *target, int ms, void (*unblock)(void))
{
	return admin_bounded_as(c, call, target, 0, ms, unblock);
}

/* The same, naming the mount by its id (test_umount_id.c). */
static int admin_bounded_id(struct uvfs_ctx *c, enum admin_call call,
			    uint64_t id, int ms, void (*unblock)(void))
{
	char name[32];

	snprintf(name, sizeof(name), "id %llu", (unsigned long long)id);
	return admin_bounded_as(c, call, name, id, ms, unblock);
}

static void resume_parent(void)
{
	uvfs_resume(R, "/mnt/x");
}

static void unhang_parent(void)
{
	atomic_store(&ncfs_hang, 0);
}

/* /mnt/x: ncfs; /mnt/x/a/c: memfs with a file f, open at *fd. */
static void parent_and_child(int *fd)
{
	ncfs_register();
	OK(uvfs_mount(R, "ncfs", "none", "/mnt/x", ""));
	OK(uvfs_mkdir(R, "/mnt/x/a", 0755));
	OK(uvfs_mkdir(R, "/mnt/x/a/c", 0755));
	mount_x("/mnt/x/a/c", NULL);
	put(R, "/mnt/x/a/c/f", "child");
	*fd = (int)OK(uvfs_open(R, "/mnt/x/a/c/f", O_RDONLY, 0));
}

/* After a forced unmount of the child: its file is dead, the name shows
 * what it covered, and the parent unmounts. */
static void child_gone(int fd, uint64_t live)
{
	char buf[8];
	struct stat st;

	assert_false(mounted("/mnt/x/a/c", NULL));
	ERR(uvfs_read(R, fd, buf, sizeof(buf)), EIO);
	ERR(uvfs_fstat(R, fd, &st), EIO);
	OK(uvfs_close(R, fd));
	OK(uvfs_stat(R, "/mnt/x/a/c", &st));
	assert_true(S_ISDIR(st.st_mode));
	ERR(uvfs_stat(R, "/mnt/x/a/c/f", &st), ENOENT);
	OK(uvfs_umount(R, "/mnt/x", 0));
	assert_only_root(live);
}

/* Suspended parent: the forced unmount of the child returns at once, by
 * an absolute path, and the parent resumes afterwards. */
static void test_force_child_of_suspended(void **state)
{
	uint64_t live;
	int fd;

	(void)state;
	live = live_vnodes();
	parent_and_child(&fd);
	OK(uvfs_suspend(R, "/mnt/x"));
	OK(admin_bounded(R, A_FORCE, "/mnt/x/a/c", 1000, resume_parent));
	OK(uvfs_resume(R, "/mnt/x"));
	child_gone(fd, live);
}

/* The other calls on the child of a suspended parent, each by another
 * spelling of its name: a normal unmount that would answer EBUSY answers
 * it, holders lists the open file, suspend and resume work; a chdir'ed
 * context names it relatively, a chroot'ed one from its root. */
static void test_admin_child_of_suspended(void **state)
{
	struct uvfs_ctx *c;
	uint64_t live;
	int fd;

	(void)state;
	live = live_vnodes();
	parent_and_child(&fd);
	c = new_ctx("admin");
	OK(uvfs_chdir(c, "/mnt/x"));
	OK(uvfs_suspend(R, "/mnt/x"));
	assert_int_equal(admin_bounded(R, A_UMOUNT, "/mnt/x/a/c", 1000,
				       resume_parent), -EBUSY);
	assert_int_equal(admin_bounded(R, A_HOLDERS, "//mnt/x/a//c/", 1000,
				       resume_parent), 1);
	assert_int_equal(admin_bounded(R, A_REALPATH, "/mnt/x/a//c/", 1000,
				       resume_parent), 10);
	OK(admin_bounded(c, A_SUSPEND, "a/c", 1000, resume_parent));
	assert_int_equal(admin_bounded(c, A_SUSPEND, "a/c/", 1000,
				       resume_parent), -EALREADY);
	OK(admin_bounded(R, A_RESUME, "/mnt/x/a/c", 1000, resume_parent));
	OK(uvfs_resume(R, "/mnt/x"));
	/* its other names are walked, as before: "..", a symbolic link */
	ERR(uvfs_umount(R, "/mnt/x/a/c/..", 0), EINVAL);
	ERR(uvfs_umount(R, "/mnt/x/a/c/.", 0), EBUSY);
	OK(uvfs_symlink(R, "x/a/c", "/mnt/l"));
	ERR(uvfs_umount(R, "/mnt/l", 0), EBUSY);
	ERR(uvfs_umount(R, "/mnt/l/..", UVFS_UMOUNT_FORCE), EINVAL);
	OK(uvfs_unlink(R, "/mnt/l"));
	/* a context whose root is the parent's: "/a/c" there */
	OK(uvfs_chroot(c, "/mnt/x"));
	OK(uvfs_suspend(R, "/mnt/x"));
	OK(admin_bounded(c, A_FORCE, "/a/c", 1000, resume_parent));
	OK(uvfs_resume(R, "/mnt/x"));
	free_ctx(c);
	child_gone(fd, live);
}

/* A parent whose driver hangs in every lookup (and ignores the cancel):
 * the forced unmount of the child does not call it. */
static void test_force_child_of_hung(void **state)
{
	uint64_t live;
	double end;
	int fd;

	(void)state;
	live = live_vnodes();
	parent_and_child(&fd);
	atomic_store(&ncfs_hang, 1);
	OK(admin_bounded(R, A_FORCE, "/mnt/x/a/c", 1000, unhang_parent));
	assert_int_equal(atomic_load(&ncfs_hung), 0);
	atomic_store(&ncfs_hang, 0);
	for (end = now_ms() + 2000;
	     atomic_load(&ncfs_hung) && now_ms() < end;)
		sleep_ms(2);
	child_gone(fd, live);
}

/* A rename of a directory above a mount point moves the mount's name:
 * the old name no longer names the mount (another directory there now),
 * the new one does, also while the parent is suspended; the mount list
 * shows the new one.  So do renames of the parent's own mount point's
 * directory above, in the root file system. */
static void test_force_child_after_rename(void **state)
{
	uint64_t live;
	int fd;

	(void)state;
	live = live_vnodes();
	parent_and_child(&fd);
	OK(uvfs_rename(R, "/mnt/x/a", "/mnt/x/b", 0));
	assert_true(mounted("/mnt/x/b/c", NULL));
	assert_false(mounted("/mnt/x/a/c", NULL));
	OK(uvfs_mkdir(R, "/mnt/x/a", 0755));
	OK(uvfs_mkdir(R, "/mnt/x/a/c", 0755));
	ERR(uvfs_umount(R, "/mnt/x/a/c", UVFS_UMOUNT_FORCE), EINVAL);
	OK(uvfs_suspend(R, "/mnt/x"));
	assert_int_equal(admin_bounded(R, A_UMOUNT, "/mnt/x/b/c", 1000,
				       resume_parent), -EBUSY);
	OK(uvfs_resume(R, "/mnt/x"));
	OK(uvfs_rmdir(R, "/mnt/x/a/c"));
	OK(uvfs_rmdir(R, "/mnt/x/a"));
	OK(uvfs_rename(R, "/mnt/x/b", "/mnt/x/a", 0));
	OK(uvfs_rename(R, "/mnt", "/m2", 0));
	assert_true(mounted("/m2/x/a/c", NULL));
	assert_true(mounted("/m2/x", NULL));
	OK(uvfs_rename(R, "/m2", "/mnt", 0));
	assert_true(mounted("/mnt/x/a/c", NULL));
	OK(uvfs_suspend(R, "/mnt/x"));
	OK(admin_bounded(R, A_FORCE, "/mnt/x/a/c", 1000, resume_parent));
	OK(uvfs_resume(R, "/mnt/x"));
	child_gone(fd, live);
}

/* A revoke of a file in a suspended mount waits for the resume (its
 * unload would call the driver), also by a root context, whose walk the
 * name cache answers; a forced unmount of the mount ends the wait. */
static void test_revoke_waits_suspended(void **state)
{
	struct bg_admin b = { .ctx = R, .call = A_REVOKE,
			      .target = "/mnt/x/f" };
	uint64_t live;
	double end;

	(void)state;
	live = live_vnodes();
	mount_x("/mnt/x", NULL);
	put(R, "/mnt/x/f", "x");
	OK(uvfs_suspend(R, "/mnt/x"));
	assert_int_equal(pthread_create(&b.thread, NULL, bg_admin_main, &b),
			 0);
	sleep_ms(200);
	bool waited = !atomic_load(&b.done);
	OK(admin_bounded(R, A_FORCE, "/mnt/x", 1000, resume_parent));
	for (end = now_ms() + 2000; !atomic_load(&b.done) && now_ms() < end;)
		sleep_ms(2);
	bool ended = atomic_load(&b.done);
	if (!ended)
		uvfs_resume(R, "/mnt/x");
	pthread_join(b.thread, NULL);
	printf("    the revoke %s, then got %s\n",
	       waited ? "waited" : "did not wait", errname(b.result));
	assert_true(waited);
	assert_true(ended);
	assert_int_equal(b.result, -EIO);
	assert_only_root(live);
}
