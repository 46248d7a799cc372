/*
 * ctl.h - the control protocol of uvfsd, shared by the daemon and the uvfs
 * command line (see docs/fuse.md, "The control protocol").
 *
 * One request per connection: the client writes one line of tokens
 * separated by single spaces, the daemon answers with lines and closes.
 * A token is %-escaped: every byte <= 0x20, >= 0x7f and '%' itself is
 * written as %XX; the empty string is the lone token "%".  The first reply
 * line is "ok" or "error ERRNO MESSAGE"; records follow, one per line, a
 * kind then key=value tokens (the value is everything after the first '=').
 */
#ifndef UVFS_CTL_H
#define UVFS_CTL_H

#include <stddef.h>
#include <sys/types.h>

#define CTL_LINE_MAX 16384      /* longest request line, newline included */
#define CTL_ARGS_MAX 32

/* A growing string. */
struct sbuf {
	char *p;
	size_t len, cap;
	int oom;                /* an allocation failed: p is truncated */
};
void sbuf_add(struct sbuf *b, const char *s, size_t n);
void sbuf_adds(struct sbuf *b, const char *s);
void sbuf_addf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Appends s as one token. */
void sbuf_add_tok(struct sbuf *b, const char *s);
/* Appends " key=VALUE" with VALUE escaped. */
void sbuf_add_kv(struct sbuf *b, const char *key, const char *val);
void sbuf_add_kvu(struct sbuf *b, const char *key, unsigned long long v);
void sbuf_free(struct sbuf *b);

/* Splits a line (no newline) into tokens in place and unescapes them.
 * => the number of tokens, or -1 for a malformed line (a control byte, a
 *    bad escape, an escaped NUL, an empty token, too many tokens). */
int ctl_split(char *line, char **argv, int max);

/* A record's value for key, or NULL.  argv as from ctl_split. */
const char *ctl_get(char **argv, int argc, const char *key);

/* The default socket path of a daemon run by uid on mountpoint (absolute,
 * canonical): /run/uvfs/ESC.sock for root, else $XDG_RUNTIME_DIR/uvfs/ or
 * /tmp/uvfs-UID/.  ESC is the mount point with '/' turned into '-' and
 * other unusual bytes %-escaped; a hash if the result would not fit.
 * => 0, or -ENAMETOOLONG. */
int ctl_sockpath(const char *mountpoint, uid_t uid, char *out, size_t size);

/* One line of /proc/self/mountinfo, decoded. */
struct mountinfo_ent {
	char *majmin;           /* the file system's device, "MAJ:MIN" */
	char *mnt;              /* mount point */
	char *fstype;
	char *source;
	char *superopts;
};
/* Calls fn for each mount (last mounted last); stops when fn returns
 * non-zero and returns that.  => -errno if mountinfo cannot be read. */
int ctl_mountinfo_each(int (*fn)(const struct mountinfo_ent *, void *),
		       void *arg);

/* Lexical canonical form of path (absolute: prefixed with the cwd), with
 * ".", ".." and repeated slashes resolved without touching the file
 * system.  => malloc'ed, or NULL. */
char *ctl_lexical_path(const char *path);

/* path is prefix or below it (component-wise: /a/bc is not below /a/b).
 * Both absolute and lexically canonical. */
int ctl_under(const char *path, const char *prefix);

#define UVFSD_FSTYPE "fuse.uvfsd"

#endif
