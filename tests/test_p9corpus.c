/*
 * test_p9corpus.c - replays a fuzzer's corpus (seeds, crash reproducers,
 * minimized corpus) through the fuzz target's own checks, in the normal
 * sanitizer build and without libFuzzer.  The target is compiled into
 * this program: fuzz/fuzz_p9_unpack.c (test_p9corpus),
 * fuzz/fuzz_p9_server.c (test_p9srvcorpus), fuzz/fuzz_p9_client.c
 * (test_p9clicorpus), fuzz/fuzz_nfs3_reply.c
 * (test_nfs3corpus) or fuzz/fuzz_ctl.c (test_ctlcorpus); a failed check
 * there aborts, after the name of the file being replayed was printed.
 *
 * Usage: test_p9corpus MIN-FILES DIR...
 *   (meson passes 57, the codec's seeds, and fuzz/corpus/p9_unpack; for
 *   the others the number of their seeds and fuzz/corpus/TARGET)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char **dirs;
static int ndirs;
static int min_files;   /* fewer replayed: the directory is not the corpus */

/* Whole file into a buffer of exactly its size (ASan sees overreads). */
static uint8_t *slurp(int dfd, const char *name, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return NULL;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	assert_non_null(buf);
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		assert_true(n > 0);
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return buf;
}

static void replay(void **state)
{
	int files = 0;

	(void)state;
	for (int i = 0; i < ndirs; i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *e;

		if (!d)
			fail_msg("cannot open %s: %s", dirs[i], strerror(errno));
		while ((e = readdir(d))) {
			uint8_t *buf;
			size_t len;

			if (e->d_name[0] == '.')
				continue;
			buf = slurp(dirfd(d), e->d_name, &len);
			if (!buf)
				continue;
			fprintf(stderr, "replay %s/%s (%zu bytes)\n", dirs[i],
				e->d_name, len);
			LLVMFuzzerTestOneInput(buf, len);
			free(buf);
			files++;
		}
		closedir(d);
	}
	printf("replayed %d files\n", files);
	assert_true(files >= min_files);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(replay),
	};

	if (argc < 3 || atoi(argv[1]) < 1) {
		fprintf(stderr, "usage: %s MIN-FILES CORPUS-DIR...\n", argv[0]);
		return 2;
	}
	min_files = atoi(argv[1]);
	dirs = argv + 2;
	ndirs = argc - 2;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
