/*
 * nfs3.h - NFSv3 and MOUNT v3 procedures as blocking calls on an RPC
 * connection (rpc.h).
 *
 * Each call sends one request (or, for the _many ones, several at once)
 * on the connection, waits for it within
 * the deadline, and copies what the driver needs out of the reply: file
 * handles, attributes as struct stat, data.  Nothing here keeps state
 * between calls.  Errors: a negative errno (NFS3ERR_* mapped as Linux's
 * client maps them), -EIO for a lost or cancelled request, -ETIMEDOUT for
 * a deadline.  NFS3ERR_JUKEBOX ("not now") is asked again until the
 * deadline (then -ETIMEDOUT) by every call waited for, except the two
 * hints that say otherwise below (n3_read_end, n3_commit_end).
 */
#ifndef UVFS_NFS3_H
#define UVFS_NFS3_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <uvfs/uvfs.h>

#include "rpc.h"

#define FH3_MAX 64

/* An NFSv3 file handle (opaque, at most 64 bytes). */
struct fh3 {
	uint32_t len;
	unsigned char data[FH3_MAX];
};

/* Where a call goes, as whom, and by when: one per vnode operation, so
 * that all its requests share one deadline (docs/session.md). */
struct n3 {
	struct nconn *nc;
	struct timespec dl;             /* CLOCK_MONOTONIC */
	const struct uvfs_cred *cred;   /* NULL: root */
	unsigned flags;                 /* NC_INTERNAL: the reconnect's;
					 * NC_NOWAIT: a start that may not
					 * wait (n3_remove_start) */
	const atomic_bool *gone[2];     /* NULL, or each call's nrpc.gone
					 * (rpc.h): once one is set, no call
					 * goes, not even again, -ESTALE */
};

#define N3_MANY_MAX 64  /* requests of one _many call in flight at once */

/* Post-operation attributes, when the server sent them. */
struct n3attr {
	bool valid;
	struct stat st;
};

/* One directory entry from READDIRPLUS. */
struct n3dent {
	struct n3dent *next;
	uint64_t fileid, cookie;
	unsigned char dtype;            /* DT_*, DT_UNKNOWN without attrs */
	bool has_fh;
	struct fh3 fh;
	struct n3attr attr;
	char name[];
};

bool fh3_eq(const struct fh3 *a, const struct fh3 *b);

/* MOUNT v3 (found through host's portmapper), as root, on a connection
 * of its own: the export's root handle. */
int n3_mnt(const char *host, const char *export, int timeout_ms,
	   struct fh3 *root);
int n3_getattr(struct n3 *c, const struct fh3 *fh, struct stat *st);
/* The same; *answered: the server answered (an error too: its word on
 * the handle), not a loss, a deadline or a reply that could not be read. */
int n3_getattr_answered(struct n3 *c, const struct fh3 *fh, struct stat *st,
			bool *answered);
int n3_setattr(struct n3 *c, const struct fh3 *fh,
	       const struct uvfs_setattr *sa, struct n3attr *after);
int n3_lookup(struct n3 *c, const struct fh3 *dir, const char *name,
	      struct fh3 *out, struct n3attr *attr);
/* mode carries the type (S_IFREG, S_IFDIR, S_IFLNK with target,
 * S_IFCHR/S_IFBLK with rdev, S_IFIFO, S_IFSOCK); uid/gid set the owner
 * ((uid_t)-1, (gid_t)-1: the server's choice, from the credential).
 * Exclusive: -EEXIST if the name exists.  dattr (may be NULL): the
 * directory's attributes after, when the server sent them. */
int n3_create(struct n3 *c, const struct fh3 *dir, const char *name,
	      mode_t mode, uid_t uid, gid_t gid, dev_t rdev,
	      const char *target, struct fh3 *out, struct n3attr *attr,
	      struct n3attr *dattr);
int n3_link(struct n3 *c, const struct fh3 *fh, const struct fh3 *dir,
	    const char *name, struct n3attr *attr);
int n3_remove(struct n3 *c, const struct fh3 *dir, const char *name,
	      bool isdir, struct n3attr *dattr);
/* A REMOVE of name in dir sent now, as c's caller, by c's deadline (a
 * silly-renamed file's, at its last close: remove.c; with NC_NOWAIT in
 * c->flags only if it can go at once, else -EAGAIN, or -EIO on a soft
 * mount whose server is not answering), its answer taken
 * by n3_remove_end, which waits for it by that deadline (unanswered
 * then: fenced): 0 or an error, -EAGAIN if answered JUKEBOX (not asked
 * again here: the caller does, after n3_backoff's pause); or given up
 * on by n3_remove_drop without waiting (its reply dropped when it
 * comes).  Exactly one of the two, once. */
struct n3mpend;
int n3_remove_start(struct n3 *c, const struct fh3 *dir, const char *name,
		    struct n3mpend **out);
int n3_remove_end(struct n3mpend *w);
/* Has its answer come (n3_remove_end would not wait for the server)? */
bool n3_remove_ready(struct n3mpend *w);
void n3_remove_drop(struct n3mpend *w);
/* The one JUKEBOX policy's pauses (nfs3_send.c), for a caller that asks
 * again itself: the pause to take now, in ms, with *wait_ms (0 before
 * the first) moved on to the next: 10 ms, doubling to 1 s. */
int n3_backoff(int *wait_ms);
/* oattr, nattr (may be NULL): the two directories' attributes after,
 * when the server sent them. */
int n3_rename(struct n3 *c, const struct fh3 *odir, const char *oname,
	      const struct fh3 *ndir, const char *nname, struct n3attr *oattr,
	      struct n3attr *nattr);
ssize_t n3_readlink(struct n3 *c, const struct fh3 *fh, char *buf,
		    size_t size);
ssize_t n3_read(struct n3 *c, const struct fh3 *fh, void *buf,
		uint32_t n, uint64_t off, bool *eof, struct n3attr *attr);
/* stable: FILE_SYNC, else UNSTABLE; verf gets the write verifier. */
ssize_t n3_write(struct n3 *c, const struct fh3 *fh, const void *buf,
		 uint32_t n, uint64_t off, bool stable, uint64_t *verf,
		 struct n3attr *after);
/* cnt bytes in pieces of at most piece bytes, window of them in flight
 * at once.  Reads are whole or fail (short only at end of file: a READ's
 * eof, or one answered no byte; the rest of one answered short before
 * it is asked from where it stopped); writes
 * (UNSTABLE) return what was written without a gap, verf the write
 * verifier, verf_mixed true if the pieces' verifiers differed. */
ssize_t n3_read_many(struct n3 *c, const struct fh3 *fh, void *buf,
		     size_t cnt, uint64_t off, uint32_t piece, unsigned window,
		     struct n3attr *attr);
ssize_t n3_write_many(struct n3 *c, const struct fh3 *fh,
		      const void *buf, size_t cnt, uint64_t off,
		      uint32_t piece, unsigned window, uint64_t *verf,
		      bool *verf_mixed, struct n3attr *after);
/* An UNSTABLE WRITE of cnt bytes sent now (its data copied into the
 * request: buf is the caller's again on return), its reply waited for by
 * n3_write_end, exactly once, by the deadline c had at the start: the
 * bytes written (*verf the write verifier, *after the attributes), or an
 * error.  Answered JUKEBOX, it is sent again (the same request) until the
 * later of that deadline and dl (the deadline of the operation that
 * waits for it; NULL: none), then -ETIMEDOUT.  A write behind (wb.c). */
struct n3wpend;
int n3_write_start(struct n3 *c, const struct fh3 *fh, const void *buf,
		   uint32_t cnt, uint64_t off, struct n3wpend **out);
ssize_t n3_write_end(struct n3wpend *w, const struct timespec *dl,
		     uint64_t *verf, struct n3attr *after);
/* Or given up on without waiting (its file revoked): its reply dropped
 * when it comes, never sent again (not after a loss, not after a
 * JUKEBOX). */
void n3_write_drop(struct n3wpend *w);
/* A READ of cnt bytes at off sent now (read-ahead, ra.c), its reply
 * waited for by n3_read_end by the deadline of the caller who wants it
 * (c), into buf (cnt bytes): the bytes read, *eof, *attr, or an error
 * (-EAGAIN: answered JUKEBOX, not asked again); or given up on by
 * n3_read_drop without waiting (its reply dropped when it comes).
 * Exactly one of the two, once. */
struct n3rpend;
int n3_read_start(struct n3 *c, const struct fh3 *fh, uint32_t cnt,
		  uint64_t off, struct n3rpend **out);
ssize_t n3_read_end(struct n3 *c, struct n3rpend *w, void *buf, bool *eof,
		    struct n3attr *attr);
void n3_read_drop(struct n3rpend *w);
int n3_commit(struct n3 *c, const struct fh3 *fh, uint64_t *verf);
/* A COMMIT sent now (in the background of writes behind, wb.c), its
 * reply waited for by n3_commit_end by the deadline of the caller who
 * wants it (c): 0 and *verf, or an error (-EAGAIN: answered JUKEBOX, not
 * asked again); or given up on by n3_commit_drop without waiting.
 * Exactly one of the two, once. */
struct n3cpend;
int n3_commit_start(struct n3 *c, const struct fh3 *fh,
		    struct n3cpend **out);
int n3_commit_end(struct n3 *c, struct n3cpend *w, uint64_t *verf);
void n3_commit_drop(struct n3cpend *w);
/* Has its answer come (n3_commit_end would not wait for the server)? */
bool n3_commit_ready(struct n3cpend *w);
/* Commits, not waited for. */
int n3_commit_async(struct nconn *nc, const struct uvfs_cred *cred,
		    const struct fh3 *fh);
/* Entries from cookie (verf: the cookie verifier, updated); *list is a
 * malloc'd chain (free with n3_dents_free). */
int n3_readdirplus(struct n3 *c, const struct fh3 *dir,
		   uint64_t cookie, uint64_t *verf, uint32_t maxcount,
		   struct n3dent **list, bool *eof);
void n3_dents_free(struct n3dent *d);
int n3_fsstat(struct n3 *c, const struct fh3 *root,
	      struct statvfs *st);
int n3_fsinfo(struct n3 *c, const struct fh3 *root, uint32_t *rtmax,
	      uint32_t *wtmax, uint32_t *dtpref);

#endif /* UVFS_NFS3_H */
