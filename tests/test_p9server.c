/*
 * test_p9server.c - the file-server library (lib/server) driven over a
 * socketpair by a minimal client built from the codec: version
 * negotiation, the fid rules, ENOSYS for missing operations, Tflush of a
 * slow request, malformed and oversized messages, many requests in
 * flight; then hostfs (in-process) for create/write/read/readdir/unlink,
 * the uvfs-hostfs binary over an inherited socketpair, and hostfs's
 * requests racing renames of a directory above their fids.
 *
 * This file is the harness (the tiny file system, hostfs in process, the
 * helpers) and main with the tests in the order they run; the tests are
 * in test_p9server_{proto,hostfs,load,renames}.c by topic, included
 * below into this one translation unit.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdatomic.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "p9test_client.h"
#include "hostfs.h"
#include "sys.h"

/* --- a tiny test file system: a root and a file "slow" whose reads
 * block until flushed (or 10 s); getattr is missing on purpose --- */

static atomic_int slow_started, slow_flushed_seen, flush_calls, clunk_calls;

static int t_attach(struct p9srv_req *r, struct p9srv_fid *f,
		    const struct p9_tattach *t, struct p9_qid *qid)
{
	(void)r; (void)t;
	f->priv = (void *)"root";
	*qid = (struct p9_qid){ P9_QTDIR, 0, 1 };
	return 0;
}

static int t_walk(struct p9srv_req *r, struct p9srv_fid *f,
		  struct p9srv_fid *nf, uint16_t nwname,
		  const struct p9_str *wname, struct p9_qid *wqid,
		  uint16_t *nwqid)
{
	(void)r;
	*nwqid = 0;
	if (nwname == 0) {
		nf->priv = f->priv;
		return 0;
	}
	if (strcmp(f->priv, "root") != 0)
		return -ENOTDIR;
	if (!p9_str_eq(wname[0], "slow") && !p9_str_eq(wname[0], "fast"))
		return -ENOENT;
	wqid[0] = (struct p9_qid){ P9_QTFILE, 0, p9_str_eq(wname[0], "slow") ? 2 : 3 };
	*nwqid = 1;
	if (nwname > 1)
		return 0;       /* a file has no names below it */
	nf->priv = p9_str_eq(wname[0], "slow") ? (void *)"slow" : (void *)"fast";
	return 0;
}

static int t_lopen(struct p9srv_req *r, struct p9srv_fid *f, uint32_t flags,
		   struct p9_qid *qid, uint32_t *iounit)
{
	(void)r; (void)flags; (void)iounit;
	*qid = (struct p9_qid){ P9_QTFILE, 0,
				strcmp(f->priv, "slow") == 0 ? 2 : 3 };
	return 0;
}

static ssize_t t_read(struct p9srv_req *r, struct p9srv_fid *f,
		      uint64_t off, void *buf, uint32_t count)
{
	if (strcmp(f->priv, "slow") == 0) {
		atomic_fetch_add(&slow_started, 1);
		for (int i = 0; i < 10000 && !p9srv_req_flushed(r); i++)
			usleep(1000);
		if (p9srv_req_flushed(r))
			atomic_fetch_add(&slow_flushed_seen, 1);
		if (off == 1) {         /* done all the same */
			memcpy(buf, "s", 1);
			return 1;
		}
		return -EINTR;
	}
	if (count > 4)
		count = 4;
	memcpy(buf, "fast", count);
	return count;
}

static void t_flush(struct p9srv_req *r)
{
	(void)r;
	atomic_fetch_add(&flush_calls, 1);
}

static void t_clunk(struct p9srv *s, struct p9srv_fid *f)
{
	(void)s;
	f->priv = NULL;
	atomic_fetch_add(&clunk_calls, 1);
}

static const struct p9srv_ops tiny_ops = {
	.attach = t_attach,
	.walk = t_walk,
	.lopen = t_lopen,
	.read = t_read,
	.clunk = t_clunk,
	.flush = t_flush,
};

static struct p9srv *tiny_srv(void)
{
	struct p9srv *s;
	struct p9srv_opts o = { .msize = 64 * 1024, .nworkers = 4 };
	assert_int_equal(p9srv_new(&tiny_ops, NULL, &o, &s), 0);
	return s;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The inode number in a hostfs qid.path: bits 32..47 carry the file's
 * generation when the number fits in 32 bits (docs/server.md). */
static uint64_t qid_ino(uint64_t path, uint64_t ino)
{
	return ino >> 32 ? path : path & 0xffffffffu;
}

/* --- hostfs in-process --- */

static char tmpl[64];

static struct p9srv *hostfs_srv(const char *dir, struct hostfs **hs)
{
	struct p9srv *s;
	assert_int_equal(hostfs_open(dir, hs), 0);
	assert_int_equal(p9srv_new(&hostfs_ops, *hs, NULL, &s), 0);
	return s;
}

static void rm_rf(const char *path)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
}

/* ---- the tests, by topic: each file is included here, in this one
 * translation unit, so it uses the servers and helpers above ---------- */

#include "test_p9server_proto.c"     /* the protocol, on the tiny fs */
#include "test_p9server_hostfs.c"    /* hostfs in process, the binary */
#include "test_p9server_load.c"      /* many requests, fids, clients */
#include "test_p9server_renames.c"   /* requests racing renames */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(version_negotiation),
		cmocka_unit_test(fid_rules),
		cmocka_unit_test(xattr_fids),
		cmocka_unit_test(flush_slow_request),
		cmocka_unit_test(flush_queued_request),
		cmocka_unit_test(version_resets_session),
		cmocka_unit_test(fid_limit),
		cmocka_unit_test(fid_limit_default),
		cmocka_unit_test(clunk_all_many),
		cmocka_unit_test(malformed_messages),
		cmocka_unit_test(hostfs_basics),
		cmocka_unit_test(hostfs_locks),
		cmocka_unit_test(hostfs_create_undone),
		cmocka_unit_test(hostfs_nofid_second),
		cmocka_unit_test(many_in_flight),
		cmocka_unit_test(flush_interrupts_blocking_call),
		cmocka_unit_test(more_fids_than_descriptors),
		cmocka_unit_test(concurrent_clients),
		cmocka_unit_test(hostfs_binary),
		cmocka_unit_test(hostfs_gone_client),
		cmocka_unit_test(hostfs_max_fids),
		RNV_TEST(walk_start_races_rename),
		RNV_TEST(walk_registers_after_rename),
		RNV_TEST(link_remove_race_rename),
		RNV_TEST(requests_race_rename_over_fid),
		RNV_TEST(remove_race_rename_over),
		RNV_TEST(link_race_rename_over),
		RNV_TEST(unlinkat_race_rename_over),
		RNV_TEST(walks_race_renames),
	};
	/* UVFS_TEST_FILTER=pattern runs only the matching tests */
	if (getenv("UVFS_TEST_FILTER"))
		cmocka_set_test_filter(getenv("UVFS_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
