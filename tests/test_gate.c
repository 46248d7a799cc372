/*
 * test_gate.c - unit tests of the superblock gate: entry and exit, nested
 * entry while a close is pending, a close that waits for the operations
 * inside, a timed-out drain, kill, many threads entering while another
 * closes and opens, and a parked continuation of a killed gate that
 * entrants keep knocking on.  Threads that switch gates on every entry
 * (each entry first bumps the record of the gate before, and takes it
 * back): while one gate closes, is killed or is destroyed and freed.
 * The same again with the gate's fallback
 * for a system without sys_membarrier (GATE_OPEN_FENCED: every entry and
 * exit fenced, in the slow path).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "gate.h"

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void enter_exit(void **state)
{
	struct gate g;
	struct gate_rec *r;

	(void)state;
	gate_init(&g);
	assert_int_equal(gate_enter(&g, &r), 0);
	gate_exit(r);
	assert_int_equal(gate_close(&g, 100), 0);
	assert_true(gate_is_closed(&g));
	gate_open(&g);
	assert_false(gate_is_closed(&g));
	gate_destroy(&g);
}

/* Runs fn in a child with its stderr into a pipe; checks that it stopped
 * with the invariant's message (SIGABRT, "invariant broken"). */
static void expect_panic(void (*fn)(void))
{
	int fds[2], status;
	char msg[256] = "";
	ssize_t n;
	pid_t pid;

#ifdef NDEBUG
	/* a release build has no invariant checks to stop it */
	print_message("skipped: built with NDEBUG (no UVFS_VERIFY)\n");
	skip();
#endif
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 2);
		fn();
		_exit(0);
	}
	close(fds[1]);
	n = read(fds[0], msg, sizeof(msg) - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	assert_non_null(strstr(msg, "invariant broken"));
}

static void leave_twice(void)
{
	struct gate g;
	struct gate_rec *r;

	gate_init(&g);
	if (gate_enter(&g, &r) != 0)
		_exit(3);
	gate_leave(&g, r);
	gate_leave(&g, r);      /* one too many */
}

/* A leave without its enter (the count would go below zero) stops the
 * process with the invariant's message, in the build these tests run in
 * (no NDEBUG): the check on gate_leave is the decrement's own sign
 * (gate_count_dec_checked).  Balanced ones never do: enter_exit above. */
static void unbalanced_leave_panics(void **state)
{
	(void)state;
	expect_panic(leave_twice);
}

static void unchecked_leave_then_close(void)
{
	struct gate g;
	struct gate_rec *r;

	gate_init(&g);
	if (gate_enter(&g, &r) != 0)
		_exit(3);
	gate_count_add(r, -1);  /* vop_call's leave: no check */
	gate_count_add(r, -1);  /* one too many */
	gate_close(&g, 100);    /* must not drain on a sum of -1 */
	_exit(4);
}

/* vop_call's own leave does not check (the increment it takes back is
 * its own): a count taken below zero there is caught by the next reading
 * of the counts, here a close, before the closer could believe them. */
static void unchecked_underflow_caught_at_close(void **state)
{
	(void)state;
	expect_panic(unchecked_leave_then_close);
}

static void nested_while_closing(void **state)
{
	struct gate g;
	struct gate_rec *r1, *r2;

	(void)state;
	gate_init(&g);
	assert_int_equal(gate_enter(&g, &r1), 0);
	/* the drain cannot finish: we are inside */
	assert_int_equal(gate_close(&g, 50), -ETIMEDOUT);
	/* nested entry still works while it is closed */
	assert_int_equal(gate_enter(&g, &r2), 0);
	gate_exit(r2);
	gate_exit(r1);
	assert_int_equal(gate_drain(&g, 100), 0);
	gate_open(&g);
	gate_destroy(&g);
}

struct holder {
	struct gate *g;
	int hold_ms;
	int entered;
	long entered_at;
};

static void *hold_thread(void *arg)
{
	struct holder *h = arg;
	struct gate_rec *r;

	if (gate_enter(h->g, &r) == 0) {
		__atomic_store_n(&h->entered_at, now_ms(), __ATOMIC_RELAXED);
		__atomic_store_n(&h->entered, 1, __ATOMIC_RELEASE);
		usleep((useconds_t)h->hold_ms * 1000);
		gate_exit(r);
	} else {
		__atomic_store_n(&h->entered_at, now_ms(), __ATOMIC_RELAXED);
		__atomic_store_n(&h->entered, -1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void close_waits_for_inside(void **state)
{
	struct gate g;
	struct holder h = { &g, 200, 0, 0 };
	pthread_t t;

	(void)state;
	gate_init(&g);
	pthread_create(&t, NULL, hold_thread, &h);
	while (!__atomic_load_n(&h.entered, __ATOMIC_ACQUIRE))
		usleep(1000);
	long t0 = now_ms();
	assert_int_equal(gate_close(&g, 5000), 0);
	long waited = now_ms() - t0;
	assert_true(waited >= 100);     /* it did wait for the holder */
	pthread_join(t, NULL);
	gate_open(&g);
	gate_destroy(&g);
}

static void closed_gate_blocks_until_open(void **state)
{
	struct gate g;
	struct holder h = { &g, 0, 0, 0 };
	pthread_t t;

	(void)state;
	gate_init(&g);
	assert_int_equal(gate_close(&g, 100), 0);
	pthread_create(&t, NULL, hold_thread, &h);
	usleep(100 * 1000);
	assert_int_equal(__atomic_load_n(&h.entered, __ATOMIC_ACQUIRE), 0);
	long t0 = now_ms();
	gate_open(&g);
	pthread_join(t, NULL);
	assert_int_equal(h.entered, 1);
	assert_true(h.entered_at >= t0);
	gate_destroy(&g);
}

static void kill_wakes_waiters_dead(void **state)
{
	struct gate g;
	struct holder h = { &g, 0, 0, 0 };
	struct gate_rec *r;
	pthread_t t;

	(void)state;
	gate_init(&g);
	assert_int_equal(gate_close(&g, 100), 0);
	pthread_create(&t, NULL, hold_thread, &h);
	usleep(50 * 1000);
	gate_kill(&g);
	pthread_join(t, NULL);
	assert_int_equal(h.entered, -1);
	assert_int_equal(gate_enter(&g, &r), GATE_DEAD);
	gate_destroy(&g);
}

struct storm {
	struct gate *g;
	int stop;
	long inside;            /* protected by the gate itself */
	long ops;
	int bad;
};

static void *storm_thread(void *arg)
{
	struct storm *s = arg;
	struct gate_rec *r;

	while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
		if (gate_enter(s->g, &r) != 0)
			continue;
		__atomic_add_fetch(&s->inside, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&s->ops, 1, __ATOMIC_RELAXED);
		__atomic_sub_fetch(&s->inside, 1, __ATOMIC_RELAXED);
		gate_exit(r);
	}
	return NULL;
}

/* While closed and drained, nobody is inside: the property revoke and
 * unmount rely on. */
static void storm_close_open(void **state)
{
	struct gate g;
	struct storm s = { &g, 0, 0, 0, 0 };
	pthread_t t[4];

	(void)state;
	gate_init(&g);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, storm_thread, &s);
	for (int i = 0; i < 300; i++) {
		assert_int_equal(gate_close(&g, 5000), 0);
		long before = __atomic_load_n(&s.ops, __ATOMIC_RELAXED);
		if (__atomic_load_n(&s.inside, __ATOMIC_RELAXED) != 0)
			s.bad++;
		usleep(100);
		if (__atomic_load_n(&s.ops, __ATOMIC_RELAXED) != before)
			s.bad++;
		gate_open(&g);
		usleep(200);
	}
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(s.bad, 0);
	assert_true(s.ops > 0);
	gate_destroy(&g);
}

/* A killed gate whose drain timed out parks a continuation; entrants keep
 * knocking (each bumps its count, sees the gate killed and takes the bump
 * back) while one operation is still inside.  The continuation runs once,
 * after that operation left, and never while anyone is inside, whoever
 * drops the last count: the exiter or a knocking entrant. */
struct park {
	struct gate *g;
	int stop;
	int ran;                /* the continuation's runs */
	int inside_at_run;      /* operations inside when it ran */
	long inside;
	int release;            /* the holder may leave */
};

static void parked_fn(void *arg)
{
	struct park *p = arg;

	p->inside_at_run += (int)__atomic_load_n(&p->inside, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&p->ran, 1, __ATOMIC_SEQ_CST);
}

static void *knock_thread(void *arg)
{
	struct park *p = arg;
	struct gate_rec *r;

	while (!__atomic_load_n(&p->stop, __ATOMIC_RELAXED))
		if (gate_enter(p->g, &r) == 0) {
			__atomic_add_fetch(&p->inside, 1, __ATOMIC_SEQ_CST);
			__atomic_sub_fetch(&p->inside, 1, __ATOMIC_SEQ_CST);
			gate_exit(r);
		}
	return NULL;
}

static void *holder_thread(void *arg)
{
	struct park *p = arg;
	struct gate_rec *r;

	if (gate_enter(p->g, &r) != 0)
		return NULL;
	__atomic_add_fetch(&p->inside, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&p->release, __ATOMIC_SEQ_CST))
		usleep(1000);
	__atomic_sub_fetch(&p->inside, 1, __ATOMIC_SEQ_CST);
	gate_exit(r);
	return NULL;
}

static void park_with_knocking_entrants(void **state)
{
	(void)state;
	for (int round = 0; round < 20; round++) {
		struct gate g;
		struct park p = { .g = &g };
		pthread_t k[3], h;

		gate_init(&g);
		pthread_create(&h, NULL, holder_thread, &p);
		while (__atomic_load_n(&p.inside, __ATOMIC_SEQ_CST) == 0)
			usleep(100);
		for (int i = 0; i < 3; i++)
			pthread_create(&k[i], NULL, knock_thread, &p);
		usleep(2000);
		gate_kill(&g);
		/* what a forced unmount's worker does (umount.c) */
		rcu_grace();
		assert_int_equal(gate_drain(&g, 5), -ETIMEDOUT);
		assert_true(gate_park(&g, parked_fn, &p));
		usleep(2000);
		assert_int_equal(__atomic_load_n(&p.ran, __ATOMIC_SEQ_CST), 0);
		__atomic_store_n(&p.release, 1, __ATOMIC_SEQ_CST);
		pthread_join(h, NULL);
		for (long t0 = now_ms(); now_ms() - t0 < 5000 &&
		     __atomic_load_n(&p.ran, __ATOMIC_SEQ_CST) == 0;)
			usleep(1000);
		__atomic_store_n(&p.stop, 1, __ATOMIC_RELAXED);
		for (int i = 0; i < 3; i++)
			pthread_join(k[i], NULL);
		assert_int_equal(p.ran, 1);
		assert_int_equal(p.inside_at_run, 0);
		assert_int_equal(gate_inside(&g), 0);
		gate_destroy(&g);
	}
}

/* An entrant bumps its thread's last record before it looks at the key,
 * and that record may be another gate's.  When that gate is killed and
 * parked meanwhile, the park may have counted the bump: taking it back
 * must count as a leave, or the continuation never runs.  gate_undo
 * (vop_call's slow path), then gate_enter's miss. */
static void undo_runs_parked_continuation(void **state)
{
	struct gate a;
	struct park p = { .g = &a };
	struct gate_rec *r;

	(void)state;
	gate_init(&a);
	assert_int_equal(gate_enter(&a, &r), 0);
	gate_exit(r);                   /* r: this thread's last record */
	gate_kill(&a);
	rcu_grace();
	gate_count_add(r, 1);           /* an entrant of another gate */
	assert_true(gate_park(&a, parked_fn, &p));
	assert_int_equal(p.ran, 0);
	gate_undo(r, NULL);     /* entering another gate */
	assert_int_equal(p.ran, 1);
	assert_int_equal(gate_inside(&a), 0);

	/* the same through gate_enter's miss: entering b, after the fast
	 * path's bump of a's record (still the last) */
	struct gate b;
	struct gate_rec *rb;

	gate_init(&b);
	gate_count_add(r, 1);
	assert_true(gate_park(&a, parked_fn, &p));
	assert_int_equal(gate_enter_miss(&b, r, &rb), 0);
	assert_int_equal(p.ran, 2);
	assert_int_equal(gate_inside(&a), 0);
	assert_int_equal(gate_inside(&b), 1);
	gate_exit(rb);
	gate_destroy(&b);
	gate_destroy(&a);
}

/* The same through gate_enter: one operation stays inside a killed gate
 * a with a continuation parked, while threads alternate between a (they
 * find it killed, a's record their last) and another gate b, whose every
 * entry bumps the record of a first.  When the operation inside leaves,
 * a bump may be up at that moment: then its take-back must run the
 * continuation.  It runs once, whoever drops the last count. */
struct swpark {
	struct park p;
	struct gate *b;
};

static void *swpark_thread(void *arg)
{
	struct swpark *w = arg;
	struct gate_rec *r;

	while (!__atomic_load_n(&w->p.stop, __ATOMIC_RELAXED)) {
		if (gate_enter(w->p.g, &r) == 0)
			gate_exit(r);   /* (not once a is killed) */
		if (gate_enter(w->b, &r) == 0)
			gate_exit(r);
	}
	return NULL;
}

static void park_with_switching_entrants(void **state)
{
	(void)state;
	for (int round = 0; round < 20; round++) {
		struct gate a, b;
		struct swpark w = { .p = { .g = &a }, .b = &b };
		pthread_t k[3], h;

		gate_init(&a);
		gate_init(&b);
		pthread_create(&h, NULL, holder_thread, &w.p);
		while (__atomic_load_n(&w.p.inside, __ATOMIC_SEQ_CST) == 0)
			usleep(100);
		for (int i = 0; i < 3; i++)
			pthread_create(&k[i], NULL, swpark_thread, &w);
		gate_kill(&a);
		rcu_grace();
		assert_int_equal(gate_drain(&a, 5), -ETIMEDOUT);
		assert_true(gate_park(&a, parked_fn, &w.p));
		usleep(1000);
		__atomic_store_n(&w.p.release, 1, __ATOMIC_SEQ_CST);
		pthread_join(h, NULL);
		for (long t0 = now_ms(); now_ms() - t0 < 5000 &&
		     __atomic_load_n(&w.p.ran, __ATOMIC_SEQ_CST) == 0;)
			usleep(1000);
		int ran = __atomic_load_n(&w.p.ran, __ATOMIC_SEQ_CST);
		__atomic_store_n(&w.p.stop, 1, __ATOMIC_RELAXED);
		for (int i = 0; i < 3; i++)
			pthread_join(k[i], NULL);
		assert_int_equal(ran, 1);
		assert_int_equal(w.p.ran, 1);
		assert_int_equal(w.p.inside_at_run, 0);
		gate_destroy(&a);
		gate_destroy(&b);
	}
}

/* Threads that switch between two gates on every entry, so that every
 * entry misses (the record bumped first is the other gate's), while the
 * main thread closes and opens one of them: the close's promise holds
 * (nobody inside once drained), entries into the other gate go on while
 * it is closed, and every count comes back to 0. */
struct swap {
	struct gate *a, *b;
	int stop;
	long inside_a;          /* protected by gate a */
	long ops_a, ops_b;
};

static void *swap_thread(void *arg)
{
	struct swap *s = arg;
	struct gate_rec *r;

	while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
		if (gate_enter(s->a, &r) == 0) {
			__atomic_add_fetch(&s->inside_a, 1, __ATOMIC_RELAXED);
			__atomic_add_fetch(&s->ops_a, 1, __ATOMIC_RELAXED);
			__atomic_sub_fetch(&s->inside_a, 1, __ATOMIC_RELAXED);
			gate_exit(r);
		}
		if (gate_enter(s->b, &r) == 0) {
			__atomic_add_fetch(&s->ops_b, 1, __ATOMIC_RELAXED);
			gate_exit(r);
		}
	}
	return NULL;
}

static void storm_switching_gates(void **state)
{
	struct gate a, b;
	struct swap s = { &a, &b, 0, 0, 0, 0 };
	pthread_t t[4];
	int bad = 0, b_stalled = 0;

	(void)state;
	gate_init(&a);
	gate_init(&b);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, swap_thread, &s);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(gate_close(&a, 5000), 0);
		long before = __atomic_load_n(&s.ops_a, __ATOMIC_RELAXED);
		if (__atomic_load_n(&s.inside_a, __ATOMIC_RELAXED) != 0)
			bad++;
		usleep(300);
		if (__atomic_load_n(&s.ops_a, __ATOMIC_RELAXED) != before)
			bad++;
		/* the threads come to wait at a, each having bumped its
		 * record of b first: none of them may keep b's count up */
		long t0 = now_ms();
		while (gate_inside(&b) != 0 && now_ms() - t0 < 2000)
			usleep(100);
		if (gate_inside(&b) != 0)
			b_stalled++;
		gate_open(&a);
		usleep(300);
	}
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(bad, 0);
	assert_true(s.ops_a > 0 && s.ops_b > 0);
	assert_int_equal(gate_inside(&a), 0);
	assert_int_equal(gate_inside(&b), 0);
	assert_int_equal(b_stalled, 0);
	gate_destroy(&a);
	gate_destroy(&b);
}

/* The same, with the other gate killed, destroyed and freed each round
 * once nobody may enter it any more (as an unmounted superblock's): the
 * threads' next entries of the first gate still bump their records of
 * the freed one first, while it is being destroyed.  A record outlives
 * its gate, and the take-back reaches the gate only while it is not
 * destroyed (AddressSanitizer watches). */
struct churn {
	struct gate *a;
	struct gate *_Atomic b;         /* NULL between rounds */
	_Atomic long epoch;
	_Atomic long seen[4];           /* each thread's last epoch read */
	_Atomic long go;                /* the threads may enter a */
	_Atomic int stop;
	_Atomic long ops_b;
};

struct churn_arg {
	struct churn *c;
	int id;
};

static void *churn_thread(void *arg)
{
	struct churn_arg *ca = arg;
	struct churn *c = ca->c;
	struct gate_rec *r;

	while (!atomic_load(&c->stop)) {
		long e = atomic_load(&c->epoch);
		struct gate *b = atomic_load(&c->b);

		if (b && gate_enter(b, &r) == 0) {
			atomic_fetch_add(&c->ops_b, 1);
			gate_exit(r);
		}
		atomic_store(&c->seen[ca->id], e);
		/* the entry of a comes when b is being destroyed */
		while (atomic_load(&c->go) < e && !atomic_load(&c->stop))
			sched_yield();
		if (gate_enter(c->a, &r) == 0)
			gate_exit(r);
	}
	return NULL;
}

static void churn_destroyed_gates(void **state)
{
	struct gate a;
	struct churn c = { .a = &a };
	struct churn_arg ca[4];
	pthread_t t[4];

	(void)state;
	gate_init(&a);
	for (int i = 0; i < 4; i++) {
		ca[i] = (struct churn_arg){ &c, i };
		pthread_create(&t[i], NULL, churn_thread, &ca[i]);
	}
	for (int round = 0; round < 200; round++) {
		struct gate *b = malloc(sizeof(*b));

		assert_non_null(b);
		gate_init(b);
		atomic_store(&c.b, b);
		usleep(200);
		/* each thread enters b once more in the new epoch, then
		 * waits for go: b is their last record, and nobody enters
		 * it again once it is taken away */
		long e = atomic_fetch_add(&c.epoch, 1) + 1;
		for (int i = 0; i < 4; i++)
			while (atomic_load(&c.seen[i]) < e)
				usleep(50);
		atomic_store(&c.b, NULL);
		if (round % 2)
			gate_kill(b);   /* keys shut: take-backs lock */
		atomic_store(&c.go, e);
		rcu_grace();
		assert_int_equal(gate_drain(b, 5000), 0);
		gate_destroy(b);
		free(b);
	}
	atomic_store(&c.stop, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_true(atomic_load(&c.ops_b) > 0);
	assert_int_equal(gate_inside(&a), 0);
	gate_destroy(&a);
}

/* Without sys_membarrier (as liburcu finds on such a system: its grace
 * periods then fence too), an open gate is GATE_OPEN_FENCED. */
static int fenced_on(void **state)
{
	*state = (void *)(intptr_t)urcu_memb_has_sys_membarrier;
	urcu_memb_has_sys_membarrier = 0;
	return 0;
}

static int fenced_off(void **state)
{
	urcu_memb_has_sys_membarrier = (int)(intptr_t)*state;
	return 0;
}

static void fenced_states(void **state)
{
	struct gate g;
	struct gate_rec *r1, *r2;

	(void)state;
	gate_init(&g);
	assert_int_equal(atomic_load(&g.state), GATE_OPEN_FENCED);
	assert_false(gate_is_closed(&g));
	assert_int_equal(gate_enter(&g, &r1), 0);
	assert_int_equal(gate_inside(&g), 1);
	assert_int_equal(gate_enter(&g, &r2), 0);       /* nested */
	assert_int_equal(gate_inside(&g), 2);
	gate_exit(r2);
	assert_int_equal(gate_close(&g, 30), -ETIMEDOUT);
	assert_true(gate_is_closed(&g));
	gate_exit(r1);
	assert_int_equal(gate_drain(&g, 100), 0);
	gate_open(&g);
	assert_int_equal(atomic_load(&g.state), GATE_OPEN_FENCED);
	assert_false(gate_is_closed(&g));
	assert_int_equal(gate_enter(&g, &r1), 0);
	gate_exit(r1);
	assert_int_equal(gate_inside(&g), 0);
	gate_destroy(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(enter_exit),
		cmocka_unit_test(unbalanced_leave_panics),
		cmocka_unit_test(unchecked_underflow_caught_at_close),
		cmocka_unit_test(nested_while_closing),
		cmocka_unit_test(close_waits_for_inside),
		cmocka_unit_test(closed_gate_blocks_until_open),
		cmocka_unit_test(kill_wakes_waiters_dead),
		cmocka_unit_test(storm_close_open),
		cmocka_unit_test(park_with_knocking_entrants),
		cmocka_unit_test(undo_runs_parked_continuation),
		cmocka_unit_test(park_with_switching_entrants),
		cmocka_unit_test(storm_switching_gates),
		cmocka_unit_test(churn_destroyed_gates),
		cmocka_unit_test_setup_teardown(fenced_states, fenced_on,
						fenced_off),
		cmocka_unit_test_setup_teardown(close_waits_for_inside,
						fenced_on, fenced_off),
		cmocka_unit_test_setup_teardown(kill_wakes_waiters_dead,
						fenced_on, fenced_off),
		cmocka_unit_test_setup_teardown(storm_close_open, fenced_on,
						fenced_off),
		cmocka_unit_test_setup_teardown(park_with_knocking_entrants,
						fenced_on, fenced_off),
		cmocka_unit_test_setup_teardown(undo_runs_parked_continuation,
						fenced_on, fenced_off),
		cmocka_unit_test_setup_teardown(park_with_switching_entrants,
						fenced_on, fenced_off),
		cmocka_unit_test_setup_teardown(storm_switching_gates,
						fenced_on, fenced_off),
		cmocka_unit_test_setup_teardown(churn_destroyed_gates,
						fenced_on, fenced_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
