/*
 * resolve.c - hostfs's paths: a fid's path (relative to the export root,
 * no "..", no length limit) resolved to a descriptor beneath the root
 * (docs/server.md, "Confinement"), and paths joined.  Nothing here holds
 * state: the descriptors returned are the caller's to close.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hostfs_i.h"
#include "sys.h"

/* openat2 of path beneath dirfd (no symlink, no magic link, nothing
 * above dirfd); a descriptor or -errno. */
int hs_resolve_at(int dirfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
		.resolve = RESOLVE_FLAGS,
	};
	for (int tries = 0;; tries++) {
		long fd = sys_openat2(dirfd, path, &how, sizeof(how));
		if (fd >= 0)
			return (int)fd;
		/* EAGAIN: a rename raced with the walk; try again.  EXDEV
		 * too: a path here has no ".." and no symlink is followed,
		 * so it "escapes" only when a rename moves a directory of
		 * it while the walk is under way (the kernel's last check
		 * that the file is beneath dirfd sees the move half done):
		 * a concurrent rename of a directory between two parents
		 * below the root gave EXDEV about once in 100 000 lookups
		 * (tests/test_9prace.c) */
		if ((errno != EAGAIN && errno != EXDEV) || tries >= 16)
			return -errno;
	}
}

/* Is directory fd (still) below the export root?  Its ".." chain is
 * followed up to the root (0) or to the top of the host's tree (-EXDEV:
 * it was moved out). */
static int below_root(struct hostfs *hs, int fd)
{
	struct stat root, st;
	int cur = sys_fcntl(fd, F_DUPFD_CLOEXEC, 0), err = 0;

	if (cur < 0 || sys_fstat(hs->rootfd, &root) < 0)
		err = -errno;
	while (err == 0) {
		if (sys_fstat(cur, &st) < 0) {
			err = -errno;
			break;
		}
		if (st.st_dev == root.st_dev && st.st_ino == root.st_ino)
			break;
		int up = sys_openat(cur, "..", O_PATH | O_DIRECTORY |
				    O_CLOEXEC, 0);
		if (up < 0) {
			err = -errno;
			break;
		}
		struct stat ust;
		if (sys_fstat(up, &ust) < 0 ||
		    (ust.st_dev == st.st_dev && ust.st_ino == st.st_ino))
			err = -EXDEV;   /* the host's root: not below ours */
		sys_close(cur);
		cur = up;
	}
	if (cur >= 0)
		sys_close(cur);
	return err;
}

/*
 * openat2 beneath the root; a descriptor or -errno.  A path longer than
 * the kernel takes at once (PATH_MAX) is resolved in pieces of whole
 * names, each beneath the directory the previous one reached: a path
 * holds no ".." and no symlink is followed, so each piece stays below the
 * root as long as its starting directory is; that is checked once at the
 * end (a directory renamed out of the export between two pieces fails
 * the resolution with ENOENT).
 */
int hs_resolve(struct hostfs *hs, const char *path, int flags)
{
	size_t len = strlen(path);
	const char *p = path;
	char piece[PATH_MAX];
	int dfd = hs->rootfd, fd;

	if (len < PATH_MAX)
		return hs_resolve_at(hs->rootfd, path, flags);
	for (;;) {
		size_t n = strlen(p);
		bool last = n < PATH_MAX;
		if (!last) {
			n = PATH_MAX - 1;
			while (n > 0 && p[n] != '/')
				n--;
			if (n == 0) {
				fd = -ENAMETOOLONG;
				break;
			}
		}
		memcpy(piece, p, n);
		piece[n] = '\0';
		fd = hs_resolve_at(dfd, piece, last ? flags : O_PATH | O_DIRECTORY);
		if (fd < 0 || last)
			break;
		if (dfd != hs->rootfd)
			sys_close(dfd);
		dfd = fd;
		p += n + 1;
	}
	if (fd >= 0) {
		/* the directory the last piece started from */
		int err = below_root(hs, dfd);
		if (err) {
			sys_close(fd);
			fd = err == -EXDEV ? -ENOENT : err;
		}
	}
	if (dfd != hs->rootfd)
		sys_close(dfd);
	return fd;
}

/* dir/name, to free (NULL: ENOMEM).  A path has no length limit (the
 * host's is on one call, not on a tree's depth: hs_resolve). */
char *hs_path_join(const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	char *out;

	if (strcmp(dir, ".") == 0)
		return sys_strdup(name);
	out = sys_malloc(dl + nl + 2);
	if (out) {
		memcpy(out, dir, dl);
		out[dl] = '/';
		memcpy(out + dl + 1, name, nl + 1);
	}
	return out;
}
