/*
 * test_nfs_rpc_server.c - test_nfs_rpc's scripted NFSv3 server on
 * loopback: its state, the answers it makes, its connections and its
 * listener.  Included by test_nfs_rpc.c; not a program of its own.
 *
 * The server (serve) answers GETATTR, READ (of a file of FILE_SIZE
 * bytes, file_byte's), WRITE (into disk[]), COMMIT (the verifier
 * "verf000" and verf_last: a test moves it on as a restart would) and
 * SETATTR, and LOOKUP, REMOVE, RMDIR and READDIRPLUS of one directory
 * "d" in the root (dir_names[]: the names in it); mode says how, in M_JUKEBOX the first
 * jukebox_left calls of procedure jukebox_proc (all, if < 0) are
 * answered NFS3ERR_JUKEBOX, a REMOVE is done and answered
 * remove_delay_ms after it came (the server answers other calls
 * meanwhile), and while refusing it hangs up at the next call and
 * refuses connections.  With fa_on its file has attributes that WRITE
 * and SETATTR change (a size, and a time for mtime and ctime), which
 * GETATTR, READ, WRITE and SETATTR answer; and the next call of
 * hold_proc is held back (done when it came, or when let go) until
 * hold_go, while the server answers other calls.  With read_max a READ
 * answers at most that many bytes, with no eof before the file's end;
 * with write_max a WRITE writes (and says it wrote) at most so many.
 * With write_lag the answers to WRITEs wait until the client stops
 * sending, and lag_max counts the most that waited at once: the WRITEs
 * the client had in flight.  With xid_log it logs the XIDs of the
 * GETATTRs that come.
 */

/* M_BADXID: each call is answered first by a reply with its tag (the
 * XID's low bits) and another XID, as a server's duplicate or a stray
 * answer to an earlier call would be, saying NFS3ERR_IO, then by its
 * own answer; M_STRAY: by that stray reply alone. */
enum mode { M_OK, M_FRAG, M_DENY, M_BADXID, M_SILENT, M_JUKEBOX, M_DEAF,
	    M_STRAY };

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
/* With xid_log, the XIDs of the GETATTRs that came, in the order they
 * came (the first xid_cap of them; xid_n counts them all). */
static uint32_t *_Atomic xid_log;
static size_t xid_cap;
static _Atomic size_t xid_n;

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
static _Atomic uint32_t write_max;      /* a WRITE writes and answers at
					 * most so many bytes (0: all) */
static _Atomic uint32_t bad_fh_len;     /* not 0: a LOOKUP answered OK,
					 * and each entry of a READDIRPLUS,
					 * gives its handle this length (no
					 * handle is longer than 64 bytes: a
					 * server's bug), and no more bytes */
static _Atomic bool dir_huge;           /* a READDIRPLUS is answered with
					 * a reply of 2 MiB, larger than any
					 * the client asks for (a server's
					 * bug): its status OK, then zeros */
static _Atomic uint32_t read_max;       /* a READ answers at most so many
					 * bytes (0: what it asks), its eof
					 * only at the file's end (RFC 1813
					 * allows a short READ anywhere) */

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
#define DISK_SIZE (16u << 20)           /* what WRITE writes */
static pthread_mutex_t disk_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t disk[DISK_SIZE];         /* disk_lock */
static _Atomic char verf_last = '1';    /* the write verifier's last byte */
/* With write_lag a WRITE is done when it comes and its answer held back
 * until the client has sent nothing for LAG_IDLE_MS (then all of them at
 * once): the server reads on meanwhile, so what it holds is what the
 * client has in flight, and lag_max the most it held at once. */
#define LAG_IDLE_MS 30
static _Atomic bool write_lag;
static _Atomic int lag_max;

/* The write verifier now (WRITE and COMMIT answer it). */
static void verifier_now(char v[8])
{
	memcpy(v, "verf000", 7);
	v[7] = atomic_load(&verf_last);
}

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

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
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

/* The fileid the file's handle names (4242; another, as a server that
 * reuses handles may say after a restart). */
static _Atomic uint64_t fa_fileid = 4242;
static _Atomic int fa_type = NF3REG;    /* its type: 0 or 8, none NFSv3
					 * has, for a server's bug */

/* The attributes of the file (fileid fa_fileid), regular: fa_*'s when
 * fa_on, else 1234 bytes and no times.  Whether they are fa_*'s. */
static bool file_fattr(fattr3 *a)
{
	bool on;

	memset(a, 0, sizeof(*a));
	a->type = (ftype3)atomic_load(&fa_type);
	a->mode = 0644;
	a->nlink = 1;
	a->size = 1234;
	a->fileid = atomic_load(&fa_fileid);
	pthread_mutex_lock(&fa_lock);
	on = fa_on;
	if (on) {
		a->size = fa_size;
		a->mtime.seconds = a->ctime.seconds = fa_time;
	}
	pthread_mutex_unlock(&fa_lock);
	return on;
}

/* Not NFS3_OK: what every GETATTR answers (only its status). */
static _Atomic int getattr_status = NFS3_OK;

/* A GETATTR3res of the file (file_fattr) (or, busy, only the status
 * NFS3ERR_JUKEBOX; or getattr_status). */
static size_t getattr_res(uint8_t *b, size_t cap, bool busy)
{
	GETATTR3res r;
	ZDR z;

	memset(&r, 0, sizeof(r));
	r.status = busy ? NFS3ERR_JUKEBOX : (nfsstat3)atomic_load(&getattr_status);
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
			uint32_t most = atomic_load(&read_max);
			if (most && k > most)
				k = most;
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
			uint32_t most = atomic_load(&write_max);
			if (most && k > most)
				k = most;
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
			verifier_now(r.WRITE3res_u.resok.verf);
		}
		ok = zdr_WRITE3res(&z, &r);
	} else {
		COMMIT3res r;
		memset(&r, 0, sizeof(r));
		r.status = busy ? NFS3ERR_JUKEBOX : NFS3_OK;
		if (!busy)
			verifier_now(r.COMMIT3res_u.resok.verf);
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
		if (st == NFS3_OK) {    /* (the failure's arm overlaps it) */
			r.LOOKUP3res_u.resok.object.data.data_len = 8;
			r.LOOKUP3res_u.resok.object.data.data_val =
				(char *)DIR_FH;
		}
		ok = zdr_LOOKUP3res(&z, &r);
		uint32_t bad = atomic_load(&bad_fh_len);
		if (ok && st == NFS3_OK && bad) {
			put32(b + 4, bad);      /* the handle's length */
			zdr_destroy(&z);
			return 8 + 8;
		}
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

/* A READDIRPLUS of the directory "d" (from any cookie: the tests list it
 * once): its names, then, with dir_odd, "" and "a/b", which no file can
 * have (a server's bug), all in one reply with the end, with neither
 * attributes nor handles.  With dir_loop (a server's bug too), whatever
 * the directory holds: one entry and no end, its cookie the one asked
 * for modulo 3, plus 1 (0, 1, 2, 3, 1, 2, 3...: the listing never ends).
 * With dir_many not 0: that many entries (names "0", "1", ... in base 36,
 * at most 3 characters, neither attributes nor handles: 36 bytes each, so
 * 14 000 fit in the 512 KiB a listing asks) and the end, in one reply,
 * written word by word (libnfs's encoder recurses once per entry). */
static _Atomic bool dir_odd, dir_loop;
static _Atomic uint32_t dir_many;

static size_t many_res(uint32_t k, uint8_t *b, size_t cap)
{
	size_t at = 0;

	assert_true(cap >= 16 + (size_t)k * 36 + 8);
	put32(b, NFS3_OK);
	put32(b + 4, 0);                        /* no directory attributes */
	memset(b + 8, 0, 8);                    /* cookie verifier */
	at = 16;
	for (uint32_t i = 0; i < k; i++) {
		char name[4] = "";
		uint32_t v = i, l = 0;

		do {
			name[l++] = "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36];
			v /= 36;
		} while (v && l < 3);
		put32(b + at, 1);               /* an entry follows */
		put64(b + at + 4, 1000 + i);    /* fileid */
		put32(b + at + 12, l);
		memset(b + at + 16, 0, 4);
		memcpy(b + at + 16, name, l);
		put64(b + at + 20, i + 1);      /* cookie */
		put32(b + at + 28, 0);          /* no attributes */
		put32(b + at + 32, 0);          /* no handle */
		at += 36;
	}
	put32(b + at, 0);                       /* no more entries */
	put32(b + at + 4, 1);                   /* eof */
	return at + 8;
}
static size_t loop_res(const uint8_t *args, size_t n, uint8_t *b, size_t cap)
{
	size_t at = after_fh(args, n);
	uint64_t asked = at + 8 <= n ? get64(args + at) : 0;
	static char name[] = "l";
	entryplus3 e;
	READDIRPLUS3res r;
	ZDR z;

	memset(&r, 0, sizeof(r));
	memset(&e, 0, sizeof(e));
	r.status = NFS3_OK;
	e.fileid = 300 + asked % 3;
	e.name = name;
	e.cookie = asked % 3 + 1;
	r.READDIRPLUS3res_u.resok.reply.entries = &e;
	r.READDIRPLUS3res_u.resok.reply.eof = 0;
	zdrmem_create(&z, (caddr_t)b, (uint32_t)cap, ZDR_ENCODE);
	assert_true(zdr_READDIRPLUS3res(&z, &r));
	size_t len = zdr_getpos(&z);
	zdr_destroy(&z);
	return len;
}

static size_t readdirplus_res(const uint8_t *args, size_t n, uint8_t *b,
			      size_t cap)
{
	static char *const odd[] = { "", "a/b" };
	entryplus3 e[DIR_MAXN + 2];
	char names[DIR_MAXN][64];
	entryplus3 **tail;
	READDIRPLUS3res r;
	size_t k = 0;
	ZDR z;

	if (atomic_load(&dir_loop))
		return loop_res(args, n, b, cap);
	if (atomic_load(&dir_many))
		return many_res(atomic_load(&dir_many), b, cap);
	memset(&r, 0, sizeof(r));
	memset(e, 0, sizeof(e));
	r.status = NFS3_OK;
	tail = &r.READDIRPLUS3res_u.resok.reply.entries;
	pthread_mutex_lock(&dir_lock);
	memcpy(names, dir_names, sizeof(names));
	pthread_mutex_unlock(&dir_lock);
	for (size_t i = 0; i < DIR_MAXN + 2; i++) {
		char *name = i < DIR_MAXN ? names[i] : odd[i - DIR_MAXN];
		if (i < DIR_MAXN ? !name[0] : !atomic_load(&dir_odd))
			continue;
		e[k].fileid = 100 + i;
		e[k].name = name;
		e[k].cookie = k + 1;
		if (atomic_load(&bad_fh_len)) {
			post_op_fh3 *h = &e[k].name_handle;
			h->handle_follows = 1;
			h->post_op_fh3_u.handle.data.data_len = 8;
			h->post_op_fh3_u.handle.data.data_val = (char *)DIR_FH;
		}
		*tail = &e[k];
		tail = &e[k].nextentry;
		k++;
	}
	r.READDIRPLUS3res_u.resok.reply.eof = 1;
	zdrmem_create(&z, (caddr_t)b, (uint32_t)cap, ZDR_ENCODE);
	assert_true(zdr_READDIRPLUS3res(&z, &r));
	size_t len = zdr_getpos(&z);
	zdr_destroy(&z);
	uint32_t bad = atomic_load(&bad_fh_len);
	if (bad && k > 0) {
		/* the first entry's handle: after the status, the
		 * directory's (no) attributes, the verifier, the entry's
		 * follows, fileid, name (its length and bytes), cookie, (no)
		 * attributes and handle_follows */
		size_t at = 4 + 4 + 8 + 4 + 8 + 4 +
			    ((strlen(e[0].name) + 3) & ~(size_t)3) + 8 + 4 + 4;
		put32(b + at, bad);
		return at + 4 + 8;
	}
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
	size_t cap = 1024 + (io ? n : 0) +
		     (proc == NFS3_READ || proc == NFS3_READDIRPLUS ? 1u << 20
								      : 0);
	uint8_t *res = malloc(cap), *out = malloc(cap + 64);

	assert_non_null(res);
	assert_non_null(out);
	size_t rl = proc == NFS3_GETATTR ? getattr_res(res, cap, busy)
		    : proc == NFS3_READDIRPLUS ? readdirplus_res(args, n, res, cap)
		    : proc == NFS3_SETATTR && n > 0 && !busy
			    ? setattr_res(args, n, res, cap)
		    : io && n > 0 ? io_res(proc, args, n, busy, res, cap)
		    : dir && n > 0 ? dir_res(proc, args, n, busy, res, cap)
		    : 0;
	size_t bl = reply_body(out + 4, xid,
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

/* The answers of WRITEs held back (write_lag), oldest first. */
struct lagged {
	uint8_t *out[1024];
	size_t bl[1024];
	int n;
};

static void lag_flush(struct sconn *sc, struct lagged *lg)
{
	for (int i = 0; i < lg->n; i++) {
		send_reply(sc, lg->out[i], lg->bl[i], M_OK);
		free(lg->out[i]);
	}
	lg->n = 0;
}

/* One connection: answers each call as the mode says, until it ends. */
static void serve(int fd)
{
	struct sconn conn = { .fd = fd }, *sc = &conn;
	struct lagged *lg = calloc(1, sizeof(*lg));

	assert_non_null(lg);
	pthread_mutex_init(&sc->lock, NULL);
	pthread_cond_init(&sc->cv, NULL);
	for (;;) {
		uint8_t mk[4], *body;
		uint32_t len;

		if (lg->n > 0) {
			/* the client stopped sending: the held answers go */
			struct pollfd p = { .fd = fd, .events = POLLIN };
			if (poll(&p, 1, LAG_IDLE_MS) == 0 ||
			    !atomic_load(&write_lag))
				lag_flush(sc, lg);
		}
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
		uint32_t *xl = atomic_load(&xid_log);
		if (proc == NFS3_GETATTR && xl) {
			size_t i = atomic_fetch_add(&xid_n, 1);
			if (i < xid_cap)
				xl[i] = xid;
		}
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
		if (proc == NFS3_READDIRPLUS && atomic_load(&dir_huge)) {
			size_t big = 2u << 20;
			uint8_t *o = calloc(1, 4 + 64 + big), st[4] = { 0 };
			assert_non_null(o);
			size_t bl = reply_body(o + 4, xid, false, st, 4) + big;
			send_reply(sc, o, bl, M_OK);
			free(o);
			free(body);
			continue;
		}
		uint8_t *out;
		size_t bl = make_answer(xid, proc, body + args, n, busy, m,
					&out);
		free(body);
		if (proc == NFS3_WRITE && atomic_load(&write_lag) &&
		    lg->n < 1024) {
			lg->out[lg->n] = out;
			lg->bl[lg->n++] = bl;
			if (lg->n > atomic_load(&lag_max))
				atomic_store(&lag_max, lg->n);
			continue;
		}
		if (m == M_BADXID || m == M_STRAY) {
			/* another XID, the same tag: NFS3ERR_IO */
			uint8_t so[4 + 64], st[4] = { 0, 0, 0, NFS3ERR_IO };
			size_t sl = reply_body(so + 4, xid ^ 0x10000u, false,
					       st, 4);
			send_reply(sc, so, sl, M_OK);
		}
		if (m != M_STRAY)
			send_reply(sc, out, bl, m);
		free(out);
	}
	lag_flush(sc, lg);      /* on the ended link: nobody reads them */
	free(lg);
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
