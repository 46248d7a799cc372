/*
 * recovery_env.c - the recovery tests' shared fixture (recovery_env.h).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <uvfs/9p.h>
#include <uvfs/uvfs.h>

#include "proc_wait.h"
#include "recovery_env.h"


const char *fstype(void)
{
	const char *t = getenv("UVFS_RECOVERY_TYPE");
	return t && *t ? t : "hostfs";
}

const char *server(void)
{
	if (strcmp(fstype(), "diod") == 0)
		return getenv("UVFS_DIOD") ? getenv("UVFS_DIOD")
					   : "/usr/sbin/diod";
	return getenv("UVFS_HOSTFS");
}

long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 +
	       (t.tv_nsec - t0->tv_nsec) / 1000000;
}

int env_up(struct env *e, const char *extra)
{
	char o[1024];

	if (!server() || access(server(), X_OK) != 0)
		return -1;
	snprintf(e->tmp, sizeof(e->tmp), "/tmp/uvfs-recovery.XXXXXX");
	assert_non_null(mkdtemp(e->tmp));
	snprintf(e->exp, sizeof(e->exp), "%s/export", e->tmp);
	assert_int_equal(mkdir(e->exp, 0777), 0);
	assert_int_equal(uvfs_new(NULL, &e->u), 0);
	assert_int_equal(uvfs_9p_register(e->u), 0);
	assert_int_equal(uvfs_ctx_new(e->u, NULL, &e->c), 0);
	assert_int_equal(uvfs_mkdir(e->c, "/m", 0755), 0);
	snprintf(o, sizeof(o), "server=%s,timeout=%d,deadline=1000%s%s",
		 server(), TIMEOUT_MS, extra && *extra ? "," : "",
		 extra ? extra : "");
	assert_int_equal(uvfs_mount(e->c, fstype(), e->exp, "/m", o), 0);
	return 0;
}

void rm_rf(const char *path)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", path);
}

void env_down(struct env *e, unsigned flags)
{
	assert_int_equal(uvfs_umount(e->c, "/m", flags), 0);
	assert_int_equal(uvfs_settle(e->u, 5000), 0);
	uvfs_ctx_free(e->c);
	uvfs_free(e->u);
	rm_rf(e->tmp);
}

pid_t wait_new_server(struct env *e, pid_t old, int ms)
{
	struct timespec t0;
	struct uvfs_9p_server_info si;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ms_since(&t0) < ms) {
		if (uvfs_9p_server_info(e->u, "/m", &si) == 0 && si.pid > 0 &&
		    si.pid != old && !si.recovering)
			return si.pid;
		if (si.dead)
			return -1;
		usleep(1000);
	}
	return -1;
}

void *bg_main(void *arg)
{
	struct bg *b = arg;

	if (b->op == 0)
		b->r = (int)uvfs_pread(b->e->c, b->fd, b->buf, 5, 0);
	else
		b->r = (int)uvfs_write(b->e->c, b->fd, "XYZ", 3);
	return NULL;
}

void host_write(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(s, f);
	assert_int_equal(fclose(f), 0);
}

void *stat_main(void *arg)
{
	struct stat_arg *a = arg;
	struct uvfs_ctx *c;
	struct stat st;

	assert_int_equal(uvfs_ctx_new(a->e->u, NULL, &c), 0);
	a->r = uvfs_stat(c, "/m/p", &st);
	uvfs_ctx_free(c);
	return NULL;
}
