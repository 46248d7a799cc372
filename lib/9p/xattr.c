/*
 * xattr.c - the 9P client driver's extended attributes
 * (docs/9p-client.md).  Owns nothing beyond one call: the xattr fid of a
 * get or a set lives from its Txattrwalk/Txattrcreate to its clunk.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <uvfs/fs.h>

#include "driver.h"
#include "sys.h"

/* ---- extended attributes (docs/9p-client.md) -------------------------
 * get/list: Txattrwalk(node fid -> new fid, name or "") gives the size;
 * Tread the copy the server took from 0; Tclunk (async).  Read only: if
 * the server was restarted meanwhile (the new one never had the xattr
 * fid: its Tread answers EBADF), the whole sequence runs again, up to
 * XATTR_TRIES times; a caller restarted under every time gets EIO.
 * set/remove: Twalk (clone), Txattrcreate(clone, name, size, flags),
 * Twrite the value, Tclunk, which commits: its Rlerror is the answer; a
 * commit that timed out is never sent again (its fid is left to the
 * session's end).  Not replayed: after a restart under them they fail
 * with EIO. */

#define XATTR_TRIES 3   /* get/list: runs of the sequence */

static ssize_t xattr_get_once(struct p9sb *s, struct node *n,
			      const char *name, void *buf, size_t size)
{
	struct p9_msg m = { .type = P9_TXATTRWALK };
	struct fid *f;
	struct reply rp;
	uint64_t len, done = 0;
	uint32_t xf;
	int r;

	r = node_fid(s, n, &f);
	if (r)
		return r;
	r = fid_alloc(&s->c, &xf);
	if (r) {
		fid_put(s, f);
		return r;
	}
	m.txattrwalk.fid = f->num;
	m.txattrwalk.newfid = xf;
	m.txattrwalk.name = p9_str(name);
	r = rpc(&s->c, &m, P9_RXATTRWALK, &rp, CL_WALK, xf);
	fid_put(s, f);
	if (r)
		return r;
	len = rp.m.rxattrwalk.size;
	reply_free(&rp);
	if (len > UVFS_XATTR_SIZE_MAX)
		r = -E2BIG;             /* more than any caller may take */
	else if (size && len > size)
		r = -ERANGE;
	while (r == 0 && size && done < len) {
		struct p9_msg t = { .type = P9_TREAD };
		uint32_t want = io_max(s, 0);

		if (len - done < want)
			want = (uint32_t)(len - done);
		t.tread.fid = xf;
		t.tread.offset = done;
		t.tread.count = want;
		r = rpc(&s->c, &t, P9_RREAD, &rp, CL_NONE, 0);
		if (r)
			break;
		uint32_t got = rp.m.rread.count;
		if (got > want || got == 0)
			r = -EIO;       /* past, or short of, what it said */
		else
			memcpy((char *)buf + done, rp.m.rread.data, got);
		reply_free(&rp);
		done += got;
	}
	clunk_async(&s->c, xf);
	return r ? r : (ssize_t)len;
}

/* name "": the list of names. */
static ssize_t xattr_get(struct p9sb *s, struct node *n, const char *name,
			 void *buf, size_t size)
{
	for (int tries = 1;; tries++) {
		uint64_t g = conn_sgen(&s->c);
		ssize_t r = STALE_RETRY(s, n,
					xattr_get_once(s, n, name, buf, size));

		if (r >= 0)
			return r;
		if (conn_sgen(&s->c) == g)
			return stale_answer(s, n, (int)r);
		/* a restart under it: read it again from the new server;
		 * after the last try, the error is the restart's (EIO),
		 * not the new server's word on a fid it never had */
		if (tries == XATTR_TRIES)
			return r == -EBADF ? -EIO : r;
	}
}

/* size 0: remove. */
static int xattr_set_once(struct p9sb *s, struct node *n, const char *name,
			  const void *value, size_t size, int flags)
{
	struct p9_msg m = { .type = P9_TXATTRCREATE };
	struct fid *f;
	struct reply rp;
	uint32_t xf, max = io_max(s, 0);
	uint64_t g;
	size_t done = 0;
	int r = node_fid(s, n, &f);

	if (r)
		return r;
	r = walk(s, f->num, NULL, &xf, NULL);
	fid_put(s, f);
	if (r)
		return r;
	g = conn_sgen(&s->c);
	m.txattrcreate.fid = xf;
	m.txattrcreate.name = p9_str(name);
	m.txattrcreate.attr_size = size;
	m.txattrcreate.flags = (uint32_t)flags;
	r = rpc_x(&s->c, &m, P9_RXATTRCREATE, &rp, CL_CLUNK, xf,
		  RPC_NOREPLAY);
	if (r)
		goto out;
	reply_free(&rp);
	while (done < size) {
		struct p9_msg t = { .type = P9_TWRITE };
		uint32_t want = size - done < max ? (uint32_t)(size - done)
						  : max;

		t.twrite.fid = xf;
		t.twrite.offset = done;
		t.twrite.count = want;
		t.twrite.data = (const uint8_t *)value + done;
		r = rpc_x(&s->c, &t, P9_RWRITE, &rp, CL_NONE, 0,
			  RPC_NOREPLAY);
		if (r)
			break;
		uint32_t got = rp.m.rwrite.count;
		reply_free(&rp);
		if (got == 0 || got > want) {
			r = -EIO;
			break;
		}
		done += got;
	}
	if (r) {
		/* the clunk commits what came (a server should refuse a
		 * short value: ours and QEMU's do, diod does not) */
		clunk_async(&s->c, xf);
		goto out;
	}
	struct p9_msg c = { .type = P9_TCLUNK };
	c.tclunk.fid = xf;
	r = rpc_x(&s->c, &c, P9_RCLUNK, &rp, CL_NONE, 0, RPC_NOREPLAY);
	if (r == 0)
		reply_free(&rp);
	/* The commit.  Answered (Rclunk or Rlerror), the fid is gone: a
	 * Tclunk always takes it; lost with the session, it is gone too
	 * (the next server never had it).  Timed out, it may have been
	 * flushed before it ran, or not sent at all (the deadline, no
	 * memory): the fid is then still the server's, holding the value,
	 * and any Tclunk of it would set what the caller is told was not.
	 * So its number is kept out of use, never clunked: the server drops
	 * the fid, uncommitted, with the session (hostfs; diod commits
	 * even then: docs/9p-client.md). */
	if (r != -ETIMEDOUT && r != -ENOMEM)
		fid_free(&s->c, xf);
out:
	/* a restart in between: the new server never had the xattr fid, so
	 * whatever failed, the old one may or may not have committed */
	if (r && conn_sgen(&s->c) != g)
		r = -EIO;
	return r;
}

ssize_t p9_getxattr(struct uvfs_sb *sb, void *priv, const char *name,
			   void *value, size_t size)
{
	if (!*name)
		return -EINVAL;         /* "" would be the list */
	return xattr_get(S(sb), priv, name, value, size);
}

ssize_t p9_listxattr(struct uvfs_sb *sb, void *priv, char *list,
			    size_t size)
{
	return xattr_get(S(sb), priv, "", list, size);
}

int p9_setxattr(struct uvfs_sb *sb, void *priv, const char *name,
		       const void *value, size_t size, int flags)
{
	struct p9sb *s = S(sb);
	int r;

	/* 9P2000.L has no empty value: a zero-size Txattrcreate removes
	 * (diod, QEMU, ours); refused rather than turned into a removal */
	if (size == 0)
		return -EOPNOTSUPP;
	r = STALE_RETRY(s, priv,
			xattr_set_once(s, priv, name, value, size, flags));
	attr_drop(s, priv);     /* its ctime */
	return stale_answer(s, priv, r);
}

int p9_removexattr(struct uvfs_sb *sb, void *priv, const char *name)
{
	struct p9sb *s = S(sb);
	int r = STALE_RETRY(s, priv, xattr_set_once(s, priv, name, NULL, 0, 0));

	attr_drop(s, priv);     /* its ctime */
	return stale_answer(s, priv, r);
}
