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
	int help, version;
	char *kernel_opts;      /* mount flags for the kernel: nosuid,nodev,... */
};

/* => 0, or 2 (a usage error: message printed). */
int uvfsd_args_parse(int argc, char **argv, struct uvfsd_args *a);
void uvfsd_args_free(struct uvfsd_args *a);

#endif
