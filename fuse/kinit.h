/*
 * kinit.h - the FUSE INIT reply at the kernel protocol's level (kinit.c).
 */
#ifndef UVFS_FUSE_KINIT_H
#define UVFS_FUSE_KINIT_H

#include <stddef.h>

/* Adds the kernel flags libfuse does not send to an INIT reply (header
 * and body, len bytes).  => 0, or -EPROTO for a reply it cannot read. */
int kinit_add_flags(void *reply, size_t len, int parallel_dirops);
/* A buffer size the kernel accepts for reading a request. */
size_t kinit_read_size(void);

#endif
