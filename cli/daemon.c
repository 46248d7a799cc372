/*
 * daemon.c - the uvfs command line's way to its daemon: which uvfsd a
 * path belongs to (the uvfsd mount in /proc/self/mountinfo that holds
 * it: its source names the control socket, its user_id= whom the daemon
 * must run as), or which one a command without a path means (-m, -S,
 * the working directory, the only one); and one request to it, a line
 * sent and the answer read whole (at most REPLY_MAX) and split into its
 * records (struct reply, cli.h).  Nothing here outlives a call but the
 * answer, which the caller frees (reply_free).
 */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* The largest answer taken from the daemon: the longest it gives (a
 * mount list, a busy reply with its holders) is far below; past it the
 * peer is not a daemon that means well. */
#define REPLY_MAX (8u << 20)

/* ---- finding the daemon ------------------------------------------------ */

struct find {
	const char *path;        /* NULL: collect every uvfsd mount */
	size_t best;
	int n;
	struct target *t;
};

/* The socket of the uvfsd mount e, and whom it must answer as.  The
 * source is whatever the mounting user chose (fusermount lets any user
 * name his mount's source and subtype), so a user's own mount could name
 * another daemon's socket (root's) and have a request about a path inside
 * it carried out there, on root's mount of the same name; the mount's
 * owner (user_id=) is the kernel's, and the daemon that answers must run
 * as that uid (daemon_request). */
static void sock_of(const struct mountinfo_ent *e, struct target *t)
{
	const char *u;

	uid_t uid = 0;
	if ((u = strstr(e->superopts, "user_id=")) != NULL)
		uid = (uid_t)strtoul(u + 8, NULL, 10);
	t->check_owner = true;
	t->owner = uid;
	if (e->source[0] == '/') {
		snprintf(t->sock, sizeof(t->sock), "%s", e->source);
		return;
	}
	/* not ours to name: the rule uvfsd uses, for the mounting uid */
	if (ctl_sockpath(e->mnt, uid, t->sock, sizeof(t->sock)))
		t->sock[0] = '\0';
}

static int find_cb(const struct mountinfo_ent *e, void *arg)
{
	struct find *f = arg;

	if (strcmp(e->fstype, UVFSD_FSTYPE) != 0)
		return 0;
	if (!f->path) {
		f->n++;
		snprintf(f->t->mnt, sizeof(f->t->mnt), "%s", e->mnt);
		sock_of(e, f->t);
		return 0;
	}
	size_t len = strlen(e->mnt);
	if (!ctl_under(f->path, e->mnt) || (f->n && len < f->best))
		return 0;
	f->n = 1;
	f->best = len;
	snprintf(f->t->mnt, sizeof(f->t->mnt), "%s", e->mnt);
	sock_of(e, f->t);
	return 0;
}

static int match(const char *abs, struct target *t)
{
	struct find f = { abs, 0, 0, t };

	ctl_mountinfo_each(find_cb, &f);
	if (!f.n)
		return -1;
	const char *rest = abs + (strcmp(t->mnt, "/") ? strlen(t->mnt) : 0);
	if (!*rest)
		rest = "/";
	size_t len = strlen(rest);
	if (len >= sizeof(t->ns))
		return -1;      /* longer than any path in the namespace */
	memcpy(t->ns, rest, len + 1);
	return 0;
}

/* => 0, or -1 with a message (what: "cannot unmount"). */
int daemon_resolve(const char *path, struct target *t)
{
	char *lex = ctl_lexical_path(path);
	char real[PATH_MAX], buf[PATH_MAX * 2];
	int ret = -1;

	if (!lex)
		return -1;
	if (match(lex, t) == 0) {
		ret = 0;
	} else {
		/* through symlinks outside the mount: resolve the parent
		 * only, then the whole path */
		char *slash = strrchr(lex, '/');
		if (slash && slash != lex) {
			*slash = '\0';
			if (realpath(lex, real)) {
				snprintf(buf, sizeof(buf), "%s/%s",
					 strcmp(real, "/") ? real : "",
					 slash + 1);
				ret = match(buf, t);
			}
			*slash = '/';
		}
		if (ret && realpath(lex, real))
			ret = match(real, t);
	}
	free(lex);
	if (ret == 0 && opt_socket) {
		snprintf(t->sock, sizeof(t->sock), "%s", opt_socket);
		t->check_owner = false;         /* named by the caller */
	}
	return ret;
}

/* The daemon for commands without a path.  => 0 or an exit status. */
int daemon_pick(struct target *t)
{
	char cwd[PATH_MAX];

	if (opt_mount) {
		if (daemon_resolve(opt_mount, t) == 0)
			return 0;
		fprintf(stderr, "uvfs: %s: not inside a uvfsd mount\n",
			opt_mount);
		return EXIT_UNREACHABLE;
	}
	if (opt_socket) {
		snprintf(t->sock, sizeof(t->sock), "%s", opt_socket);
		t->check_owner = false;
		t->mnt[0] = '\0';
		return 0;
	}
	if (getcwd(cwd, sizeof(cwd)) && daemon_resolve(cwd, t) == 0)
		return 0;
	struct find f = { NULL, 0, 0, t };
	ctl_mountinfo_each(find_cb, &f);
	if (f.n == 1)
		return 0;
	if (f.n == 0) {
		fprintf(stderr, "uvfs: no uvfsd mount found\n");
		return EXIT_UNREACHABLE;
	}
	fprintf(stderr, "uvfs: %d uvfsd mounts; say which with "
		"-m MOUNTPOINT\n", f.n);
	return EXIT_USAGE;
}

/* ---- talking to it ----------------------------------------------------- */

void reply_free(struct reply *r)
{
	free(r->lines);
	free(r->buf);
}

/* Is the peer of fd the daemon t's mount says?  => 0, or -1 with a
 * message. */
static int check_peer(int fd, const struct target *t)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (!t->check_owner)
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0) {
		fprintf(stderr, "uvfs: cannot reach uvfsd at %s: %s\n", t->sock,
			strerror(errno));
		return -1;
	}
	if (cr.uid == t->owner)
		return 0;
	fprintf(stderr, "uvfs: refusing the socket %s named by the mount %s: "
		"it is served by uid %u, and the mount belongs to uid %u "
		"(name the socket with -S if it is the right one)\n", t->sock,
		t->mnt, (unsigned)cr.uid, (unsigned)t->owner);
	return -1;
}

/* => 0, or -1 (cannot reach: message printed). */
int daemon_request(const struct target *t, struct sbuf *req, struct reply *r)
{
	const char *sock = t->sock;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sbuf in = { 0 };
	char chunk[4096];
	int fd;

	memset(r, 0, sizeof(*r));
	if (strlen(sock) >= sizeof(sa.sun_path) || !sock[0]) {
		fprintf(stderr, "uvfs: cannot reach uvfsd: bad socket path "
			"'%s'\n", sock);
		return -1;
	}
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "uvfs: cannot reach uvfsd at %s: %s\n", sock,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (check_peer(fd, t)) {
		close(fd);
		return -1;
	}
	sbuf_adds(req, "\n");
	for (size_t off = 0; off < req->len;) {
		ssize_t w = send(fd, req->p + off, req->len - off,
				 MSG_NOSIGNAL);
		if (w <= 0) {
			fprintf(stderr, "uvfs: cannot reach uvfsd at %s: %s\n",
				sock, strerror(errno));
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (in.len + (size_t)n > REPLY_MAX) {
			fprintf(stderr, "uvfs: the answer of uvfsd at %s is "
				"larger than %u MiB: refused\n", sock,
				REPLY_MAX >> 20);
			close(fd);
			sbuf_free(&in);
			return -1;
		}
		sbuf_add(&in, chunk, (size_t)n);
	}
	close(fd);
	if (!in.p || in.oom) {
		fprintf(stderr, "uvfs: no answer from uvfsd at %s\n", sock);
		sbuf_free(&in);
		return -1;
	}
	r->buf = in.p;
	size_t cap = 0;
	char *save = NULL;
	int first = 1;
	for (char *l = strtok_r(r->buf, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		if (first) {
			first = 0;
			if (strcmp(l, "ok") == 0)
				continue;
			char *sp;
			if (strncmp(l, "error ", 6) == 0) {
				r->err = atoi(l + 6);
				sp = strchr(l + 6, ' ');
				r->msg = sp ? sp + 1 : (char *)"";
				char *v[1];
				if (ctl_split(r->msg, v, 1) == 1)
					r->msg = v[0];
			} else {
				r->err = EPROTO;
				r->msg = (char *)"garbled answer";
			}
			if (!r->err)
				r->err = EPROTO;
			continue;
		}
		if (r->n == cap) {
			cap = cap ? 2 * cap : 16;
			char **nl = realloc(r->lines, cap * sizeof(*nl));
			if (!nl)
				break;
			r->lines = nl;
		}
		r->lines[r->n++] = l;
	}
	return 0;
}
