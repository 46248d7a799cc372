/*
 * ra.c - the NFS driver's read-ahead: one window per open file (struct
 * handle's ra_* fields, nfs_i.h), docs/nfs.md "Read-ahead".
 *
 * Owns struct rapiece (one READ of a window: started by nr_read's
 * ra_fill, answered when a read needs it (n3_read_end, in that reader's
 * thread and by its deadline), freed when the reads have used it up, or
 * given up without waiting (n3_read_drop) when the window is dropped: a
 * change of the file, a write through the handle, a failed piece, the
 * release).  The bytes of all windows of a mount are counted in
 * s->ra_bytes (at most RA_MOUNT_BYTES).
 *
 * Locks: h->ra_lock guards the window and is held across the waits for
 * the pieces a read needs; s->lock (taken inside it, briefly) the node's
 * fields read here.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nfs_i.h"
#include "sys.h"

/* Read-ahead (docs/nfs.md): a read that starts where the handle's last
 * one ended (the second of a sequential run) starts READs of RA_BYTES
 * from there (a window), waits only for those its own range needs, and
 * leaves the rest in flight; each read after it takes its range from the
 * window (waiting for a piece still in flight, by its own deadline) and
 * tops the window up to RA_BYTES ahead of where it stopped, so a
 * sequential reader always has the next pieces on their way.  The window
 * is bounded per file (RA_BYTES, RA_PIECES) and per mount
 * (RA_MOUNT_BYTES: past it a read just reads).  What was read ahead is
 * used only while this mount wrote nothing to the file (wgen: this
 * handle's own write drops its window at once, another's makes it old)
 * and the node's cached mtime and size, and each piece's own attributes,
 * are those seen when the window started (another writer's change drops
 * it); never with cache=none.  A piece that fails (a loss, a deadline,
 * a forced unmount) drops the window and the read reads for itself.
 * Dropping never waits: pieces in flight are given up (n3_read_drop),
 * and their replies are dropped by the session when they come. */

void nr_drop(struct nsb *s, struct handle *h)
{
	for (unsigned i = 0; i < h->ra_n; i++) {
		if (h->ra[i].pend)
			n3_read_drop(h->ra[i].pend);
		free(h->ra[i].data);
	}
	atomic_fetch_sub(&s->ra_bytes, h->ra_bytes);
	free(h->ra);
	h->ra = NULL;
	h->ra_n = 0;
	h->ra_bytes = 0;
}

/* Drops the first k pieces (consumed).  => h->ra_lock held. */
static void ra_shift(struct nsb *s, struct handle *h, unsigned k)
{
	size_t b = 0;

	for (unsigned i = 0; i < k; i++) {
		if (h->ra[i].pend)
			n3_read_drop(h->ra[i].pend);
		free(h->ra[i].data);
		b += h->ra[i].len;
	}
	memmove(h->ra, h->ra + k, (h->ra_n - k) * sizeof(*h->ra));
	h->ra_n -= k;
	h->ra_bytes -= b;
	atomic_fetch_sub(&s->ra_bytes, b);
}

/* Drops the pieces from the i-th on.  => h->ra_lock held. */
static void ra_cut(struct nsb *s, struct handle *h, unsigned i)
{
	size_t b = 0;

	for (unsigned j = i; j < h->ra_n; j++) {
		if (h->ra[j].pend)
			n3_read_drop(h->ra[j].pend);
		free(h->ra[j].data);
		b += h->ra[j].len;
	}
	h->ra_n = i;
	h->ra_bytes -= b;
	atomic_fetch_sub(&s->ra_bytes, b);
}

/* Is the window still what the file holds?  => h->ra_lock held. */
static bool ra_valid(struct nsb *s, struct node *nd, struct handle *h)
{
	bool valid;

	pthread_mutex_lock(&s->lock);
	valid = nd->wgen == h->ra_wgen && nd->st_valid &&
		nd->st.st_size == h->ra_size &&
		nd->st.st_mtim.tv_sec == h->ra_mtime.tv_sec &&
		nd->st.st_mtim.tv_nsec == h->ra_mtime.tv_nsec;
	pthread_mutex_unlock(&s->lock);
	return valid;
}

/* Starts READs after the window's end (from off if it is empty: its
 * first READ is of first bytes, the caller's, so that its answer comes
 * first and alone) until it reaches RA_BYTES past from, the file's cached
 * size, a piece that found the end, or a bound.  => h->ra_lock held. */
static void ra_fill(struct nsb *s, struct n3 *c, struct node *nd,
		    struct handle *h, uint64_t off, uint64_t from,
		    size_t first)
{
	struct fh3 fh;
	uint64_t at;

	if (nn_fh(s, nd, &fh))
		return;         /* stale: nothing read ahead */
	if (h->ra_n == 0) {
		/* a new window: what it will be checked against */
		pthread_mutex_lock(&s->lock);
		h->ra_wgen = nd->wgen;
		h->ra_size = nd->st.st_size;
		h->ra_mtime = nd->st.st_mtim;
		bool known = nd->st_valid;
		pthread_mutex_unlock(&s->lock);
		if (!known)
			return;
		at = off;
	} else {
		struct rapiece *last = &h->ra[h->ra_n - 1];
		if (!last->pend && (last->eof || last->got < last->len))
			return;         /* the end is known */
		at = last->off + last->len;
	}
	if (!h->ra && !(h->ra = sys_calloc(RA_PIECES, sizeof(*h->ra))))
		return;
	while (h->ra_n < RA_PIECES && at < from + RA_BYTES &&
	       at < (uint64_t)h->ra_size) {
		uint32_t len = s->rtmax;
		if (h->ra_n == 0 && first > 0 && first < len)
			len = (uint32_t)first;
		size_t was = atomic_fetch_add(&s->ra_bytes, len);
		if (was + len > RA_MOUNT_BYTES) {
			atomic_fetch_sub(&s->ra_bytes, len);
			break;          /* the mount's bound */
		}
		struct rapiece *p = &h->ra[h->ra_n];
		memset(p, 0, sizeof(*p));
		p->off = at;
		p->len = len;
		p->data = sys_malloc(len);
		if (!p->data || n3_read_start(c, &fh, len, at, &p->pend)) {
			free(p->data);
			atomic_fetch_sub(&s->ra_bytes, len);
			break;
		}
		h->ra_n++;
		h->ra_bytes += len;
		at += len;
	}
}

/* The caller's range [off, off + n) from the window, as far as it goes:
 * the bytes copied (0 if off is not in it), *eof if the file ends there;
 * -EAGAIN if a piece it needed failed or showed a change (the window is
 * dropped: the caller reads for itself).  => h->ra_lock held. */
static ssize_t ra_take(struct nsb *s, struct n3 *c, struct handle *h,
		       void *buf, size_t n, uint64_t off, bool *eof)
{
	size_t done = 0;
	unsigned i = 0;

	*eof = false;
	while (i < h->ra_n && done < n) {
		struct rapiece *p = &h->ra[i];
		uint64_t at = off + done;
		if (at >= p->off + p->len) {
			i++;
			continue;
		}
		if (at < p->off)
			break;          /* before the window */
		if (p->pend) {
			struct n3attr a = { 0 };
			ssize_t r = n3_read_end(c, p->pend, p->data, &p->eof,
						&a);
			p->pend = NULL;
			if (r < 0 || (a.valid &&
				     (a.st.st_size != h->ra_size ||
				      a.st.st_mtim.tv_sec !=
					      h->ra_mtime.tv_sec ||
				      a.st.st_mtim.tv_nsec !=
					      h->ra_mtime.tv_nsec))) {
				nr_drop(s, h);
				return -EAGAIN;
			}
			p->got = (uint32_t)r;
		}
		if (at < p->off + p->got) {
			size_t k = (size_t)(p->off + p->got - at);
			if (k > n - done)
				k = n - done;
			memcpy((char *)buf + done, p->data + (at - p->off), k);
			done += k;
		}
		if (done < n) {
			/* the piece is used up: the end of the file, a short
			 * answer (the rest is read by the caller), or on */
			if (p->eof) {
				*eof = true;
				break;
			}
			if (p->got < p->len) {
				ra_cut(s, h, i + 1);
				break;
			}
			i++;
		}
	}
	/* what lies wholly before where the caller stopped is used up */
	unsigned k = 0;
	while (k < h->ra_n && !h->ra[k].pend &&
	       h->ra[k].off + h->ra[k].len <= off + done)
		k++;
	if (k > 0)
		ra_shift(s, h, k);
	return (ssize_t)done;
}

/* A read through the window (nfs_i.h). */
ssize_t nr_read(struct nsb *s, struct n3 *c, struct node *nd,
		struct handle *h, void *buf, size_t n, uint64_t off)
{
	bool eof;
	ssize_t r;

	if (h->ra_n > 0 && !ra_valid(s, nd, h))
		nr_drop(s, h);
	bool inside = h->ra_n > 0 && off >= h->ra[0].off &&
		      off < h->ra[h->ra_n - 1].off + h->ra[h->ra_n - 1].len;
	if (!inside) {
		nr_drop(s, h);
		if (off == 0 || off != h->next_off)
			return -EAGAIN;         /* not (yet) sequential */
		ra_fill(s, c, nd, h, off, off, n);
		if (h->ra_n == 0)
			return -EAGAIN;
	} else {
		/* the next pieces go out before this read waits */
		ra_fill(s, c, nd, h, off, off + n, 0);
	}
	r = ra_take(s, c, h, buf, n, off, &eof);
	if (r < 0)
		return r;
	if (r == 0 && !eof)
		return -EAGAIN;
	/* the next pieces on their way before the caller has this one */
	ra_fill(s, c, nd, h, off + (uint64_t)r, off + (uint64_t)r, 0);
	if ((size_t)r < n && !eof) {
		/* the window stopped short (a short answer, a bound): the
		 * rest by a plain read */
		struct fh3 fh;
		struct n3attr a = { 0 };
		uint64_t agen = nn_attr_gen(s);
		ssize_t r2 = nn_fh(s, nd, &fh);
		if (r2 == 0)
			r2 = n3_read_many(c, &fh, (char *)buf + r,
					  n - (size_t)r, off + (uint64_t)r,
					  s->rtmax, window_of(s->rtmax), &a);
		if (r2 < 0)
			return r2;
		nn_attr(s, nd, &a, agen);
		r += r2;
	}
	return r;
}

