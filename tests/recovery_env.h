/*
 * recovery_env.h - what the recovery tests (test_recovery.c,
 * test_recovery_net.c) share: the type under test and its server binary,
 * a temporary export mounted at /m, waiting for a new server.
 */
#ifndef UVFS_TESTS_RECOVERY_ENV_H
#define UVFS_TESTS_RECOVERY_ENV_H

#include <sys/types.h>
#include <time.h>

#include <uvfs/uvfs.h>

#define TIMEOUT_MS 2000
/* (Tests that need a stat of a known name to reach the server mount
 * with actimeo=0: the driver otherwise answers it from the name and
 * attributes it keeps, docs/9p-client.md.) */

struct env {
	char tmp[128], exp[160];
	struct uvfs *u;
	struct uvfs_ctx *c;
};

/* The type under test: "hostfs" (default) or "diod" (UVFS_RECOVERY_TYPE);
 * the server binary from UVFS_HOSTFS or UVFS_DIOD. */
const char *fstype(void);
const char *server(void);
long ms_since(const struct timespec *t0);
/* A fresh export mounted at /m (type fstype(), options after the
 * defaults: extra), or -1 without a server binary. */
int env_up(struct env *e, const char *extra);
void rm_rf(const char *path);
/* Unmounted with flags, settled, freed, the export removed. */
void env_down(struct env *e, unsigned flags);
/* Waits until a server other than old runs and the recovery is over. */
pid_t wait_new_server(struct env *e, pid_t old, int ms);

/* A pread (op 0) or an append write (op 1) on fd in a thread. */
struct bg {
	struct env *e;
	int fd;
	int op;         /* 0 pread, 1 append */
	int r;
	char buf[16];
};
void *bg_main(void *arg);
/* Writes s into the host file path (replacing it). */
void host_write(const char *path, const char *s);
/* A stat of /m/p in a thread, on a context of its own. */
struct stat_arg {
	struct env *e;
	int r;
};
void *stat_main(void *arg);

#endif /* UVFS_TESTS_RECOVERY_ENV_H */
