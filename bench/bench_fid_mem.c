/*
 * bench_fid_mem - memory per fid in lib/server with hostfs's operations:
 * what a client that keeps a fid per file the kernel remembers costs the
 * server (docs/server.md, "Limits").
 *
 * In one process: a struct p9srv with hostfs_ops serves one end of a
 * socketpair from a thread; this thread attaches and walks N (default
 * 200000, -n) fids, each to its own file of a fresh export (named
 * f0000000...: a 9-byte path), one Twalk at a time.  Heap in use is
 * mallinfo2() uordblks + hblkhd with one malloc arena (M_ARENA_MAX 1, so
 * the server threads' allocations are counted), taken after the attach and
 * after the walks.
 *
 *   fid_bytes       heap growth / N: the library's struct fid, hostfs's
 *                   struct hfid and its path, malloc's overhead, the hash
 *                   table's share
 *   fid_walk_us     microseconds per Twalk (round trip included)
 * A walk refused (ENFILE past max_fids) stops the run with a message.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_common.h"
#include "hostfs.h"
#include "p9.h"
#include "bench_9p.h"
#include "p9srv.h"

static struct p9srv *srv;
static int sfd;

static void *serve_main(void *arg)
{
	(void)arg;
	p9srv_serve_fd(srv, sfd, sfd);
	return NULL;
}

static size_t heap_now(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

static void rm_tree(const char *dir, int n)
{
	char p[512];

	for (int i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s/f%07d", dir, i);
		unlink(p);
	}
	rmdir(dir);
}

int main(int argc, char **argv)
{
	int n = 200000, opt, sv[2];
	char dir[] = "/tmp/uvfs-bench-fid.XXXXXX", p[512];
	uint8_t rbuf[8192];
	struct p9_msg m, r;
	struct hostfs *hs;
	pthread_t t;

	while ((opt = getopt(argc, argv, "n:r:")) != -1) {
		if (opt == 'n')
			n = atoi(optarg);
		else if (opt != 'r') {  /* -r: bench/run's reps, unused */
			fprintf(stderr, "usage: bench_fid_mem [-n FIDS]\n");
			return 2;
		}
	}
	mallopt(M_ARENA_MAX, 1);
	if (!mkdtemp(dir))
		return 1;
	for (int i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s/f%07d", dir, i);
		int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0) {
			perror(p);
			rm_tree(dir, i);
			return 1;
		}
		close(fd);
	}
	if (hostfs_open(dir, &hs) || p9srv_new(&hostfs_ops, hs, NULL, &srv) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 1;
	sfd = sv[1];
	pthread_create(&t, NULL, serve_main, NULL);

	if (p9_start(sv[0], rbuf, sizeof(rbuf)))
		return 1;

	size_t h0 = heap_now();
	double t0 = bench_now();
	int done = 0;
	for (int i = 0; i < n; i++) {
		char name[16];
		snprintf(name, sizeof(name), "f%07d", i);
		memset(&m, 0, sizeof(m));
		m.type = P9_TWALK;
		m.tag = 1;
		m.twalk.fid = 0;
		m.twalk.newfid = (uint32_t)i + 1;
		m.twalk.nwname = 1;
		m.twalk.wname[0] = p9_str(name);
		if (p9_call(sv[0], &m, rbuf, sizeof(rbuf), &r))
			return 1;
		if (r.type != P9_RWALK) {
			printf("# bench_fid_mem: walk %d refused: %s\n", i + 1,
			       r.type == P9_RLERROR ?
			       strerror((int)r.rlerror.ecode) : "?");
			break;
		}
		done++;
	}
	double dt = bench_now() - t0;
	size_t h1 = heap_now();
	printf("# bench_fid_mem: %d fids walked to distinct files (9-byte "
	       "paths) on one connection; heap %zu -> %zu bytes\n", done, h0,
	       h1);
	printf("fid_bytes %.0f bytes - - -\n",
	       done ? (double)(h1 - h0) / done : NAN);
	printf("fid_walk_us %.2f us - - -\n", done ? dt * 1e6 / done : NAN);
	shutdown(sv[0], SHUT_RDWR);
	close(sv[0]);
	pthread_join(t, NULL);
	close(sv[1]);
	p9srv_free(srv);
	hostfs_close(hs);
	rm_tree(dir, n);
	return done == n ? 0 : 1;
}
