/*
 * bdi.c - the dirty-page limits of uvfsd's own FUSE mount, set once after
 * the mount when the kernel's writeback cache is on (-o writeback).
 *
 * The kernel gives every FUSE mount a backing device (a "bdi",
 * /sys/class/bdi/MAJ:MIN/, MAJ:MIN the mount's device) with a strict
 * dirty limit (strict_limit 1) of 1% of the system's (max_ratio 1): a
 * daemon nobody trusts must not pin the dirty pages every other file
 * system needs.  A writer on the mount is then held to the pace of the
 * daemon's writeback long before the system's limits, which for a daemon
 * that answers a 1 MiB WRITE in well under a millisecond costs more than
 * half the write rate (bench/README.md, bench_fuse).  uvfsd mounts as
 * root and every wait in uvfs has a deadline (a hung file server fails
 * its writes, and a forced unmount drops the dirty pages of what it
 * kills), so by default (wb_limit=system) it gives its mount the limits
 * of a disk: strict_limit 0 and max_ratio 100, the system's own
 * vm.dirty_* limits.  wb_limit=SIZE keeps the strict limit at SIZE bytes
 * (max_bytes); wb_limit=fuse leaves the kernel's defaults.  Nothing is
 * undone at unmount: the bdi goes with the mount.
 *
 * The device is read from /proc/self/mountinfo (the last mount at mnt of
 * type fuse.uvfsd with fsname as its source), not by stat(2) of the mount
 * point, which would ask this daemon before its loop runs.  Writing the
 * files needs root; anyone else gets -EACCES and a message.
 */
#define _GNU_SOURCE
#include "bdi.h"

#include "args.h"
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The search of the mount table (the caller's, on its stack). */
struct find {
	const char *mnt, *fsname;
	char majmin[32];
};

static int find_cb(const struct mountinfo_ent *e, void *arg)
{
	struct find *f = arg;

	if (strcmp(e->mnt, f->mnt) == 0 &&
	    strcmp(e->fstype, "fuse.uvfsd") == 0 &&
	    strcmp(e->source, f->fsname) == 0)
		snprintf(f->majmin, sizeof(f->majmin), "%s", e->majmin);
	return 0;       /* the last one wins: the newest mount */
}

/* Writes val to /sys/class/bdi/MAJMIN/name.  => 0 or -errno. */
static int bdi_write(const char *majmin, const char *name, const char *val)
{
	char path[128];
	ssize_t n;
	int fd, err = 0;

	snprintf(path, sizeof(path), "/sys/class/bdi/%s/%s", majmin, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n < 0)
		err = -errno;
	else if ((size_t)n != strlen(val))
		err = -EIO;
	close(fd);
	return err;
}

int bdi_set_limits(const char *mnt, const char *fsname, int wb_limit,
		   unsigned long long bytes, char *msg, size_t msgsize)
{
	struct find f = { .mnt = mnt, .fsname = fsname };
	char val[32];
	int err;

	if (wb_limit == WB_LIMIT_FUSE) {
		snprintf(msg, msgsize, "the kernel's FUSE limits kept "
			 "(wb_limit=fuse)");
		return 0;
	}
	err = ctl_mountinfo_each(find_cb, &f);
	if (err < 0) {
		snprintf(msg, msgsize, "cannot read the mount table: %s",
			 strerror(-err));
		return err;
	}
	if (!f.majmin[0]) {
		snprintf(msg, msgsize, "the FUSE mount is not in the mount "
			 "table");
		return -ENOENT;
	}
	if (wb_limit == WB_LIMIT_SYSTEM) {
		/* max_ratio first: it may not fall below min_ratio, and
		 * strict_limit alone would leave the 1% cap in place */
		err = bdi_write(f.majmin, "max_ratio", "100");
		if (!err)
			err = bdi_write(f.majmin, "strict_limit", "0");
		snprintf(val, sizeof(val), "system");
	} else {
		snprintf(val, sizeof(val), "%llu", bytes);
		err = bdi_write(f.majmin, "max_bytes", val);
		if (!err)
			err = bdi_write(f.majmin, "strict_limit", "1");
	}
	if (err) {
		snprintf(msg, msgsize, "cannot set the dirty limits of "
			 "/sys/class/bdi/%s: %s", f.majmin, strerror(-err));
		return err;
	}
	if (wb_limit == WB_LIMIT_SYSTEM)
		snprintf(msg, msgsize, "dirty pages: the system's limits "
			 "(/sys/class/bdi/%s: strict_limit 0, max_ratio 100)",
			 f.majmin);
	else
		snprintf(msg, msgsize, "dirty pages: at most %s bytes "
			 "(/sys/class/bdi/%s: strict_limit 1, max_bytes)",
			 val, f.majmin);
	return 0;
}
