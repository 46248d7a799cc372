/*
 * delayproxy.h - what uvfs-delayproxy -s FILE counts (bench/delayproxy.c):
 * the file holds one struct proxy_stats, mapped shared by the proxy,
 * which adds to it as bytes cross (atomically); a reader maps it and
 * takes differences.  Totals over every connection the proxy carried.
 */
#ifndef UVFS_DELAYPROXY_H
#define UVFS_DELAYPROXY_H

#include <stdatomic.h>
#include <stdint.h>

#define PROXY_STATS_MAGIC 0x75766673646c7931ull   /* "uvfsdly1" */

struct proxy_stats {
	uint64_t magic;                 /* PROXY_STATS_MAGIC once set up */
	_Atomic uint64_t conns;         /* connections accepted and joined */
	_Atomic uint64_t up_msgs;       /* messages to the target (-f) */
	_Atomic uint64_t down_msgs;     /* messages back */
	_Atomic uint64_t up_bytes;
	_Atomic uint64_t down_bytes;
	/* Turns: bytes read from the client when something had been
	 * passed back to it since its last bytes (or none ever were).  A
	 * client that sends, waits for the answer and sends again makes a
	 * turn per round trip it waited for; requests sent together (or
	 * while earlier answers are still on their way) make one. */
	_Atomic uint64_t turns;
	/* Messages to the target by kind: the 9P type byte, or the low
	 * byte of the RPC call's procedure number (NFSv3: 0..21). */
	_Atomic uint64_t up_kinds[256];
};

#endif
