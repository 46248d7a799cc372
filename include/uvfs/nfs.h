/*
 * nfs.h - the NFS client driver: file-system type "nfs" (NFSv3 over TCP,
 * on uvfs's remote session layer; libnfs's XDR routines encode it).
 *
 *   uvfs_nfs_register(u);
 *   uvfs_mount(ctx, "nfs", "nfs://server/export", "/mnt", "timeout=5000");
 *
 * Sources:  nfs://HOST/EXPORT   HOST:/EXPORT   (HOST: a name or an IPv4
 *           address; the export is asked of the server's MOUNT v3 service,
 *           found through its portmapper, like NFS itself)
 * Options:  the type's table (uvfs_nfs_ops.options, `uvfs mount --help`):
 *           vers=3, timeout=MS (a call's deadline, default 10000),
 *           actimeo=S / ac / noac (the attribute cache), cache=none|cto|
 *           loose (what the mount trusts, default cto), hard / soft (calls
 *           wait out an unreachable server, or fail fast: the default),
 *           restarts=N window=MS (losses before the mount is dead; no limit
 *           by default).
 *
 * Each request carries its caller's AUTH_SYS credentials.  A request past
 * its deadline fails with -ETIMEDOUT, after the connection it went out on
 * has been cut (it cannot reach the server later); the driver connects
 * again.  A forced unmount fails every request in flight with -EIO at
 * once.  See docs/nfs.md.
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
	const char *state;      /* "running", "reconnecting" (after a loss,
				 * while the server refuses), "unreachable"
				 * (after a silence: a request's deadline
				 * passed, or TCP gave up), "dead" (static
				 * strings) */
	unsigned long unreachable;      /* silences */
	unsigned long calls;            /* requests issued */
	unsigned long timeouts;         /* requests past their deadline */
	unsigned long losses;           /* connections lost or fenced */
	unsigned long reconnects;       /* connections made after the first */
	unsigned long replays;          /* requests sent again after a loss */
	unsigned long stale;            /* handles found naming another file */
	unsigned inflight;              /* requests out now */
	int last_error;                 /* why the last loss (errno), or 0 */
	time_t last_loss;               /* when, or 0 */
	int hard;
	unsigned long probes;           /* liveness probes (NULL calls) */
	unsigned long rewrites;         /* WRITEs sent again: the server's
					 * write verifier changed before
					 * their COMMIT (it restarted) */
	unsigned long commits_behind;   /* COMMITs sent in the background
					 * of writes (past 32 MiB kept) */
	unsigned long commit_waits;     /* writes that waited for a COMMIT
					 * (past 64 MiB kept on a file) */
};
int uvfs_nfs_info(struct uvfs *u, const char *target,
		  struct uvfs_nfs_info *out);

#ifdef __cplusplus
}
#endif
#endif /* UVFS_NFS_H */
