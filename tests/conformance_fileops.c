/*
 * conformance_fileops.c - the conformance body's tests of the Linux file
 * calls: fallocate, lseek's SEEK_DATA / SEEK_HOLE, copy_file_range.
 * Included by conformance.c (it uses that file's helpers and fixtures);
 * not a program of its own.
 *
 * The answers are Linux's on tmpfs, measured call by call (the same
 * sequences through FUSE: tests/fuse/fileops.sh).  A type that keeps no
 * holes and has no fallocate by design (9P2000.L and NFSv3: no such
 * request; Linux's v9fs and NFSv3 clients answer the same) is checked for
 * those answers: -EOPNOTSUPP from fallocate after the same argument
 * checks, and the generic map (all data, one hole at the end of file).
 */
#include <linux/falloc.h>

#define PG 4096
#define KEEP FALLOC_FL_KEEP_SIZE
#define PUNCH (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)

/* Does the type keep holes and allocate (memfs and the test shim over
 * it), or is it one that cannot (the file servers, NFS)? */
static bool holes_native(void)
{
	return strcmp(fs_type, "memfs") == 0 || strcmp(fs_type, "testfs") == 0;
}

static off_t fsize(int fd)
{
	struct stat st;

	OK(uvfs_fstat(C, fd, &st));
	return st.st_size;
}

static long fblocks(int fd)
{
	struct stat st;

	OK(uvfs_fstat(C, fd, &st));
	return (long)st.st_blocks;
}

/* The data extents of fd as "start-end " pairs, from SEEK_DATA and
 * SEEK_HOLE. */
static const char *data_map(int fd)
{
	static char out[512];
	off_t off = 0, d, h, size = fsize(fd);
	size_t len = 0;

	out[0] = '\0';
	while (off < size) {
		d = uvfs_lseek(C, fd, off, SEEK_DATA);
		if (d == -ENXIO)
			break;
		OK(d);
		h = OK(uvfs_lseek(C, fd, d, SEEK_HOLE));
		assert_true(h > d);
		len += (size_t)snprintf(out + len, sizeof(out) - len,
					"%lld-%lld ", (long long)d,
					(long long)h);
		assert_true(len < sizeof(out));
		off = h;
	}
	return out;
}

/* "a-b " for one extent, in a static buffer of its own per call site. */
#define EXT(buf, a, b) (snprintf((buf), sizeof(buf), "%lld-%lld ",      \
				 (long long)(a), (long long)(b)), (buf))

static void test_fallocate(void **state)
{
	char buf[PG], m[64];
	struct stat st;
	int fd;

	(void)state;
	fd = (int)OK(uvfs_open(C, "f", O_CREAT | O_RDWR, 0644));
	assert_int_equal(OK(uvfs_write(C, fd, "abc", 3)), 3);
	if (!holes_native()) {
		ERR(uvfs_fallocate(C, fd, 0, 0, 10000), EOPNOTSUPP);
		ERR(uvfs_fallocate(C, fd, KEEP, 0, 10000), EOPNOTSUPP);
		ERR(uvfs_fallocate(C, fd, PUNCH, 0, 1), EOPNOTSUPP);
		assert_int_equal(fsize(fd), 3);
		ASSERT_CONTENT(C, "f", "abc");
		OK(uvfs_close(C, fd));
		return;
	}
	/* mode 0: allocates, the size grows; the data stays */
	OK(uvfs_fallocate(C, fd, 0, 0, 10000));
	assert_int_equal(fsize(fd), 10000);
	assert_int_equal(fblocks(fd), 3 * 8);
	assert_int_equal(OK(uvfs_pread(C, fd, buf, sizeof(buf), 0)), PG);
	assert_memory_equal(buf, "abc\0\0", 5);
	/* allocated but never written: a hole to SEEK_DATA (tmpfs) */
	assert_string_equal(data_map(fd), EXT(m, 0, PG));
	/* KEEP_SIZE: pages past the end, counted, the size stays */
	OK(uvfs_fallocate(C, fd, KEEP, 0, 50000));
	assert_int_equal(fsize(fd), 10000);
	assert_int_equal(fblocks(fd), 13 * 8);
	/* a smaller mode-0 range changes no size */
	OK(uvfs_fallocate(C, fd, 0, 100, 10));
	assert_int_equal(fsize(fd), 10000);
	/* truncating to the same size frees what lies past it (tmpfs) */
	OK(uvfs_ftruncate(C, fd, 10000));
	assert_int_equal(fblocks(fd), 3 * 8);
	/* PUNCH_HOLE: zeros, whole pages freed, size kept */
	memset(buf, 'd', sizeof(buf));
	for (int i = 0; i < 4; i++)
		assert_int_equal(OK(uvfs_pwrite(C, fd, buf, PG,
						(off_t)i * PG)), PG);
	assert_int_equal(fsize(fd), 4 * PG);
	assert_int_equal(fblocks(fd), 4 * 8);
	OK(uvfs_fallocate(C, fd, PUNCH, PG + 10, 2 * PG));
	assert_int_equal(fsize(fd), 4 * PG);
	assert_int_equal(fblocks(fd), 3 * 8); /* page 2 went */
	assert_int_equal(OK(uvfs_pread(C, fd, buf, PG, PG)), PG);
	assert_int_equal(buf[9], 'd');
	assert_int_equal(buf[10], 0);
	assert_int_equal(buf[PG - 1], 0);
	assert_int_equal(OK(uvfs_pread(C, fd, buf, PG, 3 * PG)), PG);
	assert_int_equal(buf[9], 0);
	assert_int_equal(buf[10], 'd');
	/* a punch past the end of file changes nothing but the times */
	OK(uvfs_fallocate(C, fd, PUNCH, 100 * PG, PG));
	assert_int_equal(fsize(fd), 4 * PG);
	/* every success sets mtime and ctime (tmpfs: file_modified) */
	age("f");
	OK(uvfs_fallocate(C, fd, KEEP, 0, 1));
	st = st_of(C, "f");
	assert_true(st.st_mtim.tv_sec != 1000);
	/* the largest offset: allocating one byte below it works */
	OK(uvfs_fallocate(C, fd, KEEP, INT64_MAX - PG + 1, PG - 1));
	assert_int_equal(fsize(fd), 4 * PG);
	OK(uvfs_close(C, fd));
	/* O_TRUNC of an empty file frees what was reserved past its end */
	fd = (int)OK(uvfs_open(C, "g", O_CREAT | O_RDWR, 0644));
	OK(uvfs_fallocate(C, fd, KEEP, 0, 2 * PG));
	assert_int_equal(fblocks(fd), 2 * 8);
	OK(uvfs_close(C, fd));
	fd = (int)OK(uvfs_open(C, "g", O_RDWR | O_TRUNC, 0));
	assert_int_equal(fblocks(fd), 0);
	OK(uvfs_close(C, fd));
}

static void test_fallocate_errors(void **state)
{
	static const int bad_modes[] = {
		FALLOC_FL_PUNCH_HOLE, FALLOC_FL_NO_HIDE_STALE,
		FALLOC_FL_NO_HIDE_STALE | PUNCH,
		FALLOC_FL_COLLAPSE_RANGE | KEEP, FALLOC_FL_INSERT_RANGE | KEEP,
		FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE | KEEP, 0x100,
	};
	/* accepted by the kernel, refused by tmpfs (and by memfs) */
	static const int tmpfs_no[] = {
		FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_ZERO_RANGE,
		FALLOC_FL_ZERO_RANGE | KEEP, FALLOC_FL_INSERT_RANGE,
		FALLOC_FL_UNSHARE_RANGE, FALLOC_FL_UNSHARE_RANGE | KEEP,
	};
	int fd, ro, wo, ap, path, dir, fifo, dev;

	(void)state;
	fd = (int)OK(uvfs_open(C, "f", O_CREAT | O_RDWR, 0644));
	ERR(uvfs_fallocate(C, fd, 0, 0, 0), EINVAL);
	ERR(uvfs_fallocate(C, fd, 0, 0, -1), EINVAL);
	ERR(uvfs_fallocate(C, fd, 0, -1, 10), EINVAL);
	ERR(uvfs_fallocate(C, fd, PUNCH, 0, 0), EINVAL);
	for (size_t i = 0; i < sizeof(bad_modes) / sizeof(bad_modes[0]); i++)
		ERR(uvfs_fallocate(C, fd, bad_modes[i], 0, PG), EOPNOTSUPP);
	for (size_t i = 0; i < sizeof(tmpfs_no) / sizeof(tmpfs_no[0]); i++)
		ERR(uvfs_fallocate(C, fd, tmpfs_no[i], 0, PG), EOPNOTSUPP);
	/* past the largest offset, or wrapping */
	ERR(uvfs_fallocate(C, fd, 0, INT64_MAX - 10, 100), EFBIG);
	ERR(uvfs_fallocate(C, fd, 0, (off_t)1 << 62, (off_t)1 << 62), EFBIG);
	assert_int_equal(fsize(fd), 0);

	/* the descriptor: EINVAL and the mode come before EBADF (Linux) */
	ro = (int)OK(uvfs_open(C, "f", O_RDONLY, 0));
	ERR(uvfs_fallocate(C, ro, 0, 0, 10), EBADF);
	ERR(uvfs_fallocate(C, ro, PUNCH, 0, 10), EBADF);
	ERR(uvfs_fallocate(C, ro, 0x100, 0, 10), EOPNOTSUPP);
	ERR(uvfs_fallocate(C, ro, 0, -1, 10), EINVAL);
	path = (int)OK(uvfs_open(C, "f", O_PATH, 0));
	ERR(uvfs_fallocate(C, path, 0, 0, 10), EBADF);
	ERR(uvfs_fallocate(C, 999, 0, 0, 10), EBADF);
	wo = (int)OK(uvfs_open(C, "f", O_WRONLY, 0));
	ap = (int)OK(uvfs_open(C, "f", O_WRONLY | O_APPEND, 0));
	if (holes_native()) {
		/* O_APPEND is no append-only inode: every mode works */
		OK(uvfs_fallocate(C, wo, 0, 0, 10));
		OK(uvfs_fallocate(C, ap, 0, 0, 20));
		OK(uvfs_fallocate(C, ap, PUNCH, 0, 10));
		assert_int_equal(fsize(fd), 20);
	} else {
		ERR(uvfs_fallocate(C, wo, 0, 0, 10), EOPNOTSUPP);
		ERR(uvfs_fallocate(C, ap, 0, 0, 10), EOPNOTSUPP);
	}
	/* the type: only a regular file */
	OK(uvfs_mkdir(C, "d", 0755));
	dir = (int)OK(uvfs_open(C, "d", O_RDONLY | O_DIRECTORY, 0));
	ERR(uvfs_fallocate(C, dir, 0, 0, 10), EBADF);
	OK(uvfs_mknod(C, "p", S_IFIFO | 0644, 0));
	fifo = (int)OK(uvfs_open(C, "p", O_RDWR, 0));
	ERR(uvfs_fallocate(C, fifo, 0, 0, 10), ESPIPE);
	ERR(uvfs_fallocate(C, fifo, 0, -1, 10), EINVAL);
	ERR(uvfs_fallocate(C, fifo, 0x100, 0, 10), EOPNOTSUPP);
	OK(uvfs_mknod(C, "n", S_IFCHR | 0666, makedev(1, 3)));
	dev = (int)OK(uvfs_open(C, "n", O_RDWR, 0));
	ERR(uvfs_fallocate(C, dev, 0, 0, 10), ENODEV);
	for (int i = 0; i < 2; i++)
		ERR(uvfs_fallocate(C, i ? dev : fifo, 0, INT64_MAX, 10),
		    i ? ENODEV : ESPIPE);
	OK(uvfs_close(C, dev));
	OK(uvfs_close(C, fifo));
	OK(uvfs_close(C, dir));
	OK(uvfs_close(C, ap));
	OK(uvfs_close(C, wo));
	OK(uvfs_close(C, path));
	OK(uvfs_close(C, ro));
	OK(uvfs_close(C, fd));
}

/* fallocate and copy_file_range clear set-user-id and set-group-id as a
 * write does, for anyone but root, once they changed something. */
static void test_fileops_setid(void **state)
{
	struct uvfs_ctx *u = new_ctx(1000, 1000);
	off_t oi = 0, oo = 0;
	int fd, src;

	(void)state;
	put(C, "src", "0123456789");
	put(C, "f", "");
	/* the writer owns it (tmpfs clears the bits for the owner too; an
	 * NFS server lets only the owner change the mode) */
	OK(uvfs_chown(C, "f", 1000, 1000));
	OK(uvfs_chmod(C, "f", 06777));
	fd = (int)OK(uvfs_open(u, "f", O_RDWR, 0));
	if (holes_native()) {
		OK(uvfs_fallocate(u, fd, KEEP, 0, 10));
		assert_int_equal(st_of(C, "f").st_mode & 07777, 0777);
	} else {
		/* refused before anything changed */
		ERR(uvfs_fallocate(u, fd, 0, 0, 10), EOPNOTSUPP);
		assert_int_equal(st_of(C, "f").st_mode & 07777, 06777);
	}
	OK(uvfs_close(u, fd));
	/* root keeps them */
	OK(uvfs_chmod(C, "f", 06777));
	fd = (int)OK(uvfs_open(C, "f", O_RDWR, 0));
	src = (int)OK(uvfs_open(C, "src", O_RDONLY, 0));
	assert_int_equal(OK(uvfs_copy_file_range(C, src, &oi, fd, &oo, 4, 0)),
			 4);
	if (holes_native())
		OK(uvfs_fallocate(C, fd, 0, 0, 10));
	assert_int_equal(st_of(C, "f").st_mode & 07777, 06777);
	OK(uvfs_close(C, fd));
	OK(uvfs_close(C, src));
	/* a copy of nothing clears nothing; a copy of something does */
	fd = (int)OK(uvfs_open(u, "f", O_RDWR, 0));
	src = (int)OK(uvfs_open(u, "src", O_RDONLY, 0));
	oi = 100;
	assert_int_equal(OK(uvfs_copy_file_range(u, src, &oi, fd, NULL, 4, 0)),
			 0);
	assert_int_equal(st_of(C, "f").st_mode & 07777, 06777);
	oi = 0;
	assert_int_equal(OK(uvfs_copy_file_range(u, src, &oi, fd, NULL, 4, 0)),
			 4);
	assert_int_equal(st_of(C, "f").st_mode & 07777, 0777);
	OK(uvfs_close(u, src));
	OK(uvfs_close(u, fd));
}

static void test_seek_data(void **state)
{
	char zeros[PG] = { 0 }, m[64], m2[64];
	int fd, dir, fifo;

	(void)state;
	fd = (int)OK(uvfs_open(C, "s", O_CREAT | O_RDWR, 0644));
	ERR(uvfs_lseek(C, fd, 0, SEEK_DATA), ENXIO);
	ERR(uvfs_lseek(C, fd, 0, SEEK_HOLE), ENXIO);
	ERR(uvfs_lseek(C, fd, -1, SEEK_DATA), ENXIO);
	ERR(uvfs_lseek(C, fd, -1, SEEK_HOLE), ENXIO);
	assert_int_equal(OK(uvfs_pwrite(C, fd, "x", 1, 3 * PG + 10)), 1);
	ERR(uvfs_lseek(C, fd, 3 * PG + 11, SEEK_DATA), ENXIO);
	ERR(uvfs_lseek(C, fd, 3 * PG + 11, SEEK_HOLE), ENXIO);
	if (!holes_native()) {
		/* the generic answer: all data, the hole at the end */
		assert_int_equal(OK(uvfs_lseek(C, fd, 5, SEEK_DATA)), 5);
		assert_int_equal(OK(uvfs_lseek(C, fd, 0, SEEK_CUR)), 5);
		assert_int_equal(OK(uvfs_lseek(C, fd, 5, SEEK_HOLE)),
				 3 * PG + 11);
		assert_string_equal(data_map(fd), EXT(m, 0, 3 * PG + 11));
		OK(uvfs_ftruncate(C, fd, 10 * PG));
		assert_string_equal(data_map(fd), EXT(m, 0, 10 * PG));
	} else {
		/* what tmpfs answers for the same calls */
		assert_int_equal(OK(uvfs_lseek(C, fd, 0, SEEK_DATA)), 3 * PG);
		assert_int_equal(OK(uvfs_lseek(C, fd, 0, SEEK_CUR)), 3 * PG);
		assert_int_equal(OK(uvfs_lseek(C, fd, 0, SEEK_HOLE)), 0);
		assert_int_equal(OK(uvfs_lseek(C, fd, 3 * PG + 5, SEEK_DATA)),
				 3 * PG + 5);
		assert_string_equal(data_map(fd), EXT(m, 3 * PG, 3 * PG + 11));
		OK(uvfs_ftruncate(C, fd, 10 * PG + 5));
		assert_string_equal(data_map(fd), EXT(m, 3 * PG, 4 * PG));
		ERR(uvfs_lseek(C, fd, 5 * PG, SEEK_DATA), ENXIO);
		assert_int_equal(OK(uvfs_lseek(C, fd, 10 * PG + 4, SEEK_HOLE)),
				 10 * PG + 4);
		/* written zeros are data */
		assert_int_equal(OK(uvfs_pwrite(C, fd, zeros, PG, 5 * PG)), PG);
		snprintf(m2, sizeof(m2), "%s%s", EXT(m, 3 * PG, 4 * PG), "");
		EXT(m, 5 * PG, 6 * PG);
		strncat(m2, m, sizeof(m2) - strlen(m2) - 1);
		assert_string_equal(data_map(fd), m2);
		/* allocated is no data; a punched page is a hole */
		OK(uvfs_fallocate(C, fd, 0, 7 * PG + 100, 10));
		OK(uvfs_fallocate(C, fd, KEEP, 20 * PG, PG));
		assert_string_equal(data_map(fd), m2);
		OK(uvfs_fallocate(C, fd, PUNCH, 5 * PG + 10, 100));
		assert_string_equal(data_map(fd), m2);
		OK(uvfs_fallocate(C, fd, PUNCH, 5 * PG, PG));
		assert_string_equal(data_map(fd), EXT(m, 3 * PG, 4 * PG));
		/* a page cut by the size is data up to it */
		OK(uvfs_ftruncate(C, fd, 3 * PG + 100));
		assert_string_equal(data_map(fd), EXT(m, 3 * PG, 3 * PG + 100));
		/* extending over reserved pages: still holes */
		OK(uvfs_fallocate(C, fd, KEEP, 20 * PG, PG));
		OK(uvfs_ftruncate(C, fd, 30 * PG));
		assert_string_equal(data_map(fd), EXT(m, 3 * PG, 4 * PG));
	}
	/* directories and fifos */
	OK(uvfs_mkdir(C, "d", 0755));
	dir = (int)OK(uvfs_open(C, "d", O_RDONLY | O_DIRECTORY, 0));
	ERR(uvfs_lseek(C, dir, 0, SEEK_DATA), EINVAL);
	ERR(uvfs_lseek(C, dir, 0, SEEK_HOLE), EINVAL);
	OK(uvfs_mknod(C, "p", S_IFIFO | 0644, 0));
	fifo = (int)OK(uvfs_open(C, "p", O_RDWR, 0));
	ERR(uvfs_lseek(C, fifo, 0, SEEK_DATA), ESPIPE);
	OK(uvfs_close(C, fifo));
	OK(uvfs_close(C, dir));
	OK(uvfs_close(C, fd));
}

static void test_copy_file_range(void **state)
{
	char buf[256];
	off_t oi, oo;
	int a, b;

	(void)state;
	a = (int)OK(uvfs_open(C, "a", O_CREAT | O_RDWR, 0644));
	b = (int)OK(uvfs_open(C, "b", O_CREAT | O_RDWR, 0644));
	memset(buf, 'A', 100);
	OK(uvfs_pwrite(C, a, buf, 100, 0));
	memset(buf, 'B', 100);
	OK(uvfs_pwrite(C, a, buf, 100, 5 * PG));
	/* everything, at given offsets: the positions stay */
	oi = 0;
	oo = 0;
	assert_int_equal(OK(uvfs_copy_file_range(C, a, &oi, b, &oo, 10 * PG,
						 0)), 5 * PG + 100);
	assert_int_equal(oi, 5 * PG + 100);
	assert_int_equal(oo, 5 * PG + 100);
	assert_int_equal(OK(uvfs_lseek(C, a, 0, SEEK_CUR)), 0);
	assert_int_equal(OK(uvfs_lseek(C, b, 0, SEEK_CUR)), 0);
	assert_int_equal(fsize(b), 5 * PG + 100);
	OK(uvfs_pread(C, b, buf, 4, 98));
	assert_memory_equal(buf, "AA\0\0", 4);
	OK(uvfs_pread(C, b, buf, 4, 5 * PG + 96));
	assert_memory_equal(buf, "BBBB", 4);
	/* at the positions, which advance */
	assert_int_equal(OK(uvfs_copy_file_range(C, a, NULL, b, NULL, 50, 0)),
			 50);
	assert_int_equal(OK(uvfs_lseek(C, a, 0, SEEK_CUR)), 50);
	assert_int_equal(OK(uvfs_lseek(C, b, 0, SEEK_CUR)), 50);
	oi = 200;
	assert_int_equal(OK(uvfs_copy_file_range(C, a, &oi, b, NULL, 10, 0)),
			 10);
	assert_int_equal(OK(uvfs_lseek(C, a, 0, SEEK_CUR)), 50);
	assert_int_equal(OK(uvfs_lseek(C, b, 0, SEEK_CUR)), 60);
	assert_int_equal(oi, 210);
	/* nothing to copy: 0, nothing moves */
	oi = 0;
	assert_int_equal(OK(uvfs_copy_file_range(C, a, &oi, b, NULL, 0, 0)),
			 0);
	oi = 10 * PG;
	assert_int_equal(OK(uvfs_copy_file_range(C, a, &oi, b, NULL, 10, 0)),
			 0);
	assert_int_equal(oi, 10 * PG);
	/* cut at the end of the source */
	oi = 5 * PG + 97;
	oo = 0;
	assert_int_equal(OK(uvfs_copy_file_range(C, a, &oi, b, &oo, 10, 0)),
			 3);
	/* within one file: overlapping ranges refused, after the cut */
	oi = 0;
	oo = 50;
	ERR(uvfs_copy_file_range(C, a, &oi, a, &oo, 100, 0), EINVAL);
	oi = 50;
	oo = 0;
	ERR(uvfs_copy_file_range(C, a, &oi, a, &oo, 100, 0), EINVAL);
	oi = 0;
	oo = 50;
	assert_int_equal(OK(uvfs_copy_file_range(C, a, &oi, a, &oo, 50, 0)),
			 50);
	oi = 5 * PG + 50;
	oo = 5 * PG + 100;
	assert_int_equal(OK(uvfs_copy_file_range(C, a, &oi, a, &oo, 100, 0)),
			 50);
	assert_int_equal(fsize(a), 5 * PG + 150);
	/* the flags, the offsets */
	ERR(uvfs_copy_file_range(C, a, NULL, b, NULL, 10, 1), EINVAL);
	ERR(uvfs_copy_file_range(C, a, NULL, b, NULL, 0, 1), EINVAL);
	oi = -1;
	ERR(uvfs_copy_file_range(C, a, &oi, b, NULL, 10, 0), EOVERFLOW);
	oo = -1;
	ERR(uvfs_copy_file_range(C, a, NULL, b, &oo, 10, 0), EOVERFLOW);
	oi = (off_t)1 << 62;
	assert_int_equal(OK(uvfs_copy_file_range(C, a, &oi, b, NULL,
						 (size_t)1 << 62, 0)), 0);
	if (holes_native()) {
		/* cut at the largest offset */
		oi = 0;
		oo = INT64_MAX - 4;
		assert_int_equal(OK(uvfs_copy_file_range(C, a, &oi, b, &oo,
							 10, 0)), 4);
		assert_int_equal(fsize(b), INT64_MAX);
		OK(uvfs_ftruncate(C, b, 0));
	}
	oo = INT64_MAX;
	ERR(uvfs_copy_file_range(C, a, NULL, b, &oo, 10, 0), EFBIG);
	OK(uvfs_close(C, b));
	OK(uvfs_close(C, a));
}

static void test_copy_file_range_errors(void **state)
{
	int a, b, ro, wo, ap, path, dir, fifo, dev, x;

	(void)state;
	put(C, "a", "0123456789");
	a = (int)OK(uvfs_open(C, "a", O_RDWR, 0));
	b = (int)OK(uvfs_open(C, "b", O_CREAT | O_RDWR, 0644));
	ro = (int)OK(uvfs_open(C, "b", O_RDONLY, 0));
	wo = (int)OK(uvfs_open(C, "a", O_WRONLY, 0));
	ap = (int)OK(uvfs_open(C, "b", O_WRONLY | O_APPEND, 0));
	path = (int)OK(uvfs_open(C, "a", O_PATH, 0));
	OK(uvfs_mkdir(C, "d", 0755));
	dir = (int)OK(uvfs_open(C, "d", O_RDONLY | O_DIRECTORY, 0));
	OK(uvfs_mknod(C, "p", S_IFIFO | 0644, 0));
	fifo = (int)OK(uvfs_open(C, "p", O_RDWR, 0));
	OK(uvfs_mknod(C, "n", S_IFCHR | 0666, makedev(1, 3)));
	dev = (int)OK(uvfs_open(C, "n", O_RDWR, 0));

	ERR(uvfs_copy_file_range(C, wo, NULL, b, NULL, 10, 0), EBADF);
	ERR(uvfs_copy_file_range(C, a, NULL, ro, NULL, 10, 0), EBADF);
	ERR(uvfs_copy_file_range(C, a, NULL, ap, NULL, 10, 0), EBADF);
	ERR(uvfs_copy_file_range(C, path, NULL, b, NULL, 10, 0), EBADF);
	ERR(uvfs_copy_file_range(C, a, NULL, 999, NULL, 10, 0), EBADF);
	ERR(uvfs_copy_file_range(C, dir, NULL, b, NULL, 10, 0), EISDIR);
	ERR(uvfs_copy_file_range(C, a, NULL, dir, NULL, 10, 0), EISDIR);
	ERR(uvfs_copy_file_range(C, fifo, NULL, b, NULL, 10, 0), EINVAL);
	ERR(uvfs_copy_file_range(C, a, NULL, fifo, NULL, 10, 0), EINVAL);
	ERR(uvfs_copy_file_range(C, a, NULL, dev, NULL, 10, 0), EINVAL);
	ERR(uvfs_copy_file_range(C, dev, NULL, b, NULL, 10, 0), EINVAL);
	/* the type wins over the flags? no: the flags come first */
	ERR(uvfs_copy_file_range(C, dir, NULL, b, NULL, 10, 4), EINVAL);
	/* across file systems: -EXDEV, even for nothing (tmpfs to tmpfs) */
	mount_memfs("m");
	x = (int)OK(uvfs_open(C, "m/x", O_CREAT | O_RDWR, 0644));
	ERR(uvfs_copy_file_range(C, a, NULL, x, NULL, 10, 0), EXDEV);
	ERR(uvfs_copy_file_range(C, x, NULL, b, NULL, 0, 0), EXDEV);
	assert_int_equal(fsize(x), 0);
	OK(uvfs_close(C, x));
	umount_memfs("m");
	assert_int_equal(fsize(b), 0);
	OK(uvfs_close(C, dev));
	OK(uvfs_close(C, fifo));
	OK(uvfs_close(C, dir));
	OK(uvfs_close(C, path));
	OK(uvfs_close(C, ap));
	OK(uvfs_close(C, wo));
	OK(uvfs_close(C, ro));
	OK(uvfs_close(C, b));
	OK(uvfs_close(C, a));
}

/* A sparse copy: the data lands where it was, the holes read as zeros;
 * on a type that knows its holes the copy wrote them, as tmpfs (which has
 * no copy op: the kernel splices, and a hole copied is zeros written). */
static void test_copy_file_range_sparse(void **state)
{
	static char big[3 * PG + 17];
	char buf[PG], m[64];
	off_t oi = 0, oo = 0;
	int a, b;

	(void)state;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 13 + 1);
	a = (int)OK(uvfs_open(C, "a", O_CREAT | O_RDWR, 0644));
	b = (int)OK(uvfs_open(C, "b", O_CREAT | O_RDWR, 0644));
	OK(uvfs_pwrite(C, a, big, sizeof(big), 10 * PG));
	OK(uvfs_ftruncate(C, a, 40 * PG));
	/* b has data where a has a hole: the copy zeros it */
	memset(buf, 'z', sizeof(buf));
	for (int i = 0; i < 3; i++)
		OK(uvfs_pwrite(C, b, buf, PG, (off_t)i * PG));
	assert_int_equal(OK(uvfs_copy_file_range(C, a, &oi, b, &oo, 40 * PG,
						 0)), 40 * PG);
	assert_int_equal(fsize(b), 40 * PG);
	OK(uvfs_pread(C, b, buf, PG, PG));
	for (size_t i = 0; i < PG; i++)
		if (buf[i] != 0)
			fail_msg("byte %zu of a copied hole is %d", i, buf[i]);
	{
		static char back[sizeof(big)];

		assert_int_equal(OK(uvfs_pread(C, b, back, sizeof(back),
					       10 * PG)), sizeof(back));
		assert_memory_equal(back, big, sizeof(big));
	}
	if (holes_native()) {
		assert_string_equal(data_map(a), EXT(m, 10 * PG, 14 * PG));
		assert_int_equal(fblocks(a), 4 * 8);
		assert_string_equal(data_map(b), EXT(m, 0, 40 * PG));
		assert_int_equal(fblocks(b), 40 * 8);
	}
	/* an unaligned copy within one file, data and holes */
	oi = 10 * PG + 5;
	oo = 20 * PG + 3000;
	assert_int_equal(OK(uvfs_copy_file_range(C, a, &oi, a, &oo, 5 * PG,
						 0)), 5 * PG);
	{
		static char back[sizeof(big) - 5];

		assert_int_equal(OK(uvfs_pread(C, a, back, sizeof(back),
					       20 * PG + 3000)), sizeof(back));
		assert_memory_equal(back, big + 5, sizeof(back));
	}
	if (holes_native()) {
		/* longer than one step of the driver's copy (64 MiB) */
		off_t far = (off_t)70 << 20;
		char c = 0;

		OK(uvfs_pwrite(C, a, "e", 1, far));
		oi = 0;
		oo = 0;
		assert_int_equal(OK(uvfs_copy_file_range(C, a, &oi, b, &oo,
							 (size_t)far + 1, 0)),
				 far + 1);
		OK(uvfs_pread(C, b, &c, 1, far));
		assert_int_equal(c, 'e');
		assert_int_equal(fblocks(b), (far + PG) / 512);
		assert_string_equal(data_map(b), EXT(m, 0, far + 1));
	}
	OK(uvfs_close(C, b));
	OK(uvfs_close(C, a));
}
