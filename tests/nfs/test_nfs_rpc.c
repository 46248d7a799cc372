/*
 * test_nfs_rpc.c - the NFS driver's ONC RPC layer (lib/nfs/rpc.c) on the
 * remote session, against a scripted RPC server on loopback (no NFS
 * server needed):
 *
 *  - a reply split into several record-mark fragments is joined and
 *    decoded (libnfs's XDR routines) whole;
 *  - each call carries the AUTH_SYS credential it is given: uid, gid and
 *    at most 16 groups (a caller with 20 sends 16); none given: root;
 *  - a denied call (AUTH_ERROR) is -EACCES;
 *  - a reply whose XID is not the call's (its low bits, the session's
 *    tag, the same) is refused (-EIO);
 *  - a call the server never answers fails with -ETIMEDOUT by its
 *    deadline (plus slack), and the connection it went out on is cut (the
 *    server sees it end: fencing), after which the session reconnects and
 *    the next call succeeds;
 *  - NFS3ERR_JUKEBOX ("not now", nothing done) is asked again after a
 *    growing pause (nfs3_send.c), on every path a call is waited for:
 *    a GETATTR the server says it to three times is answered on the
 *    fourth try; the READs of a large read sent many at once, some
 *    answered JUKEBOX first, give the file's bytes; writes behind
 *    answered JUKEBOX are sent again and reach the server's disk by the
 *    fsync.  A server that always says it makes the call (the read, the
 *    fsync after writes behind) -ETIMEDOUT at its deadline, never
 *    -EAGAIN, and one killed (a forced unmount) during its pause -EIO at
 *    once; a read-ahead piece answered JUKEBOX drops the window (a hint)
 *    and the read reads for itself;
 *  - a write behind whose WRITE is still going out (the server reads
 *    nothing: the link is full) when the connection is killed (a forced
 *    unmount) fails with -EIO at once: it was not accepted behind;
 *  - the REMOVE of a silly-renamed file at its last close (remove.c's
 *    reaper): answered JUKEBOX twice, it is sent again and the name goes,
 *    while the close returned at once; an RMDIR answered NOTEMPTY while
 *    that REMOVE's answer is held back (longer than a second) waits for
 *    it and succeeds, and one of a directory with nothing pending in it
 *    is NOTEMPTY at once; a forced unmount during its pause between
 *    JUKEBOX answers ends it, and a waiting RMDIR, at once, and nothing
 *    is sent after; the close returns at once while the session
 *    reconnects (where a call would wait), and the REMOVE goes once the
 *    server is back; an unmount waits for it (by the mount's timeout);
 *  - attributes taken out of order (test_nfs_rpc_attr.c): a READ's
 *    from before a truncation, a GETATTR's from before a write, taken
 *    after the newer ones, are dropped; a GETATTR's sent first but done
 *    after another client's change (a later ctime) is applied.
 *
 * The server (serve) answers GETATTR, READ (of a file of FILE_SIZE
 * bytes, file_byte's), WRITE (into disk[]), COMMIT (one verifier) and
 * SETATTR, and LOOKUP, REMOVE and RMDIR of one directory "d" in the root
 * (dir_names[]: the names in it); mode says how, in M_JUKEBOX the first
 * jukebox_left calls of procedure jukebox_proc (all, if < 0) are
 * answered NFS3ERR_JUKEBOX, a REMOVE is done and answered
 * remove_delay_ms after it came (the server answers other calls
 * meanwhile), and while refusing it hangs up at the next call and
 * refuses connections.  With fa_on its file has attributes that WRITE
 * and SETATTR change (a size, and a time for mtime and ctime), which
 * GETATTR, READ, WRITE and SETATTR answer; and the next call of
 * hold_proc is held back (done when it came, or when let go) until
 * hold_go, while the server answers other calls.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <uvfs/fs.h>
#include <uvfs/nfs.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-nfs.h>

#include <uvfs/nfs.h>

#include "core.h"         /* struct uvfs_sb, for the driver's operations */
#include "deadline.h"
#include "nfs3.h"
#include "nfs_i.h"
#include "rpc.h"

enum mode { M_OK, M_FRAG, M_DENY, M_BADXID, M_SILENT, M_JUKEBOX, M_DEAF };

static int lfd = -1, port;             /* the server thread's, after setup */
static _Atomic bool refusing;           /* the server closes its listener
					 * (connections refused) and each
					 * connection at its next call */
static _Atomic bool listening;          /* ... and says when it did */
static pthread_t srv;
static _Atomic int mode = M_OK;
static _Atomic bool stop;
/* what the server saw of the last GETATTR (written by the server thread,
 * read after the call returned: the reply orders them) */
static _Atomic uint32_t seen_uid, seen_gid, seen_ngroups;
static _Atomic int conns_ended;         /* connections that ended */
static _Atomic bool deaf;               /* M_DEAF: a connection stopped
					 * reading (at a call's record mark) */
static _Atomic int jukebox_proc = NFS3_GETATTR; /* M_JUKEBOX: which */
static _Atomic int jukebox_left;        /* ... calls of it answered
					 * NFS3ERR_JUKEBOX before an answer
					 * (< 0: all of them) */
static _Atomic int seen[32];            /* calls received, by procedure */

/* The directory "d" in the root: its handle and the names in it (REMOVE
 * takes one away, RMDIR answers NOTEMPTY while any is left). */
#define ROOT_FH "handle!"
#define DIR_FH  "dir-d!!"
#define DIR_MAXN 8
static pthread_mutex_t dir_lock = PTHREAD_MUTEX_INITIALIZER;
static char dir_names[DIR_MAXN][64];    /* dir_lock; "" : free */
static bool dir_gone;                   /* dir_lock: RMDIR'd */
static _Atomic int remove_delay_ms;     /* a REMOVE done and answered so
					 * long after it came */

/* The file's attributes, when fa_on (else GETATTR answers 1234 bytes and
 * READ and WRITE none): its size and one time for its mtime and ctime, in
 * seconds, which each WRITE and SETATTR moves on by one; GETATTR, READ,
 * WRITE and SETATTR answer them as they are when the call is done. */
static pthread_mutex_t fa_lock = PTHREAD_MUTEX_INITIALIZER;
static bool fa_on;                      /* fa_lock */
static uint64_t fa_size;                /* fa_lock */
static uint32_t fa_time;                /* fa_lock */
/* The next call of hold_proc (0: none) is held back until hold_go: done
 * and answered then (hold_late), or done when it came and only its answer
 * held back.  held_now says that one is held. */
static _Atomic uint32_t hold_proc;
static _Atomic bool hold_late, hold_go, held_now;

#define FILE_SIZE ((1u << 20) + 1000)   /* what READ reads */
#define DISK_SIZE (4u << 20)            /* what WRITE writes */
static pthread_mutex_t disk_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t disk[DISK_SIZE];         /* disk_lock */
static const char verifier[8] = "verf0001";

static uint8_t file_byte(uint64_t off)
{
	return (uint8_t)(off * 7 + off / 4099);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static int read_full(int fd, void *b, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = read(fd, (char *)b + got, n - got);
		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	return 0;
}

static void write_full(int fd, const void *b, size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t k = send(fd, (const char *)b + off, n - off,
				 MSG_NOSIGNAL);
		if (k <= 0)
			return;
		off += (size_t)k;
	}
}

/* The reply body (after the marks) to call xid: accepted, SUCCESS, with
 * results res (len bytes), or denied. */
static size_t reply_body(uint8_t *b, uint32_t xid, bool deny,
			 const uint8_t *res, size_t len)
{
	size_t o = 0;

	put32(b + o, xid); o += 4;
	put32(b + o, 1); o += 4;                /* REPLY */
	if (deny) {
		put32(b + o, 1); o += 4;        /* MSG_DENIED */
		put32(b + o, 1); o += 4;        /* AUTH_ERROR */
		put32(b + o, 1); o += 4;        /* AUTH_BADCRED */
		return o;
	}
	put32(b + o, 0); o += 4;                /* MSG_ACCEPTED */
	put32(b + o, 0); o += 4;                /* verifier AUTH_NONE */
	put32(b + o, 0); o += 4;
	put32(b + o, 0); o += 4;                /* SUCCESS */
	memcpy(b + o, res, len);
	return o + len;
}

/* The attributes of fileid 4242, regular: fa_*'s when fa_on, else
 * 1234 bytes and no times.  Whether they are fa_*'s. */
static bool file_fattr(fattr3 *a)
{
	bool on;

	memset(a, 0, sizeof(*a));
	a->type = NF3REG;
	a->mode = 0644;
	a->nlink = 1;
	a->size = 1234;
	a->fileid = 4242;
	pthread_mutex_lock(&fa_lock);
	on = fa_on;
	if (on) {
		a->size = fa_size;
		a->mtime.seconds = a->ctime.seconds = fa_time;
	}
	pthread_mutex_unlock(&fa_lock);
	return on;
}

/* A GETATTR3res of the file (file_fattr) (or, busy, only the status
 * NFS3ERR_JUKEBOX). */
static size_t getattr_res(uint8_t *b, size_t cap, bool busy)
{
	GETATTR3res r;
	ZDR z;

	memset(&r, 0, sizeof(r));
	r.status = busy ? NFS3ERR_JUKEBOX : NFS3_OK;
	file_fattr(&r.GETATTR3res_u.resok.obj_attributes);
	zdrmem_create(&z, (caddr_t)b, (uint32_t)cap, ZDR_ENCODE);
	assert_true(zdr_GETATTR3res(&z, &r));
	size_t n = zdr_getpos(&z);
	zdr_destroy(&z);
	return n;
}

/* Is this call of proc to be answered NFS3ERR_JUKEBOX (mode M_JUKEBOX)? */
static bool busy_now(int m, uint32_t proc)
{
	int left;

	if (m != M_JUKEBOX || proc != (uint32_t)atomic_load(&jukebox_proc))
		return false;
	left = atomic_load(&jukebox_left);
	while (left > 0 &&
	       !atomic_compare_exchange_weak(&jukebox_left, &left, left - 1))
		;
	return left != 0;
}

/* The handle, then the offset: where args's (n bytes) offset is. */
static size_t after_fh(const uint8_t *args, size_t n)
{
	return n < 4 ? n : 4 + ((get32(args) + 3) & ~3u);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* The results of a READ, WRITE or COMMIT (args: its n bytes of
 * arguments) into b (cap bytes, at least the data's + 512): their
 * length.  busy: NFS3ERR_JUKEBOX, and nothing done. */
static size_t io_res(uint32_t proc, const uint8_t *args, size_t n,
		     bool busy, uint8_t *b, size_t cap)
{
	size_t at = after_fh(args, n);
	uint64_t off = at + 12 <= n ? get64(args + at) : 0;
	uint32_t cnt = at + 12 <= n ? get32(args + at + 8) : 0;
	uint8_t *data = NULL;
	ZDR z;
	bool ok;

	zdrmem_create(&z, (caddr_t)b, (uint32_t)cap, ZDR_ENCODE);
	if (proc == NFS3_READ) {
		READ3res r;
		memset(&r, 0, sizeof(r));
		r.status = busy ? NFS3ERR_JUKEBOX : NFS3_OK;
		if (!busy) {
			uint32_t k = off >= FILE_SIZE ? 0
				     : FILE_SIZE - off < cnt
				     ? (uint32_t)(FILE_SIZE - off) : cnt;
			data = malloc(k + 1);
			for (uint32_t i = 0; i < k; i++)
				data[i] = file_byte(off + i);
			r.READ3res_u.resok.count = k;
			r.READ3res_u.resok.eof = off + k >= FILE_SIZE;
			r.READ3res_u.resok.data.data_len = k;
			r.READ3res_u.resok.data.data_val = (char *)data;
			post_op_attr *pa = &r.READ3res_u.resok.file_attributes;
			pa->attributes_follow =
				file_fattr(&pa->post_op_attr_u.attributes);
		}
		ok = zdr_READ3res(&z, &r);
	} else if (proc == NFS3_WRITE) {
		WRITE3res r;
		memset(&r, 0, sizeof(r));
		r.status = busy ? NFS3ERR_JUKEBOX : NFS3_OK;
		if (!busy) {
			/* after the stable mode: the data's length, the data */
			const uint8_t *d = args + at + 20;
			uint32_t k = at + 20 <= n ? get32(args + at + 16) : 0;
			assert_true(at + 20 + k <= n && k == cnt &&
				    off + k <= DISK_SIZE);
			pthread_mutex_lock(&disk_lock);
			memcpy(disk + off, d, k);
			pthread_mutex_unlock(&disk_lock);
			pthread_mutex_lock(&fa_lock);
			if (fa_size < off + k)
				fa_size = off + k;
			fa_time++;
			pthread_mutex_unlock(&fa_lock);
			post_op_attr *pa =
				&r.WRITE3res_u.resok.file_wcc.after;
			pa->attributes_follow =
				file_fattr(&pa->post_op_attr_u.attributes);
			r.WRITE3res_u.resok.count = k;
			r.WRITE3res_u.resok.committed = UNSTABLE;
			memcpy(r.WRITE3res_u.resok.verf, verifier, 8);
		}
		ok = zdr_WRITE3res(&z, &r);
	} else {
		COMMIT3res r;
		memset(&r, 0, sizeof(r));
		r.status = busy ? NFS3ERR_JUKEBOX : NFS3_OK;
		if (!busy)
			memcpy(r.COMMIT3res_u.resok.verf, verifier, 8);
		ok = zdr_COMMIT3res(&z, &r);
	}
	assert_true(ok);
	size_t len = zdr_getpos(&z);
	zdr_destroy(&z);
	free(data);
	return len;
}

/* The results of a SETATTR (args: its n bytes of arguments) into b (cap
 * bytes): their length.  A size given is the file's (fa_on); either way
 * its time moves on. */
static size_t setattr_res(const uint8_t *args, size_t n, uint8_t *b,
			  size_t cap)
{
	SETATTR3args a;
	SETATTR3res r;
	ZDR z;

	memset(&a, 0, sizeof(a));
	/* what it decodes lives in z's memory, until zdr_destroy */
	zdrmem_create(&z, (caddr_t)(uintptr_t)args, (uint32_t)n, ZDR_DECODE);
	assert_true(zdr_SETATTR3args(&z, &a));
	pthread_mutex_lock(&fa_lock);
	if (a.new_attributes.size.set_it)
		fa_size = a.new_attributes.size.set_size3_u.size;
	fa_time++;
	pthread_mutex_unlock(&fa_lock);
	zdr_destroy(&z);
	memset(&r, 0, sizeof(r));
	r.status = NFS3_OK;
	post_op_attr *pa = &r.SETATTR3res_u.resok.obj_wcc.after;
	pa->attributes_follow = file_fattr(&pa->post_op_attr_u.attributes);
	zdrmem_create(&z, (caddr_t)b, (uint32_t)cap, ZDR_ENCODE);
	assert_true(zdr_SETATTR3res(&z, &r));
	size_t len = zdr_getpos(&z);
	zdr_destroy(&z);
	return len;
}

/* The directory "d" holds exactly the names given (NULL-terminated). */
static void dir_reset(const char *name, ...)
{
	va_list ap;
	int i = 0;

	pthread_mutex_lock(&dir_lock);
	memset(dir_names, 0, sizeof(dir_names));
	dir_gone = false;
	va_start(ap, name);
	for (const char *n = name; n && i < DIR_MAXN;
	     n = va_arg(ap, const char *))
		snprintf(dir_names[i++], sizeof(dir_names[0]), "%s", n);
	va_end(ap);
	pthread_mutex_unlock(&dir_lock);
}

static bool dir_has(const char *name)
{
	bool has = false;

	pthread_mutex_lock(&dir_lock);
	for (int i = 0; i < DIR_MAXN; i++)
		has |= strcmp(dir_names[i], name) == 0;
	pthread_mutex_unlock(&dir_lock);
	return has;
}

/* The handle and the name of a diropargs3 (args: its n bytes): false if
 * malformed. */
static bool dirop_args(const uint8_t *args, size_t n, char fh[8],
		       char name[64])
{
	size_t at = after_fh(args, n);
	uint32_t fl = n >= 4 ? get32(args) : 0, nl;

	if (at + 4 > n || fl != 8)
		return false;
	nl = get32(args + at);
	if (nl >= 64 || at + 4 + nl > n)
		return false;
	memcpy(fh, args + 4, 8);
	memcpy(name, args + at + 4, nl);
	name[nl] = '\0';
	return true;
}

/* The results of a LOOKUP, REMOVE or RMDIR of the directory "d" (args:
 * its n bytes of arguments) into b (cap bytes): their length.  busy:
 * NFS3ERR_JUKEBOX, and nothing done. */
static size_t dir_res(uint32_t proc, const uint8_t *args, size_t n,
		      bool busy, uint8_t *b, size_t cap)
{
	char fh[8], name[64];
	nfsstat3 st = NFS3ERR_NOENT;
	bool ok;
	ZDR z;

	if (busy) {
		st = NFS3ERR_JUKEBOX;
	} else if (dirop_args(args, n, fh, name)) {
		pthread_mutex_lock(&dir_lock);
		bool in_root = memcmp(fh, ROOT_FH, 8) == 0, d = !dir_gone &&
			       in_root && strcmp(name, "d") == 0;
		if (proc == NFS3_LOOKUP && d) {
			st = NFS3_OK;
		} else if (proc == NFS3_RMDIR && d) {
			bool empty = true;
			for (int i = 0; i < DIR_MAXN; i++)
				empty &= dir_names[i][0] == '\0';
			st = empty ? NFS3_OK : NFS3ERR_NOTEMPTY;
			dir_gone = empty;
		} else if (proc == NFS3_REMOVE && !dir_gone &&
			   memcmp(fh, DIR_FH, 8) == 0) {
			for (int i = 0; i < DIR_MAXN; i++)
				if (strcmp(dir_names[i], name) == 0) {
					dir_names[i][0] = '\0';
					st = NFS3_OK;
				}
		}
		pthread_mutex_unlock(&dir_lock);
	}
	zdrmem_create(&z, (caddr_t)b, (uint32_t)cap, ZDR_ENCODE);
	if (proc == NFS3_LOOKUP) {
		LOOKUP3res r;
		memset(&r, 0, sizeof(r));
		r.status = st;
		r.LOOKUP3res_u.resok.object.data.data_len = 8;
		r.LOOKUP3res_u.resok.object.data.data_val = (char *)DIR_FH;
		ok = zdr_LOOKUP3res(&z, &r);
	} else if (proc == NFS3_REMOVE) {
		REMOVE3res r;
		memset(&r, 0, sizeof(r));
		r.status = st;
		ok = zdr_REMOVE3res(&z, &r);
	} else {
		RMDIR3res r;
		memset(&r, 0, sizeof(r));
		r.status = st;
		ok = zdr_RMDIR3res(&z, &r);
	}
	assert_true(ok);
	size_t len = zdr_getpos(&z);
	zdr_destroy(&z);
	return len;
}

/* A connection served: its writes one at a time (a REMOVE's reply held
 * back is written by a thread of its own), and those replies counted so
 * that the connection is closed only after them. */
struct sconn {
	int fd;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	int held;                       /* lock: replies held back */
};

static void sconn_write(struct sconn *sc, const void *b, size_t n)
{
	pthread_mutex_lock(&sc->lock);
	write_full(sc->fd, b, n);
	pthread_mutex_unlock(&sc->lock);
}

/* A reply body (out + 4, bl bytes) with its record mark, as one fragment
 * or (M_FRAG) three. */
static void send_reply(struct sconn *sc, uint8_t *out, size_t bl, int m)
{
	if (m == M_FRAG && bl > 16 && bl < 1000) {
		/* three fragments: 5 bytes, 7 bytes, the rest */
		uint8_t f[1100];
		size_t o = 0, cut[3] = { 5, 7, bl - 12 }, at = 4;
		for (int i = 0; i < 3; i++) {
			put32(f + o, (uint32_t)cut[i] |
				     (i == 2 ? 0x80000000u : 0));
			memcpy(f + o + 4, out + at, cut[i]);
			o += 4 + cut[i];
			at += cut[i];
		}
		sconn_write(sc, f, o);
	} else {
		put32(out, 0x80000000u | (uint32_t)bl);
		sconn_write(sc, out, 4 + bl);
	}
}

/* A REMOVE held back: done and answered after remove_delay_ms. */
struct held {
	struct sconn *sc;
	uint32_t xid;
	uint8_t *args;
	size_t n;
	int delay_ms;
};

static void *held_main(void *arg)
{
	struct held *h = arg;
	uint8_t res[256], out[512];

	usleep((useconds_t)h->delay_ms * 1000);
	size_t rl = dir_res(NFS3_REMOVE, h->args, h->n, false, res,
			    sizeof(res));
	size_t bl = reply_body(out + 4, h->xid, false, res, rl);
	send_reply(h->sc, out, bl, M_OK);
	pthread_mutex_lock(&h->sc->lock);
	h->sc->held--;
	pthread_cond_broadcast(&h->sc->cv);
	pthread_mutex_unlock(&h->sc->lock);
	free(h->args);
	free(h);
	return NULL;
}

/* Holds call xid (a REMOVE, its arguments args, n bytes) back: true if
 * a thread now answers it later. */
static bool hold_back(struct sconn *sc, uint32_t xid, const uint8_t *args,
		      size_t n, int delay_ms)
{
	struct held *h = calloc(1, sizeof(*h));
	uint8_t *copy = malloc(n);
	pthread_t t;

	assert_non_null(h);
	assert_non_null(copy);
	memcpy(copy, args, n);
	*h = (struct held){ .sc = sc, .xid = xid, .args = copy, .n = n,
			    .delay_ms = delay_ms };
	pthread_mutex_lock(&sc->lock);
	sc->held++;
	pthread_mutex_unlock(&sc->lock);
	if (pthread_create(&t, NULL, held_main, h) == 0) {
		pthread_detach(t);
		return true;
	}
	pthread_mutex_lock(&sc->lock);
	sc->held--;
	pthread_mutex_unlock(&sc->lock);
	free(h->args);
	free(h);
	return false;
}

/* The answer to call xid (proc, its arguments args, n bytes), done now
 * (busy: NFS3ERR_JUKEBOX, nothing done) as mode m says: a record mark's
 * room, then the reply, in *outp (malloc'd); the reply's length. */
static size_t make_answer(uint32_t xid, uint32_t proc, const uint8_t *args,
			  size_t n, bool busy, int m, uint8_t **outp)
{
	bool io = proc == NFS3_READ || proc == NFS3_WRITE ||
		  proc == NFS3_COMMIT;
	bool dir = proc == NFS3_LOOKUP || proc == NFS3_REMOVE ||
		   proc == NFS3_RMDIR;
	size_t cap = 1024 + (io ? n : 0) + (proc == NFS3_READ ? 1u << 20 : 0);
	uint8_t *res = malloc(cap), *out = malloc(cap + 64);

	assert_non_null(res);
	assert_non_null(out);
	size_t rl = proc == NFS3_GETATTR ? getattr_res(res, cap, busy)
		    : proc == NFS3_SETATTR && n > 0 && !busy
			    ? setattr_res(args, n, res, cap)
		    : io && n > 0 ? io_res(proc, args, n, busy, res, cap)
		    : dir && n > 0 ? dir_res(proc, args, n, busy, res, cap)
		    : 0;
	size_t bl = reply_body(out + 4, m == M_BADXID ? xid ^ 0x10000u : xid,
			       m == M_DENY && proc == 1, res, rl);
	free(res);
	*outp = out;
	return bl;
}

/* A call held back until hold_go: done when it came (out: its answer)
 * or, out NULL, done then. */
struct gheld {
	struct sconn *sc;
	uint32_t xid, proc;
	uint8_t *args;
	size_t n;
	uint8_t *out;
	size_t bl;
};

static void *gheld_main(void *arg)
{
	struct gheld *h = arg;

	while (!atomic_load(&hold_go))
		usleep(2 * 1000);
	if (!h->out)
		h->bl = make_answer(h->xid, h->proc, h->args, h->n, false,
				    M_OK, &h->out);
	send_reply(h->sc, h->out, h->bl, M_OK);
	pthread_mutex_lock(&h->sc->lock);
	h->sc->held--;
	pthread_cond_broadcast(&h->sc->cv);
	pthread_mutex_unlock(&h->sc->lock);
	free(h->out);
	free(h->args);
	free(h);
	return NULL;
}

/* Holds call xid (proc, its arguments args, n bytes) back until hold_go
 * (done now unless hold_late): true if a thread now answers it then. */
static bool hold_until_go(struct sconn *sc, uint32_t xid, uint32_t proc,
			  const uint8_t *args, size_t n)
{
	struct gheld *h = calloc(1, sizeof(*h));
	pthread_t t;

	assert_non_null(h);
	*h = (struct gheld){ .sc = sc, .xid = xid, .proc = proc, .n = n,
			     .args = malloc(n ? n : 1) };
	assert_non_null(h->args);
	memcpy(h->args, args, n);
	if (!atomic_load(&hold_late))
		h->bl = make_answer(xid, proc, args, n, false, M_OK, &h->out);
	pthread_mutex_lock(&sc->lock);
	sc->held++;
	pthread_mutex_unlock(&sc->lock);
	if (pthread_create(&t, NULL, gheld_main, h) == 0) {
		pthread_detach(t);
		atomic_store(&held_now, true);
		return true;
	}
	pthread_mutex_lock(&sc->lock);
	sc->held--;
	pthread_mutex_unlock(&sc->lock);
	free(h->out);
	free(h->args);
	free(h);
	return false;
}

/* One connection: answers each call as the mode says, until it ends. */
static void serve(int fd)
{
	struct sconn conn = { .fd = fd }, *sc = &conn;

	pthread_mutex_init(&sc->lock, NULL);
	pthread_cond_init(&sc->cv, NULL);
	for (;;) {
		uint8_t mk[4], *body;
		uint32_t len;

		if (read_full(fd, mk, 4))
			break;
		/* M_DEAF: reads nothing more until the mode changes */
		while (atomic_load(&mode) == M_DEAF) {
			atomic_store(&deaf, true);
			usleep(10 * 1000);
		}
		len = get32(mk) & 0x7fffffffu;
		body = malloc(len);
		if (!body || read_full(fd, body, len)) {
			free(body);
			break;
		}
		uint32_t xid = get32(body), proc = get32(body + 20);
		int m = atomic_load(&mode);
		/* the arguments: after the credential and the verifier */
		size_t args = 32 + ((get32(body + 28) + 3) & ~3u);
		args += 8 + ((get32(body + args + 4) + 3) & ~3u);
		if ((proc == NFS3_GETATTR || proc == NFS3_REMOVE) &&
		    get32(body + 24) == 1) {
			/* AUTH_SYS: stamp, machine name, uid, gid, groups */
			const uint8_t *c = body + 32;
			uint32_t ml = (get32(c + 4) + 3) & ~3u;
			c += 8 + ml;
			atomic_store(&seen_uid, get32(c));
			atomic_store(&seen_gid, get32(c + 4));
			atomic_store(&seen_ngroups, get32(c + 8));
		}
		if (m == M_SILENT) {
			free(body);
			continue;       /* nothing, not even to the probe */
		}
		if (atomic_load(&refusing)) {
			free(body);
			break;          /* hung up on, unanswered */
		}
		if (proc < 32)
			atomic_fetch_add(&seen[proc], 1);
		bool busy = busy_now(m, proc);
		int delay = atomic_load(&remove_delay_ms);
		size_t n = len > args ? len - args : 0;
		if (proc == NFS3_REMOVE && !busy && delay > 0 && n > 0 &&
		    hold_back(sc, xid, body + args, n, delay)) {
			free(body);
			continue;
		}
		uint32_t hp = proc;
		if (!busy && n > 0 && hp != 0 &&
		    atomic_compare_exchange_strong(&hold_proc, &hp, 0) &&
		    hold_until_go(sc, xid, proc, body + args, n)) {
			free(body);
			continue;
		}
		uint8_t *out;
		size_t bl = make_answer(xid, proc, body + args, n, busy, m,
					&out);
		free(body);
		send_reply(sc, out, bl, m);
		free(out);
	}
	atomic_fetch_add(&conns_ended, 1);
	/* the replies held back go first (or fail on the ended link) */
	pthread_mutex_lock(&sc->lock);
	while (sc->held > 0)
		pthread_cond_wait(&sc->cv, &sc->lock);
	pthread_mutex_unlock(&sc->lock);
	close(fd);
	pthread_cond_destroy(&sc->cv);
	pthread_mutex_destroy(&sc->lock);
}

static void *conn_main(void *arg)
{
	serve((int)(intptr_t)arg);
	return NULL;
}

/* A listener on loopback, port (0: any): its descriptor, or -1. */
static int listener(int at)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)at) };
	socklen_t al = sizeof(a);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4) ||
	    getsockname(fd, (struct sockaddr *)&a, &al)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	port = ntohs(a.sin_port);
	return fd;
}

/* Each connection in a thread of its own (a reconnect may come while an
 * older connection is still being served).  While refusing, no listener
 * (then the same port again). */
static void *server_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		bool refuse = atomic_load(&refusing);
		if (refuse != (lfd < 0)) {
			if (refuse) {
				close(lfd);
				lfd = -1;
			} else {
				lfd = listener(port);
			}
			atomic_store(&listening, lfd >= 0);
		}
		if (lfd < 0) {
			usleep(10 * 1000);
			continue;
		}
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		pthread_t t;
		if (poll(&p, 1, 100) <= 0)
			continue;
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		if (pthread_create(&t, NULL, conn_main, (void *)(intptr_t)fd))
			close(fd);
		else
			pthread_detach(t);
	}
	return NULL;
}

static int setup(void **state)
{
	(void)state;
	lfd = listener(0);
	if (lfd < 0)
		return -1;
	atomic_store(&listening, true);
	return pthread_create(&srv, NULL, server_main, NULL);
}

static int teardown(void **state)
{
	(void)state;
	atomic_store(&stop, true);
	pthread_join(srv, NULL);
	if (lfd >= 0)
		close(lfd);
	return 0;
}

static struct nconn *connect_to(int timeout_ms)
{
	struct nc_opts o = { .timeout_ms = timeout_ms, .restarts = -1,
			     .window_ms = 60000, .source = "test" };
	struct nconn *nc = NULL;

	assert_int_equal(nconn_new("127.0.0.1", port, &o, &nc), 0);
	return nc;
}

/* One GETATTR as cred: its err; *res decoded on success. */
static int getattr(struct nconn *nc, const struct uvfs_cred *cred,
		   GETATTR3res *res, int timeout_ms)
{
	char fh[8] = "handle!";
	GETATTR3args a = { .object = { .data = { 8, fh } } };
	struct nrpc c = {
		.prog = 100003, .vers = 3, .proc = 1,
		.args_fn = (zdrproc_t)zdr_GETATTR3args, .args = &a,
		.args_max = 256,
		.res_fn = (zdrproc_t)zdr_GETATTR3res, .res = res,
		.idem = true,
	};
	struct nrpc *cp = &c;
	struct timespec dl;

	memset(res, 0, sizeof(*res));
	deadline_in(&dl, timeout_ms);
	assert_int_equal(nc_call_many(nc, cred, &cp, 1, 0, &dl), 0);
	int err = c.err;
	if (err == 0) {
		assert_int_equal(res->status, NFS3_OK);
		assert_int_equal(res->GETATTR3res_u.resok.obj_attributes.fileid,
				 4242);
		assert_int_equal(res->GETATTR3res_u.resok.obj_attributes.size,
				 1234);
	}
	nrpc_done(&c);
	return err;
}

static void fragments_and_credentials(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct uvfs_cred cr = { .uid = 1000, .gid = 100, .ngroups = 20 };
	GETATTR3res res;

	(void)state;
	for (unsigned i = 0; i < 20; i++)
		cr.groups[i] = 200 + i;
	atomic_store(&mode, M_OK);
	assert_int_equal(getattr(nc, NULL, &res, 5000), 0);
	assert_int_equal(atomic_load(&seen_uid), 0);    /* none: root */
	assert_int_equal(atomic_load(&seen_ngroups), 0);
	atomic_store(&mode, M_FRAG);
	assert_int_equal(getattr(nc, &cr, &res, 5000), 0);
	assert_int_equal(atomic_load(&seen_uid), 1000);
	assert_int_equal(atomic_load(&seen_gid), 100);
	assert_int_equal(atomic_load(&seen_ngroups), 16);   /* AUTH_SYS's */
	nconn_free(nc);
}

static void refusals(void **state)
{
	struct nconn *nc = connect_to(5000);
	GETATTR3res res;

	(void)state;
	atomic_store(&mode, M_DENY);
	assert_int_equal(getattr(nc, NULL, &res, 5000), -EACCES);
	atomic_store(&mode, M_BADXID);
	assert_int_equal(getattr(nc, NULL, &res, 5000), -EIO);
	atomic_store(&mode, M_OK);
	assert_int_equal(getattr(nc, NULL, &res, 5000), 0);
	nconn_free(nc);
}

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static void silent_server_is_fenced(void **state)
{
	struct nconn *nc = connect_to(1000);
	struct nc_stats st;
	GETATTR3res res;

	(void)state;
	atomic_store(&mode, M_SILENT);
	int ended = atomic_load(&conns_ended);
	uint64_t t0 = now_ms();
	int r = getattr(nc, NULL, &res, 1000);
	uint64_t took = now_ms() - t0;
	printf("a call to a silent server: %d after %llu ms\n", r,
	       (unsigned long long)took);
	assert_int_equal(r, -ETIMEDOUT);
	assert_true(took >= 900 && took < 1000 + 2000);
	/* the connection it went out on ended (cut by us) */
	for (int i = 0; i < 100 && atomic_load(&conns_ended) == ended; i++)
		usleep(20 * 1000);
	assert_true(atomic_load(&conns_ended) > ended);
	nc_stats(nc, &st);
	assert_true(st.unreachable >= 1 || st.timeouts >= 1);
	/* the server answers again: the session reconnects and goes on
	 * (a soft call may be refused at once while it is unreachable) */
	atomic_store(&mode, M_OK);
	r = -1;
	for (int i = 0; i < 100 && r != 0; i++) {
		r = getattr(nc, NULL, &res, 1000);
		if (r)
			usleep(50 * 1000);
	}
	assert_int_equal(r, 0);
	nc_stats(nc, &st);
	assert_true(st.reconnects >= 1);
	nconn_free(nc);
}

static void jukebox_asked_again(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct fh3 fh = { .len = 8, .data = "handle!" };
	struct stat st;

	(void)state;
	atomic_store(&mode, M_JUKEBOX);
	atomic_store(&jukebox_proc, NFS3_GETATTR);
	/* three times "not now", then the answer: after 10 + 20 + 40 ms */
	atomic_store(&jukebox_left, 3);
	atomic_store(&seen[NFS3_GETATTR], 0);
	struct n3 c = { .nc = nc };
	deadline_in(&c.dl, 5000);
	uint64_t t0 = now_ms();
	assert_int_equal(n3_getattr(&c, &fh, &st), 0);
	uint64_t took = now_ms() - t0;
	printf("three JUKEBOX answers, then the attributes: %llu ms, %d "
	       "GETATTRs\n", (unsigned long long)took,
	       atomic_load(&seen[NFS3_GETATTR]));
	assert_int_equal(st.st_size, 1234);
	assert_int_equal(atomic_load(&seen[NFS3_GETATTR]), 4);
	assert_true(took >= 70);
	/* always "not now": the call ends at its deadline, -ETIMEDOUT */
	atomic_store(&jukebox_left, -1);
	deadline_in(&c.dl, 600);
	t0 = now_ms();
	assert_int_equal(n3_getattr(&c, &fh, &st), -ETIMEDOUT);
	took = now_ms() - t0;
	printf("JUKEBOX until the deadline (600 ms): -ETIMEDOUT after %llu "
	       "ms\n", (unsigned long long)took);
	assert_true(took >= 550 && took < 600 + 1000);
	atomic_store(&mode, M_OK);
	nconn_free(nc);
}

struct getattr_arg {
	struct n3 c;
	int r;
};

static void *getattr_main(void *arg)
{
	struct getattr_arg *g = arg;
	struct fh3 fh = { .len = 8, .data = "handle!" };
	struct stat st;

	g->r = n3_getattr(&g->c, &fh, &st);
	return NULL;
}

/* A call pausing between JUKEBOX answers when the connection is killed
 * (a forced unmount): -EIO at once, not at the end of its pause or its
 * deadline. */
static void jukebox_cancelled(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct getattr_arg g = { .c = { .nc = nc } };
	pthread_t t;

	(void)state;
	atomic_store(&mode, M_JUKEBOX);
	atomic_store(&jukebox_proc, NFS3_GETATTR);
	atomic_store(&jukebox_left, -1);
	atomic_store(&seen[NFS3_GETATTR], 0);
	deadline_in(&g.c.dl, 5000);
	assert_int_equal(pthread_create(&t, NULL, getattr_main, &g), 0);
	/* past the short pauses: in one of 640 ms or 1 s by now */
	while (atomic_load(&seen[NFS3_GETATTR]) < 8)
		usleep(10 * 1000);
	usleep(100 * 1000);
	uint64_t t0 = now_ms();
	nconn_cancel(nc);
	pthread_join(t, NULL);
	uint64_t took = now_ms() - t0;
	printf("killed during a JUKEBOX pause: %d after %llu ms\n", g.r,
	       (unsigned long long)took);
	assert_int_equal(g.r, -EIO);
	assert_true(took < 300);
	atomic_store(&mode, M_OK);
	nconn_free(nc);
}

static bool file_bytes_ok(const uint8_t *b, size_t n, uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != file_byte(off + i))
			return false;
	return true;
}

/* A read of the whole file and past it in 64 KiB READs, 8 in flight at
 * once (17 of them: 8, 8, 1), the first five to arrive answered JUKEBOX:
 * the file's bytes, short only at its end; JUKEBOX for ever: -ETIMEDOUT
 * at the deadline. */
static void jukebox_read_many(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct fh3 fh = { .len = 8, .data = "handle!" };
	size_t want = FILE_SIZE + 1000;         /* past the end: short */
	uint8_t *buf = malloc(want);
	struct n3attr a = { 0 };

	(void)state;
	assert_non_null(buf);
	atomic_store(&mode, M_JUKEBOX);
	atomic_store(&jukebox_proc, NFS3_READ);
	atomic_store(&jukebox_left, 5);
	atomic_store(&seen[NFS3_READ], 0);
	struct n3 c = { .nc = nc };
	deadline_in(&c.dl, 5000);
	uint64_t t0 = now_ms();
	ssize_t r = n3_read_many(&c, &fh, buf, want, 0, 64u << 10, 8, &a);
	uint64_t took = now_ms() - t0;
	printf("a read of 17 READs, 8 at once, 5 answered JUKEBOX first: "
	       "%zd bytes in %llu ms, %d READs\n", r,
	       (unsigned long long)took, atomic_load(&seen[NFS3_READ]));
	assert_int_equal(r, FILE_SIZE);
	assert_true(file_bytes_ok(buf, FILE_SIZE, 0));
	assert_int_equal(atomic_load(&seen[NFS3_READ]), 17 + 5);
	assert_true(took >= 10);
	/* always "not now": the read ends at its deadline */
	atomic_store(&jukebox_left, -1);
	deadline_in(&c.dl, 600);
	t0 = now_ms();
	r = n3_read_many(&c, &fh, buf, want, 0, 64u << 10, 8, &a);
	took = now_ms() - t0;
	printf("READs answered JUKEBOX until the deadline (600 ms): %zd "
	       "after %llu ms\n", r, (unsigned long long)took);
	assert_int_equal(r, -ETIMEDOUT);
	assert_true(took >= 550 && took < 600 + 1000);
	atomic_store(&mode, M_OK);
	free(buf);
	nconn_free(nc);
}

/* The driver's objects a write behind or a read-ahead window needs,
 * on the connection nc (64 KiB READs and WRITEs), for one file of
 * FILE_SIZE bytes. */
static struct nsb *sb_new(struct nconn *nc)
{
	struct nsb *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	pthread_mutex_init(&s->lock, NULL);
	nn_silly_init(s);
	s->nc = nc;
	s->timeout_ms = 5000;
	s->rtmax = s->wtmax = 64u << 10;
	return s;
}

/* The unmount's part (nn_silly_fini: pending REMOVEs get the mount's
 * timeout), then the objects. */
static void sb_free(struct nsb *s)
{
	nn_silly_fini(s);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static struct node *node_new(void)
{
	struct node *n = calloc(1, sizeof(*n));

	assert_non_null(n);
	nw_init(n);
	n->ino = 4242;
	n->type = S_IFREG;
	n->fh = (struct fh3){ .len = 8, .data = "handle!" };
	n->st_valid = true;
	n->st.st_ino = 4242;
	n->st.st_size = FILE_SIZE;
	return n;
}

static void sb_node_free(struct nsb *s, struct node *n)
{
	nw_fini(n);
	pthread_mutex_destroy(&n->wb_lock);
	free(n);
	sb_free(s);
}

static struct n3 ctx(struct nconn *nc, int ms)
{
	struct n3 c = { .nc = nc };

	deadline_in(&c.dl, ms);
	return c;
}

/* The end of a test of writes behind on n: nothing is left in flight or
 * kept; the server back to M_OK, everything freed. */
static void nothing_kept_free(struct nconn *nc, struct nsb *s,
			      struct node *n, uint8_t *data)
{
	assert_null(n->wb_head);
	assert_int_equal(n->wb_out, 0);
	atomic_store(&mode, M_OK);
	free(data);
	sb_node_free(s, n);
	nconn_free(nc);
}

/* 1 MiB written behind in 256 KiB writes (16 WRITEs), the first three
 * to arrive answered JUKEBOX: sent again, the fsync returns 0 and the
 * server's disk holds the bytes.  JUKEBOX for ever: the write returns
 * (it only sent), the fsync reports -ETIMEDOUT at its deadline, once,
 * and nothing was written. */
static void jukebox_write_behind(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct nsb *s = sb_new(nc);
	struct node *n = node_new();
	size_t len = 1u << 20, step = 256u << 10;
	uint8_t *data = malloc(len);

	(void)state;
	assert_non_null(data);
	for (size_t i = 0; i < len; i++)
		data[i] = (uint8_t)(i * 13 + i / 257);
	pthread_mutex_lock(&disk_lock);
	memset(disk, 0, sizeof(disk));
	pthread_mutex_unlock(&disk_lock);
	atomic_store(&mode, M_JUKEBOX);
	atomic_store(&jukebox_proc, NFS3_WRITE);
	atomic_store(&jukebox_left, 3);
	atomic_store(&seen[NFS3_WRITE], 0);
	atomic_store(&seen[NFS3_COMMIT], 0);
	uint64_t t0 = now_ms();
	for (size_t off = 0; off < len; off += step) {
		struct n3 c = ctx(nc, 5000);
		assert_int_equal(nw_write(s, &c, n, data + off, step, off),
				 (ssize_t)step);
	}
	struct n3 fc = ctx(nc, 5000);
	int r = nw_commit(s, &fc, n, true);
	uint64_t took = now_ms() - t0;
	printf("1 MiB written behind, 3 WRITEs answered JUKEBOX first: fsync "
	       "%d after %llu ms, %d WRITEs, %d COMMITs\n", r,
	       (unsigned long long)took, atomic_load(&seen[NFS3_WRITE]),
	       atomic_load(&seen[NFS3_COMMIT]));
	assert_int_equal(r, 0);
	assert_int_equal(atomic_load(&seen[NFS3_WRITE]), 16 + 3);
	assert_int_equal(atomic_load(&seen[NFS3_COMMIT]), 1);
	pthread_mutex_lock(&disk_lock);
	assert_memory_equal(disk, data, len);
	pthread_mutex_unlock(&disk_lock);
	assert_null(n->wb_head);                /* committed: nothing kept */
	/* always "not now": the fsync ends at its deadline, -ETIMEDOUT;
	 * the WRITEs were never applied */
	atomic_store(&jukebox_left, -1);
	struct n3 wc = ctx(nc, 600);
	assert_int_equal(nw_write(s, &wc, n, data, step, 2u << 20),
			 (ssize_t)step);
	fc = ctx(nc, 600);
	t0 = now_ms();
	r = nw_commit(s, &fc, n, true);
	took = now_ms() - t0;
	printf("a write behind answered JUKEBOX until the deadline (600 ms): "
	       "fsync %d after %llu ms\n", r, (unsigned long long)took);
	assert_int_equal(r, -ETIMEDOUT);
	assert_true(took >= 500 && took < 600 + 1000);
	pthread_mutex_lock(&disk_lock);
	for (size_t i = 0; i < step; i++)
		assert_int_equal(disk[(2u << 20) + i], 0);
	pthread_mutex_unlock(&disk_lock);
	/* reported once (the close after it has nothing to say), and nothing
	 * is left in flight or kept */
	fc = ctx(nc, 600);
	assert_int_equal(nw_commit(s, &fc, n, true), 0);
	nothing_kept_free(nc, s, n, data);
}

/* The second read of a sequential run starts a read-ahead window; its
 * pieces answered JUKEBOX drop it (a hint: not asked again), and the read
 * reads for itself (n3_read_many, as the driver's read does), asked
 * again: the file's bytes. */
static void jukebox_read_ahead_dropped(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct nsb *s = sb_new(nc);
	struct node *n = node_new();
	struct handle h = { .n = n, .next_off = 64u << 10 };
	size_t want = 64u << 10;
	uint8_t *buf = malloc(want);
	struct n3attr a = { 0 };

	(void)state;
	assert_non_null(buf);
	pthread_mutex_init(&h.ra_lock, NULL);
	atomic_store(&mode, M_JUKEBOX);
	atomic_store(&jukebox_proc, NFS3_READ);
	atomic_store(&jukebox_left, 20);        /* the window's 16 and 4 */
	struct n3 c = ctx(nc, 5000);
	pthread_mutex_lock(&h.ra_lock);
	ssize_t r = nr_read(s, &c, n, &h, buf, want, want);
	unsigned left_n = h.ra_n;
	pthread_mutex_unlock(&h.ra_lock);
	assert_int_equal(r, -EAGAIN);           /* the caller reads itself */
	assert_int_equal(left_n, 0);
	assert_int_equal(atomic_load(&s->ra_bytes), 0);
	uint64_t t0 = now_ms();
	r = n3_read_many(&c, &n->fh, buf, want, want, s->rtmax, 8, &a);
	uint64_t took = now_ms() - t0;
	printf("a read-ahead window answered JUKEBOX: dropped; the read for "
	       "itself: %zd bytes after %llu ms\n", r,
	       (unsigned long long)took);
	assert_int_equal(r, (ssize_t)want);
	assert_true(file_bytes_ok(buf, want, want));
	atomic_store(&mode, M_OK);
	pthread_mutex_destroy(&h.ra_lock);
	free(buf);
	sb_node_free(s, n);
	nconn_free(nc);
}

static void *cancel_main(void *arg)
{
	/* once the server has stopped reading, and the link is full */
	while (!atomic_load(&deaf))
		usleep(10 * 1000);
	usleep(200 * 1000);
	nconn_cancel(arg);
	return NULL;
}

/* One write behind of a WRITE larger than the link takes (32 MiB; the
 * server reads nothing of it), the connection killed while it goes out
 * (a forced unmount): the write fails with -EIO at once, and nothing of
 * it is kept.  Before, it was accepted behind: the session took a call
 * the kill ended while its bytes went out for one sent. */
static void killed_while_sending(void **state)
{
	struct nconn *nc = connect_to(5000);
	struct nsb *s = sb_new(nc);
	struct node *n = node_new();
	size_t len = 32u << 20;
	uint8_t *data = calloc(1, len);
	pthread_t t;

	(void)state;
	assert_non_null(data);
	s->wtmax = (uint32_t)len;       /* one WRITE */
	atomic_store(&deaf, false);
	atomic_store(&mode, M_DEAF);
	assert_int_equal(pthread_create(&t, NULL, cancel_main, nc), 0);
	struct n3 c = ctx(nc, 5000);
	uint64_t t0 = now_ms();
	ssize_t r = nw_write(s, &c, n, data, len, 0);
	uint64_t took = now_ms() - t0;
	pthread_join(t, NULL);
	printf("a 32 MiB write behind, killed while it went out: %zd after "
	       "%llu ms\n", r, (unsigned long long)took);
	assert_int_equal(r, -EIO);
	assert_true(took < 2000);
	nothing_kept_free(nc, s, n, data);
}

#include "test_nfs_rpc_silly.c"  /* the REMOVE at the last close */
#include "test_nfs_rpc_attr.c"   /* attributes out of order */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fragments_and_credentials),
		cmocka_unit_test(refusals),
		cmocka_unit_test(silent_server_is_fenced),
		cmocka_unit_test(jukebox_asked_again),
		cmocka_unit_test(jukebox_cancelled),
		cmocka_unit_test(jukebox_read_many),
		cmocka_unit_test(jukebox_write_behind),
		cmocka_unit_test(jukebox_read_ahead_dropped),
		cmocka_unit_test(killed_while_sending),
		cmocka_unit_test(silly_remove_jukebox),
		cmocka_unit_test(rmdir_waits_for_silly_remove),
		cmocka_unit_test(rmdir_waits_for_last_close),
		cmocka_unit_test(silly_remove_forced_unmount),
		cmocka_unit_test(silly_remove_close_never_waits),
		cmocka_unit_test(silly_remove_unmount),
		cmocka_unit_test(silly_open_undo_removes),
		cmocka_unit_test(attrs_read_before_truncate),
		cmocka_unit_test(attrs_getattr_before_write),
		cmocka_unit_test(attrs_newer_ctime_applied),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
