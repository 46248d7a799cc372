/*
 * bench_remote - remote file systems over a delayed link, against the
 * server's local disk (bench/bench_remote, the script, starts the servers
 * and the delay proxies; bench/README.md has the figures).
 *
 *   bench_remote TYPE SRC0 SRC5 OPTS LOCALDIR DELAY_US [N [MIB]]
 *
 *   TYPE      "9p" or "nfs" (nfs only when built with libnfs)
 *   SRC0      the source through a proxy adding no delay
 *   SRC5      the source through a proxy adding DELAY_US each way
 *   OPTS      mount options for both ("-" for none)
 *   LOCALDIR  the exported directory as this host sees it: the baseline
 *             (the same operations as plain system calls on the server's
 *             disk), and where the untimed set-up (1 000 files) is made
 *   N         operations per small-operation figure (default 20)
 *   MIB       size of the sequential transfer (default 64)
 *
 * The mounts are libuvfs in-process (no FUSE): what a figure shows is the
 * driver's and the protocol's cost, not the kernel's.  Each mount works
 * in its own subdirectory (LOCALDIR/p0, LOCALDIR/p5; the baseline in
 * LOCALDIR/local).
 *
 * Operations (each timed alone; the figure is the median of N):
 *   create     open(O_CREAT|O_EXCL|O_WRONLY) + close of a new name
 *   stat       stat of a name stat'ed just before (a cached name)
 *   rename     rename of a file to a new name in the same directory
 *   unlink     unlink of a file
 *   ls1000     opendir, readdir of a directory of 1 000 files made on the
 *              server's disk, and lstat of each (`ls -l`); one run
 *   seq_write  MIB MiB in 1 MiB writes to a new file, fsync, close: MB/s
 *   seq_read   the file read back in 1 MiB reads: MB/s (the server reads
 *              from its page cache; so does the baseline)
 *
 * Round trips per operation:
 *   _rt   waited for, counted on the link: the client's turns at the
 *         delayed proxy (uvfs-delayproxy -s, delayproxy.h: bytes sent
 *         after an answer came back; requests sent together count once),
 *         whatever the protocol; given with the count files below;
 *   _rt_time  the same from time: (median through the delayed proxy -
 *         median through the +0 proxy) / (2 x DELAY_US), to the nearest
 *         whole number (a note has it unrounded); a cross-check that
 *         needs a quiet machine (the +0 median moves with the load);
 *   _req  from the mount's counters: requests issued per operation
 *         (nfs: struct uvfs_nfs_info.calls; 9p: uvfs_9p_server_info's
 *         requests, where the driver has it);
 *   _waits the driver's own count of the times a caller waited
 *         (uvfs_9p_server_info's waits, where the driver has it);
 *   _wire requests that crossed the delayed proxy per operation, counted
 *         by the proxy itself (uvfs-delayproxy -s: 9P messages or RPC
 *         records towards the server), waited for or not; given when
 *         BENCH_REMOTE_WIRE0 and BENCH_REMOTE_WIRE5 name the proxies'
 *         count files.
 *
 * Owns one uvfs instance with its two mounts (/p0, /p5: made at the
 * start, unmounted at the end, forced if a normal unmount fails), the
 * samples, and read-only mappings of the proxies' count files.  The
 * servers, proxies and directories are the script's.
 *
 * Prints bench/run's figure lines and '#' notes.  Exit 1 when an
 * operation fails.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uvfs/9p.h>
#include <uvfs/uvfs.h>
#ifdef BENCH_HAVE_NFS
#include <uvfs/nfs.h>
#endif

#include "bench_common.h"
#include "delayproxy.h"

#define NLS 1000
#define CHUNK (1u << 20)

/* Where an operation runs: the local disk (plain syscalls under dir) or a
 * mount (libuvfs calls under dir, e.g. "/p5/p5"). */
struct target {
	const char *name;       /* "local", "p0", "p5" */
	bool local;
	char dir[4096];
	char mnt[16];           /* the mount point ("" local) */
	const struct proxy_stats *wire; /* its proxy's counts, or NULL */
};

static const char *type;
static struct uvfs *u;
static struct uvfs_ctx *c;
static char *buf;

static void die(const char *what, const char *path, long r)
{
	fprintf(stderr, "bench_remote: %s %s: %s\n", what, path,
		strerror((int)(r < 0 ? -r : errno)));
	exit(1);
}

/* Requests the mount has issued so far, or -1 where it does not count. */
static double reqs(const struct target *t)
{
	if (t->local)
		return -1;
#ifdef BENCH_9P_WAITS
	if (strcmp(type, "9p") == 0) {
		struct uvfs_9p_server_info si;
		if (uvfs_9p_server_info(u, t->mnt, &si) == 0)
			return (double)si.requests;
	}
#endif
#ifdef BENCH_HAVE_NFS
	if (strcmp(type, "nfs") == 0) {
		struct uvfs_nfs_info ni;
		if (uvfs_nfs_info(u, t->mnt, &ni) == 0)
			return (double)ni.calls;
	}
#endif
	return -1;
}

/* Names are relative to the working directory, which enter() sets to the
 * target's directory: a stat of a cached name is one name, as it is
 * through the kernel's dentry cache. */
/* The times a caller of the mount waited for replies so far (the
 * driver's count), or -1 where it does not count. */
static double waits(const struct target *t)
{
#ifdef BENCH_9P_WAITS
	if (!t->local && strcmp(type, "9p") == 0) {
		struct uvfs_9p_server_info si;
		if (uvfs_9p_server_info(u, t->mnt, &si) == 0)
			return (double)si.waits;
	}
#else
	(void)t;
#endif
	return -1;
}

/* Requests that crossed the target's proxy so far, or -1. */
static double wire(const struct target *t)
{
	return t->wire ? (double)atomic_load(&t->wire->up_msgs) : -1;
}

/* The client's turns at the target's proxy so far (round trips waited
 * for, delayproxy.h), or -1. */
static double turns(const struct target *t)
{
	return t->wire ? (double)atomic_load(&t->wire->turns) : -1;
}

/* The counts of uvfs-delayproxy -s FILE, or NULL (no FILE). */
static const struct proxy_stats *wire_map(const char *path)
{
	const struct proxy_stats *ps;
	int fd;

	if (!path || !*path)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open", path, -errno);
	ps = mmap(NULL, sizeof(*ps), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (ps == MAP_FAILED || ps->magic != PROXY_STATS_MAGIC)
		die("not the counts of uvfs-delayproxy -s:", path, -EINVAL);
	return ps;
}

/* The name of a request kind counted by the proxy (delayproxy.h). */
static const char *kind_name(int k)
{
	static const char *const p9[256] = {
		[8] = "Tstatfs", [12] = "Tlopen", [14] = "Tlcreate",
		[16] = "Tsymlink", [18] = "Tmknod", [20] = "Trename",
		[22] = "Treadlink", [24] = "Tgetattr", [26] = "Tsetattr",
		[30] = "Txattrwalk", [32] = "Txattrcreate", [40] = "Treaddir",
		[50] = "Tfsync", [52] = "Tlock", [54] = "Tgetlock",
		[70] = "Tlink", [72] = "Tmkdir", [74] = "Trenameat",
		[76] = "Tunlinkat", [100] = "Tversion", [102] = "Tauth",
		[104] = "Tattach", [108] = "Tflush", [110] = "Twalk",
		[116] = "Tread", [118] = "Twrite", [120] = "Tclunk",
		[122] = "Tremove",
	};
	static const char *const nfs3[22] = {
		"NULL", "GETATTR", "SETATTR", "LOOKUP", "ACCESS", "READLINK",
		"READ", "WRITE", "CREATE", "MKDIR", "SYMLINK", "MKNOD",
		"REMOVE", "RMDIR", "RENAME", "LINK", "READDIR", "READDIRPLUS",
		"FSSTAT", "FSINFO", "PATHCONF", "COMMIT",
	};
	const char *n = strcmp(type, "9p") == 0 ? p9[k] :
			k < 22 ? nfs3[k] : NULL;
	return n ? n : "?";
}

/* The proxy's requests by kind so far (zeros without counts). */
static void kinds(const struct target *t, uint64_t out[256])
{
	for (int k = 0; k < 256; k++)
		out[k] = t->wire ? atomic_load(&t->wire->up_kinds[k]) : 0;
}

/* A note: the requests per operation by kind, between two kinds(). */
static void kinds_note(const char *what, const uint64_t a[256],
		       const uint64_t b[256], int n)
{
	char line[1024];
	size_t len = 0;

	for (int k = 0; k < 256 && len < sizeof(line) - 64; k++)
		if (b[k] > a[k])
			len += (size_t)snprintf(line + len, sizeof(line) - len,
						" %s %.2f", kind_name(k),
						(double)(b[k] - a[k]) / n);
	if (len)
		printf("# %s %s, requests per operation at +delay:%s\n", type,
		       what, line);
}

static void path_of(char *p, size_t n, const struct target *t,
		    const char *fmt, int i)
{
	(void)t;
	snprintf(p, n, fmt, i);
}

static void enter(const struct target *t)
{
	int r = t->local ? (chdir(t->dir) ? -errno : 0)
			 : uvfs_chdir(c, t->dir);
	if (r)
		die("chdir", t->dir, r);
}

static void op_create(const struct target *t, const char *p)
{
	if (t->local) {
		int fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0 || close(fd))
			die("create", p, -errno);
	} else {
		int fd = uvfs_open(c, p, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0)
			die("create", p, fd);
		int r = uvfs_close(c, fd);
		if (r)
			die("close", p, r);
	}
}

static void op_stat(const struct target *t, const char *p)
{
	struct stat st;
	int r = t->local ? (stat(p, &st) ? -errno : 0) : uvfs_stat(c, p, &st);

	if (r)
		die("stat", p, r);
}

static void op_rename(const struct target *t, const char *a, const char *b)
{
	int r = t->local ? (rename(a, b) ? -errno : 0)
			 : uvfs_rename(c, a, b, 0);
	if (r)
		die("rename", a, r);
}

static void op_unlink(const struct target *t, const char *p)
{
	int r = t->local ? (unlink(p) ? -errno : 0) : uvfs_unlink(c, p);

	if (r)
		die("unlink", p, r);
}

/* ls -l: every entry listed and lstat'ed; returns the entries seen. */
static int op_ls(const struct target *t, const char *d)
{
	struct stat st;
	int n = 0;

	if (t->local) {
		DIR *dp = opendir(d);
		struct dirent *de;
		if (!dp)
			die("opendir", d, -errno);
		while ((de = readdir(dp))) {
			if (de->d_name[0] == '.')
				continue;
			if (fstatat(dirfd(dp), de->d_name, &st,
				    AT_SYMLINK_NOFOLLOW))
				die("lstat", de->d_name, -errno);
			n++;
		}
		closedir(dp);
		return n;
	}
	static struct uvfs_dirent ents[64];
	int fd = uvfs_open(c, d, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		die("opendir", d, fd);
	for (;;) {
		ssize_t k = uvfs_readdir(c, fd, ents, 64);
		if (k < 0)
			die("readdir", d, k);
		if (k == 0)
			break;
		for (ssize_t i = 0; i < k; i++) {
			if (ents[i].name[0] == '.')
				continue;
			int r = uvfs_fstatat(c, fd, ents[i].name, &st,
					     AT_SYMLINK_NOFOLLOW);
			if (r)
				die("lstat", ents[i].name, r);
			n++;
		}
	}
	uvfs_close(c, fd);
	return n;
}

/* MIB MiB written (wr) or read, 1 MiB at a time; returns seconds. */
static double op_seq(const struct target *t, const char *p, int mib, bool wr)
{
	double t0 = bench_now();
	long r;

	if (t->local) {
		int fd = wr ? open(p, O_CREAT | O_TRUNC | O_WRONLY, 0644)
			    : open(p, O_RDONLY);
		if (fd < 0)
			die("open", p, -errno);
		for (int i = 0; i < mib; i++) {
			r = wr ? write(fd, buf, CHUNK) : read(fd, buf, CHUNK);
			if (r != (long)CHUNK)
				die(wr ? "write" : "read", p, r < 0 ? -errno : -EIO);
		}
		if ((wr && fsync(fd)) || close(fd))
			die("fsync/close", p, -errno);
	} else {
		int fd = uvfs_open(c, p, wr ? O_CREAT | O_TRUNC | O_WRONLY
					    : O_RDONLY, 0644);
		if (fd < 0)
			die("open", p, fd);
		for (int i = 0; i < mib; i++) {
			r = wr ? uvfs_write(c, fd, buf, CHUNK)
			       : uvfs_read(c, fd, buf, CHUNK);
			if (r != (long)CHUNK)
				die(wr ? "write" : "read", p, r < 0 ? r : -EIO);
		}
		if (wr && (r = uvfs_fsync(c, fd)))
			die("fsync", p, r);
		if ((r = uvfs_close(c, fd)))
			die("close", p, r);
	}
	return bench_now() - t0;
}

enum op { CREATE, STAT, RENAME, UNLINK, NOPS };
static const char *const op_name[NOPS] = { "create", "stat", "rename",
					   "unlink" };
/* targets at the delayed link: ms (0: none) and round trips */
static const double op_ms_target[NOPS] = { 20, 0, 0, 0 };
static const double op_rt_target[NOPS] = { 3, 1, 1, 1 };

/* N small operations of each kind on t; per-operation ms into ms[op][],
 * requests per operation into rq[op]. */
static void small_ops(const struct target *t, int n, double *ms[NOPS],
		      double rq[NOPS], double rw[NOPS], double rt[NOPS],
		      double wt[NOPS], uint64_t kd[NOPS][2][256])
{
	char p[64], q[64];

	enter(t);
	for (int op = 0; op < NOPS; op++) {
		double r0 = reqs(t);
		if (op == STAT)         /* the names become cached */
			for (int i = 0; i < n; i++) {
				path_of(p, sizeof(p), t, "f%d", i);
				op_stat(t, p);
			}
		r0 = reqs(t);
		double w0 = wire(t), u0 = turns(t), v0 = waits(t);
		kinds(t, kd[op][0]);
		for (int i = 0; i < n; i++) {
			path_of(p, sizeof(p), t,
				op == UNLINK ? "g%d" : "f%d", i);
			path_of(q, sizeof(q), t, "g%d", i);
			double t0 = bench_now();
			switch (op) {
			case CREATE: op_create(t, p); break;
			case STAT: op_stat(t, p); break;
			case RENAME: op_rename(t, p, q); break;
			case UNLINK: op_unlink(t, p); break;
			}
			ms[op][i] = (bench_now() - t0) * 1e3;
		}
		double r1 = reqs(t), w1 = wire(t);
		rq[op] = r0 < 0 || r1 < 0 ? NAN : (r1 - r0) / n;
		rw[op] = w0 < 0 ? NAN : (w1 - w0) / n;
		rt[op] = u0 < 0 ? NAN : (turns(t) - u0) / n;
		wt[op] = v0 < 0 ? NAN : (waits(t) - v0) / n;
		kinds(t, kd[op][1]);
	}
}

static double median(double *v, int n)
{
	return bench_median(v, n);
}

int main(int argc, char **argv)
{
	if (argc < 7 || argc > 9) {
		fprintf(stderr, "usage: bench_remote TYPE SRC0 SRC5 OPTS "
			"LOCALDIR DELAY_US [N [MIB]]\n");
		return 2;
	}
	type = argv[1];
	const char *src[3] = { NULL, argv[2], argv[3] };
	const char *opts = strcmp(argv[4], "-") == 0 ? "" : argv[4];
	const char *local = argv[5];
	double delay_ms = bench_atoi(argv[6], "DELAY_US") / 1e3;
	int n = argc > 7 ? bench_atoi(argv[7], "N") : 20;
	int mib = argc > 8 ? bench_atoi(argv[8], "MIB") : 64;
	struct target tg[3] = {
		{ .name = "local", .local = true },
		{ .name = "p0", .wire = wire_map(getenv("BENCH_REMOTE_WIRE0")) },
		{ .name = "p5", .wire = wire_map(getenv("BENCH_REMOTE_WIRE5")) },
	};
	char p[4352];

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (n < 1 || mib < 1 || delay_ms <= 0) {
		fprintf(stderr, "bench_remote: N, MIB and DELAY_US must be > 0\n");
		return 2;
	}
	buf = malloc(CHUNK);
	if (!buf)
		return 1;
	memset(buf, 'r', CHUNK);
	BENCH_CHECK(uvfs_new(NULL, &u));
	BENCH_CHECK(uvfs_ctx_new(u, NULL, &c));
	if (strcmp(type, "9p") == 0) {
		BENCH_CHECK(uvfs_9p_register(u));
#ifdef BENCH_HAVE_NFS
	} else if (strcmp(type, "nfs") == 0) {
		BENCH_CHECK(uvfs_nfs_register(u));
#endif
	} else {
		fprintf(stderr, "bench_remote: unknown type %s\n", type);
		return 2;
	}
	/* the working directories, on the server's disk */
	for (int k = 0; k < 3; k++) {
		snprintf(p, sizeof(p), "%s/%s", local, tg[k].name);
		if (mkdir(p, 0755) && errno != EEXIST)
			die("mkdir", p, -errno);
		snprintf(p, sizeof(p), "%s/%s/ls", local, tg[k].name);
		if (mkdir(p, 0755) && errno != EEXIST)
			die("mkdir", p, -errno);
		for (int i = 0; i < NLS; i++) {
			char f[4400];
			snprintf(f, sizeof(f), "%s/e%04d", p, i);
			int fd = open(f, O_CREAT | O_WRONLY, 0644);
			if (fd < 0 || close(fd))
				die("create", f, -errno);
		}
		if (tg[k].local) {
			snprintf(tg[k].dir, sizeof(tg[k].dir), "%s/local",
				 local);
			continue;
		}
		snprintf(tg[k].mnt, sizeof(tg[k].mnt), "/%s", tg[k].name);
		snprintf(tg[k].dir, sizeof(tg[k].dir), "/%s/%s", tg[k].name,
			 tg[k].name);
		BENCH_CHECK(uvfs_mkdir(c, tg[k].mnt, 0755));
		int r = uvfs_mount(c, type, src[k], tg[k].mnt, opts);
		if (r) {
			fprintf(stderr, "bench_remote: mount %s %s: %s\n", type,
				src[k], strerror(-r));
			return 1;
		}
	}

	/* small operations, the three targets in turn */
	double *ms[3][NOPS], rq[3][NOPS], rw[3][NOPS], ru[3][NOPS], wt[3][NOPS];
	double med[3][NOPS];
	for (int k = 0; k < 3; k++)
		for (int op = 0; op < NOPS; op++)
			if (!(ms[k][op] = calloc((size_t)n, sizeof(double))))
				return 1;
	static uint64_t kd[NOPS][2][256];       /* the delayed link's */
	static uint64_t kscratch[NOPS][2][256];
	for (int k = 0; k < 3; k++)
		small_ops(&tg[k], n, ms[k], rq[k], rw[k], ru[k], wt[k],
			  k == 2 ? kd : kscratch);
	for (int k = 0; k < 3; k++)
		for (int op = 0; op < NOPS; op++)
			med[k][op] = median(ms[k][op], n);

	/* ls -l of 1 000 entries, once each */
	double ls[3], lsrq[3], lsrw[3], lsru[3], lswt[3];
	static uint64_t lskd[2][256];
	for (int k = 0; k < 3; k++) {
		enter(&tg[k]);
		double r0 = reqs(&tg[k]), w0 = wire(&tg[k]), u0 = turns(&tg[k]);
		double v0 = waits(&tg[k]);
		if (k == 2)
			kinds(&tg[k], lskd[0]);
		double t0 = bench_now();
		int seen = op_ls(&tg[k], "ls");
		ls[k] = (bench_now() - t0) * 1e3;
		double r1 = reqs(&tg[k]);
		lsrq[k] = r0 < 0 || r1 < 0 ? NAN : r1 - r0;
		lsrw[k] = w0 < 0 ? NAN : wire(&tg[k]) - w0;
		lsru[k] = u0 < 0 ? NAN : turns(&tg[k]) - u0;
		lswt[k] = v0 < 0 ? NAN : waits(&tg[k]) - v0;
		if (k == 2)
			kinds(&tg[k], lskd[1]);
		if (seen != NLS) {
			fprintf(stderr, "bench_remote: %s: %d entries, not %d\n",
				tg[k].dir, seen, NLS);
			return 1;
		}
	}

	/* sequential write, then read, MIB MiB */
	double wr[3], rd[3], wrq[3], rdq[3], wrw[3], rdw[3];
	for (int k = 0; k < 3; k++) {
		enter(&tg[k]);
		snprintf(p, sizeof(p), "seq");
		double r0 = reqs(&tg[k]), w0 = wire(&tg[k]);
		wr[k] = mib * 1.048576 / op_seq(&tg[k], p, mib, true);
		double r1 = reqs(&tg[k]), w1 = wire(&tg[k]);
		rd[k] = mib * 1.048576 / op_seq(&tg[k], p, mib, false);
		double r2 = reqs(&tg[k]), w2 = wire(&tg[k]);
		wrq[k] = r0 < 0 ? NAN : r1 - r0;
		rdq[k] = r0 < 0 ? NAN : r2 - r1;
		wrw[k] = w0 < 0 ? NAN : w1 - w0;
		rdw[k] = w0 < 0 ? NAN : w2 - w1;
		if (!tg[k].local)
			uvfs_unlink(c, p);
		else
			unlink(p);
	}

	/* the figures: +delay against the local disk, +0 against it, the
	 * round trips */
	double rt = 2 * delay_ms, rts[NOPS];
	char name[64], tgt[32];
	printf("# %s: %d operations each (medians), ls -l of %d entries "
	       "once, %d MiB sequential; link +%.1f ms each way; "
	       "baseline: the server's local disk (%s)\n", type, n, NLS, mib,
	       delay_ms, local);
	for (int op = 0; op < NOPS; op++)
		kinds_note(op_name[op], kd[op][0], kd[op][1], n);
	kinds_note("ls1000", lskd[0], lskd[1], 1);
	for (int op = 0; op < NOPS; op++) {
		snprintf(name, sizeof(name), "%s_%s", type, op_name[op]);
		snprintf(tgt, sizeof(tgt), "value<=%g", op_ms_target[op]);
		bench_figure(name, med[2][op], "ms", med[0][op],
			     op_ms_target[op] > 0 ? tgt : NULL);
		snprintf(name, sizeof(name), "%s_%s_p0", type, op_name[op]);
		bench_figure(name, med[1][op], "ms", med[0][op], NULL);
		snprintf(tgt, sizeof(tgt), "value<=%g", op_rt_target[op]);
		rts[op] = (med[2][op] - med[1][op]) / rt;
		if (!isnan(ru[2][op])) {
			snprintf(name, sizeof(name), "%s_%s_rt", type,
				 op_name[op]);
			bench_figure(name, ru[2][op], "rt", NAN, tgt);
		}
		snprintf(name, sizeof(name), "%s_%s_rt_time", type,
			 op_name[op]);
		bench_figure(name, round(rts[op]), "rt", NAN,
			     isnan(ru[2][op]) ? tgt : NULL);
		if (!isnan(rq[2][op])) {
			snprintf(name, sizeof(name), "%s_%s_req", type,
				 op_name[op]);
			bench_figure(name, rq[2][op], "req", NAN, NULL);
		}
		if (!isnan(wt[2][op])) {
			snprintf(name, sizeof(name), "%s_%s_waits", type,
				 op_name[op]);
			bench_figure(name, wt[2][op], "rt", NAN, NULL);
		}
		if (!isnan(rw[2][op])) {
			snprintf(name, sizeof(name), "%s_%s_wire", type,
				 op_name[op]);
			bench_figure(name, rw[2][op], "msgs", NAN, NULL);
		}
	}
	snprintf(name, sizeof(name), "%s_ls1000", type);
	bench_figure(name, ls[2], "ms", ls[0], NULL);
	snprintf(name, sizeof(name), "%s_ls1000_p0", type);
	bench_figure(name, ls[1], "ms", ls[0], NULL);
	if (!isnan(lsru[2])) {
		snprintf(name, sizeof(name), "%s_ls1000_rt", type);
		bench_figure(name, lsru[2], "rt", NAN, "value<=5");
	}
	snprintf(name, sizeof(name), "%s_ls1000_rt_time", type);
	bench_figure(name, round((ls[2] - ls[1]) / rt), "rt", NAN,
		     isnan(lsru[2]) ? "value<=5" : NULL);
	printf("# %s: round trips from time (_rt_time), unrounded: create %.2f, stat "
	       "%.2f, rename %.2f, unlink %.2f, ls1000 %.1f\n", type,
	       rts[CREATE], rts[STAT], rts[RENAME], rts[UNLINK],
	       (ls[2] - ls[1]) / rt);
	if (!isnan(lsrq[2])) {
		snprintf(name, sizeof(name), "%s_ls1000_req", type);
		bench_figure(name, lsrq[2], "req", NAN, NULL);
	}
	if (!isnan(lswt[2])) {
		snprintf(name, sizeof(name), "%s_ls1000_waits", type);
		bench_figure(name, lswt[2], "rt", NAN, NULL);
	}
	if (!isnan(lsrw[2])) {
		snprintf(name, sizeof(name), "%s_ls1000_wire", type);
		bench_figure(name, lsrw[2], "msgs", NAN, NULL);
	}
	snprintf(name, sizeof(name), "%s_seq_write", type);
	bench_figure(name, wr[2], "MB/s", wr[0], "value>=100");
	snprintf(name, sizeof(name), "%s_seq_write_p0", type);
	bench_figure(name, wr[1], "MB/s", wr[0], NULL);
	snprintf(name, sizeof(name), "%s_seq_read", type);
	bench_figure(name, rd[2], "MB/s", rd[0], "value>=100");
	snprintf(name, sizeof(name), "%s_seq_read_p0", type);
	bench_figure(name, rd[1], "MB/s", rd[0], NULL);
	if (!isnan(wrq[2]))
		printf("# %s: requests for %d MiB (the mount's count): write "
		       "%.0f, read %.0f (+0: %.0f, %.0f)\n", type, mib, wrq[2],
		       rdq[2], wrq[1], rdq[1]);
	if (!isnan(wrw[2]))
		printf("# %s: requests for %d MiB (on the wire): write %.0f, "
		       "read %.0f (+0: %.0f, %.0f)\n", type, mib, wrw[2],
		       rdw[2], wrw[1], rdw[1]);
	for (int k = 1; k < 3; k++) {
		int r = uvfs_umount(c, tg[k].mnt, 0);
		if (r)
			uvfs_umount(c, tg[k].mnt, UVFS_UMOUNT_FORCE);
	}
	uvfs_settle(u, 5000);
	uvfs_ctx_free(c);
	uvfs_free(u);
	free(buf);
	for (int k = 0; k < 3; k++)
		for (int op = 0; op < NOPS; op++)
			free(ms[k][op]);
	return 0;
}
