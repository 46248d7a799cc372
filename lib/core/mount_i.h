/*
 * mount_i.h - what mount.c (types, superblocks, mounts, the namespace,
 * queries) and umount.c (unmount, revoke, suspend, unregister, killing a
 * superblock) share.  Private to lib/core; the rules are in mount.c.
 */
#ifndef UVFS_CORE_MOUNT_I_H
#define UVFS_CORE_MOUNT_I_H

#include "core.h"

/* mount.c */
void mount_teardown(struct mount *m, bool sync);
void ns_detach_locked(struct mount *m, unsigned flag);
void mount_disconnect(struct mount *m);
int ns_detach_tree_locked(struct mount *m, unsigned flag,
			  struct mount ***v, size_t *n);
bool sb_try_state(struct uvfs_sb *sb, enum sb_state from,
		  enum sb_state to);
struct fstype *type_find_locked(struct uvfs *u, const char *name);

/* umount.c */
int mount_lookup(struct uvfs_ctx *ctx, const char *target, unsigned flags,
		 struct mount **out);
/* The attached mount named by id (umount.c, "naming a mount by its id").
 * => 0 with *out referenced, -ENOENT, -EINVAL (unmounting), -EPERM. */
int mount_lookup_id(struct uvfs_ctx *ctx, uint64_t id, struct mount **out);
int umount_mount(struct uvfs *u, struct mount *m, unsigned flags);
void sb_kill_unmounting(struct uvfs_sb *sb, struct mount *m);

#endif
