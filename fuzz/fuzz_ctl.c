/*
 * fuzz_ctl.c - libFuzzer target for uvfsd's control protocol tokens and
 * the path rules built on them (daemon/ctl.c), which read what any local
 * user that may connect to the control socket sends.
 *
 * The input, cut at its first newline or NUL as uvfsd's reader cuts a
 * request, is one request line:
 *   - ctl_split() answers -1 (malformed) or 0..CTL_ARGS_MAX tokens (0
 *     only for the empty line); the tokens escaped again with
 *     sbuf_add_tok() and joined by spaces split back to the very same
 *     tokens, and that line is at most 3 times as long;
 *   - for each token: ctl_lexical_path() gives an absolute path with no
 *     empty, "." or ".." component and no trailing slash (but "/"),
 *     itself again when given it; ctl_under() of it below "/" and below
 *     itself, and against the next token's path agrees with a
 *     component-wise reference; ctl_sockpath() of it for root and for
 *     uid 1000 fits the buffer and a socket address (at most 107 bytes),
 *     lies in the socket directory with no further '/', ends in ".sock",
 *     or is -ENAMETOOLONG;
 *   - ctl_get() of each token's "key" (the part before its first '=')
 *     finds a value of a token after the first.
 * A failed check aborts.
 *
 * Built by fuzz/run with clang -fsanitize=fuzzer (libFuzzer supplies
 * main), and into tests/test_ctlcorpus, which calls
 * LLVMFuzzerTestOneInput() on every file of fuzz/corpus/ctl/.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "fuzz.h"

/* p is absolute and lexically canonical. */
static void check_canonical(const char *p)
{
	size_t n = strlen(p);

	CHECK(p[0] == '/');
	CHECK(n == 1 || p[n - 1] != '/');
	CHECK(!strstr(p, "//"));
	CHECK(!strstr(p, "/./") && !(n >= 2 && !strcmp(p + n - 2, "/.")));
	CHECK(!strstr(p, "/../") && !(n >= 3 && !strcmp(p + n - 3, "/..")));
}

/* The reference: path is prefix or below it, component-wise. */
static bool under_ref(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	if (!strcmp(prefix, "/"))
		return true;
	return !strncmp(path, prefix, n) && (!path[n] || path[n] == '/');
}

static void check_sockpath(const char *mnt, uid_t uid, const char *dir)
{
	char out[256];
	int r = ctl_sockpath(mnt, uid, out, sizeof(out));
	size_t dl = strlen(dir), n;

	CHECK(r == 0 || r == -ENAMETOOLONG);
	if (r)
		return;
	n = strlen(out);
	CHECK(n < 108);
	CHECK(!strncmp(out, dir, dl) && out[dl] == '/');
	CHECK(!strchr(out + dl + 1, '/'));
	CHECK(n >= dl + 1 + 6 && !strcmp(out + n - 5, ".sock"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1), *argv[CTL_ARGS_MAX];
	char *argv2[CTL_ARGS_MAX], *paths[CTL_ARGS_MAX];
	struct sbuf b = { 0 };
	const char *rt = getenv("XDG_RUNTIME_DIR");
	char udir[PATH_MAX + 8];
	size_t len;
	int argc, argc2;

	CHECK(line);
	memcpy(line, data, size);
	line[size] = '\0';
	len = strcspn(line, "\n");
	line[len] = '\0';
	len = strlen(line);
	/* ctl_sockpath's directory for uid 1000 */
	if (rt && rt[0] == '/')
		snprintf(udir, sizeof(udir), "%s/uvfs", rt);
	else
		snprintf(udir, sizeof(udir), "/tmp/uvfs-1000");

	argc = ctl_split(line, argv, CTL_ARGS_MAX);
	CHECK(argc >= -1 && argc <= CTL_ARGS_MAX);
	CHECK(argc != 0 || len == 0);
	if (argc <= 0)
		goto out;

	/* escaped again, the tokens split back to themselves */
	for (int i = 0; i < argc; i++) {
		if (i)
			sbuf_add(&b, " ", 1);
		sbuf_add_tok(&b, argv[i]);
	}
	sbuf_add(&b, "", 1);    /* the NUL */
	CHECK(!b.oom);
	CHECK(b.len - 1 <= 3 * len);
	argc2 = ctl_split(b.p, argv2, CTL_ARGS_MAX);
	CHECK(argc2 == argc);
	for (int i = 0; i < argc; i++)
		CHECK(strcmp(argv[i], argv2[i]) == 0);

	for (int i = 0; i < argc; i++) {
		char *again;

		paths[i] = ctl_lexical_path(argv[i]);
		CHECK(paths[i]);
		check_canonical(paths[i]);
		again = ctl_lexical_path(paths[i]);
		CHECK(again && strcmp(again, paths[i]) == 0);
		free(again);
		CHECK(ctl_under(paths[i], "/"));
		CHECK(ctl_under(paths[i], paths[i]));
		if (i > 0)
			CHECK(!ctl_under(paths[i], paths[i - 1]) ==
			      !under_ref(paths[i], paths[i - 1]));
		check_sockpath(paths[i], 0, "/run/uvfs");
		check_sockpath(paths[i], 1000, udir);

		/* a key=value token is found by its key */
		char *eq = strchr(argv[i], '=');
		if (i > 0 && eq) {
			char *key = strndup(argv[i], (size_t)(eq - argv[i]));
			const char *v;

			CHECK(key);
			v = ctl_get(argv, argc, key);
			CHECK(v);
			CHECK(v[-1] == '=');
			free(key);
		}
	}
	for (int i = 0; i < argc; i++)
		free(paths[i]);
out:
	sbuf_free(&b);
	free(line);
	return 0;
}
