/*
 * fuse_io.c - the workloads of bench/bench_fuse, run against any directory
 * (a uvfsd mount, a passthrough_ll mount, tmpfs).  One workload per run;
 * each prints "key value" lines (rates per second) on stdout, and a message
 * on stderr with exit status 1 if anything fails.
 *
 *   bench_fuse_io meta DIR N WAIT_MS
 *       create N empty files in DIR (open O_CREAT|O_EXCL + close), wait
 *       WAIT_MS (untimed: lets the kernel's entry and attribute caches
 *       expire, 1 s on both FUSE file systems), fstatat each, unlinkat
 *       each.  Prints create, stat, unlink (ops/s).
 *   bench_fuse_io tree DIR NDIRS NFILES
 *       NDIRS directories of NFILES empty files each (untimed set-up).
 *   bench_fuse_io fill FILE MIB
 *       writes FILE with MIB MiB of non-zero pseudo-random data (set-up).
 *   bench_fuse_io rand read|write FILE SECONDS SEED [buffered]
 *       4 KiB pread or pwrite at random 4 KiB-aligned offsets of FILE (its
 *       size as it is) for SECONDS.  O_DIRECT if the file system takes it
 *       (so that every operation reaches the file system, not the page
 *       cache), else buffered.  "buffered": never O_DIRECT, and an fsync
 *       at the end, timed (for a writeback cache: what was written must
 *       have reached the file system).  Prints ops (ops/s) and direct (1
 *       or 0).
 *   bench_fuse_io ops create|unlink DIR N
 *   bench_fuse_io ops read|write FILE N SEED
 *       exactly N operations, untimed (bench_fuse_instr counts what the
 *       daemon does for them): creates of DIR/f000000.. (open
 *       O_CREAT|O_EXCL + close), unlinks of the same names, or 4 KiB
 *       preads or pwrites at random aligned offsets of FILE with O_DIRECT
 *       (buffered if the file system refuses it, as rand).  Prints
 *       direct (1 or 0) for read and write.
 *   bench_fuse_io fsx FILE OPS SEED
 *       fsx-style: OPS random operations on one open file of at most
 *       FSX_MAX bytes: pread (verified against an in-memory model of the
 *       file), write (lseek + write), pwrite, ftruncate; then the size is
 *       checked.  Prints ops (ops/s).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BLK 4096
#define FSX_MAX (1024 * 1024)   /* largest file of fsx */
#define FSX_MAXLEN 65536        /* largest single read or write of fsx */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

static void die(const char *what, const char *arg)
{
	fprintf(stderr, "bench_fuse_io: %s %s: %s\n", what, arg ? arg : "",
		strerror(errno));
	exit(1);
}

/* xorshift64*: fast, and the same sequence for the same seed everywhere. */
static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1DULL;
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static int meta(const char *dir, long n, long wait_ms)
{
	char name[32];
	struct stat st;
	double t0, t1, t2, t3;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);

	if (dfd < 0)
		die("open", dir);
	t0 = now();
	for (long i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%06ld", i);
		int fd = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0)
			die("create", name);
		close(fd);
	}
	t1 = now();
	sleep_ms(wait_ms);
	t2 = now();
	for (long i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%06ld", i);
		if (fstatat(dfd, name, &st, 0) != 0)
			die("stat", name);
	}
	t3 = now();
	printf("create %.1f\n", (double)n / (t1 - t0));
	printf("stat %.1f\n", (double)n / (t3 - t2));
	t0 = now();
	for (long i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%06ld", i);
		if (unlinkat(dfd, name, 0) != 0)
			die("unlink", name);
	}
	t1 = now();
	printf("unlink %.1f\n", (double)n / (t1 - t0));
	close(dfd);
	return 0;
}

static int tree(const char *dir, long ndirs, long nfiles)
{
	char name[64];
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);

	if (dfd < 0)
		die("open", dir);
	for (long d = 0; d < ndirs; d++) {
		snprintf(name, sizeof(name), "d%04ld", d);
		if (mkdirat(dfd, name, 0755) != 0)
			die("mkdir", name);
		for (long f = 0; f < nfiles; f++) {
			snprintf(name, sizeof(name), "d%04ld/f%06ld", d, f);
			int fd = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY,
					0644);
			if (fd < 0)
				die("create", name);
			close(fd);
		}
	}
	close(dfd);
	return 0;
}

static int fill(const char *path, long mib)
{
	static uint64_t buf[1 << 17];   /* 1 MiB */
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);

	if (fd < 0)
		die("create", path);
	rng = 42;
	for (long m = 0; m < mib; m++) {
		for (size_t i = 0; i < sizeof(buf) / sizeof(buf[0]); i++)
			buf[i] = rnd() | 1;
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			die("write", path);
	}
	if (close(fd) != 0)
		die("close", path);
	return 0;
}

/* The file of a random-I/O run, opened O_DIRECT unless buffered (or the
 * file system refuses it: *direct says which), its size in blocks in
 * *nblk and a block-aligned buffer in *buf; => the descriptor, or -1
 * (an empty file, out of memory: said). */
static int rand_open(int writing, const char *path, int buffered,
		     int *direct, uint64_t *nblk, void **buf)
{
	struct stat st;
	int fd = open(path, (writing ? O_RDWR : O_RDONLY) |
			    (buffered ? 0 : O_DIRECT));

	*direct = !buffered;
	if (fd < 0 && errno == EINVAL && !buffered) {
		*direct = 0;
		fd = open(path, writing ? O_RDWR : O_RDONLY);
	}
	if (fd < 0)
		die("open", path);
	if (fstat(fd, &st) != 0)
		die("fstat", path);
	*nblk = (uint64_t)st.st_size / BLK;
	if (*nblk == 0) {
		fprintf(stderr, "bench_fuse_io: %s: empty file\n", path);
		close(fd);
		return -1;
	}
	if (posix_memalign(buf, BLK, BLK) != 0) {
		close(fd);
		return -1;
	}
	memset(*buf, 0x5a, BLK);
	return fd;
}

/* One 4 KiB pread or pwrite at a random block of the file. */
static void rand_one(int writing, int fd, void *buf, uint64_t nblk,
		     const char *path)
{
	off_t off = (off_t)(rnd_below(nblk) * BLK);
	ssize_t r = writing ? pwrite(fd, buf, BLK, off)
			    : pread(fd, buf, BLK, off);

	if (r != BLK) {
		if (r >= 0)
			errno = EIO;
		die(writing ? "pwrite" : "pread", path);
	}
}

static int rand_io(int writing, const char *path, double secs, int buffered)
{
	uint64_t nblk;
	void *buf;
	int direct;
	int fd = rand_open(writing, path, buffered, &direct, &nblk, &buf);

	if (fd < 0)
		return 1;
	long ops = 0;
	double t0 = now(), t;
	do {
		for (int i = 0; i < 64; i++, ops++)
			rand_one(writing, fd, buf, nblk, path);
		t = now();
	} while (t - t0 < secs);
	if (buffered && fsync(fd) != 0)
		die("fsync", path);
	t = now();
	printf("ops %.1f\n", (double)ops / (t - t0));
	printf("direct %d\n", direct);
	free(buf);
	close(fd);
	return 0;
}

/* A fixed number of operations (ops). */
static int count_names(int unlinking, const char *dir, long n)
{
	char name[32];
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);

	if (dfd < 0)
		die("open", dir);
	for (long i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%06ld", i);
		if (unlinking) {
			if (unlinkat(dfd, name, 0) != 0)
				die("unlink", name);
			continue;
		}
		int fd = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0)
			die("create", name);
		close(fd);
	}
	close(dfd);
	return 0;
}

static int count_io(int writing, const char *path, long n)
{
	uint64_t nblk;
	void *buf;
	int direct;
	int fd = rand_open(writing, path, 0, &direct, &nblk, &buf);

	if (fd < 0)
		return 1;
	for (long i = 0; i < n; i++)
		rand_one(writing, fd, buf, nblk, path);
	printf("direct %d\n", direct);
	free(buf);
	close(fd);
	return 0;
}

/* fsx: the model is the file's bytes, model_size its size. */
static unsigned char model[FSX_MAX], wbuf[FSX_MAXLEN], rbuf[FSX_MAXLEN];
static off_t model_size;

static void fsx_fail(long op, const char *what, off_t off, size_t len)
{
	fprintf(stderr, "bench_fuse_io: fsx: op %ld: %s at %lld len %zu "
		"(model size %lld)\n", op, what, (long long)off, len,
		(long long)model_size);
	exit(1);
}

static void fsx_write(int fd, long op, int positioned)
{
	size_t len = 1 + rnd_below(FSX_MAXLEN);
	off_t off = (off_t)rnd_below(FSX_MAX - len + 1);
	ssize_t r;

	for (size_t i = 0; i < len; i++)
		wbuf[i] = (unsigned char)(op * 7 + i * 13 + 1);
	if (positioned) {
		r = pwrite(fd, wbuf, len, off);
	} else {
		if (lseek(fd, off, SEEK_SET) != off)
			fsx_fail(op, "lseek failed", off, len);
		r = write(fd, wbuf, len);
	}
	if (r != (ssize_t)len)
		fsx_fail(op, positioned ? "short pwrite" : "short write", off,
			 len);
	if (off > model_size)   /* a hole reads as zeros */
		memset(model + model_size, 0, (size_t)(off - model_size));
	memcpy(model + off, wbuf, len);
	if (off + (off_t)len > model_size)
		model_size = off + (off_t)len;
}

static void fsx_read(int fd, long op)
{
	size_t len = 1 + rnd_below(FSX_MAXLEN);
	off_t off = (off_t)rnd_below(FSX_MAX - len + 1);
	ssize_t want = off >= model_size ? 0
		: (ssize_t)(model_size - off < (off_t)len ? model_size - off
							   : (off_t)len);
	ssize_t r = pread(fd, rbuf, len, off);

	if (r != want)
		fsx_fail(op, r < 0 ? "pread failed" : "pread: wrong length",
			 off, len);
	if (memcmp(rbuf, model + off, (size_t)r) != 0)
		fsx_fail(op, "pread: data differs from the model", off, len);
}

static void fsx_truncate(int fd, long op)
{
	off_t size = (off_t)rnd_below(FSX_MAX + 1);

	if (ftruncate(fd, size) != 0)
		fsx_fail(op, "ftruncate failed", size, 0);
	if (size > model_size)
		memset(model + model_size, 0, (size_t)(size - model_size));
	model_size = size;
}

static int fsx(const char *path, long nops)
{
	struct stat st;
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);

	if (fd < 0)
		die("create", path);
	model_size = 0;
	double t0 = now();
	for (long op = 0; op < nops; op++) {
		unsigned k = (unsigned)rnd_below(100);
		if (k < 40)
			fsx_read(fd, op);
		else if (k < 60)
			fsx_write(fd, op, 0);
		else if (k < 90)
			fsx_write(fd, op, 1);
		else
			fsx_truncate(fd, op);
	}
	double t = now() - t0;
	if (fstat(fd, &st) != 0 || st.st_size != model_size)
		fsx_fail(nops, "final size differs", st.st_size, 0);
	close(fd);
	printf("ops %.1f\n", (double)nops / t);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_fuse_io meta DIR N WAIT_MS\n"
		"       bench_fuse_io tree DIR NDIRS NFILES\n"
		"       bench_fuse_io fill FILE MIB\n"
		"       bench_fuse_io rand read|write FILE SECONDS SEED [buffered]\n"
		"       bench_fuse_io ops create|unlink DIR N\n"
		"       bench_fuse_io ops read|write FILE N SEED\n"
		"       bench_fuse_io fsx FILE OPS SEED\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "meta") == 0 && argc == 5)
		return meta(argv[2], atol(argv[3]), atol(argv[4]));
	if (strcmp(argv[1], "tree") == 0 && argc == 5)
		return tree(argv[2], atol(argv[3]), atol(argv[4]));
	if (strcmp(argv[1], "fill") == 0 && argc == 4)
		return fill(argv[2], atol(argv[3]));
	if (strcmp(argv[1], "rand") == 0 && (argc == 6 || (argc == 7 &&
	    strcmp(argv[6], "buffered") == 0))) {
		rng = strtoull(argv[5], NULL, 0) | 1;
		if (strcmp(argv[2], "read") == 0)
			return rand_io(0, argv[3], atof(argv[4]), argc == 7);
		if (strcmp(argv[2], "write") == 0)
			return rand_io(1, argv[3], atof(argv[4]), argc == 7);
	}
	if (strcmp(argv[1], "ops") == 0 && argc == 5) {
		if (strcmp(argv[2], "create") == 0)
			return count_names(0, argv[3], atol(argv[4]));
		if (strcmp(argv[2], "unlink") == 0)
			return count_names(1, argv[3], atol(argv[4]));
	}
	if (strcmp(argv[1], "ops") == 0 && argc == 6) {
		rng = strtoull(argv[5], NULL, 0) | 1;
		if (strcmp(argv[2], "read") == 0)
			return count_io(0, argv[3], atol(argv[4]));
		if (strcmp(argv[2], "write") == 0)
			return count_io(1, argv[3], atol(argv[4]));
	}
	if (strcmp(argv[1], "fsx") == 0 && argc == 5) {
		rng = strtoull(argv[4], NULL, 0) | 1;
		return fsx(argv[2], atol(argv[3]));
	}
	usage();
	return 2;
}
