/*
 * args.h - uvfsd's command line, as a user types it and as mount.fuse3
 * passes it (`mount -t fuse.uvfsd SOURCE MOUNTPOINT -o OPTIONS`, an
 * /etc/fstab line), parsed with libfuse's option parser (args.c).
 */
#ifndef UVFSD_ARGS_H
#define UVFSD_ARGS_H

/* What the command line asks for.  mountpoint points into argv; the
 * other strings are the struct's own (uvfsd_args_free). */
struct uvfsd_args {
	const char *mountpoint;
	const char *root;       /* TYPE[:SOURCE[:OPTIONS]], or NULL (memfs) */
	const char *socket;     /* or NULL: the default path */
	const char *mtab;       /* the mount table file (docs/fuse.md), or NULL */
	int foreground, debug, allow_other, xattr, writeback;
	int clone_fd, splice;   /* the session's knobs (docs/fuse.md) */
	unsigned max_threads, idle_threads;     /* 0: the defaults */
	unsigned mount_threads;                 /* 0: the default */
	/* the writeback cache's dirty limits: WB_LIMIT_SYSTEM (default),
	 * WB_LIMIT_FUSE, or WB_LIMIT_BYTES with wb_limit_bytes */
	int wb_limit, wb_limit_set;
	unsigned long long wb_limit_bytes;
	int help, version;
	char *kernel_opts;      /* mount flags for the kernel: nosuid,nodev,... */
};

enum { WB_LIMIT_SYSTEM, WB_LIMIT_FUSE, WB_LIMIT_BYTES };

/* => 0, or 2 (a usage error: message printed). */
int uvfsd_args_parse(int argc, char **argv, struct uvfsd_args *a);
void uvfsd_args_free(struct uvfsd_args *a);

#endif
