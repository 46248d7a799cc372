/*
 * conformance_locks.c - the file-lock part of the conformance body, run
 * against every type like the rest (included by conformance.c, whose
 * helpers and fixtures it uses).
 *
 * The embedding API's locks are owned by the open file description (as
 * Linux's OFD locks): two descriptions of one file conflict, a dup shares.
 * Every wait is bounded by a timeout with slack for a loaded machine; a
 * waiter's progress is watched, never assumed from a schedule.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/file.h>

static struct flock fl_of(short type, off_t start, off_t len)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = start;
	fl.l_len = len;
	return fl;
}

static int lk(struct uvfs_ctx *c, int fd, short type, off_t start, off_t len)
{
	struct flock fl = fl_of(type, start, len);

	return uvfs_fcntl_lock(c, fd, F_OFD_SETLK, &fl, -1);
}

/* F_OFD_GETLK for a write lock on [start, start+len): the holder's type,
 * and its range in *s, *l. */
static short holder(struct uvfs_ctx *c, int fd, off_t start, off_t len,
		    off_t *s, off_t *l)
{
	struct flock fl = fl_of(F_WRLCK, start, len);

	OK(uvfs_fcntl_lock(c, fd, F_OFD_GETLK, &fl, -1));
	if (fl.l_type != F_UNLCK) {
		assert_int_equal(fl.l_whence, SEEK_SET);
		assert_int_equal(fl.l_pid, -1);
		*s = fl.l_start;
		*l = fl.l_len;
	}
	return fl.l_type;
}

static int open2(const char *name, int *fd1, int *fd2)
{
	put(C, name, "0123456789");
	*fd1 = (int)OK(uvfs_open(C, name, O_RDWR, 0));
	*fd2 = (int)OK(uvfs_open(C, name, O_RDWR, 0));
	return 0;
}

static void test_lock_conflict(void **state)
{
	int fd1, fd2;
	off_t s = -1, l = -1;

	(void)state;
	open2("f", &fd1, &fd2);
	OK(lk(C, fd1, F_WRLCK, 0, 10));
	ERR(lk(C, fd2, F_WRLCK, 5, 1), EAGAIN);
	ERR(lk(C, fd2, F_RDLCK, 9, 0), EAGAIN);
	OK(lk(C, fd2, F_WRLCK, 10, 10));        /* next to it: no overlap */
	OK(lk(C, fd1, F_WRLCK, 0, 10));         /* its own again: fine */
	/* GETLK names the holder */
	assert_int_equal(holder(C, fd2, 3, 1, &s, &l), F_WRLCK);
	assert_int_equal(s, 0);
	assert_int_equal(l, 10);
	assert_int_equal(holder(C, fd1, 0, 5, &s, &l), F_UNLCK);
	/* read locks share */
	OK(lk(C, fd1, F_RDLCK, 100, 10));
	OK(lk(C, fd2, F_RDLCK, 105, 10));
	ERR(lk(C, fd2, F_WRLCK, 100, 1), EAGAIN);
	/* unlock frees it for the other */
	OK(lk(C, fd1, F_UNLCK, 0, 10));
	OK(lk(C, fd2, F_WRLCK, 5, 1));
	ERR(lk(C, fd1, F_WRLCK, 0, 0), EAGAIN);
	OK(uvfs_close(C, fd1));
	OK(uvfs_close(C, fd2));
}

static void test_lock_ranges(void **state)
{
	int fd1, fd2;
	off_t s = -1, l = -1;

	(void)state;
	open2("f", &fd1, &fd2);
	OK(lk(C, fd1, F_WRLCK, 0, 100));
	OK(lk(C, fd1, F_UNLCK, 40, 20));        /* split: [0,40) [60,100) */
	OK(lk(C, fd2, F_WRLCK, 45, 10));
	ERR(lk(C, fd2, F_WRLCK, 39, 1), EAGAIN);
	ERR(lk(C, fd2, F_WRLCK, 60, 1), EAGAIN);
	OK(lk(C, fd2, F_UNLCK, 45, 10));
	OK(lk(C, fd1, F_WRLCK, 40, 20));        /* merged back: [0,100) */
	assert_int_equal(holder(C, fd2, 50, 1, &s, &l), F_WRLCK);
	assert_int_equal(s, 0);
	assert_int_equal(l, 100);
	/* a new type replaces the old on its range only */
	OK(lk(C, fd1, F_RDLCK, 10, 10));
	OK(lk(C, fd2, F_RDLCK, 12, 2));
	ERR(lk(C, fd2, F_RDLCK, 9, 1), EAGAIN);
	ERR(lk(C, fd2, F_RDLCK, 20, 1), EAGAIN);
	/* to the end of the file, and relative to the end */
	OK(lk(C, fd1, F_UNLCK, 0, 0));
	OK(lk(C, fd2, F_UNLCK, 0, 0));
	struct flock fl = fl_of(F_WRLCK, -4, 2);
	fl.l_whence = SEEK_END;                 /* bytes 6 and 7 of 10 */
	OK(uvfs_fcntl_lock(C, fd1, F_OFD_SETLK, &fl, -1));
	ERR(lk(C, fd2, F_RDLCK, 7, 1), EAGAIN);
	OK(lk(C, fd2, F_RDLCK, 8, 0));
	fl = fl_of(F_WRLCK, 6, -6);             /* bytes 0..5 */
	OK(uvfs_fcntl_lock(C, fd1, F_OFD_SETLK, &fl, -1));
	ERR(lk(C, fd2, F_RDLCK, 0, 1), EAGAIN);
	OK(uvfs_close(C, fd1));
	OK(uvfs_close(C, fd2));
}

static void test_lock_args(void **state)
{
	struct flock fl;
	int ro, wo, rw;

	(void)state;
	put(C, "f", "x");
	ro = (int)OK(uvfs_open(C, "f", O_RDONLY, 0));
	wo = (int)OK(uvfs_open(C, "f", O_WRONLY, 0));
	rw = (int)OK(uvfs_open(C, "f", O_RDWR, 0));
	ERR(lk(C, ro, F_WRLCK, 0, 1), EBADF);
	ERR(lk(C, wo, F_RDLCK, 0, 1), EBADF);
	OK(lk(C, ro, F_RDLCK, 0, 1));
	OK(lk(C, wo, F_WRLCK, 1, 1));
	ERR(lk(C, rw, 42, 0, 1), EINVAL);
	fl = fl_of(F_WRLCK, 0, 1);
	fl.l_pid = 1;                           /* F_OFD_*: l_pid must be 0 */
	ERR(uvfs_fcntl_lock(C, rw, F_OFD_SETLK, &fl, -1), EINVAL);
	fl = fl_of(F_WRLCK, 0, -1);             /* before byte 0 */
	ERR(uvfs_fcntl_lock(C, rw, F_OFD_SETLK, &fl, -1), EINVAL);
	fl = fl_of(F_WRLCK, 0, 1);
	ERR(uvfs_fcntl_lock(C, rw, F_DUPFD, &fl, -1), EINVAL);
	ERR(uvfs_fcntl_lock(C, 999, F_OFD_SETLK, &fl, -1), EBADF);
	ERR(uvfs_flock(C, rw, 0, -1), EINVAL);
	OK(uvfs_close(C, ro));
	OK(uvfs_close(C, wo));
	OK(uvfs_close(C, rw));
}

static void test_lock_close_releases(void **state)
{
	int fd1, fd2, fd3;

	(void)state;
	open2("f", &fd1, &fd2);
	OK(lk(C, fd1, F_WRLCK, 0, 0));
	fd3 = (int)OK(uvfs_dup(C, fd1));
	OK(uvfs_close(C, fd1));                 /* the dup keeps it */
	ERR(lk(C, fd2, F_WRLCK, 0, 1), EAGAIN);
	OK(lk(C, fd3, F_RDLCK, 0, 0));          /* the dup is the owner */
	OK(uvfs_close(C, fd3));                 /* last close: gone */
	OK(lk(C, fd2, F_WRLCK, 0, 0));
	OK(uvfs_close(C, fd2));
}

static void test_lock_flock(void **state)
{
	int fd1, fd2;

	(void)state;
	open2("f", &fd1, &fd2);
	OK(uvfs_flock(C, fd1, LOCK_EX, -1));
	ERR(uvfs_flock(C, fd2, LOCK_SH | LOCK_NB, -1), EWOULDBLOCK);
	ERR(uvfs_flock(C, fd2, LOCK_EX | LOCK_NB, -1), EWOULDBLOCK);
	ERR(uvfs_flock(C, fd2, LOCK_EX, 100), ETIMEDOUT);
	OK(uvfs_flock(C, fd1, LOCK_SH | LOCK_NB, -1));      /* converted */
	OK(uvfs_flock(C, fd2, LOCK_SH | LOCK_NB, -1));
	ERR(uvfs_flock(C, fd1, LOCK_EX | LOCK_NB, -1), EWOULDBLOCK);
	OK(uvfs_flock(C, fd2, LOCK_UN, -1));
	OK(uvfs_flock(C, fd1, LOCK_EX | LOCK_NB, -1));
	OK(uvfs_close(C, fd1));                 /* the close releases */
	OK(uvfs_flock(C, fd2, LOCK_EX | LOCK_NB, -1));
	OK(uvfs_close(C, fd2));
}

/* A SETLKW on another context's descriptor, in a thread. */
struct waiter {
	struct uvfs_ctx *c;
	int fd;
	struct flock fl;
	int timeout_ms;
	atomic_int state;       /* 0 waiting, 1 returned */
	int r;
	pthread_t th;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;

	w->r = uvfs_fcntl_lock(w->c, w->fd, F_OFD_SETLKW, &w->fl,
			       w->timeout_ms);
	atomic_store(&w->state, 1);
	return NULL;
}

static void waiter_start(struct waiter *w, const char *path, short type)
{
	memset(w, 0, sizeof(*w));
	w->c = new_ctx(0, 0);
	w->fd = (int)OK(uvfs_open(w->c, path, O_RDWR, 0));
	w->fl = fl_of(type, 0, 0);
	w->timeout_ms = 30000;
	assert_int_equal(pthread_create(&w->th, NULL, waiter_main, w), 0);
}

/* Still waiting after ms (it had every chance to return wrongly). */
static void waiter_still(struct waiter *w, int ms)
{
	sleep_ms(ms);
	assert_int_equal(atomic_load(&w->state), 0);
}

/* Returns within 10 s (slack for a loaded machine): its result. */
static int waiter_end(struct waiter *w)
{
	for (int i = 0; i < 1000 && !atomic_load(&w->state); i++)
		sleep_ms(10);
	assert_int_equal(atomic_load(&w->state), 1);
	pthread_join(w->th, NULL);
	return w->r;
}

static void test_lock_wait_unlock(void **state)
{
	struct waiter w;
	int fd1;

	(void)state;
	put(C, "f", "x");
	fd1 = (int)OK(uvfs_open(C, "f", O_RDWR, 0));
	OK(lk(C, fd1, F_WRLCK, 0, 0));
	waiter_start(&w, abs_path("f"), F_WRLCK);
	waiter_still(&w, 200);
	OK(lk(C, fd1, F_UNLCK, 0, 0));
	OK(waiter_end(&w));
	ERR(lk(C, fd1, F_RDLCK, 0, 1), EAGAIN); /* the waiter has it now */
	OK(uvfs_close(w.c, w.fd));
	OK(uvfs_close(C, fd1));
}

static void test_lock_wait_timeout(void **state)
{
	struct timespec t0, t1;
	struct flock fl = fl_of(F_WRLCK, 0, 1);
	int fd1, fd2;

	(void)state;
	open2("f", &fd1, &fd2);
	OK(lk(C, fd1, F_WRLCK, 0, 1));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ERR(uvfs_fcntl_lock(C, fd2, F_OFD_SETLKW, &fl, 300), ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 +
		  (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 290);
	assert_true(ms < 10000);
	/* the request that timed out was not granted */
	OK(lk(C, fd1, F_UNLCK, 0, 1));
	OK(lk(C, fd1, F_WRLCK, 0, 1));
	OK(uvfs_close(C, fd1));
	OK(uvfs_close(C, fd2));
}

static void test_lock_wait_revoke(void **state)
{
	struct waiter w;
	int fd1;

	(void)state;
	put(C, "f", "x");
	fd1 = (int)OK(uvfs_open(C, "f", O_RDWR, 0));
	OK(lk(C, fd1, F_WRLCK, 0, 0));
	waiter_start(&w, abs_path("f"), F_WRLCK);
	waiter_still(&w, 100);
	OK(uvfs_revoke(C, "f"));
	ERR(waiter_end(&w), EIO);
	ERR(lk(C, fd1, F_UNLCK, 0, 0), EIO);    /* dead: the locks are gone */
	OK(uvfs_close(w.c, w.fd));
	OK(uvfs_close(C, fd1));
	/* a new open is a new file with no lock */
	fd1 = (int)OK(uvfs_open(C, "f", O_RDWR, 0));
	OK(lk(C, fd1, F_WRLCK, 0, 0));
	OK(uvfs_close(C, fd1));
}

static void test_lock_wait_umount(void **state)
{
	struct waiter w;
	int fd1;

	(void)state;
	mount_memfs("m");
	put(C, "m/f", "x");
	fd1 = (int)OK(uvfs_open(C, "m/f", O_RDWR, 0));
	OK(lk(C, fd1, F_WRLCK, 0, 0));
	waiter_start(&w, abs_path("m/f"), F_WRLCK);
	waiter_still(&w, 100);
	OK(uvfs_umount(C, abs_path("m"), UVFS_UMOUNT_FORCE));
	ERR(waiter_end(&w), EIO);
	OK(uvfs_close(w.c, w.fd));
	OK(uvfs_close(C, fd1));
	uvfs_settle(U, 10000);  /* the kill's second half lets go of D */
	for (int i = 0; i < MAX_EXTRA; i++)
		if (strcmp(extra_mounts[i], abs_path("m")) == 0)
			extra_mounts[i][0] = '\0';
}
