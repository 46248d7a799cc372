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
#include "sys.h"

static void usage(void)
{
	fprintf(stderr, "usage: uvfs-hostfs [--listen unix:PATH] "
		"[--workers N] [--msize N] DIR\n");
	exit(2);
}

static struct p9srv *srv;

static void *conn_main(void *arg)
{
	int fd = (int)(intptr_t)arg;

	p9srv_serve_fd(srv, fd, fd);
	sys_close(fd);
	return NULL;
}

/* path names a socket nobody listens on (its server died)? */
static int stale_socket(const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, stale;

	if (stat(sa->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return 0;
	fd = sys_socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	stale = sys_connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 &&
		errno == ECONNREFUSED;
	sys_close(fd);
	return stale;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "uvfs-hostfs: socket path too long: %s\n", path);
		exit(2);
	}
	strcpy(sa.sun_path, path);
	/* owner-only: who may connect is who may act as any user */
	mode_t old = umask(077);
	fd = sys_socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int bad = fd < 0;
	if (!bad && sys_bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		bad = errno != EADDRINUSE || !stale_socket(&sa) ||
		      unlink(path) < 0 ||
		      sys_bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0;
	bad = bad || sys_listen(fd, 64) < 0;
	umask(old);
	if (bad) {
		fprintf(stderr, "uvfs-hostfs: cannot listen on %s: %s\n",
			path, strerror(errno));
		exit(2);
	}
	for (;;) {
		pthread_t t;
		int c = sys_accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EMFILE || errno == ENFILE)
				continue;
			fprintf(stderr, "uvfs-hostfs: accept: %s\n",
				strerror(errno));
			return 1;
		}
		if (sys_pthread_create(&t, NULL, conn_main,
				       (void *)(intptr_t)c)) {
			sys_close(c);
			continue;
		}
		pthread_detach(t);
	}
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
