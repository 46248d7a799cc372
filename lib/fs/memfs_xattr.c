/*
 * memfs_xattr.c - extended attributes of memfs nodes: a short list of
 * (name, value) per node in the order they were first set.
 *
 * A struct xattr is made by setxattr (allocated before the node lock is
 * taken), lives on its node's list under the node lock, and is freed by
 * removexattr or a replacing setxattr (after the lock is dropped) or with
 * its node.  Its bytes are charged to the instance's used_pages in whole
 * pages, so the size= limit covers them.
 */
#define _GNU_SOURCE
#include "memfs_i.h"

#include <assert.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "sys.h"

/* ---- extended attributes ----------------------------------------------- */

/* The core has checked the name and the size (fs.h); this holds all the
 * same.  => 0 with *nlenp set, or -ERANGE. */
static int xattr_name(const char *name, size_t *nlenp)
{
	size_t nlen = strnlen(name, XATTR_NAME_LEN_MAX + 1);

	if (nlen == 0 || nlen > XATTR_NAME_LEN_MAX)
		return -ERANGE;
	*nlenp = nlen;
	return 0;
}

static size_t xattr_size(const struct xattr *x)
{
	return x->nlen + 1 + x->vlen;
}

/* => n->lock held.  The link to name's attribute, or the NULL at the end
 *    of the list. */
static struct xattr **xattr_find_locked(struct node *n, const char *name,
					size_t nlen)
{
	struct xattr **pp;

	for (pp = &n->xattrs; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->nlen == nlen && memcmp((*pp)->data, name, nlen) == 0)
			break;
	return pp;
}

/* n's attributes take bytes from now on: charges or gives back the
 * difference in pages.  => n->lock held; 0 or -ENOSPC (nothing changed;
 * never when shrinking). */
static int xattr_charge_locked(struct memfs *fs, struct node *n,
			       size_t bytes)
{
	uint64_t have = memfs_xattr_pages(n->xbytes), want = memfs_xattr_pages(bytes);

	if (want > have) {
		int err = memfs_pages_count(fs, want - have);

		if (err != 0)
			return err;
	} else {
		memfs_pages_uncount(fs, have - want);
	}
	n->xbytes = bytes;
	return 0;
}

ssize_t memfs_getxattr(struct uvfs_sb *sb, void *priv, const char *name,
		       void *value, size_t size)
{
	struct node *n = priv;
	const struct xattr *x;
	size_t nlen;
	ssize_t r;

	(void)sb;
	r = xattr_name(name, &nlen);
	if (r != 0)
		return r;
	node_lock(n);
	x = *xattr_find_locked(n, name, nlen);
	if (x == NULL) {
		r = -ENODATA;
	} else if (size != 0 && x->vlen > size) {
		r = -ERANGE;
	} else {
		if (size != 0)
			memcpy(value, x->data + x->nlen + 1, x->vlen);
		r = (ssize_t)x->vlen;
	}
	node_unlock(n);
	return r;
}

/* Every name, NUL-terminated, in the order first set. */
ssize_t memfs_listxattr(struct uvfs_sb *sb, void *priv, char *list,
			size_t size)
{
	struct node *n = priv;
	const struct xattr *x;
	size_t len = 0;
	ssize_t r;

	(void)sb;
	node_lock(n);
	for (x = n->xattrs; x != NULL; x = x->next)
		len += x->nlen + 1;
	if (size != 0 && len > size) {
		r = -ERANGE;
	} else {
		if (size != 0) {
			char *p = list;

			for (x = n->xattrs; x != NULL; x = x->next) {
				memcpy(p, x->data, x->nlen + 1);
				p += x->nlen + 1;
			}
		}
		r = (ssize_t)len;
	}
	node_unlock(n);
	return r;
}

/* A new value takes the old one's place in the list; ctime changes, as on
 * tmpfs. */
int memfs_setxattr(struct uvfs_sb *sb, void *priv, const char *name,
		   const void *value, size_t size, int flags)
{
	struct memfs *fs = sb_fs(sb);
	struct node *n = priv;
	struct xattr *x, *old, **pp;
	size_t nlen;
	int err;

	err = xattr_name(name, &nlen);
	if (err != 0)
		return err;
	if (size > UVFS_XATTR_SIZE_MAX)
		return -E2BIG;
	x = sys_malloc(sizeof(*x) + nlen + 1 + size);
	if (x == NULL)
		return -ENOMEM;
	x->next = NULL;
	x->nlen = nlen;
	x->vlen = size;
	memcpy(x->data, name, nlen + 1);
	if (size != 0)
		memcpy(x->data + nlen + 1, value, size);

	node_lock(n);
	pp = xattr_find_locked(n, name, nlen);
	old = *pp;
	if (old != NULL && (flags & XATTR_CREATE))
		err = -EEXIST;
	else if (old == NULL && (flags & XATTR_REPLACE))
		err = -ENODATA;
	else
		err = xattr_charge_locked(fs, n, n->xbytes + xattr_size(x) -
					  (old ? xattr_size(old) : 0));
	if (err == 0) {
		x->next = old ? old->next : NULL;
		*pp = x;
		now(&n->ctime);
	}
	node_unlock(n);
	if (err != 0) {
		free(x);
		return err;
	}
	free(old);
	return 0;
}

int memfs_removexattr(struct uvfs_sb *sb, void *priv, const char *name)
{
	struct memfs *fs = sb_fs(sb);
	struct node *n = priv;
	struct xattr *x, **pp;
	size_t nlen;
	int err;

	err = xattr_name(name, &nlen);
	if (err != 0)
		return err;
	node_lock(n);
	pp = xattr_find_locked(n, name, nlen);
	x = *pp;
	if (x != NULL) {
		*pp = x->next;
		err = xattr_charge_locked(fs, n, n->xbytes - xattr_size(x));
		assert(err == 0); /* shrinking */
		now(&n->ctime);
	}
	node_unlock(n);
	if (x == NULL)
		return -ENODATA;
	free(x);
	return 0;
}
