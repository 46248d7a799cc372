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
 * p9srv_serve_fd()).
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
#include <unistd.h>

#include "p9srv.h"

struct conn {
	struct p9srv *srv;      /* immutable */
	int fd;                 /* immutable; the thread closes it */
};

static void *conn_main(void *arg)
{
	struct conn *c = arg;

	p9srv_serve_fd(c->srv, c->fd, c->fd);
	close(c->fd);
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
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	stale = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 &&
		errno == ECONNREFUSED;
	close(fd);
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
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* owner-only: who may connect is who may act as any user */
	old = umask(077);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		if (err == -EADDRINUSE && stale_socket(&sa)) {
			err = 0;
			if (unlink(path) < 0 ||
			    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
				err = -errno;
		}
	}
	umask(old);
	if (!err && listen(fd, 64) < 0)
		err = -errno;
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

int p9srv_serve_listener(struct p9srv *srv, int lfd)
{
	for (;;) {
		pthread_t t;
		struct conn *c;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EMFILE || errno == ENFILE)
				continue;
			return -errno;
		}
		c = malloc(sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->srv = srv;
		c->fd = fd;
		if (pthread_create(&t, NULL, conn_main, c)) {
			close(fd);
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
	close(lfd);
	return err;
}
