/*
 * sys.h - the table of system calls and allocations (fault injection)
 *
 * Every system call and every allocation that the core (lib/core, lib/fs),
 * the 9P client (lib/9p), the server library (lib/server) and the servers
 * (servers/) make goes through one table, `uvfs_sys`, as SQLite's unix VFS
 * has it (os_unix.c aSyscall[]).  The code calls the thin wrappers below
 * (`sys_read`, `sys_malloc`, ...) instead of libc; each is one load of a
 * table pointer and an indirect call.  Nothing else happens unless a test
 * changes the table.
 *
 * What the wrappers promise is exactly libc's: -1 and errno for system
 * calls, NULL and errno (ENOMEM) for allocations, an error number returned
 * for posix_spawn and pthread_create.  Memory from sys_malloc and friends is
 * released with plain free(): an override must hand out memory free()
 * accepts (the fault shims only fail a call or pass it on to libc).
 *
 * A test changes the table in two ways:
 *
 *  - it sets an entry: uvfs_sys_set("read", my_read) (the previous entry
 *    is returned; uvfs_sys_reset() puts libc back everywhere);
 *  - it arms a fault: uvfs_sys_fault_arm() fails the Nth call of a class
 *    (allocations, file I/O, network, file-system metadata, processes and
 *    threads) with an errno, once or from then on.  Armed, every entry of
 *    the class is replaced by a shim that counts the call, remembers the
 *    call site (its return address) and fails the chosen one; disarmed,
 *    the libc entries are back and the cost is zero again.
 *
 * A fault in close() closes the descriptor anyway and then reports the
 * error (Linux semantics: the descriptor is gone whatever close returns).
 *
 * Changing the table is not synchronised with calls in flight: arm and
 * disarm while the code under test is quiet (between workload runs).  The
 * counters the shims keep are atomic, so the code may run on many threads
 * while armed.
 *
 * This module knows nothing of the layers that use it (it sits below all
 * of them).  docs/faults.md says how the fault loop uses it.
 */
#ifndef UVFS_SYS_H
#define UVFS_SYS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <time.h>

struct open_how;
struct flock;

/* The classes a fault is armed on (a bit mask of them). */
enum sys_class {
	SYS_C_ALLOC = 1u << 0,  /* malloc calloc realloc strdup strndup vasprintf */
	SYS_C_IO    = 1u << 1,  /* read write pread pwrite */
	SYS_C_NET   = 1u << 2,  /* socket socketpair connect bind listen accept4
	                           send sendmsg recv recvmsg shutdown poll
	                           setsockopt getsockopt */
	SYS_C_FS    = 1u << 3,  /* openat openat2 close dup fcntl
	                           fcntl_lock fstat fstatat
	                           mkdirat mknodat unlinkat renameat linkat
	                           symlinkat readlinkat fchownat fchmod utimensat
	                           futimens ftruncate fsync fdatasync fstatfs
	                           lseek getdents64 and the path xattr calls */
	SYS_C_PROC  = 1u << 4,  /* posix_spawn pipe2 eventfd waitpid kill
	                           pidfd_open pthread_create */
};
#define SYS_C_ALL  0x1fu
#define SYS_NCLASS 5

/* The table.  Each entry has libc's signature (mode made explicit). */
struct uvfs_sys {
	/* SYS_C_ALLOC */
	void *(*malloc)(size_t);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	char *(*strdup)(const char *);
	char *(*strndup)(const char *, size_t);
	int (*vasprintf)(char **, const char *, va_list);
	/* SYS_C_IO */
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*pread)(int, void *, size_t, off_t);
	ssize_t (*pwrite)(int, const void *, size_t, off_t);
	/* SYS_C_NET */
	int (*socket)(int, int, int);
	int (*socketpair)(int, int, int, int[2]);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*bind)(int, const struct sockaddr *, socklen_t);
	int (*listen)(int, int);
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	int (*shutdown)(int, int);
	int (*poll)(struct pollfd *, nfds_t, int);
	int (*setsockopt)(int, int, int, const void *, socklen_t);
	int (*getsockopt)(int, int, int, void *, socklen_t *);
	/* SYS_C_FS */
	int (*openat)(int, const char *, int, mode_t);
	long (*openat2)(int, const char *, struct open_how *, size_t);
	int (*close)(int);
	int (*dup)(int);
	int (*fcntl)(int, int, long);
	int (*fcntl_lock)(int, int, struct flock *);
	int (*fstat)(int, struct stat *);
	int (*fstatat)(int, const char *, struct stat *, int);
	int (*mkdirat)(int, const char *, mode_t);
	int (*mknodat)(int, const char *, mode_t, dev_t);
	int (*unlinkat)(int, const char *, int);
	int (*renameat)(int, const char *, int, const char *);
	int (*renameat2)(int, const char *, int, const char *, unsigned);
	int (*linkat)(int, const char *, int, const char *, int);
	int (*symlinkat)(const char *, int, const char *);
	ssize_t (*readlinkat)(int, const char *, char *, size_t);
	int (*fchownat)(int, const char *, uid_t, gid_t, int);
	int (*fchmod)(int, mode_t);
	int (*fchmodat)(int, const char *, mode_t, int);
	int (*utimensat)(int, const char *, const struct timespec[2], int);
	int (*futimens)(int, const struct timespec[2]);
	int (*ftruncate)(int, off_t);
	int (*fsync)(int);
	int (*fdatasync)(int);
	int (*fstatfs)(int, struct statfs *);
	off_t (*lseek)(int, off_t, int);
	ssize_t (*getdents64)(int, void *, size_t);
	ssize_t (*getxattr)(const char *, const char *, void *, size_t);
	int (*setxattr)(const char *, const char *, const void *, size_t, int);
	ssize_t (*listxattr)(const char *, char *, size_t);
	int (*removexattr)(const char *, const char *);
	/* SYS_C_PROC (error-number returns: posix_spawn, pthread_create) */
	int (*posix_spawn)(pid_t *, const char *,
			   const posix_spawn_file_actions_t *,
			   const posix_spawnattr_t *, char *const[], char *const[]);
	int (*pipe2)(int[2], int);
	int (*eventfd)(unsigned, int);
	pid_t (*waitpid)(pid_t, int *, int);
	int (*kill)(pid_t, int);
	int (*pidfd_open)(pid_t, unsigned);
	int (*pthread_create)(pthread_t *, const pthread_attr_t *,
			      void *(*)(void *), void *);
};

/* The table every wrapper calls through.  Tests change it with the calls
 * below, not by hand. */
extern struct uvfs_sys uvfs_sys;

#define SYS_INLINE static inline __attribute__((always_inline))

/* An entry of the table, loaded atomically: a test arms and disarms
 * faults (sys.c) while other threads call through it.  A plain load on
 * x86-64; acquire, so that a shim reached through a new entry sees the
 * fault set before it. */
#define SYS_FN(f) __atomic_load_n(&uvfs_sys.f, __ATOMIC_ACQUIRE)

/* ---- the wrappers: what the code calls instead of libc ---------------- */

SYS_INLINE void *sys_malloc(size_t n) { return SYS_FN(malloc)(n); }
SYS_INLINE void *sys_calloc(size_t n, size_t sz) { return SYS_FN(calloc)(n, sz); }
SYS_INLINE void *sys_realloc(void *p, size_t n) { return SYS_FN(realloc)(p, n); }
SYS_INLINE char *sys_strdup(const char *s) { return SYS_FN(strdup)(s); }
SYS_INLINE char *sys_strndup(const char *s, size_t n) { return SYS_FN(strndup)(s, n); }
/* asprintf: the count, or -1 (and *out untouched: unlike glibc's, which
 * leaves it undefined).  Exported as uvfs_sys_asprintf: every name the
 * library exports carries its prefix (libuvfs-sys.map). */
#define sys_asprintf uvfs_sys_asprintf
int sys_asprintf(char **out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

SYS_INLINE ssize_t sys_read(int fd, void *b, size_t n) { return SYS_FN(read)(fd, b, n); }
SYS_INLINE ssize_t sys_write(int fd, const void *b, size_t n) { return SYS_FN(write)(fd, b, n); }
SYS_INLINE ssize_t sys_pread(int fd, void *b, size_t n, off_t o) { return SYS_FN(pread)(fd, b, n, o); }
SYS_INLINE ssize_t sys_pwrite(int fd, const void *b, size_t n, off_t o) { return SYS_FN(pwrite)(fd, b, n, o); }

SYS_INLINE int sys_socket(int d, int t, int p) { return SYS_FN(socket)(d, t, p); }
SYS_INLINE int sys_socketpair(int d, int t, int p, int sv[2]) { return SYS_FN(socketpair)(d, t, p, sv); }
SYS_INLINE int sys_connect(int fd, const struct sockaddr *a, socklen_t l) { return SYS_FN(connect)(fd, a, l); }
SYS_INLINE int sys_bind(int fd, const struct sockaddr *a, socklen_t l) { return SYS_FN(bind)(fd, a, l); }
SYS_INLINE int sys_listen(int fd, int backlog) { return SYS_FN(listen)(fd, backlog); }
SYS_INLINE int sys_accept4(int fd, struct sockaddr *a, socklen_t *l, int fl) { return SYS_FN(accept4)(fd, a, l, fl); }
SYS_INLINE ssize_t sys_send(int fd, const void *b, size_t n, int fl) { return SYS_FN(send)(fd, b, n, fl); }
SYS_INLINE ssize_t sys_sendmsg(int fd, const struct msghdr *m, int fl) { return SYS_FN(sendmsg)(fd, m, fl); }
SYS_INLINE ssize_t sys_recv(int fd, void *b, size_t n, int fl) { return SYS_FN(recv)(fd, b, n, fl); }
SYS_INLINE ssize_t sys_recvmsg(int fd, struct msghdr *m, int fl) { return SYS_FN(recvmsg)(fd, m, fl); }
SYS_INLINE int sys_shutdown(int fd, int how) { return SYS_FN(shutdown)(fd, how); }
SYS_INLINE int sys_poll(struct pollfd *p, nfds_t n, int ms) { return SYS_FN(poll)(p, n, ms); }
SYS_INLINE int sys_setsockopt(int fd, int lv, int o, const void *v, socklen_t l) { return SYS_FN(setsockopt)(fd, lv, o, v, l); }
SYS_INLINE int sys_getsockopt(int fd, int lv, int o, void *v, socklen_t *l) { return SYS_FN(getsockopt)(fd, lv, o, v, l); }

SYS_INLINE int sys_openat(int dfd, const char *p, int fl, mode_t m) { return SYS_FN(openat)(dfd, p, fl, m); }
/* openat2(2): the descriptor or -1 and errno */
SYS_INLINE long sys_openat2(int dfd, const char *p, struct open_how *h, size_t sz) { return SYS_FN(openat2)(dfd, p, h, sz); }
SYS_INLINE int sys_close(int fd) { return SYS_FN(close)(fd); }
SYS_INLINE int sys_dup(int fd) { return SYS_FN(dup)(fd); }
/* fcntl with an integer argument (or none: pass 0) */
SYS_INLINE int sys_fcntl(int fd, int cmd, long arg) { return SYS_FN(fcntl)(fd, cmd, arg); }
/* fcntl with a struct flock (F_OFD_SETLK, F_OFD_GETLK, ...) */
SYS_INLINE int sys_fcntl_lock(int fd, int cmd, struct flock *fl) { return SYS_FN(fcntl_lock)(fd, cmd, fl); }
SYS_INLINE int sys_fstat(int fd, struct stat *st) { return SYS_FN(fstat)(fd, st); }
SYS_INLINE int sys_fstatat(int dfd, const char *p, struct stat *st, int fl) { return SYS_FN(fstatat)(dfd, p, st, fl); }
SYS_INLINE int sys_mkdirat(int dfd, const char *p, mode_t m) { return SYS_FN(mkdirat)(dfd, p, m); }
SYS_INLINE int sys_mknodat(int dfd, const char *p, mode_t m, dev_t d) { return SYS_FN(mknodat)(dfd, p, m, d); }
SYS_INLINE int sys_unlinkat(int dfd, const char *p, int fl) { return SYS_FN(unlinkat)(dfd, p, fl); }
SYS_INLINE int sys_renameat(int od, const char *op, int nd, const char *np) { return SYS_FN(renameat)(od, op, nd, np); }
SYS_INLINE int sys_renameat2(int od, const char *op, int nd, const char *np, unsigned fl) { return SYS_FN(renameat2)(od, op, nd, np, fl); }
SYS_INLINE int sys_linkat(int od, const char *op, int nd, const char *np, int fl) { return SYS_FN(linkat)(od, op, nd, np, fl); }
SYS_INLINE int sys_symlinkat(const char *t, int dfd, const char *p) { return SYS_FN(symlinkat)(t, dfd, p); }
SYS_INLINE ssize_t sys_readlinkat(int dfd, const char *p, char *b, size_t n) { return SYS_FN(readlinkat)(dfd, p, b, n); }
SYS_INLINE int sys_fchownat(int dfd, const char *p, uid_t u, gid_t g, int fl) { return SYS_FN(fchownat)(dfd, p, u, g, fl); }
SYS_INLINE int sys_fchmod(int fd, mode_t m) { return SYS_FN(fchmod)(fd, m); }
SYS_INLINE int sys_fchmodat(int dfd, const char *p, mode_t m, int fl) { return SYS_FN(fchmodat)(dfd, p, m, fl); }
SYS_INLINE int sys_utimensat(int dfd, const char *p, const struct timespec t[2], int fl) { return SYS_FN(utimensat)(dfd, p, t, fl); }
SYS_INLINE int sys_futimens(int fd, const struct timespec t[2]) { return SYS_FN(futimens)(fd, t); }
SYS_INLINE int sys_ftruncate(int fd, off_t len) { return SYS_FN(ftruncate)(fd, len); }
SYS_INLINE int sys_fsync(int fd) { return SYS_FN(fsync)(fd); }
SYS_INLINE int sys_fdatasync(int fd) { return SYS_FN(fdatasync)(fd); }
SYS_INLINE int sys_fstatfs(int fd, struct statfs *s) { return SYS_FN(fstatfs)(fd, s); }
SYS_INLINE off_t sys_lseek(int fd, off_t o, int wh) { return SYS_FN(lseek)(fd, o, wh); }
SYS_INLINE ssize_t sys_getdents64(int fd, void *b, size_t n) { return SYS_FN(getdents64)(fd, b, n); }
SYS_INLINE ssize_t sys_getxattr(const char *p, const char *n, void *v, size_t sz) { return SYS_FN(getxattr)(p, n, v, sz); }
SYS_INLINE int sys_setxattr(const char *p, const char *n, const void *v, size_t sz, int fl) { return SYS_FN(setxattr)(p, n, v, sz, fl); }
SYS_INLINE ssize_t sys_listxattr(const char *p, char *l, size_t sz) { return SYS_FN(listxattr)(p, l, sz); }
SYS_INLINE int sys_removexattr(const char *p, const char *n) { return SYS_FN(removexattr)(p, n); }

/* posix_spawn and pthread_create return an error number (0 on success) */
SYS_INLINE int sys_posix_spawn(pid_t *pid, const char *path,
			       const posix_spawn_file_actions_t *fa,
			       const posix_spawnattr_t *at, char *const argv[],
			       char *const envp[])
{
	return SYS_FN(posix_spawn)(pid, path, fa, at, argv, envp);
}
SYS_INLINE int sys_pipe2(int fds[2], int fl) { return SYS_FN(pipe2)(fds, fl); }
SYS_INLINE int sys_eventfd(unsigned init, int fl) { return SYS_FN(eventfd)(init, fl); }
SYS_INLINE pid_t sys_waitpid(pid_t pid, int *st, int opt) { return SYS_FN(waitpid)(pid, st, opt); }
SYS_INLINE int sys_kill(pid_t pid, int sig) { return SYS_FN(kill)(pid, sig); }
SYS_INLINE int sys_pidfd_open(pid_t pid, unsigned fl) { return SYS_FN(pidfd_open)(pid, fl); }
SYS_INLINE int sys_pthread_create(pthread_t *t, const pthread_attr_t *a,
				  void *(*fn)(void *), void *arg)
{
	return SYS_FN(pthread_create)(t, a, fn, arg);
}

/* ---- for tests: changing the table ------------------------------------- */

/* Set the entry called `name` ("read", "malloc", ...) to fn; the previous
 * entry, or NULL (and nothing changed) when no entry has that name.  An
 * entry set this way stays while a fault is armed on its class: the
 * shim passes the calls it does not fail on to it. */
void *uvfs_sys_set(const char *name, void *fn);
/* Put libc back in every entry and disarm. */
void uvfs_sys_reset(void);
/* The class of the entry called `name`, or 0. */
unsigned uvfs_sys_class(const char *name);

/* Arm a fault: counting from now, the `nth` call (1 = the next) of any
 * class in `classes` fails with `err` (0: the class's usual error: ENOMEM,
 * EIO, ECONNRESET, EIO, EAGAIN); with `persist`, every later call of those
 * classes fails too.  nth = 0 arms nothing but counting: the shims count
 * and record sites, and fail nothing (a dry run, to learn how many calls a
 * workload makes).  A new arm replaces the previous one and resets the
 * counters. */
void uvfs_sys_fault_arm(unsigned classes, unsigned long nth, int err,
			bool persist);
/* Arm a fault on a call site instead of a count: the first call of the
 * classes from site (a return address, as the trace and the site set
 * give them) fails; with persist, every call of the classes after it
 * too.  For sites a count cannot reach reliably (their order varies
 * between threads). */
void uvfs_sys_fault_arm_site(unsigned classes, uintptr_t site, int err,
			     bool persist);
/* How many calls from site have failed since the process started (or
 * the last uvfs_sys_sites_clear). */
unsigned long uvfs_sys_site_failed(uintptr_t site);
/* After an arm: record the call site (return address) of the ith call
 * counted in sites[i - 1], for i <= cap (0 where no call came).  A loop
 * uses it to pick, from a dry run, one N that fails each site.  sites
 * must stay valid until the next arm. */
void uvfs_sys_fault_trace(uintptr_t *sites, unsigned long cap);
/* Disarm: libc (or what uvfs_sys_set put there) again, at zero cost. */
void uvfs_sys_fault_disarm(void);

struct uvfs_sys_fault_stats {
	unsigned long calls;     /* calls the shims saw since the arm */
	unsigned long failed;    /* of them, failed by the fault */
	uintptr_t fail_site;     /* return address of the first failed call */
	const char *fail_name;   /* its entry ("read"), or NULL */
};
void uvfs_sys_fault_stats(struct uvfs_sys_fault_stats *st);

/* Call sites the shims have seen since the process started (or the last
 * uvfs_sys_sites_clear), per class mask: distinct return addresses.
 * uvfs_sys_sites_failed counts those where a fault was injected. */
unsigned uvfs_sys_sites_seen(unsigned classes);
unsigned uvfs_sys_sites_failed(unsigned classes);
void uvfs_sys_sites_clear(void);
/* Print each site seen (object+offset, entry, calls, failed) to stderr,
 * for the test's report: `addr2line -e object offset-1` names the line. */
void uvfs_sys_sites_dump(unsigned classes);

#endif /* UVFS_SYS_H */
