/*
 * test_rconnect.c - a tcp: connect to a name of several addresses waits
 * its timeout in all (lib/remote/transport.c, docs/session.md,
 * "Connecting").
 *
 * The name is one the test makes up: a child process gets a mount
 * namespace of its own and a hosts file bind-mounted on /etc/hosts in
 * it, in which the name has two loopback addresses (127.0.0.1 and
 * 127.0.0.2).  An address black-holes when its listener's accept queue
 * is full (listen(0), one connection queued and never accepted): Linux
 * drops the SYNs it gets then, and the connect waits.  No traffic leaves
 * the loopback, and the namespace goes with the child.  Without the
 * rights to make the namespace the program skips (77).
 *
 *  - both addresses black-hole: -ETIMEDOUT after the timeout, not after
 *    twice it (before, each address waited the whole timeout);
 *  - the first black-holes, the second accepts: connected within about
 *    half the timeout (each address gets its share of what is left; a
 *    connect that gave the first one all of it would never try the
 *    second).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "skip.h"

#include "test_clock.h"
#include "transport.h"

#define NAME "uvfs-rconnect-two"

static char dir[] = "/tmp/uvfs-rconnect-XXXXXX";
static char hosts[64];

/* What the child found. */
struct outcome {
	int r;                  /* rt_connect's */
	double took;            /* its time, ms */
	int naddr;              /* addresses the name resolved to */
};

/* A listener on addr:port (port 0: any) whose accept queue is full when
 * full is set: one connection queued, never accepted.  Its port, or -1;
 * *ls and *c1 the descriptors to close. */
static int listener(struct in_addr addr, int port, bool full, int *ls,
		    int *c1)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = addr,
				  .sin_port = htons((uint16_t)port) };
	socklen_t sl = sizeof(sa);

	*c1 = -1;
	*ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*ls < 0 || bind(*ls, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(*ls, 0) ||
	    getsockname(*ls, (struct sockaddr *)&sa, &sl))
		return -1;
	if (full) {
		*c1 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (*c1 < 0 ||
		    connect(*c1, (struct sockaddr *)&sa, sizeof(sa)))
			return -1;
	}
	return ntohs(sa.sin_port);
}

/* In the child: its own mount namespace with our hosts file; the name's
 * addresses (in getaddrinfo's order) in a[], their count returned; -77
 * if no namespace can be made. */
static int make_name(struct in_addr a[2])
{
	struct addrinfo hints = { .ai_family = AF_INET,
				  .ai_socktype = SOCK_STREAM }, *res, *ai;
	int n = 0;

	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount(hosts, "/etc/hosts", NULL, MS_BIND, NULL)) {
		printf("no mount namespace with a hosts file of our own: %s\n",
		       strerror(errno));
		return -77;
	}
	if (getaddrinfo(NAME, "1", &hints, &res))
		return 0;
	for (ai = res; ai; ai = ai->ai_next, n++)
		if (n < 2)
			a[n] = ((struct sockaddr_in *)ai->ai_addr)->sin_addr;
	freeaddrinfo(res);
	return n;
}

/* The child: the name, the listeners (the second accepting unless
 * both_black), the connect; its outcome on fd.  Exits 77 without a
 * namespace, 2 when the set-up fails. */
static void child(int fd, bool both_black, int timeout_ms)
{
	struct outcome o = { 0 };
	struct in_addr a[2];
	char src[128];
	int ls[2], c1[2], port = 0;

	o.naddr = make_name(a);
	if (o.naddr == -77) {
		fflush(stdout);
		_exit(77);
	}
	if (o.naddr != 2) {
		printf("%s resolved to %d addresses, not 2\n", NAME, o.naddr);
		fflush(stdout);
		_exit(2);
	}
	/* the same port on both: the first's, or another try */
	for (int i = 0; i < 50 && port <= 0; i++) {
		port = listener(a[0], 0, true, &ls[0], &c1[0]);
		if (port > 0 && listener(a[1], port, both_black, &ls[1],
					 &c1[1]) < 0) {
			close(ls[0]);
			close(c1[0]);
			close(ls[1]);
			port = 0;
		}
	}
	if (port <= 0)
		_exit(2);
	snprintf(src, sizeof(src), "tcp:%s:%d", NAME, port);
	struct rt_link l;
	double t0 = now_ms();
	o.r = rt_connect(src, timeout_ms, -1, NULL, &l);
	o.took = now_ms() - t0;
	if (o.r == 0)
		rt_link_close(&l);
	_exit(write(fd, &o, sizeof(o)) == sizeof(o) ? 0 : 2);
}

/* Runs the child; its outcome, or skips (77). */
static struct outcome run(bool both_black, int timeout_ms)
{
	struct outcome o = { .r = 1 };
	int p[2], st;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	fflush(stdout);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		child(p[1], both_black, timeout_ms);
	}
	close(p[1]);
	ssize_t k = read(p[0], &o, sizeof(o));
	close(p[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
		skip();
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(k, sizeof(o));
	return o;
}

/* Both addresses black-hole: the connect gives up after its timeout
 * (600 ms), not after 1200 ms. */
static void two_black_holes_wait_one_timeout(void **state)
{
	(void)state;
	struct outcome o = run(true, 600);

	printf("a name of two black-holed addresses, timeout 600 ms: %d "
	       "after %.0f ms\n", o.r, o.took);
	assert_int_equal(o.r, -ETIMEDOUT);
	assert_true(o.took >= 550);
	assert_true(o.took < 900);
}

/* The first address black-holes, the second accepts: it is tried after
 * the first's share (half of 800 ms) and connects. */
static void black_hole_first_does_not_starve_second(void **state)
{
	(void)state;
	struct outcome o = run(false, 800);

	printf("a name whose first address is black-holed, timeout 800 ms: "
	       "%d after %.0f ms\n", o.r, o.took);
	assert_int_equal(o.r, 0);
	assert_true(o.took >= 350);
	assert_true(o.took < 650);
}

static int setup(void **state)
{
	FILE *f;

	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(hosts, sizeof(hosts), "%s/hosts", dir);
	f = fopen(hosts, "w");
	if (!f)
		return -1;
	fprintf(f, "127.0.0.1 localhost\n127.0.0.1 %s\n127.0.0.2 %s\n",
		NAME, NAME);
	return fclose(f) ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(hosts);
	rmdir(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(two_black_holes_wait_one_timeout),
		cmocka_unit_test(black_hole_first_does_not_starve_second),
	};

	return TESTS_EXIT(cmocka_run_group_tests(tests, setup, teardown));
}
