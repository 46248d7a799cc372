/*
 * test_memfs_data.c - memfs's data: holes and truncate, the size= limit,
 * large writes (pages prefilled outside the node lock, whole under
 * concurrency), whole pages of a large file overwritten around the
 * cache, and fallocate with SEEK_DATA/SEEK_HOLE.
 * Included by test_memfs.c (it uses that file's stand-in for the core,
 * its fixture and helpers); not a program of its own.
 */

static void test_holes_truncate(void **state)
{
	struct fx *f = *state;
	void *a = mkh(f, f->root, "a", S_IFREG | 0644);
	void *b = mkh(f, f->root, "b", S_IFREG | 0644);
	static char buf[8192], zero[8192];
	struct statvfs sv;
	struct stat st;
	off_t off;

	/* a hole, then data */
	assert_int_equal(pwr(f, a, "abc", 3, 1 << 20), 3);
	st = sget(f, a);
	assert_int_equal(st.st_size, (1 << 20) + 3);
	assert_int_equal(st.st_blocks, 8);
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(ops->read(&f->sb, a, NULL, buf, 8192, 4096), 8192);
	assert_memory_equal(buf, zero, 8192);
	assert_int_equal(ops->read(&f->sb, a, NULL, buf, 100, 1 << 20), 3);
	assert_memory_equal(buf, "abc", 3);
	assert_int_equal(ops->read(&f->sb, a, NULL, buf, 10, (1 << 20) + 3),
			 0);
	assert_int_equal(ops->read(&f->sb, a, NULL, buf, 10, 1 << 30), 0);

	/* truncating into a page zeroes its tail */
	assert_int_equal(set_size(f, a, (1 << 20) + 1), 0);
	assert_int_equal(set_size(f, a, (1 << 20) + 3), 0);
	assert_int_equal(ops->read(&f->sb, a, NULL, buf, 3, 1 << 20), 3);
	assert_memory_equal(buf, "a\0\0", 3);
	assert_int_equal(sget(f, a).st_blocks, 8);
	assert_int_equal(set_size(f, a, 1 << 20), 0);
	assert_int_equal(sget(f, a).st_blocks, 0);

	/* 1 PiB of hole allocates nothing */
	assert_int_equal(set_size(f, b, PiB), 0);
	st = sget(f, b);
	assert_int_equal(st.st_size, PiB);
	assert_int_equal(st.st_blocks, 0);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, sv.f_blocks);
	assert_int_equal(ops->read(&f->sb, b, NULL, buf, 100, PiB - 10), 10);
	assert_memory_equal(buf, zero, 10);
	assert_int_equal(pwr(f, b, "z", 1, PiB - 1), 1);
	assert_int_equal(sget(f, b).st_blocks, 8);
	assert_int_equal(pwr(f, b, "y", 1, 5), 1);
	assert_int_equal(sget(f, b).st_blocks, 16);
	assert_int_equal(set_size(f, b, 5), 0);
	st = sget(f, b);
	assert_int_equal(st.st_size, 5);
	assert_int_equal(st.st_blocks, 8);
	assert_int_equal(set_size(f, b, 0), 0);
	assert_int_equal(sget(f, b).st_blocks, 0);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, sv.f_blocks);

	/* the largest offsets */
	assert_int_equal(pwr(f, b, "q", 1, INT64_MAX - 1), 1);
	assert_int_equal(sget(f, b).st_size, INT64_MAX);
	assert_int_equal(ops->read(&f->sb, b, NULL, buf, 10, INT64_MAX - 1),
			 1);
	assert_int_equal(buf[0], 'q');
	assert_int_equal(pwr(f, b, "q", 1, INT64_MAX), -EFBIG);
	assert_int_equal(set_size(f, b, 0), 0);
	assert_int_equal(sget(f, b).st_blocks, 0);

	/* appends: *off < 0 writes at the size, *off ends after the data */
	off = -1;
	assert_int_equal(ops->write(&f->sb, b, NULL, "hello", 5, &off), 5);
	assert_int_equal(off, 5);
	off = 2;
	assert_int_equal(ops->write(&f->sb, b, NULL, "XY", 2, &off), 2);
	assert_int_equal(off, 4);
	off = -1;
	assert_int_equal(ops->write(&f->sb, b, NULL, "!", 1, &off), 1);
	assert_int_equal(off, 6);
	assert_int_equal(ops->read(&f->sb, b, NULL, buf, 100, 0), 6);
	assert_memory_equal(buf, "heXYo!", 6);

	/* writing across pages */
	memset(buf, 'w', sizeof(buf));
	assert_int_equal(pwr(f, b, buf, 8192, 4000), 8192);
	assert_int_equal(sget(f, b).st_size, 4000 + 8192);
	assert_int_equal(sget(f, b).st_blocks, 3 * 8);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(ops->read(&f->sb, b, NULL, buf, 8192, 4000), 8192);
	for (size_t i = 0; i < 8192; i++)
		assert_int_equal(buf[i], 'w');

	/* setattr size on the wrong types */
	assert_int_equal(set_size(f, f->root, 0), -EISDIR);
	assert_int_equal(set_size(f, mkh(f, f->root, "l", S_IFLNK | 0777),
				  0), -EINVAL);
	assert_int_equal(set_size(f, a, -1), -EINVAL);
	assert_int_equal(ops->fsync(&f->sb, a, NULL, 0), 0);
}

static void test_size_limit(void **state)
{
	static char buf[16384];
	struct statvfs sv;
	struct fx *f;
	void *a;
	off_t off;

	(void)state;
	f = fx_mount("size=16k");
	a = mkh(f, f->root, "a", S_IFREG | 0644);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bsize, 4096);
	assert_int_equal(sv.f_blocks, 4);
	assert_int_equal(sv.f_bfree, 4);
	assert_int_equal(sv.f_namemax, 255);

	memset(buf, 'a', sizeof(buf));
	assert_int_equal(pwr(f, a, buf, 16384, 0), 16384);
	assert_int_equal(pwr(f, a, "x", 1, 16384), -ENOSPC);
	assert_int_equal(sget(f, a).st_size, 16384);
	off = -1;
	assert_int_equal(ops->write(&f->sb, a, NULL, "x", 1, &off), -ENOSPC);
	assert_int_equal(off, -1); /* untouched on failure */
	/* rewriting allocated pages needs no space; holes are free */
	assert_int_equal(pwr(f, a, "bbb", 3, 10), 3);
	assert_int_equal(set_size(f, a, PiB), 0);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 0);

	/* a write that runs out of space is short */
	assert_int_equal(set_size(f, a, 8192), 0);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 2);
	assert_int_equal(pwr(f, a, buf, 12288, 8192), 8192);
	assert_int_equal(sget(f, a).st_size, 16384);
	assert_int_equal(sget(f, a).st_blocks, 32);

	/* space comes back when the file goes */
	assert_int_equal(ops->unlink(&f->sb, f->root, "a", 0), 0);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 0); /* still held */
	ops->reclaim(&f->sb, a);
	f->nheld = 0;
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 4);
	fx_unmount(f);

	/* options */
	{
		static const char *const bad[] = {
			"bogus", "size=", "size=k", "size=1x", "size=-1",
			"size=99999999999999999999", "size=16777216t",
			"mode=999", "mode=17777", "uid=x", "size=1k,nope",
		};
		struct uvfs_sb sb = { NULL };
		uint64_t ino;

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			assert_int_equal(ops->mount(&sb, "none", bad[i],
						    &ino), -EINVAL);
		assert_null(sb.priv);
	}
	f = fx_mount("size=1m,,mode=1777,uid=5,gid=6");
	assert_int_equal(sget(f, f->root).st_mode, S_IFDIR | 01777);
	assert_int_equal(sget(f, f->root).st_uid, 5);
	assert_int_equal(sget(f, f->root).st_gid, 6);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_blocks, 256);
	fx_unmount(f);
	f = fx_mount("size=1G");
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_blocks, 262144);
	fx_unmount(f);
	f = fx_mount("size=10");
	a = mkh(f, f->root, "a", S_IFREG | 0644);
	assert_int_equal(pwr(f, a, buf, 5000, 0), 4096);
	fx_unmount(f);
	f = fx_mount(NULL);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_true(sv.f_blocks > 1000000);
	fx_unmount(f);
}

#define FA_KEEP 0x01
#define FA_PUNCH 0x03

/* Large writes (64 KiB and more): their missing whole pages are filled
 * before the node lock is taken and adopted under it (memfs.c,
 * "Prefill").  What must hold is what holds for small writes: the bytes
 * read back, holes and existing pages, reserved pages (no new space),
 * size= (a short write), and a write is whole under concurrency (two
 * threads writing one range leave one's bytes, not a mix). */
static void fill_pat(unsigned char *b, size_t n, off_t off, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(((uint64_t)off + i) * 31 + seed);
}

struct big_writer {
	struct fx *f;
	void *file;
	unsigned seed;
	off_t off;              /* the thread's region, or the shared one */
	size_t len;
	int iters;
	atomic_int *failures;
	pthread_t tid;
};

static void *big_writer_main(void *arg)
{
	struct big_writer *w = arg;
	unsigned char *b = malloc(w->len);

	if (!b) {
		atomic_fetch_add(w->failures, 1);
		return NULL;
	}
	memset(b, (int)w->seed, w->len);
	for (int i = 0; i < w->iters; i++)
		if (pwr(w->f, w->file, b, w->len, w->off) != (ssize_t)w->len)
			atomic_fetch_add(w->failures, 1);
	free(b);
	return NULL;
}

static void test_large_writes(void **state)
{
	enum { N = 600 << 10 };
	static unsigned char want[N + 8192], got[N + 8192], b[N];
	struct statvfs sv;
	struct fx *f;
	void *a;

	(void)state;
	f = fx_mount("size=1m");        /* 256 pages */
	a = mkh(f, f->root, "a", S_IFREG | 0644);
	memset(want, 0, sizeof(want));
	/* into holes, unaligned at both ends */
	fill_pat(b, 300 << 10, 1000, 1);
	assert_int_equal(pwr(f, a, b, 300 << 10, 1000), 300 << 10);
	memcpy(want + 1000, b, 300 << 10);
	/* over those pages, unaligned */
	fill_pat(b, 200 << 10, 40967, 2);
	assert_int_equal(pwr(f, a, b, 200 << 10, 40967), 200 << 10);
	memcpy(want + 40967, b, 200 << 10);
	assert_int_equal(sget(f, a).st_size, 1000 + (300 << 10));
	assert_int_equal(ops->read(&f->sb, a, NULL, got, sizeof(got), 0),
			 1000 + (300 << 10));
	assert_memory_equal(got, want, 1000 + (300 << 10));
	/* every page counted once */
	assert_int_equal(sget(f, a).st_blocks,
			 ((1000 + (300 << 10) + 4095) / 4096) * 8);

	/* reserved pages: filled by the write, no new space taken */
	void *r = mkh(f, f->root, "r", S_IFREG | 0644);
	assert_int_equal(ops->fallocate(&f->sb, r, NULL, FA_KEEP, 0,
					128 << 10), 0);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	fsblkcnt_t free0 = sv.f_bfree;
	fill_pat(b, 128 << 10, 0, 3);
	assert_int_equal(pwr(f, r, b, 128 << 10, 0), 128 << 10);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, free0);
	assert_int_equal(ops->read(&f->sb, r, NULL, got, 128 << 10, 0),
			 128 << 10);
	assert_memory_equal(got, b, 128 << 10);

	/* size=: the write that runs out of space is short, and what it
	 * wrote is right */
	void *c = mkh(f, f->root, "c", S_IFREG | 0644);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	size_t room = (size_t)sv.f_bfree * 4096;
	assert_true(room < N);
	fill_pat(b, N, 0, 4);
	assert_int_equal(pwr(f, c, b, N, 0), (ssize_t)room);
	assert_int_equal(ops->read(&f->sb, c, NULL, got, N, 0), (ssize_t)room);
	assert_memory_equal(got, b, room);
	assert_int_equal(pwr(f, c, b, 64 << 10, (off_t)room), -ENOSPC);
	fx_unmount(f);

	/* threads: disjoint regions of one file, then one shared range */
	atomic_int failures;
	struct big_writer w[4];
	f = fx_mount("");
	a = mkh(f, f->root, "a", S_IFREG | 0644);
	atomic_init(&failures, 0);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct big_writer){ .f = f, .file = a,
			.seed = 'a' + (unsigned)i, .off = (off_t)i * (256 << 10) + 5,
			.len = 256 << 10, .iters = 20, .failures = &failures };
		assert_int_equal(pthread_create(&w[i].tid, NULL,
						big_writer_main, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(w[i].tid, NULL);
	assert_int_equal(atomic_load(&failures), 0);
	static unsigned char all[4 * (256 << 10) + 5];
	assert_int_equal(ops->read(&f->sb, a, NULL, all, sizeof(all), 0),
			 sizeof(all));
	for (size_t i = 0; i < sizeof(all); i++)
		assert_int_equal(all[i], i < 5 ? 0 :
				 'a' + (i - 5) / (256 << 10));
	void *s2 = mkh(f, f->root, "s", S_IFREG | 0644);
	for (int i = 0; i < 2; i++) {
		w[i] = (struct big_writer){ .f = f, .file = s2,
			.seed = 'x' + (unsigned)i, .off = 3, .len = 256 << 10,
			.iters = 30, .failures = &failures };
		assert_int_equal(pthread_create(&w[i].tid, NULL,
						big_writer_main, &w[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(w[i].tid, NULL);
	assert_int_equal(atomic_load(&failures), 0);
	assert_int_equal(ops->read(&f->sb, s2, NULL, all, (256 << 10) + 3, 0),
			 (256 << 10) + 3);
	for (size_t i = 3; i < (256 << 10) + 3; i++)
		assert_int_equal(all[i], all[3]);       /* one writer's, whole */
	ops->reclaim(&f->sb, a);
	ops->reclaim(&f->sb, s2);
	f->nheld = 0;
	fx_unmount(f);
}

/* A file of 16 MiB or more: a write's whole pages go around the cache
 * (memfs_page_fill, op_write's STREAM_FILE_MIN), its partial pages through
 * the plain copy.  Every page of the file is checked against a model after
 * 4 KiB writes from sources of every alignment, at aligned and unaligned
 * offsets, into written pages, holes and past the end; and a reader
 * racing the whole-page writes sees each page whole, old or new. */
struct page_reader {
	struct fx *f;
	void *file;
	off_t off;
	atomic_bool stop;
	atomic_int torn;
	pthread_t tid;
};

static void *page_reader_main(void *arg)
{
	struct page_reader *r = arg;
	unsigned char pg[4096];

	while (!atomic_load(&r->stop)) {
		if (ops->read(&r->f->sb, r->file, NULL, pg, sizeof(pg),
			      r->off) != (ssize_t)sizeof(pg)) {
			atomic_fetch_add(&r->torn, 1);
			continue;
		}
		for (size_t i = 1; i < sizeof(pg); i++)
			if (pg[i] != pg[0]) {
				atomic_fetch_add(&r->torn, 1);
				break;
			}
	}
	return NULL;
}

static void test_stream_overwrite(void **state)
{
	enum { BIG = 17 << 20, PG = 4096 };
	static unsigned char want[BIG + 5 * PG], got[BIG + 5 * PG];
	static unsigned char src[3 * PG + 64];
	off_t size = BIG + PG;
	struct fx *f;
	void *a;

	(void)state;
	f = fx_mount("");
	a = mkh(f, f->root, "big", S_IFREG | 0644);
	memset(want, 0, sizeof(want));
	fill_pat(want, BIG, 0, 5);
	for (off_t o = 0; o < BIG; o += 1 << 20)        /* 1 MiB writes */
		assert_int_equal(pwr(f, a, want + o, 1 << 20, o), 1 << 20);
	assert_int_equal(set_size(f, a, size), 0);      /* a hole's page */
	unsigned seed = 6;
	for (size_t align = 0; align < 64; align += 7) {
		off_t offs[] = {
			0, PG, (off_t)(align + 1) * 37 * PG,    /* whole pages */
			BIG - PG,                               /* the last one */
			BIG,                                    /* the hole */
			BIG + PG,                               /* past the end */
			(off_t)(align + 3) * 41 * PG + 100,     /* halves */
		};
		for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
			/* one, two or three pages: whole ones go around
			 * the cache, each from its own place in src */
			size_t len = PG * (1 + (i + align) % 3);
			fill_pat(src + align, len, offs[i], seed++);
			assert_int_equal(pwr(f, a, src + align, len, offs[i]),
					 (ssize_t)len);
			memcpy(want + offs[i], src + align, len);
			if (offs[i] + (off_t)len > size)
				size = offs[i] + (off_t)len;
		}
	}
	assert_int_equal(sget(f, a).st_size, size);
	assert_int_equal(ops->read(&f->sb, a, NULL, got, sizeof(got), 0),
			 size);
	for (off_t o = 0; o < size; o += PG)
		assert_memory_equal(got + o, want + o,
				    size - o < PG ? size - o : PG);

	/* whole-page writes of one byte value each against a reader */
	struct page_reader r = { .f = f, .file = a, .off = 5 * PG };
	atomic_init(&r.stop, false);
	atomic_init(&r.torn, 0);
	memset(src, 0, PG);
	assert_int_equal(pwr(f, a, src, PG, r.off), PG);
	assert_int_equal(pthread_create(&r.tid, NULL, page_reader_main, &r),
			 0);
	for (int i = 0; i < 20000; i++) {
		memset(src + 1, i & 0xff, PG);
		assert_int_equal(pwr(f, a, src + 1, PG, r.off), PG);
	}
	atomic_store(&r.stop, true);
	pthread_join(r.tid, NULL);
	assert_int_equal(atomic_load(&r.torn), 0);
	ops->reclaim(&f->sb, a);
	f->nheld = 0;
	fx_unmount(f);
}

/* memfs's holes (memfs_holes.c): fallocate reserves pages (counted,
 * zeros, a hole to SEEK_DATA, written without -ENOSPC; data once a
 * second fallocate covers them, as tmpfs), punches free them, copy_range
 * writes zeros for holes (tmpfs splices), and size= holds for all of it. */
static off_t seekd(struct fx *f, void *n, off_t off, int whence)
{
	return ops->seek_data(&f->sb, n, NULL, off, whence);
}

static void test_holes_fallocate(void **state)
{
	static char buf[16384];
	struct statvfs sv;
	struct fx *f;
	void *a, *b;

	(void)state;
	f = fx_mount("size=16k");
	a = mkh(f, f->root, "a", S_IFREG | 0644);
	b = mkh(f, f->root, "b", S_IFREG | 0644);
	/* reserving all the space: counted, reads zeros, size unchanged */
	assert_int_equal(ops->fallocate(&f->sb, a, NULL, FA_KEEP, 0, 16384),
			 0);
	assert_int_equal(sget(f, a).st_size, 0);
	assert_int_equal(sget(f, a).st_blocks, 32);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 0);
	/* all or nothing: one page more fails and takes nothing */
	assert_int_equal(ops->fallocate(&f->sb, b, NULL, 0, 0, 1), -ENOSPC);
	assert_int_equal(ops->fallocate(&f->sb, a, NULL, 0, 8192, 12288),
			 -ENOSPC);
	assert_int_equal(sget(f, a).st_size, 0);
	assert_int_equal(sget(f, b).st_blocks, 0);
	/* mode 0 over reserved pages grows the size, needs no space, and
	 * makes the pages it covers data (tmpfs: a fallocated folio found
	 * by another fallocate is cleared and marked up to date) */
	assert_int_equal(ops->fallocate(&f->sb, a, NULL, 0, 0, 10000), 0);
	assert_int_equal(sget(f, a).st_size, 10000);
	assert_int_equal(sget(f, a).st_blocks, 32);
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(ops->read(&f->sb, a, NULL, buf, 16384, 0), 10000);
	for (size_t i = 0; i < 10000; i++)
		assert_int_equal(buf[i], 0);
	assert_int_equal(seekd(f, a, 0, SEEK_DATA), 0);
	assert_int_equal(seekd(f, a, 0, SEEK_HOLE), 10000);
	memset(buf, 'w', sizeof(buf));
	assert_int_equal(pwr(f, a, buf, 16384, 0), 16384); /* no -ENOSPC */
	assert_int_equal(sget(f, a).st_blocks, 32);
	assert_int_equal(seekd(f, a, 5, SEEK_DATA), 5);
	assert_int_equal(seekd(f, a, 5, SEEK_HOLE), 16384);
	/* a punch frees whole pages, zeros the edges */
	assert_int_equal(ops->fallocate(&f->sb, a, NULL, FA_PUNCH, 100, 8192),
			 0);
	assert_int_equal(sget(f, a).st_blocks, 24);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 1);
	assert_int_equal(ops->read(&f->sb, a, NULL, buf, 16384, 0), 16384);
	assert_int_equal(buf[99], 'w');
	for (size_t i = 100; i < 8292; i++)
		assert_int_equal(buf[i], 0);
	assert_int_equal(buf[8292], 'w');
	assert_int_equal(seekd(f, a, 0, SEEK_HOLE), 4096);
	assert_int_equal(seekd(f, a, 4096, SEEK_DATA), 8192);
	/* copy_range writes the hole's zeros: with one page free, a copy
	 * of a page of data and a hole is short by the hole */
	assert_int_equal(ops->copy_range(&f->sb, a, NULL, 0, b, NULL, 0,
					 8192), 4096);
	assert_int_equal(sget(f, b).st_blocks, 8);
	assert_int_equal(seekd(f, b, 0, SEEK_HOLE), 4096);
	assert_int_equal(ops->copy_range(&f->sb, a, NULL, 8192, b, NULL, 8192,
					 8192), -ENOSPC);
	assert_int_equal(sget(f, b).st_size, 4096);
	assert_int_equal(ops->fallocate(&f->sb, a, NULL, FA_PUNCH, 0, 4096),
			 0);
	assert_int_equal(ops->copy_range(&f->sb, a, NULL, 8192, b, NULL, 8192,
					 8192), 4096);
	assert_int_equal(sget(f, b).st_size, 12288);
	assert_int_equal(ops->read(&f->sb, b, NULL, buf, 4096, 8192), 4096);
	assert_int_equal(buf[0], 0);            /* a's zeroed edge */
	assert_int_equal(buf[100], 'w');
	/* other modes: not tmpfs's */
	assert_int_equal(ops->fallocate(&f->sb, a, NULL, 0x10, 0, 1),
			 -EOPNOTSUPP);
	assert_int_equal(ops->fallocate(&f->sb, f->root, NULL, 0, 0, 1),
			 -EISDIR);
	fx_unmount(f);

	/* without a limit: a range past any memory is refused at once, and
	 * one page at the largest index costs one page */
	f = fx_mount(NULL);
	a = mkh(f, f->root, "a", S_IFREG | 0644);
	assert_int_equal(ops->fallocate(&f->sb, a, NULL, FA_KEEP, 0,
					(off_t)1 << 50), -ENOSPC);
	assert_int_equal(sget(f, a).st_blocks, 0);
	assert_int_equal(ops->fallocate(&f->sb, a, NULL, 0,
					INT64_MAX - 4095, 4095), 0);
	assert_int_equal(sget(f, a).st_blocks, 8);
	assert_int_equal(sget(f, a).st_size, INT64_MAX);
	/* reserved pages are a hole to SEEK_DATA until written or covered
	 * by a second fallocate (then data, page by page) */
	assert_int_equal(seekd(f, a, INT64_MAX - 4095, SEEK_DATA), -ENXIO);
	b = mkh(f, f->root, "b", S_IFREG | 0644);
	assert_int_equal(ops->fallocate(&f->sb, b, NULL, 0, 0, 8192), 0);
	assert_int_equal(seekd(f, b, 0, SEEK_DATA), -ENXIO);
	assert_int_equal(seekd(f, b, 0, SEEK_HOLE), 0);
	assert_int_equal(ops->fallocate(&f->sb, b, NULL, 0, 5000, 1), 0);
	assert_int_equal(seekd(f, b, 0, SEEK_DATA), 4096);
	assert_int_equal(seekd(f, b, 4096, SEEK_HOLE), 8192);
	assert_int_equal(seekd(f, b, 0, SEEK_HOLE), 0);
	assert_int_equal(sget(f, b).st_blocks, 16);
	assert_int_equal(pwr(f, a, "d", 1, 1 << 20), 1);
	assert_int_equal(seekd(f, a, 0, SEEK_DATA), 1 << 20);
	assert_int_equal(seekd(f, a, (1 << 20) + 4096, SEEK_DATA), -ENXIO);
	assert_int_equal(seekd(f, a, (1 << 20) + 1, SEEK_HOLE),
			 (1 << 20) + 4096);
	assert_int_equal(set_size(f, a, 0), 0);
	assert_int_equal(sget(f, a).st_blocks, 0);
	fx_unmount(f);
}

/* SEEK_HOLE in the last page a file can have (its size FILE_SIZE_MAX):
 * the hole is at the end of file, not at the offset asked; the page
 * index past that page, shifted back to bytes, is 2^63 and no off_t. */
static void test_seek_hole_max(void **state)
{
	struct fx *f = *state;
	void *a = mkh(f, f->root, "a", S_IFREG | 0644);

	assert_int_equal(pwr(f, a, "q", 1, INT64_MAX - 1), 1);
	assert_int_equal(sget(f, a).st_size, INT64_MAX);
	assert_int_equal(seekd(f, a, INT64_MAX - 2, SEEK_DATA), INT64_MAX - 2);
	assert_int_equal(seekd(f, a, INT64_MAX - 2, SEEK_HOLE), INT64_MAX);
	assert_int_equal(seekd(f, a, INT64_MAX - 4095, SEEK_HOLE), INT64_MAX);
	assert_int_equal(seekd(f, a, 0, SEEK_HOLE), 0);
	assert_int_equal(seekd(f, a, 0, SEEK_DATA), INT64_MAX - 4095);
}

/* The times of a write or copy that fails for want of space: tmpfs moves
 * the mtime and ctime before it copies (shmem_file_write_iter:
 * file_update_time; copy_file_range splices into it), so they move also
 * when nothing is written; not for a write of nothing, nor one refused
 * at the largest offset (generic_write_checks comes first). */
static void set_old_times(struct fx *f, void *priv)
{
	struct uvfs_setattr sa = { .valid = UVFS_SET_ATIME | UVFS_SET_MTIME,
				   .atime = { 1000, 0 }, .mtime = { 1000, 0 } };

	assert_int_equal(ops->setattr(&f->sb, priv, &sa), 0);
}

static void test_enospc_times(void **state)
{
	static char buf[8192];
	struct fx *f;
	struct stat st;
	void *a, *b;

	(void)state;
	f = fx_mount("size=8k");
	a = mkh(f, f->root, "a", S_IFREG | 0644);
	b = mkh(f, f->root, "b", S_IFREG | 0644);
	memset(buf, 'a', sizeof(buf));
	assert_int_equal(pwr(f, b, buf, 4096, 0), 4096);
	assert_int_equal(pwr(f, a, buf, 4096, 0), 4096);

	set_old_times(f, a);
	assert_int_equal(pwr(f, a, "x", 1, 4096), -ENOSPC);
	st = sget(f, a);
	assert_int_equal(st.st_size, 4096);
	assert_true(st.st_mtim.tv_sec > 1000);
	assert_int_equal(st.st_ctim.tv_sec, st.st_mtim.tv_sec);
	assert_int_equal(st.st_ctim.tv_nsec, st.st_mtim.tv_nsec);

	set_old_times(f, a);
	assert_int_equal(ops->copy_range(&f->sb, b, NULL, 0, a, NULL, 8192,
					 4096), -ENOSPC);
	st = sget(f, a);
	assert_int_equal(st.st_size, 4096);
	assert_true(st.st_mtim.tv_sec > 1000);

	set_old_times(f, a);
	assert_int_equal(pwr(f, a, buf, 0, 4096), 0);
	assert_int_equal(pwr(f, a, "x", 1, INT64_MAX), -EFBIG);
	assert_int_equal(ops->copy_range(&f->sb, b, NULL, 4096, a, NULL, 8192,
					 4096), 0);        /* at b's end */
	st = sget(f, a);
	assert_int_equal(st.st_mtim.tv_sec, 1000);
	fx_unmount(f);
}

/* A symlink whose target is 128 bytes or more takes a page, as on tmpfs
 * (shmem_symlink: a shorter one is kept in the inode): counted against
 * size= (-ENOSPC on a full instance, after -EEXIST), in st_blocks and in
 * statfs, and given back when the link goes. */
static void test_symlink_space(void **state)
{
	static char buf[4096], t127[128], t128[129], t200[201];
	struct statvfs sv;
	struct fx *f;
	uint64_t ino;
	void *p;

	(void)state;
	memset(t127, 'a', 127);
	memset(t128, 'b', 128);
	memset(t200, 'c', 200);
	f = fx_mount("size=8k");
	assert_int_equal(create_ino(&f->sb, f->root, "s", S_IFLNK | 0777, 0,
				    t127, &root_cred, &ino), 0);
	assert_int_equal(sget(f, hold(f, ino)).st_blocks, 0);
	assert_int_equal(create_ino(&f->sb, f->root, "l", S_IFLNK | 0777, 0,
				    t128, &root_cred, &ino), 0);
	assert_int_equal(ops->vget(&f->sb, ino, &p), 0);
	assert_int_equal(sget(f, p).st_size, 128);
	assert_int_equal(sget(f, p).st_blocks, 8);
	ops->reclaim(&f->sb, p);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 1);
	/* full: a long target fails, a short one does not */
	assert_int_equal(pwr(f, mkh(f, f->root, "f", S_IFREG | 0644), buf,
			     4096, 0), 4096);
	assert_int_equal(create_ino(&f->sb, f->root, "l2", S_IFLNK | 0777, 0,
				    t200, &root_cred, &ino), -ENOSPC);
	assert_int_equal(create_ino(&f->sb, f->root, "l", S_IFLNK | 0777, 0,
				    t200, &root_cred, &ino), -EEXIST);
	assert_int_equal(look(f, f->root, "l2"), 0);
	assert_int_equal(create_ino(&f->sb, f->root, "s2", S_IFLNK | 0777, 0,
				    t127, &root_cred, &ino), 0);
	/* the page comes back with the link */
	assert_int_equal(ops->unlink(&f->sb, f->root, "l", 0), 0);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_bfree, 1);
	assert_int_equal(create_ino(&f->sb, f->root, "l2", S_IFLNK | 0777, 0,
				    t200, &root_cred, &ino), 0);
	fx_unmount(f);  /* asserts every page given back */
}

/* fallocate on an instance without size=: a reserved page costs no memory
 * of its own, only its place in the page tree (about 1/500 of a page),
 * so what one call could reserve was bounded by the 16 TiB statfs shows,
 * 2^32 pages: some 35 GB of tree made under the node lock by one call
 * of any user.  tmpfs without a size allocates each page and fails when
 * memory runs out; memfs refuses at once what takes the instance's pages
 * past the machine's memory (reserved and written together). */
static void test_fallocate_unlimited(void **state)
{
	uint64_t ram = (uint64_t)sysconf(_SC_PHYS_PAGES) *
		       (uint64_t)sysconf(_SC_PAGESIZE) / 4096;
	struct statvfs sv;
	struct fx *f;
	void *a, *b;

	(void)state;
	f = fx_mount(NULL);
	a = mkh(f, f->root, "a", S_IFREG | 0644);
	b = mkh(f, f->root, "b", S_IFREG | 0644);
	assert_int_equal(ops->fallocate(&f->sb, a, NULL, FA_KEEP, 0,
					(off_t)(ram + 1) * 4096), -ENOSPC);
	assert_int_equal(sget(f, a).st_blocks, 0);
	/* a part, then more than the rest in another file */
	assert_int_equal(ops->fallocate(&f->sb, a, NULL, FA_KEEP, 0,
					(off_t)(ram / 64) * 4096), 0);
	assert_int_equal(ops->fallocate(&f->sb, b, NULL, FA_KEEP, 0,
					(off_t)(ram - ram / 64 + 1) * 4096),
			 -ENOSPC);
	assert_int_equal(sget(f, b).st_blocks, 0);
	assert_int_equal(ops->statfs(&f->sb, &sv), 0);
	assert_int_equal(sv.f_blocks - sv.f_bfree, ram / 64);
	assert_int_equal(set_size(f, a, 0), 0);
	fx_unmount(f);
}
