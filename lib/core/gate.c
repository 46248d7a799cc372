/*
 * gate.c - the superblock gate: cheap entry for every vnode operation, and a
 * closing protocol for unmount, revoke and suspend (DESIGN invariant 3).
 *
 * The protocol
 *   enter:  count++ of the thread's last record; reader barrier (rcu.h: a
 *           compiler barrier, ordered against the grace period's
 *           sys_membarrier); if the record's key is the gate (its record,
 *           and open), inside.  Otherwise count-- (gate_undo) and, once
 *           it has the record of this gate, under the gate's lock: inside
 *           if this thread already was (count > 0), GATE_DEAD if killed,
 *           else wait on the cv until it opens.
 *   exit:   count-- (release); read state; if the gate is not open, wake
 *           the closer.
 *   close:  under lock closers++, state = CLOSED, every record's key
 *           shut; synchronize_rcu() (whose first step is the barrier);
 *           then wait until the sum of the records' counts is zero.
 * After the barrier every enterer either saw its key shut (and takes its
 * increment back and waits) or its increment is visible; every exiter
 * either saw CLOSED (and wakes the closer after its decrement) or its
 * decrement is visible.  Counts are summed under the gate lock, which the
 * waking exiter also takes: no lost wakeup.  An increment taken back
 * reads the key again after its decrement, as an exiter reads the state,
 * and wakes the gate if it is shut (gate_undo).
 *
 * The record an entrant bumps first is its thread's last one, which may
 * be another gate's: a thread that alternates between two mounts bumps,
 * takes back, and finds the right record on each switch.  That other
 * gate may be closing, killed or being destroyed meanwhile, and this
 * thread is not inside it: gate_undo reaches it only under gates_lock,
 * which gate_destroy takes to zero the keys.  A closer may see such a
 * count for the moment it is up (a drain waits for it, a park counts it);
 * the undo's wakeup then tells them it went.
 *
 * Records: one per (thread, gate), created on the first entry, kept on the
 * thread's private list (no lock) and on the gate's list (gates_lock and the
 * gate lock).  gate_destroy() orphans the records (rec->key = 0); the
 * owning thread frees orphans lazily and all of its records at exit.
 *
 * An "ungated" build (-DUVFS_UNGATED, for the benchmark baseline) makes
 * enter and exit no-ops.
 */
#include "core.h"

#include <time.h>
#include <unistd.h>

#include "rcu.h"
#include "deadline.h"    /* lib/util */

#if defined(__SANITIZE_THREAD__)
char uvfs_rcu_tsan_sync;
#endif

static pthread_mutex_t gates_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t thread_key;
static pthread_once_t thread_once = PTHREAD_ONCE_INIT;
static __thread struct gate_rec *t_recs;  /* this thread's records */
/* The thread's interruption (uvfs_intr_set), and whether the entry now
 * being made may use it (gate_enter_intr, around one gate_enter). */
static __thread struct uvfs_intr *t_intr;
static __thread bool t_intr_ok;
/* of no gate (key 0); its count means nothing: every thread's fast path
 * bumps and takes back its count before its first record is made */
static struct gate_rec rec_none;
/* the last one used */
__thread struct gate_rec *gate_t_last GATE_TLS_MODEL = &rec_none;
__thread bool rcu_t_registered RCU_TLS_MODEL;   /* with urcu */

static void thread_exit(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&gates_lock);
	for (struct gate_rec *r = t_recs, *next; r; r = next) {
		next = r->tnext;
		struct gate *g = gate_rec_gate(r);
		if (g) {
			UVFS_VERIFY(atomic_load(&r->count) == 0);
			pthread_mutex_lock(&g->lock);
			cds_list_del(&r->glink);
			pthread_mutex_unlock(&g->lock);
		}
		free(r);
	}
	pthread_mutex_unlock(&gates_lock);
	t_recs = NULL;
	gate_t_last = &rec_none;
	if (rcu_t_registered) {
		urcu_memb_unregister_thread();
		rcu_t_registered = false;
	}
}

static void thread_key_init(void)
{
	pthread_key_create(&thread_key, thread_exit);
}

/* rcu_thread_online's slow path (rcu.h): the thread's first call. */
void rcu_thread_register(void)
{
	if (!rcu_t_registered) {
		pthread_once(&thread_once, thread_key_init);
		pthread_setspecific(thread_key, (void *)1);
		urcu_memb_register_thread();
		rcu_t_registered = true;
	}
}

/* => g->lock held.  The key of g's records for its state (gate.h). */
static uintptr_t key_locked(struct gate *g)
{
	switch (atomic_load(&g->state)) {
	case GATE_OPEN:
		return (uintptr_t)g;
	case GATE_OPEN_FENCED:
		return (uintptr_t)g | GATE_KEY_FENCED;
	default:
		return (uintptr_t)g | GATE_KEY_SHUT;
	}
}

/* => g->lock held, and g's state just set.  The keys follow it, each a
 * release: an entrant that reads its key open (an acquire, gate.h) sees
 * what the closer did before it opened the gate again. */
static void keys_set_locked(struct gate *g)
{
	uintptr_t k = key_locked(g);
	struct gate_rec *r;

	cds_list_for_each_entry(r, &g->recs, glink)
		atomic_store_explicit(&r->key, k, memory_order_release);
}

/* r becomes the thread's last record, unless the thread is inside the
 * gate of its last record now (an entry nested in an operation there):
 * so the last record of a thread inside a gate is the one it entered by
 * last, until it leaves, and vop_call's fast path finds it again after
 * the driver's call rather than keeping it in a register (vnode_if.c).
 * A count above 0 says "inside": only the owner changes it, and it has
 * taken back any bump of its own by now.  rec_none's count means
 * nothing. */
static struct gate_rec *rec_last(struct gate_rec *r)
{
	struct gate_rec *last = gate_t_last;

	if (last == &rec_none ||
	    atomic_load_explicit(&last->count, memory_order_relaxed) == 0)
		gate_t_last = r;
	return r;
}

/* Finds or makes this thread's record for g (NULL: out of memory).  Slow
 * path: once per thread and gate, plus a short list walk when a thread
 * alternates gates. */
/* the slow path of gate_enter (gate.h): noinline keeps it out of there */
__attribute__((noinline)) struct gate_rec *gate_rec_get(struct gate *g)
{
	struct gate_rec **pp = &t_recs, *r;

	while ((r = *pp) != NULL) {
		struct gate *rg = gate_rec_gate(r);
		if (rg == g)
			return rec_last(r);
		if (rg == NULL) {       /* orphaned by gate_destroy */
			*pp = r->tnext;
			if (gate_t_last == r)   /* (we may return NULL) */
				gate_t_last = &rec_none;
			free(r);
			continue;
		}
		pp = &r->tnext;
	}
	rcu_thread_online();
	r = sys_calloc(1, sizeof(*r));
	if (!r)
		return NULL;    /* gate_enter: GATE_NOMEM */
	atomic_init(&r->count, 0);
	pthread_mutex_lock(&gates_lock);
	pthread_mutex_lock(&g->lock);
	atomic_store_explicit(&r->key, key_locked(g), memory_order_relaxed);
	cds_list_add(&r->glink, &g->recs);
	pthread_mutex_unlock(&g->lock);
	pthread_mutex_unlock(&gates_lock);
	r->tnext = t_recs;
	t_recs = r;
	return rec_last(r);
}

/* The state of an open gate: GATE_OPEN where sys_membarrier makes the
 * fast path's compiler barrier enough (liburcu finds out when it is
 * loaded), else GATE_OPEN_FENCED (gate.h). */
static int open_state(void)
{
	return urcu_memb_has_sys_membarrier ? GATE_OPEN : GATE_OPEN_FENCED;
}

static bool is_open(int s)
{
	return s == GATE_OPEN || s == GATE_OPEN_FENCED;
}

void gate_init(struct gate *g)
{
	atomic_init(&g->state, open_state());
	pthread_mutex_init(&g->lock, NULL);
	cond_init_monotonic(&g->cv);
	g->closers = 0;
	CDS_INIT_LIST_HEAD(&g->recs);
	g->parked_fn = NULL;
	g->parked_arg = NULL;
}

static long inside_locked(struct gate *g);

void gate_destroy(struct gate *g)
{
	struct gate_rec *r, *tmp;
	long inside;

	pthread_mutex_lock(&gates_lock);
	pthread_mutex_lock(&g->lock);
	/* Nobody may be inside.  An entrant of another gate may have
	 * bumped its last record, one of this gate's, for the moment before
	 * it takes the bump back (which takes neither lock first), and
	 * others may do so again meanwhile: one sum of 0 within 10 s (a
	 * thread descheduled between its bump and its take-back on a loaded
	 * machine) says nobody is inside; none is a defect. */
	for (int i = 0; (inside = inside_locked(g)) > 0 && i < 10000; i++)
		usleep(1000);
	UVFS_VERIFY(inside == 0);
	cds_list_for_each_entry_safe(r, tmp, &g->recs, glink) {
		cds_list_del(&r->glink);
		atomic_store_explicit(&r->key, 0, memory_order_release);
	}
	pthread_mutex_unlock(&g->lock);
	pthread_mutex_unlock(&gates_lock);
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->lock);
}

#ifndef UVFS_UNGATED

/* => g->lock held; the caller has just taken its count down.  Wakes a
 * closer draining the gate, and takes the parked continuation if nobody
 * is inside any more: whoever takes a count down last on a gate that is
 * not open sees every other decrement (the counts are summed under the
 * lock), so a parked continuation runs exactly once. */
static void count_dropped_locked(struct gate *g, void (**fn)(void *),
				 void **arg)
{
	pthread_cond_broadcast(&g->cv);
	if (g->parked_fn && inside_locked(g) == 0) {
		*fn = g->parked_fn;
		*arg = g->parked_arg;
		g->parked_fn = NULL;
	}
}

/* ---- interruptions (uvfs_intr) ------------------------------------------
 * A waiter arms its interruption before it waits at g and disarms it
 * after: w->gate, under w->lock, says which gate a cancel must wake, and
 * is cleared before the waiter leaves, so a cancel never touches a gate
 * its waiter has left.  The cancel sets the flag first and then wakes g
 * under g->lock, and the waiter reads the flag under g->lock before each
 * wait: no wakeup is lost.  The front end hears of both (w->arm) with
 * none of these locks held: its cancel may run inside its arm. */
static void intr_arm(struct uvfs_intr *w, struct gate *g)
{
	pthread_mutex_lock(&w->lock);
	w->gate = g;
	pthread_mutex_unlock(&w->lock);
	w->arm(w->data, w, 1);
}

static void intr_disarm(struct uvfs_intr *w)
{
	w->arm(w->data, w, 0);
	pthread_mutex_lock(&w->lock);
	w->gate = NULL;
	pthread_mutex_unlock(&w->lock);
}

/* r is this thread's record of g, whose key the fast path saw not open
 * (shut, or GATE_KEY_FENCED); it has taken its increment back: that was
 * a count dropped too (a closer or gate_park may have counted it). */
static int enter_slow(struct gate *g, struct gate_rec *r,
		      struct gate_rec **rec)
{
	struct uvfs_intr *w = t_intr_ok ? t_intr : NULL;
	void (*fn)(void *) = NULL;
	void *arg = NULL;
	bool armed = false;
	int ret = 0;

	if (atomic_load_explicit(&g->state, memory_order_relaxed) ==
	    GATE_OPEN_FENCED) {
		/* the fast path with a full fence (no sys_membarrier) */
		long c = atomic_load_explicit(&r->count, memory_order_relaxed);

		atomic_store_explicit(&r->count, c + 1, memory_order_relaxed);
		cmm_smp_mb();
		if (atomic_load_explicit(&g->state, memory_order_acquire) ==
		    GATE_OPEN_FENCED) {
			*rec = r;
			return 0;
		}
		atomic_store_explicit(&r->count, c, memory_order_release);
	}
	pthread_mutex_lock(&g->lock);
	count_dropped_locked(g, &fn, &arg);
	for (;;) {
		int s = atomic_load(&g->state);
		if (s == GATE_KILLED) {
			ret = GATE_DEAD;
			break;
		}
		if (is_open(s) || atomic_load(&r->count) > 0) {
			atomic_store_explicit(&r->count,
					      atomic_load(&r->count) + 1,
					      memory_order_relaxed);
			*rec = r;
			break;
		}
		if (w && !armed) {
			/* about to wait: the front end hears of it with no
			 * lock of ours held (its cancel takes g->lock) */
			pthread_mutex_unlock(&g->lock);
			if (fn)
				fn(arg);
			fn = NULL;
			intr_arm(w, g);
			armed = true;
			pthread_mutex_lock(&g->lock);
			continue;
		}
		if (armed && atomic_load_explicit(&w->cancelled,
						  memory_order_acquire)) {
			ret = GATE_INTR;
			break;
		}
		pthread_cond_wait(&g->cv, &g->lock);
	}
	pthread_mutex_unlock(&g->lock);
	if (armed)
		intr_disarm(w);
	if (fn)
		fn(arg);
	return ret;
}

/* The fast path's increment of r taken back, when r's key was not the
 * gate entered, g: r may be g's record (not open) or another gate's, or
 * no gate's.  For g's own record only the count: the caller goes on to
 * g's slow path, which wakes g (and g is alive: the caller holds one of
 * its vnodes or is its owner).  Otherwise the key read after the
 * decrement says whether a closer of r's gate may have counted the
 * increment: if it was open then, the closer's grace period, which
 * follows its shutting the keys, also makes the decrement visible to it
 * (Dekker's again; with full fences where there is no sys_membarrier, as
 * the slow paths do).  If it was shut, the gate is woken as by an
 * exiter; another gate is reached only under gates_lock, which keeps it
 * from being destroyed meanwhile. */
void gate_undo(struct gate_rec *r, struct gate *entering)
{
	void (*fn)(void *) = NULL;
	void *arg = NULL;
	struct gate *g;
	uintptr_t k;

	gate_count_add(r, -1);
	if (gate_rec_gate(r) == entering)
		return;
	cmm_barrier();          /* the decrement, then the key */
	k = atomic_load_explicit(&r->key, memory_order_acquire);
	if (k & GATE_KEY_FENCED) {      /* no sys_membarrier: fence */
		cmm_smp_mb();
		k = atomic_load_explicit(&r->key, memory_order_acquire);
	}
	if (!(k & GATE_KEY_SHUT))
		return;
	pthread_mutex_lock(&gates_lock);
	if ((g = gate_rec_gate(r)) != NULL) {
		pthread_mutex_lock(&g->lock);
		count_dropped_locked(g, &fn, &arg);
		pthread_mutex_unlock(&g->lock);
	}
	pthread_mutex_unlock(&gates_lock);
	if (fn)
		fn(arg);
}

/* gate_enter's fast path bumped r, and r's key was not g: r is g's
 * record and g is not open, or r is another gate's (then g's record is
 * found, and tried as the fast path would). */
int gate_enter_miss(struct gate *g, struct gate_rec *r,
		    struct gate_rec **rec)
{
	gate_undo(r, g);
	if (gate_rec_gate(r) != g) {
		if (!(r = gate_rec_get(g)))
			return GATE_NOMEM;
		gate_count_add(r, 1);
		cmm_barrier();
		if (gate_rec_open(r, g)) {
			*rec = r;
			return 0;
		}
		gate_count_add(r, -1);
	}
	return enter_slow(g, r, rec);
}

/* Every exiter of a gate that is not open comes here after its
 * decrement. */
void gate_exit_slow(struct gate *g)
{
	void (*fn)(void *) = NULL;
	void *arg = NULL;

	if (atomic_load_explicit(&g->state, memory_order_relaxed) ==
	    GATE_OPEN_FENCED) {
		/* without sys_membarrier: a full fence, then look again */
		cmm_smp_mb();
		if (atomic_load(&g->state) == GATE_OPEN_FENCED)
			return;
	}
	pthread_mutex_lock(&g->lock);
	count_dropped_locked(g, &fn, &arg);
	pthread_mutex_unlock(&g->lock);
	if (fn)
		fn(arg);
}
#endif

/* ---- interruptions: the calls (both builds) ------------------------------ */

struct uvfs_intr *uvfs_intr_new(void (*arm)(void *data, struct uvfs_intr *w,
					     int waiting))
{
	struct uvfs_intr *w;

	if (!arm)
		return NULL;
	w = sys_calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	if (pthread_mutex_init(&w->lock, NULL) != 0) {
		free(w);
		return NULL;
	}
	w->arm = arm;
	return w;
}

void uvfs_intr_free(struct uvfs_intr *w)
{
	if (!w)
		return;
	UVFS_VERIFY(w->gate == NULL);   /* not freed by its waiter, waiting */
	if (t_intr == w)
		t_intr = NULL;
	pthread_mutex_destroy(&w->lock);
	free(w);
}

void uvfs_intr_set(struct uvfs_intr *w, void *data)
{
	if (w) {
		w->data = data;
		atomic_store_explicit(&w->cancelled, false,
				      memory_order_relaxed);
	}
	t_intr = w;
}

void uvfs_intr_cancel(struct uvfs_intr *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	atomic_store_explicit(&w->cancelled, true, memory_order_release);
	if (w->gate) {
		pthread_mutex_lock(&w->gate->lock);
		pthread_cond_broadcast(&w->gate->cv);
		pthread_mutex_unlock(&w->gate->lock);
	}
	pthread_mutex_unlock(&w->lock);
}

int gate_enter_intr(struct gate *g, struct gate_rec **rec)
{
	int r;

	t_intr_ok = true;
	r = gate_enter(g, rec);
	t_intr_ok = false;
	return r;
}

/* => g->lock held.  The sum of the counts.  A count is never below zero:
 * its owner adds 1 before it takes 1 away.  One that is was taken down
 * by a leave without its enter, which vop_call's unchecked leave can
 * hide from gate_leave's check (vnode_if.c): it stops the process here,
 * at the first close, drain or park after it, before a closer could take
 * the sum for "nobody inside". */
static long inside_locked(struct gate *g)
{
	struct gate_rec *r;
	long n = 0;

	cds_list_for_each_entry(r, &g->recs, glink) {
		long c = atomic_load_explicit(&r->count,
					      memory_order_acquire);
		UVFS_VERIFY(c >= 0);
		n += c;
	}
	return n;
}

bool gate_park(struct gate *g, void (*fn)(void *), void *arg)
{
	bool parked = false;

	pthread_mutex_lock(&g->lock);
	UVFS_VERIFY(atomic_load(&g->state) == GATE_KILLED);
	UVFS_VERIFY(g->parked_fn == NULL);
	if (inside_locked(g) > 0) {
		g->parked_fn = fn;
		g->parked_arg = arg;
		parked = true;
	}
	pthread_mutex_unlock(&g->lock);
	return parked;
}

int gate_drain(struct gate *g, int timeout_ms)
{
	struct timespec until;
	int ret = 0;

	if (timeout_ms >= 0)
		deadline_in(&until, timeout_ms);
	pthread_mutex_lock(&g->lock);
	while (inside_locked(g) > 0) {
		struct timespec slice;

		/* Wait in 1 ms slices: an exiter that read the state before
		 * our store became visible to it does not wake us. */
		deadline_in(&slice, 1);
		if (timeout_ms >= 0) {
			if (ms_left(&until) == 0) {
				ret = -ETIMEDOUT;
				break;
			}
			slice = deadline_min(slice, until);
		}
		pthread_cond_timedwait(&g->cv, &g->lock, &slice);
	}
	pthread_mutex_unlock(&g->lock);
	return ret;
}

void gate_shut(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->closers++;
	if (is_open(atomic_load(&g->state))) {
		atomic_store(&g->state, GATE_CLOSED);
		keys_set_locked(g);
	}
	pthread_mutex_unlock(&g->lock);
}

int gate_close(struct gate *g, int timeout_ms)
{
	gate_shut(g);
	rcu_grace();
	return gate_drain(g, timeout_ms);
}

void gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	UVFS_VERIFY(g->closers > 0 || atomic_load(&g->state) == GATE_KILLED);
	if (g->closers > 0)
		g->closers--;
	if (g->closers == 0 && atomic_load(&g->state) == GATE_CLOSED) {
		atomic_store(&g->state, open_state());
		keys_set_locked(g);
		pthread_cond_broadcast(&g->cv);
	}
	pthread_mutex_unlock(&g->lock);
}

void gate_kill(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	atomic_store(&g->state, GATE_KILLED);
	keys_set_locked(g);
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->lock);
	/* No grace period here (a forced unmount waits for nothing):
	 * entrants that read OPEN just before are counted only after one,
	 * so whoever drains a killed gate waits one first. */
}

long gate_inside(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	long n = inside_locked(g);
	pthread_mutex_unlock(&g->lock);
	return n;
}

bool gate_is_closed(struct gate *g)
{
	return !is_open(atomic_load(&g->state));
}
