/*
 * test_umount_id.c - naming a mount by its id (uvfs_umount_id,
 * uvfs_suspend_id, uvfs_resume_id, uvfs_holders_id; uvfs_mount_id_of,
 * the id a path names in the table).  A suspended mount
 * covered by a later mount on the same path, which no path names any
 * more: resumed by its id (a caller waiting at its gate carries on),
 * suspended again and force-unmounted by its id (the waiter gets EIO).
 * The child of a suspended or hung parent, named by its id: no call
 * waits for the parent.  Ids that name nothing (never used, a mount that
 * is gone: never a later one), and the permissions (those of a path).
 * Included by test_umount.c (it uses that file's fixture and helpers, and
 * test_umount_parent.c's parent); not a program of its own.
 */

/* The id of the newest mount listed at target (0: none). */
static uint64_t newest_id(const char *target)
{
	struct uvfs_mount_info *mi = NULL;
	size_t n = 0;
	uint64_t id = 0;

	OK(uvfs_mount_list(U, &mi, &n));
	for (size_t i = 0; i < n; i++)
		if (strcmp(mi[i].target, target) == 0 && mi[i].id > id)
			id = mi[i].id;
	free(mi);
	return id;
}

/* Is a mount with this id listed? */
static bool id_listed(uint64_t id)
{
	struct uvfs_mount_info *mi = NULL;
	size_t n = 0;
	bool found = false;

	OK(uvfs_mount_list(U, &mi, &n));
	for (size_t i = 0; i < n; i++)
		found |= mi[i].id == id;
	free(mi);
	return found;
}

static uint64_t covered_id;     /* resume_covered's mount */

static void resume_covered(void)
{
	uvfs_resume_id(R, covered_id);
}

/* A at /mnt/x, suspended with a file open; B mounted on /mnt/x after
 * (on A's root, as Linux does): the path names B from then on.  A is
 * resumed, listed, suspended and force-unmounted by its id, with a caller
 * waiting at its gate each time. */
static void test_id_covered_suspended(void **state)
{
	struct bg_stat bs = { 0 };
	struct uvfs_holder *h;
	struct uvfs_ctx *c;
	uint64_t live, a, b;
	size_t n;
	double t0, dt;
	int fd;

	(void)state;
	live = live_vnodes();
	mount_x("/mnt/x", NULL);
	put(R, "/mnt/x/f", "a");
	a = newest_id("/mnt/x");
	c = new_ctx("waiter");
	fd = (int)OK(uvfs_open(c, "/mnt/x/f", O_RDONLY, 0));
	OK(uvfs_suspend(R, "/mnt/x"));
	mount_x("/mnt/x", NULL);
	b = newest_id("/mnt/x");
	printf("    A id %llu (suspended), B id %llu on top\n",
	       (unsigned long long)a, (unsigned long long)b);
	assert_true(b > a);
	/* the path names B now: A is out of its reach */
	ERR(uvfs_resume(R, "/mnt/x"), EINVAL);
	covered_id = a;

	/* resumed by its id: the waiter carries on */
	bs.fd = fd;
	bg_start(&bs, c, NULL);
	sleep_ms(100);
	assert_false(atomic_load(&bs.done));
	OK(admin_bounded_id(R, A_RESUME, a, 1000, resume_covered));
	bg_wait(&bs, 2000);
	assert_int_equal(bs.result, 0);
	assert_int_equal(admin_bounded_id(R, A_RESUME, a, 1000,
					  resume_covered), -EINVAL);

	/* its holders, by its id: the open file and B */
	n = 0;
	OK(uvfs_holders_id(R, a, &h, &n));
	assert_non_null(find_holder(h, n, UVFS_HOLDER_FILE, "/mnt/x/f"));
	assert_non_null(find_holder(h, n, UVFS_HOLDER_CHILD, "/mnt/x"));
	free(h);
	ERR(uvfs_umount_id(R, a, 0), EBUSY);

	/* suspended by its id; a forced unmount by its id wakes the waiter
	 * to EIO, and takes B (on A's root) with it */
	OK(admin_bounded_id(R, A_SUSPEND, a, 1000, resume_covered));
	assert_int_equal(admin_bounded_id(R, A_SUSPEND, a, 1000,
					  resume_covered), -EALREADY);
	bg_start(&bs, c, NULL);
	sleep_ms(100);
	assert_false(atomic_load(&bs.done));
	t0 = now_ms();
	OK(admin_bounded_id(R, A_FORCE, a, 1000, resume_covered));
	dt = now_ms() - t0;
	bg_wait(&bs, 2000);
	printf("    forced unmount by id: %.1f ms; the waiter got %s\n", dt,
	       errname(bs.result));
	assert_int_equal(bs.result, -EIO);
	assert_false(id_listed(a));
	assert_false(id_listed(b));
	assert_false(mounted("/mnt/x", NULL));
	OK(uvfs_close(c, fd));
	ASSERT_CONTENT(R, "/mnt/x/under", "covered");

	/* a stale id never names a later mount */
	mount_x("/mnt/x", NULL);
	uint64_t d = newest_id("/mnt/x");
	assert_true(d > b);
	ERR(uvfs_umount_id(R, a, UVFS_UMOUNT_FORCE), ENOENT);
	ERR(uvfs_umount_id(R, b, 0), ENOENT);
	ERR(uvfs_suspend_id(R, a), ENOENT);
	ERR(uvfs_resume_id(R, b), ENOENT);
	ERR(uvfs_holders_id(R, a, &h, &n), ENOENT);
	assert_true(id_listed(d));
	OK(uvfs_umount_id(R, d, 0));
	assert_false(mounted("/mnt/x", NULL));
	free_ctx(c);
	assert_only_root(live);
}

/* Ids that name nothing, bad input, and the permissions: a path's. */
static void test_id_errors(void **state)
{
	struct uvfs_cred user = { .uid = 1000, .gid = 1000 };
	struct uvfs_holder *h = NULL;
	struct uvfs_ctx *c = NULL, *j;
	uint64_t live, x, y;
	size_t n = 0;

	(void)state;
	live = live_vnodes();
	ERR(uvfs_umount_id(R, 0, 0), ENOENT);
	ERR(uvfs_resume_id(R, UINT64_MAX), ENOENT);
	ERR(uvfs_suspend_id(R, 12345), ENOENT);
	ERR(uvfs_holders_id(R, 12345, &h, &n), ENOENT);
	ERR(uvfs_holders_id(R, 1, NULL, &n), EINVAL);
	/* the namespace root: as by "/" */
	x = newest_id("/");
	assert_true(x != 0);
	ERR(uvfs_umount_id(R, x, UVFS_UMOUNT_FORCE), EBUSY);

	mount_x("/mnt/x", NULL);
	x = newest_id("/mnt/x");
	OK(uvfs_mkdir(R, "/mnt/x/y", 0755));
	mount_x("/mnt/x/y", NULL);
	y = newest_id("/mnt/x/y");
	ERR(uvfs_umount_id(R, x, 7), EINVAL);

	/* a path the table names: the topmost mount there, without a walk;
	 * what only a walk could name: -ENOENT */
	uint64_t got = 0;
	OK(uvfs_mount_id_of(R, "/mnt/x/y", &got));
	assert_true(got == y);
	OK(uvfs_mount_id_of(R, "//mnt/x//y/", &got));
	assert_true(got == y);
	OK(uvfs_mount_id_of(R, "/mnt/x", &got));
	assert_true(got == x);
	ERR(uvfs_mount_id_of(R, "/mnt/x/../x/y", &got), ENOENT);
	ERR(uvfs_mount_id_of(R, "/mnt/x/d0", &got), ENOENT);
	ERR(uvfs_mount_id_of(R, "/mnt/x/y", NULL), EINVAL);

	/* not root: as uvfs_umount (holders too: no walk checks search
	 * permissions) */
	OK(uvfs_ctx_new(U, &user, &c));
	ERR(uvfs_umount_id(c, y, UVFS_UMOUNT_FORCE), EPERM);
	ERR(uvfs_suspend_id(c, y), EPERM);
	ERR(uvfs_resume_id(c, y), EPERM);
	ERR(uvfs_holders_id(c, y, &h, &n), EPERM);
	ERR(uvfs_mount_id_of(c, "/mnt/x/y", &got), ENOENT);
	uvfs_ctx_free(c);

	/* chrooted to a mount's root: that mount and those below it */
	j = new_ctx("jail");
	OK(uvfs_chroot(j, "/mnt/x/y"));
	ERR(uvfs_umount_id(j, x, UVFS_UMOUNT_FORCE), ENOENT);
	ERR(uvfs_suspend_id(j, x), ENOENT);
	OK(uvfs_holders_id(j, y, &h, &n));
	free(h);
	ERR(uvfs_umount_id(j, y, 0), EBUSY);        /* its root holds it */
	/* chrooted elsewhere: none */
	free_ctx(j);
	j = new_ctx("jail2");
	OK(uvfs_mkdir(R, "/mnt/x/d", 0755));
	OK(uvfs_chroot(j, "/mnt/x/d"));
	ERR(uvfs_umount_id(j, y, UVFS_UMOUNT_FORCE), EPERM);
	free_ctx(j);

	OK(uvfs_umount_id(R, y, 0));
	ERR(uvfs_umount_id(R, y, 0), ENOENT);
	OK(uvfs_umount_id(R, x, UVFS_UMOUNT_FORCE));
	assert_only_root(live);
}

/* The child of a suspended parent, and of a hung one, by its id: each
 * call answers at once (no walk through the parent). */
static void test_id_child_of_suspended_or_hung(void **state)
{
	uint64_t live, id;
	int fd;

	(void)state;
	live = live_vnodes();
	parent_and_child(&fd);
	id = newest_id("/mnt/x/a/c");
	OK(uvfs_suspend(R, "/mnt/x"));
	assert_int_equal(admin_bounded_id(R, A_UMOUNT, id, 1000,
					  resume_parent), -EBUSY);
	assert_int_equal(admin_bounded_id(R, A_HOLDERS, id, 1000,
					  resume_parent), 1);
	OK(admin_bounded_id(R, A_SUSPEND, id, 1000, resume_parent));
	OK(admin_bounded_id(R, A_RESUME, id, 1000, resume_parent));
	OK(uvfs_resume(R, "/mnt/x"));

	atomic_store(&ncfs_hang, 1);
	assert_int_equal(admin_bounded_id(R, A_UMOUNT, id, 1000,
					  unhang_parent), -EBUSY);
	assert_int_equal(admin_bounded_id(R, A_HOLDERS, id, 1000,
					  unhang_parent), 1);
	OK(admin_bounded_id(R, A_SUSPEND, id, 1000, unhang_parent));
	OK(admin_bounded_id(R, A_RESUME, id, 1000, unhang_parent));
	OK(admin_bounded_id(R, A_FORCE, id, 1000, unhang_parent));
	assert_int_equal(atomic_load(&ncfs_hung), 0);
	atomic_store(&ncfs_hang, 0);
	child_gone(fd, live);
}
