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
#include <urcu/urcu-memb.h>

/* Registers the calling thread with liburcu (once, gate.c); needed before
 * a read-side section. */
void rcu_thread_online(void);

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

/* Waits for every read-side section in progress to end. */
static inline void rcu_grace(void)
{
	urcu_memb_synchronize_rcu();
	RCU_TSAN_ACQUIRE();
}

#endif /* UVFS_RCU_H */
