/*
 * xattr.c - the hostfs operations on extended attributes: xattrwalk (get
 * one, or list them) and xattrcreate (set or remove one at clunk).
 *
 * Only the user., trusted. and security. namespaces pass through, the
 * trusted. one only for a caller the server lets use it (xattr_priv).
 * Each acts on its fid's resolved descriptor (hs_fid_fd, hostfs.c,
 * "Confinement").  Nothing here outlives the request; the objects and
 * their locks are those of hostfs.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "hostfs_i.h"
#include "sys.h"

/* A namespace that passes through (name non-empty). */
static bool xattr_ns_ok(const char *name)
{
	return strncmp(name, "user.", 5) == 0 ||
	       strncmp(name, "trusted.", 8) == 0 ||
	       strncmp(name, "security.", 9) == 0;
}

/* What the host would refuse this user had it not our CAP_SYS_ADMIN. */
static int xattr_priv(struct hostfs *hs, struct p9srv_fid *f,
		      const char *name, bool write)
{
	if (!hs->as_root || f->uid == 0)
		return 0;
	if (strncmp(name, "trusted.", 8) == 0)
		return write ? -EPERM : -ENODATA;
	if (write && strncmp(name, "security.", 9) == 0)
		return -EPERM;
	return 0;
}

/* The names of list[0..n) that pass, packed in place: the new length. */
static size_t xattr_list_filter(struct hostfs *hs, struct p9srv_fid *f,
				char *list, size_t n)
{
	size_t in = 0, out = 0;

	while (in < n) {
		size_t len = strnlen(list + in, n - in);
		if (len == n - in)
			break;          /* unterminated: the host's bug */
		const char *name = list + in;
		if (len && xattr_ns_ok(name) &&
		    xattr_priv(hs, f, name, false) == 0) {
			memmove(list + out, name, len + 1);
			out += len + 1;
		}
		in += len + 1;
	}
	return out;
}

ssize_t hs_xattrwalk(struct p9srv_req *r, struct p9srv_fid *f,
		     const char *name, void *buf, size_t cap)
{
	struct hostfs *hs = hs_of(r);
	char proc[64], *list = NULL;
	bool owned;
	ssize_t n;
	int fd;

	if (*name && !xattr_ns_ok(name))
		return -EOPNOTSUPP;
	if (*name && (n = xattr_priv(hs, f, name, false)) < 0)
		return n;
	fd = hs_fid_fd(hs, f, 0, &owned, NULL);
	if (fd < 0)
		return fd;
	/* the resolved file itself, never a name in the export: see the
	 * head comment ("Extended attributes") */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (*name) {
		n = sys_getxattr(proc, name, buf, cap);
		n = n < 0 ? -errno : n;
	} else if (!(list = sys_malloc(XATTR_LIST_MAX))) {
		n = -ENOMEM;
	} else {
		/* filtered, so measured after filtering */
		n = sys_listxattr(proc, list, XATTR_LIST_MAX);
		n = n < 0 ? -errno : (ssize_t)xattr_list_filter(hs, f, list,
								 (size_t)n);
		if (n > 0 && cap) {
			if ((size_t)n > cap)
				n = -ERANGE;
			else
				memcpy(buf, list, (size_t)n);
		}
		free(list);
	}
	hs_fd_done(fd, owned);
	return n;
}

int hs_xattrcreate(struct p9srv_req *r, struct p9srv_fid *f,
		   const char *name, const void *value, size_t size,
		   uint32_t flags)
{
	struct hostfs *hs = hs_of(r);
	char proc[64];
	bool owned;
	int fd, err;

	if (!xattr_ns_ok(name))
		return -EOPNOTSUPP;
	if ((err = xattr_priv(hs, f, name, true)) < 0)
		return err;
	fd = hs_fid_fd(hs, f, 0, &owned, NULL);
	if (fd < 0)
		return fd;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (size)
		err = sys_setxattr(proc, name, value, size, (int)flags);
	else            /* 9P2000.L: a zero-size create removes */
		err = sys_removexattr(proc, name);
	err = err < 0 ? -errno : 0;
	hs_fd_done(fd, owned);
	return err;
}

