/*
 * hostfs.h - the operations of uvfs-hostfs: a host directory exported
 * over 9P2000.L with lib/server (main.c is the program around them; the
 * tests link hostfs.c directly and serve it in-process).
 */
#ifndef UVFS_HOSTFS_H
#define UVFS_HOSTFS_H

#include "p9srv.h"

struct hostfs;

/*
 * Opens the export directory dir.  0 and *out, or a negative errno:
 * -ENOENT (missing), -ENOTDIR, -EACCES (cannot be read and searched by
 * the server), ...  When the process runs as root, requests are performed
 * with the attached user's fsuid/fsgid (see docs/server.md).
 */
int hostfs_open(const char *dir, struct hostfs **out);
void hostfs_close(struct hostfs *hs);
/* How many times a thread's fsuid/fsgid were changed so far (running as
 * root; for tests and statistics). */
unsigned long hostfs_id_switches(struct hostfs *hs);
/* How many paths the fid index holds: those of the fids, and their
 * ancestors (for tests: 0 once every fid is clunked). */
size_t hostfs_indexed_paths(struct hostfs *hs);

/* The table to give p9srv_new() with the struct hostfs as its arg. */
extern const struct p9srv_ops hostfs_ops;

#endif /* UVFS_HOSTFS_H */
