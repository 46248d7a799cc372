/*
 * test_p9corpus.c - replays the 9P codec fuzzer's corpus (seeds, crash
 * reproducers, minimized corpus) through the fuzz target's own checks, in
 * the normal sanitizer build and without libFuzzer.  The target is
 * fuzz/fuzz_p9_unpack.c, compiled into this program; a failed check there
 * aborts, after the name of the file being replayed was printed.
 *
 * Usage: test_p9corpus DIR...   (meson passes fuzz/corpus/p9_unpack)
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
	/* the seeds alone are one file per message type */
	assert_true(files >= 57);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(replay),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS-DIR...\n", argv[0]);
		return 2;
	}
	dirs = argv + 1;
	ndirs = argc - 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
