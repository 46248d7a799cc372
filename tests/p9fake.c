/*
 * p9fake.c - the fake 9P2000.L server the 9P client tests mount
 * (test_9pclient.c, test_9psession.c).
 *
 * A fake 9P2000.L server runs in a thread on one end of a socketpair (built
 * from the codec); the driver mounts the other end ("fd:N,N").  The file a
 * test stats picks the server's misbehaviour for the Tgetattr:
 *
 *   f        a normal file (size 200)
 *   bad      a malformed Rgetattr (truncated body)      -> -EIO, VFS stays up
 *   wrong    an Rstatfs in answer to Tgetattr (mistyped) -> -EIO
 *   unsol    an unsolicited reply (unknown tag) first    -> ignored, success
 *   late     no reply until Tflush; then the late reply and Rflush
 *            (the reply came first: the call happened)   -> success
 *   fl       no reply; Rflush on Tflush                  -> -ETIMEDOUT, and
 *            only once the Rflush came (fencing)
 *   rw       Tread at offset 0 gives a full count, at any other offset
 *            Rlerror EIO (a multi-piece read whose second piece fails)
 *   slow     every Tread answered in full after 300 ms
 *   o1, o2   out of order: o1's reply is held until o2's is sent
 *   big      a frame larger than msize                   -> connection dead
 *   hang     the server stops answering anything         -> forced unmount
 *   bye      the server hangs up                         -> connection dead
 *   lostc    a Tlcreate of it creates it, and the server hangs up
 *            without answering (the reply lost); a walk finds it after
 *   dir      a directory of three entries (".", "..", "f"); a Treaddir
 *            past them is held until the next message arrives, and a
 *            Tclunk of its fid meanwhile counted (clunk_busy)
 *   pub      a directory anyone may write (mode 0777)
 *   nN       (N decimal) a file of its own, path NPATH_BASE + N: as many
 *            distinct files as a test looks up
 *   new*     Tlcreate makes it (a path of its own from NEW_PATH_BASE,
 *            counted in creates; a second Tlcreate of the name is
 *            EEXIST, counted in create_eexist), a walk finds it after;
 *            with hold_cattr the first Tgetattr of such a file is held
 *            (cattr_held) until cattr_release and the next message;
 *            "newlate*": made, its Rlcreate held until the Tflush, then
 *            sent before the Rflush (it happened); "newfl*": not made,
 *            no reply, Rflush on Tflush (it did not happen);
 *            "newbadf": Rlerror EBADF (the fid unknown), not made;
 *            Tremove of one removes it (new_removes; with hold_remove
 *            it is held until its Tflush and only flushed), a Tsetattr
 *            of its owner answers EPERM while chown_fail is set;
 *            Tmkdir, Tsymlink and Tmknod make "new*" names too (their
 *            type kept for Tgetattr; mkdirs, symlinks, mknods count them)
 *
 * A Tlock answers BLOCKED while lock_busy is set, SUCCESS else; a Tclunk
 * is left unanswered while hold_clunks is set.  Twrites are counted
 * (twrites); while hold_writes is set they are left unanswered.
 *
 * Extended attributes (Txattrwalk, Txattrcreate) are answered by name:
 * any value reads as "hello, 9p" except user.short (announces 20 bytes,
 * gives 9), user.huge (announces 1 MiB); a commit (Tclunk of the fid a
 * Txattrcreate named) of user.fail answers Rlerror EDQUOT, one of
 * user.flushed is held until its Tflush and then only flushed (the fid
 * stays, uncommitted: a later Tclunk of it commits).
 *
 * With a real server (UVFS_HOSTFS: type "hostfs", spawned; UVFS_9P_SOURCE:
 * diod, from tests/conformance-diod.sh) the xattr tests check values end
 * to end, against the host file too.
 *
 * Every case checks that the VFS returns an error and keeps working (or,
 * when the connection is lost, fails fast with -EIO and unmounts).
 *
 * The same fake server also listens on a Unix socket, serving one
 * connection after another, for a "9p" mount that reconnects
 * (docs/recovery.md): there "bye" hangs up once (the mount reconnects, the
 * lost Tgetattr is replayed, the open file is reopened), and "big" (a
 * protocol violation) makes the mount dead without a reconnect.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/sockios.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <uvfs/9p.h>
#include <uvfs/uvfs.h>

#include "p9.h"
#include "p9fake.h"
#include "proc_wait.h"
#include "transport.h"

uint64_t fid_path[4096];

/* ---- the fake server ---------------------------------------------------- */



atomic_bool bye_done;
atomic_bool lostc_made;

static const struct { const char *name; uint64_t path; } names[] = {
	{ "f", 2 }, { "bad", 3 }, { "wrong", 4 }, { "unsol", 5 },
	{ "late", 6 }, { "o1", 7 }, { "o2", 8 }, { "big", 9 }, { "hang", 10 },
	{ "lw", 11 }, { "ezero", 12 }, { "ehuge", 13 }, { "bye", 14 },
	{ "fl", 15 }, { "rw", 16 }, { "slow", 17 }, { "wf", 18 },
	{ "dir", 19 }, { "lostc", 20 }, { "pub", 21 }, { "odd", 22 },
	{ "notype", 23 }, { "badtype", 24 }, { "hugesize", 25 },
};

#define DIR_PATH        19
#define PUB_PATH        21
#define ODD_PATH        22      /* a directory listing names no file can
				   have: "", "a/b" (and "f") */
#define NOTYPE_PATH     23      /* Rgetattr: mode without a file type */
#define BADTYPE_PATH    24      /* ... with a type Linux does not have */
#define HUGESIZE_PATH   25      /* ... size 2^64 - 1 */
#define NEW_PATH_BASE   30000   /* "new*" files, in the order made */
#define NEW_MAX         64
#define NPATH_BASE      100000  /* "nN" */

/* The "new*" files made (the server thread's, cleared by fx_mount). */
static char new_names[NEW_MAX][32];
static mode_t new_types[NEW_MAX];       /* S_IFREG, S_IFDIR, ... */
static unsigned nnew;

void fake_reset(void)
{
	nnew = 0;
}

static bool is_new(uint64_t path)
{
	return path >= NEW_PATH_BASE && path < NEW_PATH_BASE + NEW_MAX;
}

static bool is_dir(uint64_t path)
{
	return path == 1 || path == DIR_PATH || path == PUB_PATH ||
	       path == ODD_PATH ||
	       (is_new(path) && new_types[path - NEW_PATH_BASE] == S_IFDIR);
}

/* The path a name walks to, 0 if none (".." aside). */
static uint64_t name_path(struct p9_str n)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (p9_str_eq(n, names[i].name))
			return names[i].path;
	for (unsigned i = 0; i < nnew; i++)
		if (p9_str_eq(n, new_names[i]))
			return NEW_PATH_BASE + i;
	if (n.len >= 2 && n.len < 10 && n.s[0] == 'n') {
		uint64_t v = 0;
		for (size_t i = 1; i < n.len; i++) {
			if (n.s[i] < '0' || n.s[i] > '9')
				return 0;
			v = v * 10 + (uint64_t)(n.s[i] - '0');
		}
		return NPATH_BASE + v;
	}
	return 0;
}

static void send_msg(struct fake *fs, struct p9_msg *m)
{
	uint8_t buf[MSIZE];
	ssize_t n = p9_pack(buf, sizeof(buf), m);

	assert_true(n > 0);
	if (write(fs->fd, buf, (size_t)n) != n)
		return; /* the client went away */
}

static void rlerror(struct fake *fs, uint16_t tag, uint32_t e)
{
	struct p9_msg r = { .type = P9_RLERROR, .tag = tag };

	r.rlerror.ecode = e;
	send_msg(fs, &r);
}

static void rgetattr(struct fake *fs, uint16_t tag, uint64_t path)
{
	struct p9_msg r = { .type = P9_RGETATTR, .tag = tag };

	r.rgetattr.valid = P9_GETATTR_BASIC;
	r.rgetattr.qid.path = path;
	r.rgetattr.qid.type = is_dir(path) ? P9_QTDIR : P9_QTFILE;
	r.rgetattr.mode = path == PUB_PATH ? S_IFDIR | 0777 :
			  is_dir(path) ? S_IFDIR | 0755 : S_IFREG | 0644;
	if (is_new(path) && new_types[path - NEW_PATH_BASE] != S_IFDIR)
		r.rgetattr.mode = new_types[path - NEW_PATH_BASE] | 0644;
	r.rgetattr.nlink = 1;
	r.rgetattr.size = path * 100;
	if (path == NOTYPE_PATH)
		r.rgetattr.mode = 0644;
	else if (path == BADTYPE_PATH)
		r.rgetattr.mode = S_IFMT | 0644;
	else if (path == HUGESIZE_PATH)
		r.rgetattr.size = UINT64_MAX;
	send_msg(fs, &r);
}

/* Tmkdir, Tsymlink, Tmknod of a "new*" name (in any directory): made,
 * of type, with *qid its qid; else an Rlerror was sent (false). */
static bool make_new(struct fake *fs, uint16_t tag, struct p9_str name,
		     mode_t type, struct p9_qid *qid)
{
	if (name.len <= 3 || name.len >= 32 || memcmp(name.s, "new", 3)) {
		rlerror(fs, tag, EOPNOTSUPP);
		return false;
	}
	if (name_path(name)) {
		rlerror(fs, tag, EEXIST);
		return false;
	}
	if (nnew == NEW_MAX) {
		rlerror(fs, tag, ENOSPC);
		return false;
	}
	memcpy(new_names[nnew], name.s, name.len);
	new_names[nnew][name.len] = '\0';
	new_types[nnew] = type;
	*qid = (struct p9_qid){ .path = NEW_PATH_BASE + nnew++,
				.type = type == S_IFDIR ? P9_QTDIR :
					type == S_IFLNK ? P9_QTSYMLINK : 0 };
	atomic_fetch_add(type == S_IFDIR ? &fs->mkdirs : type == S_IFLNK ?
			 &fs->symlinks : &fs->mknods, 1);
	return true;
}

static void handle(struct fake *fs, struct p9_msg *t)
{
	struct p9_msg r = { .tag = t->tag };

	if (atomic_load(&fs->hung))
		return;
	if (atomic_load(&fs->rd_held)) {
		/* the held Treaddir is answered (the end) before this */
		struct p9_msg e = { .type = P9_RREADDIR, .tag = fs->rd_tag };

		if (t->type == P9_TCLUNK && t->tclunk.fid == fs->rd_fid)
			atomic_fetch_add(&fs->clunk_busy, 1);
		atomic_store(&fs->rd_held, false);
		send_msg(fs, &e);
	}
	if (atomic_load(&fs->cattr_held) && atomic_load(&fs->cattr_release)) {
		/* the held Tgetattr of a new file, answered now */
		atomic_store(&fs->cattr_held, false);
		rgetattr(fs, fs->cattr_tag, fs->cattr_path);
	}
	switch (t->type) {
	case P9_TVERSION:
		r.type = P9_RVERSION;
		r.rversion.msize = t->tversion.msize < MSIZE ?
				   t->tversion.msize : MSIZE;
		r.rversion.version = P9_STR(P9_VERSION_L);
		break;
	case P9_TATTACH:
		r.type = P9_RATTACH;
		r.rattach.qid = (struct p9_qid){ .type = P9_QTDIR, .path = 1 };
		break;
	case P9_TWALK:
		if (t->twalk.nwname == 1 && p9_str_eq(t->twalk.wname[0], "lw")) {
			/* held until the Tflush, answered then anyway */
			fs->have_held = fs->held_walk = true;
			fs->held_tag = t->tag;
			fs->held_path = 11;
			return;
		}
		if (t->twalk.nwname == 1 &&
		    p9_str_eq(t->twalk.wname[0], "lostc") &&
		    !atomic_load(&lostc_made))
			return rlerror(fs, t->tag, ENOENT);
		r.type = P9_RWALK;
		if (t->twalk.nwname == 1) {
			uint64_t path = p9_str_eq(t->twalk.wname[0], "..") ?
					1 : name_path(t->twalk.wname[0]);
			if (!path)
				return rlerror(fs, t->tag, ENOENT);
			r.rwalk.nwqid = 1;
			r.rwalk.wqid[0] = (struct p9_qid){ .path = path };
			if (is_dir(path))
				r.rwalk.wqid[0].type = P9_QTDIR;
		} else if (t->twalk.nwname > 1) {
			return rlerror(fs, t->tag, ENOENT);
		}
		break;
	case P9_TGETATTR: {
		/* the fid number says nothing about the file: the test names
		 * one file per case and the driver walked it just before, so
		 * the server remembers the last walked path per fid */
		uint64_t path = t->tgetattr.fid < 4096 ?
				fid_path[t->tgetattr.fid] : 0;
		uint8_t raw[64];

		if (is_new(path) && atomic_exchange(&fs->hold_cattr, false)) {
			/* held until cattr_release and the next message */
			fs->cattr_tag = t->tag;
			fs->cattr_path = path;
			atomic_store(&fs->cattr_held, true);
			return;
		}
		switch (path) {
		case 3:         /* malformed: an Rgetattr of 20 bytes */
			memset(raw, 0, sizeof(raw));
			raw[0] = 20;
			raw[4] = P9_RGETATTR;
			raw[5] = (uint8_t)t->tag;
			raw[6] = (uint8_t)(t->tag >> 8);
			if (write(fs->fd, raw, 20) != 20)
				return;
			return;
		case 4:         /* mistyped */
			r.type = P9_RSTATFS;
			r.rstatfs.bsize = 4096;
			break;
		case 5:         /* unsolicited first */
			rgetattr(fs, 0xfff0, 5);
			rgetattr(fs, t->tag, 5);
			return;
		case 7:         /* o1: held until o2 (once: stat asks twice) */
			if (atomic_load(&fs->held))
				return rgetattr(fs, t->tag, path);
			/* fall through */
		case 6:         /* late: held until the Tflush */
			fs->have_held = true;
			fs->held_tag = t->tag;
			fs->held_path = path;
			atomic_fetch_add(&fs->held, 1);
			return;
		case 8:         /* o2, then the held o1 */
			rgetattr(fs, t->tag, 8);
			if (fs->have_held && fs->held_path == 7) {
				fs->have_held = false;
				rgetattr(fs, fs->held_tag, 7);
			}
			return;
		case 9:         /* a frame bigger than msize */
			memset(raw, 0, sizeof(raw));
			raw[0] = 0xff;
			raw[1] = 0xff;
			raw[2] = 0x10;  /* ~1 MiB */
			raw[4] = P9_RGETATTR;
			if (write(fs->fd, raw, sizeof(raw)) < 0)
				return;
			return;
		case 10:
			atomic_store(&fs->hung, 1);
			return;
		case 15:        /* fl: never answered; Rflush on Tflush */
			return;
		case 12:        /* Rlerror with no error */
			return rlerror(fs, t->tag, 0);
		case 13:        /* Rlerror with no such errno */
			return rlerror(fs, t->tag, 100000);
		case 14:        /* hang up */
			if (fs->bye_once && atomic_exchange(&bye_done, true))
				return rgetattr(fs, t->tag, path);
			shutdown(fs->fd, SHUT_RDWR);
			return;
		default:
			return rgetattr(fs, t->tag, path ? path : 1);
		}
		break;
	}
	case P9_TFLUSH:
		atomic_fetch_add(&fs->flushes, 1);
		if (fs->cl_held && fs->cl_tag == t->tflush.oldtag)
			fs->cl_held = false;    /* not run: the fid stays */
		if (fs->rm_held && fs->rm_tag == t->tflush.oldtag)
			fs->rm_held = false;    /* likewise */
		if (fs->ct_held && fs->ct_tag == t->tflush.oldtag) {
			/* a held Tlcreate: its reply first if it made the
			 * file (flush(5)), then the Rflush */
			fs->ct_held = false;
			if (fs->ct_made) {
				struct p9_msg c = { .type = P9_RLCREATE,
						    .tag = fs->ct_tag };
				c.rlcreate.qid.path = fs->ct_path;
				send_msg(fs, &c);
			}
		}
		if (fs->have_held && fs->held_tag == t->tflush.oldtag) {
			/* answer the flushed request after all, then Rflush:
			 * the client must honour it and reuse the tag only
			 * after the Rflush */
			fs->have_held = false;
			if (fs->held_walk) {
				struct p9_msg w = { .type = P9_RWALK,
						    .tag = fs->held_tag };
				w.rwalk.nwqid = 1;
				w.rwalk.wqid[0].path = 11;
				fs->held_walk = false;
				send_msg(fs, &w);
			} else {
				rgetattr(fs, fs->held_tag, fs->held_path);
			}
		}
		r.type = P9_RFLUSH;
		break;
	case P9_TLOPEN:
		r.type = P9_RLOPEN;
		/* the file's qid, as the walk gave it (a reopen after a
		 * reconnect compares them) */
		r.rlopen.qid.path = t->tlopen.fid < 4096 ?
				    fid_path[t->tlopen.fid] : 0;
		if (is_dir(r.rlopen.qid.path))
			r.rlopen.qid.type = P9_QTDIR;
		break;
	case P9_TLCREATE:
		if (t->tlcreate.name.len > 3 && t->tlcreate.name.len < 32 &&
		    memcmp(t->tlcreate.name.s, "new", 3) == 0) {
			atomic_fetch_add(&fs->tlcreates, 1);
			if (name_path(t->tlcreate.name)) {
				atomic_fetch_add(&fs->create_eexist, 1);
				return rlerror(fs, t->tag, EEXIST);
			}
			if (nnew == NEW_MAX)
				return rlerror(fs, t->tag, ENOSPC);
			if (p9_str_eq(t->tlcreate.name, "newbadf"))
				return rlerror(fs, t->tag, EBADF);
			bool fl = t->tlcreate.name.len >= 5 &&
				  memcmp(t->tlcreate.name.s, "newfl", 5) == 0;
			bool late = t->tlcreate.name.len >= 7 &&
				    memcmp(t->tlcreate.name.s, "newlate", 7) == 0;
			if (fl || late) {
				fs->ct_held = true;
				fs->ct_made = late;
				fs->ct_tag = t->tag;
				fs->ct_path = NEW_PATH_BASE + nnew;
			}
			if (fl)
				return;         /* not made, no reply */
			memcpy(new_names[nnew], t->tlcreate.name.s,
			       t->tlcreate.name.len);
			new_names[nnew][t->tlcreate.name.len] = '\0';
			new_types[nnew] = S_IFREG;
			atomic_store(&fs->ct_mode, t->tlcreate.mode);
			r.type = P9_RLCREATE;
			r.rlcreate.qid.path = NEW_PATH_BASE + nnew++;
			if (t->tlcreate.fid < 4096)
				fid_path[t->tlcreate.fid] =
					r.rlcreate.qid.path;
			atomic_fetch_add(&fs->creates, 1);
			if (late)
				return;         /* made; the reply held */
			break;
		}
		if (!p9_str_eq(t->tlcreate.name, "lostc"))
			return rlerror(fs, t->tag, EOPNOTSUPP);
		if (atomic_exchange(&lostc_made, true))
			return rlerror(fs, t->tag, EEXIST);
		shutdown(fs->fd, SHUT_RDWR);    /* made; the reply lost */
		return;
	case P9_TMKDIR:
		if (!make_new(fs, t->tag, t->tmkdir.name, S_IFDIR,
			      &r.rmkdir.qid))
			return;
		r.type = P9_RMKDIR;
		break;
	case P9_TSYMLINK:
		if (!make_new(fs, t->tag, t->tsymlink.name, S_IFLNK,
			      &r.rsymlink.qid))
			return;
		r.type = P9_RSYMLINK;
		break;
	case P9_TMKNOD:
		if (!make_new(fs, t->tag, t->tmknod.name,
			      t->tmknod.mode & S_IFMT, &r.rmknod.qid))
			return;
		r.type = P9_RMKNOD;
		break;
	case P9_TREADDIR: {
		static uint8_t ents[256];
		static const char *const en[] = { ".", "..", "f" };
		struct p9_dirent_buf b;

		if (t->treaddir.fid < 4096 &&
		    fid_path[t->treaddir.fid] == ODD_PATH) {
			static const struct p9_str odd[] = {
				{ "", 0 }, { "a/b", 3 }, { "f", 1 },
			};
			p9_dirent_buf_init(&b, ents, sizeof(ents));
			for (uint64_t i = t->treaddir.offset; i < 3; i++) {
				struct p9_dirent d = {
					.qid = { .path = 2 },
					.offset = i + 1,
					.type = DT_REG,
					.name = odd[i],
				};
				assert_int_equal(p9_dirent_put(&b, &d), 0);
			}
			r.type = P9_RREADDIR;
			r.rreaddir.data = ents;
			r.rreaddir.count = b.len;
			break;
		}
		if (t->treaddir.fid >= 4096 ||
		    fid_path[t->treaddir.fid] != DIR_PATH)
			return rlerror(fs, t->tag, ENOTDIR);
		if (t->treaddir.offset != 0) {
			fs->rd_tag = t->tag;
			fs->rd_fid = t->treaddir.fid;
			atomic_store(&fs->rd_held, true);
			return;
		}
		p9_dirent_buf_init(&b, ents, sizeof(ents));
		for (int i = 0; i < 3; i++) {
			struct p9_dirent d = {
				.qid = { .path = i < 2 ? DIR_PATH : 2,
					 .type = i < 2 ? P9_QTDIR : 0 },
				.offset = (uint64_t)i + 1,
				.type = i < 2 ? DT_DIR : DT_REG,
				.name = p9_str(en[i]),
			};
			assert_int_equal(p9_dirent_put(&b, &d), 0);
		}
		r.type = P9_RREADDIR;
		r.rreaddir.data = ents;
		r.rreaddir.count = b.len;
		break;
	}
	case P9_TREAD: {
		static const char data[] = "hello, 9p";
		static char big[MSIZE];
		uint64_t off = t->tread.offset;
		atomic_fetch_add(&fs->treads, 1);
		if (t->tread.fid < 4096 && fid_path[t->tread.fid] == 17)
			usleep(300 * 1000);     /* slow: each piece */
		if (t->tread.fid < 4096 && fid_path[t->tread.fid] >= 16) {
			if (off != 0 && fid_path[t->tread.fid] == 16)
				/* rw: the second piece fails */
				return rlerror(fs, t->tag, EIO);
			memset(big, 'x', sizeof(big));
			r.type = P9_RREAD;
			r.rread.data = big;
			r.rread.count = t->tread.count; /* <= msize - 24 */
			break;
		}
		r.type = P9_RREAD;
		if (off < sizeof(data) - 1) {
			r.rread.data = data + off;
			r.rread.count = (uint32_t)(sizeof(data) - 1 - off);
			if (r.rread.count > t->tread.count)
				r.rread.count = t->tread.count;
		}
		break;
	}
	case P9_TLOCK:
		atomic_fetch_add(&fs->tlocks, 1);
		r.type = P9_RLOCK;
		r.rlock.status = atomic_load(&fs->lock_busy) ?
				 P9_LOCK_BLOCKED : P9_LOCK_SUCCESS;
		break;
	case P9_TCLUNK:
		if (atomic_load(&fs->hold_clunks)) {
			atomic_fetch_add(&fs->held_clunks, 1);
			return;         /* never answered */
		}
		if (fs->rm_fid && t->tclunk.fid == fs->rm_fid) {
			fs->rm_fid = 0;
			atomic_fetch_add(&fs->rm_clunks, 1);
		}
		if (t->tclunk.fid < 4096 && fid_path[t->tclunk.fid] == 11)
			atomic_fetch_add(&fs->lw_clunks, 1);
		if (t->tclunk.fid < 4096 &&
		    fid_path[t->tclunk.fid] == DIR_PATH)
			atomic_fetch_add(&fs->dir_clunks, 1);
		if (fs->xw_fid == t->tclunk.fid && fs->xw_hold) {
			fs->xw_hold = false;    /* held: see P9_TFLUSH */
			fs->cl_held = true;
			fs->cl_tag = t->tag;
			return;
		}
		if (fs->xw_fid == t->tclunk.fid) {
			fs->xw_fid = P9_NOFID;
			if (fs->xw_fail || fs->xw_got != fs->xw_size)
				return rlerror(fs, t->tag, fs->xw_fail
						   ? EDQUOT : EINVAL);
			atomic_fetch_add(&fs->commits, 1);
		}
		r.type = P9_RCLUNK;
		break;
	case P9_TXATTRWALK:
		atomic_fetch_add(&fs->xattr_msgs, 1);
		r.type = P9_RXATTRWALK;
		r.rxattrwalk.size = p9_str_eq(t->txattrwalk.name, "user.short")
				    ? 20 : p9_str_eq(t->txattrwalk.name,
						     "user.huge") ? 1u << 20 : 9;
		break;
	case P9_TXATTRCREATE:
		atomic_fetch_add(&fs->xattr_msgs, 1);
		fs->xw_fid = t->txattrcreate.fid;
		fs->xw_fail = p9_str_eq(t->txattrcreate.name, "user.fail");
		fs->xw_hold = p9_str_eq(t->txattrcreate.name, "user.flushed");
		fs->xw_size = t->txattrcreate.attr_size;
		fs->xw_got = 0;
		r.type = P9_RXATTRCREATE;
		break;
	case P9_TWRITE:
		atomic_fetch_add(&fs->twrites, 1);
		if (atomic_load(&fs->hold_writes))
			return;         /* never answered, not written */
		if (t->twrite.fid < 4096 && fid_path[t->twrite.fid] == 18 &&
		    t->twrite.offset >= 8192)
			return rlerror(fs, t->tag, ENOSPC);     /* wf */
		if (t->twrite.fid == fs->xw_fid)
			fs->xw_got += t->twrite.count;
		r.type = P9_RWRITE;
		r.rwrite.count = t->twrite.count;
		break;
	case P9_TFSYNC:
		r.type = P9_RFSYNC;
		break;
	case P9_TSETATTR: {
		uint64_t path = t->tsetattr.fid < 4096 ?
				fid_path[t->tsetattr.fid] : 0;
		if (is_new(path) && (t->tsetattr.valid & P9_SETATTR_UID) &&
		    atomic_load(&fs->chown_fail))
			return rlerror(fs, t->tag, EPERM);
		if (is_new(path) && (t->tsetattr.valid & P9_SETATTR_MODE))
			atomic_store(&fs->sa_mode, t->tsetattr.mode);
		r.type = P9_RSETATTR;
		break;
	}
	case P9_TREMOVE: {
		uint64_t path = t->tremove.fid < 4096 ?
				fid_path[t->tremove.fid] : 0;
		if (!is_new(path) || !new_names[path - NEW_PATH_BASE][0])
			return rlerror(fs, t->tag, EOPNOTSUPP);
		if (atomic_exchange(&fs->hold_remove, false)) {
			fs->rm_held = true;     /* see P9_TFLUSH */
			fs->rm_tag = t->tag;
			fs->rm_fid = t->tremove.fid;
			return;
		}
		new_names[path - NEW_PATH_BASE][0] = '\0';    /* gone */
		atomic_fetch_add(&fs->new_removes, 1);
		r.type = P9_RREMOVE;
		break;
	}
	case P9_TSTATFS:
		r.type = P9_RSTATFS;
		r.rstatfs.bsize = 4096;
		r.rstatfs.namelen = 255;
		break;
	default:
		return rlerror(fs, t->tag, EOPNOTSUPP);
	}
	send_msg(fs, &r);
}

void *fake_main(void *arg)
{
	struct fake *fs = arg;
	uint8_t buf[MSIZE];
	size_t have = 0;

	for (;;) {
		ssize_t n = read(fs->fd, buf + have, sizeof(buf) - have);
		if (n <= 0)
			break;
		if (atomic_load(&fs->stalled))
			atomic_fetch_add(&fs->rx_after, n);
		have += (size_t)n;
		for (;;) {
			struct p9_msg t;
			uint32_t size;
			if (p9_frame_size(buf, have, MSIZE, &size) != 0 ||
			    have < size)
				break;
			if (p9_unpack(buf, size, &t) == 0) {
				if (t.type == P9_TWALK &&
				    t.twalk.newfid < 4096) {
					uint64_t p = t.twalk.fid < 4096 ?
						     fid_path[t.twalk.fid] : 1;
					if (t.twalk.nwname == 1)
						p = name_path(t.twalk.wname[0]);
					fid_path[t.twalk.newfid] = p ? p : 1;
				}
				if (t.type == P9_TATTACH && t.tattach.fid < 4096)
					fid_path[t.tattach.fid] = 1;
				if (t.type == P9_TWRITE &&
				    atomic_load(&fs->stall) &&
				    !atomic_exchange(&fs->stalled, true)) {
					while (atomic_load(&fs->stall))
						usleep(1000);
					/* then it only reads, to see what
					 * still arrives */
					while ((n = read(fs->fd, buf,
							 sizeof(buf))) > 0)
						atomic_fetch_add(&fs->rx_after,
								 n);
					return NULL;
				}
				handle(fs, &t);
			}
			memmove(buf, buf + size, have - size);
			have -= size;
		}
	}
	return NULL;
}

/* ---- fixture ------------------------------------------------------------ */



int fx_mount(struct fx *x, const char *opts)
{
	int sv[2];
	char src[64];

	memset(fid_path, 0, sizeof(fid_path));
	fake_reset();
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sv), 0);
	x->fs.fd = sv[0];
	x->fs.xw_fid = P9_NOFID;
	x->cfd = sv[1];
	assert_int_equal(pthread_create(&x->fs.thr, NULL, fake_main, &x->fs),
			 0);
	assert_int_equal(uvfs_new(x->cfg, &x->u), 0);
	assert_int_equal(uvfs_9p_register(x->u), 0);
	assert_int_equal(uvfs_ctx_new(x->u, NULL, &x->c), 0);
	assert_int_equal(uvfs_mkdir(x->c, "/m", 0755), 0);
	snprintf(src, sizeof(src), "fd:%d,%d", sv[1], sv[1]);
	int r = uvfs_mount(x->c, "9p", src, "/m", opts);
	close(sv[1]);   /* the driver has its own copy */
	return r;
}

void fx_done(struct fx *x)
{
	uvfs_umount(x->c, "/m", UVFS_UMOUNT_FORCE);
	uvfs_ctx_free(x->c);
	uvfs_free(x->u);
	shutdown(x->fs.fd, SHUT_RDWR);
	pthread_join(x->fs.thr, NULL);
	close(x->fs.fd);
}

long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 +
	       (t.tv_nsec - t0->tv_nsec) / 1000000;
}
