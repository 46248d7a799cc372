/*
 * test_recovery_fids.c - fids and names across restarts: with fids=16
 * and 300 files remembered, at most 16 node fids and every file still
 * answers (across a restart and a rename above them); a file open at the
 * bottom of a tree deeper than PATH_MAX, one open by a name removed
 * since, and files open below a directory renamed before it, go on
 * across a kill.
 * Included by test_recovery.c; not a program of its own.
 */

/* Fids are a cache: with fids=16, 300 files the VFS remembers hold at
 * most 16 node fids; every one still answers (walked again on demand),
 * across a restart of the server too, and a rename above them is
 * followed. */
static void test_fid_cache(void **state)
{
	struct uvfs_9p_server_info si;
	struct env e;
	char path[64], buf[16];
	struct stat st;
	int fd;

	(void)state;
	if (env_up(&e, "fids=16") != 0) {
		skip();
		return;
	}
	assert_int_equal(uvfs_mkdir(e.c, "/m/d", 0755), 0);
	for (int i = 0; i < 300; i++) {
		snprintf(path, sizeof(path), "/m/d/f%d", i);
		fd = uvfs_open(e.c, path, O_CREAT | O_RDWR, 0644);
		assert_true(fd >= 0);
		snprintf(buf, sizeof(buf), "%d", i);
		assert_int_equal(uvfs_write(e.c, fd, buf, strlen(buf)),
				 (ssize_t)strlen(buf));
		assert_int_equal(uvfs_close(e.c, fd), 0);
	}
	assert_int_equal(uvfs_9p_server_info(e.u, "/m", &si), 0);
	assert_true(si.fids <= 16);
	assert_true(si.fid_releases >= 300 - 16);
	for (int pass = 0; pass < 3; pass++) {
		if (pass == 1) {        /* the server dies: recovered */
			pid_t pid = uvfs_9p_server_pid(e.u, "/m");
			assert_int_equal(kill(pid, SIGKILL), 0);
		}
		if (pass == 2)          /* a rename above them */
			assert_int_equal(uvfs_rename(e.c, "/m/d", "/m/e", 0), 0);
		for (int i = 0; i < 300; i++) {
			snprintf(path, sizeof(path), "/m/%s/f%d",
				 pass == 2 ? "e" : "d", i);
			assert_int_equal(uvfs_stat(e.c, path, &st), 0);
			snprintf(buf, sizeof(buf), "%d", i);
			assert_int_equal(st.st_size, (off_t)strlen(buf));
			fd = uvfs_open(e.c, path, O_RDONLY, 0);
			assert_true(fd >= 0);
			char got[16] = { 0 };
			assert_int_equal(uvfs_read(e.c, fd, got, sizeof(got)),
					 (ssize_t)strlen(buf));
			assert_string_equal(got, buf);
			assert_int_equal(uvfs_close(e.c, fd), 0);
		}
		assert_int_equal(uvfs_9p_server_info(e.u, "/m", &si), 0);
		assert_true(si.fids <= 16);
	}
	env_down(&e, 0);
}

/* A tree deeper than PATH_MAX below the export (24 directories of
 * 255-byte names), fids=8 so that most nodes give their fid up: the file
 * open at the bottom reads on across a kill (its fid walked again by the
 * recorded path, 16 names per Twalk), the working directory at the bottom
 * still answers, and files there are made and found again (each node
 * walked again from the nearest ancestor holding a fid).  Type "diod"
 * keeps paths whole and stops at PATH_MAX: 12 levels there (3 KiB). */
static void test_deep_restart(void **state)
{
	struct env e;
	char name[256], buf[32] = { 0 };
	struct stat st;
	pid_t pid;
	int fd, depth = strcmp(fstype(), "diod") == 0 ? 12 : 24;

	(void)state;
	if (env_up(&e, "fids=8") != 0) {
		skip();
		return;
	}
	pid = uvfs_9p_server_pid(e.u, "/m");
	assert_int_equal(uvfs_chdir(e.c, "/m"), 0);
	for (int i = 0; i < depth; i++) {
		memset(name, 'a' + i, 255);
		name[255] = '\0';
		assert_int_equal(uvfs_mkdir(e.c, name, 0755), 0);
		assert_int_equal(uvfs_chdir(e.c, name), 0);
	}
	fd = uvfs_open(e.c, "f", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_write(e.c, fd, "deep", 4), 4);
	assert_int_equal(uvfs_fsync(e.c, fd), 0);
	for (int i = 0; i < 20; i++) {     /* more nodes than fids= */
		snprintf(name, sizeof(name), "g%02d", i);
		int g = uvfs_open(e.c, name, O_CREAT | O_WRONLY, 0644);
		assert_true(g >= 0);
		assert_int_equal(uvfs_close(e.c, g), 0);
	}
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(uvfs_pread(e.c, fd, buf, sizeof(buf), 0), 4);
	assert_memory_equal(buf, "deep", 4);
	assert_true(wait_new_server(&e, pid, 5000) > 0);
	assert_int_equal(uvfs_stat(e.c, "f", &st), 0);
	assert_int_equal(st.st_size, 4);
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "g%02d", i);
		assert_int_equal(uvfs_stat(e.c, name, &st), 0);
	}
	assert_int_equal(uvfs_mkdir(e.c, "new", 0755), 0);
	assert_int_equal(uvfs_stat(e.c, "new", &st), 0);
	assert_int_equal(uvfs_close(e.c, fd), 0);
	assert_int_equal(uvfs_chdir(e.c, "/"), 0);
	env_down(&e, 0);
}

/* A file opened by a name that is then removed while it has another
 * (echo > a; ln a b; rm a): across a kill, the open file is reopened by
 * the name it still has, and reads and writes on. */
static void test_link_restart(void **state)
{
	struct env e;
	char buf[32] = { 0 };
	struct stat st;
	pid_t pid;
	int fd;

	(void)state;
	if (env_up(&e, NULL) != 0) {
		skip();
		return;
	}
	pid = uvfs_9p_server_pid(e.u, "/m");
	fd = uvfs_open(e.c, "/m/a", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	assert_int_equal(uvfs_write(e.c, fd, "data", 4), 4);
	assert_int_equal(uvfs_fsync(e.c, fd), 0);
	assert_int_equal(uvfs_link(e.c, "/m/a", "/m/b"), 0);
	assert_int_equal(uvfs_unlink(e.c, "/m/a"), 0);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_true(wait_new_server(&e, pid, 5000) > 0);
	assert_int_equal(uvfs_pread(e.c, fd, buf, sizeof(buf), 0), 4);
	assert_memory_equal(buf, "data", 4);
	assert_int_equal(uvfs_pwrite(e.c, fd, "+", 1, 4), 1);
	assert_int_equal(uvfs_fstat(e.c, fd, &st), 0);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(st.st_size, 5);
	assert_int_equal(uvfs_close(e.c, fd), 0);
	assert_int_equal(uvfs_stat(e.c, "/m/b", &st), 0);
	assert_int_equal(st.st_size, 5);
	env_down(&e, 0);
}

/* Files open below a directory renamed (and one renamed itself), then a
 * kill: the fid registry moved their paths with the renames (at every
 * depth, through directories whose own fids the cache gave up), so the
 * new server gets every open file walked again by its new path. */
static void test_rename_restart(void **state)
{
	struct uvfs_9p_server_info si;
	struct env e;
	const char *names[] = { "/m/d/f", "/m/d/s/t/g", "/m/d/s/h" };
	const char *after[] = { "/m/e/f2", "/m/e/s/t/g", "/m/e/s/h" };
	char buf[16];
	struct stat st;
	pid_t pid;
	int fd[3];

	(void)state;
	if (env_up(&e, "fids=2") != 0) {
		skip();
		return;
	}
	pid = uvfs_9p_server_pid(e.u, "/m");
	assert_int_equal(uvfs_mkdir(e.c, "/m/d", 0755), 0);
	assert_int_equal(uvfs_mkdir(e.c, "/m/d/s", 0755), 0);
	assert_int_equal(uvfs_mkdir(e.c, "/m/d/s/t", 0755), 0);
	for (int i = 0; i < 3; i++) {
		fd[i] = uvfs_open(e.c, names[i], O_CREAT | O_RDWR, 0644);
		assert_true(fd[i] >= 0);
		assert_int_equal(uvfs_write(e.c, fd[i], names[i], 6), 6);
		assert_int_equal(uvfs_fsync(e.c, fd[i]), 0);
	}
	assert_int_equal(uvfs_rename(e.c, "/m/d", "/m/e", 0), 0);
	assert_int_equal(uvfs_rename(e.c, "/m/e/f", "/m/e/f2", 0), 0);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_true(wait_new_server(&e, pid, 5000) > 0);
	for (int i = 0; i < 3; i++) {
		memset(buf, 0, sizeof(buf));
		assert_int_equal(uvfs_pread(e.c, fd[i], buf, sizeof(buf), 0),
				 6);
		assert_memory_equal(buf, names[i], 6);
		assert_int_equal(uvfs_pwrite(e.c, fd[i], "+", 1, 6), 1);
		assert_int_equal(uvfs_close(e.c, fd[i]), 0);
		assert_int_equal(uvfs_stat(e.c, after[i], &st), 0);
		assert_int_equal(st.st_size, 7);
	}
	assert_int_equal(uvfs_9p_server_info(e.u, "/m", &si), 0);
	assert_int_equal(si.stale_fids, 0);
	env_down(&e, 0);
}
