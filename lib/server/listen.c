/*
 * listen.c - serving a file server on a Unix socket: p9srv_listen_unix(),
 * p9srv_serve_listener() and p9srv_serve_unix(), their sum.
 *
 * Owns the listening socket's set-up (an owner-only socket; a socket file
 * left by a server that died is replaced, one a live server listens on is
 * not) and one detached thread per accepted connection, which runs
 * p9srv_serve_fd() and closes the connection when the peer hangs up.  A
 * connection's thread and its struct conn live exactly as long as the
 * connection; the listener lives until the process ends (there is no
 * stop: a server that needs one serves its own accept loop with
 * p9srv_serve_fd()).  p9srv_serve_listener() takes any stream socket: a
 * TCP connection gets TCP_NODELAY (replies are written whole; small ones
 * must not be held back).  System calls go through the uvfs_sys table
 * (sys.h), as in the serve loop, so tests can inject faults.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "p9srv.h"
#include "sys.h"

struct conn {
	struct p9srv *srv;      /* immutable */
	int fd;                 /* immutable; the thread closes it */
};

static void *conn_main(void *arg)
{
	struct conn *c = arg;

	p9srv_serve_fd(c->srv, c->fd, c->fd);
	sys_close(c->fd);
	free(c);
	return NULL;
}

/* sa names a socket nobody listens on (its server died)? */
static int stale_socket(const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, stale;

	if (stat(sa->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return 0;
	fd = sys_socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	stale = sys_connect(fd, (const struct sockaddr *)sa,
			    sizeof(*sa)) < 0 && errno == ECONNREFUSED;
	sys_close(fd);
	return stale;
}

int p9srv_listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, err = 0;

	if (!path || !*path)
		return -EINVAL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = sys_socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* owner-only: who may connect is who may act as any user */
	old = umask(077);
	if (sys_bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		if (err == -EADDRINUSE && stale_socket(&sa)) {
			err = 0;
			if (unlink(path) < 0 ||
			    sys_bind(fd, (struct sockaddr *)&sa,
				     sizeof(sa)) < 0)
				err = -errno;
		}
	}
	umask(old);
	if (!err && sys_listen(fd, 64) < 0)
		err = -errno;
	if (err) {
		sys_close(fd);
		return err;
	}
	return fd;
}

int p9srv_serve_listener(struct p9srv *srv, int lfd)
{
	for (;;) {
		pthread_t t;
		struct conn *c;
		int one = 1, fd = sys_accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EMFILE || errno == ENFILE)
				continue;
			return -errno;
		}
		/* fails harmlessly on a Unix socket */
		sys_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = sys_malloc(sizeof(*c));
		if (!c) {
			sys_close(fd);
			continue;
		}
		c->srv = srv;
		c->fd = fd;
		if (sys_pthread_create(&t, NULL, conn_main, c)) {
			sys_close(fd);
			free(c);
			continue;
		}
		pthread_detach(t);
	}
}

int p9srv_serve_unix(struct p9srv *srv, const char *path)
{
	int lfd = p9srv_listen_unix(path);

	if (lfd < 0)
		return lfd;
	int err = p9srv_serve_listener(srv, lfd);
	sys_close(lfd);
	return err;
}
