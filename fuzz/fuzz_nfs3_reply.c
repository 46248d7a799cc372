/*
 * fuzz_nfs3_reply.c - libFuzzer target for what the NFS driver makes of
 * a hostile server's results: libnfs's XDR decoder of each procedure's
 * results, as lib/nfs/nfs3_call.c sets it up (n3c_prep), then
 * n3c_decode(), which copies handles, attributes, data, names and the
 * statistics out of it, exactly as a call that was answered does
 * (rpc.c's decode(): the XDR routine over the reply's bytes after the RPC
 * header, the decoded structures freed with the reply by nrpc_done).
 *
 * The input's first byte picks the procedure (enum proc, modulo their
 * number); the rest is the results' XDR, copied into a buffer of exactly
 * its length (ASan sees a read past it from the project's code; libnfs
 * itself is not instrumented).  A READ asks for READ_CNT bytes, a
 * READLINK has a buffer of LINK_CAP.  Whenever the decoder accepts, these
 * must hold, else the target aborts: n3c_decode answers 0 or a negative
 * errno; a handle it returns is 1..FH3_MAX bytes; a READ's count is at
 * most what was asked; a READLINK's at most its buffer; every directory
 * entry's handle likewise and its name a string; and for the results
 * lib/nfs/nfs3_xdr.c decodes itself, libnfs's own decoder (safe to run
 * on what nfs3_xdr.c accepted) accepts too and the driver gets the same
 * from both.
 *
 * With NFS3_FUZZ_VERBOSE set in the environment each input's procedure,
 * whether the XDR was accepted and what n3c_decode answered are printed.
 *
 * Not the RPC header (rpc.c's parse_reply and the record marks: static
 * there, reached only through a connection).
 *
 * Built by fuzz/run with clang -fsanitize=fuzzer (libFuzzer supplies
 * main), and into tests/test_nfs3corpus, which calls
 * LLVMFuzzerTestOneInput() on every file of fuzz/corpus/nfs3_reply/.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nfs3_i.h"
#include "fuzz.h"

#define NPROCS (P_FSINFO + 1)
#define READ_CNT 1024
#define LINK_CAP 4096

/* libnfs's own decoders of the results nfs3_xdr.c decodes itself */
static const zdrproc_t libnfs_res[NPROCS] = {
	[P_MNT] = (zdrproc_t)zdr_mountres3,
	[P_LOOKUP] = (zdrproc_t)zdr_LOOKUP3res,
	[P_CREATE] = (zdrproc_t)zdr_CREATE3res,
	[P_MKDIR] = (zdrproc_t)zdr_MKDIR3res,
	[P_SYMLINK] = (zdrproc_t)zdr_SYMLINK3res,
	[P_MKNOD] = (zdrproc_t)zdr_MKNOD3res,
	[P_READLINK] = (zdrproc_t)zdr_READLINK3res,
	[P_READ] = (zdrproc_t)zdr_READ3res,
	[P_WRITE] = (zdrproc_t)zdr_WRITE3res,
	[P_COMMIT] = (zdrproc_t)zdr_COMMIT3res,
	[P_READDIRPLUS] = (zdrproc_t)zdr_READDIRPLUS3res,
};

static void check_fh(const struct fh3 *fh)
{
	CHECK(fh->len >= 1 && fh->len <= FH3_MAX);
}

/* One decoding of body as proc's results (with res_fn, if not NULL,
 * instead of the driver's): whether the XDR was accepted, and then
 * n3c_decode's answer and c's results.  Release with done(). */
struct one {
	struct call c;
	struct statvfs vfs;
	uint8_t *rbuf, *body;
	bool ok;
	int r;
};

static void decode_one(struct one *o, enum proc proc, const uint8_t *data,
		       size_t len, zdrproc_t res_fn)
{
	static char export[] = "/export", target[] = "target";
	struct call *c = &o->c;

	memset(o, 0, sizeof(*o));
	c->proc = proc;
	o->body = malloc(len ? len : 1);
	CHECK(o->body);
	memcpy(o->body, data, len);
	/* the arguments n3c_prep looks at, and the caller's buffers */
	switch (proc) {
	case P_MNT:
		c->a.mnt = export;
		break;
	case P_SYMLINK:
		c->a.symlink.symlink.symlink_data = target;
		break;
	case P_WRITE:
		c->a.write.count = 512;
		break;
	case P_READ:
		c->a.read.count = READ_CNT;
		c->bufsz = READ_CNT;
		break;
	case P_READLINK:
		c->bufsz = LINK_CAP;
		break;
	case P_FSSTAT:
		c->vfs = &o->vfs;
		break;
	default:
		break;
	}
	if (c->bufsz) {
		o->rbuf = calloc(1, c->bufsz);
		CHECK(o->rbuf);
		c->buf = o->rbuf;
	}
	n3c_prep(c);
	CHECK(c->rpc.res_fn && c->rpc.res == (void *)&c->r);
	if (res_fn)
		c->rpc.res_fn = res_fn;

	/* as rpc.c's decode() */
	c->rpc.reply = o->body;
	zdrmem_create(&c->rpc.z, (caddr_t)o->body, (uint32_t)len, ZDR_DECODE);
	c->rpc.zlive = true;
	o->ok = c->rpc.res_fn(&c->rpc.z, c->rpc.res);
	o->r = o->ok ? n3c_decode(c) : 0;
}

static void done(struct one *o)
{
	while (o->c.dents) {
		struct n3dent *next = o->c.dents->next;

		free(o->c.dents);
		o->c.dents = next;
	}
	/* as nrpc_done() */
	zdr_destroy(&o->c.rpc.z);
	free(o->c.rpc.reply);
	free(o->rbuf);
}

static void same_attr(const struct n3attr *a, const struct n3attr *b)
{
	CHECK(a->valid == b->valid);
	CHECK(!a->valid || memcmp(&a->st, &b->st, sizeof(a->st)) == 0);
}

/* What the driver gets from two decodings is the same. */
static void same(const struct one *x, const struct one *y)
{
	const struct call *a = &x->c, *b = &y->c;
	const struct n3dent *d, *e;

	CHECK(x->r == y->r);
	if (x->r)
		return;
	CHECK(a->has_fh == b->has_fh);
	CHECK(a->fh.len == b->fh.len &&
	      memcmp(a->fh.data, b->fh.data, a->fh.len) == 0);
	same_attr(&a->attr, &b->attr);
	same_attr(&a->dattr, &b->dattr);
	CHECK(a->count == b->count && a->eof == b->eof &&
	      a->verf == b->verf);
	CHECK(!a->buf || memcmp(a->buf, b->buf, a->count) == 0);
	for (d = a->dents, e = b->dents; d && e; d = d->next, e = e->next) {
		CHECK(d->fileid == e->fileid && d->cookie == e->cookie);
		CHECK(d->dtype == e->dtype && d->has_fh == e->has_fh);
		CHECK(!d->has_fh || (d->fh.len == e->fh.len &&
		      memcmp(d->fh.data, e->fh.data, d->fh.len) == 0));
		CHECK(strcmp(d->name, e->name) == 0);
		same_attr(&d->attr, &e->attr);
	}
	CHECK(!d && !e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct one o, lib;
	enum proc proc;

	if (size == 0)
		return 0;
	proc = (enum proc)(data[0] % NPROCS);
	decode_one(&o, proc, data + 1, size - 1, NULL);
	if (getenv("NFS3_FUZZ_VERBOSE"))
		fprintf(stderr, "proc %d: %s, decode %d\n", (int)proc,
			o.ok ? "accepted" : "refused", o.r);
	if (o.ok) {
		const struct call *c = &o.c;

		CHECK(o.r <= 0 && o.r > -4096);
		if (o.r == 0 && (proc == P_MNT || proc == P_LOOKUP))
			check_fh(&c->fh);
		if (o.r == 0 && c->has_fh)
			check_fh(&c->fh);
		if (o.r == 0 && (proc == P_READ || proc == P_READLINK))
			CHECK(c->count <= c->bufsz);
		for (const struct n3dent *d = c->dents; d; d = d->next) {
			if (d->has_fh)
				check_fh(&d->fh);
			CHECK(strlen(d->name) < 65536);
		}
		/* accepted here, every length and verifier was inside the
		 * reply: libnfs's own decoder is safe to run, and must
		 * agree */
		if (libnfs_res[proc]) {
			decode_one(&lib, proc, data + 1, size - 1,
				   libnfs_res[proc]);
			CHECK(lib.ok);
			same(&o, &lib);
			done(&lib);
		}
	}
	done(&o);
	return 0;
}
