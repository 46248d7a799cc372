/*
 * p9.h - the 9P2000.L wire codec: message structs, constants, pack/unpack.
 *
 * Scope
 *   The codec turns one 9P2000.L message into bytes and back.  It knows
 *   every message of 9P2000.L (the .L operations, the 9P2000.u attach and
 *   auth, and the subset of 9P2000 that .L keeps: version, flush, walk,
 *   read, write, clunk, remove).  It does no I/O, keeps no state, allocates
 *   nothing and never calls into anything but memchr/memmove: a client and
 *   a server build their request and reply logic on top.
 *
 * Wire format
 *   Every message is  size[4] type[1] tag[2]  followed by its fields;
 *   integers are little-endian; a string is  len[2] bytes[len]  with no
 *   terminating NUL; a qid is  type[1] version[4] path[8]  (13 bytes).
 *   size counts the whole message, itself included.
 *
 * Decoding
 *   p9_unpack() reads exactly one message of exactly len bytes (the caller
 *   frames the stream with p9_frame_size()).  Nothing is copied: decoded
 *   strings (struct p9_str) and data (Rread, Twrite, Rreaddir) point into
 *   the caller's buffer, so the decoded message is valid only while that
 *   buffer is.  Strings are NOT NUL-terminated.
 *   A malformed message is -EBADMSG: shorter than its header, a size field
 *   that is not len, a string or data count that runs past the end, more
 *   than P9_MAXWELEM walk names or qids, a NUL byte inside any string, a
 *   Rreaddir payload that is not a whole sequence of directory entries, or
 *   bytes left over after the last field.  A well-formed header with a type
 *   the codec does not know (9P2000 Topen/Tcreate/Tstat/Twstat/Rerror, Tlerror,
 *   anything else) is -EPROTO; use p9_peek() to get its tag for the reply.
 *   Names are checked for length and NULs only: '/', "." and ".." in a walk
 *   name are the server's business.
 *
 * Encoding
 *   p9_pack() measures first and writes only if the whole message fits, so
 *   a failure leaves nothing half-written.  The encoding is canonical: for
 *   every message p9_unpack() accepts, p9_pack() of the result gives back
 *   the same bytes.  p9_pack() refuses (-EINVAL) what p9_unpack() would
 *   reject: an unknown type, a string longer than 65535 bytes or holding a
 *   NUL, more than P9_MAXWELEM names or qids, data with a count but no
 *   pointer, an ill-formed Rreaddir payload, a total above 4 GiB - 1.
 *   Data and strings are copied with memmove, so a reply may be built in
 *   place: read file data into buf + P9_RREAD_HDRSZ (or directory entries
 *   into buf + P9_RREADDIR_HDRSZ), point the message's data there, pack
 *   into buf.
 *
 * Every function is reentrant and thread-safe (no shared state).
 */
#ifndef UVFS_P9_H
#define UVFS_P9_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Message types (Linux include/net/9p/9p.h numbering). */
enum p9_type {
	P9_RLERROR = 7,
	P9_TSTATFS = 8,      P9_RSTATFS,
	P9_TLOPEN = 12,      P9_RLOPEN,
	P9_TLCREATE = 14,    P9_RLCREATE,
	P9_TSYMLINK = 16,    P9_RSYMLINK,
	P9_TMKNOD = 18,      P9_RMKNOD,
	P9_TRENAME = 20,     P9_RRENAME,
	P9_TREADLINK = 22,   P9_RREADLINK,
	P9_TGETATTR = 24,    P9_RGETATTR,
	P9_TSETATTR = 26,    P9_RSETATTR,
	P9_TXATTRWALK = 30,  P9_RXATTRWALK,
	P9_TXATTRCREATE = 32, P9_RXATTRCREATE,
	P9_TREADDIR = 40,    P9_RREADDIR,
	P9_TFSYNC = 50,      P9_RFSYNC,
	P9_TLOCK = 52,       P9_RLOCK,
	P9_TGETLOCK = 54,    P9_RGETLOCK,
	P9_TLINK = 70,       P9_RLINK,
	P9_TMKDIR = 72,      P9_RMKDIR,
	P9_TRENAMEAT = 74,   P9_RRENAMEAT,
	P9_TUNLINKAT = 76,   P9_RUNLINKAT,
	P9_TVERSION = 100,   P9_RVERSION,
	P9_TAUTH = 102,      P9_RAUTH,
	P9_TATTACH = 104,    P9_RATTACH,
	P9_TFLUSH = 108,     P9_RFLUSH,
	P9_TWALK = 110,      P9_RWALK,
	P9_TREAD = 116,      P9_RREAD,
	P9_TWRITE = 118,     P9_RWRITE,
	P9_TCLUNK = 120,     P9_RCLUNK,
	P9_TREMOVE = 122,    P9_RREMOVE,
};

#define P9_VERSION_L    "9P2000.L"
#define P9_NOTAG        ((uint16_t)0xffff)
#define P9_NOFID        ((uint32_t)0xffffffff)
#define P9_NONUNAME     ((uint32_t)0xffffffff)
#define P9_MAXWELEM     16      /* names in a Twalk, qids in an Rwalk */

/* Fixed wire sizes. */
#define P9_HDRSZ        7       /* size[4] type[1] tag[2] */
#define P9_QIDSZ        13      /* type[1] version[4] path[8] */
#define P9_RREAD_HDRSZ  11      /* header count[4]: data follows */
#define P9_RREADDIR_HDRSZ 11    /* header count[4]: entries follow */
#define P9_TWRITE_HDRSZ 23      /* header fid[4] offset[8] count[4] */
/* What a client subtracts from msize for its iounit (as Linux does). */
#define P9_IOHDRSZ      24
/* A directory entry: qid[13] offset[8] type[1] name[s]. */
#define P9_DIRENT_FIXSZ 24      /* everything but the name's bytes */

/* qid.type bits */
enum {
	P9_QTDIR = 0x80, P9_QTAPPEND = 0x40, P9_QTEXCL = 0x20,
	P9_QTMOUNT = 0x10, P9_QTAUTH = 0x08, P9_QTTMP = 0x04,
	P9_QTSYMLINK = 0x02, P9_QTLINK = 0x01, P9_QTFILE = 0x00,
};

/* Tgetattr request_mask and Rgetattr valid */
#define P9_GETATTR_MODE         0x00000001ULL
#define P9_GETATTR_NLINK        0x00000002ULL
#define P9_GETATTR_UID          0x00000004ULL
#define P9_GETATTR_GID          0x00000008ULL
#define P9_GETATTR_RDEV         0x00000010ULL
#define P9_GETATTR_ATIME        0x00000020ULL
#define P9_GETATTR_MTIME        0x00000040ULL
#define P9_GETATTR_CTIME        0x00000080ULL
#define P9_GETATTR_INO          0x00000100ULL
#define P9_GETATTR_SIZE         0x00000200ULL
#define P9_GETATTR_BLOCKS       0x00000400ULL
#define P9_GETATTR_BTIME        0x00000800ULL
#define P9_GETATTR_GEN          0x00001000ULL
#define P9_GETATTR_DATA_VERSION 0x00002000ULL
#define P9_GETATTR_BASIC        0x000007ffULL
#define P9_GETATTR_ALL          0x00003fffULL

/* Tsetattr valid; a time bit without its _SET bit means "now". */
#define P9_SETATTR_MODE         0x00000001U
#define P9_SETATTR_UID          0x00000002U
#define P9_SETATTR_GID          0x00000004U
#define P9_SETATTR_SIZE         0x00000008U
#define P9_SETATTR_ATIME        0x00000010U
#define P9_SETATTR_MTIME        0x00000020U
#define P9_SETATTR_CTIME        0x00000040U
#define P9_SETATTR_ATIME_SET    0x00000080U
#define P9_SETATTR_MTIME_SET    0x00000100U

/* Tlock/Tgetlock type, Tlock flags, Rlock status */
enum { P9_LOCK_TYPE_RDLCK = 0, P9_LOCK_TYPE_WRLCK = 1, P9_LOCK_TYPE_UNLCK = 2 };
#define P9_LOCK_FLAGS_BLOCK     1U
#define P9_LOCK_FLAGS_RECLAIM   2U
enum { P9_LOCK_SUCCESS = 0, P9_LOCK_BLOCKED = 1, P9_LOCK_ERROR = 2,
       P9_LOCK_GRACE = 3 };

/* A counted string.  Decoded: points into the message buffer, not
 * NUL-terminated, never holds a NUL, len <= 65535.  To encode, set s and
 * len (P9_STR() for a literal, p9_str() for a C string). */
struct p9_str {
	const char *s;
	size_t len;
};
#define P9_STR(lit) ((struct p9_str){ (lit), sizeof(lit) - 1 })

struct p9_qid {
	uint8_t type;           /* P9_QT* */
	uint32_t version;
	uint64_t path;
};

/* One struct per message that has fields, named after it; field names
 * and order are the wire's.  Replies with no fields (Rrename, Rsetattr,
 * Rxattrcreate, Rfsync, Rlink, Rrenameat, Runlinkat, Rflush, Rclunk,
 * Rremove) have no struct. */
struct p9_rlerror { uint32_t ecode; };          /* a Linux errno, > 0 */
struct p9_tstatfs { uint32_t fid; };
struct p9_rstatfs {
	uint32_t type, bsize;
	uint64_t blocks, bfree, bavail, files, ffree, fsid;
	uint32_t namelen;
};
struct p9_tlopen { uint32_t fid, flags; };      /* Linux O_* flags */
struct p9_rlopen { struct p9_qid qid; uint32_t iounit; };
struct p9_tlcreate {
	uint32_t fid;                           /* the directory; becomes the file */
	struct p9_str name;
	uint32_t flags, mode, gid;
};
struct p9_rlcreate { struct p9_qid qid; uint32_t iounit; };
struct p9_tsymlink {
	uint32_t fid;                           /* the directory */
	struct p9_str name, symtgt;
	uint32_t gid;
};
struct p9_rsymlink { struct p9_qid qid; };
struct p9_tmknod {
	uint32_t dfid;
	struct p9_str name;
	uint32_t mode, major, minor, gid;
};
struct p9_rmknod { struct p9_qid qid; };
struct p9_trename { uint32_t fid, dfid; struct p9_str name; };
struct p9_treadlink { uint32_t fid; };
struct p9_rreadlink { struct p9_str target; };
struct p9_tgetattr { uint32_t fid; uint64_t request_mask; };
struct p9_rgetattr {
	uint64_t valid;                         /* P9_GETATTR_* */
	struct p9_qid qid;
	uint32_t mode, uid, gid;
	uint64_t nlink, rdev, size, blksize, blocks;
	uint64_t atime_sec, atime_nsec, mtime_sec, mtime_nsec;
	uint64_t ctime_sec, ctime_nsec, btime_sec, btime_nsec;
	uint64_t gen, data_version;
};
struct p9_tsetattr {
	uint32_t fid;
	uint32_t valid;                         /* P9_SETATTR_* */
	uint32_t mode, uid, gid;
	uint64_t size;
	uint64_t atime_sec, atime_nsec, mtime_sec, mtime_nsec;
};
struct p9_txattrwalk { uint32_t fid, newfid; struct p9_str name; };
struct p9_rxattrwalk { uint64_t size; };
struct p9_txattrcreate {
	uint32_t fid;
	struct p9_str name;
	uint64_t attr_size;
	uint32_t flags;
};
struct p9_treaddir { uint32_t fid; uint64_t offset; uint32_t count; };
struct p9_rreaddir {
	uint32_t count;
	const void *data;                       /* count bytes of entries */
};
struct p9_tfsync { uint32_t fid, datasync; };
struct p9_tlock {
	uint32_t fid;
	uint8_t type;                           /* P9_LOCK_TYPE_* */
	uint32_t flags;                         /* P9_LOCK_FLAGS_* */
	uint64_t start, length;
	uint32_t proc_id;
	struct p9_str client_id;
};
struct p9_rlock { uint8_t status; };            /* P9_LOCK_SUCCESS... */
struct p9_tgetlock {
	uint32_t fid;
	uint8_t type;
	uint64_t start, length;
	uint32_t proc_id;
	struct p9_str client_id;
};
struct p9_rgetlock {
	uint8_t type;
	uint64_t start, length;
	uint32_t proc_id;
	struct p9_str client_id;
};
struct p9_tlink { uint32_t dfid, fid; struct p9_str name; };
struct p9_tmkdir {
	uint32_t dfid;
	struct p9_str name;
	uint32_t mode, gid;
};
struct p9_rmkdir { struct p9_qid qid; };
struct p9_trenameat {
	uint32_t olddirfid;
	struct p9_str oldname;
	uint32_t newdirfid;
	struct p9_str newname;
};
struct p9_tunlinkat {
	uint32_t dirfid;
	struct p9_str name;
	uint32_t flags;                         /* AT_REMOVEDIR */
};
struct p9_tversion { uint32_t msize; struct p9_str version; };
struct p9_rversion { uint32_t msize; struct p9_str version; };
struct p9_tauth {
	uint32_t afid;
	struct p9_str uname, aname;
	uint32_t n_uname;
};
struct p9_rauth { struct p9_qid aqid; };
struct p9_tattach {
	uint32_t fid, afid;                     /* afid P9_NOFID: no auth */
	struct p9_str uname, aname;
	uint32_t n_uname;                       /* P9_NONUNAME: use uname */
};
struct p9_rattach { struct p9_qid qid; };
struct p9_tflush { uint16_t oldtag; };
struct p9_twalk {
	uint32_t fid, newfid;
	uint16_t nwname;                        /* <= P9_MAXWELEM */
	struct p9_str wname[P9_MAXWELEM];
};
struct p9_rwalk {
	uint16_t nwqid;                         /* <= P9_MAXWELEM */
	struct p9_qid wqid[P9_MAXWELEM];
};
struct p9_tread { uint32_t fid; uint64_t offset; uint32_t count; };
struct p9_rread { uint32_t count; const void *data; };
struct p9_twrite {
	uint32_t fid;
	uint64_t offset;
	uint32_t count;
	const void *data;
};
struct p9_rwrite { uint32_t count; };
struct p9_tclunk { uint32_t fid; };
struct p9_tremove { uint32_t fid; };

/* A message: type and tag, and the struct of that type. */
struct p9_msg {
	uint8_t type;                           /* enum p9_type */
	uint16_t tag;
	union {
		struct p9_rlerror rlerror;
		struct p9_tstatfs tstatfs;
		struct p9_rstatfs rstatfs;
		struct p9_tlopen tlopen;
		struct p9_rlopen rlopen;
		struct p9_tlcreate tlcreate;
		struct p9_rlcreate rlcreate;
		struct p9_tsymlink tsymlink;
		struct p9_rsymlink rsymlink;
		struct p9_tmknod tmknod;
		struct p9_rmknod rmknod;
		struct p9_trename trename;
		struct p9_treadlink treadlink;
		struct p9_rreadlink rreadlink;
		struct p9_tgetattr tgetattr;
		struct p9_rgetattr rgetattr;
		struct p9_tsetattr tsetattr;
		struct p9_txattrwalk txattrwalk;
		struct p9_rxattrwalk rxattrwalk;
		struct p9_txattrcreate txattrcreate;
		struct p9_treaddir treaddir;
		struct p9_rreaddir rreaddir;
		struct p9_tfsync tfsync;
		struct p9_tlock tlock;
		struct p9_rlock rlock;
		struct p9_tgetlock tgetlock;
		struct p9_rgetlock rgetlock;
		struct p9_tlink tlink;
		struct p9_tmkdir tmkdir;
		struct p9_rmkdir rmkdir;
		struct p9_trenameat trenameat;
		struct p9_tunlinkat tunlinkat;
		struct p9_tversion tversion;
		struct p9_rversion rversion;
		struct p9_tauth tauth;
		struct p9_rauth rauth;
		struct p9_tattach tattach;
		struct p9_rattach rattach;
		struct p9_tflush tflush;
		struct p9_twalk twalk;
		struct p9_rwalk rwalk;
		struct p9_tread tread;
		struct p9_rread rread;
		struct p9_twrite twrite;
		struct p9_rwrite rwrite;
		struct p9_tclunk tclunk;
		struct p9_tremove tremove;
	};
};

/*
 * Framing a byte stream.
 * => buf holds the len bytes received so far of the next message.
 * Returns 0 with *size set to the whole message's length once its size
 * field is in (the message is complete when len >= *size); -EAGAIN while
 * fewer than 4 bytes are in; -EBADMSG if size < P9_HDRSZ; -EMSGSIZE if
 * size > msize.  Either error means the stream cannot be resynchronised.
 */
int p9_frame_size(const void *buf, size_t len, uint32_t msize, uint32_t *size);

/*
 * The header of a framed message, whatever its type and body: for replying
 * Rlerror to a message p9_unpack() refused.  0, or -EBADMSG if len is
 * shorter than a header.
 */
int p9_peek(const void *buf, size_t len, uint8_t *type, uint16_t *tag);

/*
 * Decodes the one message that is exactly buf[0..len).  0 and *m filled
 * (strings and data pointing into buf), or -EBADMSG (malformed) or -EPROTO
 * (unknown type); *m is untouched on failure.
 */
int p9_unpack(const void *buf, size_t len, struct p9_msg *m);

/*
 * Encodes *m into buf.  The message's length, or -ENOSPC if it needs more
 * than cap bytes (nothing written), or -EINVAL if it is not a valid
 * message (see "Encoding" above).  buf may be NULL when cap is 0.
 */
ssize_t p9_pack(void *buf, size_t cap, const struct p9_msg *m);

/* The length p9_pack() would return with room enough; -EINVAL likewise. */
ssize_t p9_packed_size(const struct p9_msg *m);

/* "Twalk", "Rlerror", ...; NULL if the codec does not know the type. */
const char *p9_type_name(uint8_t type);
static inline bool p9_type_known(uint8_t type)
{
	return p9_type_name(type) != NULL;
}

/* "ENOENT" for an Rlerror code (Linux numbering); "E?" if unknown. */
const char *p9_errno_name(uint32_t ecode);

/* A C string as a p9_str (no length check: p9_pack() does that). */
static inline struct p9_str p9_str(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return (struct p9_str){ s, n };
}

static inline bool p9_str_eq(struct p9_str a, const char *s)
{
	size_t i;
	for (i = 0; i < a.len; i++)
		if (s[i] == '\0' || s[i] != a.s[i])
			return false;
	return s[i] == '\0';
}

/*
 * Rreaddir payloads.  An entry is  qid[13] offset[8] type[1] name[s]:
 * offset is the cookie to pass in the next Treaddir, type a DT_* value.
 */
struct p9_dirent {
	struct p9_qid qid;
	uint64_t offset;
	uint8_t type;
	struct p9_str name;
};

static inline size_t p9_dirent_size(const struct p9_dirent *d)
{
	return P9_DIRENT_FIXSZ + d->name.len;
}

/* Reads the entries of an Rreaddir's data, with the same checks as
 * p9_unpack() (names point into data). */
struct p9_dirent_iter {
	const uint8_t *p, *end;
	int err;                                /* sticky */
};
void p9_dirent_iter_init(struct p9_dirent_iter *it, const void *data,
			 uint32_t count);
/* 1 and *d set; 0 at the end; -EBADMSG (and again on every later call)
 * if an entry is truncated or its name holds a NUL. */
int p9_dirent_next(struct p9_dirent_iter *it, struct p9_dirent *d);

/* Appends entries to a buffer of cap bytes (for an Rreaddir of at most
 * cap = min(Treaddir count, msize - P9_RREADDIR_HDRSZ) bytes). */
struct p9_dirent_buf {
	uint8_t *data;
	uint32_t cap, len;
};
void p9_dirent_buf_init(struct p9_dirent_buf *b, void *data, uint32_t cap);
/* 0 and the entry appended; -ENOSPC if it does not fit (the buffer is
 * unchanged: send what is there); -EINVAL if its name is longer than
 * 65535 bytes or holds a NUL. */
int p9_dirent_put(struct p9_dirent_buf *b, const struct p9_dirent *d);

#ifdef __cplusplus
}
#endif

#endif /* UVFS_P9_H */
