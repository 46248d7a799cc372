/*
 * 9p.h - the 9P2000.L client driver: file-system type "9p".
 *
 * Mounts a 9P2000.L file server (diod, QEMU's virtfs, uvfs's own servers):
 *
 *   uvfs_9p_register(u);
 *   uvfs_mount(ctx, "9p", "unix:/run/fs.sock", "/mnt", "aname=/srv,timeout=5000");
 *
 * Sources:  unix:PATH   tcp:HOST:PORT   fd:RFD,WFD (an inherited pair; the
 *           driver duplicates them and closes its copies at unmount)
 * Options:  aname=PATH  uname=NAME  msize=N (default 524288, negotiated down)
 *           timeout=MS (per-request deadline, default 10000)  serial
 *
 * A request that passes its deadline fails with -ETIMEDOUT (and is flushed);
 * a broken connection, a forced unmount or a protocol violation fails with
 * -EIO.  See docs/9p-client.md.
 */
#ifndef UVFS_9P_H
#define UVFS_9P_H

#include <uvfs/fs.h>

#ifdef __cplusplus
extern "C" {
#endif

extern const struct uvfs_fstype_ops uvfs_9p_ops;

/* Registers uvfs_9p_ops with the instance (uvfs_fstype_register). */
int uvfs_9p_register(struct uvfs *u);

#ifdef __cplusplus
}
#endif
#endif /* UVFS_9P_H */
