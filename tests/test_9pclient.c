/*
 * test_9pclient.c - the 9P client driver against a misbehaving server:
 * the fake server of p9fake.c (which names misbehave how) over a
 * socketpair, and extended attributes end to end on a real server
 * (UVFS_HOSTFS: type "hostfs", spawned; UVFS_9P_SOURCE: diod, from
 * tests/conformance-diod.sh), against the host file too.
 *
 * Every case checks that the VFS returns an error and keeps working (or,
 * when the connection is lost, fails fast with -EIO and unmounts).
 * Fencing and reconnection: test_9psession.c.
 *
 * This file is main with the tests in the order they run; the tests are
 * in test_9pclient_{replies,calls,failures,xattr}.c by topic, included
 * below into this one translation unit.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <linux/sockios.h>
#include <sys/un.h>
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

#include "p9.h"
#include "p9fake.h"
#include "proc_wait.h"
#include "sys.h"
#include "transport.h"

/* ---- the tests, by topic: each file is included here, in this one
 * translation unit (the fake server is p9fake.c's) ---------------------- */

#include "test_9pclient_replies.c"  /* bad, late, out-of-order replies */
#include "test_9pclient_calls.c"    /* many callers, one at a time */
#include "test_9pclient_failures.c" /* write-behind, hangs, bad options */
#include "test_9pclient_xattr.c"    /* extended attributes */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_bad_replies),
		cmocka_unit_test(test_impossible_answers),
		cmocka_unit_test(test_deadline_flush),
		cmocka_unit_test(test_write_behind_error),
		cmocka_unit_test(test_revoke_drops_write_error),
		cmocka_unit_test(test_late_walk_clunked),
		cmocka_unit_test(test_readdir_ahead_clunk),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_parallel),
		cmocka_unit_test(test_serial),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_hang_normal_umount),
		cmocka_unit_test(test_read_whole),
		cmocka_unit_test(test_call_deadline),
		cmocka_unit_test(test_call_deadline_late_pieces),
		cmocka_unit_test(test_server_hangs_up),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_hang_force),
		cmocka_unit_test(test_lock_blocked_clunk_held),
		cmocka_unit_test(test_remove_flushed_clunked),
		cmocka_unit_test(test_xattr_wire),
		cmocka_unit_test(test_xattr_commit_flushed),
		cmocka_unit_test(test_xattr_hostfs),
		cmocka_unit_test(test_xattr_diod),
		/* last: diod, continued after it, writes the reply of the
		 * request it was stopped in to a closed socket (it runs with
		 * SIGPIPE ignored: tests/conformance-diod.sh) */
		cmocka_unit_test(test_real_server_stopped),
	};

	/* the fake server writes to links the client cut */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
