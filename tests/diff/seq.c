/*
 * seq.c - sequences of calls for the differential test: generated from a
 * seed (the same seed gives the same sequence on every machine: our own
 * generator, no libc rand), written to and read from case files, printed
 * as C.
 *
 * The name space is small on purpose, so that calls collide: three files
 * at the top, two directories, names inside them, a name below a file
 * (ENOTDIR), "." and ".." (the sequence's parent directory is its own:
 * see exec.c).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diff.h"

static const char *const op_names[OP_COUNT] = {
	[OP_OPEN] = "open", [OP_CLOSE] = "close", [OP_READ] = "read",
	[OP_WRITE] = "write", [OP_PREAD] = "pread", [OP_PWRITE] = "pwrite",
	[OP_LSEEK] = "lseek", [OP_FTRUNCATE] = "ftruncate",
	[OP_TRUNCATE] = "truncate", [OP_RENAME] = "rename",
	[OP_LINK] = "link", [OP_SYMLINK] = "symlink",
	[OP_READLINK] = "readlink", [OP_UNLINK] = "unlink",
	[OP_MKDIR] = "mkdir", [OP_RMDIR] = "rmdir", [OP_CHMOD] = "chmod",
	[OP_FCHMOD] = "fchmod", [OP_CHOWN] = "chown", [OP_FCHOWN] = "fchown",
	[OP_UTIMENS] = "utimens", [OP_READDIR] = "readdir",
	[OP_STAT] = "stat", [OP_FSTAT] = "fstat",
	[OP_FALLOCATE] = "fallocate", [OP_COPY_RANGE] = "copy_file_range",
};

const char *op_name(enum op op)
{
	return op >= 0 && op < OP_COUNT ? op_names[op] : "?";
}

int op_by_name(const char *name)
{
	for (int i = 0; i < OP_COUNT; i++)
		if (strcmp(op_names[i], name) == 0)
			return i;
	return -1;
}

/* ---- errno names (the ones file-system calls give) ---- */

static const struct { int e; const char *name; } errnos[] = {
	{ 0, "0" }, { EPERM, "EPERM" }, { ENOENT, "ENOENT" },
	{ EIO, "EIO" }, { EBADF, "EBADF" }, { EAGAIN, "EAGAIN" },
	{ ENOMEM, "ENOMEM" }, { EACCES, "EACCES" }, { EFAULT, "EFAULT" },
	{ EBUSY, "EBUSY" }, { EEXIST, "EEXIST" }, { EXDEV, "EXDEV" },
	{ ENOTDIR, "ENOTDIR" }, { EISDIR, "EISDIR" }, { EINVAL, "EINVAL" },
	{ EMFILE, "EMFILE" }, { ETXTBSY, "ETXTBSY" }, { EFBIG, "EFBIG" },
	{ ENOSPC, "ENOSPC" }, { ESPIPE, "ESPIPE" }, { EROFS, "EROFS" },
	{ EMLINK, "EMLINK" }, { ERANGE, "ERANGE" }, { ENAMETOOLONG, "ENAMETOOLONG" },
	{ ENOSYS, "ENOSYS" }, { ENOTEMPTY, "ENOTEMPTY" }, { ELOOP, "ELOOP" },
	{ ENXIO, "ENXIO" }, { EOPNOTSUPP, "EOPNOTSUPP" }, { ESTALE, "ESTALE" },
	{ EOVERFLOW, "EOVERFLOW" }, { ENODATA, "ENODATA" }, { E2BIG, "E2BIG" },
	{ ENOTCONN, "ENOTCONN" },
};

const char *errno_name(int e)
{
	static char buf[16];

	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (errnos[i].e == e)
			return errnos[i].name;
	snprintf(buf, sizeof(buf), "errno%d", e);
	return buf;
}

int errno_by_name(const char *name)
{
	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (strcmp(errnos[i].name, name) == 0)
			return errnos[i].e;
	if (strncmp(name, "errno", 5) == 0 && isdigit((unsigned char)name[5]))
		return atoi(name + 5);
	return -1;
}

/* ---- the generator ---- */

static uint64_t rng_next(uint64_t *s)       /* splitmix64 */
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static long rnd(uint64_t *s, long n)        /* 0 .. n-1 */
{
	return (long)(rng_next(s) % (uint64_t)n);
}

#define PICK(s, arr) (arr[rnd(s, sizeof(arr) / sizeof(arr[0]))])

static const char *const paths[] = {
	"a", "a", "b", "b", "c", "D", "D", "E", "D/a", "D/a", "D/b", "D/F",
	"D/F/a", "E/a", "a/x", "l", ".",
};
static const char *const targets[] = {
	"a", "b", "D", "D/a", "nowhere", "../w/a", "E", "l", "a/",
};
static const long modes[] = {
	0644, 0644, 0600, 0755, 0777, 0400, 0444, 0, 0640, 0700, 02755,
	04755, 01777, 02644, 0666,
};
static const long ids[] = { 0, OTHER_UID, 1000, -1 };
static const long gids[] = { 0, OTHER_GID, 1000, -1 };

static long rnd_off(uint64_t *s)
{
	switch (rnd(s, 18)) {
	case 0: case 1: return 0;
	case 2: case 3: return 1;
	case 4: case 5: return 4095 + rnd(s, 3);
	case 6: case 7: return 65536;
	case 8: case 9: return 100000 + rnd(s, 10);
	case 10: return (1 << 20) + rnd(s, 5000);   /* past 1 MiB: rarer, */
	default: return rnd(s, 300);                /* the snapshot reads it */
	}
}

static long rnd_len(uint64_t *s)
{
	switch (rnd(s, 8)) {
	case 0: return 0;
	case 1: return 1;
	case 2: return 4096;
	case 3: return 5000 + rnd(s, 100);
	case 4: return 70000;
	default: return 1 + rnd(s, 200);
	}
}

static long rnd_open_flags(uint64_t *s)
{
	static const long acc[] = { O_RDONLY, O_WRONLY, O_RDWR, O_RDWR };
	long f = PICK(s, acc);

	if (rnd(s, 100) < 50) f |= O_CREAT;
	if (rnd(s, 100) < 12) f |= O_EXCL;
	if (rnd(s, 100) < 15) f |= O_TRUNC;
	if (rnd(s, 100) < 15) f |= O_APPEND;
	if (rnd(s, 100) < 6) f |= O_DIRECTORY;
	if (rnd(s, 100) < 8) f |= O_NOFOLLOW;
	return f;
}

/* weights of the ops; 0 = never (guarded ones are set by features) */
static const int weights[OP_COUNT] = {
	[OP_OPEN] = 14, [OP_CLOSE] = 4, [OP_READ] = 4, [OP_WRITE] = 7,
	[OP_PREAD] = 4, [OP_PWRITE] = 6, [OP_LSEEK] = 3, [OP_FTRUNCATE] = 3,
	[OP_TRUNCATE] = 3, [OP_RENAME] = 6, [OP_LINK] = 4, [OP_SYMLINK] = 3,
	[OP_READLINK] = 2, [OP_UNLINK] = 4, [OP_MKDIR] = 5, [OP_RMDIR] = 2,
	[OP_CHMOD] = 3, [OP_FCHMOD] = 2, [OP_CHOWN] = 3, [OP_FCHOWN] = 1,
	[OP_UTIMENS] = 2, [OP_READDIR] = 3, [OP_STAT] = 4, [OP_FSTAT] = 3,
	[OP_FALLOCATE] = 4, [OP_COPY_RANGE] = 3,
};

/* a slot: mostly one the sequence has opened so far (*opened, a mask) */
static int pick_slot(uint64_t *s, unsigned opened)
{
	int k;

	if (!opened || rnd(s, 10) == 0)
		return (int)rnd(s, SEQ_SLOTS);
	do
		k = (int)rnd(s, SEQ_SLOTS);
	while (!(opened & (1u << k)));
	return k;
}

static void gen_call(struct call *c, uint64_t *s, unsigned features,
		     int user_mode, unsigned *opened)
{
	int total = 0, w[OP_COUNT];

	for (int i = 0; i < OP_COUNT; i++) {
		w[i] = weights[i];
		if ((i == OP_FALLOCATE && !(features & FEAT_FALLOCATE)) ||
		    (i == OP_COPY_RANGE && !(features & FEAT_COPY_RANGE)))
			w[i] = 0;
		total += w[i];
	}
	long r = rnd(s, total);
	int op = 0;
	while (r >= w[op])
		r -= w[op++];

	memset(c, 0, sizeof(*c));
	c->op = op;
	c->user = user_mode == 2 ? (int)rnd(s, 2) : user_mode;
	snprintf(c->p1, sizeof(c->p1), "%s", PICK(s, paths));
	if (rnd(s, 10) < 7) {   /* mostly a name of the right kind */
		static const char *const files[] = { "a", "b", "c", "D/a",
						     "D/b", "E/a" };
		static const char *const dirs[] = { "D", "E", "D/F" };
		if (op == OP_LINK || op == OP_UNLINK || op == OP_TRUNCATE)
			snprintf(c->p1, sizeof(c->p1), "%s", PICK(s, files));
		else if (op == OP_RMDIR || op == OP_READDIR)
			snprintf(c->p1, sizeof(c->p1), "%s", PICK(s, dirs));
		else if (op == OP_READLINK)
			snprintf(c->p1, sizeof(c->p1), "l");
	}
	c->fd = pick_slot(s, *opened);
	switch (op) {
	case OP_OPEN:
		if (rnd(s, 3))
			c->fd = (int)rnd(s, SEQ_SLOTS);
		*opened |= 1u << c->fd;
		c->a = rnd_open_flags(s);
		c->b = rnd(s, 3) ? 0644 : PICK(s, modes);
		break;
	case OP_CLOSE:
		*opened &= ~(1u << c->fd);
		break;
	case OP_READ:
		c->c = rnd_len(s);
		break;
	case OP_PREAD:
		c->b = rnd_off(s);
		c->c = rnd_len(s);
		break;
	case OP_WRITE:
	case OP_PWRITE:
		c->b = op == OP_PWRITE ? rnd_off(s) : 0;
		c->c = rnd_len(s);
		c->d = 'A' + rnd(s, 26);
		break;
	case OP_LSEEK: {
		long wh[] = { SEEK_SET, SEEK_CUR, SEEK_END, SEEK_SET,
			      SEEK_DATA, SEEK_HOLE };
		int nwh = features & FEAT_SEEK_HOLE ? 6 : 4;
		c->a = wh[rnd(s, nwh)];
		c->b = rnd(s, 4) ? rnd_off(s) : -rnd(s, 50);
		break;
	}
	case OP_FTRUNCATE:
	case OP_TRUNCATE:
		c->b = rnd(s, 10) ? rnd_off(s) : -1;
		break;
	case OP_RENAME: {
		int k = (int)rnd(s, 10);
		c->a = k < 7 ? 0 : k < 9 ? RENAME_NOREPLACE : RENAME_EXCHANGE;
		snprintf(c->p2, sizeof(c->p2), "%s", PICK(s, paths));
		break;
	}
	case OP_LINK:
		snprintf(c->p2, sizeof(c->p2), "%s", PICK(s, paths));
		break;
	case OP_SYMLINK:
		snprintf(c->p2, sizeof(c->p2), "%s", PICK(s, targets));
		if (rnd(s, 2))
			snprintf(c->p1, sizeof(c->p1), "l");
		break;
	case OP_MKDIR:
		c->b = rnd(s, 3) ? 0755 : PICK(s, modes);
		break;
	case OP_CHMOD:
	case OP_FCHMOD:
		c->b = PICK(s, modes);
		break;
	case OP_CHOWN:
	case OP_FCHOWN:
		c->a = PICK(s, ids);
		c->b = PICK(s, gids);
		c->c = op == OP_CHOWN ? rnd(s, 2) : 0;
		break;
	case OP_UTIMENS:
		c->a = rnd(s, 3);
		c->c = rnd(s, 2);
		break;
	case OP_FALLOCATE: {
		long m[] = { 0, FALLOC_FL_KEEP_SIZE,
			     FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			     FALLOC_FL_ZERO_RANGE,
			     FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
			     FALLOC_FL_PUNCH_HOLE, FALLOC_FL_COLLAPSE_RANGE,
			     FALLOC_FL_INSERT_RANGE, 0 };
		c->a = PICK(s, m);
		c->b = rnd(s, 3) ? rnd_off(s) : 4096 * rnd(s, 4);
		c->c = rnd(s, 3) ? rnd_len(s) : 4096 * rnd(s, 3);
		break;
	}
	case OP_COPY_RANGE:
		c->fd2 = pick_slot(s, *opened);
		c->b = rnd_off(s);
		c->c = rnd_off(s);
		c->d = rnd_len(s);
		break;
	default:
		break;
	}
	switch (op) {       /* the calls on a descriptor name no path */
	case OP_CLOSE: case OP_READ: case OP_WRITE: case OP_PREAD:
	case OP_PWRITE: case OP_LSEEK: case OP_FTRUNCATE: case OP_FCHMOD:
	case OP_FCHOWN: case OP_FSTAT: case OP_FALLOCATE: case OP_COPY_RANGE:
		c->p1[0] = 0;
		break;
	default:
		break;
	}
}

/* The first calls make a tree to work on (ordinary calls: the shrinker
 * drops those a difference does not need). */
static int gen_prefix(struct seq *sq, uint64_t *s, unsigned *opened)
{
	static const char *const dirs[] = { "D", "E", "D/F" };
	static const char *const files[] = { "a", "b", "c", "D/a", "D/b",
					     "E/a", "D/F/a" };
	int n = 0, k = 1 + (int)rnd(s, 6);

	for (int i = 0; i < 3; i++)
		if (rnd(s, 3)) {
			struct call *c = &sq->calls[n++];
			c->op = OP_MKDIR;
			snprintf(c->p1, sizeof(c->p1), "%s", dirs[i]);
			c->b = rnd(s, 4) ? 0755 : PICK(s, modes);
		}
	for (int i = 0; i < k && n + 2 <= sq->n; i++) {
		struct call *c = &sq->calls[n++];
		c->op = OP_OPEN;
		snprintf(c->p1, sizeof(c->p1), "%s", PICK(s, files));
		c->fd = (int)rnd(s, SEQ_SLOTS);
		c->a = O_CREAT | O_RDWR;
		c->b = rnd(s, 3) ? 0644 : PICK(s, modes);
		*opened |= 1u << c->fd;
		c = &sq->calls[n++];
		c->op = OP_WRITE;
		c->fd = sq->calls[n - 2].fd;
		c->c = rnd_len(s);
		c->d = 'a' + rnd(s, 26);
	}
	if (rnd(s, 3) == 0 && n < sq->n) {
		struct call *c = &sq->calls[n++];
		c->op = OP_SYMLINK;
		snprintf(c->p1, sizeof(c->p1), "l");
		snprintf(c->p2, sizeof(c->p2), "%s", PICK(s, targets));
	}
	return n;
}

void seq_generate(struct seq *s, uint64_t seed, int ncalls_max,
		  unsigned features)
{
	unsigned opened = 0;
	int first;
	uint64_t st = seed * 0x2545f4914f6cdd1dULL + 1;
	static const long dmodes[] = { 0755, 0755, 0777, 01777, 0700, 0555 };
	int user_mode = 0;

	memset(s, 0, sizeof(*s));
	s->seed = seed;
	if (ncalls_max > SEQ_MAX_CALLS)
		ncalls_max = SEQ_MAX_CALLS;
	if (ncalls_max < 5)
		ncalls_max = 5;
	s->n = 5 + (int)rnd(&st, ncalls_max - 4);
	if (features & FEAT_OTHER_USER)
		user_mode = (int)rnd(&st, 4) == 0 ? 1 : (int)rnd(&st, 3) == 0 ? 2 : 0;
	s->dir_mode = PICK(&st, dmodes);
	s->dir_uid = rnd(&st, 3) == 0 ? OTHER_UID : 0;
	first = rnd(&st, 8) ? gen_prefix(s, &st, &opened) : 0;
	for (int i = first; i < s->n; i++)
		gen_call(&s->calls[i], &st, features, user_mode, &opened);
}

/* ---- case files ---- */

int seq_write(FILE *f, const struct seq *s)
{
	fprintf(f, "seed %llu\n", (unsigned long long)s->seed);
	fprintf(f, "dir uid=%ld mode=0%lo\n", s->dir_uid, s->dir_mode);
	for (int i = 0; i < s->n; i++) {
		const struct call *c = &s->calls[i];
		fprintf(f, "%s u=%d fd=%d", op_name(c->op), c->user, c->fd);
		if (c->p1[0])
			fprintf(f, " p1=%s", c->p1);
		if (c->p2[0])
			fprintf(f, " p2=%s", c->p2);
		if (c->fd2)
			fprintf(f, " fd2=%d", c->fd2);
		fprintf(f, " a=%ld b=%ld c=%ld d=%ld\n", c->a, c->b, c->c, c->d);
	}
	return ferror(f) ? -EIO : 0;
}

static int parse_long(const char *v, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(v, &end, 0);
	return errno || end == v || *end ? -1 : 0;
}

int seq_read(FILE *f, struct seq *s, char *err, size_t errlen)
{
	char line[512];
	int lineno = 0;

	memset(s, 0, sizeof(*s));
	s->dir_mode = 0755;
	while (fgets(line, sizeof(line), f)) {
		char *save, *tok;
		lineno++;
		line[strcspn(line, "\n")] = 0;
		if (line[0] == '#' || line[0] == 0)
			continue;
		tok = strtok_r(line, " \t", &save);
		if (!tok)
			continue;
		if (strcmp(tok, "seed") == 0) {
			tok = strtok_r(NULL, " \t", &save);
			s->seed = tok ? strtoull(tok, NULL, 0) : 0;
			continue;
		}
		struct call *c = NULL;
		if (strcmp(tok, "dir") != 0) {
			int op = op_by_name(tok);
			if (op < 0) {
				snprintf(err, errlen, "line %d: unknown call '%s'",
					 lineno, tok);
				return -EINVAL;
			}
			if (s->n == SEQ_MAX_CALLS) {
				snprintf(err, errlen, "line %d: more than %d calls",
					 lineno, SEQ_MAX_CALLS);
				return -EINVAL;
			}
			c = &s->calls[s->n++];
			c->op = op;
		}
		while ((tok = strtok_r(NULL, " \t", &save))) {
			char *eq = strchr(tok, '=');
			long v = 0;
			if (!eq) {
				snprintf(err, errlen, "line %d: '%s' is not key=value",
					 lineno, tok);
				return -EINVAL;
			}
			*eq++ = 0;
			if (c && (strcmp(tok, "p1") == 0 || strcmp(tok, "p2") == 0)) {
				if (strlen(eq) >= SEQ_PATH_MAX) {
					snprintf(err, errlen, "line %d: path too long",
						 lineno);
					return -EINVAL;
				}
				strcpy(tok[1] == '1' ? c->p1 : c->p2, eq);
				continue;
			}
			if (parse_long(eq, &v) < 0) {
				snprintf(err, errlen, "line %d: %s: not a number: '%s'",
					 lineno, tok, eq);
				return -EINVAL;
			}
			if (!c && strcmp(tok, "uid") == 0) s->dir_uid = v;
			else if (!c && strcmp(tok, "mode") == 0) s->dir_mode = v;
			else if (c && strcmp(tok, "u") == 0) c->user = v != 0;
			else if (c && strcmp(tok, "fd") == 0 && v >= 0 && v < SEQ_SLOTS) c->fd = (int)v;
			else if (c && strcmp(tok, "fd2") == 0 && v >= 0 && v < SEQ_SLOTS) c->fd2 = (int)v;
			else if (c && strcmp(tok, "a") == 0) c->a = v;
			else if (c && strcmp(tok, "b") == 0) c->b = v;
			else if (c && strcmp(tok, "c") == 0) c->c = v;
			else if (c && strcmp(tok, "d") == 0) c->d = v;
			else {
				snprintf(err, errlen, "line %d: bad key '%s'",
					 lineno, tok);
				return -EINVAL;
			}
		}
	}
	if (s->n == 0) {
		snprintf(err, errlen, "no calls");
		return -EINVAL;
	}
	return 0;
}

/* ---- printing as C ---- */

static void flags_str(long f, char *buf, size_t len)
{
	static const struct { long bit; const char *name; } fl[] = {
		{ O_CREAT, "O_CREAT" }, { O_EXCL, "O_EXCL" },
		{ O_TRUNC, "O_TRUNC" }, { O_APPEND, "O_APPEND" },
		{ O_DIRECTORY, "O_DIRECTORY" }, { O_NOFOLLOW, "O_NOFOLLOW" },
	};
	const char *acc = (f & O_ACCMODE) == O_RDONLY ? "O_RDONLY" :
			  (f & O_ACCMODE) == O_WRONLY ? "O_WRONLY" : "O_RDWR";
	size_t n = (size_t)snprintf(buf, len, "%s", acc);

	for (size_t i = 0; i < sizeof(fl) / sizeof(fl[0]) && n < len; i++)
		if (f & fl[i].bit)
			n += (size_t)snprintf(buf + n, len - n, "|%s", fl[i].name);
}

static const char *whence_str(long w)
{
	switch (w) {
	case SEEK_SET: return "SEEK_SET";
	case SEEK_CUR: return "SEEK_CUR";
	case SEEK_END: return "SEEK_END";
	case SEEK_DATA: return "SEEK_DATA";
	case SEEK_HOLE: return "SEEK_HOLE";
	default: return "?";
	}
}

static const char *rename_str(long f)
{
	return f == RENAME_NOREPLACE ? "RENAME_NOREPLACE" :
	       f == RENAME_EXCHANGE ? "RENAME_EXCHANGE" : "0";
}

static void falloc_str(long m, char *buf, size_t len)
{
	static const struct { long bit; const char *name; } fl[] = {
		{ FALLOC_FL_KEEP_SIZE, "KEEP_SIZE" },
		{ FALLOC_FL_PUNCH_HOLE, "PUNCH_HOLE" },
		{ FALLOC_FL_ZERO_RANGE, "ZERO_RANGE" },
		{ FALLOC_FL_COLLAPSE_RANGE, "COLLAPSE_RANGE" },
		{ FALLOC_FL_INSERT_RANGE, "INSERT_RANGE" },
	};
	size_t n = 0;

	buf[0] = 0;
	for (size_t i = 0; i < sizeof(fl) / sizeof(fl[0]) && n < len; i++)
		if (m & fl[i].bit)
			n += (size_t)snprintf(buf + n, len - n, "%sFALLOC_FL_%s",
					      n ? "|" : "", fl[i].name);
	if (!n)
		snprintf(buf, len, "0");
}

void call_format(const struct call *c, char *buf, size_t len)
{
	char f[128];
	const char *who = c->user ? " /* as uid 65534 */" : "";

	switch (c->op) {
	case OP_OPEN:
		flags_str(c->a, f, sizeof(f));
		snprintf(buf, len, "fd%d = open(\"%s\", %s, 0%lo);%s", c->fd,
			 c->p1, f, c->b, who);
		break;
	case OP_CLOSE:
		snprintf(buf, len, "close(fd%d);%s", c->fd, who);
		break;
	case OP_READ:
		snprintf(buf, len, "read(fd%d, buf, %ld);%s", c->fd, c->c, who);
		break;
	case OP_PREAD:
		snprintf(buf, len, "pread(fd%d, buf, %ld, %ld);%s", c->fd, c->c,
			 c->b, who);
		break;
	case OP_WRITE:
		snprintf(buf, len, "write(fd%d, \"%c...\", %ld);%s", c->fd,
			 (char)c->d, c->c, who);
		break;
	case OP_PWRITE:
		snprintf(buf, len, "pwrite(fd%d, \"%c...\", %ld, %ld);%s", c->fd,
			 (char)c->d, c->c, c->b, who);
		break;
	case OP_LSEEK:
		snprintf(buf, len, "lseek(fd%d, %ld, %s);%s", c->fd, c->b,
			 whence_str(c->a), who);
		break;
	case OP_FTRUNCATE:
		snprintf(buf, len, "ftruncate(fd%d, %ld);%s", c->fd, c->b, who);
		break;
	case OP_TRUNCATE:
		snprintf(buf, len, "truncate(\"%s\", %ld);%s", c->p1, c->b, who);
		break;
	case OP_RENAME:
		snprintf(buf, len, "renameat2(AT_FDCWD, \"%s\", AT_FDCWD, \"%s\", %s);%s",
			 c->p1, c->p2, rename_str(c->a), who);
		break;
	case OP_LINK:
		snprintf(buf, len, "link(\"%s\", \"%s\");%s", c->p1, c->p2, who);
		break;
	case OP_SYMLINK:
		snprintf(buf, len, "symlink(\"%s\", \"%s\");%s", c->p2, c->p1, who);
		break;
	case OP_READLINK:
		snprintf(buf, len, "readlink(\"%s\", buf, 256);%s", c->p1, who);
		break;
	case OP_UNLINK:
		snprintf(buf, len, "unlink(\"%s\");%s", c->p1, who);
		break;
	case OP_MKDIR:
		snprintf(buf, len, "mkdir(\"%s\", 0%lo);%s", c->p1, c->b, who);
		break;
	case OP_RMDIR:
		snprintf(buf, len, "rmdir(\"%s\");%s", c->p1, who);
		break;
	case OP_CHMOD:
		snprintf(buf, len, "chmod(\"%s\", 0%lo);%s", c->p1, c->b, who);
		break;
	case OP_FCHMOD:
		snprintf(buf, len, "fchmod(fd%d, 0%lo);%s", c->fd, c->b, who);
		break;
	case OP_CHOWN:
		snprintf(buf, len, "%s(\"%s\", %ld, %ld);%s",
			 c->c ? "lchown" : "chown", c->p1, c->a, c->b, who);
		break;
	case OP_FCHOWN:
		snprintf(buf, len, "fchown(fd%d, %ld, %ld);%s", c->fd, c->a, c->b,
			 who);
		break;
	case OP_UTIMENS:
		snprintf(buf, len, "utimensat(AT_FDCWD, \"%s\", %s, %s);%s", c->p1,
			 c->a == 0 ? "NULL" : c->a == 1 ? "{{1000000000, 5}, {1200000000, 7}}" :
			 "{{0, UTIME_OMIT}, {0, UTIME_NOW}}",
			 c->c ? "AT_SYMLINK_NOFOLLOW" : "0", who);
		break;
	case OP_READDIR:
		snprintf(buf, len, "readdir(\"%s\");%s", c->p1, who);
		break;
	case OP_STAT:
		snprintf(buf, len, "lstat(\"%s\", &st);%s", c->p1, who);
		break;
	case OP_FSTAT:
		snprintf(buf, len, "fstat(fd%d, &st);%s", c->fd, who);
		break;
	case OP_FALLOCATE:
		falloc_str(c->a, f, sizeof(f));
		snprintf(buf, len, "fallocate(fd%d, %s, %ld, %ld);%s", c->fd, f,
			 c->b, c->c, who);
		break;
	case OP_COPY_RANGE:
		snprintf(buf, len, "copy_file_range(fd%d, &(off_t){%ld}, fd%d, &(off_t){%ld}, %ld, 0);%s",
			 c->fd, c->b, c->fd2, c->c, c->d, who);
		break;
	default:
		snprintf(buf, len, "?");
	}
}
