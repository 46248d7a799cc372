/*
 * test_sys.c - unit tests of the system-call table (lib/util/sys.h): an
 * entry set by a test is what the wrapper calls; an armed fault fails the
 * Nth call of its class only (or every call from the Nth on, persistent)
 * with the errno asked or the class's usual one; a failed close still
 * closes; disarm and reset put libc back; call sites are counted.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sys.h"

static int fake_reads;

static ssize_t fake_read(int fd, void *b, size_t n)
{
	(void)fd;
	fake_reads++;
	memset(b, 'x', n);
	return (ssize_t)n;
}

static void set_entry(void **state)
{
	char buf[4];
	void *old;

	(void)state;
	assert_null(uvfs_sys_set("no_such_call", (void *)fake_read));
	old = uvfs_sys_set("read", (void *)fake_read);
	assert_non_null(old);
	assert_int_equal(sys_read(-1, buf, sizeof(buf)), 4);
	assert_int_equal(fake_reads, 1);
	assert_int_equal(buf[3], 'x');
	/* armed, the shim passes its unfailed calls to the entry set */
	uvfs_sys_fault_arm(SYS_C_IO, 2, 0, false);
	assert_int_equal(sys_read(-1, buf, sizeof(buf)), 4);
	assert_int_equal(sys_read(-1, buf, sizeof(buf)), -1);
	assert_int_equal(errno, EIO);
	assert_int_equal(fake_reads, 2);
	uvfs_sys_fault_disarm();
	assert_int_equal(sys_read(-1, buf, sizeof(buf)), 4);
	assert_int_equal(fake_reads, 3);
	uvfs_sys_reset();
	assert_int_equal(sys_read(-1, buf, sizeof(buf)), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(fake_reads, 3);
	assert_int_equal(uvfs_sys_class("malloc"), SYS_C_ALLOC);
	assert_int_equal(uvfs_sys_class("posix_spawn"), SYS_C_PROC);
	assert_int_equal(uvfs_sys_class("nope"), 0);
}

static void nth_alloc(void **state)
{
	struct uvfs_sys_fault_stats st;
	char *s;
	void *p[5];

	(void)state;
	uvfs_sys_fault_arm(SYS_C_ALLOC, 3, 0, false);
	for (int i = 0; i < 5; i++) {
		errno = 0;
		p[i] = i % 2 ? sys_malloc(16) : sys_calloc(1, 16);
		if (i == 2) {
			assert_null(p[i]);
			assert_int_equal(errno, ENOMEM);
		} else {
			assert_non_null(p[i]);
		}
	}
	/* other classes untouched */
	assert_int_equal(sys_close(-1), -1);
	assert_int_equal(errno, EBADF);
	uvfs_sys_fault_stats(&st);
	assert_int_equal(st.calls, 5);
	assert_int_equal(st.failed, 1);
	assert_string_equal(st.fail_name, "calloc");
	assert_true(st.fail_site != 0);
	for (int i = 0; i < 5; i++)
		free(p[i]);

	/* persistent, with a chosen errno; strdup and asprintf too */
	uvfs_sys_fault_arm(SYS_C_ALLOC, 2, EAGAIN, true);
	s = sys_strdup("a");
	assert_non_null(s);
	free(s);
	assert_null(sys_strdup("b"));
	assert_int_equal(errno, EAGAIN);
	s = (char *)"untouched";
	assert_int_equal(sys_asprintf(&s, "%d", 42), -1);
	assert_string_equal(s, "untouched");
	uvfs_sys_fault_stats(&st);
	assert_int_equal(st.calls, 3);
	assert_int_equal(st.failed, 2);
	uvfs_sys_fault_disarm();
	assert_int_equal(sys_asprintf(&s, "%d", 42), 2);
	assert_string_equal(s, "42");
	free(s);
}

/* The table's calloc (malloc and a clear for small blocks, libc's calloc
 * for large ones): zeroed memory of every size, ENOMEM on an overflowing
 * product, as calloc(3). */
static void calloc_clears(void **state)
{
	static const size_t sizes[] = { 1, 24, 232, 1024, 1025, 4096,
					1 << 20 };
	size_t big = (size_t)1 << (sizeof(size_t) * 4);

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned char *p = sys_malloc(sizes[i]);

		/* dirty a block of the size for the cache to hand back */
		assert_non_null(p);
		memset(p, 0xa5, sizes[i]);
		free(p);
		p = sys_calloc(1, sizes[i]);
		assert_non_null(p);
		for (size_t j = 0; j < sizes[i]; j++)
			assert_int_equal(p[j], 0);
		free(p);
	}
	errno = 0;
	assert_null(sys_calloc(big, big));
	assert_int_equal(errno, ENOMEM);
}

static void close_closes(void **state)
{
	int fds[2];

	(void)state;
	assert_int_equal(pipe(fds), 0);
	uvfs_sys_fault_arm(SYS_C_FS, 1, 0, false);
	assert_int_equal(sys_close(fds[0]), -1);
	assert_int_equal(errno, EIO);
	uvfs_sys_fault_disarm();
	/* the descriptor is gone all the same */
	assert_int_equal(fcntl(fds[0], F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(sys_close(fds[1]), 0);
}

static void error_numbers(void **state)
{
	pthread_t t;

	(void)state;
	uvfs_sys_fault_arm(SYS_C_PROC, 1, 0, false);
	assert_int_equal(sys_pthread_create(&t, NULL, NULL, NULL), EAGAIN);
	uvfs_sys_fault_disarm();
}

static void count_only_and_sites(void **state)
{
	struct uvfs_sys_fault_stats st;
	char buf[1];
	int fds[2];

	(void)state;
	assert_int_equal(pipe(fds), 0);
	uvfs_sys_sites_clear();
	uvfs_sys_fault_arm(SYS_C_IO, 0, 0, false);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(sys_write(fds[1], "a", 1), 1);  /* one site */
		assert_int_equal(sys_read(fds[0], buf, 1), 1);   /* another */
	}
	uvfs_sys_fault_stats(&st);
	assert_int_equal(st.calls, 6);
	assert_int_equal(st.failed, 0);
	assert_int_equal(uvfs_sys_sites_seen(SYS_C_IO), 2);
	assert_int_equal(uvfs_sys_sites_seen(SYS_C_ALLOC), 0);
	assert_int_equal(uvfs_sys_sites_failed(SYS_C_IO), 0);
	uvfs_sys_fault_arm(SYS_C_IO, 2, 0, false);
	assert_int_equal(sys_write(fds[1], "a", 1), 1);
	assert_int_equal(sys_read(fds[0], buf, 1), -1);  /* the read site */
	uvfs_sys_fault_disarm();
	assert_int_equal(uvfs_sys_sites_failed(SYS_C_IO), 1);
	/* disarmed, nothing is counted */
	assert_int_equal(sys_write(fds[1], "a", 1), 1);
	uvfs_sys_fault_stats(&st);
	assert_int_equal(st.calls, 2);
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(set_entry),
		cmocka_unit_test(nth_alloc),
		cmocka_unit_test(calloc_clears),
		cmocka_unit_test(close_closes),
		cmocka_unit_test(error_numbers),
		cmocka_unit_test(count_only_and_sites),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
