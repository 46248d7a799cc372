/*
 * bdi.h - the dirty-page limits of uvfsd's own FUSE mount (bdi.c).
 */
#ifndef UVFSD_BDI_H
#define UVFSD_BDI_H

#include <stddef.h>

/* Sets the limits of the FUSE mount at mnt whose source is fsname, as
 * wb_limit (args.h: WB_LIMIT_*, bytes for WB_LIMIT_BYTES) asks.  On
 * success, msg says what was set; on failure, why not.
 * => 0, or -errno (nothing is changed that could not be read back). */
int bdi_set_limits(const char *mnt, const char *fsname, int wb_limit,
		   unsigned long long bytes, char *msg, size_t msgsize);

#endif
