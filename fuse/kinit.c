/*
 * kinit.c - the FUSE INIT reply, at the kernel protocol's level
 * (<linux/fuse.h>, kept apart from libfuse's headers).
 *
 * libfuse 3.14 (Debian 12) takes FUSE_CAP_PARALLEL_DIROPS in conn->want but
 * never copies it into the INIT reply (its do_init has no line for it), so
 * the kernel serialises every lookup and readdir of a directory behind the
 * slowest one.  fuse.c passes the reply libfuse built through here before
 * it reaches the kernel; with a libfuse that sends the flag itself, adding
 * it again changes nothing.
 */
#include "kinit.h"

#include <errno.h>
#include <linux/fuse.h>
#include <string.h>

_Static_assert(sizeof(struct fuse_out_header) == 16, "fuse_out_header");

int kinit_add_flags(void *reply, size_t len, int parallel_dirops)
{
	struct fuse_out_header oh;
	struct fuse_init_out io;
	size_t need = sizeof(oh) + offsetof(struct fuse_init_out, flags) +
		      sizeof(io.flags);

	if (len < sizeof(oh))
		return -EPROTO;
	memcpy(&oh, reply, sizeof(oh));
	if (oh.error != 0)
		return 0;       /* an error reply: nothing to add to */
	if (len < need || oh.len != len)
		return -EPROTO;
	memcpy(&io.flags, (char *)reply + sizeof(oh) +
	       offsetof(struct fuse_init_out, flags), sizeof(io.flags));
	if (parallel_dirops)
		io.flags |= FUSE_PARALLEL_DIROPS;
	memcpy((char *)reply + sizeof(oh) +
	       offsetof(struct fuse_init_out, flags), &io.flags,
	       sizeof(io.flags));
	return 0;
}

size_t kinit_read_size(void)
{
	/* the kernel refuses a read shorter than a whole request could be */
	return FUSE_MIN_READ_BUFFER + (1u << 20) + 4096;
}
