/*
 * sys.c - the table of system calls and allocations, and its fault shims
 *
 * Owns one object, the table `uvfs_sys` (sys.h says what it is for).  Its
 * lifecycle: it starts filled with libc (static initialisation, no
 * constructor); a test may set entries (uvfs_sys_set), arm a fault on some
 * classes (uvfs_sys_fault_arm: those entries become the shims below, the
 * entries they replace are kept in `pass`), disarm (the kept entries go
 * back) and reset (libc everywhere).
 *
 * Rules (what protects what):
 *  - the table and `pass`: written only by the calls above, which the test
 *    makes while the code under test is quiet (sys.h); read by everyone;
 *    a mutex serialises the writers among themselves;
 *  - the fault state (`fault`): its settings are written at arm time under
 *    the same rule; its counters are atomics, bumped by the shims on any
 *    thread;
 *  - the site set: a fixed open-addressed array whose slots are claimed
 *    with a compare-and-swap on the address and never released (until
 *    uvfs_sys_sites_clear, again only while quiet).
 */
#include "sys.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

/* ---- libc, with the few signatures made uniform ------------------------ */

static int l_openat(int d, const char *p, int fl, mode_t m)
{
	return openat(d, p, fl, m);
}

static long l_openat2(int d, const char *p, struct open_how *h, size_t sz)
{
	return syscall(SYS_openat2, d, p, h, sz);
}

static int l_fcntl(int fd, int cmd, long arg)
{
	return fcntl(fd, cmd, arg);
}

static int l_fcntl_lock(int fd, int cmd, struct flock *fl)
{
	return fcntl(fd, cmd, fl);
}

static ssize_t l_getdents64(int fd, void *b, size_t n)
{
	return syscall(SYS_getdents64, fd, b, n);
}

static int l_pidfd_open(pid_t pid, unsigned fl)
{
	return (int)syscall(SYS_pidfd_open, pid, fl);
}

static int l_eventfd(unsigned init, int fl)
{
	return eventfd(init, fl);
}

static int l_fstatfs(int fd, struct statfs *s)
{
	return fstatfs(fd, s);
}

/*
 * calloc through the thread's cache.  glibc's calloc (before 2.41) never
 * takes a chunk from the per-thread cache that malloc and free use: every
 * small calloc goes to the arena's bins (about 250 instructions against
 * about 30), and the chunks freed into the cache are not reused by it.
 * Blocks the cache can hold (up to about 1 KiB) are therefore malloc'ed
 * and cleared here; larger ones stay calloc's, which knows that fresh
 * mmap'ed memory is already zero.
 */
static void *l_calloc(size_t n, size_t sz)
{
	size_t b;
	void *p;

	if (__builtin_mul_overflow(n, sz, &b)) {
		errno = ENOMEM;
		return NULL;
	}
	if (b > 1024)           /* past what the thread cache holds */
		return calloc(n, sz);
	p = malloc(b);
	/* hides where p came from: else the compiler makes the pair a
	 * calloc again */
	__asm__("" : "+r"(p));
	if (p)
		memset(p, 0, b);
	return p;
}

#define LIBC_TABLE {                                                     \
	.malloc = malloc, .calloc = l_calloc, .realloc = realloc,        \
	.strdup = strdup, .strndup = strndup, .vasprintf = vasprintf,    \
	.read = read, .write = write, .pread = pread, .pwrite = pwrite,  \
	.socket = socket, .socketpair = socketpair, .connect = connect,  \
	.bind = bind, .listen = listen, .accept4 = accept4,              \
	.send = send, .sendmsg = sendmsg, .recv = recv,                  \
	.recvmsg = recvmsg, .shutdown = shutdown, .poll = poll,          \
	.setsockopt = setsockopt, .getsockopt = getsockopt,              \
	.openat = l_openat, .openat2 = l_openat2, .close = close,        \
	.dup = dup, .fcntl = l_fcntl,\
	.fcntl_lock = l_fcntl_lock, .fstat = fstat, .fstatat = fstatat,\
	.mkdirat = mkdirat, .mknodat = mknodat, .unlinkat = unlinkat,    \
	.renameat = renameat, .renameat2 = renameat2, .linkat = linkat,  \
	.symlinkat = symlinkat, .readlinkat = readlinkat,                \
	.fchownat = fchownat, .fchmod = fchmod, .fchmodat = fchmodat,    \
	.utimensat = utimensat, .futimens = futimens,                    \
	.ftruncate = ftruncate, .fsync = fsync, .fdatasync = fdatasync,  \
	.fstatfs = l_fstatfs, .lseek = lseek, .getdents64 = l_getdents64,\
	.getxattr = getxattr, .setxattr = setxattr,                      \
	.listxattr = listxattr, .removexattr = removexattr,              \
	.posix_spawn = posix_spawn, .pipe2 = pipe2, .eventfd = l_eventfd,\
	.waitpid = waitpid, .kill = kill, .pidfd_open = l_pidfd_open,    \
	.pthread_create = pthread_create,                                \
}

struct uvfs_sys uvfs_sys = LIBC_TABLE;
static const struct uvfs_sys libc_table = LIBC_TABLE;
/* what an armed entry passes its unfailed calls to (m: writers' mutex) */
static struct uvfs_sys pass = LIBC_TABLE;

int sys_asprintf(char **out, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = SYS_FN(vasprintf)(&s, fmt, ap);
	va_end(ap);
	if (n >= 0)
		*out = s;
	return n;
}

/* ---- the entries by name -------------------------------------------- */

enum {
#define E(name, cls) I_##name,
#include "sys_entries.h"
#undef E
	NENTRY
};

static const struct entry {
	const char *name;
	size_t off;
	unsigned cls;
} entries[NENTRY] = {
#define E(name, cls) [I_##name] = { #name, offsetof(struct uvfs_sys, name), cls },
#include "sys_entries.h"
#undef E
};

static void **slot(struct uvfs_sys *t, int i)
{
	return (void **)((char *)t + entries[i].off);
}

/* The tables' entries and the fault's settings are read by every thread
 * that calls through them, without the writers' mutex: atomic loads and
 * stores (plain moves on x86-64), so that arming and disarming while
 * other threads run is no data race.  Entries are stored with release
 * after the settings they lead to. */
static void *slot_get(struct uvfs_sys *t, int i)
{
	return __atomic_load_n(slot(t, i), __ATOMIC_ACQUIRE);
}

static void slot_set(struct uvfs_sys *t, int i, void *fn)
{
	__atomic_store_n(slot(t, i), fn, __ATOMIC_RELEASE);
}

#define PASS_FN(f) __atomic_load_n(&pass.f, __ATOMIC_ACQUIRE)
#define F_GET(field) __atomic_load_n(&fault.field, __ATOMIC_RELAXED)
#define F_SET(field, v) __atomic_store_n(&fault.field, (v), __ATOMIC_RELAXED)

static int entry_find(const char *name)
{
	for (int i = 0; i < NENTRY; i++)
		if (strcmp(entries[i].name, name) == 0)
			return i;
	return -1;
}

/* ---- the fault state and the site set --------------------------------- */

static pthread_mutex_t wlock = PTHREAD_MUTEX_INITIALIZER;

static struct {
	unsigned classes;       /* armed classes (0: disarmed) */
	unsigned long nth;      /* 0: count only */
	uintptr_t site;         /* or: fail the calls from this site */
	int err;                /* 0: the class's usual error */
	bool persist;
	unsigned long calls;    /* atomic */
	unsigned long failed;   /* atomic */
	uintptr_t fail_site;    /* first failed call (atomic CAS from 0) */
	int fail_entry;         /* its entry, valid once fail_site is set */
	uintptr_t *trace;       /* the site of call i at trace[i - 1] */
	unsigned long ntrace;   /* its capacity */
} fault;

#define NSITE 4096
static struct site {
	uintptr_t addr;         /* 0: free; claimed by CAS */
	int entry;
	unsigned long calls;    /* atomic */
	unsigned long failed;   /* atomic */
} sites[NSITE];

static struct site *site_get(uintptr_t addr, int entry)
{
	size_t h = (addr * 0x9e3779b97f4a7c15ull) >> 52;  /* 12 bits */

	for (size_t k = 0; k < NSITE; k++) {
		struct site *s = &sites[(h + k) % NSITE];
		uintptr_t cur = __atomic_load_n(&s->addr, __ATOMIC_ACQUIRE);
		if (cur == addr)
			return s;
		if (cur == 0) {
			s->entry = entry;
			if (__atomic_compare_exchange_n(&s->addr, &cur, addr,
					false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				return s;
			if (cur == addr)
				return s;
		}
	}
	return NULL;    /* full: the site goes uncounted */
}

static int class_errno(unsigned cls)
{
	switch (cls) {
	case SYS_C_ALLOC: return ENOMEM;
	case SYS_C_NET:   return ECONNRESET;
	case SYS_C_PROC:  return EAGAIN;
	default:          return EIO;
	}
}

/* One call through a shim: count it, record its site; the errno to fail
 * it with, or 0 to pass it on. */
static int hit(int entry, void *ret)
{
	unsigned long c = __atomic_add_fetch(&fault.calls, 1, __ATOMIC_RELAXED);
	struct site *s = site_get((uintptr_t)ret, entry);
	unsigned long nth = F_GET(nth);
	uintptr_t site = F_GET(site), *trace = F_GET(trace);
	bool persist = F_GET(persist);
	bool fail = nth && (c == nth || (persist && c > nth));

	if (site) {
		/* the first call from that site; with persist, every call
		 * of the class from then on */
		unsigned long f = __atomic_load_n(&fault.failed,
						  __ATOMIC_RELAXED);
		fail = f == 0 ? (uintptr_t)ret == site : persist;
	}

	if (s)
		__atomic_add_fetch(&s->calls, 1, __ATOMIC_RELAXED);
	if (trace && c <= F_GET(ntrace))
		__atomic_store_n(&trace[c - 1], (uintptr_t)ret,
				 __ATOMIC_RELAXED);
	if (!fail)
		return 0;
	if (s)
		__atomic_add_fetch(&s->failed, 1, __ATOMIC_RELAXED);
	if (__atomic_add_fetch(&fault.failed, 1, __ATOMIC_RELAXED) == 1) {
		F_SET(fail_entry, entry);
		__atomic_store_n(&fault.fail_site, (uintptr_t)ret,
				 __ATOMIC_RELEASE);
	}
	int err = F_GET(err);

	return err ? err : class_errno(entries[entry].cls);
}

#define RA __builtin_return_address(0)
/* -1 and errno */
#define HIT_M1(name) do {                                               \
		int e_ = hit(I_##name, RA);                             \
		if (e_) { errno = e_; return -1; }                      \
	} while (0)
/* NULL and errno */
#define HIT_NULL(name) do {                                             \
		int e_ = hit(I_##name, RA);                             \
		if (e_) { errno = e_; return NULL; }                    \
	} while (0)
/* the error number */
#define HIT_ERR(name) do {                                              \
		int e_ = hit(I_##name, RA);                             \
		if (e_) return e_;                                      \
	} while (0)

/* ---- the shims ------------------------------------------------------- */

static void *f_malloc(size_t n) { HIT_NULL(malloc); return PASS_FN(malloc)(n); }
static void *f_calloc(size_t n, size_t sz) { HIT_NULL(calloc); return PASS_FN(calloc)(n, sz); }
static void *f_realloc(void *p, size_t n) { HIT_NULL(realloc); return PASS_FN(realloc)(p, n); }
static char *f_strdup(const char *s) { HIT_NULL(strdup); return PASS_FN(strdup)(s); }
static char *f_strndup(const char *s, size_t n) { HIT_NULL(strndup); return PASS_FN(strndup)(s, n); }
static int f_vasprintf(char **o, const char *f, va_list ap) { HIT_M1(vasprintf); return PASS_FN(vasprintf)(o, f, ap); }

static ssize_t f_read(int fd, void *b, size_t n) { HIT_M1(read); return PASS_FN(read)(fd, b, n); }
static ssize_t f_write(int fd, const void *b, size_t n) { HIT_M1(write); return PASS_FN(write)(fd, b, n); }
static ssize_t f_pread(int fd, void *b, size_t n, off_t o) { HIT_M1(pread); return PASS_FN(pread)(fd, b, n, o); }
static ssize_t f_pwrite(int fd, const void *b, size_t n, off_t o) { HIT_M1(pwrite); return PASS_FN(pwrite)(fd, b, n, o); }

static int f_socket(int d, int t, int p) { HIT_M1(socket); return PASS_FN(socket)(d, t, p); }
static int f_socketpair(int d, int t, int p, int sv[2]) { HIT_M1(socketpair); return PASS_FN(socketpair)(d, t, p, sv); }
static int f_connect(int fd, const struct sockaddr *a, socklen_t l) { HIT_M1(connect); return PASS_FN(connect)(fd, a, l); }
static int f_bind(int fd, const struct sockaddr *a, socklen_t l) { HIT_M1(bind); return PASS_FN(bind)(fd, a, l); }
static int f_listen(int fd, int b) { HIT_M1(listen); return PASS_FN(listen)(fd, b); }
static int f_accept4(int fd, struct sockaddr *a, socklen_t *l, int fl) { HIT_M1(accept4); return PASS_FN(accept4)(fd, a, l, fl); }
static ssize_t f_send(int fd, const void *b, size_t n, int fl) { HIT_M1(send); return PASS_FN(send)(fd, b, n, fl); }
static ssize_t f_sendmsg(int fd, const struct msghdr *m, int fl) { HIT_M1(sendmsg); return PASS_FN(sendmsg)(fd, m, fl); }
static ssize_t f_recv(int fd, void *b, size_t n, int fl) { HIT_M1(recv); return PASS_FN(recv)(fd, b, n, fl); }
static ssize_t f_recvmsg(int fd, struct msghdr *m, int fl) { HIT_M1(recvmsg); return PASS_FN(recvmsg)(fd, m, fl); }
static int f_shutdown(int fd, int how) { HIT_M1(shutdown); return PASS_FN(shutdown)(fd, how); }
static int f_poll(struct pollfd *p, nfds_t n, int ms) { HIT_M1(poll); return PASS_FN(poll)(p, n, ms); }
static int f_setsockopt(int fd, int lv, int o, const void *v, socklen_t l) { HIT_M1(setsockopt); return PASS_FN(setsockopt)(fd, lv, o, v, l); }
static int f_getsockopt(int fd, int lv, int o, void *v, socklen_t *l) { HIT_M1(getsockopt); return PASS_FN(getsockopt)(fd, lv, o, v, l); }

static int f_openat(int d, const char *p, int fl, mode_t m) { HIT_M1(openat); return PASS_FN(openat)(d, p, fl, m); }
static long f_openat2(int d, const char *p, struct open_how *h, size_t sz) { HIT_M1(openat2); return PASS_FN(openat2)(d, p, h, sz); }
/* the descriptor is gone whatever close says: close it, then fail */
static int f_close(int fd)
{
	int e = hit(I_close, RA);
	int r = PASS_FN(close)(fd);

	if (e) {
		errno = e;
		return -1;
	}
	return r;
}
static int f_dup(int fd) { HIT_M1(dup); return PASS_FN(dup)(fd); }
static int f_fcntl(int fd, int cmd, long a) { HIT_M1(fcntl); return PASS_FN(fcntl)(fd, cmd, a); }
static int f_fcntl_lock(int fd, int cmd, struct flock *fl) { HIT_M1(fcntl_lock); return PASS_FN(fcntl_lock)(fd, cmd, fl); }
static int f_fstat(int fd, struct stat *st) { HIT_M1(fstat); return PASS_FN(fstat)(fd, st); }
static int f_fstatat(int d, const char *p, struct stat *st, int fl) { HIT_M1(fstatat); return PASS_FN(fstatat)(d, p, st, fl); }
static int f_mkdirat(int d, const char *p, mode_t m) { HIT_M1(mkdirat); return PASS_FN(mkdirat)(d, p, m); }
static int f_mknodat(int d, const char *p, mode_t m, dev_t dv) { HIT_M1(mknodat); return PASS_FN(mknodat)(d, p, m, dv); }
static int f_unlinkat(int d, const char *p, int fl) { HIT_M1(unlinkat); return PASS_FN(unlinkat)(d, p, fl); }
static int f_renameat(int od, const char *op, int nd, const char *np) { HIT_M1(renameat); return PASS_FN(renameat)(od, op, nd, np); }
static int f_renameat2(int od, const char *op, int nd, const char *np, unsigned fl) { HIT_M1(renameat2); return PASS_FN(renameat2)(od, op, nd, np, fl); }
static int f_linkat(int od, const char *op, int nd, const char *np, int fl) { HIT_M1(linkat); return PASS_FN(linkat)(od, op, nd, np, fl); }
static int f_symlinkat(const char *t, int d, const char *p) { HIT_M1(symlinkat); return PASS_FN(symlinkat)(t, d, p); }
static ssize_t f_readlinkat(int d, const char *p, char *b, size_t n) { HIT_M1(readlinkat); return PASS_FN(readlinkat)(d, p, b, n); }
static int f_fchownat(int d, const char *p, uid_t u, gid_t g, int fl) { HIT_M1(fchownat); return PASS_FN(fchownat)(d, p, u, g, fl); }
static int f_fchmod(int fd, mode_t m) { HIT_M1(fchmod); return PASS_FN(fchmod)(fd, m); }
static int f_fchmodat(int d, const char *p, mode_t m, int fl) { HIT_M1(fchmodat); return PASS_FN(fchmodat)(d, p, m, fl); }
static int f_utimensat(int d, const char *p, const struct timespec t[2], int fl) { HIT_M1(utimensat); return PASS_FN(utimensat)(d, p, t, fl); }
static int f_futimens(int fd, const struct timespec t[2]) { HIT_M1(futimens); return PASS_FN(futimens)(fd, t); }
static int f_ftruncate(int fd, off_t l) { HIT_M1(ftruncate); return PASS_FN(ftruncate)(fd, l); }
static int f_fsync(int fd) { HIT_M1(fsync); return PASS_FN(fsync)(fd); }
static int f_fdatasync(int fd) { HIT_M1(fdatasync); return PASS_FN(fdatasync)(fd); }
static int f_fstatfs(int fd, struct statfs *s) { HIT_M1(fstatfs); return PASS_FN(fstatfs)(fd, s); }
static off_t f_lseek(int fd, off_t o, int wh) { HIT_M1(lseek); return PASS_FN(lseek)(fd, o, wh); }
static ssize_t f_getdents64(int fd, void *b, size_t n) { HIT_M1(getdents64); return PASS_FN(getdents64)(fd, b, n); }
static ssize_t f_getxattr(const char *p, const char *n, void *v, size_t sz) { HIT_M1(getxattr); return PASS_FN(getxattr)(p, n, v, sz); }
static int f_setxattr(const char *p, const char *n, const void *v, size_t sz, int fl) { HIT_M1(setxattr); return PASS_FN(setxattr)(p, n, v, sz, fl); }
static ssize_t f_listxattr(const char *p, char *l, size_t sz) { HIT_M1(listxattr); return PASS_FN(listxattr)(p, l, sz); }
static int f_removexattr(const char *p, const char *n) { HIT_M1(removexattr); return PASS_FN(removexattr)(p, n); }

static int f_posix_spawn(pid_t *pid, const char *path,
			 const posix_spawn_file_actions_t *fa,
			 const posix_spawnattr_t *at, char *const argv[],
			 char *const envp[])
{
	HIT_ERR(posix_spawn);
	return PASS_FN(posix_spawn)(pid, path, fa, at, argv, envp);
}
static int f_pipe2(int fds[2], int fl) { HIT_M1(pipe2); return PASS_FN(pipe2)(fds, fl); }
static int f_eventfd(unsigned i, int fl) { HIT_M1(eventfd); return PASS_FN(eventfd)(i, fl); }
static pid_t f_waitpid(pid_t pid, int *st, int o) { HIT_M1(waitpid); return PASS_FN(waitpid)(pid, st, o); }
static int f_kill(pid_t pid, int sig) { HIT_M1(kill); return PASS_FN(kill)(pid, sig); }
static int f_pidfd_open(pid_t pid, unsigned fl) { HIT_M1(pidfd_open); return PASS_FN(pidfd_open)(pid, fl); }
static int f_pthread_create(pthread_t *t, const pthread_attr_t *a,
			    void *(*fn)(void *), void *arg)
{
	HIT_ERR(pthread_create);
	return PASS_FN(pthread_create)(t, a, fn, arg);
}

static const struct uvfs_sys shim_table = {
#define E(name, cls) .name = f_##name,
#include "sys_entries.h"
#undef E
};

/* ---- changing the table ------------------------------------------------ */

void *uvfs_sys_set(const char *name, void *fn)
{
	int i = entry_find(name);
	void *old;

	if (i < 0)
		return NULL;
	pthread_mutex_lock(&wlock);
	if (fault.classes & entries[i].cls) {
		old = slot_get(&pass, i);
		slot_set(&pass, i, fn);
	} else {
		old = slot_get(&uvfs_sys, i);
		slot_set(&uvfs_sys, i, fn);
	}
	pthread_mutex_unlock(&wlock);
	return old;
}

unsigned uvfs_sys_class(const char *name)
{
	int i = entry_find(name);

	return i < 0 ? 0 : entries[i].cls;
}

/* => wlock held.  The armed entries go back to what they passed to. */
static void disarm_locked(void)
{
	for (int i = 0; i < NENTRY; i++)
		if (fault.classes & entries[i].cls)
			slot_set(&uvfs_sys, i, slot_get(&pass, i));
	fault.classes = 0;
}

void uvfs_sys_reset(void)
{
	pthread_mutex_lock(&wlock);
	disarm_locked();
	uvfs_sys = libc_table;
	pass = libc_table;
	pthread_mutex_unlock(&wlock);
}

void uvfs_sys_fault_arm(unsigned classes, unsigned long nth, int err,
			bool persist)
{
	pthread_mutex_lock(&wlock);
	disarm_locked();
	F_SET(nth, nth);
	F_SET(site, 0);
	F_SET(err, err);
	F_SET(persist, persist);
	__atomic_store_n(&fault.calls, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&fault.failed, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&fault.fail_site, 0, __ATOMIC_RELAXED);
	F_SET(fail_entry, -1);
	F_SET(trace, NULL);
	F_SET(ntrace, 0);
	fault.classes = classes & SYS_C_ALL;
	for (int i = 0; i < NENTRY; i++)
		if (fault.classes & entries[i].cls) {
			slot_set(&pass, i, slot_get(&uvfs_sys, i));
			slot_set(&uvfs_sys, i, *(void *const *)
				 ((const char *)&shim_table + entries[i].off));
		}
	pthread_mutex_unlock(&wlock);
}

void uvfs_sys_fault_arm_site(unsigned classes, uintptr_t site, int err,
			     bool persist)
{
	uvfs_sys_fault_arm(classes, 0, err, persist);
	pthread_mutex_lock(&wlock);
	F_SET(site, site);
	pthread_mutex_unlock(&wlock);
}

unsigned long uvfs_sys_site_failed(uintptr_t site)
{
	for (size_t k = 0; k < NSITE; k++)
		if (__atomic_load_n(&sites[k].addr, __ATOMIC_ACQUIRE) == site)
			return __atomic_load_n(&sites[k].failed,
					       __ATOMIC_RELAXED);
	return 0;
}

void uvfs_sys_fault_trace(uintptr_t *sites, unsigned long cap)
{
	pthread_mutex_lock(&wlock);
	if (cap)
		memset(sites, 0, cap * sizeof(*sites));
	F_SET(trace, sites);
	F_SET(ntrace, cap);
	pthread_mutex_unlock(&wlock);
}

void uvfs_sys_fault_disarm(void)
{
	pthread_mutex_lock(&wlock);
	disarm_locked();
	pthread_mutex_unlock(&wlock);
}

void uvfs_sys_fault_stats(struct uvfs_sys_fault_stats *st)
{
	st->calls = __atomic_load_n(&fault.calls, __ATOMIC_RELAXED);
	st->failed = __atomic_load_n(&fault.failed, __ATOMIC_RELAXED);
	st->fail_site = __atomic_load_n(&fault.fail_site, __ATOMIC_ACQUIRE);
	int fe = F_GET(fail_entry);

	st->fail_name = st->fail_site && fe >= 0 ? entries[fe].name : NULL;
}

/* ---- the site set ---------------------------------------------------- */

static unsigned sites_count(unsigned classes, bool failed)
{
	unsigned n = 0;

	for (size_t k = 0; k < NSITE; k++) {
		struct site *s = &sites[k];
		if (!__atomic_load_n(&s->addr, __ATOMIC_ACQUIRE) ||
		    !(entries[s->entry].cls & classes))
			continue;
		if (!failed || __atomic_load_n(&s->failed, __ATOMIC_RELAXED))
			n++;
	}
	return n;
}

unsigned uvfs_sys_sites_seen(unsigned classes)
{
	return sites_count(classes, false);
}

unsigned uvfs_sys_sites_failed(unsigned classes)
{
	return sites_count(classes, true);
}

void uvfs_sys_sites_clear(void)
{
	memset(sites, 0, sizeof(sites));
}

void uvfs_sys_sites_dump(unsigned classes)
{
	for (size_t k = 0; k < NSITE; k++) {
		struct site *s = &sites[k];
		if (!s->addr || !(entries[s->entry].cls & classes))
			continue;
		Dl_info di = { 0 };
		/* object+offset: addr2line -e object offset-1 */
		if (!dladdr((void *)s->addr, &di))
			di.dli_fbase = NULL;
		fprintf(stderr, "  site %s+%#lx %-12s calls %lu failed %lu\n",
			di.dli_fbase ? di.dli_fname : "?",
			(unsigned long)(s->addr - (uintptr_t)di.dli_fbase),
			entries[s->entry].name, s->calls, s->failed);
	}
}
