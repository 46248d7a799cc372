/*
 * test_memfs_pages.c - unit test of memfs's page pool (lib/fs/memfs_pages.c,
 * docs/memfs.md "Page memory"): the pool alone (pages, zeros, limits,
 * threads), and memfs on it (a write after a delete takes no new memory,
 * a punched hole and an unmount give their pages back, the size= limit
 * and statfs stay exact).  The superblock is the core's and opaque; this
 * file provides a stand-in for the two accessors the driver uses, as
 * test_memfs does.
 *
 * The pool is one per process, so every test measures against the
 * figures it read at its start, and leaves no page of its own in use.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "memfs_i.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define CHUNK_DATA_PAGES 511    /* pages a 2 MiB chunk hands out */
#define MiB ((size_t)1 << 20)

/* ---- the core's stand-in (memfs_standin.c) ------------------------------ */

#include "memfs_standin.h"

static const struct uvfs_fstype_ops *const ops = &uvfs_memfs_ops;
static const struct uvfs_cred root_cred = { .uid = 0, .gid = 0 };

struct fx {
	struct uvfs_sb sb;
	void *root;
};

static struct fx *fx_mount(const char *options)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint64_t ino;

	assert_non_null(f);
	assert_int_equal(ops->mount(&f->sb, "none", options, &ino), 0);
	assert_int_equal(ops->vget(&f->sb, ino, &f->root), 0);
	return f;
}

static void fx_unmount(struct fx *f)
{
	ops->reclaim(&f->sb, f->root);
	ops->unmount(&f->sb);
	free(f);
}

/* A new regular file, held (reclaim it with ops->reclaim). */
static void *fx_create(struct fx *f, const char *name)
{
	struct uvfs_ident id = { 0 };
	void *n;

	assert_int_equal(ops->create(&f->sb, f->root, name, S_IFREG | 0644, 0,
				     NULL, &root_cred, &id), 0);
	assert_int_equal(ops->vget(&f->sb, id.ino, &n), 0);
	return n;
}

/* The file's link and our hold go: its pages with them. */
static void fx_delete(struct fx *f, const char *name, void *n)
{
	assert_int_equal(ops->unlink(&f->sb, f->root, name, 0), 0);
	ops->reclaim(&f->sb, n);
}

static void fill_pattern(char *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(seed * 131 + i * 7 + (i >> 12));
}

/* Writes len bytes of pattern seed at off in pieces of piece bytes. */
static void write_pattern(struct fx *f, void *n, off_t off, size_t len,
			  size_t piece, unsigned seed)
{
	char *buf = malloc(len);

	assert_non_null(buf);
	fill_pattern(buf, len, seed);
	for (size_t done = 0; done < len; done += piece) {
		size_t k = len - done < piece ? len - done : piece;
		off_t o = off + (off_t)done;

		assert_int_equal(ops->write(&f->sb, n, NULL, buf + done, k, &o),
				 (ssize_t)k);
	}
	free(buf);
}

static void check_pattern(struct fx *f, void *n, off_t off, size_t len,
			  unsigned seed)
{
	char *want = malloc(len), *got = malloc(len);

	assert_non_null(want);
	assert_non_null(got);
	fill_pattern(want, len, seed);
	assert_int_equal(ops->read(&f->sb, n, NULL, got, len, off),
			 (ssize_t)len);
	assert_memory_equal(got, want, len);
	free(want);
	free(got);
}

static struct memfs_pool_stats stats(void)
{
	struct memfs_pool_stats st;

	memfs_pool_stats(&st);
	return st;
}

static bool all_zero(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != 0)
			return false;
	return true;
}

static uint64_t hot_default, lazy_default;

static int group_setup(void **state)
{
	(void)state;
	memfs_pool_limits(&hot_default, &lazy_default);
	return 0;
}

/* Each test ends with the defaults back and no page of its own out. */
static int restore(void **state)
{
	(void)state;
	memfs_pool_set_limits(hot_default, lazy_default);
	return 0;
}

/* ---- the pool alone ---------------------------------------------------- */

/* Pages are page-aligned, distinct, writable; zeros when asked, even a
 * page that was written and given back; the count of pages out moves
 * with every get and put. */
static void test_pool_pages(void **state)
{
	struct memfs_pool_stats s0 = stats(), s;
	char *pg[MEMFS_POOL_BATCH];
	char *again;

	(void)state;
	assert_int_equal(memfs_pool_get(pg, MEMFS_POOL_BATCH, true), 0);
	s = stats();
	assert_int_equal(s.used, s0.used + MEMFS_POOL_BATCH);
	for (unsigned i = 0; i < MEMFS_POOL_BATCH; i++) {
		assert_int_equal((uintptr_t)pg[i] & PG_MASK, 0);
		assert_true(all_zero(pg[i], PG_SIZE));
		for (unsigned j = 0; j < i; j++)
			assert_ptr_not_equal(pg[i], pg[j]);
		memset(pg[i], 0xa5, PG_SIZE);
	}
	/* the last page given back is the first handed out again (a
	 * stack): it must come back as zeros when zeros are asked for */
	memfs_pool_put(pg[7]);
	assert_int_equal(stats().used, s0.used + MEMFS_POOL_BATCH - 1);
	assert_int_equal(memfs_pool_get(&again, 1, true), 0);
	assert_ptr_equal(again, pg[7]);
	assert_true(all_zero(again, PG_SIZE));
	/* without zeros it is handed out as it is (never assumed zeros) */
	memset(again, 0x5a, PG_SIZE);
	memfs_pool_put(again);
	assert_int_equal(memfs_pool_get(&again, 1, false), 0);
	assert_ptr_equal(again, pg[7]);
	for (unsigned i = 0; i < MEMFS_POOL_BATCH; i++)
		memfs_pool_put(pg[i]);
	assert_int_equal(stats().used, s0.used);
}

/* memfs_page_fill copies a page exactly from any alignment of its source,
 * touching nothing past the page (under AddressSanitizer it checks both
 * ranges; the pages around it keep their bytes here). */
static void test_page_fill(void **state)
{
	char *pg[3];
	char *src = malloc(PG_SIZE + 64);

	(void)state;
	assert_non_null(src);
	for (size_t i = 0; i < PG_SIZE + 64; i++)
		src[i] = (char)(i * 7 + (i >> 8));
	assert_int_equal(memfs_pool_get(pg, 3, false), 0);
	for (size_t a = 0; a < 64; a += 1 + a / 4) {
		memset(pg[0], 0x11, PG_SIZE);
		memset(pg[1], 0x22, PG_SIZE);
		memset(pg[2], 0x33, PG_SIZE);
		memfs_page_fill(pg[1], src + a);
		memfs_page_fill_end();
		assert_memory_equal(pg[1], src + a, PG_SIZE);
		for (size_t i = 0; i < PG_SIZE; i++)
			if (pg[0][i] != 0x11 || pg[2][i] != 0x33)
				fail_msg("byte %zu of a neighbour changed", i);
	}
	for (unsigned i = 0; i < 3; i++)
		memfs_pool_put(pg[i]);
	free(src);
}

/* The limits: of the empty chunks, hot_max are kept as they are,
 * lazy_max more given to the kernel with MADV_FREE and kept mapped, the
 * rest unmapped; a page from a LAZY chunk is zeros when asked for. */
static void test_pool_limits(void **state)
{
	enum { NCHUNK = 6 };
	const unsigned n = NCHUNK * CHUNK_DATA_PAGES;
	struct memfs_pool_stats s0, s;
	char **pg = calloc(n, sizeof(*pg));

	(void)state;
	assert_non_null(pg);
	memfs_pool_set_limits(0, 0);    /* nothing empty kept */
	s0 = stats();
	assert_int_equal(s0.hot, 0);
	assert_int_equal(s0.lazy, 0);
	memfs_pool_set_limits(1, 2);
	for (unsigned i = 0; i < n; i += MEMFS_POOL_BATCH) {
		unsigned k = n - i < MEMFS_POOL_BATCH ? n - i : MEMFS_POOL_BATCH;

		assert_int_equal(memfs_pool_get(pg + i, k, false), 0);
	}
	for (unsigned i = 0; i < n; i++)
		memset(pg[i], 0x11, PG_SIZE);
	s = stats();
	assert_true(s.chunks >= s0.chunks + NCHUNK);
	assert_true(s.chunks <= s0.chunks + NCHUNK + 1);
	for (unsigned i = 0; i < n; i++)
		memfs_pool_put(pg[i]);
	s = stats();
	assert_int_equal(s.used, s0.used);
	assert_int_equal(s.hot, 1);
	assert_int_equal(s.lazy, 2);
	assert_int_equal(s.chunks, s0.chunks + 3);
	assert_true(s.munmaps >= s0.munmaps + NCHUNK - 3);
	assert_true(s.lazy_frees >= s0.lazy_frees + 2);

	/* the pages again: no new mapping for the first three chunks' worth
	 * (hot, then lazy), and every one zeros when asked for */
	memfs_pool_set_limits(0, 0);
	memfs_pool_set_limits(0, 3);    /* everything emptied goes LAZY */
	s0 = stats();
	for (unsigned i = 0; i < n; i += MEMFS_POOL_BATCH) {
		unsigned k = n - i < MEMFS_POOL_BATCH ? n - i : MEMFS_POOL_BATCH;

		assert_int_equal(memfs_pool_get(pg + i, k, false), 0);
	}
	for (unsigned i = 0; i < n; i++)
		memset(pg[i], 0x22, PG_SIZE);
	for (unsigned i = 0; i < n; i++)
		memfs_pool_put(pg[i]);
	s = stats();
	assert_int_equal(s.lazy, 3);
	assert_int_equal(s.hot, 0);
	s0 = s;
	for (unsigned i = 0; i < 3 * CHUNK_DATA_PAGES; i += 1) {
		assert_int_equal(memfs_pool_get(pg + i, 1, true), 0);
		assert_true(all_zero(pg[i], PG_SIZE));
	}
	s = stats();
	assert_int_equal(s.mmaps, s0.mmaps);    /* all from the LAZY ones */
	assert_int_equal(s.lazy, 0);
	for (unsigned i = 0; i < 3 * CHUNK_DATA_PAGES; i++)
		memfs_pool_put(pg[i]);
	memfs_pool_set_limits(0, 0);
	s = stats();
	assert_int_equal(s.hot + s.lazy, 0);
	free(pg);
}

/* ---- the pool under threads (TSan: the concurrency suite) -------------- */

#define NTHREADS 4
#define ROUNDS 300

struct worker {
	unsigned id;
	int bad;
};

static void *pool_worker(void *arg)
{
	struct worker *w = arg;
	char *pg[64];
	unsigned seed = w->id * 2654435761u + 1;

	for (unsigned r = 0; r < ROUNDS; r++) {
		unsigned k;

		seed = seed * 1103515245u + 12345u;
		k = 1 + (seed >> 16) % 64;
		if (memfs_pool_get(pg, k, (r & 1) != 0) != 0) {
			w->bad = 1;
			break;
		}
		for (unsigned i = 0; i < k; i++)
			memset(pg[i], (int)(w->id + 1), PG_SIZE);
		sched_yield();
		for (unsigned i = 0; i < k; i++)
			if (pg[i][0] != (char)(w->id + 1) ||
			    pg[i][PG_SIZE - 1] != (char)(w->id + 1))
				w->bad = 1;
		for (unsigned i = 0; i < k; i++)
			memfs_pool_put(pg[i]);
	}
	return NULL;
}

/* Writers each on their own memfs file, in large pieces (the prefill
 * path) and small ones, then delete it: the pages move between files
 * through the pool while the others write. */
struct fwriter {
	struct fx *f;
	unsigned id;
};

static void *file_worker(void *arg)
{
	struct fwriter *w = arg;
	char name[32];

	for (unsigned r = 0; r < 6; r++) {
		void *n;

		snprintf(name, sizeof(name), "w%u.%u", w->id, r);
		n = fx_create(w->f, name);
		write_pattern(w->f, n, 0, MiB + 123, r & 1 ? 256 << 10 : 4096,
			      w->id * 16 + r);
		check_pattern(w->f, n, 0, MiB + 123, w->id * 16 + r);
		fx_delete(w->f, name, n);
	}
	return NULL;
}

static void test_pool_threads(void **state)
{
	pthread_t t[NTHREADS], ft[NTHREADS];
	struct worker w[NTHREADS];
	struct fwriter fw[NTHREADS];
	struct fx *f = fx_mount("");
	struct memfs_pool_stats s0;

	(void)state;
	memfs_pool_set_limits(1, 2);    /* chunks come and go meanwhile */
	s0 = stats();
	for (unsigned i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){ .id = i };
		fw[i] = (struct fwriter){ .f = f, .id = i };
		assert_int_equal(pthread_create(&t[i], NULL, pool_worker,
						&w[i]), 0);
		assert_int_equal(pthread_create(&ft[i], NULL, file_worker,
						&fw[i]), 0);
	}
	for (unsigned i = 0; i < NTHREADS; i++) {
		pthread_join(t[i], NULL);
		pthread_join(ft[i], NULL);
		assert_int_equal(w[i].bad, 0);
	}
	assert_int_equal(stats().used, s0.used);
	fx_unmount(f);
	assert_int_equal(stats().used, s0.used);
	assert_true(stats().hot <= 1 && stats().lazy <= 2);
}

/* ---- memfs on the pool ------------------------------------------------- */

/* A file written after another was deleted takes its memory from the
 * pool: no new chunk is mapped for it. */
static void test_reuse_after_delete(void **state)
{
	struct fx *f = fx_mount("");
	struct memfs_pool_stats s0, s1, s2;
	void *n;

	(void)state;
	memfs_pool_set_limits(2, 64);
	s0 = stats();
	n = fx_create(f, "a");
	write_pattern(f, n, 0, 8 * MiB, MiB, 1);        /* prefill path */
	check_pattern(f, n, 0, 8 * MiB, 1);
	s1 = stats();
	assert_int_equal(s1.used, s0.used + 8 * MiB / PG_SIZE);
	assert_true(s1.mmaps > s0.mmaps);
	fx_delete(f, "a", n);
	assert_int_equal(stats().used, s0.used);

	n = fx_create(f, "b");
	write_pattern(f, n, 0, 4 * MiB, MiB, 2);
	write_pattern(f, n, 4 * MiB, 4 * MiB, 4096, 3); /* page at a time */
	check_pattern(f, n, 0, 4 * MiB, 2);
	check_pattern(f, n, 4 * MiB, 4 * MiB, 3);
	s2 = stats();
	assert_int_equal(s2.mmaps, s1.mmaps);   /* the same memory */
	assert_int_equal(s2.used, s1.used);
	fx_delete(f, "b", n);
	assert_int_equal(stats().used, s0.used);
	fx_unmount(f);
}

/* A punched hole gives its whole pages back to the pool at once (the
 * partial pages at its edges stay, zeroed where punched); statfs, the
 * size= limit and st_blocks follow exactly. */
static void test_punch_returns(void **state)
{
	struct fx *f = fx_mount("size=4m");
	struct memfs_pool_stats s0;
	struct statvfs sv;
	struct stat st;
	char buf[100];
	void *n;
	off_t o;

	(void)state;
	s0 = stats();
	n = fx_create(f, "p");
	write_pattern(f, n, 0, 4 * MiB, 256 << 10, 4);
	assert_int_equal(stats().used, s0.used + 1024);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 0);
	o = 4 * (off_t)MiB;                             /* full: ENOSPC */
	assert_int_equal(ops->write(&f->sb, n, NULL, "x", 1, &o), -ENOSPC);

	/* [100, 1 MiB + 100): pages 1..255 whole, pages 0 and 256 cut */
	assert_int_equal(ops->fallocate(&f->sb, n, NULL,
					FALLOC_FL_PUNCH_HOLE |
					FALLOC_FL_KEEP_SIZE, 100,
					(off_t)MiB), 0);
	assert_int_equal(stats().used, s0.used + 1024 - 255);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 255);
	assert_int_equal(ops->getattr(&f->sb, n, &st), 0);
	assert_int_equal(st.st_blocks, (1024 - 255) * (PG_SIZE / 512));
	assert_int_equal(ops->read(&f->sb, n, NULL, buf, sizeof(buf),
				   (off_t)MiB + 50), (ssize_t)sizeof(buf));
	assert_true(all_zero(buf, 50));
	assert_int_equal(ops->seek_data(&f->sb, n, NULL, PG_SIZE, SEEK_DATA),
			 (off_t)MiB);
	assert_int_equal(ops->seek_data(&f->sb, n, NULL, 0, SEEK_HOLE),
			 (off_t)PG_SIZE);
	check_pattern(f, n, 2 * MiB, 2 * MiB, 4);       /* untouched */

	/* the space is usable again, up to the limit exactly */
	write_pattern(f, n, PG_SIZE, 255 * PG_SIZE, 255 * PG_SIZE, 5);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 0);
	assert_int_equal(stats().used, s0.used + 1024);

	/* a whole-file punch gives everything back */
	assert_int_equal(ops->fallocate(&f->sb, n, NULL,
					FALLOC_FL_PUNCH_HOLE |
					FALLOC_FL_KEEP_SIZE, 0,
					4 * (off_t)MiB), 0);
	assert_int_equal(stats().used, s0.used);
	assert_int_equal(ops->seek_data(&f->sb, n, NULL, 0, SEEK_DATA),
			 -ENXIO);
	fx_delete(f, "p", n);
	fx_unmount(f);
}

/* Pages reserved by fallocate take pool pages when written; truncation
 * and an unmount that still has files give every page back. */
static void test_unmount_returns(void **state)
{
	struct fx *f = fx_mount("");
	struct memfs_pool_stats s0;
	struct uvfs_setattr sa = { .valid = UVFS_SET_SIZE, .size = 3 * PG_SIZE };
	void *a, *b;

	(void)state;
	s0 = stats();
	a = fx_create(f, "a");
	b = fx_create(f, "b");
	write_pattern(f, a, 0, 3 * MiB, MiB, 6);
	assert_int_equal(ops->fallocate(&f->sb, b, NULL, 0, 0, 16 * PG_SIZE),
			 0);
	assert_int_equal(stats().used, s0.used + 3 * MiB / PG_SIZE);
	write_pattern(f, b, 2 * PG_SIZE, 4 * PG_SIZE, PG_SIZE, 7);
	assert_int_equal(stats().used, s0.used + 3 * MiB / PG_SIZE + 4);
	assert_int_equal(ops->setattr(&f->sb, a, &sa), 0);
	assert_int_equal(stats().used, s0.used + 3 + 4);
	check_pattern(f, b, 2 * PG_SIZE, 4 * PG_SIZE, 7);
	ops->reclaim(&f->sb, a);        /* both keep their links */
	ops->reclaim(&f->sb, b);
	fx_unmount(f);                  /* the files go with the instance */
	assert_int_equal(stats().used, s0.used);
}

static void *map_fails(size_t len)
{
	(void)len;
	errno = ENOMEM;
	return MAP_FAILED;
}

/* No memory for a new chunk: a write that needs pages fails with -ENOMEM
 * (large: the prefill and the page-at-a-time path both fail) and changes
 * nothing, nothing stays counted, and the pool's pages out are as
 * before; pages already in the file are still written in place. */
static void test_no_memory(void **state)
{
	struct fx *f = fx_mount("size=1m");
	struct memfs_pool_stats s0;
	struct statvfs sv;
	struct stat st;
	char *buf = calloc(1, 256 << 10);
	char *held[CHUNK_DATA_PAGES];
	unsigned nheld = 0;
	void *n;
	off_t o;

	(void)state;
	assert_non_null(buf);
	n = fx_create(f, "m");
	write_pattern(f, n, 0, 2 * PG_SIZE, PG_SIZE, 8);
	assert_int_equal(ops->fallocate(&f->sb, n, NULL, FALLOC_FL_KEEP_SIZE,
					10 * PG_SIZE, PG_SIZE), 0);
	memfs_pool_set_limits(0, 0);    /* nothing empty left to take */
	s0 = stats();
	assert_int_equal(s0.partial, 1);        /* the file's chunk */
	memfs_pool_set_map(map_fails);
	while (stats().partial > 0) {   /* its room, taken by the test */
		assert_true(nheld < CHUNK_DATA_PAGES);
		assert_int_equal(memfs_pool_get(&held[nheld++], 1, false), 0);
	}
	assert_int_equal(memfs_pool_get(&held[nheld], 1, false), -ENOMEM);

	o = 4 * PG_SIZE;                /* prefill, then page at a time */
	assert_int_equal(ops->write(&f->sb, n, NULL, buf, 256 << 10, &o),
			 -ENOMEM);
	o = 4 * PG_SIZE;
	assert_int_equal(ops->write(&f->sb, n, NULL, "x", 1, &o), -ENOMEM);
	o = 10 * PG_SIZE;               /* the reserved page made its own */
	assert_int_equal(ops->write(&f->sb, n, NULL, "x", 1, &o), -ENOMEM);
	assert_int_equal(ops->getattr(&f->sb, n, &st), 0);
	assert_int_equal(st.st_size, 2 * PG_SIZE);
	assert_int_equal(st.st_blocks, 3 * (PG_SIZE / 512));
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 256 - 3);
	assert_int_equal(ops->seek_data(&f->sb, n, NULL, PG_SIZE, SEEK_HOLE),
			 2 * PG_SIZE);
	o = 0;                          /* its own pages need no memory */
	assert_int_equal(ops->write(&f->sb, n, NULL, "y", 1, &o), 1);

	memfs_pool_set_map(NULL);
	for (unsigned i = 0; i < nheld; i++)
		memfs_pool_put(held[i]);
	o = 4 * PG_SIZE;
	assert_int_equal(ops->write(&f->sb, n, NULL, buf, 256 << 10, &o),
			 256 << 10);
	o = 10 * PG_SIZE;
	assert_int_equal(ops->write(&f->sb, n, NULL, "x", 1, &o), 1);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 256 - 2 - 64);
	fx_delete(f, "m", n);
	fx_unmount(f);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_pool_pages, restore),
		cmocka_unit_test_teardown(test_page_fill, restore),
		cmocka_unit_test_teardown(test_pool_limits, restore),
		cmocka_unit_test_teardown(test_pool_threads, restore),
		cmocka_unit_test_teardown(test_reuse_after_delete, restore),
		cmocka_unit_test_teardown(test_punch_returns, restore),
		cmocka_unit_test_teardown(test_unmount_returns, restore),
		cmocka_unit_test_teardown(test_no_memory, restore),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
