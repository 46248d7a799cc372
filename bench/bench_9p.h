/*
 * bench_9p.h - what the benchmarks that talk 9P to a server on a socket
 * share (bench_fid_mem, bench_fid_grow, bench_recovery): one message and
 * its reply, and the session's start.  Included after p9.h.
 */
#ifndef UVFS_BENCH_9P_H
#define UVFS_BENCH_9P_H

#include <stdint.h>
#include <string.h>
#include <unistd.h>

/* One 9P message m on fd, its reply into rbuf (cap bytes) and r.  0 or
 * -1 (a short write, the end of the stream, a frame that does not fit or
 * does not parse). */
static inline int p9_call(int fd, struct p9_msg *m, uint8_t *rbuf,
				size_t cap, struct p9_msg *r)
{
	uint8_t buf[512];
	ssize_t len = p9_pack(buf, sizeof(buf), m);
	size_t got = 0;
	uint32_t size = 0;

	if (len < 0 || write(fd, buf, (size_t)len) != len)
		return -1;
	for (;;) {
		ssize_t n = read(fd, rbuf + got, cap - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
		if (got >= 4 && p9_frame_size(rbuf, got, (uint32_t)cap,
					      &size) != 0)
			return -1;
		if (size && got >= size)
			break;
	}
	return p9_unpack(rbuf, size, r) == 0 ? 0 : -1;
}

/* Tversion (9P2000.L, msize 8192) and Tattach of fid 0 to the export's
 * root as this user, on fd: 0 or -1. */
static inline int p9_start(int fd, uint8_t *rbuf, size_t cap)
{
	struct p9_msg m, r;

	memset(&m, 0, sizeof(m));
	m.type = P9_TVERSION;
	m.tag = P9_NOTAG;
	m.tversion.msize = 8192;
	m.tversion.version = P9_STR(P9_VERSION_L);
	if (p9_call(fd, &m, rbuf, cap, &r) || r.type != P9_RVERSION)
		return -1;
	memset(&m, 0, sizeof(m));
	m.type = P9_TATTACH;
	m.tattach.fid = 0;
	m.tattach.afid = P9_NOFID;
	m.tattach.uname = P9_STR("root");
	m.tattach.aname = P9_STR("");
	m.tattach.n_uname = (uint32_t)geteuid();
	if (p9_call(fd, &m, rbuf, cap, &r) || r.type != P9_RATTACH)
		return -1;
	return 0;
}

#endif
