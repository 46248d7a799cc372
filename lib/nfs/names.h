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
 * Negative entries (a LOOKUP answered NFS3ERR_NOENT: nnames_put_neg) live
 * by the same rules and one more: they carry the directory's version
 * (the caller's counter, bumped when the directory's attributes show a
 * change or this mount changes a name in it) and are dead once it moves,
 * as Linux drops negative dentries when their directory changed.
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

#include "htab.h"

#define NAMES_MAX     65536     /* entries; past it the cache starts over */

struct nname;

struct nnames {
	pthread_mutex_t lock;
	struct htab t;                          /* lock: the entries */
	unsigned n;                             /* lock */
	unsigned long hits, misses;             /* lock */
	unsigned long neg_hits;                 /* lock */
};

/* 0, or -ENOMEM. */
int nnames_init(struct nnames *c);
void nnames_fini(struct nnames *c);
enum nname_hit {
	NNAME_MISS,     /* nothing known (or only something dead) */
	NNAME_POS,      /* the name is (*ino, *type) */
	NNAME_NEG,      /* the name does not exist */
};

/* The entry for name in dir made in generation gen, at most max_age_ns
 * old (UINT64_MAX: any age), a negative one only while the directory's
 * version is still dver: NNAME_POS and *ino, *type; NNAME_NEG; or
 * NNAME_MISS. */
enum nname_hit nnames_get(struct nnames *c, uint64_t dir, const char *name,
			  uint64_t gen, uint64_t dver, uint64_t max_age_ns,
			  uint64_t *ino, mode_t *type);
/* Records name in dir as (ino, type) in generation gen (an older entry of
 * the name is replaced).  Out of memory: nothing is recorded. */
void nnames_put(struct nnames *c, uint64_t dir, const char *name,
	       uint64_t ino, mode_t type, uint64_t gen);
/* Records that name in dir does not exist, as of generation gen and the
 * directory's version dver (replacing what was known of the name). */
void nnames_put_neg(struct nnames *c, uint64_t dir, const char *name,
		    uint64_t gen, uint64_t dver);
/* Forgets name in dir (it was removed or renamed away). */
void nnames_drop(struct nnames *c, uint64_t dir, const char *name);
/* Forgets every name of ino (its handle went stale: the names that led
 * to it are old).  A walk of the whole cache: for the rare stale handle,
 * not for each call. */
void nnames_drop_ino(struct nnames *c, uint64_t ino);

#endif /* UVFS_NFS_NAMES_H */
