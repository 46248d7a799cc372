/*
 * gate.h - the superblock gate (DESIGN invariant 3, after NetBSD fstrans).
 *
 * Every vnode operation runs between gate_enter() and gate_exit().  The fast
 * path bumps the count of the calling thread's last record, then reads
 * that record's key, which is the gate's address while the gate is open:
 * no lock, no shared cache line written.  Closing the gate flips the
 * state and the keys of its records, waits a grace period (whose
 * sys_membarrier pairs with the entrant's compiler barrier), and then
 * waits for the per-thread counts to drain: after the grace period every
 * thread either saw its key shut or has its count visible.
 *
 * States:  OPEN -> CLOSED (one or more closers) -> OPEN
 *          any  -> KILLED (forced unmount; final)
 * On a system without sys_membarrier "open" is GATE_OPEN_FENCED instead
 * of GATE_OPEN, and so is every key (GATE_KEY_FENCED): the fast path's
 * compiler barrier would not order the entrant against the closer there,
 * so every entry and exit takes the slow path, which fences (gate.c).
 * The fast path tests one value on the way in and one on the way out.
 *
 * A thread already inside the gate may enter again while it is closed
 * (nested entry), so a closer never deadlocks against an operation that
 * re-enters.  On a KILLED gate enter fails with GATE_DEAD and the caller
 * runs the dead operations instead.
 */
#ifndef UVFS_GATE_H
#define UVFS_GATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <urcu/list.h>

#include "diag.h"
#include "rcu.h"

enum { GATE_OPEN, GATE_CLOSED, GATE_KILLED, GATE_OPEN_FENCED };
#define GATE_DEAD 1  /* gate_enter: not entered, use deadfs */
#define GATE_NOMEM 2 /* gate_enter: no memory for this thread's record */
#define GATE_INTR 3  /* gate_enter_intr: the wait was cancelled (uvfs_intr) */

struct gate_rec;

struct gate {
	_Atomic int state;              /* GATE_*; written under lock */
	pthread_mutex_t lock;
	pthread_cond_t cv;              /* state changes, drains (monotonic) */
	unsigned closers;               /* lock */
	struct cds_list_head recs;      /* gates_lock and lock */
	void (*parked_fn)(void *);      /* lock: gate_park's continuation */
	void *parked_arg;               /* lock */
};

/* A record's key: its gate's address while that gate is GATE_OPEN, with
 * GATE_KEY_FENCED added while it is GATE_OPEN_FENCED, with GATE_KEY_SHUT
 * added while it is anything else; 0 once the gate is destroyed.  One
 * compare of the key with a gate's address so answers both "is this the
 * thread's record of that gate?" and "is it open?". */
#define GATE_KEY_SHUT ((uintptr_t)1)
#define GATE_KEY_FENCED ((uintptr_t)2)
#define GATE_KEY_BITS (GATE_KEY_SHUT | GATE_KEY_FENCED)
_Static_assert(_Alignof(struct gate) > GATE_KEY_BITS,
	       "the key's bits are free in a gate's address");

/* One per (thread, gate), created on the thread's first entry. */
struct gate_rec {
	_Atomic uintptr_t key;          /* see above: the gate's lock, and
					   gates_lock too to set it to 0;
					   first, for the fast path's
					   compare */
	_Atomic long count;             /* owner writes; closers read */
	struct cds_list_head glink;     /* the gate's list */
	struct gate_rec *tnext;         /* the thread's list (owner only) */
};

void gate_init(struct gate *g);
/* => nobody can enter any more (the sb has no vnode left). */
void gate_destroy(struct gate *g);

/* A thread's interruption (uvfs_intr_set, include/uvfs/uvfs.h): what
 * ends its wait at a closed gate when the caller it works for gives up.
 * Made and freed by the front end; arm is called by the waiting thread
 * only, with none of the library's locks held; uvfs_intr_cancel from any
 * thread at any time.  Lock order: lock > gate->lock. */
struct uvfs_intr {
	void (*arm)(void *data, struct uvfs_intr *w, int waiting); /* const */
	void *data;                     /* the owner thread's: the request */
	atomic_bool cancelled;          /* set by uvfs_intr_cancel; cleared
					   by uvfs_intr_set */
	pthread_mutex_t lock;
	struct gate *gate;              /* lock: the gate waited at (its
					   waiter holds one of its vnodes,
					   so it lives while set), else
					   NULL */
};

/* gate_enter for an operation that may fail: a wait at the closed gate
 * also ends, with GATE_INTR, when the thread's interruption is
 * cancelled.  Not for what must reach the driver once begun (a file's
 * release, a flush's answer): those use gate_enter. */
int gate_enter_intr(struct gate *g, struct gate_rec **rec);

/* The slow paths (gate.c) */
/* The thread's last record, or a record of no gate (never NULL: the fast
 * path has one test, not two).  It changes only while the thread is
 * inside none of its gate (gate.c, rec_last): an operation that entered
 * by it finds it again at its leave.  In the core that programs link
 * statically (UVFS_TLS_LOCAL_EXEC, lib/meson.build) it is reached with
 * the local-exec model: one load from %fs, where the TLS descriptors a
 * shared core needs cost three instructions even relaxed. */
#ifdef UVFS_TLS_LOCAL_EXEC
#define GATE_TLS_MODEL __attribute__((tls_model("local-exec")))
#else
#define GATE_TLS_MODEL
#endif
extern __thread struct gate_rec *gate_t_last GATE_TLS_MODEL;
struct gate_rec *gate_rec_get(struct gate *g);
int gate_enter_miss(struct gate *g, struct gate_rec *r,
		    struct gate_rec **rec);
void gate_undo(struct gate_rec *r, struct gate *entering);
void gate_exit_slow(struct gate *g);

/* Adds d to the thread's own count.  Only the owner writes it (closers
 * read), so on x86-64 a plain add to memory does: one instruction, whose
 * aligned 8-byte store other CPUs see whole, and which as every x86 store
 * is seen after the stores before it (a release).  Elsewhere, and under
 * ThreadSanitizer (which must see an atomic), a load and a release store.
 * The "memory" clobber keeps the compiler from moving accesses across. */
static inline void gate_count_add(struct gate_rec *r, long d)
{
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
	__asm__ volatile("addq %1, %0"
			 : "+m"(*(long *)&r->count) : "er"(d) : "memory");
#else
	long c = atomic_load_explicit(&r->count, memory_order_relaxed);

	atomic_store_explicit(&r->count, c + d, memory_order_release);
#endif
}

/* The fast path's two tests, each one compare with memory and a branch on
 * x86-64 (inline assembly: GCC folds neither an atomic nor a volatile load
 * into a compare, and a load, a test and a branch is one instruction
 * more, each way).  The loads are the same as the C versions': plain
 * aligned loads, which on x86 are acquires; the "memory" clobber keeps
 * the compiler from moving other accesses across the tests, as the
 * compiler barrier and the acquire do in C.  Elsewhere and under
 * ThreadSanitizer, the atomics. */
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
#define GATE_ASM_TESTS 1
_Static_assert(GATE_OPEN == 0, "the state test compares with 0");
#endif

/* Is r this thread's record of g, and was g open when r's key was last
 * set?  An acquire, and a compiler barrier. */
static inline __attribute__((always_inline)) bool
gate_rec_open(struct gate_rec *r, struct gate *g)
{
#ifdef GATE_ASM_TESTS
	__asm__ goto("cmpq %0, %1\n\tjne %l[no]"
		     : : "r"(g), "m"(*(uintptr_t *)&r->key) : "cc", "memory"
		     : no);
	return true;
no:
	return false;
#else
	bool open = atomic_load_explicit(&r->key, memory_order_acquire) ==
		    (uintptr_t)g;
	atomic_signal_fence(memory_order_seq_cst);
	return open;
#endif
}

/* The gate of r (NULL once destroyed: an acquire, so that an orphaned
 * record may be freed), whatever its state. */
static inline struct gate *gate_rec_gate(struct gate_rec *r)
{
	return (struct gate *)(atomic_load_explicit(&r->key,
						    memory_order_acquire) &
			       ~GATE_KEY_BITS);
}

/* Is g open (GATE_OPEN)?  An acquire, and a compiler barrier. */
static inline __attribute__((always_inline)) bool
gate_is_open(struct gate *g)
{
#ifdef GATE_ASM_TESTS
	__asm__ goto("cmpl $0, %0\n\tjne %l[no]"
		     : : "m"(*(int *)&g->state) : "cc", "memory" : no);
	return true;
no:
	return false;
#else
	bool open = atomic_load_explicit(&g->state, memory_order_acquire) ==
		    GATE_OPEN;
	atomic_signal_fence(memory_order_seq_cst);
	return open;
#endif
}

/* gate_count_add(r, -1) with UVFS_VERIFY that the count was above zero
 * (a leave without its enter).  On x86-64 the check is the decrement's
 * own sign flag: a subtraction and a branch, where a load, a test, a
 * branch and the add were four instructions on every operation's path
 * (bench_gate's vop_instr_ratio).  Elsewhere, under ThreadSanitizer and
 * with NDEBUG, the C versions. */
static inline __attribute__((always_inline)) void
gate_count_dec_checked(struct gate_rec *r)
{
#if defined(GATE_ASM_TESTS) && !defined(NDEBUG)
	__asm__ goto("subq $1, %0\n\tjs %l[under]"
		     : "+m"(*(long *)&r->count) : : "cc", "memory"
		     : under);
	return;
under:
	uvfs_panic(__FILE__, __LINE__, "gate count below zero at a leave");
#else
	UVFS_VERIFY(atomic_load_explicit(&r->count, memory_order_relaxed) > 0);
	gate_count_add(r, -1);
#endif
}

/* Returns 0 with *rec set (pass it to gate_exit), GATE_DEAD, or GATE_NOMEM
 * (a thread's first entry could not allocate its record).  Waits
 * while the gate is closed, unless this thread is already inside.
 * The fast path is inline and writes only the thread's own record:
 * "count++, then is the key g (its record, and open)?", with a compiler
 * barrier between the two that orders them against the closer's "state =
 * CLOSED and every key of g shut, then the grace period's barrier
 * (sys_membarrier), then sum the counts" (Dekker's pattern, made
 * asymmetric: rcu.h, rcu_reader_barrier, whose fallback without
 * sys_membarrier is GATE_OPEN_FENCED here, where no key is g).
 * Either the closer sees the increment, or this thread sees the key shut,
 * takes its increment back and goes the slow way.  The count bumped is
 * that of the thread's last record, which may be another gate's (or
 * none's): gate_enter_miss takes it back, and wakes that gate's closer if
 * it counted it (gate.c, gate_undo).  vop_call (vnode_if.c) unrolls this
 * path with its death checks after it, and finds the record again at its
 * leave: 4 instructions more than the ungated build per operation, with
 * its leave (bench/README.md, "bench_gate"; docs/design.md, "The
 * gate"). */
static inline int gate_enter(struct gate *g, struct gate_rec **rec)
{
#ifdef UVFS_UNGATED
	(void)g;
	*rec = NULL;
	return 0;
#else
	struct gate_rec *r = gate_t_last;

	gate_count_add(r, 1);
	cmm_barrier();          /* see above: GATE_OPEN implies membarrier */
	if (__builtin_expect(gate_rec_open(r, g), 1)) {
		*rec = r;
		return 0;
	}
	return gate_enter_miss(g, r, rec);
#endif
}

/* No RCU section: the decrement is ordered before the state load by the
 * closer's grace period (membarrier), and a wakeup lost to reordering is
 * caught by the drain's 1 ms polling.  gate_leave: for a caller that has
 * g at hand (one load fewer than gate_exit). */
static inline void gate_leave(struct gate *g, struct gate_rec *r)
{
#ifdef UVFS_UNGATED
	(void)g;
	(void)r;
#else
	gate_count_dec_checked(r);
	if (__builtin_expect(!gate_is_open(g), 0))  /* a compiler barrier */
		gate_exit_slow(g);
#endif
}

static inline void gate_exit(struct gate_rec *r)
{
#ifdef UVFS_UNGATED
	(void)r;
#else
	gate_leave(gate_rec_gate(r), r);
#endif
}

/* Closes the gate (counted) and waits up to timeout_ms (<0: forever) for the
 * operations inside to leave.  -ETIMEDOUT leaves it closed all the same:
 * the caller still owes a gate_open().  => not called inside the gate. */
int gate_close(struct gate *g, int timeout_ms);
/* gate_close's first half: closed (counted), no wait; a leaf lock, so
 * it may be called under other locks (uvfs_suspend: the namespace's).
 * The caller then waits a grace period (rcu_grace) before gate_drain,
 * and owes a gate_open. */
void gate_shut(struct gate *g);
/* Waits (again) for the gate to drain; for callers that closed it. */
int gate_drain(struct gate *g, int timeout_ms);
void gate_open(struct gate *g);
/* Final: waiters and new entrants get GATE_DEAD; closers' counts are
 * dropped.  Operations inside carry on until they leave.  Does not wait:
 * to drain a killed gate, wait a grace period (synchronize_rcu) first,
 * then gate_drain(). */
void gate_kill(struct gate *g);
/* For a killed gate that did not drain in time: instead of waiting, fn(arg)
 * is called once the last operation inside has left: by that thread, in
 * gate_exit; in gate_enter by an entrant that found the gate killed and
 * took back its increment; or by an entrant of another gate whose bump of
 * its last record, one of this gate's, the park counted (gate_undo), which
 * may be inside other gates then.  With no lock held; fn must only queue
 * work.  => the gate was killed and a grace period has passed since; one
 * continuation at a time.  Returns false, and does not keep fn, if nobody
 * is inside any more. */
bool gate_park(struct gate *g, void (*fn)(void *), void *arg);
bool gate_is_closed(struct gate *g);
/* How many operations are inside now (a snapshot, for diagnostics). */
long gate_inside(struct gate *g);


/* An ungated build (-DUVFS_UNGATED, the benchmark's baseline) compiles
 * gate_enter and gate_exit to nothing. */
#endif /* UVFS_GATE_H */
