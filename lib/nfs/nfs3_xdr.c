/*
 * nfs3_xdr.c - the NFSv3 and MOUNT v3 results that libnfs 4.0 decodes
 * unsafely, decoded here field by field in libnfs's order and into its
 * structures (the driver reads them as before, and nrpc_done frees them
 * as before: what the decoder allocates is libnfs's), with the checks its
 * primitives lack.  A hostile or broken server's reply (found by
 * fuzz/fuzz_nfs3_reply.c):
 *
 *  - a length of 2^31 or more (a handle's, a name's, a path's, data's)
 *    passes libnfs's bounds check, which adds it to the position as an
 *    int: the position goes negative and the next field is read from
 *    before the reply's buffer (a crash).  Each such length is checked
 *    here before libnfs reads the field: at most what is left of the
 *    reply.  (A handle longer than 64 bytes is decoded, as before, and
 *    refused by nfs3_call.c's copy_fh: a READDIRPLUS entry with one is
 *    listed without a handle.);
 *  - a fixed-size opaque (a cookie or write verifier, 8 bytes) is copied
 *    without a look at whether the bytes are there: a reply ending before
 *    it was read past its buffer's end;
 *  - an array's count is allocated (count * element size, in an int)
 *    before a look at the bytes left: MOUNT's auth_flavors count of 2^30
 *    or more made an allocation that failed, and libnfs wrote through the
 *    NULL (the client crashed at mount).
 *
 * The other results hold only numbers and attributes, which libnfs reads
 * with checked primitives: they stay libnfs's (nfs3_call.c, the table).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/time.h>

#include "nfs3_i.h"

/* n more bytes are in the reply. */
static bool has(const ZDR *z, uint32_t n)
{
	return z->pos >= 0 && z->pos <= z->size &&
	       (uint32_t)(z->size - z->pos) >= n;
}

/* The next word (a length or a count) is at most the bytes after it,
 * each item taking unit bytes. */
static bool len_ok(const ZDR *z, uint32_t unit)
{
	const uint8_t *p = (const uint8_t *)z->buf + z->pos;
	uint32_t n;

	if (!has(z, 4))
		return false;
	n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
	return n <= (uint32_t)(z->size - z->pos - 4) / unit;
}

static uint32_t fh3(ZDR *z, nfs_fh3 *fh)
{
	return len_ok(z, 1) && zdr_nfs_fh3(z, fh);
}

/* A union on a bool: any other value than 0 and 1 is refused, as
 * libnfs's zdr_post_op_fh3 does. */
static uint32_t post_fh3(ZDR *z, post_op_fh3 *h)
{
	if (!zdr_bool(z, &h->handle_follows))
		return FALSE;
	switch (h->handle_follows) {
	case TRUE:
		return fh3(z, &h->post_op_fh3_u.handle);
	case FALSE:
		return TRUE;
	default:
		return FALSE;
	}
}

uint32_t n3x_LOOKUP3res(ZDR *z, LOOKUP3res *x)
{
	LOOKUP3resok *ok = &x->LOOKUP3res_u.resok;

	if (!zdr_nfsstat3(z, &x->status))
		return FALSE;
	if (x->status != NFS3_OK)
		return zdr_LOOKUP3resfail(z, &x->LOOKUP3res_u.resfail);
	return fh3(z, &ok->object) &&
	       zdr_post_op_attr(z, &ok->obj_attributes) &&
	       zdr_post_op_attr(z, &ok->dir_attributes);
}

/* CREATE, MKDIR, SYMLINK and MKNOD answer alike: a new object's handle and
 * attributes and its directory's, or the directory's alone. */
static uint32_t new_obj(ZDR *z, nfsstat3 *st, post_op_fh3 *obj,
			post_op_attr *attr, wcc_data *dir, wcc_data *fail_dir)
{
	if (!zdr_nfsstat3(z, st))
		return FALSE;
	if (*st != NFS3_OK)
		return zdr_wcc_data(z, fail_dir);
	return post_fh3(z, obj) && zdr_post_op_attr(z, attr) &&
	       zdr_wcc_data(z, dir);
}

#define RES_U(T) T##3res_u          /* (a pp-number must not swallow
					 * the member names after it) */
#define NEW_OBJ(T)                                                        \
uint32_t n3x_##T##3res(ZDR *z, T##3res *x)                                \
{                                                                         \
	return new_obj(z, &x->status, &x->RES_U(T).resok.obj,             \
		       &x->RES_U(T).resok.obj_attributes,                 \
		       &x->RES_U(T).resok.dir_wcc,                        \
		       &x->RES_U(T).resfail.dir_wcc);                     \
}
NEW_OBJ(CREATE)
NEW_OBJ(MKDIR)
NEW_OBJ(SYMLINK)
NEW_OBJ(MKNOD)
#undef RES_U
#undef NEW_OBJ

uint32_t n3x_READLINK3res(ZDR *z, READLINK3res *x)
{
	READLINK3resok *ok = &x->READLINK3res_u.resok;

	if (!zdr_nfsstat3(z, &x->status))
		return FALSE;
	if (x->status != NFS3_OK)
		return zdr_READLINK3resfail(z, &x->READLINK3res_u.resfail);
	return zdr_post_op_attr(z, &ok->symlink_attributes) &&
	       len_ok(z, 1) && zdr_nfspath3(z, &ok->data);
}

uint32_t n3x_READ3res(ZDR *z, READ3res *x)
{
	READ3resok *ok = &x->READ3res_u.resok;

	if (!zdr_nfsstat3(z, &x->status))
		return FALSE;
	if (x->status != NFS3_OK)
		return zdr_READ3resfail(z, &x->READ3res_u.resfail);
	return zdr_post_op_attr(z, &ok->file_attributes) &&
	       zdr_count3(z, &ok->count) && zdr_bool(z, &ok->eof) &&
	       len_ok(z, 1) &&
	       zdr_bytes(z, &ok->data.data_val, &ok->data.data_len, ~0u);
}

uint32_t n3x_WRITE3res(ZDR *z, WRITE3res *x)
{
	WRITE3resok *ok = &x->WRITE3res_u.resok;

	if (!zdr_nfsstat3(z, &x->status))
		return FALSE;
	if (x->status != NFS3_OK)
		return zdr_WRITE3resfail(z, &x->WRITE3res_u.resfail);
	return zdr_wcc_data(z, &ok->file_wcc) && zdr_count3(z, &ok->count) &&
	       zdr_stable_how(z, &ok->committed) &&
	       has(z, NFS3_WRITEVERFSIZE) && zdr_writeverf3(z, ok->verf);
}

uint32_t n3x_COMMIT3res(ZDR *z, COMMIT3res *x)
{
	COMMIT3resok *ok = &x->COMMIT3res_u.resok;

	if (!zdr_nfsstat3(z, &x->status))
		return FALSE;
	if (x->status != NFS3_OK)
		return zdr_COMMIT3resfail(z, &x->COMMIT3res_u.resfail);
	return zdr_wcc_data(z, &ok->file_wcc) &&
	       has(z, NFS3_WRITEVERFSIZE) && zdr_writeverf3(z, ok->verf);
}

/* One entry, its link to the next left NULL (entries() links them):
 * allocated by zdr_pointer as libnfs's own list decoder allocates it.
 * libnfs 4.0 hands out the entry unaligned (nfs3_call.c's decode_dents
 * copies each out): it is decoded into an aligned one and copied there. */
static uint32_t entry(ZDR *z, void *where)
{
	entryplus3 e;
	uint32_t ok;

	memset(&e, 0, sizeof(e));
	ok = zdr_fileid3(z, &e.fileid) &&
	     len_ok(z, 1) && zdr_filename3(z, &e.name) &&
	     zdr_cookie3(z, &e.cookie) &&
	     zdr_post_op_attr(z, &e.name_attributes) &&
	     post_fh3(z, &e.name_handle);
	memcpy(where, &e, sizeof(e));
	return ok;
}

/* The list of entries (each "follows", then the entry), in a loop:
 * libnfs's decoder recurses once per entry (the next one is a field of
 * the entry), so one reply of some ten thousand small entries (a
 * server's, within the 512 KiB a listing asks) overflowed a small stack
 * (test_nfs_rpc list_many_small_stack).  first: aligned; each link after
 * is in an entry, unaligned: written with memcpy. */
static uint32_t entries(ZDR *z, entryplus3 **first)
{
	void *link = first;

	for (;;) {
		char *e = NULL;

		if (!zdr_pointer(z, &e, sizeof(entryplus3), (zdrproc_t)entry))
			return FALSE;
		memcpy(link, &e, sizeof(e));
		if (!e)
			return TRUE;
		link = e + offsetof(entryplus3, nextentry);
	}
}

uint32_t n3x_READDIRPLUS3res(ZDR *z, READDIRPLUS3res *x)
{
	READDIRPLUS3resok *ok = &x->READDIRPLUS3res_u.resok;

	if (!zdr_nfsstat3(z, &x->status))
		return FALSE;
	if (x->status != NFS3_OK)
		return zdr_READDIRPLUS3resfail(z,
					       &x->READDIRPLUS3res_u.resfail);
	return zdr_post_op_attr(z, &ok->dir_attributes) &&
	       has(z, NFS3_COOKIEVERFSIZE) &&
	       zdr_cookieverf3(z, ok->cookieverf) &&
	       entries(z, &ok->reply.entries) &&
	       zdr_bool(z, &ok->reply.eof);
}

uint32_t n3x_mountres3(ZDR *z, mountres3 *x)
{
	mountres3_ok *ok = &x->mountres3_u.mountinfo;

	if (!zdr_mountstat3(z, &x->fhs_status))
		return FALSE;
	if (x->fhs_status != MNT3_OK)
		return TRUE;
	/* the handle, then as many flavors as the count says must be
	 * there */
	return len_ok(z, 1) && zdr_fhandle3(z, &ok->fhandle) &&
	       len_ok(z, 4) &&
	       zdr_array(z, (char **)&ok->auth_flavors.auth_flavors_val,
			 &ok->auth_flavors.auth_flavors_len, ~0u, sizeof(int),
			 (zdrproc_t)zdr_int);
}
