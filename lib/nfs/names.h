/*
 * names.h - the NFS driver's name cache (docs/nfs.md, "Caching modes"):
 * (directory fileid, name) -> (fileid, type), each entry valid while the
 * mount's generation is the one it was made in and, when the caller
 * gives a lifetime, no older than that (cache=cto: the attribute
 * timeout, as Linux's dentries; cache=loose: no limit, and the mount
 * bumps its generation at every name it changes, so an entry never
 * outlives a change this mount made).  The mount's own changes update
 * it precisely (nnames_put, nnames_drop); changes by others are seen
 * when an entry expires.
 *
 * One struct nnames per mount, nnames_init to nnames_fini.  Its lock is a
 * leaf (never held with the mount's s->lock or across a request).
 */
#ifndef UVFS_NFS_NAMES_H
#define UVFS_NFS_NAMES_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define NAMES_BUCKETS 1024
#define NAMES_MAX     65536     /* entries; past it the cache starts over */

struct nname;

struct nnames {
	pthread_mutex_t lock;
	struct nname *b[NAMES_BUCKETS];         /* lock */
	unsigned n;                             /* lock */
	unsigned long hits, misses;             /* lock */
};

void nnames_init(struct nnames *c);
void nnames_fini(struct nnames *c);
/* The entry for name in dir made in generation gen, at most max_age_ns
 * old (UINT64_MAX: any age): true and *ino, *type; false if none. */
bool nnames_get(struct nnames *c, uint64_t dir, const char *name,
	       uint64_t gen, uint64_t max_age_ns, uint64_t *ino,
	       mode_t *type);
/* Records name in dir as (ino, type) in generation gen (an older entry of
 * the name is replaced).  Out of memory: nothing is recorded. */
void nnames_put(struct nnames *c, uint64_t dir, const char *name,
	       uint64_t ino, mode_t type, uint64_t gen);
/* Forgets name in dir (it was removed or renamed away). */
void nnames_drop(struct nnames *c, uint64_t dir, const char *name);

#endif /* UVFS_NFS_NAMES_H */
