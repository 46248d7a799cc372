/*
 * holders.c - the records of a busy reply: which processes on the host
 * hold something under the mount (their open files, cwd, root; read from
 * /proc), which uvfs contexts do (uvfs_holders), and which FUSE requests
 * are in progress inside it (uvfs_fuse_requests), with the file server
 * they wait on when the mount has one.  Also the error reply.
 *
 * Owns nothing past the call: every record goes into the caller's reply
 * buffer (struct sbuf, ctl.h).
 */
#define _GNU_SOURCE
#include "control_i.h"

#include <uvfs/9p.h>
#ifdef UVFS_HAVE_NFS
#include <uvfs/nfs.h>
#endif

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

void control_reply(struct sbuf *r, int err, const char *msg,
		   const struct sbuf *records)
{
	if (err)
		control_reply_error(r, err, msg);
	else
		sbuf_adds(r, "ok\n");
	if (records && records->p)
		sbuf_adds(r, records->p);
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

/* The name of process pid (/proc/PID/comm), "?" when unknown. */
static void read_comm(long pid, char *comm, size_t size)
{
	char p[64];
	FILE *f;

	snprintf(comm, size, "?");
	snprintf(p, sizeof(p), "/proc/%ld/comm", pid);
	f = fopen(p, "re");
	if (!f)
		return;
	if (fgets(comm, (int)size, f))
		comm[strcspn(comm, "\n")] = '\0';
	fclose(f);
}

/* One "process" record: what (cwd, root, "fd N") holds path. */
static void add_process(struct sbuf *r, long pid, const char *comm,
			const char *what, const char *path)
{
	if (!r)
		return;         /* counted only */
	sbuf_addf(r, "process pid=%ld", pid);
	sbuf_add_kv(r, "comm", comm);
	sbuf_add_kv(r, "what", what);
	sbuf_add_kv(r, "path", path);
	sbuf_adds(r, "\n");
}

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

/* Adds a "process" record for each process whose cwd, root or an open
 * descriptor is at or below the host path prefix (what fuser(1) does): the
 * kernel's own references (a shell's working directory) reach the library
 * only as node holds.  r NULL: only counts them (the first MAX_PROCS),
 * the peer too; fds false: not by their descriptors. */
static size_t add_processes(struct sbuf *r, const char *prefix, pid_t peer,
			    bool fds)
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
		if (*end || pid <= 0 || pid == self || (r && pid == peer))
			continue;
		char comm[64], p[64], link[PATH_MAX + 1];
		ssize_t len;
		int found = 0;

		read_comm(pid, comm, sizeof(comm));
		static const char *const what[] = { "cwd", "root" };
		for (int i = 0; i < 2; i++) {
			snprintf(p, sizeof(p), "/proc/%ld/%s", pid, what[i]);
			len = proc_link(p, link);
			if (len <= 0)
				continue;
			if (!ctl_under(link, prefix))
				continue;
			if (i == 1 && strcmp(link, "/") == 0)
				continue;
			add_process(r, pid, comm, what[i], link);
			found = 1;
		}
		snprintf(p, sizeof(p), "/proc/%ld/fd", pid);
		DIR *fdd = fds ? opendir(p) : NULL;
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
				if (!ctl_under(link, prefix))
					continue;
				char w[32];
				snprintf(w, sizeof(w), "fd %.20s", fe->d_name);
				add_process(r, pid, comm, w, link);
				found = 1;
			}
			closedir(fdd);
		}
		n += found;
	}
	closedir(d);
	return n;
}

/* The process (thread group) of thread tid, and its name.  => the tgid,
 * or tid itself when /proc does not say (the thread has exited). */
static pid_t tgid_of(pid_t tid, char *comm, size_t size)
{
	char p[64], line[256];
	pid_t tgid = tid;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%ld/status", (long)tid);
	f = fopen(p, "re");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			long v;
			if (sscanf(line, "Tgid: %ld", &v) == 1)
				tgid = (pid_t)v;
		}
		fclose(f);
	}
	read_comm(tgid, comm, size);
	return tgid;
}

/* The namespace path of the mount with device dev, from the device table
 * (mounts made through the socket).  => false if none. */
static bool dev_target(struct control *c, dev_t dev, char *out, size_t size)
{
	bool found = false;

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->ndevs && !found; i++)
		if (c->devs[i].dev == dev) {
			snprintf(out, size, "%s", c->devs[i].target);
			found = true;
		}
	pthread_mutex_unlock(&c->lock);
	return found;
}

/* Operations whose reply makes the kernel instantiate dentries. */
static bool makes_entries(const char *op)
{
	static const char *const ops[] = {
		"lookup", "create", "mkdir", "mknod", "symlink", "link",
		"rename", "readdirplus", NULL,
	};

	for (int i = 0; ops[i]; i++)
		if (strcmp(op, ops[i]) == 0)
			return true;
	return false;
}

/* How many FUSE requests that make dentries (a lookup, a create, ...) are
 * in progress inside the mounts at or below target (uvfs_fuse_requests).
 * A release or a read in progress does not count: it leaves nothing in
 * the kernel's dentry cache. */
size_t control_requests_below(struct control *c, const char *target)
{
	struct uvfs_fuse_request *v;
	size_t n, k = 0;

	if (!c->uf || uvfs_fuse_requests(c->uf, &v, &n) != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char mnt[PATH_MAX];
		if (v[i].dev && makes_entries(v[i].op) &&
		    dev_target(c, v[i].dev, mnt, sizeof(mnt)) &&
		    ctl_under(mnt, target))
			k++;
	}
	free(v);
	return k;
}

uint64_t control_queued(struct control *c)
{
	struct uvfs_fuse_stats f;

	if (!c->uf)
		return 0;
	uvfs_fuse_stats(c->uf, &f);
	return f.queued;
}

/* Adds a "request" record for each FUSE request in progress inside a
 * mount at or below target: the calling process, the operation, how long
 * it has waited, the mount, and for a mount served by a file server
 * (hostfs, diod, 9p, nfs) remote=1 with the server's pid (0: not ours)
 * and its session state.  uvfsd and the peer are left out.  Asks nothing
 * of a file server: it answers while the server hangs. */
static void add_requests(struct control *c, const char *target, pid_t peer,
			 struct sbuf *r)
{
	struct uvfs_fuse_request *v;
	struct uvfs_mount_info *mi = NULL;
	size_t n, nmi = 0;
	pid_t self = getpid();

	if (!c->uf || uvfs_fuse_requests(c->uf, &v, &n) != 0)
		return;
	if (n && uvfs_mount_list(c->u, &mi, &nmi) != 0)
		nmi = 0;
	for (size_t i = 0; i < n; i++) {
		char mnt[PATH_MAX], hp[PATH_MAX + 1024], comm[64];
		const char *type = "?", *state = NULL;
		long long spid = -1;
		struct uvfs_9p_server_info si;

		if (!v[i].dev || !dev_target(c, v[i].dev, mnt, sizeof(mnt)) ||
		    !ctl_under(mnt, target))
			continue;
		pid_t pid = tgid_of(v[i].pid, comm, sizeof(comm));
		if (pid == self || pid == peer)
			continue;
		for (size_t k = 0; k < nmi; k++)
			if (strcmp(mi[k].target, mnt) == 0)
				type = mi[k].type;
		if (uvfs_9p_server_info(c->u, mnt, &si) == 0) {
			spid = si.pid;
			state = si.state;
		}
#ifdef UVFS_HAVE_NFS
		struct uvfs_nfs_info ni;
		if (!state && uvfs_nfs_info(c->u, mnt, &ni) == 0) {
			spid = 0;
			state = ni.state;
		}
#endif
		sbuf_addf(r, "request pid=%ld tid=%ld", (long)pid,
			  (long)v[i].pid);
		sbuf_add_kv(r, "comm", comm);
		sbuf_add_kv(r, "op", v[i].op);
		sbuf_add_kvu(r, "ms", v[i].elapsed_ms);
		sbuf_add_kv(r, "path", mnt);
		control_host_path(c, mnt, hp, sizeof(hp));
		sbuf_add_kv(r, "host", hp);
		sbuf_add_kv(r, "type", type);
		sbuf_add_kvu(r, "remote", state != NULL);
		if (state) {
			sbuf_add_kvu(r, "server_pid", (unsigned long long)spid);
			sbuf_add_kv(r, "server_state", state);
		}
		sbuf_adds(r, "\n");
	}
	free(mi);
	free(v);
}

/* Is h uvfsd's own: something no user can end, which fuser(1) would not
 * name either?  Every context of the namespace is uvfsd's (the FUSE front
 * end's pool, the control server's, the mount table's replay): a process
 * reaches the namespace only through the FUSE mount, where what it opens
 * is a handle with no context, labelled "pid N" after it, and what the
 * kernel looks up is a node.  So: a context's working directory, root or
 * descriptor (each of the pool's contexts has its cwd and root at the
 * namespace root), a handle uvfsd opened through its own mount, and the
 * node of the namespace root, which the kernel holds for as long as the
 * FUSE mount is there (its root inode).  Other nodes are the kernel's
 * references, which an unmount invalidates; children are mounts. */
static bool own_holder(const struct uvfs_holder *h, pid_t self)
{
	long pid;

	switch (h->kind) {
	case UVFS_HOLDER_CWD:
	case UVFS_HOLDER_ROOT:
		return true;
	case UVFS_HOLDER_FILE:
		return h->ctx_id != 0 ||
		       (sscanf(h->ctx_label, "pid %ld", &pid) == 1 &&
			pid == (long)self);
	case UVFS_HOLDER_NODE:
		return strcmp(h->path, "/") == 0;
	case UVFS_HOLDER_CHILD:
		break;
	}
	return false;
}

/* holder records (own=1: uvfsd's own, own_holder), then process records,
 * then request records.  => the library's holder count, or -errno. */
size_t control_cwds_below(const char *path)
{
	return add_processes(NULL, path, 0, false);
}

int control_add_holders(struct control *c, struct uvfs_ctx *ctx,
			const char *target, uint64_t id, pid_t peer,
			struct sbuf *r)
{
	struct uvfs_holder *h;
	size_t n;
	char hp[PATH_MAX + 1024];
	pid_t self = getpid();
	int err;

	err = id ? uvfs_holders_id(ctx, id, &h, &n)
		 : uvfs_holders(ctx, target, &h, &n);
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
		sbuf_add_kvu(r, "own", own_holder(&h[i], self));
		sbuf_adds(r, "\n");
	}
	free(h);
	control_host_path(c, target, hp, sizeof(hp));
	add_processes(r, hp, peer, true);
	add_requests(c, target, peer, r);
	return (int)n;
}

/* Every node is the kernel's: the FUSE front end is the only user of the
 * node API in uvfsd, and a node carries the id of the context that looked
 * it up (one of the front end's), never 0.  Counting only nodes of no
 * context as the kernel's, nodes_only was never true. */
size_t control_holder_count(struct uvfs_ctx *ctx, const char *target,
			    uint64_t id, bool *nodes_only)
{
	struct uvfs_holder *h;
	size_t n;

	*nodes_only = false;
	if (id ? uvfs_holders_id(ctx, id, &h, &n)
	       : uvfs_holders(ctx, target, &h, &n))
		return 0;
	*nodes_only = true;
	for (size_t i = 0; i < n; i++)
		if (h[i].kind != UVFS_HOLDER_NODE)
			*nodes_only = false;
	free(h);
	return n;
}
