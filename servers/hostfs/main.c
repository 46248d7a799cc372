/*
 * main.c - uvfs-hostfs: exports a host directory over 9P2000.L.
 *
 *   uvfs-hostfs [--listen unix:PATH|tcp:ADDR:PORT] [--workers N]
 *               [--msize N] [--max-fids N] DIR
 *
 * Without --listen it serves one connection on the inherited descriptors
 * 0 (requests) and 1 (replies): the way the VFS spawns it over a
 * socketpair.  With --listen unix:PATH it accepts connections on a Unix
 * socket, with --listen tcp:ADDR:PORT (a numeric IPv4 or IPv6 address;
 * IPv6 in brackets) on a TCP socket, one thread each, until killed.
 * TCP has no peer credentials: whoever can connect may act as any user,
 * so listen only on an address that only trusted clients reach.
 * --max-fids bounds the fids of one connection (default 1048576, the
 * library's; docs/server.md "Limits").  A socket file left at PATH by a
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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

#include "hostfs.h"
#include "sys.h"

static void usage(void)
{
	fprintf(stderr, "usage: uvfs-hostfs [--listen unix:PATH|tcp:ADDR:PORT] "
		"[--workers N] [--msize N] [--max-fids N] DIR\n");
	exit(2);
}

static struct p9srv *srv;

/* Serves the connections accepted on lfd, one thread each, until
 * accept fails for good (p9srv_serve_listener). */
static int serve(int lfd)
{
	int err = p9srv_serve_listener(srv, lfd);

	fprintf(stderr, "uvfs-hostfs: accept: %s\n", strerror(-err));
	return 1;
}

/* unix:PATH (p9srv_listen_unix: owner-only, a stale socket replaced) */
static int listen_unix(const char *path)
{
	int fd = p9srv_listen_unix(path);

	if (fd < 0) {
		fprintf(stderr, "uvfs-hostfs: cannot listen on %s: %s\n", path,
			fd == -ENAMETOOLONG ? "socket path too long"
					    : strerror(-fd));
		exit(2);
	}
	return serve(fd);
}

/* ADDR:PORT, numeric ([v6]:PORT for IPv6); exits 2 on bad input. */
static int listen_tcp(const char *hostport)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV |
					      AI_PASSIVE };
	struct addrinfo *ai;
	size_t hl;
	int fd, one = 1, e;

	if (!colon || colon == hostport || !colon[1])
		goto bad_addr;
	hl = (size_t)(colon - hostport);
	if (hostport[0] == '[' && hl >= 2 && hostport[hl - 1] == ']') {
		hostport++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		goto bad_addr;
	memcpy(host, hostport, hl);
	host[hl] = '\0';
	e = getaddrinfo(host, colon + 1, &hints, &ai);
	if (e) {
		fprintf(stderr, "uvfs-hostfs: bad tcp address %s: %s\n",
			hostport, gai_strerror(e));
		exit(2);
	}
	fd = sys_socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    sys_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    sys_bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || sys_listen(fd, 64) < 0) {
		fprintf(stderr, "uvfs-hostfs: cannot listen on tcp:%s: %s\n",
			hostport, strerror(errno));
		exit(2);
	}
	freeaddrinfo(ai);
	return serve(fd);
bad_addr:
	fprintf(stderr, "uvfs-hostfs: --listen tcp: takes ADDR:PORT, "
		"e.g. tcp:127.0.0.1:5640 (got tcp:%s)\n", hostport);
	exit(2);
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
		else if (strcmp(argv[i], "--max-fids") == 0 && i + 1 < argc) {
			char *end;
			unsigned long n = strtoul(argv[++i], &end, 10);
			if (*end || n == 0 || n > UINT32_MAX) {
				fprintf(stderr, "uvfs-hostfs: --max-fids takes "
					"a number from 1 to %u\n", UINT32_MAX);
				exit(2);
			}
			o.max_fids = (unsigned)n;
		}
		else if (argv[i][0] == '-' || dir)
			usage();
		else
			dir = argv[i];
	}
	if (!dir)
		usage();
	if (listen && strncmp(listen, "unix:", 5) != 0 &&
	    strncmp(listen, "tcp:", 4) != 0) {
		fprintf(stderr, "uvfs-hostfs: --listen takes unix:PATH or "
			"tcp:ADDR:PORT\n");
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
	if (listen && strncmp(listen, "tcp:", 4) == 0)
		return listen_tcp(listen + 4);
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
