/*
 * nfs3_i.h - what nfs3.c (the procedures), nfs3_call.c, nfs3_xdr.c and
 * nfs3_send.c (the call machinery) share; nothing outside them sees it.
 *
 * A procedure is one struct call on its caller's stack: the arguments in
 * libnfs's XDR structs (pointing into the caller's buffers: they are
 * encoded before the call goes out), the decoded reply (libnfs's XDR
 * structs, whose memory nrpc_done frees) and the results the driver
 * wants.  n3c_prep() says which procedure and XDR routines; n3c_decode()
 * copies the reply out in the caller's thread; nfs3_send.c sends it (as
 * many times as a JUKEBOX answer asks).  No object outlives its call.
 */
#ifndef UVFS_NFS3_I_H
#define UVFS_NFS3_I_H

#include <stdbool.h>
#include <stdint.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-mount.h>
#include <nfsc/libnfs-raw-nfs.h>

#include "nfs3.h"
#include "rpc.h"

enum proc {
	P_MNT, P_GETATTR, P_SETATTR, P_LOOKUP, P_CREATE, P_MKDIR, P_SYMLINK,
	P_MKNOD, P_LINK, P_REMOVE, P_RMDIR, P_RENAME, P_READLINK, P_READ,
	P_WRITE, P_COMMIT, P_READDIRPLUS, P_FSSTAT, P_FSINFO,
};

struct call {
	enum proc proc;
	union {
		char *mnt;
		GETATTR3args getattr;
		SETATTR3args setattr;
		LOOKUP3args lookup;
		CREATE3args create;
		MKDIR3args mkdir;
		SYMLINK3args symlink;
		MKNOD3args mknod;
		LINK3args link;
		REMOVE3args remove;
		RMDIR3args rmdir;
		RENAME3args rename;
		READLINK3args readlink;
		READ3args read;
		WRITE3args write;
		COMMIT3args commit;
		READDIRPLUS3args readdirplus;
		FSSTAT3args fsstat;
		FSINFO3args fsinfo;
	} a;
	union {                         /* the decoded reply */
		mountres3 mnt;
		GETATTR3res getattr;
		SETATTR3res setattr;
		LOOKUP3res lookup;
		CREATE3res create;
		MKDIR3res mkdir;
		SYMLINK3res symlink;
		MKNOD3res mknod;
		LINK3res link;
		REMOVE3res remove;
		RMDIR3res rmdir;
		RENAME3res rename;
		READLINK3res readlink;
		READ3res read;
		WRITE3res write;
		COMMIT3res commit;
		READDIRPLUS3res readdirplus;
		FSSTAT3res fsstat;
		FSINFO3res fsinfo;
	} r;
	struct nrpc rpc;
	/* results */
	bool answered;                  /* the server's answer was decoded
					 * (its status, an error too), not
					 * "not now" (JUKEBOX) */
	struct fh3 fh;
	bool has_fh;
	struct n3attr attr;
	struct n3attr dattr;            /* the directory's, after (wcc) */
	void *buf;                      /* read: into; readlink: into */
	size_t bufsz;
	uint32_t count;
	bool eof;
	uint64_t verf;
	struct n3dent *dents;
	struct statvfs *vfs;
	uint32_t rtmax, wtmax, dtpref;
};

/* nfs3_call.c: the table, the conversions, the decoding */

/* The handle fh as XDR arguments (pointing into fh). */
void n3c_set_fh(nfs_fh3 *x, const struct fh3 *fh);
/* Fills c->rpc for c's procedure (its arguments set). */
void n3c_prep(struct call *c);
/* c's reply copied out into c's results: 0 or the NFS error as an errno. */
int n3c_decode(struct call *c);
/* The status c's reply begins with (an NFSv3 procedure's, not MOUNT's). */
nfsstat3 n3c_status(const struct call *c);

/* nfs3_xdr.c: the results whose libnfs decoders a hostile reply can
 * make read outside it, decoded with the checks they lack (same
 * structures, same allocations). */
uint32_t n3x_LOOKUP3res(ZDR *z, LOOKUP3res *x);
uint32_t n3x_CREATE3res(ZDR *z, CREATE3res *x);
uint32_t n3x_MKDIR3res(ZDR *z, MKDIR3res *x);
uint32_t n3x_SYMLINK3res(ZDR *z, SYMLINK3res *x);
uint32_t n3x_MKNOD3res(ZDR *z, MKNOD3res *x);
uint32_t n3x_READLINK3res(ZDR *z, READLINK3res *x);
uint32_t n3x_READ3res(ZDR *z, READ3res *x);
uint32_t n3x_WRITE3res(ZDR *z, WRITE3res *x);
uint32_t n3x_COMMIT3res(ZDR *z, COMMIT3res *x);
uint32_t n3x_READDIRPLUS3res(ZDR *z, READDIRPLUS3res *x);
uint32_t n3x_mountres3(ZDR *z, mountres3 *x);

/* nfs3_send.c: how a call goes out.  A call answered NFS3ERR_JUKEBOX
 * ("not now": nothing done) is sent again as it is, after 10 ms doubling
 * to 1 s, until the deadline of the operation that waits for it, then
 * -ETIMEDOUT: one policy for every call waited for. */

/* Makes c and waits for its reply: 0 or an error; the results in c. */
int n3c_call(struct n3 *n, struct call *c);
/* Up to N3_MANY_MAX calls at once, by n's one deadline (those answered
 * JUKEBOX asked again, the others kept): res[i] is each one's result;
 * returns 0, or -ENOMEM (and so is each res[i] not answered before). */
int n3c_call_many(struct n3 *n, struct call *cs, int *res, unsigned k);
/* Sends c, not waited for (its reply, whatever it says, is dropped). */
int n3c_send_async(struct nconn *nc, const struct uvfs_cred *cred,
		   struct call *c);

/* A call sent now, its answer waited for later (nfs3.c: a write behind,
 * a read-ahead piece, a background COMMIT): n3c_start with c filled in
 * (not prepared), then exactly one of n3c_wait and n3c_abandon. */
struct pend {
	struct nconn *nc;
	struct npend *p;                /* in flight; NULL once ended */
	unsigned flags;
	struct timespec dl;             /* the start's deadline */
	struct call c;
};
/* Sends w->c as n's caller, by n's deadline: 0, or an error with the
 * request released. */
int n3c_start(struct n3 *n, struct pend *w);
/* Waits for w's answer, by the start's deadline or wait_by if later
 * (NULL: the start's), and copies it into w->c's results: 0 or an error.
 * A JUKEBOX answer is asked again by the later of the start's deadline
 * and again_by (the deadline of the operation that waits for it); with
 * again_by NULL it is -EAGAIN (a hint, which the caller drops). */
int n3c_wait(struct pend *w, const struct timespec *wait_by,
	     const struct timespec *again_by);
/* Has w's answer come (would n3c_wait's first wait return at once)? */
bool n3c_ready(struct pend *w);
/* Gives w up without waiting (its reply dropped when it comes). */
void n3c_abandon(struct pend *w);

#endif /* UVFS_NFS3_I_H */
