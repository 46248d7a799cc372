/*
 * diffrun.c - the differential test's runner (docs/differences.md).
 *
 *   uvfs-diffrun --ref DIR --dut DIR --backend NAME --accepted FILE
 *                [--seed N|random] [--count N] [--max-calls N]
 *                [--calls LIST] [--cases DIR] [--save DIR]
 *                [--keep-going] [--no-shrink] [--replay FILE]
 *                [--verbose] [--stats] [--times-every N]
 *
 * --times-every N: with the times compared (--calls times), compare them
 * only in the generated sequences whose seed N divides (a call's times
 * cost a wait for the coarse clock's tick: about 4 ms); the regression
 * cases and --replay always compare them.  The choice goes by the seed,
 * so a sequence shrunk is compared as it was found.
 *
 * Runs each sequence (seq.c) in DIR of --ref (a tmpfs: the kernel's
 * answer) and in DIR of --dut (the same relative path in a uvfsd mount),
 * then compares every call's return value, errno and what it read, and
 * the trees the two runs left (exec.c, seq_snapshot).  A difference is
 * accepted only if a rule of the accepted list matches it (backend, call,
 * condition, the two results: "Accepted list" below); the comparison of
 * that sequence stops there (the two trees have parted).  Anything else
 * fails: the sequence is shrunk (calls dropped, arguments simplified,
 * the difference kept), printed as C with both sides' results, and saved
 * under --save as a case file.  --cases replays every case file of a
 * directory first.
 *
 * Exit: 0 no unaccepted difference, 1 a difference, 2 bad usage or an
 * environment error (a directory that cannot be made or removed).
 * Single-threaded; one child per side and sequence (exec.c).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "diff.h"

/* ---- the accepted list ---- */

enum rule_cond { RC_ANY, RC_EXCHANGE, RC_FD_NAME_LOST, RC_LINKED,
		 RC_OPEN_NAME_LOST, RC_FD_DIR, RC_RENAMED_REUSED,
		 RC_NOOP_CHOWN, RC_FALLOC_OTHER, RC_SEEK_HOLE, RC_ATIME,
		 RC_KILLPRIV, RC_IDS_CLEARED, RC_SAME_SIZE, RC_LINK_TIMES,
		 RC_SILLY_TIMES, RC_SILLY_DIR };
#define OP_TREE OP_COUNT      /* a rule about the trees left */
#define RES_ANY (-1000)
#define RES_OK (-1001)

struct rule {
	char backend[32];
	int op;                 /* -1: any */
	enum rule_cond cond;
	int ref, dut;           /* RES_ANY, RES_OK or an errno */
	char reason[160];
	long hits;
};

#define MAX_RULES 64
static struct rule rules[MAX_RULES];
static int nrules;

static int parse_res(const char *t)
{
	if (strcmp(t, "*") == 0)
		return RES_ANY;
	if (strcmp(t, "ok") == 0)
		return RES_OK;
	return errno_by_name(t);
}

static int rules_load(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512];
	int lineno = 0;

	if (!f) {
		fprintf(stderr, "uvfs-diffrun: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char be[32], op[32], cond[64], ref[32], dut[32];
		int used = 0;
		lineno++;
		line[strcspn(line, "\n")] = 0;
		if (line[0] == '#' || line[strspn(line, " \t")] == 0)
			continue;
		if (nrules == MAX_RULES ||
		    sscanf(line, "%31s %31s %63s %31s %31s %n", be, op, cond, ref,
			   dut, &used) != 5 || !line[used])
			goto bad;
		struct rule *r = &rules[nrules];
		memset(r, 0, sizeof(*r));
		snprintf(r->backend, sizeof(r->backend), "%s", be);
		r->op = strcmp(op, "*") == 0 ? -1 :
			strcmp(op, "tree") == 0 ? OP_TREE : op_by_name(op);
		if (r->op == -1 && strcmp(op, "*") != 0)
			goto bad;
		if (strcmp(cond, "any") == 0) r->cond = RC_ANY;
		else if (strcmp(cond, "flags=RENAME_EXCHANGE") == 0) r->cond = RC_EXCHANGE;
		else if (strcmp(cond, "fd-name-lost") == 0) r->cond = RC_FD_NAME_LOST;
		else if (strcmp(cond, "linked") == 0) r->cond = RC_LINKED;
		else if (strcmp(cond, "open-name-lost") == 0) r->cond = RC_OPEN_NAME_LOST;
		else if (strcmp(cond, "fd-dir") == 0) r->cond = RC_FD_DIR;
		else if (strcmp(cond, "renamed-reused") == 0) r->cond = RC_RENAMED_REUSED;
		else if (strcmp(cond, "noop-chown") == 0) r->cond = RC_NOOP_CHOWN;
		else if (strcmp(cond, "falloc-other") == 0) r->cond = RC_FALLOC_OTHER;
		else if (strcmp(cond, "seek-hole") == 0) r->cond = RC_SEEK_HOLE;
		else if (strcmp(cond, "atime") == 0) r->cond = RC_ATIME;
		else if (strcmp(cond, "killpriv") == 0) r->cond = RC_KILLPRIV;
		else if (strcmp(cond, "ids-cleared") == 0) r->cond = RC_IDS_CLEARED;
		else if (strcmp(cond, "same-size") == 0) r->cond = RC_SAME_SIZE;
		else if (strcmp(cond, "link-times") == 0) r->cond = RC_LINK_TIMES;
		else if (strcmp(cond, "silly-times") == 0) r->cond = RC_SILLY_TIMES;
		else if (strcmp(cond, "silly-dir") == 0) r->cond = RC_SILLY_DIR;
		else goto bad;
		r->ref = parse_res(ref);
		r->dut = parse_res(dut);
		if (r->ref == -1 || r->dut == -1 ||
		    (r->op == OP_TREE && (r->ref != RES_ANY || r->dut != RES_ANY)))
			goto bad;
		snprintf(r->reason, sizeof(r->reason), "%s", line + used);
		nrules++;
		continue;
bad:
		fprintf(stderr, "uvfs-diffrun: %s:%d: not a rule "
			"(BACKEND CALL CONDITION REF UVFS REASON; conditions: any, "
			"flags=RENAME_EXCHANGE, fd-name-lost, open-name-lost, linked, "
			"fd-dir, renamed-reused, noop-chown, falloc-other, seek-hole, "
			"atime, killpriv, ids-cleared, same-size, link-times, "
			"silly-times, silly-dir; "
			"CALL tree: the trees left, REF and UVFS *): %s\n",
			path, lineno, line);
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

static int res_match(int want, const struct result *r)
{
	if (want == RES_ANY)
		return 1;
	if (want == RES_OK)
		return r->ret >= 0;
	return r->ret < 0 && r->err == want;
}

/* Does a rule for rb apply to backend?  "*" is every backend, "9p" hostfs
 * and diod; a backend through the writeback cache ("wb-X") has X's rules
 * (what X does differently, it does behind the cache too) and those of
 * "wb-*" (what the cache itself changes, whatever is behind it). */
static int backend_match(const char *rb, const char *backend)
{
	if (strcmp(rb, "*") == 0 || strcmp(rb, backend) == 0)
		return 1;
	if (strncmp(backend, "wb-", 3) == 0)
		return strcmp(rb, "wb-*") == 0 || backend_match(rb, backend + 3);
	return strcmp(rb, "9p") == 0 &&
	       (strcmp(backend, "hostfs") == 0 || strcmp(backend, "diod") == 0);
}

/* The times string without the atime letters ("fd:a" -> "fd:-"). */
static void strip_atime(const char *t, char *out, size_t len)
{
	size_t o = 0;

	for (; *t && o + 2 < len; t++) {
		if (*t == 'a')
			continue;
		/* a file whose only letter was a: "-" */
		if ((*t == ' ' || *t == 0) && o && out[o - 1] == ':')
			out[o++] = '-';
		out[o++] = *t;
	}
	if (o && out[o - 1] == ':' && o + 1 < len)
		out[o++] = '-';
	out[o] = 0;
}

/* The two results agree but for which atimes moved. */
static int atime_only(const struct result *a, const struct result *b)
{
	char x[RES_TIMES_MAX + 8], y[RES_TIMES_MAX + 8];

	if (a->ret != b->ret || a->err != b->err || strcmp(a->info, b->info) ||
	    strcmp(a->times, b->times) == 0)
		return 0;
	strip_atime(a->times, x, sizeof(x));
	strip_atime(b->times, y, sizeof(y));
	return strcmp(x, y) == 0;
}

/* Do a and b agree but for which times moved? */
static int times_only(const struct result *a, const struct result *b)
{
	return a->ret == b->ret && a->err == b->err &&
	       strcmp(a->info, b->info) == 0 && strcmp(a->times, b->times) != 0;
}

/* the first rule that accepts this difference; c: the call, or NULL for
 * the trees left (ref->cond then: every call's conditions) */
static struct rule *rule_find(const char *backend, const struct call *c,
			      const struct result *ref, const struct result *dut)
{
	for (int i = 0; i < nrules; i++) {
		struct rule *r = &rules[i];
		if (!backend_match(r->backend, backend) ||
		    (r->op >= 0 && r->op != (c ? (int)c->op : OP_TREE)) ||
		    !res_match(r->ref, ref) || !res_match(r->dut, dut))
			continue;
		if ((r->cond == RC_EXCHANGE && !(c && c->op == OP_RENAME &&
						 c->a == RENAME_EXCHANGE)) ||
		    (r->cond == RC_FD_NAME_LOST && !(ref->cond & COND_FD_NAME_LOST)) ||
		    (r->cond == RC_OPEN_NAME_LOST && !(ref->cond & COND_OPEN_NAME_LOST)) ||
		    (r->cond == RC_LINKED && !(ref->cond & COND_LINKED)) ||
		    (r->cond == RC_FD_DIR && !(ref->cond & COND_FD_DIR)) ||
		    (r->cond == RC_RENAMED_REUSED && !(ref->cond & COND_RENAMED_REUSED)) ||
		    (r->cond == RC_NOOP_CHOWN && !(ref->cond & COND_NOOP_CHOWN)) ||
		    (r->cond == RC_FALLOC_OTHER && !(ref->cond & COND_FALLOC_OTHER)) ||
		    (r->cond == RC_KILLPRIV && !(ref->cond & COND_KILLPRIV)) ||
		    (r->cond == RC_IDS_CLEARED && !(ref->cond & COND_IDS_CLEARED)) ||
		    (r->cond == RC_SAME_SIZE && !(ref->cond & COND_SAME_SIZE)) ||
		    (r->cond == RC_SILLY_DIR && !(ref->cond & COND_SILLY_DIR)) ||
		    (r->cond == RC_LINK_TIMES && !(ref->cond & COND_LINK_TIMES)) ||
		    (r->cond == RC_SILLY_TIMES && !(c && (ref->cond & COND_SILLY) &&
						    times_only(ref, dut))) ||
		    (r->cond == RC_SEEK_HOLE && !(c && c->op == OP_LSEEK &&
						  (c->a == SEEK_DATA || c->a == SEEK_HOLE))) ||
		    (r->cond == RC_ATIME && !(c && atime_only(ref, dut))))
			continue;
		return r;
	}
	return NULL;
}

/* ---- one comparison ---- */

struct opts {
	const char *ref, *dut, *backend, *save;
	unsigned features;
	int max_calls;
	int verbose;
	long times_every;       /* >1: times compared only in the generated
				   sequences whose seed it divides (cases and
				   --replay: always) */
};

enum verdict { SAME, ACCEPTED, DIFFER, ENV_ERROR };

struct outcome {
	enum verdict v;
	int at;                 /* the first differing call; n: the trees */
	struct rule *rule;
	char *snap_ref, *snap_dut;
	int run_ref, run_dut;   /* seq_run's answers */
	/* atime-only differences accepted on the way (the trees have not
	 * parted: the comparison goes on), by their rules */
	struct rule *passed[SEQ_MAX_CALLS];
	int npassed;
	char env[4400];
};

static struct result *res_ref, *res_dut;        /* shared with children */

/* --stats: per call, how the reference answered (does the generator
 * reach the interesting cases?) */
static long stat_calls[OP_COUNT], stat_ok[OP_COUNT], stat_err[OP_COUNT][160];

static void stats_add(const struct seq *s)
{
	for (int i = 0; i < s->n; i++) {
		int op = s->calls[i].op;
		stat_calls[op]++;
		if (res_ref[i].ret >= 0)
			stat_ok[op]++;
		else if (res_ref[i].err > 0 && res_ref[i].err < 160)
			stat_err[op][res_ref[i].err]++;
	}
}

static void stats_print(void)
{
	for (int op = 0; op < OP_COUNT; op++) {
		if (!stat_calls[op])
			continue;
		printf("  %-16s %7ld calls, %5.1f%% ok", op_name(op),
		       stat_calls[op], 100.0 * (double)stat_ok[op] /
		       (double)stat_calls[op]);
		for (int e = 1; e < 160; e++)
			if (stat_err[op][e])
				printf(", %s %ld", errno_name(e), stat_err[op][e]);
		printf("\n");
	}
}
static unsigned long run_counter;
static long leftovers;          /* trees left on the mount (see check) */

static int same_result(const struct result *a, const struct result *b)
{
	return a->ret == b->ret && a->err == b->err &&
	       strcmp(a->info, b->info) == 0 &&
	       strcmp(a->times, b->times) == 0;
}

static void outcome_free(struct outcome *o)
{
	free(o->snap_ref);
	free(o->snap_dut);
	o->snap_ref = o->snap_dut = NULL;
}

/* A snapshot with a silly-renamed file's name (".nfs..."). */
static bool has_silly(const char *snap)
{
	return strncmp(snap, ".nfs", 4) == 0 || strstr(snap, "\n.nfs") ||
	       strstr(snap, "/.nfs");
}

/* runs s on both sides in fresh directories, compares, removes them */
static void check(const struct seq *s, const struct opts *o,
		  struct outcome *out, int keep_snaps)
{
	char name[64], top[4096];
	unsigned f = o->features;

	memset(out, 0, sizeof(*out));
	/* by the seed, so a shrink of the sequence decides the same */
	if (o->times_every > 1 && s->seed % (uint64_t)o->times_every != 0)
		f &= ~(unsigned)FEAT_TIMES;
	snprintf(name, sizeof(name), "s%lu", run_counter++);
	out->run_ref = seq_run(s, o->ref, name, res_ref, 1, f);
	out->run_dut = seq_run(s, o->dut, name, res_dut, 0, f);
	if (out->run_ref < 0) {
		out->v = ENV_ERROR;
		snprintf(out->env, sizeof(out->env), "the reference run failed: %s",
			 strerror(-out->run_ref));
		goto cleanup;
	}
	out->v = SAME;
	out->at = s->n;
	for (int i = 0; i < s->n; i++) {
		if (same_result(&res_ref[i], &res_dut[i]))
			continue;
		/* once an atime parted, relatime moves the two apart or
		 * together as it likes (and a 9P read-ahead moves the
		 * server's later): atimes are not compared any more */
		if (out->npassed && atime_only(&res_ref[i], &res_dut[i]))
			continue;
		out->at = i;
		out->rule = rule_find(o->backend, &s->calls[i], &res_ref[i],
				      &res_dut[i]);
		if (out->rule && out->rule->cond == RC_ATIME) {
			/* only an atime: the two trees are still alike */
			out->passed[out->npassed++] = out->rule;
			out->rule = NULL;
			out->at = s->n;
			continue;
		}
		out->v = out->rule ? ACCEPTED : DIFFER;
		break;
	}
	if (out->v == SAME && out->run_dut < 0)
		out->v = DIFFER;
	if (out->v == SAME || keep_snaps) {
		snprintf(top, sizeof(top), "%s/%s", o->ref, name);
		out->snap_ref = seq_snapshot(top);
		snprintf(top, sizeof(top), "%s/%s", o->dut, name);
		out->snap_dut = seq_snapshot(top);
		/* the .nfs name of a file unlinked while open whose last close
		 * came just before: its REMOVE goes after that close, not
		 * waited for (Linux's client sends it so too), and through
		 * FUSE the close's RELEASE reaches uvfsd after close(2) has
		 * returned.  Taken again for up to 2 s until it is gone (one
		 * left then is a difference). */
		for (int k = 0; k < 40 && out->v == SAME &&
		     has_silly(out->snap_dut) && !has_silly(out->snap_ref);
		     k++) {
			usleep(50 * 1000);
			free(out->snap_dut);
			out->snap_dut = seq_snapshot(top);
		}
		if (out->v == SAME && strcmp(out->snap_ref, out->snap_dut) != 0) {
			struct result all = { 0 };
			for (int i = 0; i <= s->n; i++)
				all.cond |= res_ref[i].cond;
			out->rule = rule_find(o->backend, NULL, &all, &all);
			out->v = out->rule ? ACCEPTED : DIFFER;
		}
	}
cleanup:
	for (int side = 0; side < 2; side++) {
		int r;
		snprintf(top, sizeof(top), "%s/%s", side ? o->dut : o->ref, name);
		r = tree_remove(top);
		if (r < 0 && side == 1 && out->v != SAME) {
			/* the mount's view was already found wrong: what is
			 * left there stays, under a name not used again */
			leftovers++;
		} else if (r < 0 && out->v != ENV_ERROR) {
			out->v = ENV_ERROR;
			snprintf(out->env, sizeof(out->env),
				 "cannot remove %s as root: %s", top, strerror(-r));
		}
	}
}

static int still_differs(const struct seq *s, const struct opts *o)
{
	struct outcome out;

	check(s, o, &out, 0);
	outcome_free(&out);
	return out.v == DIFFER;
}

/* ---- shrinking ---- */

static int tries_left;

static int try_seq(const struct seq *cand, struct seq *best,
		   const struct opts *o)
{
	if (tries_left <= 0)
		return 0;
	tries_left--;
	if (!still_differs(cand, o))
		return 0;
	*best = *cand;
	return 1;
}

/* drops chunks of calls (ddmin), then simplifies each call's arguments */
static void shrink(struct seq *s, const struct opts *o)
{
	struct seq cand;
	int chunk = s->n / 2;

	tries_left = 400;
	while (chunk >= 1 && tries_left > 0) {
		int progress = 0;
		for (int start = 0; start + chunk <= s->n && tries_left > 0;) {
			cand = *s;
			memmove(&cand.calls[start], &cand.calls[start + chunk],
				sizeof(cand.calls[0]) * (size_t)(s->n - start - chunk));
			cand.n = s->n - chunk;
			if (cand.n > 0 && try_seq(&cand, s, o))
				progress = 1;
			else
				start += chunk;
		}
		if (!progress)
			chunk /= 2;
	}
	/* the setup: root's 0755 directory */
	cand = *s;
	cand.dir_uid = 0;
	cand.dir_mode = 0755;
	if (cand.dir_uid != s->dir_uid || cand.dir_mode != s->dir_mode)
		try_seq(&cand, s, o);
	for (int i = 0; i < s->n && tries_left > 0; i++) {
		struct call *c = &s->calls[i];
		long *nums[] = { &c->b, &c->c, &c->d };
		if (c->user) {
			cand = *s;
			cand.calls[i].user = 0;
			try_seq(&cand, s, o);
		}
		if (c->op == OP_OPEN) {
			for (long bit = 1; bit <= 0x400000; bit <<= 1) {
				if (!(c->a & bit) || bit == O_CREAT)
					continue;
				cand = *s;
				cand.calls[i].a &= ~bit;
				try_seq(&cand, s, o);
			}
			continue;
		}
		if (c->op == OP_CHMOD || c->op == OP_FCHMOD || c->op == OP_MKDIR ||
		    c->op == OP_UTIMENS || c->op == OP_CHOWN || c->op == OP_FCHOWN ||
		    c->op == OP_FALLOCATE || c->op == OP_LSEEK)
			continue;       /* modes, kinds and flags: kept */
		for (size_t k = 0; k < 3; k++) {
			if (c->op == OP_WRITE || c->op == OP_PWRITE) {
				if (k == 2)
					continue;       /* the byte */
			}
			while (*nums[k] > 1 && tries_left > 0) {
				long old = *nums[k];
				cand = *s;
				long *cn[] = { &cand.calls[i].b, &cand.calls[i].c,
					       &cand.calls[i].d };
				*cn[k] = old / 2;
				if (!try_seq(&cand, s, o)) {
					cand = *s;
					long *cm[] = { &cand.calls[i].b,
						       &cand.calls[i].c,
						       &cand.calls[i].d };
					*cm[k] = old - 1 > 1 ? 1 : 0;
					if (!try_seq(&cand, s, o))
						break;
				}
			}
		}
	}
}

/* ---- reports ---- */

static void res_format(const struct result *r, char *buf, size_t len)
{
	if (r->ret == -2)
		snprintf(buf, len, "(not reached)");
	else if (r->ret < 0)
		snprintf(buf, len, "-1 %s", errno_name(r->err));
	else
		snprintf(buf, len, "%ld%s%s", r->ret, r->info[0] ? " " : "",
			 r->info);
	if (r->times[0] && r->ret != -2) {
		size_t n = strlen(buf);
		snprintf(buf + n, len - n, "  [times %s]", r->times);
	}
}

static void snap_diff(FILE *f, const char *prefix, const char *a,
		      const char *b)
{
	/* lines of one that the other lacks (both sorted by path) */
	for (int side = 0; side < 2; side++) {
		const char *x = side ? b : a, *y = side ? a : b;
		const char *p = x;
		while (*p) {
			const char *e = strchr(p, '\n');
			size_t n = e ? (size_t)(e - p) : strlen(p);
			char line[1600];
			snprintf(line, sizeof(line), "%.*s\n", (int)n, p);
			const char *q = strstr(y, line);
			if (!q || (q != y && q[-1] != '\n'))
				fprintf(f, "%s    %s %.*s\n", prefix,
					side ? "uvfs: " : "tmpfs:", (int)n, p);
			p += n + (e ? 1 : 0);
		}
	}
}

static void report(FILE *f, const char *prefix, const struct seq *s,
		   const struct opts *o)
{
	struct outcome out;
	char cbuf[300], r1[256], r2[256];

	check(s, o, &out, 1);
	fprintf(f, "%sbackend %s, seed %llu, working directory uid %ld mode 0%lo\n",
		prefix, o->backend, (unsigned long long)s->seed, s->dir_uid,
		s->dir_mode);
	for (int i = 0; i < s->n; i++) {
		call_format(&s->calls[i], cbuf, sizeof(cbuf));
		res_format(&res_ref[i], r1, sizeof(r1));
		res_format(&res_dut[i], r2, sizeof(r2));
		fprintf(f, "%s%2d %s\n", prefix, i, cbuf);
		if (same_result(&res_ref[i], &res_dut[i]))
			fprintf(f, "%s     both:  %s\n", prefix, r1);
		else
			fprintf(f, "%s     tmpfs: %s\n%s     uvfs:  %s   <-- differs\n",
				prefix, r1, prefix, r2);
	}
	if (out.run_dut < 0)
		fprintf(f, "%sthe uvfs run ended: %s\n", prefix,
			out.run_dut == -ETIMEDOUT ? "a call hung (30 s)" :
			"the child failed");
	if (out.snap_ref && out.snap_dut && strcmp(out.snap_ref, out.snap_dut)) {
		fprintf(f, "%sthe trees left differ:\n", prefix);
		snap_diff(f, prefix, out.snap_ref, out.snap_dut);
	}
	outcome_free(&out);
}

static void save_case(const struct seq *s, const struct opts *o, int at)
{
	char path[4200];
	FILE *f;
	const char *what = at < s->n ? op_name(s->calls[at].op) : "tree";

	snprintf(path, sizeof(path), "%s/%s-%s-%llu.seq", o->save, o->backend,
		 what, (unsigned long long)s->seed);
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "uvfs-diffrun: cannot save %s: %s\n", path,
			strerror(errno));
		return;
	}
	fprintf(f, "# found on %s (uvfs-diffrun --seed %llu); shrunk:\n",
		o->backend, (unsigned long long)s->seed);
	report(f, "# ", s, o);
	seq_write(f, s);
	fclose(f);
	printf("saved %s\n", path);
}

/* a difference: shrink, print, save */
static void on_difference(const struct seq *orig, const struct opts *o,
			  int shrink_it)
{
	struct seq s = *orig;
	struct outcome out;

	if (shrink_it) {
		shrink(&s, o);
		printf("shrunk from %d calls to %d\n", orig->n, s.n);
	}
	check(&s, o, &out, 0);
	outcome_free(&out);
	report(stdout, "  ", &s, o);
	if (o->save && shrink_it)
		save_case(&s, o, out.at);
}

/* ---- main ---- */

static unsigned parse_features(const char *list)
{
	unsigned f = 0;
	char *dup = strdup(list), *save, *t;

	for (t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strcmp(t, "fallocate") == 0) f |= FEAT_FALLOCATE;
		else if (strcmp(t, "seek_hole") == 0) f |= FEAT_SEEK_HOLE;
		else if (strcmp(t, "copy_file_range") == 0) f |= FEAT_COPY_RANGE;
		else if (strcmp(t, "other_user") == 0) f |= FEAT_OTHER_USER;
		else if (strcmp(t, "times") == 0) f |= FEAT_TIMES;
		else if (strcmp(t, "all") == 0) f |= ~0u;
		else if (strcmp(t, "none") == 0) ;
		else {
			fprintf(stderr, "uvfs-diffrun: --calls: unknown kind '%s' "
				"(fallocate, seek_hole, copy_file_range, other_user, "
				"times, all, none)\n", t);
			exit(2);
		}
	}
	free(dup);
	return f;
}

static long cases_same, cases_accepted;

static int replay_file(const char *path, const struct opts *o, int *failed)
{
	FILE *f = fopen(path, "r");
	struct seq s;
	struct outcome out;
	char err[200];
	int r;

	if (!f) {
		fprintf(stderr, "uvfs-diffrun: %s: %s\n", path, strerror(errno));
		return -1;
	}
	r = seq_read(f, &s, err, sizeof(err));
	fclose(f);
	if (r < 0) {
		fprintf(stderr, "uvfs-diffrun: %s: %s\n", path, err);
		return -1;
	}
	check(&s, o, &out, 0);
	outcome_free(&out);
	if (out.v == ENV_ERROR) {
		fprintf(stderr, "uvfs-diffrun: %s: %s\n", path, out.env);
		return -1;
	}
	if (out.v == SAME)
		cases_same++;
	else if (out.v == ACCEPTED)
		cases_accepted++;
	if (out.v == DIFFER) {
		printf("FAIL: case %s differs:\n", path);
		report(stdout, "  ", &s, o);
		(*failed)++;
	} else if (o->verbose) {
		printf("case %s: %s\n", path, out.v == SAME ? "same" :
		       "accepted difference");
		report(stdout, "  ", &s, o);
	}
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_dir(const char *dir, const struct opts *o, int *failed,
		      int *count)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char *names[1024];
	int n = 0, r = 0;

	if (!d) {
		fprintf(stderr, "uvfs-diffrun: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) && n < 1024) {
		size_t l = strlen(e->d_name);
		if (l > 4 && strcmp(e->d_name + l - 4, ".seq") == 0)
			names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), cmp_names);
	for (int i = 0; i < n; i++) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (r == 0 && replay_file(path, o, failed) < 0)
			r = -1;
		free(names[i]);
	}
	*count = n;
	return r;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: uvfs-diffrun --ref DIR --dut DIR --backend NAME --accepted FILE\n"
		"                    [--seed N|random] [--count N] [--max-calls N]\n"
		"                    [--calls fallocate,seek_hole,copy_file_range,other_user,times|all|none]\n"
		"                    [--cases DIR] [--save DIR] [--keep-going] [--no-shrink]\n"
		"                    [--replay FILE] [--verbose] [--stats] [--times-every N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = { .max_calls = 30, .features = FEAT_OTHER_USER };
	const char *accepted = NULL, *cases = NULL, *replay = NULL;
	uint64_t seed = 1;
	long count = 100;
	int keep_going = 0, do_shrink = 1, failed = 0, stats = 0;
	int cases_failed = 0;
	long times_every = 1;
	long accepted_n = 0, same_n = 0, calls_n = 0, passed_n = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (strcmp(a, name) == 0 && v && (i++, 1))
		if (ARG("--ref")) o.ref = v;
		else if (ARG("--dut")) o.dut = v;
		else if (ARG("--backend")) o.backend = v;
		else if (ARG("--accepted")) accepted = v;
		else if (ARG("--cases")) cases = v;
		else if (ARG("--save")) o.save = v;
		else if (ARG("--replay")) replay = v;
		else if (ARG("--calls")) o.features = parse_features(v);
		else if (ARG("--count")) count = atol(v);
		else if (ARG("--max-calls")) o.max_calls = atoi(v);
		else if (ARG("--times-every")) times_every = atol(v);
		else if (ARG("--seed")) {
			if (strcmp(v, "random") == 0) {
				struct timespec ts;
				clock_gettime(CLOCK_REALTIME, &ts);
				seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
				       ((uint64_t)getpid() << 40);
			} else {
				seed = strtoull(v, NULL, 0);
			}
		}
		else if (strcmp(a, "--keep-going") == 0) keep_going = 1;
		else if (strcmp(a, "--no-shrink") == 0) do_shrink = 0;
		else if (strcmp(a, "--verbose") == 0) o.verbose = 1;
		else if (strcmp(a, "--stats") == 0) stats = 1;
		else usage();
#undef ARG
	}
	if (!o.ref || !o.dut || !o.backend || !accepted || count < 0 ||
	    times_every < 1)
		usage();
	if (geteuid() != 0) {
		fprintf(stderr, "uvfs-diffrun: must run as root (calls as another user)\n");
		return 2;
	}
	if (rules_load(accepted) < 0)
		return 2;
	res_ref = mmap(NULL, sizeof(struct result) * (SEQ_MAX_CALLS + 1) * 2,
		       PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res_ref == MAP_FAILED)
		return 2;
	res_dut = res_ref + SEQ_MAX_CALLS + 1;
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (replay) {
		o.verbose = 1;
		if (replay_file(replay, &o, &failed) < 0)
			return 2;
		return failed ? 1 : 0;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (cases) {
		int n = 0;
		if (replay_dir(cases, &o, &cases_failed, &n) < 0)
			return 2;
		printf("%s: %d regression cases replayed: %ld same, %ld stopped "
		       "at an accepted difference, %d differ\n", o.backend, n,
		       cases_same, cases_accepted, cases_failed);
		if (cases_failed && !keep_going)
			return 1;
	}
	printf("%s: seed %llu, %ld sequences of 5..%d calls\n", o.backend,
	       (unsigned long long)seed, count, o.max_calls);
	if ((o.features & FEAT_TIMES) && times_every > 1)
		printf("%s: times compared in the sequences whose seed %ld "
		       "divides\n", o.backend, times_every);
	o.times_every = times_every;    /* the generated ones only */
	for (long k = 0; k < count; k++) {
		struct seq s;
		struct outcome out;
		seq_generate(&s, seed + (uint64_t)k, o.max_calls, o.features);
		check(&s, &o, &out, 0);
		outcome_free(&out);
		calls_n += s.n;
		if (stats)
			stats_add(&s);
		if (out.v == ENV_ERROR) {
			fprintf(stderr, "uvfs-diffrun: sequence %llu: %s\n",
				(unsigned long long)s.seed, out.env);
			return 2;
		}
		for (int i = 0; i < out.npassed; i++)
			out.passed[i]->hits++;
		passed_n += out.npassed > 0;
		if (out.v == SAME) {
			same_n++;
		} else if (out.v == ACCEPTED) {
			accepted_n++;
			out.rule->hits++;
		} else {
			failed++;
			printf("FAIL: sequence %llu (%ld of this run) differs at %s:\n",
			       (unsigned long long)s.seed, k,
			       out.at < s.n ? op_name(s.calls[out.at].op) : "the trees");
			on_difference(&s, &o, do_shrink);
			if (!keep_going)
				break;
		}
		if ((k + 1) % 10000 == 0)       /* for long runs */
			printf("%s: %ld sequences so far (%ld calls): %ld same, "
			       "%ld accepted, %d differ\n", o.backend, k + 1,
			       calls_n, same_n, accepted_n, failed);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) +
		      (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%s: %ld sequences (%ld calls): %ld same, %ld stopped at an "
	       "accepted difference, %d differ; %.1f s\n", o.backend,
	       same_n + accepted_n + failed, calls_n, same_n, accepted_n, failed,
	       secs);
	if (passed_n)
		printf("  %ld sequences compared on past an accepted atime "
		       "difference\n", passed_n);
	if (leftovers)
		printf("  %ld trees of sequences that differed could not be "
		       "removed from the mount\n", leftovers);
	if (stats)
		stats_print();
	for (int i = 0; i < nrules; i++)
		if (rules[i].hits)
			printf("  accepted %ld x: %s %s: %s\n", rules[i].hits,
			       rules[i].backend,
			       rules[i].op == OP_TREE ? "tree" :
			       rules[i].op >= 0 ? op_name(rules[i].op) : "*",
			       rules[i].reason);
	return failed || cases_failed ? 1 : 0;
}
