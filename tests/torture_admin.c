/*
 * torture_admin.c - the admin thread: mounts fresh instances of the type
 * under test and unmounts them (normal, forced, lazy), revokes and
 * suspends under the workers.
 * Included by torture.c (it uses that file's operation table, counters
 * and randomness); not a program of its own.
 */

/* ---- the admin thread -------------------------------------------------- */

struct admin {
	pthread_t thread;
	struct uvfs_ctx *ctx;
	uint64_t rng;
	bool mounted[NMOUNTS];
	struct counts c;
	_Atomic(const char *) doing;
};

static struct admin admin;

/* Mounts a fresh instance of the type under test on t. */
static int mount_one(struct uvfs_ctx *ctx, const char *t, bool deadline)
{
	char src[PATH_MAX + 16], opts[PATH_MAX + 64];

	if (strcmp(fs_type, "hostfs") != 0 && strcmp(fs_type, "nfs") != 0)
		return uvfs_mount(ctx, fs_type, "none", t,
				  deadline ? "deadline=200" : "");
	/* each mount exports a directory of its own */
	snprintf(src, sizeof(src), "%s/%u", host_dir, host_seq);
	if (mkdir(src, 0755) != 0)
		return -errno;
	if (strcmp(fs_type, "nfs") == 0) {
		/* the same directory through the server; a drain waits for
		 * calls in flight, which ganesha answers in up to a second
		 * (a RENAME: 1000 ms at times), so the short deadline is 1 s
		 * here (revoke kills the superblock past it, suspend gives up
		 * past ten) */
		snprintf(src, sizeof(src), "%s/torture/%u",
			 getenv("UVFS_NFS_SOURCE"), host_seq++);
		return uvfs_mount(ctx, "nfs", src, t,
				  deadline ? "deadline=1000" : "");
	}
	host_seq++;
	snprintf(opts, sizeof(opts), "server=%s%s", getenv("UVFS_HOSTFS"),
		 deadline ? ",deadline=200" : "");
	return uvfs_mount(ctx, "hostfs", src, t, opts);
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void admin_step(struct admin *a)
{
	unsigned m = rnd(&a->rng, NMOUNTS);
	char t[16], p[128];
	long r;

	snprintf(t, sizeof(t), "/m%u", m);
	if (!a->mounted[m]) {
		atomic_store(&a->doing, "mount");
		r = check(&a->c, -1, OP_MOUNT,
			  mount_one(a->ctx, t, rnd(&a->rng, 2)), ok_none, t);
		if (r == 0)
			a->mounted[m] = true;
		return;
	}
	switch (rnd(&a->rng, 8)) {
	case 0: case 1:
		atomic_store(&a->doing, "umount");
		r = check(&a->c, -1, OP_UMOUNT, uvfs_umount(a->ctx, t, 0),
			  ok_umount, t);
		if (r == 0)
			a->mounted[m] = false;
		break;
	case 2:
		atomic_store(&a->doing, "umount force");
		r = check(&a->c, -1, OP_UMOUNT_FORCE,
			  uvfs_umount(a->ctx, t, UVFS_UMOUNT_FORCE), ok_none,
			  t);
		if (r == 0)
			a->mounted[m] = false;
		break;
	case 3:
		atomic_store(&a->doing, "umount detach");
		r = check(&a->c, -1, OP_UMOUNT_DETACH,
			  uvfs_umount(a->ctx, t, UVFS_UMOUNT_DETACH), ok_none,
			  t);
		if (r == 0)
			a->mounted[m] = false;
		break;
	case 4: case 5: case 6:
		rnd_path(&a->rng, p, sizeof(p), 'f');
		p[2] = t[2];
		atomic_store(&a->doing, "revoke");
		check(&a->c, -1, OP_REVOKE, uvfs_revoke(a->ctx, p), ok_revoke,
		      p);
		break;
	case 7:
		atomic_store(&a->doing, "suspend");
		r = check(&a->c, -1, OP_SUSPEND, uvfs_suspend(a->ctx, t),
			  ok_none, t);
		if (r == 0) {
			sleep_us(rnd(&a->rng, 2000));
			atomic_store(&a->doing, "resume");
			check(&a->c, -1, OP_RESUME, uvfs_resume(a->ctx, t),
			      ok_none, t);
		}
		break;
	}
}

static void *admin_main(void *arg)
{
	struct admin *a = arg;

	/* an NFS mount is a MOUNT call and a connection, which the server
	 * closes lazily: at the others' pace (80 mounts a second) ganesha
	 * ran near its limit of open descriptors, and a call waited past
	 * its deadline for a connection */
	unsigned pace = strcmp(fs_type, "nfs") == 0 ? 5 : 1;

	while (!atomic_load(&stop)) {
		admin_step(a);
		atomic_store(&a->doing, "sleeping");
		sleep_us(pace * (200 + rnd(&a->rng, 3000)));
	}
	atomic_store(&a->doing, "done");
	atomic_fetch_sub(&running, 1);
	return NULL;
}
