/*
 * show.c - the printers of the uvfs command line: a daemon's records
 * (struct reply, cli.h) as text for people or as one JSON document.
 *
 * Owns nothing past a call: each printer splits copies of the records
 * (ctl_split works in place; the reply stays as it was) and frees them.
 * Typing for JSON (docs/json.md): a value is a JSON string when its key
 * is one of the text keys below, else a number when it is an integer (and
 * null when it is not): a numeric-looking source or path stays a string.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "ctl.h"
#include "json.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- records ----------------------------------------------------------- */

struct rec {
	char *buf;
	char *argv[CTL_ARGS_MAX];
	int argc;
};

/* => 0, or -1 (not a record of that kind; kind NULL: any). */
static int rec_get(const struct reply *r, size_t i, const char *kind,
		   struct rec *out)
{
	out->buf = strdup(r->lines[i]);
	out->argc = out->buf ? ctl_split(out->buf, out->argv, CTL_ARGS_MAX)
			     : -1;
	if (out->argc <= 0 || (kind && strcmp(out->argv[0], kind) != 0)) {
		free(out->buf);
		out->buf = NULL;
		return -1;
	}
	return 0;
}

void cli_visible(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* rec_get, for text: every token made visible (cli_visible). */
static int rec_get_text(const struct reply *r, size_t i, const char *kind,
			struct rec *out)
{
	if (rec_get(r, i, kind, out))
		return -1;
	for (int k = 0; k < out->argc; k++)
		cli_visible(out->argv[k]);
	return 0;
}

static const char *rec_val(const struct rec *rc, const char *key)
{
	return ctl_get((char **)rc->argv, rc->argc, key);
}

static long rec_long(const struct rec *rc, const char *key, long dflt)
{
	const char *v = rec_val(rc, key);
	char *end;

	if (!v || !*v)
		return dflt;
	long n = strtol(v, &end, 10);
	return *end ? dflt : n;
}

static const char *const text_keys[] = {
	"target", "host", "type", "source", "options", "state", "label",
	"comm", "what", "path", "kind", "mountpoint", "socket", "name",
	"version", "last_error", "mode", "op", "server_state", NULL,
};

static bool text_key(const char *key)
{
	for (int i = 0; text_keys[i]; i++)
		if (strcmp(key, text_keys[i]) == 0)
			return true;
	return false;
}

static void json_typed(struct json *j, const char *key, const char *val)
{
	json_key(j, key);
	if (text_key(key))
		return json_str(j, val);
	char *end;
	long long v = strtoll(val, &end, 10);
	if (*val && !*end)
		json_int(j, v);
	else
		json_null(j);
}

static void json_rec(struct json *j, const struct rec *rc)
{
	json_object_begin(j);
	for (int k = 1; k < rc->argc; k++) {
		char *eq = strchr(rc->argv[k], '=');
		if (!eq)
			continue;
		*eq = '\0';
		json_typed(j, rc->argv[k], eq + 1);
		*eq = '=';
	}
	json_object_end(j);
}

static void json_head(struct json *j, const char *command)
{
	json_init(j, stdout);
	json_object_begin(j);
	json_key(j, "uvfs_json");
	json_int(j, UVFS_JSON_VERSION);
	json_key(j, "command");
	json_str(j, command);
}

void show_records_json(const struct reply *r, const char *command,
		       const char *kind, const char *array)
{
	struct json j;
	struct rec rc;

	json_head(&j, command);
	json_key(&j, array);
	json_array_begin(&j);
	for (size_t i = 0; i < r->n; i++) {
		if (rec_get(r, i, kind, &rc))
			continue;
		json_rec(&j, &rc);
		free(rc.buf);
	}
	json_array_end(&j);
	json_object_end(&j);
	json_end(&j);
}

/* ---- holders ----------------------------------------------------------- */

static bool daemon_label(const char *label, pid_t daemon_pid)
{
	long p;

	return daemon_pid > 0 && label && sscanf(label, "pid %ld", &p) == 1 &&
	       p == daemon_pid;
}

/* Is the holder record uvfsd's own (own=1: its contexts, which hold the
 * namespace root; or a handle labelled with its pid, from a uvfsd that
 * does not say own=)? */
static bool own_holder(const struct rec *rc, pid_t daemon_pid)
{
	return rec_long(rc, "own", 0) != 0 ||
	       daemon_label(rec_val(rc, "label"), daemon_pid);
}

/* pids of the process records, in order, each once. */
static size_t procs_of(const struct reply *r, pid_t daemon_pid, long **out)
{
	long *p = calloc(r->n + 1, sizeof(*p));
	size_t n = 0;
	struct rec rc;

	for (size_t i = 0; p && i < r->n; i++) {
		if (rec_get(r, i, "process", &rc))
			continue;
		long pid = rec_long(&rc, "pid", 0);
		free(rc.buf);
		if (pid <= 0 || pid == daemon_pid || (n && p[n - 1] == pid))
			continue;
		bool seen = false;
		for (size_t k = 0; k < n && !seen; k++)
			seen = p[k] == pid;
		if (!seen)
			p[n++] = pid;
	}
	*out = p;
	return n;
}

static bool has_pid(const long *p, size_t n, long pid)
{
	for (size_t k = 0; k < n; k++)
		if (p[k] == pid)
			return true;
	return false;
}

#define FILES_SHOWN 3   /* open files named on a process's line */

/* One process: "pid 42 (bash): cwd /x, 2000 open files (/x/a, ...)". */
static void show_process(FILE *out, const struct reply *r, long pid,
			 bool verbose)
{
	struct rec rc;
	const char *comm = "?";
	char *comm_buf = NULL;
	size_t nfiles = 0, shown = 0;
	bool first = true;

	for (size_t i = 0; i < r->n; i++) {
		if (rec_get_text(r, i, "process", &rc))
			continue;
		if (rec_long(&rc, "pid", 0) == pid) {
			const char *w = rec_val(&rc, "what");
			if (!comm_buf && rec_val(&rc, "comm"))
				comm = comm_buf = strdup(rec_val(&rc, "comm"));
			if (w && strncmp(w, "fd ", 3) == 0)
				nfiles++;
		}
		free(rc.buf);
	}
	if (verbose) {          /* one line per thing held */
		for (size_t i = 0; i < r->n; i++) {
			if (rec_get_text(r, i, "process", &rc))
				continue;
			if (rec_long(&rc, "pid", 0) == pid)
				fprintf(out, "  pid %ld (%s): %s %s\n", pid,
					comm, rec_val(&rc, "what") ?
					rec_val(&rc, "what") : "?",
					rec_val(&rc, "path") ?
					rec_val(&rc, "path") : "?");
			free(rc.buf);
		}
		free(comm_buf);
		return;
	}
	fprintf(out, "  pid %ld (%s):", pid, comm ? comm : "?");
	/* cwd and root first, then the files */
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1 && nfiles && !verbose) {
			fprintf(out, "%s %zu open file%s", first ? "" : ",",
				nfiles, nfiles == 1 ? "" : "s");
			first = false;
		}
		const char *open = " (";
		for (size_t i = 0; i < r->n; i++) {
			if (rec_get_text(r, i, "process", &rc))
				continue;
			const char *w = rec_val(&rc, "what");
			const char *p = rec_val(&rc, "path");
			bool file = w && strncmp(w, "fd ", 3) == 0;
			if (rec_long(&rc, "pid", 0) == pid && w && p &&
			    file == (pass == 1)) {
				if (!file || verbose) {
					fprintf(out, "%s %s %s",
						first ? "" : ",", w, p);
					first = false;
				} else if (shown < FILES_SHOWN) {
					fprintf(out, "%s%s", open, p);
					open = ", ";
					shown++;
				}
			}
			free(rc.buf);
		}
		if (pass == 1 && shown)
			fprintf(out, "%s)", shown < nfiles ? ", ..." : "");
	}
	fputc('\n', out);
	free(comm_buf);
}

/* One request in progress: "pid 42 (stat): lookup waiting 2.1 s on the
 * server of /x (hostfs, server pid 77, running)". */
static void show_request(FILE *out, const struct rec *rc)
{
	const char *comm = rec_val(rc, "comm"), *op = rec_val(rc, "op");
	const char *host = rec_val(rc, "host"), *type = rec_val(rc, "type");
	const char *state = rec_val(rc, "server_state");
	long ms = rec_long(rc, "ms", 0), spid = rec_long(rc, "server_pid", 0);
	bool remote = rec_long(rc, "remote", 0) != 0;

	fprintf(out, "  pid %ld (%s): %s %s %ld.%ld s %s %s (%s",
		rec_long(rc, "pid", 0), comm ? comm : "?", op ? op : "?",
		remote ? "waiting" : "in progress for", ms / 1000,
		(ms % 1000) / 100, remote ? "on the server of" : "in",
		host ? host : "?", type ? type : "?");
	if (remote && spid > 0)
		fprintf(out, ", server pid %ld", spid);
	if (remote && state)
		fprintf(out, ", %s", state);
	fputs(")\n", out);
}

static int holders_pass(FILE *out, const struct reply *r, pid_t daemon_pid,
			bool verbose, bool own_too);

int show_holders(FILE *out, const struct reply *r, pid_t daemon_pid,
		 bool verbose)
{
	bool all = verbose;

	/* the kernel's references alone keep it busy: say so, they are
	 * then what blocks (a close or a FORGET still on its way); uvfsd's
	 * own contexts only when asked, they are nothing a user can end */
	if (!verbose && holders_pass(NULL, r, daemon_pid, false, false) == 0)
		all = true;
	return holders_pass(out, r, daemon_pid, all, verbose);
}

static int holders_pass(FILE *out, const struct reply *r, pid_t daemon_pid,
			bool verbose, bool own_too)
{
	long *procs;
	size_t np = procs_of(r, daemon_pid, &procs);
	int lines = 0;
	struct rec rc;

	for (size_t k = 0; k < np; k++, lines++)
		if (out)
			show_process(out, r, procs[k], verbose);
	for (size_t i = 0; i < r->n; i++, lines++) {
		if (rec_get_text(r, i, "request", &rc)) {
			lines--;
			continue;
		}
		if (out)
			show_request(out, &rc);
		free(rc.buf);
	}
	/* (a process is one holder, however many lines verbose prints) */
	/* what no process explains: library contexts, child mounts; the
	 * kernel's references only when asked (they do not block) */
	for (size_t i = 0; i < r->n; i++) {
		if (rec_get_text(r, i, "holder", &rc))
			continue;
		const char *kind = rec_val(&rc, "kind");
		const char *label = rec_val(&rc, "label");
		const char *host = rec_val(&rc, "host");
		long p = 0;
		bool node = kind && strcasecmp(kind, "node") == 0;
		bool own = own_holder(&rc, daemon_pid);
		bool skip = (own && !own_too) ||
			    (!own && label && sscanf(label, "pid %ld", &p) == 1 &&
			     has_pid(procs, np, p)) ||
			    (node && !verbose);
		if (!skip) {
			lines++;
			if (!out)
				;
			else if (own && node)   /* the FUSE root inode */
				fprintf(out, "  kernel reference %s (uvfsd's "
					"own: the FUSE mount's root)\n",
					host ? host : "?");
			else if (own)
				fprintf(out, "  %s %s (uvfsd's own context "
					"%ld)\n", kind ? kind : "?",
					host ? host : "?",
					rec_long(&rc, "ctx", 0));
			else if (kind && strcasecmp(kind, "child") == 0)
				fprintf(out, "  mount %s\n", host ? host : "?");
			else if (node)
				fprintf(out, "  kernel reference %s\n",
					host ? host : "?");
			else
				fprintf(out, "  %s %s%s%s%s\n",
					kind ? kind : "?", host ? host : "?",
					label && *label ? " (" : "",
					label ? label : "",
					label && *label ? ")" : "");
		}
		free(rc.buf);
	}
	free(procs);
	return lines;
}

void show_holders_json(const struct reply *r, const char *target,
		       pid_t daemon_pid, bool verbose)
{
	struct json j;
	struct rec rc;
	long *procs;
	size_t np = procs_of(r, daemon_pid, &procs);

	json_head(&j, "holders");
	json_kstr(&j, "target", target);
	json_key(&j, "processes");
	json_array_begin(&j);
	for (size_t k = 0; k < np; k++) {
		const char *cwd = NULL, *root = NULL, *comm = NULL;
		char *keep[3] = { NULL, NULL, NULL };
		for (size_t i = 0; i < r->n; i++) {
			if (rec_get(r, i, "process", &rc))
				continue;
			const char *w = rec_val(&rc, "what");
			if (rec_long(&rc, "pid", 0) == procs[k] && w) {
				if (!comm && rec_val(&rc, "comm"))
					comm = keep[0] =
						strdup(rec_val(&rc, "comm"));
				if (!cwd && !strcmp(w, "cwd"))
					cwd = keep[1] = strdup(rec_val(&rc, "path"));
				if (!root && !strcmp(w, "root"))
					root = keep[2] = strdup(rec_val(&rc, "path"));
			}
			free(rc.buf);
		}
		json_object_begin(&j);
		json_kint(&j, "pid", procs[k]);
		json_kstr(&j, "comm", comm);
		json_kstr(&j, "cwd", cwd);
		json_kstr(&j, "root", root);
		json_key(&j, "files");
		json_array_begin(&j);
		for (size_t i = 0; i < r->n; i++) {
			if (rec_get(r, i, "process", &rc))
				continue;
			const char *w = rec_val(&rc, "what");
			if (rec_long(&rc, "pid", 0) == procs[k] && w &&
			    strncmp(w, "fd ", 3) == 0) {
				json_object_begin(&j);
				json_kint(&j, "fd", atol(w + 3));
				json_kstr(&j, "path", rec_val(&rc, "path"));
				json_object_end(&j);
			}
			free(rc.buf);
		}
		json_array_end(&j);
		json_object_end(&j);
		for (int i = 0; i < 3; i++)
			free(keep[i]);
	}
	json_array_end(&j);
	json_key(&j, "requests");
	json_array_begin(&j);
	for (size_t i = 0; i < r->n; i++) {
		if (rec_get(r, i, "request", &rc))
			continue;
		bool remote = rec_long(&rc, "remote", 0) != 0;
		json_object_begin(&j);
		json_kint(&j, "pid", rec_long(&rc, "pid", 0));
		json_kint(&j, "tid", rec_long(&rc, "tid", 0));
		json_kstr(&j, "comm", rec_val(&rc, "comm"));
		json_kstr(&j, "op", rec_val(&rc, "op"));
		json_kint(&j, "waiting_ms", rec_long(&rc, "ms", 0));
		json_kstr(&j, "path", rec_val(&rc, "path"));
		json_kstr(&j, "host", rec_val(&rc, "host"));
		json_kstr(&j, "fstype", rec_val(&rc, "type"));
		json_kbool(&j, "on_server", remote);
		json_key(&j, "server_pid");
		if (remote)
			json_int(&j, rec_long(&rc, "server_pid", 0));
		else
			json_null(&j);
		json_kstr(&j, "server_state", remote ? rec_val(&rc, "server_state") : NULL);
		json_kbool(&j, "blocks", true);
		json_object_end(&j);
		free(rc.buf);
	}
	json_array_end(&j);
	json_key(&j, "holders");
	json_array_begin(&j);
	for (size_t i = 0; i < r->n; i++) {
		if (rec_get(r, i, "holder", &rc))
			continue;
		const char *label = rec_val(&rc, "label");
		bool own = own_holder(&rc, daemon_pid);
		if (!own || verbose) {
			long fd = rec_long(&rc, "fd", -1);
			json_object_begin(&j);
			json_kstr(&j, "kind", rec_val(&rc, "kind"));
			json_kint(&j, "ctx", rec_long(&rc, "ctx", 0));
			json_kstr(&j, "label", label && *label ? label : NULL);
			json_key(&j, "fd");
			if (fd >= 0)
				json_int(&j, fd);
			else
				json_null(&j);
			json_kstr(&j, "path", rec_val(&rc, "path"));
			json_kstr(&j, "host", rec_val(&rc, "host"));
			const char *kind = rec_val(&rc, "kind");
			json_kbool(&j, "blocks",
				   !kind || strcasecmp(kind, "node") != 0);
			json_kbool(&j, "own", own);
			json_object_end(&j);
		}
		free(rc.buf);
	}
	json_array_end(&j);
	json_object_end(&j);
	json_end(&j);
	free(procs);
}

/* ---- stats ------------------------------------------------------------- */

void show_stats(const struct reply *r, bool json)
{
	struct rec rc;
	struct json j;

	if (json) {
		json_head(&j, "stats");
		json_key(&j, "stats");
		json_object_begin(&j);
		for (size_t i = 0; i < r->n; i++) {
			if (rec_get(r, i, "stats", &rc))
				continue;
			for (int k = 1; k < rc.argc; k++) {
				char *eq = strchr(rc.argv[k], '=');
				if (!eq)
					continue;
				*eq = '\0';
				json_typed(&j, rc.argv[k], eq + 1);
			}
			free(rc.buf);
		}
		json_object_end(&j);
		json_key(&j, "inflight");
		json_array_begin(&j);
		for (size_t i = 0; i < r->n; i++) {
			if (rec_get(r, i, "inflight", &rc))
				continue;
			json_rec(&j, &rc);
			free(rc.buf);
		}
		json_array_end(&j);
		json_object_end(&j);
		json_end(&j);
		return;
	}
	for (size_t i = 0; i < r->n; i++) {
		if (rec_get_text(r, i, NULL, &rc))
			continue;
		if (strcmp(rc.argv[0], "inflight") == 0) {
			printf("%-20s %s %s\n", "inflight in",
			       rec_val(&rc, "target"),
			       rec_val(&rc, "operations"));
		} else {
			for (int k = 1; k < rc.argc; k++) {
				char *eq = strchr(rc.argv[k], '=');
				if (eq) {
					*eq = '\0';
					printf("%-20s %s\n", rc.argv[k], eq + 1);
				}
			}
		}
		free(rc.buf);
	}
}
