/*
 * nfs.h - the NFS client driver: file-system type "nfs" (NFSv3 over TCP,
 * on libnfs's rpc layer).
 *
 *   uvfs_nfs_register(u);
 *   uvfs_mount(ctx, "nfs", "nfs://server/export", "/mnt", "timeout=5000");
 *
 * Sources:  nfs://HOST/EXPORT   HOST:/EXPORT   (HOST: a name or an IPv4
 *           address; the export is asked of the server's MOUNT v3 service,
 *           found through its portmapper, like NFS itself)
 * Options:  vers=3      the protocol version (3 is the only one today)
 *           timeout=MS  per-request deadline (default 10000, 100..3600000)
 *           actimeo=S   attribute cache lifetime in seconds (default 3;
 *                       0 = noac); ac (the default lifetime) / noac
 *           hard        while the server is unreachable callers wait
 *                       (within their deadline, killable by a forced
 *                       unmount) for the reconnect; the default (soft)
 *                       fails them at once with -EIO
 *
 * A request past its deadline fails with -ETIMEDOUT, after the connection
 * it went out on has been reset (it cannot reach the server later); the
 * driver connects again.  A forced unmount fails every request in flight
 * with -EIO at once.  See docs/nfs.md.
 */
#ifndef UVFS_NFS_H
#define UVFS_NFS_H

#include <time.h>
#include <uvfs/fs.h>

#ifdef __cplusplus
extern "C" {
#endif

extern const struct uvfs_fstype_ops uvfs_nfs_ops;

/* Registers uvfs_nfs_ops with the instance.  Already registered is not an
 * error. */
int uvfs_nfs_register(struct uvfs *u);

/* The state of the connection behind the "nfs" mount at target (found
 * by the mount's source: with two "nfs" mounts of one source in one
 * instance, the newer).  -ENOENT for any other mount.  For tests and
 * `uvfs servers`. */
struct uvfs_nfs_info {
	const char *state;      /* "starting", "running", "reconnecting"
				 * (after a loss), "unreachable" (after a
				 * silence: a request's deadline passed),
				 * "dead" (static strings) */
	unsigned long unreachable;      /* silences */
	unsigned long calls;            /* requests issued */
	unsigned long timeouts;         /* requests past their deadline */
	unsigned long losses;           /* connections lost or fenced */
	unsigned long reconnects;       /* connections made after the first */
	unsigned long replays;          /* hard: requests sent again */
	unsigned long stale;            /* handles found naming another file */
	unsigned inflight;              /* requests out now */
	int last_error;                 /* why the last loss (errno), or 0 */
	time_t last_loss;               /* when, or 0 */
	int hard;
	unsigned long probes;           /* liveness probes (NULL calls) */
};
int uvfs_nfs_info(struct uvfs *u, const char *target,
		  struct uvfs_nfs_info *out);

#ifdef __cplusplus
}
#endif
#endif /* UVFS_NFS_H */
