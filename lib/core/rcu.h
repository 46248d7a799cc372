/*
 * rcu.h - the RCU primitives the core uses (liburcu, memb flavour), in one
 * place so that ThreadSanitizer builds can be told what a grace period
 * means: every read-side section that ended before synchronize() returned
 * happens before the code after it.  TSan cannot see that through liburcu
 * (uninstrumented, membarrier-based), so it would report every free after
 * a grace period as a race.  Frees handed to call_rcu are annotated the
 * same way: RCU_TSAN_RELEASE() before call_rcu, RCU_TSAN_ACQUIRE() in the
 * callback.  liburcu's own allocations are suppressed (tests/tsan.supp).
 */
#ifndef UVFS_RCU_H
#define UVFS_RCU_H

#ifdef UVFS_RCU_INLINE
#define _LGPL_SOURCE
#endif
#include <urcu/arch.h>
#include <urcu/compiler.h>
#include <urcu/urcu-memb.h>

#include <stdbool.h>

/* Whether the calling thread is registered with liburcu (gate.c).  The
 * model of the thread-local is gate.h's: local-exec in the core programs
 * link, TLS descriptors in shared objects (lib/meson.build says why). */
#ifdef UVFS_TLS_LOCAL_EXEC
#define RCU_TLS_MODEL __attribute__((tls_model("local-exec")))
#else
#define RCU_TLS_MODEL
#endif
extern __thread bool rcu_t_registered RCU_TLS_MODEL;
void rcu_thread_register(void);

/* Registers the calling thread with liburcu (once); needed before a
 * read-side section.  Inline: the name cache calls it per component. */
static inline void rcu_thread_online(void)
{
	if (__builtin_expect(!rcu_t_registered, 0))
		rcu_thread_register();
}

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
extern char uvfs_rcu_tsan_sync;
#define RCU_TSAN_RELEASE() __tsan_release(&uvfs_rcu_tsan_sync)
#define RCU_TSAN_ACQUIRE() __tsan_acquire(&uvfs_rcu_tsan_sync)
#else
#define RCU_TSAN_RELEASE() ((void)0)
#define RCU_TSAN_ACQUIRE() ((void)0)
#endif

/* => the thread is registered (rcu_thread_online()). */
static inline void rcu_read_enter(void)
{
	urcu_memb_read_lock();
}

static inline void rcu_read_leave(void)
{
	RCU_TSAN_RELEASE();
	urcu_memb_read_unlock();
}

/* The reader's half of an asymmetric barrier (liburcu's "slave" barrier):
 * ordered against the barrier every rcu_grace() issues first (its
 * "master" barrier, sys_membarrier), so a reader pays a compiler barrier
 * only.  Without sys_membarrier liburcu falls back to full fences on both
 * sides, and so does this (liburcu's own barriers: ThreadSanitizer takes
 * no C11 fence, and sees the gate's ordering through its atomics).  The gate's fast path uses it in place of a
 * read-side section (gate.h). */
extern int urcu_memb_has_sys_membarrier;
static inline void rcu_reader_barrier(void)
{
	if (__builtin_expect(urcu_memb_has_sys_membarrier, 1))
		cmm_barrier();
	else
		cmm_smp_mb();
}

/* Waits for every read-side section in progress to end. */
static inline void rcu_grace(void)
{
	urcu_memb_synchronize_rcu();
	RCU_TSAN_ACQUIRE();
}

#endif /* UVFS_RCU_H */
