/*
 * p9srv.h - the file-server library: a 9P2000.L serve loop that dispatches
 * requests to a table of operations.
 *
 * A file server fills a struct p9srv_ops, makes a server with p9srv_new()
 * and hands it connections: p9srv_serve_fd() runs one connection (a
 * connected socket, or an in/out descriptor pair) until the peer hangs up.
 * The library does everything that is the protocol's and not the file
 * system's:
 *
 *   - version negotiation (only "9P2000.L"; msize = min(client, server));
 *   - framing, decoding and validation with the codec (lib/9p/p9.h): a
 *     malformed message is answered Rlerror EPROTO, an unknown type
 *     Rlerror ENOSYS, an oversized one Rlerror EMSGSIZE (its bytes are
 *     skipped), and a stream that cannot be framed (size < 7) is closed;
 *   - the fid table (fid -> struct p9srv_fid), with the rules below;
 *   - a pool of worker threads per connection, so a slow request does not
 *     hold up the others; replies are written whole, one at a time;
 *   - Tflush: a flushed request's reply is suppressed and Rflush is sent
 *     only after the old request finished (or was cancelled before it
 *     started), never before a reply to the old tag;
 *   - a missing entry in the ops table answers Rlerror ENOSYS.
 *
 * Operations return 0 (or a count) or a negative errno; the sign flips in
 * one place, when the library packs the Rlerror.
 *
 * Fid rules (what the library checks before calling an operation)
 *   - every fid a request names must be in the table: else EBADF;
 *   - Tattach's fid and Twalk's newfid (when it differs from fid) must not
 *     be in use: else EBADF;  a newfid is reserved while its walk runs;
 *   - Twalk from an opened fid: EBADF;  Tlopen/Tlcreate of an opened fid:
 *     EINVAL (as diod);  Tread/Twrite/Treaddir/Tfsync of a fid that is not
 *     opened: EBADF;
 *   - a walk with nwname > 0 that fails on its first name answers the
 *     operation's error; one that fails later answers the qids walked so
 *     far and leaves newfid unused; newfid == fid replaces fid's object
 *     only if every name was walked;
 *   - Tclunk and Tremove take the fid out of the table at once (Tremove
 *     even when the removal fails); the ops' clunk() runs when the last
 *     request using the fid is done.
 *
 * Extended attributes (9P2000.L, as Linux v9fs, diod and QEMU use them)
 *   - Txattrwalk(fid, newfid, name) reads the whole value (or, name "",
 *     the list of names) with ops->xattrwalk and makes newfid an
 *     *xattr-read fid* holding that copy; Rxattrwalk gives its size.
 *     Tread on it serves the copy (offset past the end: 0 bytes).
 *   - Txattrcreate(fid, name, size, flags) turns fid (walked, not opened)
 *     into an *xattr-write fid* with a buffer of size bytes; Twrite fills
 *     it (no holes: an offset past what was written is EINVAL, past size
 *     ENOSPC); Tclunk commits: ops->xattrcreate (EINVAL if fewer than size
 *     bytes were written), whose error is answered in Rclunk's place.
 *     Size 0 removes the attribute.  A fid dropped otherwise (Tremove,
 *     Tversion, hang-up) is not committed.
 *   - Values are at most P9SRV_XATTR_MAX bytes (E2BIG), names 255
 *     (ERANGE); flags other than XATTR_CREATE|XATTR_REPLACE are EINVAL.
 *     A connection's xattr fids hold at most opts.max_xattr_bytes.
 *   - An xattr fid serves only Tread/Twrite (its kind), Tclunk and
 *     Tremove (which clunks it, EBADF); anything else naming it: EBADF.
 *     Txattrwalk needs newfid != fid (EINVAL); Txattrcreate a fid that
 *     is not opened (EINVAL; an xattr fid: EBADF, as above).
 *
 * Threading
 *   A pool of opts.nworkers + 1 threads per connection (the caller of
 *   p9srv_serve_fd and opts.nworkers others): one reads; a request that
 *   arrives alone is run by the thread that read it (no hand-off), others
 *   go to idle threads; at most opts.nworkers run operations at once, and
 *   a request that runs long does not stop the reading (another thread
 *   takes it over within milliseconds).  Operations run concurrently, even
 *   for the same fid, with two exceptions: lopen, lcreate and readdir hold
 *   the fid's lock exclusively (so they may change the fid's state:
 *   opened, priv, diroff) while every other operation holds it shared.
 *   clunk() runs with no other request using the fid.  A flushed request
 *   can notice it: p9srv_req_flushed().
 */
#ifndef UVFS_P9SRV_H
#define UVFS_P9SRV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* installed side by side as <uvfs/p9srv.h> and <uvfs/p9.h> */
#include "p9.h"

#ifdef __cplusplus
extern "C" {
#endif

struct p9srv;
struct p9srv_req;

#define P9SRV_XATTR_MAX 65536   /* largest xattr value (Linux's XATTR_SIZE_MAX) */

/*
 * A fid as the operations see it.
 *   l: set by the library;  o: the operations' (under the rules above).
 */
struct p9srv_fid {
	uint32_t fid;           /* l: its number on the wire */
	uid_t uid;              /* o: attach sets it; walk copies it */
	gid_t gid;              /* o: likewise */
	bool opened;            /* l: lopen/lcreate succeeded */
	uint32_t open_flags;    /* l: the flags it was opened with */
	uint64_t diroff;        /* o: free for readdir's use */
	void *priv;             /* o: the server's object */
};

struct p9srv_ops {
	/* Tattach: make f the root for uname/n_uname; set f->priv, f->uid,
	 * f->gid and *qid. */
	int (*attach)(struct p9srv_req *r, struct p9srv_fid *f,
		      const struct p9_tattach *t, struct p9_qid *qid);
	/* Twalk: walk nwname names from f into nf (a fresh fid: uid/gid
	 * already copied); fill wqid[0..*nwqid).  Return 0 with *nwqid ==
	 * nwname and nf->priv set on success; 0 with *nwqid < nwname (nf
	 * untouched) if it stopped after the first name; a negative errno
	 * if the first name failed.  nwname == 0 clones. */
	int (*walk)(struct p9srv_req *r, struct p9srv_fid *f,
		    struct p9srv_fid *nf, uint16_t nwname,
		    const struct p9_str *wname, struct p9_qid *wqid,
		    uint16_t *nwqid);
	int (*getattr)(struct p9srv_req *r, struct p9srv_fid *f,
		       uint64_t mask, struct p9_rgetattr *out);
	int (*setattr)(struct p9srv_req *r, struct p9srv_fid *f,
		       const struct p9_tsetattr *t);
	/* f is exclusively locked; the library sets f->opened after. */
	int (*lopen)(struct p9srv_req *r, struct p9srv_fid *f, uint32_t flags,
		     struct p9_qid *qid, uint32_t *iounit);
	/* f (a directory) becomes the new file, opened; exclusively locked. */
	int (*lcreate)(struct p9srv_req *r, struct p9srv_fid *f,
		       const struct p9_tlcreate *t, struct p9_qid *qid,
		       uint32_t *iounit);
	/* count <= msize - P9_IOHDRSZ; the number of bytes, or -errno. */
	ssize_t (*read)(struct p9srv_req *r, struct p9srv_fid *f,
			uint64_t offset, void *buf, uint32_t count);
	ssize_t (*write)(struct p9srv_req *r, struct p9srv_fid *f,
			 uint64_t offset, const void *buf, uint32_t count);
	/* Append entries from cookie offset (0: the start) to b until it is
	 * full (p9_dirent_put() answers -ENOSPC) or the directory ends.
	 * f is exclusively locked. */
	int (*readdir)(struct p9srv_req *r, struct p9srv_fid *f,
		       uint64_t offset, struct p9_dirent_buf *b);
	int (*mkdir)(struct p9srv_req *r, struct p9srv_fid *dir,
		     const struct p9_tmkdir *t, struct p9_qid *qid);
	int (*symlink)(struct p9srv_req *r, struct p9srv_fid *dir,
		       const struct p9_tsymlink *t, struct p9_qid *qid);
	int (*mknod)(struct p9srv_req *r, struct p9srv_fid *dir,
		     const struct p9_tmknod *t, struct p9_qid *qid);
	/* Tlink: a new name in dir for the file of f. */
	int (*link)(struct p9srv_req *r, struct p9srv_fid *dir,
		    struct p9srv_fid *f, struct p9_str name);
	/* Trename: move f's file to dir/name (f follows it). */
	int (*rename)(struct p9srv_req *r, struct p9srv_fid *f,
		      struct p9srv_fid *dir, struct p9_str name);
	int (*renameat)(struct p9srv_req *r, struct p9srv_fid *olddir,
			struct p9_str oldname, struct p9srv_fid *newdir,
			struct p9_str newname);
	int (*unlinkat)(struct p9srv_req *r, struct p9srv_fid *dir,
			struct p9_str name, uint32_t flags);
	/* Tremove: remove f's file (the library clunks f whatever happens). */
	int (*remove)(struct p9srv_req *r, struct p9srv_fid *f);
	/* The target's length (at most cap, not NUL-terminated), or -errno. */
	ssize_t (*readlink)(struct p9srv_req *r, struct p9srv_fid *f,
			    char *buf, size_t cap);
	int (*statfs)(struct p9srv_req *r, struct p9srv_fid *f,
		      struct p9_rstatfs *out);
	int (*fsync)(struct p9srv_req *r, struct p9srv_fid *f,
		     uint32_t datasync);
	int (*lock)(struct p9srv_req *r, struct p9srv_fid *f,
		    const struct p9_tlock *t, uint8_t *status);
	/* out->client_id may point into t. */
	int (*getlock)(struct p9srv_req *r, struct p9srv_fid *f,
		       const struct p9_tgetlock *t, struct p9_rgetlock *out);
	/*
	 * Extended attributes.  The library keeps the xattr fids' states
	 * (see "Extended attributes" above); the server only reads and
	 * writes values.  A missing entry answers EOPNOTSUPP.
	 *
	 * xattrwalk: the value of attribute name of f's file (name "": the
	 * list of its names, each NUL-terminated), as lgetxattr(2) /
	 * llistxattr(2): with cap 0 its size only; else at most cap bytes
	 * into buf, -ERANGE if it does not fit; -ENODATA if absent.
	 * name is 1..255 bytes (or ""), NUL-terminated.
	 */
	ssize_t (*xattrwalk)(struct p9srv_req *r, struct p9srv_fid *f,
			     const char *name, void *buf, size_t cap);
	/* xattrcreate: runs at the Tclunk that commits an xattr-write fid
	 * (f, still holding its priv, with its identity entered): set
	 * name to value[0..size) with flags (XATTR_CREATE, XATTR_REPLACE;
	 * -EEXIST, -ENODATA); size 0 means remove it (-ENODATA if absent),
	 * as diod and QEMU do: 9P2000.L cannot say "an empty value".  Its
	 * error is the Tclunk's Rlerror (the fid is gone all the same). */
	int (*xattrcreate)(struct p9srv_req *r, struct p9srv_fid *f,
			   const char *name, const void *value, size_t size,
			   uint32_t flags);
	/* Releases f->priv (and whatever an open holds).  No request is
	 * using f; r is NULL when the connection is going away. */
	void (*clunk)(struct p9srv *srv, struct p9srv_fid *f);

	/* Called around every operation on a fid, on the thread that runs
	 * it, with the request's first fid (attach: after attach filled it;
	 * not at all for attach itself): e.g. to take the fid's identity.
	 * A negative return fails the request with that errno. */
	int (*enter)(struct p9srv_req *r, struct p9srv_fid *f);
	void (*leave)(struct p9srv_req *r);
	/* A running request was flushed.  Called on the thread that read the
	 * Tflush (or the hang-up), with the connection's lock held: must not
	 * block (set a flag, signal a thread).  Optional. */
	void (*flush)(struct p9srv_req *r);
};

struct p9srv_opts {
	uint32_t msize;         /* the largest msize offered; 0: 256 KiB + hdr */
	unsigned nworkers;      /* workers per connection; 0: 4 */
	unsigned max_inflight;  /* requests queued or running; 0: 256 */
	/* Fids per connection; past it a new fid answers ENFILE.  0: 1M
	 * (1 << 20).  A client such as the VFS keeps a fid per file the
	 * kernel remembers, so this must be generous; the table grows with
	 * the fids in use (docs/server.md, "Limits" has the memory cost). */
	unsigned max_fids;
	/* If non-zero: the worker running a request that is flushed gets
	 * this signal (p9srv_new installs a handler that does nothing,
	 * without SA_RESTART), so a blocking system call in the operation
	 * (a FIFO's open or read, a lock) returns EINTR.  Operations must
	 * not retry EINTR once p9srv_req_flushed() is true. */
	int interrupt_signal;
	/* Bytes of xattr values held by one connection's xattr fids (read
	 * values and write buffers); past it Txattrwalk/Txattrcreate answer
	 * ENOMEM.  0: 4 MiB. */
	size_t max_xattr_bytes;
};

/* 0 and *out, or -ENOMEM / -EINVAL (no ops).  arg is the server's. */
int p9srv_new(const struct p9srv_ops *ops, void *arg,
	      const struct p9srv_opts *opts, struct p9srv **out);
/* => no connection is being served. */
void p9srv_free(struct p9srv *srv);
void *p9srv_arg(const struct p9srv *srv);

/*
 * Serves one connection: reads requests from infd, writes replies to
 * outfd (the same descriptor for a socket), until end of file, a read or
 * write error, or an unframable stream (a socket is then shut down, so
 * the peer sees the end at once).  Every fid is clunked before it returns.
 * Closes neither descriptor.  0 at end of file, else a negative errno.
 * Several connections may be served at once from different threads.
 */
int p9srv_serve_fd(struct p9srv *srv, int infd, int outfd);

/*
 * Serving on a Unix socket (listen.c).  p9srv_listen_unix() makes a
 * listening socket at path, owner-only (mode 0700: who may connect may
 * act as any user the server lets it); a socket file there that nobody
 * listens on (left by a server that died) is replaced, one a live server
 * listens on is not (-EADDRINUSE).  The descriptor, or a negative errno
 * (-ENAMETOOLONG: longer than a socket address holds).  It changes the
 * process's umask for the moment of the bind: call it before starting
 * threads that create files.
 * p9srv_serve_listener() accepts connections on lfd and serves each on a
 * thread of its own (p9srv_serve_fd, then close) until accept fails for
 * good: the negative errno.  It does not return otherwise.
 * p9srv_serve_unix() is the two in one: the server of a ~100-line program
 * (examples/hello_9p.c).
 */
int p9srv_listen_unix(const char *path);
int p9srv_serve_listener(struct p9srv *srv, int lfd);
int p9srv_serve_unix(struct p9srv *srv, const char *path);

/* For operations: the server, whether the request was flushed (the reply
 * will not be sent: an operation may give up early), its tag, its type
 * (P9_T*), and the negotiated msize. */
struct p9srv *p9srv_req_srv(const struct p9srv_req *r);
bool p9srv_req_flushed(const struct p9srv_req *r);
uint16_t p9srv_req_tag(const struct p9srv_req *r);
uint8_t p9srv_req_type(const struct p9srv_req *r);
uint32_t p9srv_req_msize(const struct p9srv_req *r);

#ifdef __cplusplus
}
#endif

#endif /* UVFS_P9SRV_H */
