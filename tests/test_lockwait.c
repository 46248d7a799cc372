/*
 * test_lockwait.c - the asynchronous blocking lock of the node API
 * (uvfs_file_lock_async): many waits queued without a thread each, each
 * callback run exactly once, with no library lock held, in the order the
 * waits were queued, for a grant (an unlock, an owner's unlock, a
 * handle's release), a cancel (-EINTR), a revoke and a forced unmount
 * (-EIO); a suspended mount's waits hold up no other mount's, and end
 * (-EIO) when it is torn down, nor do those of a mount whose file server
 * hangs; and the same under threads that queue, cancel and unlock at once
 * (run under ThreadSanitizer too).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <uvfs/fs.h>
#include <uvfs/uvfs.h>

static struct uvfs *U;
static struct uvfs_ctx *C;
static struct uvfs_node *Root, *Mnt, *F;

/* One wait: what its callback saw. */
struct rec {
	struct uvfs_lock_wait *w;
	struct uvfs_file *h;            /* for the callback's own call */
	uint64_t owner;
	atomic_int calls;
	atomic_int err;
	atomic_int order;               /* 1 + its place among the ends */
};

static pthread_mutex_t ends_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ends_cv = PTHREAD_COND_INITIALIZER;
static int nends;                       /* ends_lock */

static void done(void *arg, int err)
{
	struct rec *r = arg;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	/* no library lock is held here: a call that takes the lock
	 * manager's lock must not hang */
	if (r->h)
		(void)uvfs_file_lock(r->h, 999999, 0, F_GETLK, &fl, 1, NULL);
	atomic_store(&r->err, err);
	pthread_mutex_lock(&ends_lock);
	atomic_store(&r->order, ++nends);
	atomic_fetch_add(&r->calls, 1);
	pthread_cond_broadcast(&ends_cv);
	pthread_mutex_unlock(&ends_lock);
}

/* Waits (5 s at most) until n waits in all have ended. */
static void ends_reach(int n)
{
	struct timespec dl;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 5;
	pthread_mutex_lock(&ends_lock);
	while (nends < n &&
	       pthread_cond_timedwait(&ends_cv, &ends_lock, &dl) == 0)
		;
	int got = nends;
	pthread_mutex_unlock(&ends_lock);
	assert_int_equal(got, n);
}

/* No further end comes within 50 ms. */
static void ends_stay(int n)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	pthread_mutex_lock(&ends_lock);
	int got = nends;
	pthread_mutex_unlock(&ends_lock);
	assert_int_equal(got, n);
}

static int nthreads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static int flk(struct uvfs_file *h, uint64_t owner, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET };

	return uvfs_file_lock(h, owner, 1, F_SETLK, &fl, 1, NULL);
}

static int queue(struct rec *r, struct uvfs_file *h, uint64_t owner,
		 short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET };

	memset(r, 0, sizeof(*r));
	r->w = uvfs_lock_wait_new();
	assert_non_null(r->w);
	r->h = h;
	r->owner = owner;
	return uvfs_file_lock_async(h, owner, 1, &fl, 1, r->w, done, r);
}

static int setup(void **state)
{
	struct stat st;

	(void)state;
	nends = 0;
	if (uvfs_new(NULL, &U) || uvfs_ctx_new(U, NULL, &C))
		return -1;
	if (uvfs_mkdir(C, "/mnt", 0755) ||
	    uvfs_mount(C, "memfs", "none", "/mnt", ""))
		return -1;
	if (uvfs_node_root(C, &Root) ||
	    uvfs_node_lookup(C, Root, "mnt", &Mnt, &st) ||
	    uvfs_node_create(C, Mnt, "f", S_IFREG | 0644, 0, NULL, &F, &st))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	struct uvfs_stats st;

	(void)state;
	uvfs_node_release(F, 1);
	uvfs_node_release(Mnt, 1);
	uvfs_node_release(Root, 1);
	assert_int_equal(uvfs_settle(U, 5000), 0);     /* a killed mount's */
	uvfs_stats(U, &st);
	assert_int_equal(st.nodes, 0);
	assert_int_equal(st.files, 0);
	uvfs_ctx_free(C);
	uvfs_free(U);
	return 0;
}

#define MANY 300

/* Many waits, no thread each; granted one by one in their order. */
static void many_waits_in_order(void **state)
{
	static struct rec r[MANY];
	struct uvfs_file *h;
	int before;

	(void)state;
	assert_int_equal(uvfs_node_open(C, F, O_RDWR, "t", &h), 0);
	assert_int_equal(flk(h, 1, F_WRLCK), 0);
	before = nthreads();
	for (int i = 0; i < MANY; i++)
		assert_int_equal(queue(&r[i], h, 100 + i, F_WRLCK),
				 -EINPROGRESS);
	/* one thread for every wait of the instance, at most */
	assert_true(nthreads() <= before + 1);
	ends_stay(0);
	/* a lock that does not conflict is granted at once, no callback */
	struct rec sh;
	assert_int_equal(flk(h, 1, F_UNLCK), 0);
	ends_reach(1);
	assert_int_equal(atomic_load(&r[0].err), 0);
	for (int i = 1; i < MANY; i++) {
		ends_stay(i);
		assert_int_equal(flk(h, 100 + i - 1, F_UNLCK), 0);
		ends_reach(i + 1);
		assert_int_equal(atomic_load(&r[i].order), i + 1);
		assert_int_equal(atomic_load(&r[i].err), 0);
	}
	/* the last one holds it: a new request is refused, then waits */
	assert_int_equal(flk(h, 7, F_RDLCK), -EAGAIN);
	assert_int_equal(queue(&sh, h, 7, F_RDLCK), -EINPROGRESS);
	assert_int_equal(uvfs_file_unlock_owner(h, 100 + MANY - 1, 1), 0);
	ends_reach(MANY + 1);
	assert_int_equal(atomic_load(&sh.err), 0);
	assert_int_equal(flk(h, 7, F_UNLCK), 0);
	ends_stay(MANY + 1);
	for (int i = 0; i < MANY; i++) {
		assert_int_equal(atomic_load(&r[i].calls), 1);
		uvfs_lock_wait_free(r[i].w);
	}
	assert_int_equal(atomic_load(&sh.calls), 1);
	uvfs_lock_wait_free(sh.w);
	uvfs_file_release(h);
}

/* A cancel ends one wait (-EINTR) and not the others; a cancel after
 * the end changes nothing; a wait cancelled before it is queued ends at
 * once.  A handle's release grants the next. */
static void cancel_and_release(void **state)
{
	struct rec a, b, c, d;
	struct uvfs_file *h, *hh;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_start = 0, .l_len = 10 };

	(void)state;
	assert_int_equal(uvfs_node_open(C, F, O_RDWR, "t", &h), 0);
	assert_int_equal(uvfs_node_open(C, F, O_RDWR, "t", &hh), 0);
	/* POSIX record locks: ranges */
	assert_int_equal(uvfs_file_lock(hh, 1, 0, F_SETLK, &fl, 1, NULL), 0);
	memset(&a, 0, sizeof(a));
	a.w = uvfs_lock_wait_new();
	fl.l_start = 5;
	fl.l_len = 1;
	assert_int_equal(uvfs_file_lock_async(h, 2, 0, &fl, 1, a.w, done, &a),
			 -EINPROGRESS);
	fl.l_start = 10;        /* next to it: at once */
	memset(&d, 0, sizeof(d));
	d.w = uvfs_lock_wait_new();
	assert_int_equal(uvfs_file_lock_async(h, 3, 0, &fl, 1, d.w, done, &d),
			 0);
	assert_int_equal(queue(&b, h, 4, F_WRLCK), 0);  /* flock: free */
	assert_int_equal(queue(&c, h, 5, F_WRLCK), -EINPROGRESS);
	uvfs_lock_wait_cancel(c.w);
	ends_reach(1);
	assert_int_equal(atomic_load(&c.err), -EINTR);
	ends_stay(1);
	/* cancelled before: ends by the callback, -EINTR */
	struct rec e;
	memset(&e, 0, sizeof(e));
	e.w = uvfs_lock_wait_new();
	uvfs_lock_wait_cancel(e.w);
	fl.l_start = 0;
	assert_int_equal(uvfs_file_lock_async(h, 6, 0, &fl, 1, e.w, done, &e),
			 -EINPROGRESS);
	ends_reach(2);
	assert_int_equal(atomic_load(&e.err), -EINTR);
	/* the holder's handle goes: its locks with it */
	uvfs_file_release(hh);
	ends_reach(3);
	assert_int_equal(atomic_load(&a.err), 0);
	uvfs_lock_wait_cancel(a.w);     /* too late: nothing */
	ends_stay(3);
	assert_int_equal(atomic_load(&a.calls), 1);
	assert_int_equal(atomic_load(&b.calls), 0);
	assert_int_equal(atomic_load(&c.calls), 1);
	assert_int_equal(atomic_load(&d.calls), 0);
	assert_int_equal(atomic_load(&e.calls), 1);
	uvfs_lock_wait_free(a.w);
	uvfs_lock_wait_free(b.w);
	uvfs_lock_wait_free(c.w);
	uvfs_lock_wait_free(d.w);
	uvfs_lock_wait_free(e.w);
	uvfs_file_release(h);
}

/* A revoke (kill == 0) or a forced unmount (1) ends every wait: -EIO. */
static void dead_file(int kill)
{
	struct rec r[8];
	struct uvfs_file *h;

	assert_int_equal(uvfs_node_open(C, F, O_RDWR, "t", &h), 0);
	assert_int_equal(flk(h, 1, F_WRLCK), 0);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(queue(&r[i], h, 10 + i, F_RDLCK),
				 -EINPROGRESS);
		if (kill)       /* (its call would meet a dead mount) */
			r[i].h = NULL;
	}
	ends_stay(0);
	if (kill)
		assert_int_equal(uvfs_umount(C, "/mnt", UVFS_UMOUNT_FORCE), 0);
	else
		assert_int_equal(uvfs_revoke(C, "/mnt/f"), 0);
	ends_reach(8);
	ends_stay(8);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(atomic_load(&r[i].calls), 1);
		assert_int_equal(atomic_load(&r[i].err), -EIO);
		uvfs_lock_wait_free(r[i].w);
	}
	/* and a new one on the dead file is refused at once */
	struct rec x;
	assert_int_equal(queue(&x, h, 99, F_RDLCK), -EIO);
	uvfs_lock_wait_free(x.w);
	uvfs_file_release(h);
}

static void revoke_ends_waits(void **state)
{
	(void)state;
	dead_file(0);
}

static void forced_unmount_ends_waits(void **state)
{
	(void)state;
	dead_file(1);
}

/* Waits at a suspended mount do not hold up another mount's (the
 * thread does not wait at its gate); its forced unmount ends them. */
static void suspended_mount(void **state)
{
	struct uvfs_node *m2, *g;
	struct uvfs_file *h, *h2;
	struct rec r[4], x;
	struct stat st;

	(void)state;
	assert_int_equal(uvfs_mkdir(C, "/m2", 0755), 0);
	assert_int_equal(uvfs_mount(C, "memfs", "none", "/m2", ""), 0);
	assert_int_equal(uvfs_node_lookup(C, Root, "m2", &m2, &st), 0);
	assert_int_equal(uvfs_node_create(C, m2, "g", S_IFREG | 0644, 0, NULL,
					  &g, &st), 0);
	assert_int_equal(uvfs_node_open(C, F, O_RDWR, "t", &h), 0);
	assert_int_equal(uvfs_node_open(C, g, O_RDWR, "t", &h2), 0);
	assert_int_equal(flk(h, 1, F_WRLCK), 0);
	assert_int_equal(flk(h2, 1, F_WRLCK), 0);
	for (int i = 0; i < 4; i++) {   /* first in the queue */
		assert_int_equal(queue(&r[i], h, 10 + i, F_WRLCK),
				 -EINPROGRESS);
		r[i].h = NULL;          /* (its call would wait at the gate) */
	}
	assert_int_equal(queue(&x, h2, 2, F_WRLCK), -EINPROGRESS);
	assert_int_equal(uvfs_suspend(C, "/mnt"), 0);
	assert_int_equal(flk(h2, 1, F_UNLCK), 0);
	ends_reach(1);
	assert_int_equal(atomic_load(&x.err), 0);
	assert_int_equal(uvfs_umount(C, "/mnt", UVFS_UMOUNT_FORCE), 0);
	ends_reach(5);
	ends_stay(5);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(atomic_load(&r[i].calls), 1);
		assert_int_equal(atomic_load(&r[i].err), -EIO);
		uvfs_lock_wait_free(r[i].w);
	}
	assert_int_equal(atomic_load(&x.calls), 1);
	uvfs_lock_wait_free(x.w);
	uvfs_file_release(h);
	uvfs_file_release(h2);
	uvfs_node_release(g, 1);
	uvfs_node_release(m2, 1);
	assert_int_equal(uvfs_umount(C, "/m2", 0), 0);
}

/* A file system whose locks a server keeps (a lock op), and the server
 * stops answering: memfs with a lock op that says another client holds
 * every lock (SLOW_HELD), or hangs until told (SLOW_HANG), or grants
 * (SLOW_FREE). */
enum { SLOW_FREE, SLOW_HELD, SLOW_HANG };
static pthread_mutex_t slow_lock_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slow_cv = PTHREAD_COND_INITIALIZER;
static int slow_state;                  /* slow_lock_m */
static int slow_hanging;                /* slow_lock_m: calls hung */

static int slow_lock(struct uvfs_sb *sb, void *priv, void *fh, int cmd,
		     struct uvfs_lock *lk)
{
	int r = 0;

	(void)sb, (void)priv, (void)fh;
	if (cmd != UVFS_LOCK_SET || lk->type == F_UNLCK)
		return 0;
	pthread_mutex_lock(&slow_lock_m);
	while (slow_state == SLOW_HANG) {
		slow_hanging++;
		pthread_cond_broadcast(&slow_cv);
		pthread_cond_wait(&slow_cv, &slow_lock_m);
		slow_hanging--;
	}
	if (slow_state == SLOW_HELD)
		r = -EAGAIN;
	pthread_mutex_unlock(&slow_lock_m);
	return r;
}

static void slow_set(int state)
{
	pthread_mutex_lock(&slow_lock_m);
	slow_state = state;
	pthread_cond_broadcast(&slow_cv);
	pthread_mutex_unlock(&slow_lock_m);
}

/* A wait on a mount whose server hangs holds up no other mount's: a
 * driver's locks have a queue and thread of their own (one thread for
 * every queue held the memfs grant up for as long as the server hung),
 * which goes with the sb. */
static void driver_lock_hang(void **state)
{
	static struct uvfs_fstype_ops slow_ops;
	struct uvfs_node *s, *g;
	struct uvfs_file *h, *h2;
	struct rec r, x;
	struct stat st;

	(void)state;
	slow_ops = uvfs_memfs_ops;
	slow_ops.name = "slowlk";
	slow_ops.lock = slow_lock;
	assert_int_equal(uvfs_fstype_register(U, &slow_ops), 0);
	assert_int_equal(uvfs_mkdir(C, "/s", 0755), 0);
	assert_int_equal(uvfs_mount(C, "slowlk", "none", "/s", ""), 0);
	assert_int_equal(uvfs_node_lookup(C, Root, "s", &s, &st), 0);
	assert_int_equal(uvfs_node_create(C, s, "g", S_IFREG | 0644, 0, NULL,
					  &g, &st), 0);
	assert_int_equal(uvfs_node_open(C, F, O_RDWR, "t", &h), 0);
	assert_int_equal(uvfs_node_open(C, g, O_RDWR, "t", &h2), 0);
	int before = nthreads();

	/* held by another client of the server: x waits, polled */
	slow_set(SLOW_HELD);
	assert_int_equal(queue(&x, h2, 2, F_WRLCK), -EINPROGRESS);
	x.h = NULL;             /* (its call would ask the hung server) */
	/* then the server hangs in the middle of a poll */
	slow_set(SLOW_HANG);
	pthread_mutex_lock(&slow_lock_m);
	while (slow_hanging == 0)
		pthread_cond_wait(&slow_cv, &slow_lock_m);
	pthread_mutex_unlock(&slow_lock_m);
	/* a memfs wait is granted all the same */
	assert_int_equal(flk(h, 1, F_WRLCK), 0);
	assert_int_equal(queue(&r, h, 2, F_WRLCK), -EINPROGRESS);
	assert_int_equal(flk(h, 1, F_UNLCK), 0);
	ends_reach(1);
	assert_int_equal(atomic_load(&r.err), 0);
	assert_int_equal(atomic_load(&x.calls), 0);
	/* the server answers again, and grants */
	slow_set(SLOW_FREE);
	ends_reach(2);
	assert_int_equal(atomic_load(&x.err), 0);
	assert_int_equal(atomic_load(&x.calls), 1);
	uvfs_lock_wait_free(r.w);
	uvfs_lock_wait_free(x.w);
	uvfs_file_release(h);
	uvfs_file_release(h2);
	uvfs_node_release(g, 1);
	uvfs_node_release(s, 1);
	/* the thread drops a wait's file reference just after its callback:
	 * busy for a moment */
	int um, tries = 0;
	while ((um = uvfs_umount(C, "/s", 0)) == -EBUSY && tries++ < 200)
		usleep(10 * 1000);
	assert_int_equal(um, 0);
	assert_int_equal(uvfs_settle(U, 5000), 0);
	/* the instance's queue thread came, the sb's went with it */
	assert_int_equal(nthreads(), before + 1);
}

/* Threads queue and cancel while the holder takes and drops the lock:
 * every callback runs once. */
#define THREADS 4
#define PER 100
static struct uvfs_file *Hs;
static struct rec Rs[THREADS][PER];

static void *queuer(void *arg)
{
	int t = (int)(intptr_t)arg;

	for (int i = 0; i < PER; i++) {
		struct rec *r = &Rs[t][i];
		int e = queue(r, Hs, 1000 + t * PER + i,
			      i % 3 ? F_RDLCK : F_WRLCK);

		if (e != -EINPROGRESS) {
			/* granted at once: let it go; no callback */
			assert_int_equal(e, 0);
			atomic_store(&r->calls, -1);
			flk(Hs, r->owner, F_UNLCK);
		} else if (i % 2) {
			uvfs_lock_wait_cancel(r->w);
		}
	}
	return NULL;
}

static void threads_queue_cancel_unlock(void **state)
{
	pthread_t th[THREADS];
	int expect = 0;

	(void)state;
	assert_int_equal(uvfs_node_open(C, F, O_RDWR, "t", &Hs), 0);
	assert_int_equal(flk(Hs, 1, F_WRLCK), 0);
	for (int t = 0; t < THREADS; t++)
		pthread_create(&th[t], NULL, queuer, (void *)(intptr_t)t);
	for (int i = 0; i < 50; i++) {
		flk(Hs, 1, F_UNLCK);
		flk(Hs, 1, F_WRLCK);    /* may be refused: fine */
	}
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	flk(Hs, 1, F_UNLCK);
	/* every granted one lets go, until all have ended */
	for (int round = 0; round < 200; round++) {
		bool left = false;

		for (int t = 0; t < THREADS; t++)
			for (int i = 0; i < PER; i++) {
				struct rec *r = &Rs[t][i];

				if (atomic_load(&r->calls) == 1 &&
				    atomic_load(&r->err) == 0)
					flk(Hs, r->owner, F_UNLCK);
				left |= atomic_load(&r->calls) == 0;
			}
		if (!left)
			break;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	for (int t = 0; t < THREADS; t++)
		for (int i = 0; i < PER; i++)
			expect += atomic_load(&Rs[t][i].calls) != -1;
	ends_reach(expect);
	ends_stay(expect);
	for (int t = 0; t < THREADS; t++)
		for (int i = 0; i < PER; i++) {
			struct rec *r = &Rs[t][i];
			int c = atomic_load(&r->calls), e = atomic_load(&r->err);

			assert_true(c == -1 || c == 1);
			assert_true(c == -1 || e == 0 || e == -EINTR);
			flk(Hs, r->owner, F_UNLCK);
			uvfs_lock_wait_free(r->w);
		}
	uvfs_file_release(Hs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(many_waits_in_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(cancel_and_release, setup,
						teardown),
		cmocka_unit_test_setup_teardown(revoke_ends_waits, setup,
						teardown),
		cmocka_unit_test_setup_teardown(forced_unmount_ends_waits,
						setup, teardown),
		cmocka_unit_test_setup_teardown(suspended_mount, setup,
						teardown),
		cmocka_unit_test_setup_teardown(threads_queue_cancel_unlock,
						setup, teardown),
		cmocka_unit_test_setup_teardown(driver_lock_hang, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
