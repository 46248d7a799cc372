/*
 * transport.h - byte streams to a remote server: a Unix socket, TCP, or an
 * inherited descriptor pair.  Protocol-independent: it knows descriptors,
 * deadlines and how to close a link so that nothing queued on it is ever
 * delivered (docs/session.md, "Fencing").
 *
 * A struct rt_link is a plain value owned by its session (which guards it
 * with its own lock): connect or open fills it, rt_link_abort cuts it,
 * rt_link_close releases the descriptors.  No thread of its own.
 */
#ifndef UVFS_REMOTE_TRANSPORT_H
#define UVFS_REMOTE_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

struct rt_link {
	int fd_r, fd_w;         /* -1 when closed; one socket: fd_r == fd_w */
	bool sock;              /* fd_w is a socket (send MSG_NOSIGNAL) */
	bool tcp;               /* a TCP socket (keepalive, user timeout,
				 * abortive close) */
};

#define RT_LINK_NONE ((struct rt_link){ .fd_r = -1, .fd_w = -1 })

/* Liveness settings of a TCP link (docs/session.md): the kernel gives up
 * on unacknowledged data after user_timeout_ms (TCP_USER_TIMEOUT), and
 * probes an idle link every keepalive_ms. */
struct rt_tcp_opts {
	int user_timeout_ms;    /* 0: the kernel's default */
	int keepalive_ms;       /* 0: no keepalive */
};

/* Sets TCP_NODELAY and the options of o (may be NULL) on a connected TCP
 * socket: for links made elsewhere (the NFS driver's, made by libnfs). */
void rt_tcp_tune(int fd, const struct rt_tcp_opts *o);

/* A source one can connect to again (unix:PATH, tcp:HOST:PORT)? */
bool rt_source_is_address(const char *source);

/* Connects to unix:PATH or tcp:HOST:PORT within timeout_ms in all (a
 * name's addresses share it: docs/session.md, "Connecting"; the name's
 * resolution comes before, unbounded), and not at all once evfd is
 * readable (-EIO).  The link is non-blocking,
 * close-on-exec; a TCP one has TCP_NODELAY and the options of tcp (may be
 * NULL).  -EINVAL for any other source. */
int rt_connect(const char *source, int timeout_ms, int evfd,
	       const struct rt_tcp_opts *tcp, struct rt_link *l);

/* rt_connect, or fd:RFD,WFD (duplicated: the caller keeps its own). */
int rt_open(const char *source, int timeout_ms, int evfd,
	    const struct rt_tcp_opts *tcp, struct rt_link *l);

/* Writes what it can of buf at once (never blocks): the count, or -1 and
 * errno (EAGAIN: full). */
ssize_t rt_write_some(const struct rt_link *l, const void *buf, size_t len);

/* Holds (on) or releases (off: what was held goes out now) the small
 * writes on a TCP link so that several become one segment (TCP_CORK);
 * nothing on other links.  The kernel sends what is held after 200 ms
 * anyway. */
void rt_cork(const struct rt_link *l, bool on);

/* Reads exactly n bytes by the deadline: 0, -ETIMEDOUT, -ECONNRESET (EOF),
 * -EIO once evfd is readable, or the read's error. */
int rt_read_full(const struct rt_link *l, void *buf, size_t n,
		 const struct timespec *dl, int evfd);

/*
 * Cuts the link so that nothing written to it and not yet delivered ever
 * will be: TCP gets SO_LINGER {1, 0} and is disconnected (RST, the send
 * queue purged); any link is shut down both ways, which wakes every thread
 * polling or blocked on it.  The descriptors stay open (no other thread
 * can meet a reused number): rt_link_close releases them.  Any thread,
 * any number of times.
 */
void rt_link_abort(const struct rt_link *l);

/* Closes the descriptors and sets them to -1: gracefully, unless
 * rt_link_abort ran first (then the close is abortive too). */
void rt_link_close(struct rt_link *l);

int rt_set_nonblock(int fd);
/* A decimal in [min, max]: 0, or -EINVAL. */
int rt_parse_int(const char *s, long min, long max, long *out);

#endif /* UVFS_REMOTE_TRANSPORT_H */
