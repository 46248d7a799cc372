/*
 * mounts.c - `uvfs mounts`: the namespace's mounts the way findmnt shows
 * the kernel's.  A tree by default (TARGET, SOURCE, FSTYPE, OPTIONS);
 * (and STATE: a mount may be suspended or unmounting); -o picks columns; --raw: a list, one space between columns, whitespace
 * and unusual bytes as \xNN; -n: no headings; -t TYPES and -S SOURCE
 * filter (a filtered listing is a list: a tree with holes misleads);
 * --json: one document, every mount an object (docs/json.md).
 *
 * Owns the table it builds from the records for one call.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "ctl.h"
#include "json.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct col {
	const char *name;       /* as -o takes it, case-insensitively */
	const char *key;        /* the record's key */
	bool right;             /* numbers: right-aligned */
	const char *help;
};

static const struct col cols[] = {
	{ "TARGET", "host", false, "mount point (host path)" },
	{ "SOURCE", "source", false, "source" },
	{ "FSTYPE", "type", false, "file-system type" },
	{ "OPTIONS", "options", false, "mount options" },
	{ "PATH", "target", false, "mount point in the namespace" },
	{ "ID", "id", true, "mount id" },
	{ "PARENT", "parent", true, "parent mount id" },
	{ "STATE", "state", false, "active, suspended, unmounting" },
	{ "REFS", "refs", true, "references held on the mount" },
	{ "INFLIGHT", "inflight", true, "operations inside it now" },
};
#define NCOLS (sizeof(cols) / sizeof(cols[0]))

struct mnt {
	char *buf;
	char *argv[CTL_ARGS_MAX];
	int argc;
	long id, parent;
	int depth;
	char prefix[256];       /* the tree's drawing before TARGET */
	bool shown;
};

static const char *val(const struct mnt *m, const char *key)
{
	const char *v = ctl_get((char **)m->argv, m->argc, key);
	return v ? v : "";
}

/* -o: column indices into sel; => the count, or -1 (unknown name). */
static int parse_cols(const char *spec, int *sel, const char **bad)
{
	char *dup = strdup(spec ? spec : "TARGET,SOURCE,FSTYPE,STATE,OPTIONS");
	char *save = NULL;
	int n = 0;

	if (!dup)
		return -1;
	for (char *t = strtok_r(dup, ",", &save); t && n < (int)NCOLS * 2;
	     t = strtok_r(NULL, ",", &save)) {
		size_t k;
		for (k = 0; k < NCOLS; k++)
			if (strcasecmp(t, cols[k].name) == 0)
				break;
		if (k == NCOLS) {
			static char name[64];
			snprintf(name, sizeof(name), "%s", t);
			*bad = name;
			free(dup);
			return -1;
		}
		sel[n++] = (int)k;
	}
	free(dup);
	return n;
}

bool show_column_known(const char *columns)
{
	int sel[NCOLS * 2];
	const char *bad;

	return parse_cols(columns, sel, &bad) > 0;
}

static bool type_matches(const char *types, const char *type)
{
	char *dup = strdup(types), *save = NULL;
	bool hit = false;

	for (char *t = dup ? strtok_r(dup, ",", &save) : NULL; t && !hit;
	     t = strtok_r(NULL, ",", &save))
		hit = strcmp(t, type) == 0;
	free(dup);
	return hit;
}

/* dst = a then b, cut to size (a tree deeper than the prefix holds is
 * drawn cut at the left). */
static void join2(char *dst, size_t size, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la >= size)
		la = size - 1;
	memcpy(dst, a, la);
	if (lb >= size - la)
		lb = size - 1 - la;
	memcpy(dst + la, b, lb);
	dst[la + lb] = '\0';
}

/* Depth-first from parent: each mount's depth and drawing. */
static void tree(struct mnt *m, size_t n, long parent, int depth,
		 const char *above, bool ascii, struct mnt **order,
		 size_t *no)
{
	size_t last = n;

	for (size_t i = 0; i < n; i++)
		if (!m[i].shown && m[i].parent == parent && m[i].id != parent)
			last = i;
	for (size_t i = 0; i < n && last < n; i++) {
		if (m[i].shown || m[i].parent != parent || m[i].id == parent)
			continue;
		bool is_last = i == last;
		m[i].shown = true;
		m[i].depth = depth;
		if (depth > 0)
			join2(m[i].prefix, sizeof(m[i].prefix), above,
			      ascii ? (is_last ? "`-" : "|-")
				    : (is_last ? "└─" : "├─"));
		order[(*no)++] = &m[i];
		char below[256];
		join2(below, sizeof(below), depth > 0 ? above : "",
		      depth == 0 ? "" : ascii ? (is_last ? "  " : "| ")
					      : (is_last ? "  " : "│ "));
		tree(m, n, m[i].id, depth + 1, below, ascii, order, no);
	}
}

/* --raw: whitespace, backslashes and control bytes as \xNN. */
static void raw_print(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= 0x20 || c == 0x7f || c == '\\')
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

/* Display width of s (UTF-8: count lead bytes). */
static int width(const char *s)
{
	int w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

int show_mounts(const struct reply *r, const struct mounts_opts *o)
{
	int sel[NCOLS * 2];
	const char *bad = NULL;
	/* JSON: every column unless -o says otherwise */
	int ncol = parse_cols(o->columns ? o->columns : o->json ?
			      "ID,PARENT,TARGET,PATH,SOURCE,FSTYPE,OPTIONS,"
			      "STATE,REFS,INFLIGHT" : NULL, sel, &bad);
	struct mnt *m = calloc(r->n + 1, sizeof(*m));
	struct mnt **order = calloc(r->n + 1, sizeof(*order));
	size_t n = 0, no = 0;

	if (ncol <= 0) {
		fprintf(stderr, "uvfs mounts: unknown column '%s' (columns: ",
			bad ? bad : "");
		for (size_t k = 0; k < NCOLS; k++)
			fprintf(stderr, "%s%s", k ? ", " : "", cols[k].name);
		fprintf(stderr, ")\n");
		free(m);
		free(order);
		return 2;
	}
	for (size_t i = 0; m && order && i < r->n; i++) {
		struct mnt *x = &m[n];
		x->buf = strdup(r->lines[i]);
		x->argc = x->buf ? ctl_split(x->buf, x->argv, CTL_ARGS_MAX)
				 : -1;
		if (x->argc <= 0 || strcmp(x->argv[0], "mount") != 0 ||
		    (o->types && !type_matches(o->types, val(x, "type"))) ||
		    (o->source && strcmp(o->source, val(x, "source")) != 0)) {
			free(x->buf);
			x->buf = NULL;
			continue;
		}
		if (!o->raw && !o->json)        /* --raw escapes them */
			for (int k = 0; k < x->argc; k++)
				cli_visible(x->argv[k]);
		x->id = atol(val(x, "id"));
		x->parent = atol(val(x, "parent"));
		n++;
	}
	bool list = o->raw || o->types || o->source || o->json;
	if (!list) {
		/* roots: a parent that is not listed */
		for (size_t i = 0; i < n; i++) {
			bool has_parent = false;
			for (size_t k = 0; k < n && !has_parent; k++)
				has_parent = k != i && m[k].id == m[i].parent;
			if (!has_parent && !m[i].shown) {
				m[i].shown = true;
				order[no++] = &m[i];
				tree(m, n, m[i].id, 1, "", o->ascii, order,
				     &no);
			}
		}
	}
	for (size_t i = 0; i < n; i++)     /* anything not reached */
		if (list || !m[i].shown)
			order[no++] = &m[i];

	if (o->json) {
		struct json j;
		json_init(&j, stdout);
		json_object_begin(&j);
		json_key(&j, "uvfs_json");
		json_int(&j, UVFS_JSON_VERSION);
		json_key(&j, "command");
		json_str(&j, "mounts");
		json_key(&j, "mounts");
		json_array_begin(&j);
		for (size_t i = 0; i < no; i++) {
			json_object_begin(&j);
			for (int c = 0; c < ncol; c++) {
				const struct col *cl = &cols[sel[c]];
				char key[16];
				size_t k;
				for (k = 0; cl->name[k] && k < 15; k++)
					key[k] = (char)(cl->name[k] | 0x20);
				key[k] = '\0';
				json_key(&j, key);
				const char *v = val(order[i], cl->key);
				if (cl->right)
					json_int(&j, atoll(v));
				else
					json_str(&j, v);
			}
			json_object_end(&j);
		}
		json_array_end(&j);
		json_object_end(&j);
		json_end(&j);
		goto out;
	}
	int w[NCOLS * 2];
	for (int c = 0; c < ncol; c++) {
		w[c] = o->noheadings ? 0 : width(cols[sel[c]].name);
		for (size_t i = 0; i < no; i++) {
			int x = width(val(order[i], cols[sel[c]].key));
			if (!list && sel[c] == 0)
				x += width(order[i]->prefix);
			if (x > w[c])
				w[c] = x;
		}
	}
	if (!o->noheadings) {
		for (int c = 0; c < ncol; c++) {
			const struct col *cl = &cols[sel[c]];
			if (o->raw)
				printf("%s%s", c ? " " : "", cl->name);
			else
				printf("%s%*s%s", c ? " " : "",
				       cl->right ? w[c] - width(cl->name) : 0,
				       "", cl->name);
			if (!o->raw && !cl->right && c + 1 < ncol)
				printf("%*s", w[c] - width(cl->name), "");
		}
		putchar('\n');
	}
	for (size_t i = 0; i < no; i++) {
		for (int c = 0; c < ncol; c++) {
			const struct col *cl = &cols[sel[c]];
			const char *v = val(order[i], cl->key);
			const char *pre = !list && sel[c] == 0 ?
					  order[i]->prefix : "";
			int pad = w[c] - width(v) - width(pre);
			if (c)
				putchar(' ');
			if (o->raw) {
				raw_print(v);
				continue;
			}
			if (cl->right)
				printf("%*s", pad, "");
			printf("%s%s", pre, v);
			if (!cl->right && c + 1 < ncol)
				printf("%*s", pad, "");
		}
		putchar('\n');
	}
out:
	for (size_t i = 0; i < n; i++)
		free(m[i].buf);
	free(m);
	free(order);
	return 0;
}
