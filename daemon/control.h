/*
 * control.h - uvfsd's control socket server (protocol: ctl.h, docs/fuse.md).
 */
#ifndef UVFSD_CONTROL_H
#define UVFSD_CONTROL_H

#include <uvfs/uvfs.h>

struct uvfs_fuse;
struct control;

/* The socket's directory, if it exists, must be the daemon's alone: a
 * directory, not a symlink, owned by the effective uid, mode 0700 (one of
 * ours that others could only read is tightened to 0700).  Nothing is
 * created.  => 0 or -errno, with a message printed. */
int control_check_dir(const char *path);
/* Binds and listens on path (mode 0600; its directory is created 0700 and
 * checked as control_check_dir says).  Refuses if a daemon already
 * answers there, after waiting up to wait_ms for it to go: a daemon whose
 * FUSE mount was unmounted from outside answers until it notices (0: no
 * wait).  => 0 or -errno, with a message printed. */
int control_open(const char *path, int wait_ms, struct control **out);
/* Starts serving: one thread accepts, one thread per connection. */
int control_start(struct control *c, struct uvfs *u, struct uvfs_fuse *uf,
		  const char *fuse_mnt);
/* Stops accepting: the acceptor ends, the socket is closed and removed,
 * and who is still sending a request is dropped.  The requests being
 * carried out go on: one may wait on a suspended mount, until
 * control_unmount_all ends that wait. */
void control_quiesce(struct control *c);
/* control_quiesce, then waits for the requests being carried out. */
void control_stop(struct control *c);
/* Removes the socket and frees c. */
void control_close(struct control *c);

/* Shutdown: resumes "/" and force-unmounts every other mount, deepest
 * first. */
void control_unmount_all(struct uvfs *u, struct uvfs_fuse *uf);

#endif
