/*
 * transport.c - byte streams to a remote server (transport.h).
 *
 * Owns nothing beyond the descriptors of the links it makes; a link's
 * lifecycle is: rt_connect/rt_open -> [rt_write_some, rt_read_full, polls
 * by the session] -> (rt_link_abort) -> rt_link_close.  Knows no
 * protocol and no session.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "deadline.h"
#include "transport.h"
#include "sys.h"

int rt_set_nonblock(int fd)
{
	int fl = sys_fcntl(fd, F_GETFL, 0);

	if (fl < 0 || sys_fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

int rt_parse_int(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

bool rt_source_is_address(const char *source)
{
	return strncmp(source, "unix:", 5) == 0 ||
	       strncmp(source, "tcp:", 4) == 0;
}

/*
 * The connects wait at most timeout_ms, and not at all once evfd (the
 * session's kill) is readable: -EIO then.  The socket is non-blocking.
 */
static int connect_unix(const char *path, int timeout_ms, int evfd, int *fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timespec dl;
	int s;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	s = sys_socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		return -errno;
	deadline_in(&dl, timeout_ms);
	/* a full backlog (a server that does not accept) answers EAGAIN at
	 * once, where a blocking connect would wait for ever: try again */
	while (sys_connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno, ms = ms_left(&dl), pr = 0;
		struct pollfd p = { .fd = evfd, .events = POLLIN };

		/* a signal handled meanwhile (EINTR) is no end either; a
		 * poll that failed says why: it did not time out */
		if (e == EAGAIN && ms > 0) {
			pr = sys_poll(&p, 1, ms < 10 ? ms : 10);
			if (pr == 0 || (pr < 0 && errno == EINTR))
				continue;
			if (pr < 0)
				e = errno;
		}
		sys_close(s);
		return e != EAGAIN ? -e : p.revents ? -EIO : -ETIMEDOUT;
	}
	*fd = s;
	return 0;
}

/* Liveness: the kernel gives up on data unacknowledged for
 * user_timeout_ms, and probes an idle connection (docs/session.md). */
void rt_tcp_tune(int s, const struct rt_tcp_opts *o)
{
	int one = 1;

	sys_setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!o)
		return;
	if (o->user_timeout_ms > 0) {
		unsigned ut = (unsigned)o->user_timeout_ms;
		sys_setsockopt(s, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof(ut));
	}
	if (o->keepalive_ms > 0) {
		int idle = o->keepalive_ms / 1000 > 0 ?
			   o->keepalive_ms / 1000 : 1;
		int cnt = 2;
		sys_setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		sys_setsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
		sys_setsockopt(s, IPPROTO_TCP, TCP_KEEPINTVL, &idle,
			   sizeof(idle));
		sys_setsockopt(s, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	}
}

/*
 * One deadline for the whole connect, computed once: a name that resolves
 * to several addresses waits timeout_ms in all, not timeout_ms for each.
 * The time is shared fairly: each address gets what is left divided by
 * the addresses left to try (itself included), so a black-holed first
 * address cannot starve the next ones, and what an address that fails at
 * once (refused, no route) leaves goes to the others; the last gets all
 * that is left.  The deadline starts after the resolution, which is not
 * bounded (docs/session.md, "Connecting").
 */
static int connect_tcp(const char *hostport, int timeout_ms, int evfd,
		       const struct rt_tcp_opts *o, int *fd)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	struct timespec dl;
	int r = -ECONNREFUSED, n = 0;
	size_t hl;

	if (!colon || colon == hostport || !colon[1])
		return -EINVAL;
	hl = (size_t)(colon - hostport);
	if (hl >= sizeof(host))
		return -ENAMETOOLONG;
	memcpy(host, hostport, hl);
	host[hl] = '\0';
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		return -EHOSTUNREACH;
	deadline_in(&dl, timeout_ms);
	for (ai = res; ai; ai = ai->ai_next)
		n++;
	for (ai = res; ai; ai = ai->ai_next, n--) {
		int ms = ms_left(&dl);
		if (ms == 0) {
			r = -ETIMEDOUT;
			break;
		}
		int s = sys_socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
			       SOCK_NONBLOCK, ai->ai_protocol);
		if (s < 0) {
			r = -errno;
			continue;
		}
		if (sys_connect(s, ai->ai_addr, ai->ai_addrlen) < 0 &&
		    errno != EINPROGRESS) {
			r = -errno;
			sys_close(s);
			continue;
		}
		struct pollfd p[2] = {
			{ .fd = s, .events = POLLOUT },
			{ .fd = evfd, .events = POLLIN },
		};
		int err = 0, pr;
		socklen_t el = sizeof(err);
		struct timespec adl;
		/* this address's share: at least 1 ms */
		deadline_in(&adl, ms / n > 0 ? ms / n : 1);
		adl = deadline_min(adl, dl);
		do
			pr = sys_poll(p, 2, ms_left(&adl));
		while (pr < 0 && errno == EINTR);
		if (pr < 1 || p[1].revents) {
			/* a poll that failed says why: it did not time out */
			r = p[1].revents ? -EIO : pr < 0 ? -errno : -ETIMEDOUT;
			sys_close(s);
			if (p[1].revents)
				break;
			continue;
		}
		sys_getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err) {
			r = -err;
			sys_close(s);
			continue;
		}
		rt_tcp_tune(s, o);
		*fd = s;
		r = 0;
		break;
	}
	freeaddrinfo(res);
	return r;
}

int rt_connect(const char *source, int timeout_ms, int evfd,
	       const struct rt_tcp_opts *tcp, struct rt_link *l)
{
	int fd = -1, r;

	*l = RT_LINK_NONE;
	if (strncmp(source, "unix:", 5) == 0)
		r = connect_unix(source + 5, timeout_ms, evfd, &fd);
	else if (strncmp(source, "tcp:", 4) == 0)
		r = connect_tcp(source + 4, timeout_ms, evfd, tcp, &fd);
	else
		return -EINVAL;
	if (r)
		return r;
	l->fd_r = l->fd_w = fd;
	l->sock = true;
	l->tcp = source[0] == 't';
	return 0;
}

static int open_fds(const char *spec, struct rt_link *l)
{
	char tmp[64], *comma;
	long rfd, wfd;
	int r;

	if (strlen(spec) >= sizeof(tmp))
		return -EINVAL;
	strcpy(tmp, spec);
	comma = strchr(tmp, ',');
	if (!comma)
		return -EINVAL;
	*comma = '\0';
	if (rt_parse_int(tmp, 0, INT_MAX, &rfd) ||
	    rt_parse_int(comma + 1, 0, INT_MAX, &wfd))
		return -EINVAL;
	l->fd_r = sys_fcntl((int)rfd, F_DUPFD_CLOEXEC, 3);
	if (l->fd_r < 0)
		return -errno;
	if (wfd == rfd) {
		l->fd_w = l->fd_r;
	} else {
		l->fd_w = sys_fcntl((int)wfd, F_DUPFD_CLOEXEC, 3);
		if (l->fd_w < 0) {
			r = -errno;
			sys_close(l->fd_r);
			l->fd_r = -1;
			return r;
		}
	}
	struct stat st;
	int type = 0;
	socklen_t tl = sizeof(type);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	l->sock = sys_fstat(l->fd_w, &st) == 0 && S_ISSOCK(st.st_mode);
	l->tcp = l->sock &&
		 sys_getsockopt(l->fd_w, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 &&
		 type == SOCK_STREAM &&
		 getsockname(l->fd_w, (struct sockaddr *)&ss, &sl) == 0 &&
		 (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
	r = rt_set_nonblock(l->fd_r);
	if (!r && l->fd_w != l->fd_r)
		r = rt_set_nonblock(l->fd_w);
	return r;
}

int rt_open(const char *source, int timeout_ms, int evfd,
	    const struct rt_tcp_opts *tcp, struct rt_link *l)
{
	int r;

	*l = RT_LINK_NONE;
	if (rt_source_is_address(source))
		return rt_connect(source, timeout_ms, evfd, tcp, l);
	if (strncmp(source, "fd:", 3) != 0)
		return -EINVAL;
	r = open_fds(source + 3, l);
	if (r)
		rt_link_close(l);
	return r;
}

ssize_t rt_write_some(const struct rt_link *l, const void *buf, size_t len)
{
	if (l->sock)
		return sys_send(l->fd_w, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	return sys_write(l->fd_w, buf, len);
}

void rt_cork(const struct rt_link *l, bool on)
{
	int v = on;

	if (l->tcp && l->fd_w >= 0)
		sys_setsockopt(l->fd_w, IPPROTO_TCP, TCP_CORK, &v, sizeof(v));
}

int rt_read_full(const struct rt_link *l, void *buf, size_t n,
		 const struct timespec *dl, int evfd)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = sys_read(l->fd_r, (char *)buf + got, n - got);
		if (k > 0) {
			got += (size_t)k;
			continue;
		}
		if (k == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		struct pollfd p[2] = {
			{ .fd = l->fd_r, .events = POLLIN },
			{ .fd = evfd, .events = POLLIN },
		};
		int ms = ms_left(dl);
		if (ms == 0)
			return -ETIMEDOUT;
		if (sys_poll(p, 2, ms) > 0 && p[1].revents)
			return -EIO;
	}
	return 0;
}

void rt_link_abort(const struct rt_link *l)
{
	if (l->tcp && l->fd_w >= 0) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };
		struct sockaddr sa = { .sa_family = AF_UNSPEC };

		sys_setsockopt(l->fd_w, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		/* a TCP disconnect: RST, and the send queue (retransmissions
		 * of what the peer never acknowledged) is dropped now, not
		 * at the close */
		sys_connect(l->fd_w, &sa, sizeof(sa));
	}
	if (l->fd_r >= 0)
		sys_shutdown(l->fd_r, SHUT_RDWR);
	if (l->fd_w >= 0 && l->fd_w != l->fd_r)
		sys_shutdown(l->fd_w, SHUT_RDWR);
}

void rt_link_close(struct rt_link *l)
{
	if (l->fd_r >= 0)
		sys_close(l->fd_r);
	if (l->fd_w >= 0 && l->fd_w != l->fd_r)
		sys_close(l->fd_w);
	*l = RT_LINK_NONE;
}
