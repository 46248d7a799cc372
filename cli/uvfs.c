/*
 * uvfs - the command line of uvfsd.
 *
 *   uvfs mount -t TYPE [-o OPTIONS] SOURCE TARGET
 *   uvfs umount [-f] [-l] TARGET
 *   uvfs revoke PATH
 *   uvfs suspend TARGET | uvfs resume TARGET
 *   uvfs mounts [--json] | uvfs holders TARGET [--json] | uvfs stats [--json]
 *   uvfs servers [--json]
 * umount, suspend, resume and holders also take --id N instead of TARGET:
 * the mount whose id `uvfs mounts` lists as N (of the daemon found as for
 * mounts), which names it also when no path reaches it (another mount
 * covers it) and never walks (docs/lifecycle.md, "Naming a mount").
 *
 * Paths are ordinary paths inside a uvfsd mount.  The daemon is found from
 * the path: the uvfsd mount (fstype fuse.uvfsd in /proc/self/mountinfo)
 * that contains it names the control socket as its source, and the daemon
 * there must run as the mount's owner (its user_id=); the path inside
 * the namespace is what follows the mount point.  Paths are resolved
 * lexically first, so a suspended or dead mount is never touched.
 *
 * Exit status: 0 done, 1 the operation failed, 2 usage, 3 the daemon cannot
 * be reached.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "ctl.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <uvfs/9p.h>
#include <uvfs/fs.h>
#ifdef UVFS_HAVE_NFS
#include <uvfs/nfs.h>
#endif

const char *opt_socket;         /* -S */
const char *opt_mount;          /* -m */
static const char *opt_id;      /* --id N of umount, suspend, resume,
				   holders: digits, not 0 */

/* ---- errors ---------------------------------------------------------- */

/* What an errno means for an operation, in umount(8)'s words where it has
 * some; NULL: the daemon's message (strerror). */
static const char *explain(const char *verb, int err)
{
	static const struct {
		const char *verb;
		int err;
		const char *msg;
	} table[] = {
		{ "umount", EINVAL, "not mounted" },
		{ "suspend", EINVAL, "not mounted" },
		{ "suspend", EALREADY, "already suspended" },
		{ "resume", EINVAL, "not suspended" },      /* or not mounted */
		{ "revoke", EBUSY, "cannot revoke a mount root (use umount -f)" },
		{ "mount", ENODEV, "unknown file system type" },
		{ "mount", ENOTDIR, "mount point is not a directory" },
		{ "id", ENOENT, "no mount has this id (uvfs mounts lists "
		  "them)" },
		{ NULL, ENOENT, "no such file or directory" },
		{ NULL, ETIMEDOUT, "timed out" },
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].err == err &&
		    (!table[i].verb || strcmp(table[i].verb, verb) == 0))
			return table[i].msg;
	return NULL;
}

static int print_error(const char *verb, const char *what, const char *arg,
		       struct reply *r)
{
	const char *why = opt_id && r->err == ENOENT ? explain("id", ENOENT)
						   : explain(verb, r->err);

	fprintf(stderr, "uvfs: cannot %s %s: %s\n", what, arg,
		why ? why : r->msg && *r->msg ? r->msg : strerror(r->err));
	return EXIT_FAIL;
}

/* The daemon's pid ("info"), to leave it out of holder lists; 0 if it
 * does not say. */
static pid_t daemon_pid(const struct target *t)
{
	struct sbuf req = { 0 };
	struct reply r;
	char *a[CTL_ARGS_MAX];
	pid_t pid = 0;

	sbuf_adds(&req, "info");
	int err = daemon_request(t, &req, &r);
	sbuf_free(&req);
	if (err)
		return 0;
	for (size_t i = 0; !r.err && i < r.n; i++) {
		int c = ctl_split(r.lines[i], a, CTL_ARGS_MAX);
		if (c > 0 && strcmp(a[0], "daemon") == 0 && ctl_get(a, c, "pid"))
			pid = (pid_t)atol(ctl_get(a, c, "pid"));
	}
	reply_free(&r);
	return pid;
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
	if (daemon_resolve(path, t) == 0)
		return 0;
	fprintf(stderr, "uvfs: cannot %s %s: not inside a uvfsd mount\n",
		what, path);
	return EXIT_FAIL;
}

/* Is ns (a namespace path) a mount of the daemon at sock?  1, 0, or -1
 * (cannot tell). */
static int is_mount(const struct target *t, const char *ns)
{
	struct sbuf req = { 0 };
	struct reply r;
	char *a[CTL_ARGS_MAX];
	int found = 0;

	sbuf_adds(&req, "mounts");
	int err = daemon_request(t, &req, &r);
	sbuf_free(&req);
	if (err)
		return -1;
	for (size_t i = 0; !r.err && i < r.n && !found; i++) {
		int c = ctl_split(r.lines[i], a, CTL_ARGS_MAX);
		const char *tg = c > 0 ? ctl_get(a, c, "target") : NULL;
		found = tg && strcmp(tg, ns) == 0;
	}
	err = r.err;
	reply_free(&r);
	return err ? -1 : found;
}

static bool opt_verbose;        /* umount -v, holders -v: every holder */

/* The mount a command names: path, or with --id N (path NULL) the mount
 * N of the daemon pick_daemon finds, as "id:N" in t->ns; *shown is what
 * messages call it.  => 0, or an exit status (message printed). */
static int mount_named(const char *what, const char *path, struct target *t,
		       const char **shown)
{
	static char name[64];
	int ret;

	if (!opt_id) {
		*shown = path;
		return target_of(what, path, t);
	}
	if ((ret = daemon_pick(t)) != 0)
		return ret;
	snprintf(t->ns, sizeof(t->ns), "id:%s", opt_id);
	snprintf(name, sizeof(name), "mount id %s", opt_id);
	*shown = name;
	return 0;
}

/* Sends a one-target request; prints the error.  => exit status. */
static int simple(const char *verb, const char *what, const char *path,
		  const char *flag)
{
	struct target t;
	struct sbuf req = { 0 };
	struct reply r;
	int ret = mount_named(what, path, &t, &path);

	if (ret)
		return ret;
	sbuf_adds(&req, verb);
	if (flag) {
		sbuf_adds(&req, " ");
		sbuf_adds(&req, flag);
	}
	sbuf_adds(&req, " ");
	sbuf_add_tok(&req, t.ns);
	ret = daemon_request(&t, &req, &r);
	sbuf_free(&req);
	if (ret)
		return EXIT_UNREACHABLE;
	ret = EXIT_OK;
	if (r.err == EBUSY && strcmp(verb, "umount") == 0 && r.n > 0) {
		pid_t self = daemon_pid(&t);
		int n = show_holders(NULL, &r, self, opt_verbose);
		fprintf(stderr, "uvfs: cannot %s %s: target is busy "
			"(%d holder%s)\n", what, path, n, n == 1 ? "" : "s");
		show_holders(stderr, &r, self, opt_verbose);
		ret = EXIT_FAIL;
	} else if (r.err == EINVAL && strcmp(verb, "resume") == 0 &&
		   !opt_id && is_mount(&t, t.ns) == 0) {
		fprintf(stderr, "uvfs: cannot %s %s: not mounted\n", what,
			path);
		ret = EXIT_FAIL;
	} else if (r.err) {
		ret = print_error(verb, what, path, &r);
	}
	reply_free(&r);
	return ret;
}

/* ---- the types and their options (from the drivers, not this file) ---- */

/* A namespace of our own, with the types uvfsd registers, to ask the
 * drivers about their options; NULL if it cannot be made. */
static struct uvfs *types_instance(void)
{
	struct uvfs *u;

	if (uvfs_new(NULL, &u))
		return NULL;
	uvfs_9p_register(u);
#ifdef UVFS_HAVE_NFS
	uvfs_nfs_register(u);
#endif
	return u;
}

static void fsopt_print(FILE *f, const struct uvfs_fsopt *o)
{
	for (; o && o->name; o++) {
		/* "MS: text" in the help names the value */
		const char *h = o->help ? o->help : "";
		const char *colon = strstr(h, ": ");
		char arg[32] = "";
		if (o->kind != UVFS_FSOPT_FLAG) {
			if (colon && colon - h < 24 && h[0] >= 'A' && h[0] <= 'Z') {
				snprintf(arg, sizeof(arg), "=%.*s",
					 (int)(colon - h), h);
				h = colon + 2;
			} else {
				snprintf(arg, sizeof(arg), "=%s",
					 o->kind == UVFS_FSOPT_SIZE ? "SIZE" :
					 o->kind == UVFS_FSOPT_STRING ? "TEXT"
								      : "N");
			}
		}
		char name[64];
		snprintf(name, sizeof(name), "%s%s", o->name, arg);
		fprintf(f, "    %-22s %s\n", name, h);
	}
}

static int type_help(void *arg, const struct uvfs_fstype_ops *ops)
{
	FILE *f = arg;

	fprintf(f, "\n  -t %s%s%s\n", ops->name,
		ops->source_help ? "  " : "",
		ops->source_help ? ops->source_help : "");
	if (ops->options && ops->options->name)
		fsopt_print(f, ops->options);
	else if (!ops->options)
		fprintf(f, "    (options not described)\n");
	return 0;
}

static void mount_help(FILE *f)
{
	struct uvfs *u = types_instance();

	fprintf(f, "\nOptions of every type:\n");
	fsopt_print(f, uvfs_core_fsopts);
	if (!u) {
		fprintf(f, "\n(the types cannot be listed: no memory)\n");
		return;
	}
	fprintf(f, "\nTypes and their options:\n");
	uvfs_fstype_each(u, type_help, f);
	uvfs_free(u);
}

/* => 0, or the reason the options are refused (checked here, with the
 * drivers' descriptions, so that the message names the option). */
static int mount_check(const char *type, const char *opts, char *why,
		       size_t size)
{
	struct uvfs *u = types_instance();
	int err;

	if (!u)
		return 0;       /* the daemon will judge */
	err = uvfs_mount_options_check(u, type, opts, why, size);
	uvfs_free(u);
	/* a type this program does not have (uvfsd may: nfs): the daemon
	 * judges it */
	return err == -ENODEV ? 0 : err;
}

static int cmd_mount(int argc, char **argv)
{
	const char *type = NULL, *opts = "";
	char why[256];
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
	int err = mount_check(type, opts, why, sizeof(why));
	if (err) {
		fprintf(stderr, "uvfs: cannot mount %s (%s) on %s: %s\n",
			source, type, path, why[0] ? why : strerror(-err));
		return EXIT_FAIL;
	}
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
	ret = daemon_request(&t, &req, &r);
	sbuf_free(&req);
	if (ret)
		return EXIT_UNREACHABLE;
	ret = EXIT_OK;
	if (r.err) {
		char what[PATH_MAX + 64];
		snprintf(what, sizeof(what), "mount %s (%s) on", source, type);
		if (r.err == ENODEV) {
			fprintf(stderr, "uvfs: cannot %s %s: unknown file "
				"system type '%s'\n", what, path, type);
			ret = EXIT_FAIL;
		} else {
			ret = print_error("mount", what, path, &r);
		}
	}
	reply_free(&r);
	return ret;
}

/* --id's argument: a mount id as `uvfs mounts` lists them.  => 0, or a
 * usage error. */
static int id_arg(const char *v)
{
	if (opt_id || !v[0] || strlen(v) > 20 ||
	    strspn(v, "0123456789") != strlen(v) || strspn(v, "0") == strlen(v))
		return usage_error(opt_id ? "one --id only" :
				   "--id takes a mount id (uvfs mounts "
				   "lists them)");
	opt_id = v;
	return 0;
}

static const struct option id_opts[] = {
	{ "id", required_argument, NULL, 'i' },
	{ NULL, 0, NULL, 0 },
};

static int cmd_umount(int argc, char **argv)
{
	char flags[4] = "-";
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "+flv", id_opts, NULL)) != -1) {
		if (o == 'f' && !strchr(flags, 'f'))
			strcat(flags, "f");
		else if (o == 'l' && !strchr(flags, 'l'))
			strcat(flags, "l");
		else if (o == 'v')
			opt_verbose = true;
		else if (o == 'i' && id_arg(optarg))
			return EXIT_USAGE;
		else if (o != 'f' && o != 'l' && o != 'i')
			return usage_error(NULL);
	}
	if (argc - optind != (opt_id ? 0 : 1))
		return usage_error("one TARGET, or --id N, is needed");
	return simple("umount", "unmount", opt_id ? NULL : argv[optind],
		      flags[1] ? flags : NULL);
}

static int one_path(int argc, char **argv, const char *verb,
		    const char *what)
{
	if (argc != 2 || argv[1][0] == '-')
		return usage_error(argc < 2 ? "a path is needed" : NULL);
	return simple(verb, what, argv[1], NULL);
}

/* TARGET, or --id N (--id=N). */
static int one_mount(int argc, char **argv, const char *verb,
		     const char *what)
{
	if (argc == 3 && strcmp(argv[1], "--id") == 0) {
		if (id_arg(argv[2]))
			return EXIT_USAGE;
		return simple(verb, what, NULL, NULL);
	}
	if (argc == 2 && strncmp(argv[1], "--id=", 5) == 0) {
		if (id_arg(argv[1] + 5))
			return EXIT_USAGE;
		return simple(verb, what, NULL, NULL);
	}
	return one_path(argc, argv, verb, what);
}

static int cmd_revoke(int argc, char **argv)
{
	return one_path(argc, argv, "revoke", "revoke");
}

static int cmd_suspend(int argc, char **argv)
{
	return one_mount(argc, argv, "suspend", "suspend");
}

static int cmd_resume(int argc, char **argv)
{
	return one_mount(argc, argv, "resume", "resume");
}

/* --json (and -v, --verbose and --id N when verbose is not NULL: then
 * no positional argument) and npos positional arguments.  => 1 json, 0
 * not, -1 usage error, -2 usage error already said. */
static int json_flag(int argc, char **argv, int npos, const char **pos,
		     bool *verbose)
{
	int json = 0, k = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-J") == 0)
			json = 1;
		else if (verbose && (!strcmp(argv[i], "--id") ||
				     !strncmp(argv[i], "--id=", 5))) {
			const char *v = argv[i][4] ? argv[i] + 5 :
					i + 1 < argc ? argv[++i] : "";
			if (id_arg(v))
				return -2;      /* said why */
			npos = 0;               /* holders */
		}
		else if (verbose && (!strcmp(argv[i], "-v") ||
				     !strcmp(argv[i], "--verbose")))
			*verbose = true;
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
	const char *path = NULL;
	int json = json_flag(argc, argv, 1, &path, &opt_verbose);
	struct target t;
	struct sbuf req = { 0 };
	struct reply r;
	int ret;

	if (json < 0)
		return json == -2 ? EXIT_USAGE : usage_error(NULL);
	ret = mount_named("list the holders of", path, &t, &path);
	if (ret)
		return ret;
	sbuf_adds(&req, "holders ");
	sbuf_add_tok(&req, t.ns);
	ret = daemon_request(&t, &req, &r);
	sbuf_free(&req);
	if (ret)
		return EXIT_UNREACHABLE;
	if (r.err) {
		ret = print_error("holders", "list the holders of", path, &r);
		reply_free(&r);
		return ret;
	}
	pid_t self = daemon_pid(&t);
	if (json)
		show_holders_json(&r, t.ns, self, opt_verbose);
	else if (show_holders(stdout, &r, self, opt_verbose) == 0)
		printf("nothing holds %s\n", path);
	reply_free(&r);
	return EXIT_OK;
}

/* A request without a path to the daemon pick_daemon finds.  => 0 with r
 * filled, or an exit status (message printed). */
static int ask(const char *verb, const char *what, struct target *t,
	       struct reply *r)
{
	struct sbuf req = { 0 };
	int ret;

	if ((ret = daemon_pick(t)) != 0)
		return ret;
	sbuf_adds(&req, verb);
	ret = daemon_request(t, &req, r);
	sbuf_free(&req);
	if (ret)
		return EXIT_UNREACHABLE;
	if (r->err) {
		ret = print_error(verb, what, t->mnt[0] ? t->mnt : t->sock, r);
		reply_free(r);
		return ret;
	}
	return 0;
}

static int cmd_mounts(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "types", required_argument, NULL, 't' },
		{ "source", required_argument, NULL, 'S' },
		{ "raw", no_argument, NULL, 'r' },
		{ "noheadings", no_argument, NULL, 'n' },
		{ "ascii", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'J' },
		{ NULL, 0, NULL, 0 },
	};
	struct mounts_opts mo = { 0 };
	struct target t;
	struct reply r;
	int o, ret;

	optind = 1;
	while ((o = getopt_long(argc, argv, "+o:t:S:rnaJ", lo, NULL)) != -1) {
		switch (o) {
		case 'o': mo.columns = optarg; break;
		case 't': mo.types = optarg; break;
		case 'S': mo.source = optarg; break;
		case 'r': mo.raw = true; break;
		case 'n': mo.noheadings = true; break;
		case 'a': mo.ascii = true; break;
		case 'J': mo.json = true; break;
		default: return usage_error(NULL);
		}
	}
	if (optind != argc)
		return usage_error("no arguments but options");
	if (mo.columns && !show_column_known(mo.columns))
		return show_mounts(&(struct reply){ 0 }, &mo);
	if ((ret = ask("mounts", "list the mounts of", &t, &r)) != 0)
		return ret;
	ret = show_mounts(&r, &mo);
	reply_free(&r);
	return ret;
}

static int cmd_stats(int argc, char **argv)
{
	int json = json_flag(argc, argv, 0, NULL, NULL);
	struct target t;
	struct reply r;
	int ret;

	if (json < 0)
		return usage_error(NULL);
	if ((ret = ask("stats", "get the statistics of", &t, &r)) != 0)
		return ret;
	show_stats(&r, json);
	reply_free(&r);
	return EXIT_OK;
}

static int cmd_servers(int argc, char **argv)
{
	int json = json_flag(argc, argv, 0, NULL, NULL);
	struct target t;
	struct reply r;
	char *a[CTL_ARGS_MAX];
	int ret;

	if (json < 0)
		return usage_error(NULL);
	if ((ret = ask("servers", "list the file servers of", &t, &r)) != 0)
		return ret;
	if (json) {
		show_records_json(&r, "servers", "server", "servers");
		reply_free(&r);
		return EXIT_OK;
	}
	printf("%-8s %-5s %-12s %8s %6s %8s %-24s %s\n", "PID", "MOUNT",
	       "STATE", "RESTARTS", "LOSSES", "TIMEOUTS", "TARGET", "SOURCE");
	for (size_t i = 0; i < r.n; i++) {
		int c = ctl_split(r.lines[i], a, CTL_ARGS_MAX);
		if (c <= 0 || strcmp(a[0], "server") != 0)
			continue;
		for (int k = 0; k < c; k++)
			cli_visible(a[k]);
		printf("%-8s %-5s %-12s %8s %6s %8s %-24s %s\n",
		       ctl_get(a, c, "pid"), ctl_get(a, c, "mount"),
		       ctl_get(a, c, "state"), ctl_get(a, c, "restarts"),
		       ctl_get(a, c, "losses"), ctl_get(a, c, "timeouts"),
		       ctl_get(a, c, "target"), ctl_get(a, c, "source"));
	}
	reply_free(&r);
	return EXIT_OK;
}

/* The uvfsd mount of path is gone from the mount table? */
static int gone_cb(const struct mountinfo_ent *e, void *arg)
{
	return strcmp(e->mnt, arg) == 0 &&
	       strcmp(e->fstype, UVFSD_FSTYPE) == 0;
}

static int cmd_shutdown(int argc, char **argv)
{
	struct target t;
	struct reply r;
	int ret;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
		return usage_error(NULL);
	if (argc == 2)
		opt_mount = argv[1];
	if ((ret = ask("shutdown", "shut down", &t, &r)) != 0)
		return ret;
	reply_free(&r);
	if (!t.mnt[0])
		return EXIT_OK;
	/* done when the FUSE mount is gone, as umount(8) returns */
	for (int i = 0; i < 300; i++) {
		if (ctl_mountinfo_each(gone_cb, t.mnt) == 0)
			return EXIT_OK;
		usleep(100 * 1000);
	}
	fprintf(stderr, "uvfs: cannot shut down %s: uvfsd still mounted "
		"after 30 s\n", t.mnt);
	return EXIT_FAIL;
}

/* mountpoint(1) for the namespace's mounts, which the kernel does not see
 * (docs/fuse.md, "Inner mounts and the kernel"): 0 a mount point, 32 not
 * one, 1 cannot tell. */
#define EXIT_NOT_MOUNTPOINT 32

static int cmd_mountpoint(int argc, char **argv)
{
	const char *path = NULL;
	bool quiet = false;
	struct target t;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
			quiet = true;
		else if (argv[i][0] == '-' || path)
			return usage_error(NULL);
		else
			path = argv[i];
	}
	if (!path)
		return usage_error("a path is needed");
	if (access(path, F_OK) != 0) {
		fprintf(stderr, "uvfs: %s: %s\n", path, strerror(errno));
		return EXIT_FAIL;
	}
	if (daemon_resolve(path, &t) != 0) {
		if (!quiet)
			printf("%s is not inside a uvfsd mount\n", path);
		return EXIT_NOT_MOUNTPOINT;
	}
	int m = is_mount(&t, t.ns);
	if (m < 0) {
		fprintf(stderr, "uvfs: cannot reach uvfsd at %s\n", t.sock);
		return EXIT_FAIL;
	}
	if (!quiet)
		printf("%s is %sa mountpoint\n", path, m ? "" : "not ");
	return m ? EXIT_OK : EXIT_NOT_MOUNTPOINT;
}

static const struct cmd cmds[] = {
	{ "mount", "mount -t TYPE [-o OPTIONS] SOURCE TARGET",
	  "Mounts SOURCE, a file system of type TYPE, on the directory TARGET\n"
	  "inside a uvfsd mount.  OPTIONS: comma-separated, from the lists\n"
	  "below (each file-system type describes its own).",
	  cmd_mount },
	{ "umount", "umount [-f] [-l] [-v] TARGET | --id N",
	  "Unmounts the file system mounted on TARGET.  Without flags it fails\n"
	  "if anything uses it, and lists who: processes with a working\n"
	  "directory, root or open file inside, child mounts.\n"
	  "  -f  forced: returns within the mount's deadline; what was open\n"
	  "      inside answers EIO (close works) and TARGET shows again what\n"
	  "      the mount covered\n"
	  "  -l  lazy: detached now, shut down when its last user is gone\n"
	  "  -v  when busy, list every holder: each open file, and the\n"
	  "      kernel's references (they do not block the unmount)\n"
	  "  --id N  the mount whose id uvfs mounts lists as N, instead of\n"
	  "      TARGET: also one another mount covers, without walking\n"
	  "      through the mounts above it (so umount, suspend, resume and\n"
	  "      holders)",
	  cmd_umount },
	{ "revoke", "revoke PATH",
	  "Makes every open descriptor of the file at PATH dead (EIO but for\n"
	  "close); new opens get the file afresh.",
	  cmd_revoke },
	{ "suspend", "suspend TARGET | --id N",
	  "Quiesces the mount at TARGET: new operations on it wait until\n"
	  "resume; returns once the operations in flight have finished.\n"
	  "  --id N  the mount with that id (as for umount)",
	  cmd_suspend },
	{ "resume", "resume TARGET | --id N",
	  "Lets a suspended mount run again (--id: as for umount).",
	  cmd_resume },
	{ "mounts", "mounts [-o COLUMNS] [-t TYPES] [-S SOURCE] [--raw] [-n] "
	  "[--ascii] [--json]",
	  "Lists the mounts of the namespace (of the uvfsd mount containing\n"
	  "the working directory, or the only one, or -m MOUNTPOINT) as a\n"
	  "tree, the way findmnt(8) lists the kernel's.\n"
	  "  -o, --output COLUMNS  comma-separated, of TARGET, SOURCE, FSTYPE,\n"
	  "                        STATE, OPTIONS (the default), PATH (in the\n"
	  "                        namespace), ID, PARENT, REFS, INFLIGHT\n"
	  "  -t, --types TYPES     only these types (comma-separated)\n"
	  "  -S, --source SOURCE   only mounts of this source\n"
	  "  -r, --raw             a list, columns separated by one space,\n"
	  "                        whitespace escaped as \\xNN\n"
	  "  -n, --noheadings      no heading line\n"
	  "  -a, --ascii           draw the tree with ASCII\n"
	  "  -J, --json            one JSON document (docs/json.md)",
	  cmd_mounts },
	{ "holders", "holders [-v] TARGET | --id N [--json]",
	  "Lists what holds the mount at TARGET, what makes umount fail: one\n"
	  "line per process (its working directory or root inside, how many\n"
	  "files it has open there), the child mounts, and contexts of\n"
	  "programs embedding the library.  uvfsd itself is left out.\n"
	  "  -v, --verbose  every open file, the kernel's references\n"
	  "                 (cached lookups: they do not block the unmount),\n"
	  "                 and uvfsd's own contexts (at the namespace root),\n"
	  "                 said to be its own\n"
	  "  --id N         the mount with that id (as for umount)\n"
	  "  --json         one JSON document (docs/json.md)",
	  cmd_holders },
	{ "stats", "stats [--json]",
	  "Prints the counters of the namespace (live objects) and of the FUSE\n"
	  "front end, and the operations in flight in each mount now.",
	  cmd_stats },
	{ "mountpoint", "mountpoint [-q] PATH",
	  "Says whether PATH is a mount point of the namespace, as\n"
	  "mountpoint(1) does for the kernel's mounts (which do not include\n"
	  "uvfs's inner mounts: FUSE cannot show them to the kernel).\n"
	  "Exit status: 0 it is, 32 it is not, 1 cannot tell.\n"
	  "  -q, --quiet  print nothing",
	  cmd_mountpoint },
	{ "shutdown", "shutdown [MOUNTPOINT]",
	  "Stops the uvfsd of MOUNTPOINT (or of the working directory, or the\n"
	  "only one) as SIGTERM does, but only that one: every mount of its\n"
	  "namespace is unmounted (forced), the FUSE mount goes away, and the\n"
	  "daemon exits.  Returns once its mount is gone.",
	  cmd_shutdown },
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
	fprintf(f, "usage: uvfs [-m MOUNTPOINT] [-S SOCKET] COMMAND [ARGS]\n"
		"       uvfs --version\n\n"
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
		} else if (!strcmp(argv[i], "-V") ||
			   !strcmp(argv[i], "--version")) {
			printf("uvfs %s\n", UVFS_VERSION);
			return EXIT_OK;
		} else if ((!strcmp(argv[i], "-m") ||
			    !strcmp(argv[i], "--mount")) && i + 1 < argc) {
			opt_mount = argv[++i];
		} else if ((!strcmp(argv[i], "-S") ||
			    !strcmp(argv[i], "--socket")) && i + 1 < argc) {
			opt_socket = argv[++i];
		} else if (!strcmp(argv[i], "-m") ||
			   !strcmp(argv[i], "--mount") ||
			   !strcmp(argv[i], "-S") ||
			   !strcmp(argv[i], "--socket")) {
			fprintf(stderr, "uvfs: option '%s' needs an argument "
				"(%s)\n", argv[i], argv[i][1] == 'm' ||
				argv[i][2] == 'm' ? "the uvfsd mount point" :
				"the control socket");
			usage(stderr);
			return EXIT_USAGE;
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
			if (cmds[k].fn == cmd_mount)
				mount_help(stdout);
			return EXIT_OK;
		}
		/* getopt's messages name the program by argv[0]: "uvfs
		 * umount: invalid option", not "umount: ..." */
		static char prog[64];
		snprintf(prog, sizeof(prog), "uvfs %s", cmds[k].name);
		argv[i] = prog;
		return cmds[k].fn(argc - i, argv + i);
	}
	fprintf(stderr, "uvfs: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return EXIT_USAGE;
}
