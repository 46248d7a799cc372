/*
 * test_recovery.c - types "hostfs" and "diod" (UVFS_RECOVERY_TYPE): the VFS
 * restarts a file server that dies and recovers (docs/recovery.md).
 *
 * Each test exports a fresh temporary directory through uvfs-hostfs (path
 * in $UVFS_HOSTFS) or diod ($UVFS_DIOD, default /usr/sbin/diod) — skipped,
 * 77, without it — mounted at /m, and kills the
 * server with SIGKILL:
 *   - kill_reopen: written + fsync'd data reads back through the file that
 *     was open across the kill;
 *   - inflight: with the server stopped, a read and an append write wait
 *     in it; the server is killed: the read is replayed (succeeds), the
 *     append fails with EIO (not replayed: it may have happened);
 *   - restart_limit: past restarts=N the mount is dead (EIO at once, not
 *     hung), and a forced unmount works;
 *   - restart_window: restarts older than window= no longer count;
 *   - stale: a file replaced on the host, then the server killed: the open
 *     file answers ESTALE, a fresh open sees the new file;
 *   - cancel_recovering: a forced unmount while the server is restarting
 *     (a server that cannot start) returns promptly;
 *   - stopped_forced: a SIGSTOPped server (not dead before a deadline:
 *     nothing restarts) and a forced unmount: bounded, the blocked caller
 *     gets EIO;
 *   - stopped_callers: a SIGSTOPped server and ten callers in one
 *     directory: each returns within its deadline and the flush grace,
 *     none queues behind another, and the silent server is replaced: the
 *     mount works again;
 *   - deep_restart: a tree deeper than PATH_MAX, fids=8, a kill: the file
 *     open at the bottom and the working directory there go on;
 *   - link_restart: a file open by a name removed since (it has another)
 *     reads and writes on across a kill;
 *   - rename_restart: files open below a directory renamed, and one
 *     renamed itself, read and write on across a kill (the fid registry
 *     followed the renames);
 *   - fid_cache: fids=16 with 300 files remembered: at most 16 node fids,
 *     every file still answers (re-walked), across a restart and a rename
 *     above them;
 *   - xattr_inflight: with the server stopped, a getxattr and a setxattr
 *     wait in it; the server is killed: the get is replayed and gives the
 *     value, the set (only its clone walk was out) completes on the new
 *     server;
 *   - fault: N threads of mixed work while another kills the server
 *     UVFS_KILLS times (default 200) at random moments (a quarter of them,
 *     never two in a row, while the previous kill is being recovered):
 *     every result is a
 *     success or an allowed error, no call lasts past its deadline, and
 *     data fsync'd before a kill reads back after it.
 *
 * This file is main with the tests in the order they run (the environment
 * is recovery_env.c's, shared with test_recovery_net.c); the tests are in
 * test_recovery_{restart,stopped,fids,fault}.c by topic, included below
 * into this one translation unit.
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
#include "skip.h"

#include <uvfs/9p.h>
#include <uvfs/uvfs.h>

#include "proc_wait.h"
#include "recovery_env.h"

extern char **environ;

/* ---- the tests, by topic: each file is included here, in this one
 * translation unit (the environment is recovery_env.c's) ----------------- */

#include "test_recovery_restart.c" /* kill, replay, limits, stale */
#include "test_recovery_stopped.c" /* no server, a stopped one */
#include "test_recovery_fids.c"    /* the fid cache, deep paths, links */
#include "test_recovery_fault.c"   /* the fault test: UVFS_KILLS kills */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_reopen),
		cmocka_unit_test(test_inflight),
		cmocka_unit_test(test_restart_limit),
		cmocka_unit_test(test_restart_window),
		cmocka_unit_test(test_stale),
		cmocka_unit_test(test_cancel_recovering),
		cmocka_unit_test(test_stopped_forced),
		cmocka_unit_test(test_stopped_callers),
		cmocka_unit_test(test_fid_cache),
		cmocka_unit_test(test_deep_restart),
		cmocka_unit_test(test_link_restart),
		cmocka_unit_test(test_rename_restart),
		cmocka_unit_test(test_xattr_inflight),
		cmocka_unit_test(test_fault),
	};

	signal(SIGPIPE, SIG_IGN);
	if (!server() || access(server(), X_OK) != 0) {
		printf("test_recovery: SKIP: UVFS_HOSTFS not set\n");
		return 77;
	}
	return TESTS_EXIT(cmocka_run_group_tests(tests, NULL, NULL));
}
