/*
 * memfs_standin.c - the core's calls memfs makes on a superblock, for
 * the programs that test memfs without the core (memfs_standin.h).
 */
#include <uvfs/fs.h>

#include "memfs_standin.h"

void *uvfs_sb_private(const struct uvfs_sb *sb)
{
	return sb->priv;
}

void uvfs_sb_set_private(struct uvfs_sb *sb, void *priv)
{
	sb->priv = priv;
}
