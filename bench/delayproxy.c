/*
 * delayproxy.c - uvfs-delayproxy: a TCP forwarder that adds a fixed
 * one-way delay in each direction, for the network tests and benchmarks
 * (the kernel they run on may have no netem).
 *
 *   uvfs-delayproxy [-u US] [-d US] [-s FILE -f KIND] LISTEN_ADDR:PORT
 *                   TARGET_ADDR:PORT
 *
 *   -u US   delay of the bytes going to the target ("up"), microseconds
 *   -d US   delay of the bytes coming back ("down"), microseconds
 *   -s FILE count the messages that cross and the client's turns (its
 *           bytes after an answer: round trips waited for), into FILE
 *           (made or emptied, then mapped shared: struct proxy_stats of
 *           delayproxy.h, updated as they pass, for a benchmark to read)
 *   -f KIND how messages are framed, for -s: "9p" (size[4] little-endian,
 *           itself included) or "rpc" (ONC RPC record marks: a fragment's
 *           length big-endian, the top bit on its last fragment); the
 *           requests are also counted by kind (9P's type, the RPC call's
 *           procedure)
 *   Addresses are numeric (IPv4, or [IPv6]); port 0 listens on a free
 *   port.  Once listening it prints "port N" on stdout (and flushes), so a
 *   script can wait for it.
 *
 * Lifecycle of a connection
 *   Each accepted connection gets a thread that connects to the target
 *   (so a target that does not answer holds up no other connection), then
 *   two
 *   threads, one per direction.  A direction's thread reads whatever its
 *   source has, stamps the chunk with (time read + delay) and queues it;
 *   it writes a chunk once its time has come.  Bytes leave in the order
 *   they came (one queue, no reordering); a chunk is never split or
 *   merged on the way except by the kernel's own segmentation.  While
 *   chunks wait, the thread keeps reading (poll with the time to the next
 *   due chunk as timeout), so the delay does not cut the throughput below
 *   what the window allows.  At most MAX_QUEUED bytes wait per direction;
 *   past that it stops reading (TCP's flow control then holds the sender).
 *
 *   End of input from a source: once its queue has drained, the other
 *   side is shut down for writing (a half-close passes through).  A reset
 *   or error on either side: the connection is aborted (a byte in its wake
 *   pipe stops the other thread's poll at once) and both sockets are
 *   closed abortively (SO_LINGER 0: the peer gets a reset, nothing queued
 *   is sent later; no shutdown first, whose FIN would read as a clean
 *   end), so a proxy in the path does not turn a killed connection into a
 *   graceful one.  The second thread to finish frees the connection.
 *   Sends never block: a full destination is waited for with poll, which
 *   the abort also ends.
 *
 * Exit: it runs until killed; 2 on bad usage, 1 if it cannot listen.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "delayproxy.h"

#define MAX_QUEUED      (8u << 20)
#define CHUNK           65536

struct chunk {
	struct chunk *next;
	uint64_t due_ns;        /* CLOCK_MONOTONIC */
	size_t len, off;        /* off: bytes of it already written */
	unsigned char data[];
};

/* One connection: two sockets, two directions.  Each direction's fields
 * belong to its thread; refs and abort are shared (atomics). */
struct pconn {
	int a, b;               /* a: the client's, b: the target's */
	int wake[2];            /* a pipe: written once at the abort, so
				 * both threads' polls return at once */
	atomic_int refs;        /* the two threads */
	atomic_bool abort;      /* a reset or error: both directions stop */
	atomic_bool down_sent;  /* bytes went back to the client since it
				 * last sent (-s: turns) */
};

/* Where one direction is in its framing (-s): the length word being
 * read (hn bytes of hdr), then left bytes of the fragment's body. */
struct framer {
	uint8_t hdr[4];
	unsigned hn;
	bool last;              /* the fragment ends a message */
	uint64_t left;
	uint64_t pos;           /* bytes of the message's body seen */
	int kind;               /* its kind byte, -1 not seen yet */
};

/* Where a message's kind is, in its body (after the length word): 9P's
 * type byte; an RPC call's procedure (xid, type, rpcvers, prog, vers,
 * proc: the low byte of the sixth word). */
#define KIND_AT_9P      0
#define KIND_AT_RPC     23

struct dir {
	struct pconn *pc;
	int src, dst;
	uint64_t delay_ns;
	bool up;
	struct framer fr;       /* this thread's */
};

enum framing { FRAME_NONE, FRAME_9P, FRAME_RPC };

static uint64_t up_ns, down_ns;
static enum framing framing;
static struct proxy_stats *stats;       /* -s: shared, atomics */
static struct addrinfo *target;

static void serve(int a);

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void abortive_close(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/* A reset or an error: both directions stop, both sockets are closed
 * abortively (at the last put).  Nothing is shut down first: a FIN would
 * reach the peer before the reset and read as a clean end of file. */
static void pconn_abort(struct pconn *pc)
{
	if (!atomic_exchange(&pc->abort, true)) {
		char c = 1;
		(void)!write(pc->wake[1], &c, 1);
	}
}

static void pconn_put(struct pconn *pc)
{
	if (atomic_fetch_sub(&pc->refs, 1) != 1)
		return;
	close(pc->wake[0]);
	close(pc->wake[1]);
	if (atomic_load(&pc->abort)) {
		abortive_close(pc->a);
		abortive_close(pc->b);
	} else {
		close(pc->a);
		close(pc->b);
	}
	free(pc);
}

/* A message ended: counted, and by kind (up only: kinds[] NULL down). */
static void msg_done(struct framer *f, _Atomic uint64_t *kinds)
{
	if (kinds && f->kind >= 0)
		atomic_fetch_add(&kinds[f->kind], 1);
	f->pos = 0;
	f->kind = -1;
}

/* The messages that end in p[0..n): whole 9P messages, or ONC RPC
 * records (their last fragment); each also counted in kinds[] by its
 * kind byte, if kinds. */
static uint64_t count_msgs(struct framer *f, const uint8_t *p, size_t n,
			   _Atomic uint64_t *kinds)
{
	uint64_t msgs = 0;
	uint64_t at = framing == FRAME_9P ? KIND_AT_9P : KIND_AT_RPC;

	while (n > 0) {
		if (f->left == 0) {             /* a length word */
			while (n > 0 && f->hn < 4) {
				f->hdr[f->hn++] = *p++;
				n--;
			}
			if (f->hn < 4)
				break;
			f->hn = 0;
			if (framing == FRAME_9P) {
				uint32_t v = (uint32_t)f->hdr[0] |
					     (uint32_t)f->hdr[1] << 8 |
					     (uint32_t)f->hdr[2] << 16 |
					     (uint32_t)f->hdr[3] << 24;
				f->last = true;
				f->left = v > 4 ? v - 4 : 0;
			} else {
				uint32_t v = (uint32_t)f->hdr[0] << 24 |
					     (uint32_t)f->hdr[1] << 16 |
					     (uint32_t)f->hdr[2] << 8 |
					     (uint32_t)f->hdr[3];
				f->last = v >> 31;
				f->left = v & 0x7fffffffu;
			}
			if (f->left == 0 && f->last) {
				msgs++;
				msg_done(f, kinds);
			}
			continue;
		}
		size_t k = n < f->left ? n : (size_t)f->left;
		if (f->kind < 0 && at >= f->pos && at < f->pos + k)
			f->kind = p[at - f->pos];
		f->pos += k;
		p += k;
		n -= k;
		f->left -= k;
		if (f->left == 0 && f->last) {
			msgs++;
			msg_done(f, kinds);
		}
	}
	return msgs;
}

static void account(struct dir *d, const uint8_t *p, size_t n)
{
	uint64_t m;

	if (!stats)
		return;
	m = framing == FRAME_NONE ? 0 :
	    count_msgs(&d->fr, p, n, d->up ? stats->up_kinds : NULL);
	if (d->up && atomic_exchange(&d->pc->down_sent, false))
		atomic_fetch_add(&stats->turns, 1);
	atomic_fetch_add(d->up ? &stats->up_bytes : &stats->down_bytes, n);
	if (m)
		atomic_fetch_add(d->up ? &stats->up_msgs : &stats->down_msgs,
				 m);
}

/* One direction: src -> queue -> dst after the delay. */
static void *dir_main(void *arg)
{
	struct dir *d = arg;
	struct chunk *head = NULL, **tail = &head;
	size_t queued = 0;
	bool eof = false;

	while (!atomic_load(&d->pc->abort)) {
		uint64_t now = now_ns();
		/* write what is due */
		while (head && head->due_ns <= now) {
			/* before the send: the client may answer before
			 * send() has returned here */
			if (!d->up)
				atomic_store(&d->pc->down_sent, true);
			ssize_t n = send(d->dst, head->data + head->off,
					 head->len - head->off,
					 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno == EAGAIN) {
				/* dst is full: wait for room (or the abort) */
				struct pollfd w[2] = {
					{ .fd = d->dst, .events = POLLOUT },
					{ .fd = d->pc->wake[0], .events = POLLIN },
				};
				poll(w, 2, -1);
				if (atomic_load(&d->pc->abort))
					goto out;
				continue;
			}
			if (n < 0) {
				if (errno == EINTR)
					continue;
				pconn_abort(d->pc);
				goto out;
			}
			head->off += (size_t)n;
			if (head->off < head->len)
				continue;
			struct chunk *c = head;
			head = c->next;
			if (!head)
				tail = &head;
			queued -= c->len;
			free(c);
		}
		if (eof && !head) {
			shutdown(d->dst, SHUT_WR);
			break;
		}
		/* to the next due chunk, to the nanosecond (a poll() timeout
		 * in whole milliseconds would add up to 1 ms each way) */
		struct timespec ts, *timeout = NULL;
		if (head) {
			uint64_t wait = head->due_ns > now ? head->due_ns - now : 0;
			ts.tv_sec = (time_t)(wait / 1000000000u);
			ts.tv_nsec = (long)(wait % 1000000000u);
			timeout = &ts;
		}
		/* not reading (end of input, queue full): only the clock and
		 * the other direction's abort */
		struct pollfd p[2] = {
			{ .fd = (!eof && queued < MAX_QUEUED) ? d->src : -1,
			  .events = POLLIN },
			{ .fd = d->pc->wake[0], .events = POLLIN },
		};
		int r = ppoll(p, 2, timeout, NULL);
		if (r < 0 && errno != EINTR) {
			pconn_abort(d->pc);
			break;
		}
		if (r <= 0 || !(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		struct chunk *c = malloc(sizeof(*c) + CHUNK);
		if (!c) {
			pconn_abort(d->pc);
			break;
		}
		ssize_t n = recv(d->src, c->data, CHUNK, 0);
		if (n <= 0) {
			free(c);
			if (n == 0) {
				eof = true;
				continue;
			}
			if (errno == EINTR || errno == EAGAIN)
				continue;
			pconn_abort(d->pc);         /* a reset */
			break;
		}
		account(d, c->data, (size_t)n);
		c->next = NULL;
		c->len = (size_t)n;
		c->off = 0;
		c->due_ns = now_ns() + d->delay_ns;
		*tail = c;
		tail = &c->next;
		queued += c->len;
	}
out:
	while (head) {
		struct chunk *c = head;
		head = c->next;
		free(c);
	}
	pconn_put(d->pc);
	free(d);
	return NULL;
}

static int start_dir(struct pconn *pc, int src, int dst, uint64_t delay,
		     bool up)
{
	struct dir *d = malloc(sizeof(*d));
	pthread_t t;

	if (!d)
		return -1;
	*d = (struct dir){ .pc = pc, .src = src, .dst = dst, .delay_ns = delay,
			   .up = up, .fr.kind = -1 };
	if (pthread_create(&t, NULL, dir_main, d)) {
		free(d);
		return -1;
	}
	pthread_detach(t);
	return 0;
}

static void *serve_main(void *arg)
{
	serve((int)(intptr_t)arg);
	return NULL;
}

static void serve(int a)
{
	int b = socket(target->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	struct pconn *pc;

	if (b < 0 || connect(b, target->ai_addr, target->ai_addrlen) < 0) {
		/* the target refuses: so does the proxy */
		if (b >= 0)
			close(b);
		abortive_close(a);
		return;
	}
	setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	pc = calloc(1, sizeof(*pc));
	if (!pc) {
		abortive_close(a);
		abortive_close(b);
		return;
	}
	if (pipe2(pc->wake, O_CLOEXEC) < 0) {
		free(pc);
		abortive_close(a);
		abortive_close(b);
		return;
	}
	pc->a = a;
	pc->b = b;
	atomic_init(&pc->refs, 2);
	atomic_init(&pc->down_sent, true);
	if (stats)
		atomic_fetch_add(&stats->conns, 1);
	if (start_dir(pc, a, b, up_ns, true) < 0) {
		atomic_store(&pc->abort, true);
		atomic_store(&pc->refs, 1);
		pconn_put(pc);
		return;
	}
	if (start_dir(pc, b, a, down_ns, false) < 0) {
		pconn_abort(pc);
		pconn_put(pc);
	}
}

/* "ADDR:PORT" / "[v6]:PORT" -> addrinfo; NULL with a message. */
static struct addrinfo *parse_addr(const char *s, bool passive)
{
	char host[256];
	const char *colon = strrchr(s, ':');
	struct addrinfo hints = {
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV |
			    (passive ? AI_PASSIVE : 0),
	};
	struct addrinfo *ai;
	size_t hl;
	int e;

	if (!colon || colon == s || !colon[1])
		goto bad;
	hl = (size_t)(colon - s);
	const char *h = s;
	if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	e = getaddrinfo(host, colon + 1, &hints, &ai);
	if (e) {
		fprintf(stderr, "uvfs-delayproxy: %s: %s\n", s, gai_strerror(e));
		return NULL;
	}
	return ai;
bad:
	fprintf(stderr, "uvfs-delayproxy: %s: expected ADDR:PORT "
		"(numeric, e.g. 127.0.0.1:5640)\n", s);
	return NULL;
}

static bool parse_us(const char *s, uint64_t *ns)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || end == s || v > 60ull * 1000000)
		return false;
	*ns = (uint64_t)v * 1000;
	return true;
}

static void usage(void)
{
	fprintf(stderr, "usage: uvfs-delayproxy [-u US] [-d US] "
		"[-s FILE -f 9p|rpc] LISTEN_ADDR:PORT TARGET_ADDR:PORT\n"
		"  -u US    one-way delay towards the target (microseconds)\n"
		"  -d US    one-way delay back from it (microseconds)\n"
		"  -s FILE  count the bytes and messages that cross into "
		"FILE\n"
		"  -f KIND  their framing: 9p or rpc\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct addrinfo *lai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int opt, lfd, one = 1;
	const char *stats_path = NULL;

	while ((opt = getopt(argc, argv, "u:d:s:f:h")) != -1) {
		switch (opt) {
		case 'u':
			if (!parse_us(optarg, &up_ns))
				usage();
			break;
		case 'd':
			if (!parse_us(optarg, &down_ns))
				usage();
			break;
		case 's':
			stats_path = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "9p") == 0)
				framing = FRAME_9P;
			else if (strcmp(optarg, "rpc") == 0)
				framing = FRAME_RPC;
			else
				usage();
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2 || (framing != FRAME_NONE && !stats_path))
		usage();
	if (stats_path) {
		int sfd = open(stats_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
			       0644);
		if (sfd < 0 || ftruncate(sfd, sizeof(*stats)) < 0 ||
		    (stats = mmap(NULL, sizeof(*stats), PROT_READ | PROT_WRITE,
				  MAP_SHARED, sfd, 0)) == MAP_FAILED) {
			fprintf(stderr, "uvfs-delayproxy: %s: %s\n",
				stats_path, strerror(errno));
			return 1;
		}
		close(sfd);
		stats->magic = PROXY_STATS_MAGIC;
	}
	lai = parse_addr(argv[optind], true);
	target = parse_addr(argv[optind + 1], false);
	if (!lai || !target) {
		if (lai)
			freeaddrinfo(lai);
		if (target)
			freeaddrinfo(target);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	lfd = socket(lai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, lai->ai_addr, lai->ai_addrlen) < 0 ||
	    listen(lfd, 64) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&ss, &sl) < 0) {
		fprintf(stderr, "uvfs-delayproxy: cannot listen on %s: %s\n",
			argv[optind], strerror(errno));
		return 1;
	}
	freeaddrinfo(lai);
	printf("port %u\n", ss.ss_family == AF_INET6 ?
	       ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
	       ntohs(((struct sockaddr_in *)&ss)->sin_port));
	fflush(stdout);
	for (;;) {
		int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EMFILE || errno == ENFILE)
				continue;
			fprintf(stderr, "uvfs-delayproxy: accept: %s\n",
				strerror(errno));
			return 1;
		}
		/* the connect to the target may take long: not here */
		pthread_t t;
		if (pthread_create(&t, NULL, serve_main, (void *)(intptr_t)c)) {
			abortive_close(c);
			continue;
		}
		pthread_detach(t);
	}
}
