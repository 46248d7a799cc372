/*
 * main.c - uvfs-hostfs: exports a host directory over 9P2000.L.
 *
 *   uvfs-hostfs [--listen unix:PATH] [--workers N] [--msize N] DIR
 *
 * Without --listen it serves one connection on the inherited descriptors
 * 0 (requests) and 1 (replies): the way the VFS spawns it over a
 * socketpair.  With --listen unix:PATH it accepts connections on a Unix
 * socket, one thread each, until killed.  A socket file left at PATH by a
 * server that died is replaced (one that a live server listens on is
 * not): restarted on the same path, the server is found again by clients
 * that reconnect (docs/recovery.md).
 *
 * Exit codes: 0 the peer hung up; 1 an error while serving; 2 bad usage,
 * or the export directory is missing or unreadable.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "hostfs.h"

static void usage(void)
{
	fprintf(stderr, "usage: uvfs-hostfs [--listen unix:PATH] "
		"[--workers N] [--msize N] DIR\n");
	exit(2);
}

static struct p9srv *srv;

/* --listen: p9srv_serve_unix() (lib/server/listen.c): owner-only, a
 * stale socket replaced, one thread per connection, until killed. */
static int listen_unix(const char *path)
{
	int lfd = p9srv_listen_unix(path);

	if (lfd < 0) {
		fprintf(stderr, "uvfs-hostfs: cannot listen on %s: %s\n",
			path, strerror(-lfd));
		exit(2);
	}
	int err = p9srv_serve_listener(srv, lfd);
	fprintf(stderr, "uvfs-hostfs: accept: %s\n", strerror(-err));
	return 1;
}

int main(int argc, char **argv)
{
	/* a flush interrupts a blocking call (a FIFO, a lock) */
	struct p9srv_opts o = { .interrupt_signal = SIGUSR2 };
	const char *listen = NULL, *dir = NULL;
	struct hostfs *hs;
	int i, err;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			listen = argv[++i];
		else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc)
			o.nworkers = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--msize") == 0 && i + 1 < argc)
			o.msize = (uint32_t)strtoul(argv[++i], NULL, 0);
		else if (argv[i][0] == '-' || dir)
			usage();
		else
			dir = argv[i];
	}
	if (!dir)
		usage();
	if (listen && strncmp(listen, "unix:", 5) != 0) {
		fprintf(stderr, "uvfs-hostfs: --listen takes unix:PATH\n");
		exit(2);
	}
	err = hostfs_open(dir, &hs);
	if (err < 0) {
		const char *why = err == -ENOENT ? "no such directory" :
				  err == -ENOTDIR ? "not a directory" :
				  err == -EACCES ? "permission denied (the "
						   "server must be able to "
						   "read and search it)"
						 : strerror(-err);
		fprintf(stderr, "uvfs-hostfs: cannot export %s: %s\n", dir,
			why);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	/* the client sends modes with its caller's umask applied */
	umask(0);
	/* Identity is fsuid/fsgid per request; the process's own
	 * supplementary groups must not apply to anyone (see docs). */
	if (geteuid() == 0 && setgroups(0, NULL) < 0) {
		fprintf(stderr, "uvfs-hostfs: setgroups: %s\n", strerror(errno));
		return 1;
	}
	err = p9srv_new(&hostfs_ops, hs, &o, &srv);
	if (err < 0) {
		fprintf(stderr, "uvfs-hostfs: %s\n", strerror(-err));
		return 1;
	}
	if (listen)
		return listen_unix(listen + 5);
	err = p9srv_serve_fd(srv, 0, 1);
	p9srv_free(srv);
	hostfs_close(hs);
	if (err < 0 && err != -EPIPE && err != -ECONNRESET) {
		fprintf(stderr, "uvfs-hostfs: %s\n", strerror(-err));
		return 1;
	}
	return 0;
}
