/*
 * service.h - uvfsd as a system service (service.c): readiness for
 * systemd, its messages in syslog once it has forked, the mount table
 * file, and a watch on the file servers that logs their recoveries.
 */
#ifndef UVFSD_SERVICE_H
#define UVFSD_SERVICE_H

#include <uvfs/uvfs.h>

/* sd_notify(3)'s protocol on $NOTIFY_SOCKET, without libsystemd: state is
 * "READY=1", "STOPPING=1", "STATUS=...".  Nothing when not run by
 * systemd.  => 0, or -errno. */
int service_notify(const char *state);

/* Sets $UVFS_HOSTFS (unless set) to the uvfs-hostfs that goes with this
 * uvfsd: the build tree's when this is the build tree's uvfsd (found from
 * where it is: no build path is compiled in), else the installed one, so
 * that `uvfs mount -t hostfs` finds its server either way (the 9P driver
 * reads it; uvfs-hostfs is in bin, uvfsd in sbin).  Call before starting
 * threads. */
void service_find_servers(void);

/* After the fork: stdin from /dev/null, stdout and stderr into a pipe
 * whose lines a thread sends to syslog ("uvfsd[PID]", facility daemon;
 * lines starting "uvfsd: cannot" or naming an error at LOG_ERR, others at
 * LOG_NOTICE): every message of the daemon and of the libraries keeps
 * going somewhere.  Falls back to /dev/null. */
void service_log_to_syslog(void);

/* Refuses a mount table someone else could write: its directory (when
 * there is one) and the file (when there is one) must be owned by the
 * daemon's uid or root and writable by nobody else, and the file must
 * not be a symlink.  Its lines are carried out with the daemon's
 * rights (a hostfs line's server= is a program to run), and the table is
 * rewritten through a name in that directory.  => 0, or -EPERM (or the
 * lstat's -errno) with a message printed. */
int service_mtab_check(const char *path);

/* Makes the mounts of the mount table file (one per line, fstab's
 * fields: SOURCE TARGET TYPE OPTIONS, octal escapes \040; '#' comments;
 * "-" an empty field, \055 a "-")
 * in the namespace, creating the mount points; a line that fails is
 * reported on stderr and skipped.  A missing file is an empty table.
 * => the number of mounts made, or -errno (the file cannot be read, or
 * not to its end: the watcher then leaves it as it is). */
int service_mtab_replay(struct uvfs *u, const char *path);

/* Starts the watcher thread: every second it logs what changed in the
 * file servers (lost, restarted and recovered, dead) on stderr, and, with
 * mtab non-NULL, rewrites that file (atomically) when the mounts changed,
 * unless the replay could not read it.
 * fuse_mnt names mounts in messages.  => 0 or -errno. */
int service_watch_start(struct uvfs *u, const char *fuse_mnt,
			const char *mtab);
/* Stops it and waits for it.  Call before unmounting everything at
 * shutdown: the file keeps the mounts as they were, for the next start. */
void service_watch_stop(void);

#endif
