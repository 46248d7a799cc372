/*
 * uvfs - the command line of uvfsd.
 *
 *   uvfs mount -t TYPE [-o OPTIONS] SOURCE TARGET
 *   uvfs umount [-f] [-l] TARGET
 *   uvfs revoke PATH
 *   uvfs suspend TARGET | uvfs resume TARGET
 *   uvfs mounts [--json] | uvfs holders TARGET [--json] | uvfs stats [--json]
 *   uvfs servers [--json]
 *
 * Paths are ordinary paths inside a uvfsd mount.  The daemon is found from
 * the path: the uvfsd mount (fstype fuse.uvfsd in /proc/self/mountinfo)
 * that contains it names the control socket as its source; the path inside
 * the namespace is what follows the mount point.  Paths are resolved
 * lexically first, so a suspended or dead mount is never touched.
 *
 * Exit status: 0 done, 1 the operation failed, 2 usage, 3 the daemon cannot
 * be reached.
 */
#define _GNU_SOURCE
#include "ctl.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3

static const char *opt_socket;  /* -S */
static const char *opt_mount;   /* -m */

/* ---- finding the daemon ------------------------------------------------ */

struct target {
	char mnt[PATH_MAX];      /* the FUSE mount point */
	char sock[PATH_MAX];
	char ns[PATH_MAX];       /* the path in the namespace */
};

struct find {
	const char *path;        /* NULL: collect every uvfsd mount */
	size_t best;
	int n;
	struct target *t;
};

static int under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strcmp(prefix, "/") == 0)
		return path[0] == '/';
	return strncmp(path, prefix, n) == 0 &&
	       (path[n] == '\0' || path[n] == '/');
}

static void sock_of(const struct mountinfo_ent *e, char *out, size_t size)
{
	const char *u;

	if (e->source[0] == '/') {
		snprintf(out, size, "%s", e->source);
		return;
	}
	/* not ours to name: the rule uvfsd uses, for the mounting uid */
	uid_t uid = 0;
	if ((u = strstr(e->superopts, "user_id=")) != NULL)
		uid = (uid_t)strtoul(u + 8, NULL, 10);
	if (ctl_sockpath(e->mnt, uid, out, size))
		out[0] = '\0';
}

static int find_cb(const struct mountinfo_ent *e, void *arg)
{
	struct find *f = arg;

	if (strcmp(e->fstype, UVFSD_FSTYPE) != 0)
		return 0;
	if (!f->path) {
		f->n++;
		snprintf(f->t->mnt, sizeof(f->t->mnt), "%s", e->mnt);
		sock_of(e, f->t->sock, sizeof(f->t->sock));
		return 0;
	}
	size_t len = strlen(e->mnt);
	if (!under(f->path, e->mnt) || (f->n && len < f->best))
		return 0;
	f->n = 1;
	f->best = len;
	snprintf(f->t->mnt, sizeof(f->t->mnt), "%s", e->mnt);
	sock_of(e, f->t->sock, sizeof(f->t->sock));
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
static int resolve(const char *path, struct target *t)
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
	if (ret == 0 && opt_socket)
		snprintf(t->sock, sizeof(t->sock), "%s", opt_socket);
	return ret;
}

/* The daemon for commands without a path.  => 0 or an exit status. */
static int pick_daemon(struct target *t)
{
	char cwd[PATH_MAX];

	if (opt_mount) {
		if (resolve(opt_mount, t) == 0)
			return 0;
		fprintf(stderr, "uvfs: %s: not inside a uvfsd mount\n",
			opt_mount);
		return EXIT_UNREACHABLE;
	}
	if (opt_socket) {
		snprintf(t->sock, sizeof(t->sock), "%s", opt_socket);
		t->mnt[0] = '\0';
		return 0;
	}
	if (getcwd(cwd, sizeof(cwd)) && resolve(cwd, t) == 0)
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

struct reply {
	int err;                 /* 0 for "ok", else the errno */
	char *msg;
	char **lines;            /* the records, raw */
	size_t n;
	char *buf;
};

static void reply_free(struct reply *r)
{
	free(r->lines);
	free(r->buf);
}

/* => 0, or -1 (cannot reach: message printed). */
static int request(const char *sock, struct sbuf *req, struct reply *r)
{
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

/* ---- output ------------------------------------------------------------ */

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static int numeric(const char *s)
{
	if (*s == '-')
		s++;
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* One record as a JSON object (numbers stay numbers). */
static void json_record(char **argv, int argc)
{
	putchar('{');
	for (int i = 1; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq)
			continue;
		*eq = '\0';
		if (i > 1)
			printf(", ");
		json_str(argv[i]);
		printf(": ");
		if (numeric(eq + 1) && strcmp(argv[i], "label") &&
		    strcmp(argv[i], "comm") && strcmp(argv[i], "path"))
			printf("%s", eq + 1);
		else
			json_str(eq + 1);
		*eq = '=';
	}
	putchar('}');
}

/* Prints holders the way a person wants them: each process once (what it
 * holds), open files of processes not seen in /proc, child mounts, and the
 * kernel's bare node references only when nothing else explains the busy
 * mount.  => the number of lines printed. */
static int print_holders(FILE *out, struct reply *r)
{
	char *argv[CTL_ARGS_MAX];
	int lines = 0, nproc = 0, nother = 0;
	long pids[256];
	int npids = 0;

	/* processes first, grouped by pid (records of one pid are adjacent) */
	long cur = -1;
	for (size_t i = 0; i < r->n; i++) {
		char *l = strdup(r->lines[i]);
		int argc = l ? ctl_split(l, argv, CTL_ARGS_MAX) : -1;
		if (argc > 0 && strcmp(argv[0], "process") == 0) {
			const char *pid = ctl_get(argv, argc, "pid");
			const char *comm = ctl_get(argv, argc, "comm");
			const char *what = ctl_get(argv, argc, "what");
			const char *path = ctl_get(argv, argc, "path");
			long p = pid ? atol(pid) : 0;
			if (p != cur) {
				if (cur != -1)
					fputc('\n', out);
				fprintf(out, "  pid %ld (%s): %s %s", p,
					comm ? comm : "?", what ? what : "?",
					path ? path : "?");
				cur = p;
				lines++;
				nproc++;
				if (npids < 256)
					pids[npids++] = p;
			} else {
				fprintf(out, ", %s %s", what ? what : "?",
					path ? path : "?");
			}
		}
		free(l);
	}
	if (cur != -1)
		fputc('\n', out);
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < r->n; i++) {
			char *l = strdup(r->lines[i]);
			int argc = l ? ctl_split(l, argv, CTL_ARGS_MAX) : -1;
			if (argc <= 0 || strcmp(argv[0], "holder") != 0) {
				free(l);
				continue;
			}
			const char *kind = ctl_get(argv, argc, "kind");
			const char *label = ctl_get(argv, argc, "label");
			const char *path = ctl_get(argv, argc, "host");
			if (!kind)
				kind = "?";
			if (!label)
				label = "";
			if (!path)
				path = "?";
			int node = strcasecmp(kind, "node") == 0;
			if (pass == 0 && !node) {
				long p = 0;
				int seen = 0;
				if (sscanf(label, "pid %ld", &p) == 1)
					for (int k = 0; k < npids; k++)
						seen |= pids[k] == p;
				if (!seen) {
					if (strcasecmp(kind, "child") == 0)
						fprintf(out, "  mount %s\n",
							path);
					else
						fprintf(out, "  %s %s%s%s%s\n",
							kind, path,
							*label ? " (" : "",
							label,
							*label ? ")" : "");
					lines++;
				}
				nother++;
			} else if (pass == 1 && node && nproc == 0 &&
				   nother == 0) {
				fprintf(out, "  kernel reference %s\n", path);
				lines++;
			}
			free(l);
		}
	}
	return lines;
}

static int print_error(const char *what, const char *arg, struct reply *r)
{
	fprintf(stderr, "uvfs: cannot %s %s: %s\n", what, arg,
		r->msg && *r->msg ? r->msg : strerror(r->err));
	return EXIT_FAIL;
}

/* ---- commands ---------------------------------------------------------- */

struct cmd {
	const char *name;
	const char *usage;
	const char *help;
	int (*fn)(int argc, char **argv);
};
static const struct cmd *cur_cmd;

static int usage_error(const char *msg)
{
	if (msg)
		fprintf(stderr, "uvfs %s: %s\n", cur_cmd->name, msg);
	fprintf(stderr, "usage: uvfs %s\n", cur_cmd->usage);
	return EXIT_USAGE;
}

static int wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 1;
	}
	return 0;
}

/* Resolves a path argument; => 0, or an exit status (message printed). */
static int target_of(const char *what, const char *path, struct target *t)
{
	if (resolve(path, t) == 0)
		return 0;
	fprintf(stderr, "uvfs: cannot %s %s: not inside a uvfsd mount\n",
		what, path);
	return EXIT_FAIL;
}

/* Sends a one-path request; prints the error.  => exit status. */
static int simple(const char *verb, const char *what, const char *path,
		  const char *flag)
{
	struct target t;
	struct sbuf req = { 0 };
	struct reply r;
	int ret = target_of(what, path, &t);

	if (ret)
		return ret;
	sbuf_adds(&req, verb);
	if (flag) {
		sbuf_adds(&req, " ");
		sbuf_adds(&req, flag);
	}
	sbuf_adds(&req, " ");
	sbuf_add_tok(&req, t.ns);
	ret = request(t.sock, &req, &r);
	sbuf_free(&req);
	if (ret)
		return EXIT_UNREACHABLE;
	ret = EXIT_OK;
	if (r.err == EBUSY && strcmp(verb, "umount") == 0) {
		/* count what print_holders shows, then print it */
		FILE *null = fopen("/dev/null", "w");
		int n = null ? print_holders(null, &r) : 0;
		if (null)
			fclose(null);
		fprintf(stderr, "uvfs: cannot %s %s: target is busy "
			"(%d holder%s)\n", what, path, n, n == 1 ? "" : "s");
		print_holders(stderr, &r);
		ret = EXIT_FAIL;
	} else if (r.err) {
		ret = print_error(what, path, &r);
	}
	reply_free(&r);
	return ret;
}

static int cmd_mount(int argc, char **argv)
{
	const char *type = NULL, *opts = "";
	int o;

	optind = 1;
	while ((o = getopt(argc, argv, "+t:o:")) != -1) {
		if (o == 't')
			type = optarg;
		else if (o == 'o')
			opts = optarg;
		else
			return usage_error(NULL);
	}
	if (!type)
		return usage_error("-t TYPE is required");
	if (argc - optind != 2)
		return usage_error(argc - optind < 2 ?
				   "SOURCE and TARGET are required" :
				   "too many arguments");
	const char *source = argv[optind], *path = argv[optind + 1];
	if (!*type || !*source)
		return usage_error("empty TYPE or SOURCE");
	struct target t;
	struct sbuf req = { 0 };
	struct reply r;
	int ret = target_of("mount on", path, &t);
	if (ret)
		return ret;
	sbuf_adds(&req, "mount ");
	sbuf_add_tok(&req, type);
	sbuf_adds(&req, " ");
	sbuf_add_tok(&req, source);
	sbuf_adds(&req, " ");
	sbuf_add_tok(&req, t.ns);
	sbuf_adds(&req, " ");
	sbuf_add_tok(&req, opts);
	ret = request(t.sock, &req, &r);
	sbuf_free(&req);
	if (ret)
		return EXIT_UNREACHABLE;
	ret = EXIT_OK;
	if (r.err) {
		char what[PATH_MAX + 64];
		snprintf(what, sizeof(what), "mount %s (%s) on", source, type);
		ret = print_error(what, path,
				  &(struct reply){ .err = r.err,
						   .msg = r.err == ENODEV ?
						   (char *)"unknown file system type" :
						   r.msg });
	}
	reply_free(&r);
	return ret;
}

static int cmd_umount(int argc, char **argv)
{
	char flags[4] = "-";
	int o;

	optind = 1;
	while ((o = getopt(argc, argv, "+fl")) != -1) {
		if (o == 'f' && !strchr(flags, 'f'))
			strcat(flags, "f");
		else if (o == 'l' && !strchr(flags, 'l'))
			strcat(flags, "l");
		else if (o != 'f' && o != 'l')
			return usage_error(NULL);
	}
	if (argc - optind != 1)
		return usage_error("one TARGET is needed");
	return simple("umount", "unmount", argv[optind],
		      flags[1] ? flags : NULL);
}

static int one_path(int argc, char **argv, const char *verb,
		    const char *what)
{
	if (argc != 2 || argv[1][0] == '-')
		return usage_error(argc < 2 ? "a path is needed" : NULL);
	return simple(verb, what, argv[1], NULL);
}

static int cmd_revoke(int argc, char **argv)
{
	return one_path(argc, argv, "revoke", "revoke");
}

static int cmd_suspend(int argc, char **argv)
{
	return one_path(argc, argv, "suspend", "suspend");
}

static int cmd_resume(int argc, char **argv)
{
	return one_path(argc, argv, "resume", "resume");
}

static int json_flag(int argc, char **argv, int npos, const char **pos)
{
	int json = 0, k = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (argv[i][0] == '-' && argv[i][1])
			return -1;
		else if (k < npos)
			pos[k++] = argv[i];
		else
			return -1;
	}
	return k == npos ? json : -1;
}

static int cmd_holders(int argc, char **argv)
{
	const char *path;
	int json = json_flag(argc, argv, 1, &path);
	struct target t;
	struct sbuf req = { 0 };
	struct reply r;
	int ret;

	if (json < 0)
		return usage_error(NULL);
	ret = target_of("list the holders of", path, &t);
	if (ret)
		return ret;
	sbuf_adds(&req, "holders ");
	sbuf_add_tok(&req, t.ns);
	ret = request(t.sock, &req, &r);
	sbuf_free(&req);
	if (ret)
		return EXIT_UNREACHABLE;
	if (r.err) {
		ret = print_error("list the holders of", path, &r);
		reply_free(&r);
		return ret;
	}
	if (json) {
		char *argv2[CTL_ARGS_MAX];
		printf("{\"target\": ");
		json_str(t.ns);
		for (int pass = 0; pass < 2; pass++) {
			const char *kind = pass ? "process" : "holder";
			int first = 1;
			printf(", \"%s\": [", pass ? "processes" : "holders");
			for (size_t i = 0; i < r.n; i++) {
				char *l = strdup(r.lines[i]);
				int c = l ? ctl_split(l, argv2, CTL_ARGS_MAX)
					  : -1;
				if (c > 0 && strcmp(argv2[0], kind) == 0) {
					printf(first ? "" : ", ");
					json_record(argv2, c);
					first = 0;
				}
				free(l);
			}
			printf("]");
		}
		printf("}\n");
	} else {
		char *argv2[CTL_ARGS_MAX];
		printf("%-6s %-10s %4s %-40s %s\n", "KIND", "LABEL", "FD",
		       "PATH", "HOST PATH");
		for (size_t i = 0; i < r.n; i++) {
			char *l = strdup(r.lines[i]);
			int c = l ? ctl_split(l, argv2, CTL_ARGS_MAX) : -1;
			if (c > 0 && strcmp(argv2[0], "holder") == 0) {
				const char *lb = ctl_get(argv2, c, "label");
				printf("%-6s %-10s %4s %-40s %s\n",
				       ctl_get(argv2, c, "kind"),
				       lb && *lb ? lb : "-",
				       ctl_get(argv2, c, "fd"),
				       ctl_get(argv2, c, "path"),
				       ctl_get(argv2, c, "host"));
			}
			free(l);
		}
		int procs = 0;
		for (size_t i = 0; i < r.n; i++)
			procs += strncmp(r.lines[i], "process ", 8) == 0;
		if (procs) {
			printf("processes:\n");
			print_holders(stdout, &(struct reply){
				.lines = r.lines, .n = r.n });
		}
	}
	reply_free(&r);
	return EXIT_OK;
}

/* mounts and stats: a request without a path. */
static int listing(int argc, char **argv, const char *verb,
		   const char *what)
{
	int json = json_flag(argc, argv, 0, NULL);
	struct target t;
	struct sbuf req = { 0 };
	struct reply r;
	char *a[CTL_ARGS_MAX];
	int ret;

	if (json < 0)
		return usage_error(NULL);
	if ((ret = pick_daemon(&t)) != 0)
		return ret;
	sbuf_adds(&req, verb);
	ret = request(t.sock, &req, &r);
	sbuf_free(&req);
	if (ret)
		return EXIT_UNREACHABLE;
	if (r.err) {
		ret = print_error(what, t.mnt[0] ? t.mnt : t.sock, &r);
		reply_free(&r);
		return ret;
	}
	if (strcmp(verb, "stats") == 0) {
		for (size_t i = 0; i < r.n; i++) {
			int c = ctl_split(r.lines[i], a, CTL_ARGS_MAX);
			if (c <= 0)
				continue;
			if (json) {
				json_record(a, c);
				putchar('\n');
				continue;
			}
			if (strcmp(a[0], "inflight") == 0) {
				printf("%-20s %s %s\n", "inflight in",
				       ctl_get(a, c, "target"),
				       ctl_get(a, c, "operations"));
				continue;
			}
			for (int k = 1; k < c; k++) {
				char *eq = strchr(a[k], '=');
				if (eq) {
					*eq = '\0';
					printf("%-20s %s\n", a[k], eq + 1);
				}
			}
		}
		reply_free(&r);
		return EXIT_OK;
	}
	if (strcmp(verb, "servers") == 0) {
		if (json)
			printf("[");
		else
			printf("%-8s %-5s %-12s %8s %6s %8s %-24s %s\n", "PID",
			       "MOUNT", "STATE", "RESTARTS", "LOSSES",
			       "TIMEOUTS", "TARGET", "SOURCE");
		int first = 1;
		for (size_t i = 0; i < r.n; i++) {
			int c = ctl_split(r.lines[i], a, CTL_ARGS_MAX);
			if (c <= 0 || strcmp(a[0], "server") != 0)
				continue;
			if (json) {
				printf(first ? "" : ", ");
				json_record(a, c);
			} else {
				printf("%-8s %-5s %-12s %8s %6s %8s %-24s %s\n",
				       ctl_get(a, c, "pid"),
				       ctl_get(a, c, "mount"),
				       ctl_get(a, c, "state"),
				       ctl_get(a, c, "restarts"),
				       ctl_get(a, c, "losses"),
				       ctl_get(a, c, "timeouts"),
				       ctl_get(a, c, "target"),
				       ctl_get(a, c, "source"));
			}
			first = 0;
		}
		if (json)
			printf("]\n");
		reply_free(&r);
		return EXIT_OK;
	}
	if (json)
		printf("[");
	else
		printf("%-4s %-6s %-9s %4s %-8s %-12s %-24s %s\n", "ID",
		       "PARENT", "STATE", "REFS", "TYPE", "SOURCE", "TARGET",
		       "OPTIONS");
	for (size_t i = 0; i < r.n; i++) {
		int c = ctl_split(r.lines[i], a, CTL_ARGS_MAX);
		if (c <= 0 || strcmp(a[0], "mount") != 0)
			continue;
		if (json) {
			printf(i ? ", " : "");
			json_record(a, c);
			continue;
		}
		const char *o = ctl_get(a, c, "options");
		printf("%-4s %-6s %-9s %4s %-8s %-12s %-24s %s\n",
		       ctl_get(a, c, "id"), ctl_get(a, c, "parent"),
		       ctl_get(a, c, "state"), ctl_get(a, c, "refs"),
		       ctl_get(a, c, "type"), ctl_get(a, c, "source"),
		       ctl_get(a, c, "host"), o && *o ? o : "-");
	}
	if (json)
		printf("]\n");
	reply_free(&r);
	return EXIT_OK;
}

static int cmd_mounts(int argc, char **argv)
{
	return listing(argc, argv, "mounts", "list the mounts of");
}

static int cmd_stats(int argc, char **argv)
{
	return listing(argc, argv, "stats", "get the statistics of");
}

static int cmd_servers(int argc, char **argv)
{
	return listing(argc, argv, "servers", "list the file servers of");
}

static const struct cmd cmds[] = {
	{ "mount", "mount -t TYPE [-o OPTIONS] SOURCE TARGET",
	  "Mounts SOURCE, a file system of type TYPE, on the directory TARGET\n"
	  "inside a uvfsd mount.  OPTIONS: comma-separated; \"ro\" and\n"
	  "\"deadline=MS\" (the forced-unmount deadline) for every type, the\n"
	  "rest for the type (memfs: size=BYTES[k|m|g]).\n"
	  "  -t nfs: SOURCE nfs://HOST/EXPORT or HOST:/EXPORT (NFSv3 over TCP);\n"
	  "  OPTIONS vers=3, timeout=MS (per request, default 10000),\n"
	  "  actimeo=SECONDS (attribute cache, default 3), ac, noac,\n"
	  "  hard (wait through a reconnect; default soft: fail with EIO).",
	  cmd_mount },
	{ "umount", "umount [-f] [-l] TARGET",
	  "Unmounts the file system mounted on TARGET.  Without flags it fails\n"
	  "if anything uses it, and lists who: processes with a working\n"
	  "directory, root or open file inside, child mounts.\n"
	  "  -f  forced: returns within the mount's deadline; what was open\n"
	  "      inside answers EIO (close works) and TARGET shows again what\n"
	  "      the mount covered\n"
	  "  -l  lazy: detached now, shut down when its last user is gone",
	  cmd_umount },
	{ "revoke", "revoke PATH",
	  "Makes every open descriptor of the file at PATH dead (EIO but for\n"
	  "close); new opens get the file afresh.",
	  cmd_revoke },
	{ "suspend", "suspend TARGET",
	  "Quiesces the mount at TARGET: new operations on it wait until\n"
	  "resume; returns once the operations in flight have finished.",
	  cmd_suspend },
	{ "resume", "resume TARGET", "Lets a suspended mount run again.",
	  cmd_resume },
	{ "mounts", "mounts [--json]",
	  "Lists the mounts of the namespace (of the uvfsd mount containing\n"
	  "the working directory, or the only one, or -m MOUNTPOINT).",
	  cmd_mounts },
	{ "holders", "holders TARGET [--json]",
	  "Lists what holds the mount at TARGET (what makes umount fail).",
	  cmd_holders },
	{ "stats", "stats [--json]",
	  "Prints the counters of the namespace (live objects) and of the FUSE\n"
	  "front end, and the operations in flight in each mount now.",
	  cmd_stats },
	{ "servers", "servers [--json]",
	  "Lists the file servers uvfsd supervises (hostfs and diod mounts,\n"
	  "and 9p mounts that reconnect and nfs mounts, whose pid is 0): pid, mount id,\n"
	  "state (running, recovering, dead), restarts, target and source\n"
	  "(the exported directory, or the address).",
	  cmd_servers },
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: uvfs [-m MOUNTPOINT] [-S SOCKET] COMMAND [ARGS]\n\n"
		"Commands:\n");
	for (size_t i = 0; i < NCMDS; i++)
		fprintf(f, "  uvfs %s\n", cmds[i].usage);
	fprintf(f,
"\nPaths are paths inside a uvfsd mount; the daemon is found from them.\n"
"  -m MOUNTPOINT  the uvfsd mount for mounts and stats\n"
"  -S SOCKET      the control socket (default: the one the mount names)\n"
"`uvfs COMMAND --help` describes a command.\n\n"
"Exit status: 0 done, 1 the operation failed, 2 usage error,\n"
"3 uvfsd cannot be reached.\n");
}

int main(int argc, char **argv)
{
	int i = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return EXIT_OK;
		} else if ((!strcmp(argv[i], "-m") ||
			    !strcmp(argv[i], "--mount")) && i + 1 < argc) {
			opt_mount = argv[++i];
		} else if ((!strcmp(argv[i], "-S") ||
			    !strcmp(argv[i], "--socket")) && i + 1 < argc) {
			opt_socket = argv[++i];
		} else {
			fprintf(stderr, "uvfs: unknown option '%s'\n",
				argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!opt_socket)
		opt_socket = getenv("UVFS_SOCKET");
	if (opt_socket && !*opt_socket)
		opt_socket = NULL;
	if (i == argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[i], "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	for (size_t k = 0; k < NCMDS; k++) {
		if (strcmp(argv[i], cmds[k].name) != 0)
			continue;
		cur_cmd = &cmds[k];
		if (wants_help(argc - i, argv + i)) {
			printf("usage: uvfs %s\n\n%s\n", cmds[k].usage,
			       cmds[k].help);
			return EXIT_OK;
		}
		return cmds[k].fn(argc - i, argv + i);
	}
	fprintf(stderr, "uvfs: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return EXIT_USAGE;
}
