/*
 * exec.c - runs a sequence in one directory and describes what it left.
 *
 * seq_run(s, root, name, res, is_ref, features): makes ROOT/NAME (0755,
 * root's) and in it the working directory ROOT/NAME/w (the sequence's
 * owner and mode), forks a child that chdirs there and makes the calls
 * one by one, each as root or as the other user (seteuid for that call:
 * the saved uid stays 0), and writes each call's result into res[]
 * (shared memory the caller mapped, SEQ_MAX_CALLS + 1 of them); on the
 * reference side (is_ref) also the conditions the accepted list names
 * (struct result.cond), before each call and, in res[n], after the last;
 * with FEAT_TIMES, which times of the files each call names it changed
 * (times.c: the stats are made as root, around the call).  The child has
 * 30 s (alarm); a call that hangs kills it and the run reports
 * -ETIMEDOUT.  Descriptors are the child's, in SEQ_SLOTS slots, closed
 * when it exits.  ".." of the working directory is ROOT/NAME, the
 * sequence's own, so a symlink or rename may use it.
 *
 * seq_snapshot(dir): a text line per name below DIR (sorted, symlinks not
 * followed): type, mode, nlink, uid, gid, size and a digest of the data
 * (files) or the target (symlinks).  Directories' sizes and every time,
 * inode and block count are left out (POSIX does not fix them).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/mount.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "diff.h"

#define CHILD_SECONDS 30

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}
#define FNV0 0xcbf29ce484222325ULL

static char type_char(mode_t m)
{
	return S_ISREG(m) ? 'f' : S_ISDIR(m) ? 'd' : S_ISLNK(m) ? 'l' : '?';
}

/* the fields POSIX fixes: type, mode, nlink, uid, gid, size (not of a
 * directory) */
static void stat_info(const struct stat *st, char *buf, size_t len)
{
	if (S_ISDIR(st->st_mode))
		snprintf(buf, len, "%c 0%o n%lu u%u g%u", type_char(st->st_mode),
			 st->st_mode & 07777, (unsigned long)st->st_nlink,
			 st->st_uid, st->st_gid);
	else
		snprintf(buf, len, "%c 0%o n%lu u%u g%u s%lld",
			 type_char(st->st_mode), st->st_mode & 07777,
			 (unsigned long)st->st_nlink, st->st_uid, st->st_gid,
			 (long long)st->st_size);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* sorted names of a directory, without . and .. */
static int list_dir(const char *path, char *buf, size_t len)
{
	DIR *d = opendir(path);
	char *names[256];
	int n = 0;
	struct dirent *e;
	size_t off = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)) && n < 256) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), cmp_str);
	buf[0] = 0;
	for (int i = 0; i < n; i++) {
		if (off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%s",
						i ? "," : "", names[i]);
		free(names[i]);
	}
	return n;
}

static void fill(char *buf, long n, long seed)
{
	for (long i = 0; i < n; i++)
		buf[i] = (char)(seed + (i * 31) % 251);
}

/* as the other user for one call; back to root after */
static void become(int other)
{
	static const gid_t og = OTHER_GID;

	if (other) {
		if (setgroups(1, &og) < 0 || setegid(OTHER_GID) < 0 ||
		    seteuid(OTHER_UID) < 0)
			_exit(3);
	} else {
		if (seteuid(0) < 0 || setegid(0) < 0 || setgroups(0, NULL) < 0)
			_exit(3);
	}
}

struct slot {
	int fd;
	char path[SEQ_PATH_MAX];
	ino_t ino;
	int by_other;           /* opened by the other user */
};

/* On the reference side only (on the other it would add requests that
 * change what is cached): the conditions the accepted list may name.
 *
 * They are looked up through a quiet view of the sequence's directory: a
 * detached clone of its mount (open_tree), noatime and read-only.  A path
 * through a symlink follows it, and following a symlink is an access
 * that moves its atime (relatime); through the working directory itself
 * that would move it on the reference side only, before the call whose
 * times are compared, and the call then finds it already accessed.
 * Where the kernel cannot make the view, the working directory itself. */
static int quiet_fd = AT_FDCWD;

static void quiet_open(void)
{
	struct mount_attr a = {
		.attr_set = MOUNT_ATTR_NOATIME | MOUNT_ATTR_RDONLY,
		.attr_clr = MOUNT_ATTR__ATIME,
	};
	int t = (int)syscall(SYS_open_tree, AT_FDCWD, "..",
			     OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);

	if (t < 0)
		return;
	if (syscall(SYS_mount_setattr, t, "", AT_EMPTY_PATH, &a,
		    sizeof(a)) == 0)
		quiet_fd = openat(t, "w", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (quiet_fd < 0)
		quiet_fd = AT_FDCWD;
	close(t);
}

static int quiet_lstat(const char *path, struct stat *st)
{
	return fstatat(quiet_fd, path, st, AT_SYMLINK_NOFOLLOW);
}

static int name_lost(const struct slot *sl)
{
	struct stat a, b;

	return sl->fd >= 0 && fstat(sl->fd, &a) == 0 &&
	       (quiet_lstat(sl->path, &b) < 0 || a.st_ino != b.st_ino ||
		a.st_dev != b.st_dev);
}

#define MAX_MOVED 8
struct moved {                  /* names renamed away from (reference) */
	int linked;             /* a link() succeeded */
	int falloc_other;       /* a fallocate() by the other user */
	int ids_cleared;        /* COND_IDS_CLEARED held for a call */
	int silly;              /* COND_SILLY held for a call */
	int silly_dir;          /* COND_SILLY_DIR held for a call */
	int n;
	char path[MAX_MOVED][SEQ_PATH_MAX];
};

/* Whether a write or truncation of the file st by the other user clears
 * its set-id bits (Linux's setattr_should_drop_suidgid: set-user-ID, and
 * set-group-ID with group execute or outside the writer's group). */
static int clears_ids(const struct stat *st)
{
	return S_ISREG(st->st_mode) &&
	       ((st->st_mode & S_ISUID) ||
		((st->st_mode & S_ISGID) &&
		 ((st->st_mode & S_IXGRP) || st->st_gid != OTHER_GID)));
}

/* The file a call writes or truncates (-1: none), for COND_IDS_CLEARED
 * and COND_SAME_SIZE. */
static int written_stat(const struct call *c, const struct slot *slots,
			struct stat *st)
{
	switch (c->op) {
	case OP_WRITE: case OP_PWRITE: case OP_FTRUNCATE: case OP_FALLOCATE:
		return slots[c->fd].fd >= 0 ? fstat(slots[c->fd].fd, st) : -1;
	case OP_COPY_RANGE:
		return slots[c->fd2].fd >= 0 ? fstat(slots[c->fd2].fd, st) : -1;
	case OP_TRUNCATE:
		return fstatat(quiet_fd, c->p1, st, 0);
	default:
		return -1;
	}
}

/* Is the descriptor a write or truncation goes through one the other
 * user opened?  (An NFS client sends a write with the credentials the
 * file was opened with, and the server clears set-id bits by those.) */
static int written_via_other(const struct call *c, const struct slot *slots)
{
	switch (c->op) {
	case OP_WRITE: case OP_PWRITE: case OP_FTRUNCATE: case OP_FALLOCATE:
		return slots[c->fd].fd >= 0 && slots[c->fd].by_other;
	case OP_COPY_RANGE:
		return slots[c->fd2].fd >= 0 && slots[c->fd2].by_other;
	default:
		return 0;
	}
}

static int conditions(const struct call *c, const struct slot *slots,
		      struct moved *mv)
{
	int cond = 0;
	const struct slot *sl = &slots[c->fd];
	struct stat a, b;

	if (name_lost(sl))
		cond |= COND_FD_NAME_LOST;
	for (int i = 0; i < SEQ_SLOTS; i++)
		if (name_lost(&slots[i]))
			cond |= COND_OPEN_NAME_LOST;
	if (mv->linked)
		cond |= COND_LINKED;
	if (mv->falloc_other || (c->op == OP_FALLOCATE && c->user))
		cond |= COND_FALLOC_OTHER;
	if ((c->op == OP_CHOWN || c->op == OP_FCHOWN) && c->a == -1 &&
	    c->b == -1)
		cond |= COND_NOOP_CHOWN;
	if (sl->fd >= 0 && fstat(sl->fd, &a) == 0 && S_ISDIR(a.st_mode))
		cond |= COND_FD_DIR;
	if (c->op == OP_TRUNCATE && c->user &&
	    fstatat(quiet_fd, c->p1, &b, 0) == 0 && S_ISREG(b.st_mode) &&
	    ((b.st_mode & S_ISUID) ||
	     (b.st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP)))
		cond |= COND_KILLPRIV;
	if (written_stat(c, slots, &b) == 0) {
		if ((c->user || written_via_other(c, slots)) &&
		    clears_ids(&b))
			mv->ids_cleared = 1;
		if ((c->op == OP_TRUNCATE || c->op == OP_FTRUNCATE) &&
		    b.st_size == c->b)
			cond |= COND_SAME_SIZE;
	}
	if (mv->ids_cleared)
		cond |= COND_IDS_CLEARED;
	if ((c->op == OP_UNLINK || c->op == OP_RENAME) &&
	    quiet_lstat(c->op == OP_UNLINK ? c->p1 : c->p2, &b) == 0 &&
	    S_ISREG(b.st_mode))
		for (int i = 0; i < SEQ_SLOTS; i++)
			if (slots[i].fd >= 0 && fstat(slots[i].fd, &a) == 0 &&
			    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
				mv->silly = 1;
	if (mv->silly)
		cond |= COND_SILLY;
	if (mv->silly &&
	    (((c->op == OP_CHMOD || c->op == OP_CHOWN) &&
	      fstatat(quiet_fd, c->p1, &b, 0) == 0 && S_ISDIR(b.st_mode)) ||
	     ((c->op == OP_FCHMOD || c->op == OP_FCHOWN) &&
	      (cond & COND_FD_DIR))))
		mv->silly_dir = 1;
	if (mv->silly_dir)
		cond |= COND_SILLY_DIR;
	if (c->op == OP_UTIMENS && c->c && quiet_lstat(c->p1, &b) == 0 &&
	    S_ISLNK(b.st_mode))
		cond |= COND_LINK_TIMES;
	for (int i = 0; i < mv->n; i++)
		if (quiet_lstat(mv->path[i], &b) == 0)
			cond |= COND_RENAMED_REUSED;
	return cond;
}

static void run_call(const struct call *c, struct slot *slots,
		     struct result *r, char *buf)
{
	struct slot *sl = &slots[c->fd];
	int fd = sl->fd, fd2 = slots[c->fd2].fd;
	long ret = 0;
	struct stat st;

	r->info[0] = 0;
	errno = 0;
	switch (c->op) {
	case OP_OPEN:
		if (sl->fd >= 0)
			close(sl->fd);
		sl->fd = -1;
		ret = open(c->p1, (int)c->a | O_CLOEXEC, (mode_t)c->b);
		if (ret >= 0) {
			sl->fd = (int)ret;
			snprintf(sl->path, sizeof(sl->path), "%s", c->p1);
			sl->ino = fstat(sl->fd, &st) == 0 ? st.st_ino : 0;
			sl->by_other = c->user != 0;
			ret = 0;
		}
		break;
	case OP_CLOSE:
		ret = close(fd);
		sl->fd = -1;
		break;
	case OP_READ:
	case OP_PREAD:
		ret = c->op == OP_READ ? read(fd, buf, (size_t)c->c) :
		      pread(fd, buf, (size_t)c->c, c->b);
		if (ret > 0)
			snprintf(r->info, sizeof(r->info), "data %016llx",
				 (unsigned long long)fnv(FNV0, buf, (size_t)ret));
		break;
	case OP_WRITE:
	case OP_PWRITE:
		fill(buf, c->c, c->d);
		ret = c->op == OP_WRITE ? write(fd, buf, (size_t)c->c) :
		      pwrite(fd, buf, (size_t)c->c, c->b);
		break;
	case OP_LSEEK:
		ret = lseek(fd, c->b, (int)c->a);
		break;
	case OP_FTRUNCATE:
		ret = ftruncate(fd, c->b);
		break;
	case OP_TRUNCATE:
		ret = truncate(c->p1, c->b);
		break;
	case OP_RENAME:
		ret = renameat2(AT_FDCWD, c->p1, AT_FDCWD, c->p2, (unsigned)c->a);
		break;
	case OP_LINK:
		ret = link(c->p1, c->p2);
		break;
	case OP_SYMLINK:
		ret = symlink(c->p2, c->p1);
		break;
	case OP_READLINK:
		ret = readlink(c->p1, buf, 256);
		if (ret >= 0)
			snprintf(r->info, sizeof(r->info), "%.*s", (int)ret, buf);
		break;
	case OP_UNLINK:
		ret = unlink(c->p1);
		break;
	case OP_MKDIR:
		ret = mkdir(c->p1, (mode_t)c->b);
		break;
	case OP_RMDIR:
		ret = rmdir(c->p1);
		break;
	case OP_CHMOD:
		ret = chmod(c->p1, (mode_t)c->b);
		break;
	case OP_FCHMOD:
		ret = fchmod(fd, (mode_t)c->b);
		break;
	case OP_CHOWN:
		ret = fchownat(AT_FDCWD, c->p1, (uid_t)c->a, (gid_t)c->b,
			       c->c ? AT_SYMLINK_NOFOLLOW : 0);
		break;
	case OP_FCHOWN:
		ret = fchown(fd, (uid_t)c->a, (gid_t)c->b);
		break;
	case OP_UTIMENS: {
		struct timespec ts[2] = { { 1000000000, 5 }, { 1200000000, 7 } };
		if (c->a == 2) {
			ts[0].tv_nsec = UTIME_OMIT;
			ts[1].tv_nsec = UTIME_NOW;
		}
		ret = utimensat(AT_FDCWD, c->p1, c->a == 0 ? NULL : ts,
				c->c ? AT_SYMLINK_NOFOLLOW : 0);
		if (ret == 0 && c->a == 1 &&
		    fstatat(AT_FDCWD, c->p1, &st, c->c ? AT_SYMLINK_NOFOLLOW : 0) == 0)
			snprintf(r->info, sizeof(r->info), "mtime %lld.%09ld",
				 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
		break;
	}
	case OP_READDIR:
		ret = list_dir(c->p1, r->info, sizeof(r->info));
		if (ret < 0) {
			errno = (int)-ret;
			ret = -1;
		}
		break;
	case OP_STAT:
	case OP_FSTAT:
		ret = c->op == OP_STAT ? lstat(c->p1, &st) : fstat(fd, &st);
		if (ret == 0)
			stat_info(&st, r->info, sizeof(r->info));
		break;
	case OP_FALLOCATE:
		ret = fallocate(fd, (int)c->a, c->b, c->c);
		break;
	case OP_COPY_RANGE: {
		loff_t in = c->b, out = c->c;
		ret = copy_file_range(fd, &in, fd2, &out, (size_t)c->d, 0);
		break;
	}
	default:
		ret = -1;
		errno = ENOSYS;
	}
	r->ret = ret < 0 ? -1 : ret;
	r->err = ret < 0 ? errno : 0;
}

static void child(const struct seq *s, const char *wdir, struct result *res,
		  int is_ref, unsigned features)
{
	struct slot slots[SEQ_SLOTS];
	struct moved mv = { 0 };
	char *buf = malloc(1 << 20);

	alarm(CHILD_SECONDS);
	umask(0);
	if (!buf || chdir(wdir) < 0 || setgroups(0, NULL) < 0)
		_exit(2);
	if (is_ref)
		quiet_open();
	for (int i = 0; i < SEQ_SLOTS; i++)
		slots[i].fd = -1;
	for (int i = 0; i < s->n; i++) {
		const struct call *c = &s->calls[i];
		struct times_obs tob;
		int fds[2] = { slots[c->fd].fd, slots[c->fd2].fd };
		res[i].cond = is_ref ? conditions(c, slots, &mv) : 0;
		if (features & FEAT_TIMES)
			times_before(c, fds, &tob);
		become(c->user);
		run_call(c, slots, &res[i], buf);
		become(0);
		if (features & FEAT_TIMES) {
			/* (an open or a close changed the slot) */
			fds[0] = slots[c->fd].fd;
			times_after(c, fds, &tob, res[i].times,
				    sizeof(res[i].times));
		}
		if (is_ref && c->op == OP_RENAME && res[i].ret == 0 &&
		    mv.n < MAX_MOVED)
			snprintf(mv.path[mv.n++], SEQ_PATH_MAX, "%s", c->p1);
		if (c->op == OP_LINK && res[i].ret == 0)
			mv.linked = 1;
		if (c->op == OP_FALLOCATE && c->user)
			mv.falloc_other = 1;
	}
	if (is_ref) {           /* after the last call: res[n].cond */
		struct call none = { .op = OP_STAT };
		res[s->n].cond = conditions(&none, slots, &mv);
	}
	_exit(0);
}

int seq_run(const struct seq *s, const char *root, const char *name,
	    struct result *res, int is_ref, unsigned features)
{
	char top[4096], wdir[4200];
	int status;
	pid_t pid;

	snprintf(top, sizeof(top), "%s/%s", root, name);
	snprintf(wdir, sizeof(wdir), "%s/w", top);
	if (mkdir(top, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (mkdir(wdir, 0700) < 0 || chown(wdir, (uid_t)s->dir_uid,
					    (gid_t)s->dir_uid) < 0 ||
	    chmod(wdir, (mode_t)s->dir_mode) < 0)
		return -errno;
	for (int i = 0; i <= s->n; i++) {
		res[i].ret = -2;        /* not reached */
		res[i].err = 0;
		res[i].cond = 0;
		res[i].info[0] = 0;
		res[i].times[0] = 0;
	}
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		child(s, wdir, res, is_ref, features);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFSIGNALED(status))
		return WTERMSIG(status) == SIGALRM ? -ETIMEDOUT : -ECHILD;
	return WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}

/* ---- snapshot ---- */

struct sbuf {
	char *p;
	size_t len, cap;
};

static void sb_add(struct sbuf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->len, s, n + 1);
	b->len += n;
}

static void snap_dir(struct sbuf *b, const char *dir, const char *rel)
{
	DIR *d = opendir(dir);
	char *names[256];
	int n = 0;
	struct dirent *e;

	if (!d) {
		char line[600];
		snprintf(line, sizeof(line), "%s/ opendir: %s\n", rel,
			 errno_name(errno));
		sb_add(b, line);
		return;
	}
	while ((e = readdir(d)) && n < 256)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), cmp_str);
	for (int i = 0; i < n; i++) {
		char path[4096], r[1024], line[1500], info[128], extra[300] = "";
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		snprintf(r, sizeof(r), "%s%s%s", rel, *rel ? "/" : "", names[i]);
		if (lstat(path, &st) < 0) {
			snprintf(line, sizeof(line), "%s lstat: %s\n", r,
				 errno_name(errno));
			sb_add(b, line);
			free(names[i]);
			continue;
		}
		stat_info(&st, info, sizeof(info));
		if (S_ISLNK(st.st_mode)) {
			char t[256];
			ssize_t k = readlink(path, t, sizeof(t) - 1);
			snprintf(extra, sizeof(extra), " -> %.*s", k < 0 ? 1 : (int)k,
				 k < 0 ? "?" : t);
		} else if (S_ISREG(st.st_mode)) {
			int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			uint64_t h = FNV0;
			long total = 0;
			if (fd >= 0) {
				char data[65536];
				ssize_t k;
				while ((k = read(fd, data, sizeof(data))) > 0) {
					h = fnv(h, data, (size_t)k);
					total += k;
				}
				snprintf(extra, sizeof(extra), " data %016llx/%ld%s",
					 (unsigned long long)h, total,
					 k < 0 ? " (read error)" : "");
				close(fd);
			} else {
				snprintf(extra, sizeof(extra), " open: %s",
					 errno_name(errno));
			}
		}
		snprintf(line, sizeof(line), "%s %s%s\n", r, info, extra);
		sb_add(b, line);
		if (S_ISDIR(st.st_mode))
			snap_dir(b, path, r);
		free(names[i]);
	}
}

char *seq_snapshot(const char *dir)
{
	struct sbuf b = { 0 };

	sb_add(&b, "");
	snap_dir(&b, dir, "");
	return b.p;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) < 0 ? -1 : 0;
	return unlink(path) < 0 ? -1 : 0;
}

int tree_remove(const char *path)
{
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0 ? -errno : 0;
}
