/*
 * testfs.h - a file-system type for tests only: memfs behind a shim whose
 * objects die at reclaim.
 *
 * Every vget hands the core a new node object of its own and every open a
 * new handle object; reclaim and release check them, fill them with a
 * poison pattern and free them.  A core that touches a node after its
 * reclaim, releases a handle twice, after its node's reclaim, or with
 * another node, is caught: by AddressSanitizer (use after free), or by the
 * shim itself (the magic of a poisoned object: it aborts with a message)
 * in builds without it.  An unmount with a node or handle of its own still
 * live aborts too.
 *
 * Calls can be slowed (a random sleep before each) or made to block until
 * the test lets them go (a driver operation that hangs past every
 * deadline; it ignores cancel, as a hung server would), and a getattr can
 * be made to call the test back first.
 *
 * The type is named "testfs"; tests register it with
 * uvfs_fstype_register(u, &testfs_ops).  The core does not know it.
 */
#ifndef UVFS_TESTFS_H
#define UVFS_TESTFS_H

#include <stdbool.h>
#include <uvfs/fs.h>

extern const struct uvfs_fstype_ops testfs_ops;

enum testfs_op {
	TFS_NONE, TFS_LOOKUP, TFS_GETATTR, TFS_OPEN, TFS_RELEASE, TFS_READ,
	TFS_WRITE, TFS_LINK, TFS_RENAME, TFS_CREATE, TFS_UNLINK,
	TFS_READDIR, TFS_FLUSH, TFS_COUNT
};

/* From now on, calls of op wait in the driver until testfs_unblock(). */
void testfs_block(enum testfs_op op);
/* Lets every blocked call go and blocks nothing any more. */
void testfs_unblock(void);
/* Waits until n calls are blocked (true), or timeout_ms passed (false). */
bool testfs_wait_blocked(int n, int timeout_ms);
/* The next getattr (of any instance) first calls fn(arg), once: a driver
 * call that makes calls of its own (on another mount, say). */
void testfs_getattr_hook(void (*fn)(void *), void *arg);
/* Each call first sleeps a random 0..max_us microseconds (0: never). */
void testfs_set_delay(unsigned max_us);
/* Live node objects (vget minus reclaim) and handles (open minus
 * release), over every instance. */
long testfs_live_nodes(void);
long testfs_live_handles(void);
/* The uid of uvfs_cred_current() at the last call of op (-1: none). */
long testfs_last_uid(enum testfs_op op);
/* Calls of op so far, over every instance (a name-cache hit makes none
 * of TFS_LOOKUP). */
unsigned long testfs_calls(enum testfs_op op);
/* Flushes (closes of a descriptor open for writing) so far; each answers
 * err from now on (0: success). */
unsigned long testfs_flushes(void);
void testfs_set_flush_error(int err);
/* How many releases and reclaims were checked (a test can see it ran). */
unsigned long testfs_releases(void);
unsigned long testfs_reclaims(void);
/* Revoke ops so far (a node's vnode died: revoked, killed), and releases
 * of handles whose node had its revoke op first. */
unsigned long testfs_revokes(void);
unsigned long testfs_revoked_releases(void);

#endif /* UVFS_TESTFS_H */
