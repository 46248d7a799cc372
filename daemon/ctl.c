/*
 * ctl.c - the control protocol's tokens, the socket path rule and
 * /proc/self/mountinfo, shared by uvfsd and uvfs.
 */
#define _GNU_SOURCE
#include "ctl.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- strings ----------------------------------------------------------- */

static int sbuf_grow(struct sbuf *b, size_t n)
{
	if (b->oom)
		return -1;
	if (b->len + n + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + n + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	if (sbuf_grow(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void sbuf_adds(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

void sbuf_addf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = 1;
		return;
	}
	sbuf_add(b, s, (size_t)n);
	free(s);
}

static int plain(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '%';
}

void sbuf_add_tok(struct sbuf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	if (!*s) {
		sbuf_add(b, "%", 1);
		return;
	}
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (plain(c)) {
			sbuf_add(b, s, 1);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			sbuf_add(b, e, 3);
		}
	}
}

void sbuf_add_kv(struct sbuf *b, const char *key, const char *val)
{
	struct sbuf t = { 0 };

	sbuf_addf(&t, "%s=%s", key, val ? val : "");
	sbuf_add(b, " ", 1);
	sbuf_add_tok(b, t.p ? t.p : "");
	if (t.oom)
		b->oom = 1;
	sbuf_free(&t);
}

void sbuf_add_kvu(struct sbuf *b, const char *key, unsigned long long v)
{
	sbuf_addf(b, " %s=%llu", key, v);
}

void sbuf_free(struct sbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Unescapes one token in place.  => 0 or -1. */
static int unescape(char *s)
{
	char *w = s;

	if (strcmp(s, "%") == 0) {
		*s = '\0';
		return 0;
	}
	for (char *r = s; *r; r++) {
		unsigned char c = (unsigned char)*r;
		if (c == '%') {
			int h = hexval(r[1]), l = h < 0 ? -1 : hexval(r[2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0))
				return -1;
			*w++ = (char)(h << 4 | l);
			r += 2;
		} else if (!plain(c)) {
			return -1;
		} else {
			*w++ = (char)c;
		}
	}
	*w = '\0';
	return 0;
}

int ctl_split(char *line, char **argv, int max)
{
	int argc = 0;
	char *p = line;

	if (!*p)
		return 0;
	for (;;) {
		char *sp = strchr(p, ' ');
		if (sp)
			*sp = '\0';
		if (!*p || argc == max || unescape(p))
			return -1;
		argv[argc++] = p;
		if (!sp)
			return argc;
		p = sp + 1;
	}
}

const char *ctl_get(char **argv, int argc, const char *key)
{
	size_t kl = strlen(key);

	for (int i = 1; i < argc; i++)
		if (strncmp(argv[i], key, kl) == 0 && argv[i][kl] == '=')
			return argv[i] + kl + 1;
	return NULL;
}

/* ---- the socket path --------------------------------------------------- */

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

int ctl_sockpath(const char *mountpoint, uid_t uid, char *out, size_t size)
{
	char dir[PATH_MAX];
	struct sbuf esc = { 0 };
	const char *rt;
	int n;

	if (uid == 0)
		snprintf(dir, sizeof(dir), "/run/uvfs");
	else if ((rt = getenv("XDG_RUNTIME_DIR")) && rt[0] == '/')
		snprintf(dir, sizeof(dir), "%s/uvfs", rt);
	else
		snprintf(dir, sizeof(dir), "/tmp/uvfs-%u", (unsigned)uid);

	const char *m = mountpoint;
	while (*m == '/')
		m++;
	if (!*m)
		sbuf_add(&esc, "-", 1);
	for (; *m; m++) {
		unsigned char c = (unsigned char)*m;
		if (c == '/')
			sbuf_add(&esc, "-", 1);
		else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '_' ||
			 (c == '.' && m != mountpoint + 1))
			sbuf_add(&esc, (const char *)&c, 1);
		else
			sbuf_addf(&esc, "%%%02X", c);
	}
	if (esc.oom) {
		sbuf_free(&esc);
		return -ENOMEM;
	}
	n = snprintf(out, size, "%s/%s.sock", dir, esc.p);
	sbuf_free(&esc);
	/* sockaddr_un.sun_path holds 108 bytes with the NUL. */
	if (n < 0 || (size_t)n >= size || n >= 108) {
		n = snprintf(out, size, "%s/h-%016llx.sock", dir,
			     (unsigned long long)fnv1a(mountpoint));
		if (n < 0 || (size_t)n >= size || n >= 108)
			return -ENAMETOOLONG;
	}
	return 0;
}

/* ---- mountinfo --------------------------------------------------------- */

/* Decodes the kernel's octal escapes (\040 for a space) in place. */
static void mi_unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' &&
		    r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') << 6 | (r[2] - '0') << 3 |
				      (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

int ctl_mountinfo_each(int (*fn)(const struct mountinfo_ent *, void *),
		       void *arg)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int ret = 0;

	if (!f)
		return -errno;
	while (ret == 0 && getline(&line, &cap, f) > 0) {
		/* id parent maj:min root mnt opts [optional...] - fstype
		 * source superopts */
		char *fld[64];
		int nf = 0;
		char *save = NULL;
		for (char *t = strtok_r(line, " \n", &save); t && nf < 64;
		     t = strtok_r(NULL, " \n", &save))
			fld[nf++] = t;
		int dash = -1;
		for (int i = 6; i < nf; i++)
			if (strcmp(fld[i], "-") == 0) {
				dash = i;
				break;
			}
		if (nf < 6 || dash < 0 || dash + 3 >= nf + 1)
			continue;
		struct mountinfo_ent e = {
			.majmin = fld[2],
			.mnt = fld[4],
			.fstype = fld[dash + 1],
			.source = dash + 2 < nf ? fld[dash + 2] : (char *)"",
			.superopts = dash + 3 < nf ? fld[dash + 3] : (char *)"",
		};
		mi_unescape(e.mnt);
		mi_unescape(e.source);
		ret = fn(&e, arg);
	}
	free(line);
	fclose(f);
	return ret;
}

/* ---- paths ------------------------------------------------------------- */

int ctl_under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strcmp(prefix, "/") == 0)
		return path[0] == '/';
	return strncmp(path, prefix, n) == 0 &&
	       (path[n] == '\0' || path[n] == '/');
}

char *ctl_lexical_path(const char *path)
{
	struct sbuf in = { 0 };
	char cwd[PATH_MAX];
	char *out, *save = NULL;
	size_t len = 0;

	if (path[0] != '/') {
		if (!getcwd(cwd, sizeof(cwd)))
			return NULL;
		sbuf_adds(&in, cwd);
		sbuf_adds(&in, "/");
	}
	sbuf_adds(&in, path);
	if (in.oom) {
		sbuf_free(&in);
		return NULL;
	}
	out = malloc(in.len + 2);
	if (!out) {
		sbuf_free(&in);
		return NULL;
	}
	for (char *t = strtok_r(in.p, "/", &save); t;
	     t = strtok_r(NULL, "/", &save)) {
		if (strcmp(t, ".") == 0)
			continue;
		if (strcmp(t, "..") == 0) {
			/* drop the last component and its slash */
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--;
			continue;
		}
		out[len++] = '/';
		memcpy(out + len, t, strlen(t));
		len += strlen(t);
	}
	if (len == 0)
		out[len++] = '/';
	out[len] = '\0';
	sbuf_free(&in);
	return out;
}
