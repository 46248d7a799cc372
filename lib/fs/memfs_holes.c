/*
 * memfs_holes.c - what memfs knows of its holes: fallocate (reserved
 * pages, punched holes), SEEK_DATA / SEEK_HOLE, and copy_range, which
 * writes what it reads, zeros of holes included (tmpfs has no copy op: the
 * kernel splices, and a hole copied is zeros written).
 *
 * A page index of a regular file is one of three things in its page tree
 * (memfs_radix.c), as a tmpfs page is:
 *   absent     a hole: reads zeros, costs nothing;
 *   reserved   MEMFS_RESERVED, one shared page of zeros that is never
 *              written: fallocate's.  Counted like any page in used_pages
 *              (the size= limit: a later write into it cannot fail with
 *              -ENOSPC) and in npages (st_blocks), read as zeros, and a
 *              hole to SEEK_DATA (tmpfs: a fallocated page is not up to
 *              date until written).  The first write into it puts a page
 *              of its own in its place (memfs_page_for_write), and so
 *              does a second fallocate over it (tmpfs's shmem_get_folio
 *              for SGP_FALLOC clears a fallocated folio it finds and
 *              marks it up to date: data from then on);
 *   data       a page of its own, written at least once (whole: the bytes
 *              of it never written read as zeros, and count as data).
 * A punch frees the pages it covers whole, zeros the bytes it covers in
 * the others; truncation to a size at or below the old one frees every
 * page past it, reserved pages beyond the end of file included (tmpfs).
 * So SEEK_DATA / SEEK_HOLE answer what tmpfs answers for the same calls:
 * page granularity, data runs clipped at the size.
 *
 * Locks: the node's lock around each change and each look, never two
 * node locks at a time (memfs.c's lock order): copy_range between two
 * files copies at most one page at a time, taking the source's lock and
 * then the destination's, one after the other.
 */
#define _GNU_SOURCE
#include "memfs_i.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sys.h"

#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 0x01
#endif
#ifndef FALLOC_FL_PUNCH_HOLE
#define FALLOC_FL_PUNCH_HOLE 0x02
#endif

const char memfs_reserved_page[PG_SIZE];

static bool is_data(const void *pg)
{
	return pg != NULL && pg != MEMFS_RESERVED;
}

/* Zeros bytes [from, to) of page idx if it holds data. */
static void zero_part(struct node *n, uint64_t idx, size_t from, size_t to)
{
	char *pg = memfs_radix_lookup(&n->u.reg.pages, idx);

	if (is_data(pg))
		memset(pg + from, 0, to - from);
}

/* Bytes [start, end) read as zeros afterwards; whole pages in it are
 * taken out.  => n->lock held; n a regular file.  Nothing can fail. */
void memfs_punch_locked(struct memfs *fs, struct node *n, uint64_t start,
			uint64_t end)
{
	uint64_t first = (start + PG_MASK) >> PG_SHIFT; /* first whole page */
	uint64_t last = end >> PG_SHIFT;                /* past the last */
	uint64_t freed;

	if (start >= end)
		return;
	if ((start >> PG_SHIFT) == ((end - 1) >> PG_SHIFT) &&
	    ((start & PG_MASK) != 0 || (end & PG_MASK) != 0)) {
		zero_part(n, start >> PG_SHIFT, start & PG_MASK,
			  ((end - 1) & PG_MASK) + 1);
		return;
	}
	if ((start & PG_MASK) != 0)
		zero_part(n, start >> PG_SHIFT, start & PG_MASK, PG_SIZE);
	if ((end & PG_MASK) != 0)
		zero_part(n, end >> PG_SHIFT, 0, end & PG_MASK);
	freed = memfs_radix_punch(&n->u.reg.pages, first, last);
	n->u.reg.npages -= freed;
	memfs_pages_uncount(fs, freed);
}

/* The pages of [first, last] that an earlier fallocate reserved become
 * data (tmpfs: a fallocated folio found by another fallocate is cleared
 * and marked up to date).  They are counted already.  => n->lock held. */
static int settle_reserved_locked(struct node *n, uint64_t first,
				  uint64_t last)
{
	uint64_t idx = first, found;
	char *pg;

	while (idx <= last) {
		pg = memfs_radix_next(&n->u.reg.pages, idx, &found);
		if (pg == NULL || found > last)
			break;
		if (pg == MEMFS_RESERVED) {
			if (memfs_pool_get(&pg, 1, true) != 0)
				return -ENOMEM;
			*memfs_radix_slot(&n->u.reg.pages, found) = pg;
		}
		idx = found + 1;
	}
	return 0;
}

/* The machine's memory in pages of PG_SIZE (UNLIMITED_BLOCKS if the
 * system cannot say). */
static uint64_t ram_pages(void)
{
	static _Atomic uint64_t pages;  /* 0: not asked yet */
	uint64_t p = atomic_load_explicit(&pages, memory_order_relaxed);

	if (p == 0) {
		long np = sysconf(_SC_PHYS_PAGES), ps = sysconf(_SC_PAGESIZE);

		p = np > 0 && ps > 0 ? (uint64_t)np * (uint64_t)ps / PG_SIZE :
				       UNLIMITED_BLOCKS;
		atomic_store_explicit(&pages, p, memory_order_relaxed);
	}
	return p;
}

/* Reserves every page of [first, last] that has none, and turns those an
 * earlier fallocate reserved into data.  All or nothing for -ENOSPC
 * (counted before anything changes); an -ENOMEM midway leaves the pages
 * reserved or settled so far (they read as zeros, the size is
 * unchanged).  Without size=, -ENOSPC too past the machine's memory,
 * reserved and written pages of the instance together: a reserved page
 * costs only its place in the page tree, about 1/500 of a page, so one
 * call could otherwise make tens of GB of tree under the node lock
 * (tmpfs without a size allocates each page, and fails when memory runs
 * out).  => n->lock held. */
static int reserve_locked(struct memfs *fs, struct node *n, uint64_t first,
			  uint64_t last)
{
	uint64_t want = last - first + 1, need, made = 0;
	uint64_t limit = fs->max_pages ? fs->max_pages : ram_pages();
	int err;

	if (want > limit)       /* no need to count what cannot fit */
		return -ENOSPC;
	need = want - memfs_radix_count(&n->u.reg.pages, first, last + 1);
	if (need == 0)          /* (counting 0 on a full instance fails) */
		return settle_reserved_locked(n, first, last);
	err = memfs_pages_count_max(fs, need, limit);
	if (err != 0)
		return err;
	err = settle_reserved_locked(n, first, last);   /* before any new */
	if (err != 0) {
		memfs_pages_uncount(fs, need);
		return err;
	}
	for (uint64_t i = first; made < need && i <= last; i++) {
		if (memfs_radix_lookup(&n->u.reg.pages, i) != NULL)
			continue;
		err = memfs_radix_insert(&n->u.reg.pages, i, MEMFS_RESERVED);
		if (err != 0)
			break;
		made++;
	}
	n->u.reg.npages += made;
	memfs_pages_uncount(fs, need - made);
	return err;
}

/* tmpfs's modes: allocate (0, KEEP_SIZE) and PUNCH_HOLE|KEEP_SIZE; the
 * others -EOPNOTSUPP.  mtime and ctime change on every success, even one
 * that changed nothing (tmpfs: file_modified). */
int memfs_fallocate(struct uvfs_sb *sb, void *priv, void *fh, int mode,
		    off_t off, off_t len)
{
	struct memfs *fs = sb_fs(sb);
	struct node *n = priv;
	uint64_t end;
	int err = 0;

	(void)fh;
	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE))
		return -EOPNOTSUPP;
	if (n->type == S_IFDIR)
		return -EISDIR;
	if (n->type != S_IFREG)
		return -ENODEV;
	if (off < 0 || len <= 0 || off > FILE_SIZE_MAX - len)
		return -EINVAL;
	end = (uint64_t)off + (uint64_t)len;

	node_lock(n);
	if (mode & FALLOC_FL_PUNCH_HOLE) {
		memfs_punch_locked(fs, n, (uint64_t)off, end);
	} else {
		err = reserve_locked(fs, n, (uint64_t)off >> PG_SHIFT,
				     (end - 1) >> PG_SHIFT);
		if (err == 0 && !(mode & FALLOC_FL_KEEP_SIZE) &&
		    (off_t)end > n->size)
			n->size = (off_t)end;
	}
	if (err == 0) {
		now(&n->mtime);
		n->ctime = n->mtime;
	}
	node_unlock(n);
	return err;
}

off_t memfs_seek_data(struct uvfs_sb *sb, void *priv, void *fh, off_t off,
		      int whence)
{
	struct node *n = priv;
	uint64_t idx, found;
	off_t pos;
	void *pg;

	(void)sb;
	(void)fh;
	if (n->type == S_IFDIR)
		return -EINVAL;
	if (n->type != S_IFREG || off < 0)
		return -ENXIO;
	idx = (uint64_t)off >> PG_SHIFT;
	node_lock(n);
	if (off >= n->size) {
		pos = -ENXIO;
	} else if (whence == SEEK_DATA) {
		while ((pg = memfs_radix_next(&n->u.reg.pages, idx, &found)) ==
		       MEMFS_RESERVED)
			idx = found + 1;
		pos = pg != NULL ? (off_t)(found << PG_SHIFT) : n->size;
		if (pos < off)
			pos = off;
		if (pos >= n->size)
			pos = -ENXIO;
	} else if (whence == SEEK_HOLE) {
		/* in bytes as unsigned: past the last page a file of
		 * FILE_SIZE_MAX can have, idx << PG_SHIFT is 2^63 */
		uint64_t end = (uint64_t)n->size;

		while ((idx << PG_SHIFT) < end &&
		       is_data(memfs_radix_lookup(&n->u.reg.pages, idx)))
			idx++;
		pos = (idx << PG_SHIFT) >= end ? n->size :
		      (off_t)(idx << PG_SHIFT);
		if (pos < off)
			pos = off;
	} else {
		pos = -EINVAL;
	}
	node_unlock(n);
	return pos;
}

/* One piece of a copy: the source at pin, up to len bytes within one
 * page, read into buf (zeros from a hole).  => the piece's length (0: pin
 * is at or past the end of file). */
static size_t copy_read(struct node *s, uint64_t pin, size_t len, char *buf)
{
	size_t chunk = PG_SIZE - (pin & PG_MASK);
	const char *pg;

	node_lock(s);
	if ((off_t)pin >= s->size) {
		node_unlock(s);
		return 0;
	}
	if (len > (uint64_t)(s->size - (off_t)pin))
		len = (size_t)(s->size - (off_t)pin);
	if (chunk > len)
		chunk = len;
	pg = memfs_radix_lookup(&s->u.reg.pages, pin >> PG_SHIFT);
	if (is_data(pg))
		memcpy(buf, pg + (pin & PG_MASK), chunk);
	else
		memset(buf, 0, chunk);
	node_unlock(s);
	return chunk;
}

/* The other half: buf at pout of d, within one page. */
static int copy_write(struct memfs *fs, struct node *d, uint64_t pout,
		      const char *buf, size_t chunk)
{
	char *pg;
	int err;

	node_lock(d);
	err = memfs_page_for_write(fs, d, pout >> PG_SHIFT, &pg);
	if (err == 0)
		memcpy(pg + (pout & PG_MASK), buf, chunk);
	if (err == 0 && (off_t)(pout + chunk) > d->size)
		d->size = (off_t)(pout + chunk);
	node_unlock(d);
	return err;
}

/* The core has checked the ranges (no overlap within one file, no
 * overflow).  Stops at the source's end of file; -ENOSPC midway makes
 * the copy short.  The destination's times move once a write into it
 * was tried (tmpfs: the kernel splices into its write, which moves them
 * first). */
ssize_t memfs_copy_range(struct uvfs_sb *sb, void *src, void *src_fh,
			 off_t off_in, void *dst, void *dst_fh, off_t off_out,
			 size_t len)
{
	struct memfs *fs = sb_fs(sb);
	struct node *s = src, *d = dst;
	size_t done = 0;
	bool tried = false;     /* a write into d was attempted */
	char *buf;
	int err = 0;

	(void)src_fh;
	(void)dst_fh;
	if (s->type == S_IFDIR || d->type == S_IFDIR)
		return -EISDIR;
	if (s->type != S_IFREG || d->type != S_IFREG || off_in < 0 ||
	    off_out < 0)
		return -EINVAL;
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	buf = sys_malloc(PG_SIZE);
	if (buf == NULL)
		return -ENOMEM;
	while (done < len) {
		uint64_t pin = (uint64_t)off_in + done;
		uint64_t pout = (uint64_t)off_out + done;
		size_t room = PG_SIZE - (pout & PG_MASK), chunk;

		chunk = copy_read(s, pin, len - done < room ? len - done : room,
				  buf);
		if (chunk == 0)
			break;
		tried = true;
		err = copy_write(fs, d, pout, buf, chunk);
		if (err != 0)
			break;
		done += chunk;
	}
	free(buf);
	node_lock(s);
	touch_atime_locked(s);  /* a read of the source */
	node_unlock(s);
	if (tried) {    /* as op_write: also when the write failed */
		node_lock(d);
		now(&d->mtime);
		d->ctime = d->mtime;
		node_unlock(d);
	}
	return done > 0 ? (ssize_t)done : err;
}
