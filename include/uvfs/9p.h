/*
 * 9p.h - the 9P2000.L client driver: file-system types "9p" and "hostfs".
 *
 * Mounts a 9P2000.L file server (diod, QEMU's virtfs, uvfs's own servers):
 *
 *   uvfs_9p_register(u);
 *   uvfs_mount(ctx, "9p", "unix:/run/fs.sock", "/mnt", "aname=/srv,timeout=5000");
 *
 * Sources:  unix:PATH   tcp:HOST:PORT   fd:RFD,WFD (an inherited pair; the
 *           driver duplicates them and closes its copies at unmount)
 * Options:  aname=PATH  uname=NAME  msize=N (default 524288, negotiated down)
 *           timeout=MS (per-request deadline, default 10000)  serial
 *           restarts=N (default 30) within window=MS (default 60000)
 *           fids=N (node fids held at most, default 8192; the least
 *           recently used are released and walked again on demand)
 *           noreconnect  hard (calls wait while the server is unreachable;
 *           default soft: they fail at once with -EIO)
 *
 * A request that passes its deadline fails with -ETIMEDOUT once the server
 * confirmed its Tflush, or the link it went out on was cut (abortively:
 * nothing of it reaches the server later); a forced unmount or a protocol
 * violation fails with -EIO.  A call's deadline covers all its requests.
 * A server that goes silent makes the mount "unreachable": new calls fail
 * at once with -EIO (unless hard) until it answers again.  The contract
 * is in docs/session.md.
 *
 * Over unix: or tcp: (unless noreconnect) a lost connection (EOF, a reset,
 * a read or write error) is recovered as a hostfs server's death is: the
 * driver connects to the address again, backing off, and callers wait
 * (within their deadline); requests that were out are replayed if
 * idempotent, else fail with -EIO; open files are reopened, and one whose
 * file changed identity meanwhile answers -ESTALE.  Past restarts=
 * attempts within window= the mount is dead (-EIO), and a protocol
 * violation makes it dead at once.  Over fd:, or with noreconnect, a lost
 * connection fails every request with -EIO until unmounted.  See
 * docs/9p-client.md and docs/recovery.md.
 *
 * Type "hostfs" (registered by uvfs_9p_register too) exports a host
 * directory through a supervised uvfs-hostfs process:
 *
 *   uvfs_mount(ctx, "hostfs", "/srv/data", "/x", "restarts=5");
 *
 * Options: those of "9p" but aname and noreconnect, and server=PATH (the
 * uvfs-hostfs binary; default: $UVFS_HOSTFS, else next to the running
 * program, else in PATH), restarts=N (default 5) within window=MS (default 60000).  A
 * server that dies is restarted and the open files reopened; see
 * docs/recovery.md.
 */
#ifndef UVFS_9P_H
#define UVFS_9P_H

#include <sys/types.h>
#include <uvfs/fs.h>

#ifdef __cplusplus
extern "C" {
#endif

extern const struct uvfs_fstype_ops uvfs_9p_ops;
extern const struct uvfs_fstype_ops uvfs_hostfs_ops;
/* "diod": like "hostfs", with diod as the server it spawns and restarts
 * (source: the directory to export; option server=PATH, default diod in
 * PATH or /usr/sbin). */
extern const struct uvfs_fstype_ops uvfs_diod_ops;

/* Registers uvfs_9p_ops, uvfs_hostfs_ops and uvfs_diod_ops with the
 * instance (uvfs_fstype_register).  A type already registered is not an
 * error. */
int uvfs_9p_register(struct uvfs *u);

/* The state of the server behind the "hostfs", "diod" or reconnecting
 * "9p" mount at target (found by the mount's type and source: with two
 * such mounts of one source, the newer).  -ENOENT for any other mount (a
 * "9p" mount over fd:, or with noreconnect).  For tests, benchmarks and
 * `uvfs servers`. */
struct uvfs_9p_server_info {
	pid_t pid;                      /* 0 while none runs; always 0 for
					 * "9p" (not our process) */
	int recovering;                 /* the server is being restarted, or
					 * reconnected to */
	int dead;                       /* restart limit reached, or cancelled */
	unsigned long restarts;         /* servers started (connections made)
					 * after the first */
	unsigned long losses;           /* sessions lost */
	unsigned long replays;          /* requests sent again after a loss */
	unsigned long stale_fids;       /* fids that changed identity */
	uint64_t last_recovery_ns;      /* loss to every fid reopened */
	int connected;                  /* a session is up (not recovering,
					 * not dead) */
	/* The session's state (docs/session.md): "running", "unreachable"
	 * (the server went silent: calls fail fast unless the mount is
	 * hard), "reconnecting", "dead". */
	char state[16];
	unsigned long timeouts;         /* requests past their deadline */
	unsigned long unreachable;      /* times the server went silent */
	unsigned long probes;           /* liveness probes sent */
	int last_error;                 /* errno of the last loss, 0 none */
	long long last_loss;            /* its time (seconds since the
					 * epoch), 0 never */
	int hard;                       /* the mount says hard */
	unsigned long fids;             /* fids the driver's nodes hold now
					 * (at most fids=) */
	unsigned long fid_releases;     /* node fids the cache gave up (to
					 * be walked again on demand) */
	/* Round trips (docs/9p-client.md): requests sent (calls and
	 * clunks; not the session's probes and flushes), and the times a
	 * caller waited for replies (a request waited for alone is one; a
	 * batch of requests in flight together is one).  Monotonic. */
	unsigned long requests;
	unsigned long waits;
};
int uvfs_9p_server_info(struct uvfs *u, const char *target,
			struct uvfs_9p_server_info *out);
/* The pid of that server: > 0, 0 while none runs, or -ENOENT. */
pid_t uvfs_9p_server_pid(struct uvfs *u, const char *target);

#ifdef __cplusplus
}
#endif
#endif /* UVFS_9P_H */
