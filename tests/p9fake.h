/*
 * p9fake.h - the fake 9P2000.L server of the 9P client tests
 * (test_9pclient.c, test_9psession.c): a thread that answers one
 * connection by the name each request names (p9fake.c says which name
 * misbehaves how), and the fixture that mounts it over a socketpair.
 */
#ifndef UVFS_TESTS_P9FAKE_H
#define UVFS_TESTS_P9FAKE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <uvfs/uvfs.h>

#define MSIZE 8192

struct fake {
	int fd;
	pthread_t thr;
	atomic_int flushes;     /* Tflush received */
	atomic_int treads;      /* Tread received */
	atomic_int hung;
	atomic_int held;        /* replies held back so far */
	bool have_held;         /* a reply held back (late, o1, lw) */
	bool held_walk;         /* ... an Rwalk (lw) */
	atomic_int lw_clunks;   /* Tclunk of the fid the late Twalk made */
	uint16_t held_tag;
	uint64_t held_path;
	/* xattrs (the server thread's own) */
	uint32_t xw_fid;        /* the last Txattrcreate's fid */
	bool xw_fail;           /* ... its commit fails */
	uint64_t xw_size, xw_got;
	atomic_int commits;     /* commits answered Rclunk */
	bool xw_hold;           /* ... its commit is held until its Tflush,
				 * then only Rflush: still not committed */
	bool cl_held;
	uint16_t cl_tag;
	atomic_int xattr_msgs;  /* Txattrwalk + Txattrcreate + their I/O */
	bool bye_once;          /* "bye" hangs up only the first time */
	/* fencing over tcp: at the first Twrite while stall is set the
	 * server stops reading until stall is cleared; then it only reads
	 * (no replies) and counts what arrives */
	atomic_bool stall, stalled;
	atomic_long rx_after;   /* bytes read after the stall */
	/* "dir": a Treaddir past its first reply is held until the next
	 * message; a Tclunk of its fid meanwhile is counted (it overtook
	 * a request on the fid) */
	atomic_bool rd_held;
	uint16_t rd_tag;
	uint32_t rd_fid;
	atomic_int clunk_busy;  /* Tclunk of a fid with a request held */
	atomic_int dir_clunks;  /* Tclunk of a fid naming "dir" */
	/* "new*" files (Tlcreate makes them; walks find them after) */
	atomic_int tlcreates;   /* Tlcreate of a "new*" name received */
	atomic_int creates;     /* ... that made the file */
	bool ct_held, ct_made;  /* a Tlcreate held until its Tflush */
	uint16_t ct_tag;
	uint64_t ct_path;
	atomic_int create_eexist; /* ... refused: the name was made already */
	/* hold_cattr: the first Tgetattr of a file made by Tlcreate is not
	 * answered (cattr_held set) until cattr_release is set and another
	 * message comes */
	atomic_bool hold_cattr, cattr_held, cattr_release;
	uint16_t cattr_tag;
	uint64_t cattr_path;
	/* the owner of "new*" files: the mode the last Tlcreate of one
	 * asked, and of the last Tsetattr of its mode; with chown_fail a
	 * Tsetattr of its owner answers EPERM; Tremove of one removes it */
	atomic_uint ct_mode, sa_mode;
	atomic_bool chown_fail;
	atomic_int new_removes;
	/* Tmkdir, Tsymlink, Tmknod that made a "new*" name */
	atomic_int mkdirs, symlinks, mknods;
	/* locks: a Tlock answers BLOCKED while lock_busy is set (SUCCESS
	 * else); a Tclunk is not answered while hold_clunks is set */
	atomic_bool lock_busy, hold_clunks;
	atomic_int tlocks, held_clunks;
	/* with hold_remove, the next Tremove of a "new*" file is held until
	 * its Tflush, then only flushed (the fid stays); rm_clunks counts
	 * the Tclunks of that fid after */
	atomic_bool hold_remove;
	bool rm_held;
	uint16_t rm_tag;
	uint32_t rm_fid;
	atomic_int rm_clunks;
	/* Twrites received; while hold_writes is set they are not answered
	 * (nor written) */
	atomic_int twrites;
	atomic_bool hold_writes;
};

/* the path each fid names (walks copy it): the server thread writes it,
 * the fixture clears it before the thread starts */
extern uint64_t fid_path[4096];
/* "bye" hung up already (bye_once) */
extern atomic_bool bye_done;
/* "lostc" was created (by a Tlcreate the server then hung up on) */
extern atomic_bool lostc_made;

/* Forgets the files Tlcreate made (before a new mount). */
void fake_reset(void);

/* Serves fs->fd until it ends (or a stall, see struct fake). */
void *fake_main(void *arg);

struct fx {
	const struct uvfs_config *cfg;  /* uvfs_new's (NULL: defaults) */
	struct uvfs *u;
	struct uvfs_ctx *c;
	struct fake fs;
	int cfd;
};

/* A fake server on one end of a socketpair, "9p" mounted at /m from the
 * other ("fd:N,N") with opts: uvfs_mount's result. */
int fx_mount(struct fx *x, const char *opts);
/* Forced unmount, the namespace freed, the server thread joined. */
void fx_done(struct fx *x);

long ms_since(const struct timespec *t0);

#endif /* UVFS_TESTS_P9FAKE_H */
