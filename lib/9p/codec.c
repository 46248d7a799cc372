/*
 * codec.c - the 9P2000.L wire codec (see p9.h for the contract).
 *
 * One walker, three modes
 *   Each message's field list is written once, in body(): a sequence of
 *   field operations on a cursor.  The cursor's mode decides what an
 *   operation does:
 *     GET   read the field from the buffer into the struct (unpack)
 *     SIZE  add the field's wire size to a running total (measure)
 *     PUT   write the field from the struct into the buffer (pack)
 *   so packing and unpacking cannot disagree on field order or width, and
 *   pack measures before it writes.  The first failure is kept in the
 *   cursor and turns every later operation into a no-op; the caller looks
 *   at it once at the end.
 *
 * Bounds
 *   Every read and write goes through room(), which compares the bytes
 *   wanted against the bytes left (end - p, never p + k > end, which could
 *   overflow).  Integers are assembled byte by byte (little-endian, no
 *   alignment assumed); no received byte is ever reinterpreted as a struct.
 *   Lengths from the wire are at most 2^32 - 1 and are compared against
 *   what is left before anything is touched.
 */
#include <errno.h>
#include <string.h>

#include "p9.h"

_Static_assert(P9_HDRSZ == 4 + 1 + 2, "header");
_Static_assert(P9_QIDSZ == 1 + 4 + 8, "qid");
_Static_assert(P9_RREAD_HDRSZ == P9_HDRSZ + 4, "Rread header");
_Static_assert(P9_RREADDIR_HDRSZ == P9_HDRSZ + 4, "Rreaddir header");
_Static_assert(P9_TWRITE_HDRSZ == P9_HDRSZ + 4 + 8 + 4, "Twrite header");
_Static_assert(P9_DIRENT_FIXSZ == P9_QIDSZ + 8 + 1 + 2, "dirent");
_Static_assert(P9_IOHDRSZ >= P9_TWRITE_HDRSZ, "iounit room");

enum mode { GET, SIZE, PUT };

struct cur {
	enum mode mode;
	uint8_t *p;             /* GET, PUT: next byte */
	uint8_t *end;           /* GET, PUT: one past the last byte */
	size_t n;               /* SIZE: bytes so far */
	int err;                /* first failure, or 0 */
};

/* A malformed message when decoding; an invalid one when encoding. */
static void fail(struct cur *c)
{
	if (!c->err)
		c->err = c->mode == GET ? -EBADMSG : -EINVAL;
}

/* => true if k bytes may be read or written at c->p now. */
static bool room(struct cur *c, size_t k)
{
	if (c->err)
		return false;
	if (c->mode == SIZE) {
		c->n += k;
		return false;
	}
	if ((size_t)(c->end - c->p) < k) {
		/* PUT was measured first: running out there is a bug,
		 * reported rather than overrun. */
		c->err = c->mode == GET ? -EBADMSG : -ENOSPC;
		return false;
	}
	return true;
}

static void u8(struct cur *c, uint8_t *v)
{
	if (!room(c, 1))
		return;
	if (c->mode == GET)
		*v = c->p[0];
	else
		c->p[0] = *v;
	c->p += 1;
}

static uint64_t get_le(const uint8_t *p, int k)
{
	uint64_t v = 0;
	while (k--)
		v = v << 8 | p[k];
	return v;
}

static void put_le(uint8_t *p, uint64_t v, int k)
{
	for (int i = 0; i < k; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

static void u16(struct cur *c, uint16_t *v)
{
	if (!room(c, 2))
		return;
	if (c->mode == GET)
		*v = (uint16_t)get_le(c->p, 2);
	else
		put_le(c->p, *v, 2);
	c->p += 2;
}

static void u32(struct cur *c, uint32_t *v)
{
	if (!room(c, 4))
		return;
	if (c->mode == GET)
		*v = (uint32_t)get_le(c->p, 4);
	else
		put_le(c->p, *v, 4);
	c->p += 4;
}

static void u64(struct cur *c, uint64_t *v)
{
	if (!room(c, 8))
		return;
	if (c->mode == GET)
		*v = get_le(c->p, 8);
	else
		put_le(c->p, *v, 8);
	c->p += 8;
}

static void qid(struct cur *c, struct p9_qid *q)
{
	u8(c, &q->type);
	u32(c, &q->version);
	u64(c, &q->path);
}

static bool str_ok(const struct p9_str *s)
{
	if (s->len > UINT16_MAX)
		return false;
	if (s->len == 0)
		return true;
	return s->s && !memchr(s->s, '\0', s->len);
}

static void str(struct cur *c, struct p9_str *s)
{
	uint16_t len = 0;

	if (c->err)
		return;
	if (c->mode != GET) {
		if (!str_ok(s)) {
			fail(c);
			return;
		}
		len = (uint16_t)s->len;
	}
	u16(c, &len);
	if (!room(c, len))
		return;
	if (c->mode == GET) {
		if (len && memchr(c->p, '\0', len)) {
			fail(c);
			return;
		}
		s->s = (const char *)c->p;
		s->len = len;
	} else if (len) {
		memmove(c->p, s->s, len);
	}
	c->p += len;
}

/* count[4] data[count] */
static void data(struct cur *c, uint32_t *count, const void **d)
{
	if (c->err)
		return;
	if (c->mode != GET && *count && !*d) {
		fail(c);
		return;
	}
	u32(c, count);
	if (c->err || !room(c, *count))
		return;
	if (c->mode == GET)
		*d = c->p;
	else if (*count)
		memmove(c->p, *d, *count);
	c->p += *count;
}

static int dirents_check(const void *d, uint32_t count)
{
	struct p9_dirent_iter it;
	struct p9_dirent de;
	int r;

	p9_dirent_iter_init(&it, d, count);
	while ((r = p9_dirent_next(&it, &de)) > 0)
		;
	return r;
}

/* The fields of each message after the header, in wire order. */
static void body(struct cur *c, struct p9_msg *m)
{
	switch (m->type) {
	case P9_RLERROR:
		u32(c, &m->rlerror.ecode);
		break;
	case P9_TSTATFS:
		u32(c, &m->tstatfs.fid);
		break;
	case P9_RSTATFS: {
		struct p9_rstatfs *r = &m->rstatfs;
		u32(c, &r->type);
		u32(c, &r->bsize);
		u64(c, &r->blocks);
		u64(c, &r->bfree);
		u64(c, &r->bavail);
		u64(c, &r->files);
		u64(c, &r->ffree);
		u64(c, &r->fsid);
		u32(c, &r->namelen);
		break;
	}
	case P9_TLOPEN:
		u32(c, &m->tlopen.fid);
		u32(c, &m->tlopen.flags);
		break;
	case P9_RLOPEN:
		qid(c, &m->rlopen.qid);
		u32(c, &m->rlopen.iounit);
		break;
	case P9_TLCREATE:
		u32(c, &m->tlcreate.fid);
		str(c, &m->tlcreate.name);
		u32(c, &m->tlcreate.flags);
		u32(c, &m->tlcreate.mode);
		u32(c, &m->tlcreate.gid);
		break;
	case P9_RLCREATE:
		qid(c, &m->rlcreate.qid);
		u32(c, &m->rlcreate.iounit);
		break;
	case P9_TSYMLINK:
		u32(c, &m->tsymlink.fid);
		str(c, &m->tsymlink.name);
		str(c, &m->tsymlink.symtgt);
		u32(c, &m->tsymlink.gid);
		break;
	case P9_RSYMLINK:
		qid(c, &m->rsymlink.qid);
		break;
	case P9_TMKNOD:
		u32(c, &m->tmknod.dfid);
		str(c, &m->tmknod.name);
		u32(c, &m->tmknod.mode);
		u32(c, &m->tmknod.major);
		u32(c, &m->tmknod.minor);
		u32(c, &m->tmknod.gid);
		break;
	case P9_RMKNOD:
		qid(c, &m->rmknod.qid);
		break;
	case P9_TRENAME:
		u32(c, &m->trename.fid);
		u32(c, &m->trename.dfid);
		str(c, &m->trename.name);
		break;
	case P9_TREADLINK:
		u32(c, &m->treadlink.fid);
		break;
	case P9_RREADLINK:
		str(c, &m->rreadlink.target);
		break;
	case P9_TGETATTR:
		u32(c, &m->tgetattr.fid);
		u64(c, &m->tgetattr.request_mask);
		break;
	case P9_RGETATTR: {
		struct p9_rgetattr *r = &m->rgetattr;
		u64(c, &r->valid);
		qid(c, &r->qid);
		u32(c, &r->mode);
		u32(c, &r->uid);
		u32(c, &r->gid);
		u64(c, &r->nlink);
		u64(c, &r->rdev);
		u64(c, &r->size);
		u64(c, &r->blksize);
		u64(c, &r->blocks);
		u64(c, &r->atime_sec);
		u64(c, &r->atime_nsec);
		u64(c, &r->mtime_sec);
		u64(c, &r->mtime_nsec);
		u64(c, &r->ctime_sec);
		u64(c, &r->ctime_nsec);
		u64(c, &r->btime_sec);
		u64(c, &r->btime_nsec);
		u64(c, &r->gen);
		u64(c, &r->data_version);
		break;
	}
	case P9_TSETATTR: {
		struct p9_tsetattr *t = &m->tsetattr;
		u32(c, &t->fid);
		u32(c, &t->valid);
		u32(c, &t->mode);
		u32(c, &t->uid);
		u32(c, &t->gid);
		u64(c, &t->size);
		u64(c, &t->atime_sec);
		u64(c, &t->atime_nsec);
		u64(c, &t->mtime_sec);
		u64(c, &t->mtime_nsec);
		break;
	}
	case P9_TXATTRWALK:
		u32(c, &m->txattrwalk.fid);
		u32(c, &m->txattrwalk.newfid);
		str(c, &m->txattrwalk.name);
		break;
	case P9_RXATTRWALK:
		u64(c, &m->rxattrwalk.size);
		break;
	case P9_TXATTRCREATE:
		u32(c, &m->txattrcreate.fid);
		str(c, &m->txattrcreate.name);
		u64(c, &m->txattrcreate.attr_size);
		u32(c, &m->txattrcreate.flags);
		break;
	case P9_TREADDIR:
		u32(c, &m->treaddir.fid);
		u64(c, &m->treaddir.offset);
		u32(c, &m->treaddir.count);
		break;
	case P9_RREADDIR:
		data(c, &m->rreaddir.count, &m->rreaddir.data);
		/* What unpack accepts the iterator accepts, and pack
		 * (measured first, in SIZE mode) sends only that. */
		if (!c->err && c->mode != PUT &&
		    dirents_check(m->rreaddir.data, m->rreaddir.count))
			fail(c);
		break;
	case P9_TFSYNC:
		u32(c, &m->tfsync.fid);
		u32(c, &m->tfsync.datasync);
		break;
	case P9_TLOCK: {
		struct p9_tlock *t = &m->tlock;
		u32(c, &t->fid);
		u8(c, &t->type);
		u32(c, &t->flags);
		u64(c, &t->start);
		u64(c, &t->length);
		u32(c, &t->proc_id);
		str(c, &t->client_id);
		break;
	}
	case P9_RLOCK:
		u8(c, &m->rlock.status);
		break;
	case P9_TGETLOCK: {
		struct p9_tgetlock *t = &m->tgetlock;
		u32(c, &t->fid);
		u8(c, &t->type);
		u64(c, &t->start);
		u64(c, &t->length);
		u32(c, &t->proc_id);
		str(c, &t->client_id);
		break;
	}
	case P9_RGETLOCK: {
		struct p9_rgetlock *r = &m->rgetlock;
		u8(c, &r->type);
		u64(c, &r->start);
		u64(c, &r->length);
		u32(c, &r->proc_id);
		str(c, &r->client_id);
		break;
	}
	case P9_TLINK:
		u32(c, &m->tlink.dfid);
		u32(c, &m->tlink.fid);
		str(c, &m->tlink.name);
		break;
	case P9_TMKDIR:
		u32(c, &m->tmkdir.dfid);
		str(c, &m->tmkdir.name);
		u32(c, &m->tmkdir.mode);
		u32(c, &m->tmkdir.gid);
		break;
	case P9_RMKDIR:
		qid(c, &m->rmkdir.qid);
		break;
	case P9_TRENAMEAT:
		u32(c, &m->trenameat.olddirfid);
		str(c, &m->trenameat.oldname);
		u32(c, &m->trenameat.newdirfid);
		str(c, &m->trenameat.newname);
		break;
	case P9_TUNLINKAT:
		u32(c, &m->tunlinkat.dirfid);
		str(c, &m->tunlinkat.name);
		u32(c, &m->tunlinkat.flags);
		break;
	case P9_TVERSION:
		u32(c, &m->tversion.msize);
		str(c, &m->tversion.version);
		break;
	case P9_RVERSION:
		u32(c, &m->rversion.msize);
		str(c, &m->rversion.version);
		break;
	case P9_TAUTH:
		u32(c, &m->tauth.afid);
		str(c, &m->tauth.uname);
		str(c, &m->tauth.aname);
		u32(c, &m->tauth.n_uname);
		break;
	case P9_RAUTH:
		qid(c, &m->rauth.aqid);
		break;
	case P9_TATTACH:
		u32(c, &m->tattach.fid);
		u32(c, &m->tattach.afid);
		str(c, &m->tattach.uname);
		str(c, &m->tattach.aname);
		u32(c, &m->tattach.n_uname);
		break;
	case P9_RATTACH:
		qid(c, &m->rattach.qid);
		break;
	case P9_TFLUSH:
		u16(c, &m->tflush.oldtag);
		break;
	case P9_TWALK:
		u32(c, &m->twalk.fid);
		u32(c, &m->twalk.newfid);
		u16(c, &m->twalk.nwname);
		if (!c->err && m->twalk.nwname > P9_MAXWELEM)
			fail(c);
		for (unsigned i = 0; !c->err && i < m->twalk.nwname; i++)
			str(c, &m->twalk.wname[i]);
		break;
	case P9_RWALK:
		u16(c, &m->rwalk.nwqid);
		if (!c->err && m->rwalk.nwqid > P9_MAXWELEM)
			fail(c);
		for (unsigned i = 0; !c->err && i < m->rwalk.nwqid; i++)
			qid(c, &m->rwalk.wqid[i]);
		break;
	case P9_TREAD:
		u32(c, &m->tread.fid);
		u64(c, &m->tread.offset);
		u32(c, &m->tread.count);
		break;
	case P9_RREAD:
		data(c, &m->rread.count, &m->rread.data);
		break;
	case P9_TWRITE:
		u32(c, &m->twrite.fid);
		u64(c, &m->twrite.offset);
		data(c, &m->twrite.count, &m->twrite.data);
		break;
	case P9_RWRITE:
		u32(c, &m->rwrite.count);
		break;
	case P9_TCLUNK:
		u32(c, &m->tclunk.fid);
		break;
	case P9_TREMOVE:
		u32(c, &m->tremove.fid);
		break;
	case P9_RRENAME:
	case P9_RSETATTR:
	case P9_RXATTRCREATE:
	case P9_RFSYNC:
	case P9_RLINK:
	case P9_RRENAMEAT:
	case P9_RUNLINKAT:
	case P9_RFLUSH:
	case P9_RCLUNK:
	case P9_RREMOVE:
		break;
	default:
		if (!c->err)
			c->err = c->mode == GET ? -EPROTO : -EINVAL;
		break;
	}
}

int p9_frame_size(const void *buf, size_t len, uint32_t msize, uint32_t *size)
{
	uint32_t s;

	if (len < 4)
		return -EAGAIN;
	s = (uint32_t)get_le(buf, 4);
	if (s < P9_HDRSZ)
		return -EBADMSG;
	if (s > msize)
		return -EMSGSIZE;
	*size = s;
	return 0;
}

int p9_peek(const void *buf, size_t len, uint8_t *type, uint16_t *tag)
{
	const uint8_t *p = buf;

	if (len < P9_HDRSZ)
		return -EBADMSG;
	*type = p[4];
	*tag = (uint16_t)get_le(p + 5, 2);
	return 0;
}

int p9_unpack(const void *buf, size_t len, struct p9_msg *m)
{
	struct p9_msg t;
	struct cur c;
	uint32_t size;

	if (len < P9_HDRSZ)
		return -EBADMSG;
	/* The codec reads but never writes in GET mode; the cursor's
	 * pointer is not const only because PUT shares it. */
	c = (struct cur){ .mode = GET, .p = (uint8_t *)buf,
			  .end = (uint8_t *)buf + len };
	u32(&c, &size);
	if (size != len)
		return -EBADMSG;
	memset(&t, 0, sizeof(t));
	u8(&c, &t.type);
	u16(&c, &t.tag);
	body(&c, &t);
	if (c.err)
		return c.err;
	if (c.p != c.end)
		return -EBADMSG;        /* bytes after the last field */
	*m = t;
	return 0;
}

ssize_t p9_packed_size(const struct p9_msg *m)
{
	/* SIZE mode reads the struct and writes nothing. */
	struct cur c = { .mode = SIZE, .n = P9_HDRSZ };

	body(&c, (struct p9_msg *)m);
	if (c.err)
		return c.err;
	if (c.n > UINT32_MAX)
		return -EINVAL;
	return (ssize_t)c.n;
}

ssize_t p9_pack(void *buf, size_t cap, const struct p9_msg *m)
{
	struct p9_msg *mm = (struct p9_msg *)m;  /* PUT mode only reads it */
	ssize_t n = p9_packed_size(m);
	struct cur c;
	uint32_t size;
	uint8_t type = m->type;
	uint16_t tag = m->tag;

	if (n < 0)
		return n;
	if ((size_t)n > cap)
		return -ENOSPC;
	size = (uint32_t)n;
	c = (struct cur){ .mode = PUT, .p = buf, .end = (uint8_t *)buf + n };
	u32(&c, &size);
	u8(&c, &type);
	u16(&c, &tag);
	body(&c, mm);
	if (c.err)
		return c.err;
	if (c.p != c.end)
		return -EINVAL;         /* cannot happen: measured above */
	return n;
}

void p9_dirent_iter_init(struct p9_dirent_iter *it, const void *data,
			 uint32_t count)
{
	it->p = data;
	it->end = count ? (const uint8_t *)data + count : data;
	it->err = 0;
}

int p9_dirent_next(struct p9_dirent_iter *it, struct p9_dirent *d)
{
	struct p9_dirent t;
	struct cur c;

	if (it->err)
		return it->err;
	if (it->p == it->end)
		return 0;
	c = (struct cur){ .mode = GET, .p = (uint8_t *)it->p,
			  .end = (uint8_t *)it->end };
	qid(&c, &t.qid);
	u64(&c, &t.offset);
	u8(&c, &t.type);
	str(&c, &t.name);
	if (c.err) {
		it->err = c.err;
		return c.err;
	}
	it->p = c.p;
	*d = t;
	return 1;
}

void p9_dirent_buf_init(struct p9_dirent_buf *b, void *data, uint32_t cap)
{
	b->data = data;
	b->cap = cap;
	b->len = 0;
}

int p9_dirent_put(struct p9_dirent_buf *b, const struct p9_dirent *d)
{
	struct p9_dirent t = *d;
	struct cur c;

	if (!str_ok(&d->name))
		return -EINVAL;
	if (b->cap - b->len < p9_dirent_size(d))
		return -ENOSPC;
	c = (struct cur){ .mode = PUT, .p = b->data + b->len,
			  .end = b->data + b->cap };
	qid(&c, &t.qid);
	u64(&c, &t.offset);
	u8(&c, &t.type);
	str(&c, &t.name);
	if (c.err)
		return c.err;
	b->len = (uint32_t)(c.p - b->data);
	return 0;
}

static const char *const type_names[256] = {
	[P9_RLERROR] = "Rlerror",
	[P9_TSTATFS] = "Tstatfs", [P9_RSTATFS] = "Rstatfs",
	[P9_TLOPEN] = "Tlopen", [P9_RLOPEN] = "Rlopen",
	[P9_TLCREATE] = "Tlcreate", [P9_RLCREATE] = "Rlcreate",
	[P9_TSYMLINK] = "Tsymlink", [P9_RSYMLINK] = "Rsymlink",
	[P9_TMKNOD] = "Tmknod", [P9_RMKNOD] = "Rmknod",
	[P9_TRENAME] = "Trename", [P9_RRENAME] = "Rrename",
	[P9_TREADLINK] = "Treadlink", [P9_RREADLINK] = "Rreadlink",
	[P9_TGETATTR] = "Tgetattr", [P9_RGETATTR] = "Rgetattr",
	[P9_TSETATTR] = "Tsetattr", [P9_RSETATTR] = "Rsetattr",
	[P9_TXATTRWALK] = "Txattrwalk", [P9_RXATTRWALK] = "Rxattrwalk",
	[P9_TXATTRCREATE] = "Txattrcreate", [P9_RXATTRCREATE] = "Rxattrcreate",
	[P9_TREADDIR] = "Treaddir", [P9_RREADDIR] = "Rreaddir",
	[P9_TFSYNC] = "Tfsync", [P9_RFSYNC] = "Rfsync",
	[P9_TLOCK] = "Tlock", [P9_RLOCK] = "Rlock",
	[P9_TGETLOCK] = "Tgetlock", [P9_RGETLOCK] = "Rgetlock",
	[P9_TLINK] = "Tlink", [P9_RLINK] = "Rlink",
	[P9_TMKDIR] = "Tmkdir", [P9_RMKDIR] = "Rmkdir",
	[P9_TRENAMEAT] = "Trenameat", [P9_RRENAMEAT] = "Rrenameat",
	[P9_TUNLINKAT] = "Tunlinkat", [P9_RUNLINKAT] = "Runlinkat",
	[P9_TVERSION] = "Tversion", [P9_RVERSION] = "Rversion",
	[P9_TAUTH] = "Tauth", [P9_RAUTH] = "Rauth",
	[P9_TATTACH] = "Tattach", [P9_RATTACH] = "Rattach",
	[P9_TFLUSH] = "Tflush", [P9_RFLUSH] = "Rflush",
	[P9_TWALK] = "Twalk", [P9_RWALK] = "Rwalk",
	[P9_TREAD] = "Tread", [P9_RREAD] = "Rread",
	[P9_TWRITE] = "Twrite", [P9_RWRITE] = "Rwrite",
	[P9_TCLUNK] = "Tclunk", [P9_RCLUNK] = "Rclunk",
	[P9_TREMOVE] = "Tremove", [P9_RREMOVE] = "Rremove",
};

const char *p9_type_name(uint8_t type)
{
	return type_names[type];
}

/* Linux errno numbering (the wire's, whatever the host's). */
static const char *const errno_names[] = {
	"0", "EPERM", "ENOENT", "ESRCH", "EINTR", "EIO", "ENXIO", "E2BIG",
	"ENOEXEC", "EBADF", "ECHILD", "EAGAIN", "ENOMEM", "EACCES", "EFAULT",
	"ENOTBLK", "EBUSY", "EEXIST", "EXDEV", "ENODEV", "ENOTDIR", "EISDIR",
	"EINVAL", "ENFILE", "EMFILE", "ENOTTY", "ETXTBSY", "EFBIG", "ENOSPC",
	"ESPIPE", "EROFS", "EMLINK", "EPIPE", "EDOM", "ERANGE", "EDEADLK",
	"ENAMETOOLONG", "ENOLCK", "ENOSYS", "ENOTEMPTY", "ELOOP", "E?",
	"ENOMSG", "EIDRM", "ECHRNG", "EL2NSYNC", "EL3HLT", "EL3RST", "ELNRNG",
	"EUNATCH", "ENOCSI", "EL2HLT", "EBADE", "EBADR", "EXFULL", "ENOANO",
	"EBADRQC", "EBADSLT", "E?", "EBFONT", "ENOSTR", "ENODATA", "ETIME",
	"ENOSR", "ENONET", "ENOPKG", "EREMOTE", "ENOLINK", "EADV", "ESRMNT",
	"ECOMM", "EPROTO", "EMULTIHOP", "EDOTDOT", "EBADMSG", "EOVERFLOW",
	"ENOTUNIQ", "EBADFD", "EREMCHG", "ELIBACC", "ELIBBAD", "ELIBSCN",
	"ELIBMAX", "ELIBEXEC", "EILSEQ", "ERESTART", "ESTRPIPE", "EUSERS",
	"ENOTSOCK", "EDESTADDRREQ", "EMSGSIZE", "EPROTOTYPE", "ENOPROTOOPT",
	"EPROTONOSUPPORT", "ESOCKTNOSUPPORT", "EOPNOTSUPP", "EPFNOSUPPORT",
	"EAFNOSUPPORT", "EADDRINUSE", "EADDRNOTAVAIL", "ENETDOWN",
	"ENETUNREACH", "ENETRESET", "ECONNABORTED", "ECONNRESET", "ENOBUFS",
	"EISCONN", "ENOTCONN", "ESHUTDOWN", "ETOOMANYREFS", "ETIMEDOUT",
	"ECONNREFUSED", "EHOSTDOWN", "EHOSTUNREACH", "EALREADY",
	"EINPROGRESS", "ESTALE", "EUCLEAN", "ENOTNAM", "ENAVAIL", "EISNAM",
	"EREMOTEIO", "EDQUOT", "ENOMEDIUM", "EMEDIUMTYPE", "ECANCELED",
	"ENOKEY", "EKEYEXPIRED", "EKEYREVOKED", "EKEYREJECTED", "EOWNERDEAD",
	"ENOTRECOVERABLE", "ERFKILL", "EHWPOISON",
};

const char *p9_errno_name(uint32_t ecode)
{
	if (ecode == 0 || ecode >= sizeof(errno_names) / sizeof(errno_names[0]))
		return "E?";
	return errno_names[ecode];
}
