/*
 * args.c - uvfsd's command line (args.h).
 *
 *   uvfsd [SOURCE] MOUNTPOINT [-f] [-d] [--root SPEC] [--socket PATH]
 *         [--mtab FILE] [-o OPTION[,OPTION...]]
 *
 * The second form is how mount(8) runs it through mount.fuse3 for
 * `mount -t fuse.uvfsd SOURCE MOUNTPOINT -o OPTIONS` and /etc/fstab lines
 * ("SOURCE MOUNTPOINT fuse.uvfsd OPTIONS 0 0"): SOURCE is the root
 * (TYPE[:SOURCE[:OPTIONS]]; "uvfsd" or "none" mean the default memfs),
 * and -o carries mount(8)'s generic options next to ours.  Parsed with
 * libfuse's option parser, as libfuse's own file systems do:
 *
 *   ours       allow_other, xattr, writeback, wb_limit=system|fuse|SIZE,
 *              max_threads=N, idle_threads=N, mount_threads=N, clone_fd,
 *              splice,
 *              root=SPEC, socket=PATH, mtab=FILE, debug, foreground
 *   the kernel's mount flags, passed on to the FUSE mount: ro, rw, nosuid,
 *              suid, nodev, dev, noexec, exec, sync, async, dirsync,
 *              atime, noatime
 *   mount(8)'s bookkeeping, ignored: defaults, auto, noauto, user, users,
 *              nouser, _netdev, nofail, relatime, strictatime, lazytime,
 *              nodiratime, x-* and comment=*
 *   anything else is refused: "uvfsd: unknown option 'bogus'".
 *
 * Owns struct uvfsd_args's kernel_opts string (freed by uvfsd_args_free).
 */
#define _GNU_SOURCE
#include "args.h"

#define FUSE_USE_VERSION 34
#include <fuse_opt.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	KEY_FG, KEY_DEBUG, KEY_HELP, KEY_VERSION, KEY_ALLOW_OTHER, KEY_XATTR,
	KEY_WRITEBACK, KEY_CLONE_FD, KEY_SPLICE, KEY_WB_LIMIT, KEY_MAX_THREADS,
	KEY_IDLE_THREADS,
	KEY_MOUNT_THREADS,
	KEY_KERNEL, KEY_IGNORE,
};

/* fuse_opt_parse fills the templates' fields at their offsets in the
 * data it is given: the arguments come first in it. */
struct state {
	struct uvfsd_args args;
	int npos;
	const char *pos[2];
	int bad;
};

#define OPT(t, f) { t, offsetof(struct uvfsd_args, f), 0 }
static const struct fuse_opt opts[] = {
	OPT("--root=%s", root), OPT("--root %s", root), OPT("root=%s", root),
	OPT("--socket=%s", socket), OPT("--socket %s", socket),
	OPT("socket=%s", socket),
	OPT("--mtab=%s", mtab), OPT("--mtab %s", mtab), OPT("mtab=%s", mtab),
	FUSE_OPT_KEY("-f", KEY_FG), FUSE_OPT_KEY("--foreground", KEY_FG),
	FUSE_OPT_KEY("foreground", KEY_FG),
	FUSE_OPT_KEY("-d", KEY_DEBUG), FUSE_OPT_KEY("--debug", KEY_DEBUG),
	FUSE_OPT_KEY("debug", KEY_DEBUG),
	FUSE_OPT_KEY("-h", KEY_HELP), FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION), FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
	FUSE_OPT_KEY("xattr", KEY_XATTR),
	FUSE_OPT_KEY("writeback", KEY_WRITEBACK),
	FUSE_OPT_KEY("clone_fd", KEY_CLONE_FD),
	FUSE_OPT_KEY("splice", KEY_SPLICE),
	FUSE_OPT_KEY("wb_limit=", KEY_WB_LIMIT),
	FUSE_OPT_KEY("max_threads=", KEY_MAX_THREADS),
	FUSE_OPT_KEY("idle_threads=", KEY_IDLE_THREADS),
	FUSE_OPT_KEY("mount_threads=", KEY_MOUNT_THREADS),
	FUSE_OPT_KEY("ro", KEY_KERNEL), FUSE_OPT_KEY("rw", KEY_KERNEL),
	FUSE_OPT_KEY("nosuid", KEY_KERNEL), FUSE_OPT_KEY("suid", KEY_KERNEL),
	FUSE_OPT_KEY("nodev", KEY_KERNEL), FUSE_OPT_KEY("dev", KEY_KERNEL),
	FUSE_OPT_KEY("noexec", KEY_KERNEL), FUSE_OPT_KEY("exec", KEY_KERNEL),
	FUSE_OPT_KEY("sync", KEY_KERNEL), FUSE_OPT_KEY("async", KEY_KERNEL),
	FUSE_OPT_KEY("dirsync", KEY_KERNEL),
	FUSE_OPT_KEY("atime", KEY_KERNEL), FUSE_OPT_KEY("noatime", KEY_KERNEL),
	FUSE_OPT_KEY("defaults", KEY_IGNORE), FUSE_OPT_KEY("auto", KEY_IGNORE),
	FUSE_OPT_KEY("noauto", KEY_IGNORE), FUSE_OPT_KEY("user", KEY_IGNORE),
	FUSE_OPT_KEY("users", KEY_IGNORE), FUSE_OPT_KEY("nouser", KEY_IGNORE),
	FUSE_OPT_KEY("_netdev", KEY_IGNORE), FUSE_OPT_KEY("nofail", KEY_IGNORE),
	FUSE_OPT_KEY("relatime", KEY_IGNORE),
	FUSE_OPT_KEY("strictatime", KEY_IGNORE),
	FUSE_OPT_KEY("lazytime", KEY_IGNORE),
	FUSE_OPT_KEY("nodiratime", KEY_IGNORE),
	FUSE_OPT_KEY("x-", KEY_IGNORE), FUSE_OPT_KEY("comment=", KEY_IGNORE),
	FUSE_OPT_END
};

static int add_kernel(struct uvfsd_args *a, const char *o)
{
	char *n;

	if (asprintf(&n, "%s%s%s", a->kernel_opts ? a->kernel_opts : "",
		     a->kernel_opts ? "," : "", o) < 0)
		return -1;
	free(a->kernel_opts);
	a->kernel_opts = n;
	return 0;
}

/* N with an optional k, m, g (1024-based) suffix, > 0.  => 0, or -1. */
static int parse_size(const char *s, unsigned long long *out)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	}
	if (errno || *end || v == 0 || v > (~0ull >> shift))
		return -1;
	*out = v << shift;
	return 0;
}

/* The value of "name=value" as a count from 1 to max.  => 0, or -1. */
static int parse_count(const char *arg, unsigned max, unsigned *out)
{
	const char *s = strchr(arg, '=') + 1;
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int bad_value(struct state *st, const char *arg, const char *what)
{
	fprintf(stderr, "uvfsd: bad option '%s': %s\n", arg, what);
	st->bad = 1;
	return -1;
}

static int proc(void *data, const char *arg, int key,
		struct fuse_args *out)
{
	struct state *st = data;
	struct uvfsd_args *a = &st->args;

	(void)out;
	switch (key) {
	case KEY_FG: a->foreground = 1; return 0;
	case KEY_DEBUG: a->debug = a->foreground = 1; return 0;
	case KEY_HELP: a->help = 1; return 0;
	case KEY_VERSION: a->version = 1; return 0;
	case KEY_ALLOW_OTHER: a->allow_other = 1; return 0;
	case KEY_XATTR: a->xattr = 1; return 0;
	case KEY_WRITEBACK: a->writeback = 1; return 0;
	case KEY_CLONE_FD: a->clone_fd = 1; return 0;
	case KEY_SPLICE: a->splice = 1; return 0;
	case KEY_WB_LIMIT: {
		const char *v = arg + strlen("wb_limit=");
		if (strcmp(v, "system") == 0)
			a->wb_limit = WB_LIMIT_SYSTEM;
		else if (strcmp(v, "fuse") == 0)
			a->wb_limit = WB_LIMIT_FUSE;
		else if (parse_size(v, &a->wb_limit_bytes) == 0)
			a->wb_limit = WB_LIMIT_BYTES;
		else
			return bad_value(st, arg, "system, fuse or a size "
					 "(N, Nk, Nm, Ng) is expected");
		a->wb_limit_set = 1;
		return 0;
	}
	case KEY_MAX_THREADS:
		if (parse_count(arg, 100000, &a->max_threads))
			return bad_value(st, arg, "a count from 1 is expected");
		return 0;
	case KEY_IDLE_THREADS:
		if (parse_count(arg, 100000, &a->idle_threads))
			return bad_value(st, arg, "a count from 1 is expected");
		return 0;
	case KEY_MOUNT_THREADS:
		if (parse_count(arg, 100000, &a->mount_threads))
			return bad_value(st, arg, "a count from 1 is expected");
		return 0;
	case KEY_KERNEL: return add_kernel(a, arg) ? -1 : 0;
	case KEY_IGNORE: return 0;
	case FUSE_OPT_KEY_NONOPT:
		if (st->npos < 2) {
			st->pos[st->npos++] = arg;
			return 0;
		}
		fprintf(stderr, "uvfsd: too many arguments: '%s'\n", arg);
		st->bad = 1;
		return -1;
	default:        /* FUSE_OPT_KEY_OPT: no template took it */
		if (strncmp(arg, "x-", 2) == 0 ||
		    strncmp(arg, "comment=", 8) == 0)
			return 0;
		fprintf(stderr, "uvfsd: unknown %soption '%s'\n",
			arg[0] == '-' ? "" : "mount ", arg);
		st->bad = 1;
		return -1;
	}
}

int uvfsd_args_parse(int argc, char **argv, struct uvfsd_args *a)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct state st = { .npos = 0 };
	int r = fuse_opt_parse(&args, &st, opts, proc);

	fuse_opt_free_args(&args);
	*a = st.args;
	if (r != 0) {
		if (!st.bad)
			fprintf(stderr, "uvfsd: bad arguments\n");
		return 2;
	}
	if (a->help || a->version)
		return 0;
	if (st.npos == 0) {
		fprintf(stderr, "uvfsd: a MOUNTPOINT is needed\n");
		return 2;
	}
	a->mountpoint = st.pos[st.npos - 1];
	if (a->wb_limit_set && !a->writeback) {
		fprintf(stderr, "uvfsd: wb_limit= is for -o writeback\n");
		return 2;
	}
	if (a->mtab && a->mtab[0] != '/') {
		fprintf(stderr, "uvfsd: --mtab needs an absolute path\n");
		return 2;
	}
	if (st.npos == 2) {
		const char *src = st.pos[0];
		if (strcmp(src, "uvfsd") != 0 && strcmp(src, "none") != 0) {
			if (a->root) {
				fprintf(stderr, "uvfsd: the root is given "
					"twice: SOURCE '%s' and --root\n", src);
				return 2;
			}
			a->root = strdup(src);
			if (!a->root)
				return 2;
		}
	}
	return 0;
}

void uvfsd_args_free(struct uvfsd_args *a)
{
	free((char *)a->root);
	free((char *)a->socket);
	free((char *)a->mtab);
	free(a->kernel_opts);
	memset(a, 0, sizeof(*a));
}
