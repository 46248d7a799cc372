/*
 * diff.h - the differential test's sequences of file-system calls
 * (tests/diff/, docs/differences.md).
 *
 * A sequence is a setup (the owner and mode of its working directory)
 * and a short list of calls over a small name space.  seq.c generates
 * one from a seed, writes it as text (a case file) and reads it back,
 * and prints it as C; exec.c runs it in one directory (a forked child
 * per run) and describes the tree it left; diffrun.c runs it on the
 * reference (tmpfs) and on a uvfs mount and compares.
 *
 * Lifecycle: a struct seq is plain data, owned by its caller; nothing
 * here allocates except seq_snapshot (the caller frees the string).
 * Single-threaded.
 */
#ifndef UVFS_TESTS_DIFF_H
#define UVFS_TESTS_DIFF_H

#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#define SEQ_MAX_CALLS 64
#define SEQ_SLOTS 4             /* descriptor slots fd0..fd3 */
#define SEQ_PATH_MAX 24
#define RES_INFO_MAX 120
#define OTHER_UID 65534         /* the user other than root (nobody) */
#define OTHER_GID 65534

enum op {
	OP_OPEN, OP_CLOSE, OP_READ, OP_WRITE, OP_PREAD, OP_PWRITE, OP_LSEEK,
	OP_FTRUNCATE, OP_TRUNCATE, OP_RENAME, OP_LINK, OP_SYMLINK,
	OP_READLINK, OP_UNLINK, OP_MKDIR, OP_RMDIR, OP_CHMOD, OP_FCHMOD,
	OP_CHOWN, OP_FCHOWN, OP_UTIMENS, OP_READDIR, OP_STAT, OP_FSTAT,
	OP_FALLOCATE, OP_COPY_RANGE,
	OP_COUNT
};

/* Call kinds the generator may leave out (--calls): each is switched on
 * once uvfsd has the call. */
enum feature {
	FEAT_FALLOCATE = 1 << 0,        /* fallocate(2), every mode */
	FEAT_SEEK_HOLE = 1 << 1,        /* lseek SEEK_DATA / SEEK_HOLE */
	FEAT_COPY_RANGE = 1 << 2,       /* copy_file_range(2) */
	FEAT_OTHER_USER = 1 << 3,       /* calls as a user other than root */
	FEAT_TIMES = 1 << 4,            /* which times each call changed
					   (times.c; not a call kind: the
					   same sequences either way) */
};

/*
 * One call.  What each field means depends on the op (seq.c,
 * call_format documents it per op):
 *   open      p1, fd (the slot it fills), a flags, b mode
 *   read      fd, c length               pread   fd, b offset, c length
 *   write     fd, c length, d byte        pwrite  fd, b offset, c, d
 *   lseek     fd, b offset, a whence
 *   ftruncate fd, b length                truncate p1, b length
 *   rename    p1 -> p2, a flags (renameat2)
 *   link      p1 -> p2                    symlink  p2 (target) at p1
 *   mkdir     p1, b mode                  chmod    p1, b mode
 *   fchmod    fd, b mode                  chown    p1, a uid, b gid, c nofollow
 *   fchown    fd, a uid, b gid            utimens  p1, a kind, c nofollow
 *   fallocate fd, a mode, b offset, c length
 *   copy      fd -> fd2, b offset in, c offset out, d length
 *   readlink, unlink, rmdir, readdir, stat: p1     close, fstat: fd
 * user: 0 root, 1 the other user.
 */
struct call {
	enum op op;
	int user;
	char p1[SEQ_PATH_MAX], p2[SEQ_PATH_MAX];
	int fd, fd2;
	long a, b, c, d;
};

struct seq {
	uint64_t seed;
	long dir_uid;           /* owner of the working directory */
	long dir_mode;          /* its mode */
	int n;
	struct call calls[SEQ_MAX_CALLS];
};

#define RES_TIMES_MAX 64

/* One call's outcome: ret (normalised: an open's is 0), err (errno or
 * 0), info (what it read: data digest, names, target, attributes),
 * times (with FEAT_TIMES: which times of the files it names it changed,
 * times.c; "" without). */
struct result {
	long ret;
	int err;
	int cond;               /* COND_* seen on this side before the call */
	char info[RES_INFO_MAX];
	char times[RES_TIMES_MAX];
};

/* times.c: the files a call names, as seen before it */
#define TIMES_OBJS 6
struct times_obs {
	struct stat st[TIMES_OBJS];
	int ok[TIMES_OBJS];
};

/* Conditions a rule of the accepted list may name, computed on each side
 * before the call runs (exec.c). */
enum cond {
	COND_FD_NAME_LOST = 1 << 0,     /* the call's descriptor's file is no
					   longer at the name it was opened by */
	COND_LINKED = 1 << 1,           /* a hard link was made earlier in
					   the sequence */
	COND_OPEN_NAME_LOST = 1 << 2,   /* some descriptor's file is no
					   longer at the name it was opened
					   by */
	COND_FD_DIR = 1 << 3,           /* the call's descriptor is a
					   directory's */
	COND_RENAMED_REUSED = 1 << 4,   /* a name a file was renamed away
					   from names something again */
	COND_NOOP_CHOWN = 1 << 5,       /* a chown to -1, -1 */
	COND_FALLOC_OTHER = 1 << 6,     /* a fallocate by the other user:
					   this call, or one earlier in the
					   sequence */
	COND_KILLPRIV = 1 << 7,         /* a truncate by the other user of a
					   file whose set-id bits it clears
					   (set-user-ID, or set-group-ID with
					   group execute) */
	COND_IDS_CLEARED = 1 << 8,      /* a write or truncation by the
					   other user, or through a
					   descriptor the other user opened,
					   of a file whose set-id bits it
					   clears (the kernel's rule): this
					   call, or one earlier in the
					   sequence */
	COND_SAME_SIZE = 1 << 9,        /* a truncate or ftruncate to the
					   size the file has */
	COND_LINK_TIMES = 1 << 10,      /* a utimensat of a symlink itself
					   (AT_SYMLINK_NOFOLLOW) */
	COND_SILLY = 1 << 11,           /* a file was unlinked or renamed
					   over while a descriptor had it
					   open: this call, or one earlier
					   in the sequence */
	COND_SILLY_DIR = 1 << 12,       /* COND_SILLY, then a chmod or
					   chown of a directory: this call,
					   or one earlier */
};

/* seq.c */
const char *op_name(enum op op);
int op_by_name(const char *name);
void seq_generate(struct seq *s, uint64_t seed, int ncalls_max,
		  unsigned features);
int seq_write(FILE *f, const struct seq *s);
int seq_read(FILE *f, struct seq *s, char *err, size_t errlen);
void call_format(const struct call *c, char *buf, size_t len);
const char *errno_name(int e);
int errno_by_name(const char *name);

/* exec.c */
int seq_run(const struct seq *s, const char *root, const char *name,
	    struct result *res, int is_ref, unsigned features);
char *seq_snapshot(const char *dir);
int tree_remove(const char *path);

/* times.c: before the call (stats the files it names, then waits for the
 * coarse clock to pass their times); after it, "p1:mc d1:- ..." (per
 * file: a, m, c for each time that moved, - for none) into out.  fds:
 * the call's two descriptors (-1: none). */
void times_before(const struct call *c, const int *fds, struct times_obs *t);
void times_after(const struct call *c, const int *fds,
		 const struct times_obs *t, char *out, size_t len);

#endif
