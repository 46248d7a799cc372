/*
 * memfs_standin.h - the core's stand-in for the programs that test memfs
 * alone (test_memfs.c, test_memfs_pages.c): the superblock memfs keeps
 * its private pointer in, and the two calls it makes on it
 * (memfs_standin.c).  A superblock lives in its test's fixture.
 */
#ifndef UVFS_TEST_MEMFS_STANDIN_H
#define UVFS_TEST_MEMFS_STANDIN_H

struct uvfs_sb {
	void *priv;
};

#endif
