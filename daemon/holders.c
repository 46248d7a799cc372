/*
 * holders.c - the records of a busy reply: which processes on the host
 * hold something under the mount (their open files, cwd, root; read from
 * /proc) and which uvfs contexts do (uvfs_holders).  Also the error reply.
 *
 * Owns nothing past the call: every record goes into the caller's reply
 * buffer (struct sbuf, ctl.h).
 */
#define _GNU_SOURCE
#include "control_i.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- replies ----------------------------------------------------------- */

void control_reply_error(struct sbuf *r, int err, const char *msg)
{
	sbuf_addf(r, "error %d ", err < 0 ? -err : err);
	sbuf_add_tok(r, msg ? msg : strerror(err < 0 ? -err : err));
	sbuf_adds(r, "\n");
}

/* The host path of a namespace path. */
void control_host_path(struct control *c, const char *ns, char *out,
		       size_t size)
{
	if (strcmp(ns, "/") == 0)
		snprintf(out, size, "%s", c->fuse_mnt);
	else if (strcmp(c->fuse_mnt, "/") == 0)
		snprintf(out, size, "%s", ns);
	else
		snprintf(out, size, "%s%s", c->fuse_mnt, ns);
}

int control_under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strcmp(prefix, "/") == 0)
		return path[0] == '/';
	return strncmp(path, prefix, n) == 0 &&
	       (path[n] == '\0' || path[n] == '/');
}

/* Adds a "process" record for each process whose cwd, root or an open
 * descriptor is at or below the host path prefix (what fuser(1) does): the
 * kernel's own references (a shell's working directory) reach the library
 * only as node holds. */
/* readlink of a /proc link, without the " (deleted)" the kernel appends
 * to an unhashed dentry.  => length, or -1. */
static ssize_t proc_link(const char *p, char *link)
{
	static const char del[] = " (deleted)";
	ssize_t len = readlink(p, link, PATH_MAX);

	if (len <= 0)
		return -1;
	link[len] = '\0';
	if ((size_t)len > sizeof(del) - 1 &&
	    strcmp(link + len - (sizeof(del) - 1), del) == 0) {
		len -= (ssize_t)(sizeof(del) - 1);
		link[len] = '\0';
	}
	return len;
}

/* The number of processes whose working directory or root is exactly
 * path. */
size_t control_cwd_at(const char *path)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char *end, p[64], link[PATH_MAX + 1];
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		snprintf(p, sizeof(p), "/proc/%ld/cwd", pid);
		if (proc_link(p, link) > 0 && strcmp(link, path) == 0) {
			n++;
			continue;
		}
		snprintf(p, sizeof(p), "/proc/%ld/root", pid);
		if (proc_link(p, link) > 0 && strcmp(link, path) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static size_t add_processes(struct sbuf *r, const char *prefix, pid_t peer)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t n = 0;
	pid_t self = getpid();

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL && n < MAX_PROCS) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || pid == self || pid == peer)
			continue;
		char comm[64] = "?", p[64], link[PATH_MAX + 1];
		ssize_t len;
		int found = 0;

		snprintf(p, sizeof(p), "/proc/%ld/comm", pid);
		FILE *f = fopen(p, "re");
		if (f) {
			if (fgets(comm, sizeof(comm), f))
				comm[strcspn(comm, "\n")] = '\0';
			fclose(f);
		}
		static const char *const what[] = { "cwd", "root" };
		for (int i = 0; i < 2; i++) {
			snprintf(p, sizeof(p), "/proc/%ld/%s", pid, what[i]);
			len = proc_link(p, link);
			if (len <= 0)
				continue;
			if (!control_under(link, prefix))
				continue;
			if (i == 1 && strcmp(link, "/") == 0)
				continue;
			sbuf_addf(r, "process pid=%ld", pid);
			sbuf_add_kv(r, "comm", comm);
			sbuf_add_kv(r, "what", what[i]);
			sbuf_add_kv(r, "path", link);
			sbuf_adds(r, "\n");
			found = 1;
		}
		snprintf(p, sizeof(p), "/proc/%ld/fd", pid);
		DIR *fdd = opendir(p);
		if (fdd) {
			struct dirent *fe;
			while ((fe = readdir(fdd)) != NULL) {
				if (fe->d_name[0] == '.')
					continue;
				char fp[300];
				snprintf(fp, sizeof(fp), "/proc/%ld/fd/%.200s",
					 pid, fe->d_name);
				len = proc_link(fp, link);
				if (len <= 0)
					continue;
				if (!control_under(link, prefix))
					continue;
				char w[32];
				snprintf(w, sizeof(w), "fd %.20s", fe->d_name);
				sbuf_addf(r, "process pid=%ld", pid);
				sbuf_add_kv(r, "comm", comm);
				sbuf_add_kv(r, "what", w);
				sbuf_add_kv(r, "path", link);
				sbuf_adds(r, "\n");
				found = 1;
			}
			closedir(fdd);
		}
		n += found;
	}
	closedir(d);
	return n;
}

/* holder records, then process records.  => the library's holder count,
 * or -errno. */
int control_add_holders(struct control *c, struct uvfs_ctx *ctx,
			const char *target, pid_t peer, struct sbuf *r)
{
	struct uvfs_holder *h;
	size_t n;
	char hp[PATH_MAX + 1024];
	int err;

	err = uvfs_holders(ctx, target, &h, &n);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		sbuf_adds(r, "holder");
		sbuf_add_kv(r, "kind", uvfs_holder_kind_name(h[i].kind));
		sbuf_add_kvu(r, "ctx", h[i].ctx_id);
		sbuf_add_kv(r, "label", h[i].ctx_label);
		sbuf_addf(r, " fd=%d", h[i].fd);
		sbuf_add_kv(r, "path", h[i].path);
		control_host_path(c, h[i].path, hp, sizeof(hp));
		sbuf_add_kv(r, "host", hp);
		sbuf_adds(r, "\n");
	}
	free(h);
	control_host_path(c, target, hp, sizeof(hp));
	add_processes(r, hp, peer);
	return (int)n;
}

size_t control_holder_count(struct uvfs_ctx *ctx, const char *target)
{
	struct uvfs_holder *h;
	size_t n;

	if (uvfs_holders(ctx, target, &h, &n))
		return 0;
	free(h);
	return n;
}
