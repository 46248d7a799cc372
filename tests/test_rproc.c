/*
 * test_rproc.c - reaping a server that does not exit at SIGKILL
 * (lib/remote/proc.c, docs/session.md "Supervision").
 *
 * A process SIGKILLed while in uninterruptible sleep (a hung mount, a
 * FUSE request, a dead disk) exits only when the kernel lets it.  Such a
 * state cannot be made at will in a test (today's kernels make most of
 * those waits killable), so its effect is made through the table of
 * system calls (lib/util/sys.h): while `hidden`, waitpid does not report
 * the server's exit (WNOHANG: "still running"; a blocking waitpid waits
 * until it is no longer hidden, as it would on the real thing).  The
 * server itself is real (sleep 30) and really killed.
 *
 *  - rproc_reap returns within grace + RPROC_KILL_WAIT_MS (before, its
 *    blocking waitpid waited as long as the exit stayed hidden);
 *  - once the exit shows, the server is reaped in the background (no
 *    zombie left), and it got one signal only;
 *  - if the background thread cannot be made, the next rproc_reap reaps
 *    it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "proc.h"
#include "sys.h"
#include "test_clock.h"

typedef pid_t waitpid_fn(pid_t, int *, int);
typedef int kill_fn(pid_t, int);
/* libc's entries, read by the background reaper's thread too */
static waitpid_fn *_Atomic real_waitpid;
static kill_fn *_Atomic real_kill;
static atomic_int target, hidden, kills;

/* waitpid, with the exit of the target hidden while `hidden`. */
static pid_t hide_waitpid(pid_t pid, int *st, int opt)
{
	if (pid == atomic_load(&target) && atomic_load(&hidden)) {
		if (opt & WNOHANG)
			return 0;
		while (atomic_load(&hidden))
			sleep_ms(5);
	}
	return real_waitpid(pid, st, opt);
}

static int spy_kill(pid_t pid, int sig)
{
	if (pid == atomic_load(&target))
		atomic_fetch_add(&kills, 1);
	return real_kill(pid, sig);
}

/* Shows the exit after ms (the kernel lets the process go). */
static void *release_main(void *arg)
{
	sleep_ms((long)(intptr_t)arg);
	atomic_store(&hidden, 0);
	return NULL;
}

/* 'Z' while a zombie, 0 once reaped (no such process), else its
 * state. */
static char proc_state(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

/* Waits up to ms for pid to be reaped: true if it was. */
static bool reaped_within(pid_t pid, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		if (proc_state(pid) == 0)
			return true;
		sleep_ms(10);
	}
	return proc_state(pid) == 0;
}

/* A server; its exit hidden from now on. */
static pid_t stuck_server(void)
{
	char *argv[] = { "/bin/sleep", "30", NULL };
	pid_t pid;
	int fd, pidfd;

	assert_int_equal(rproc_spawn(argv, &pid, &fd, &pidfd), 0);
	close(fd);
	if (pidfd >= 0)
		close(pidfd);
	atomic_store(&target, pid);
	atomic_store(&kills, 0);
	atomic_store(&hidden, 1);
	real_waitpid = uvfs_sys_set("waitpid", (void *)hide_waitpid);
	real_kill = uvfs_sys_set("kill", (void *)spy_kill);
	assert_non_null(real_waitpid);
	assert_non_null(real_kill);
	return pid;
}

static void tables_back(void)
{
	atomic_store(&hidden, 0);
	/* the pointers stay: the background reaper may be in the spies */
	if (real_waitpid)
		uvfs_sys_set("waitpid", (void *)real_waitpid);
	if (real_kill)
		uvfs_sys_set("kill", (void *)real_kill);
}

/* After each test, failed or not: libc's entries, nothing hidden, and no
 * server of ours left (its exit shown, the background reaps it). */
static int teardown(void **state)
{
	pid_t pid = atomic_load(&target);

	(void)state;
	atomic_store(&hidden, 0);
	/* takes the background reaper's lock: what its thread did before
	 * it ended is seen here, and the table is changed while it is quiet
	 * (sys.h) */
	rproc_reap(0, 0);
	tables_back();
	uvfs_sys_reset();
	/* still ours, unreaped (never signal a number that may be
	 * another's) */
	if (pid > 0 && waitpid(pid, NULL, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	atomic_store(&target, 0);
	return 0;
}

/* The server's exit stays hidden 1.5 s after its SIGKILL: rproc_reap
 * (grace 100 ms) returns within about 300 ms, the server dead but not
 * reaped; once its exit shows, it is reaped without us (and was
 * signalled once).  Before, rproc_reap's waitpid waited the 1.5 s. */
static void reap_returns_while_exit_hidden(void **state)
{
	pthread_t th;

	(void)state;
	pid_t pid = stuck_server();
	assert_int_equal(pthread_create(&th, NULL, release_main,
					(void *)(intptr_t)1500), 0);
	double t0 = now_ms();
	rproc_reap(pid, 100);
	double took = now_ms() - t0;
	char st = proc_state(pid);
	printf("reaping a server whose exit stays hidden 1.5 s: returned "
	       "after %.0f ms (grace 100), its state then '%c'\n", took,
	       st ? st : '-');
	assert_true(took >= 100);
	assert_true(took < 100 + RPROC_KILL_WAIT_MS + 300);
	assert_int_equal(st, 'Z');      /* killed; its exit unseen */
	pthread_join(th, NULL);
	bool gone = reaped_within(pid, 2000);
	printf("reaped in the background after its exit showed: %s, %d "
	       "signal(s)\n", gone ? "yes" : "no", atomic_load(&kills));
	assert_true(gone);
	assert_int_equal(atomic_load(&kills), 1);
}

static int fail_pthread_create(pthread_t *t, const pthread_attr_t *a,
			       void *(*fn)(void *), void *arg)
{
	(void)t, (void)a, (void)fn, (void)arg;
	return EAGAIN;
}

/* No thread can be made for the background: the stuck server stays
 * listed, and the next rproc_reap (of anything, here of nothing) reaps
 * it once its exit shows. */
static void stuck_reaped_by_next_reap_without_thread(void **state)
{
	pthread_t th;

	(void)state;
	pid_t pid = stuck_server();
	/* a rproc_reap that waits for the exit waits 2 s, not for ever */
	assert_int_equal(pthread_create(&th, NULL, release_main,
					(void *)(intptr_t)2000), 0);
	void *real_create = uvfs_sys_set("pthread_create",
					 (void *)fail_pthread_create);
	assert_non_null(real_create);
	double t0 = now_ms();
	rproc_reap(pid, 0);
	double took = now_ms() - t0;
	atomic_store(&hidden, 0);
	sleep_ms(3 * RPROC_STUCK_POLL_MS);
	char st = proc_state(pid);
	rproc_reap(0, 0);
	char after = proc_state(pid);
	uvfs_sys_set("pthread_create", real_create);
	pthread_join(th, NULL);
	printf("no background thread: rproc_reap returned after %.0f ms; "
	       "the server '%c' until the next rproc_reap, then %s\n", took,
	       st ? st : '-', after ? "left" : "reaped");
	assert_true(took < RPROC_KILL_WAIT_MS + 300);
	assert_int_equal(st, 'Z');      /* nobody looked */
	assert_int_equal(after, 0);
	assert_int_equal(atomic_load(&kills), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(reap_returns_while_exit_hidden,
					  teardown),
		cmocka_unit_test_teardown(
			stuck_reaped_by_next_reap_without_thread, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
