/*
 * memfs_pages.c - the page pool: where memfs's data pages come from and
 * where they go back to.  One pool per process, shared by every memfs
 * instance in it (docs/memfs.md, "Page memory").
 *
 * Why a pool: a page from malloc is the process's fresh memory, so its
 * first write is a page fault and the kernel zeroes it; a deleted file's
 * pages go back to malloc, which gives large freed runs back to the
 * kernel, so the next file faults all over again.  On the reference
 * machine that fault is most of what a sequential write through uvfsd
 * costs.  The pool takes memory from the kernel in chunks and keeps
 * what is freed for the next writer, within limits.
 *
 * What it owns
 *   Chunks: CHUNK_SIZE (2 MiB) of anonymous memory, mapped at a 2 MiB
 *   boundary.  Page 0 of a chunk is its header (struct chunk); pages 1 ..
 *   CHUNK_PAGES - 1 are handed out, one at a time, as memfs pages
 *   (PG_SIZE bytes; the owner of a page is the file whose page tree holds
 *   it).  A page's chunk is its address rounded down to CHUNK_SIZE.
 *
 * Lifecycle of a chunk (enum chunk_state, one checked transition,
 * chunk_set_state):
 *
 *      mmap --> PARTIAL <--> FULL
 *                 |  ^
 *      last page  |  |  a page is wanted
 *      back       v  |
 *                HOT ---------------+
 *       (or, past the hot limit,    |  trim or past the limits
 *        straight to RELEASING)     v
 *                 ^            RELEASING --> munmap
 *                 |                 |
 *                LAZY <-------------+  madvise(MADV_FREE)
 *
 *   PARTIAL    some pages free to hand out (it may have none in use
 *              while it is being filled);
 *   FULL       every page handed out;
 *   HOT        every page back, kept as it is: the next page wanted comes
 *              from it at no cost (at most pool.hot_max of them);
 *   LAZY       every page back, given to the kernel with MADV_FREE: still
 *              mapped, and the kernel takes the memory back only when it
 *              needs it, so a writer that comes soon writes into it
 *              without a fault (at most pool.lazy_max of them; a kernel
 *              without MADV_FREE gets MADV_DONTNEED);
 *   RELEASING  out of every list while the madvise or munmap runs with
 *              the pool's lock dropped; then LAZY, or unmapped.
 *   A page is handed out from the chunks in that order: PARTIAL, HOT,
 *   LAZY, then a new mapping.
 *
 * Zeros: pages of a new mapping that were never handed out are zeros; a
 * page handed out before, or from a LAZY chunk (the kernel may or may
 * not have taken it), is zeroed by memfs_pool_get when the caller asks
 * for zeros.
 *
 * Lock: pool.lock (a mutex, a leaf: nothing is taken inside it, and no
 * system call is made inside it but the mmap of a new chunk).  memfs
 * calls into the pool with a node lock held (memfs.c's lock order:
 * node->lock > the pool's lock).  The pool never calls back into memfs.
 *
 * Lock legend: p  pool.lock.
 */
#define _GNU_SOURCE
#include "memfs_i.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#ifndef MADV_FREE
#define MADV_FREE 8
#endif

/* Streaming stores (SSE2, on every x86-64) for memfs_page_fill.  The
 * sanitizers do not see an intrinsic's loads and stores: under
 * AddressSanitizer the fill checks both ranges itself (CHECK_RANGE), and
 * under ThreadSanitizer it is a memcpy. */
#if defined(__x86_64__) && !MEMFS_TSAN
#define STREAM_FILL 1
#include <emmintrin.h>
#else
#define STREAM_FILL 0
#endif
#if defined(__SANITIZE_ADDRESS__)
#define CHECK_RANGE(p, n) \
	assert(__asan_region_is_poisoned((void *)(p), (n)) == NULL)
#else
#define CHECK_RANGE(p, n) ((void)(p), (void)(n))
#endif

#define CHUNK_SHIFT 21
#define CHUNK_SIZE ((size_t)1 << CHUNK_SHIFT)
#define CHUNK_PAGES (CHUNK_SIZE / PG_SIZE)
#define HOT_MAX_DEFAULT 8               /* 16 MiB kept as it is */
#define LAZY_SHARE_DEFAULT 8            /* 1/8 of RAM kept with MADV_FREE */

enum chunk_state {
	CHUNK_PARTIAL,
	CHUNK_FULL,
	CHUNK_HOT,
	CHUNK_LAZY,
	CHUNK_RELEASING,
};

/* A chunk's header, in its page 0. */
struct chunk {
	struct chunk *prev, *next;      /* p: the list of its state (none
					   when FULL or RELEASING) */
	enum chunk_state state;         /* p */
	unsigned used;                  /* p: pages handed out */
	unsigned bump;                  /* p: pages >= bump never handed out
					   since the chunk was mapped or
					   went LAZY */
	bool bump_zero;                 /* p: those are zeros (a new
					   mapping) */
	unsigned nfree;                 /* p: entries of freed[] */
	uint16_t freed[CHUNK_PAGES];    /* p: indices of pages given back,
					   a stack */
};
_Static_assert(sizeof(struct chunk) <= PG_SIZE, "a chunk header is a page");
_Static_assert(CHUNK_PAGES <= UINT16_MAX, "page indices fit in freed[]");

struct list {
	struct chunk *head;             /* p */
	uint64_t n;                     /* p */
};

static struct {
	pthread_mutex_t lock;
	struct list partial, hot, lazy; /* p: chunks by state */
	uint64_t chunks;                /* p: mapped (every state) */
	uint64_t lazy_due;              /* p: RELEASING chunks going LAZY */
	uint64_t used;                  /* p: pages handed out */
	uint64_t hot_max, lazy_max;     /* p: limits, in chunks */
	bool limits_set;                /* p: the defaults were computed */
	uint64_t mmaps, munmaps, lazy_frees; /* p: counters, for the tests */
} pool = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* The pool's one way to new memory: mmap is not in the system-call table
 * (lib/util/sys.h), so a test that wants a chunk's mapping to fail sets
 * this instead (memfs_pool_set_map).  p: read and set under pool.lock. */
static void *map_default(size_t len)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}
static memfs_pool_map_fn *pool_map = map_default;

/* ---- lists and states -------------------------------------------------- */

static struct list *state_list(enum chunk_state s)
{
	switch (s) {
	case CHUNK_PARTIAL: return &pool.partial;
	case CHUNK_HOT: return &pool.hot;
	case CHUNK_LAZY: return &pool.lazy;
	default: return NULL;
	}
}

static void list_del(struct list *l, struct chunk *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	l->n--;
}

static void list_push(struct list *l, struct chunk *c)
{
	c->prev = NULL;
	c->next = l->head;
	if (l->head != NULL)
		l->head->prev = c;
	l->head = c;
	l->n++;
}

/* The one place a chunk changes state: checks the transition, moves the
 * chunk between the lists.  => pool.lock held. */
static void chunk_set_state(struct chunk *c, enum chunk_state to)
{
	enum chunk_state from = c->state;
	bool ok;
	struct list *l;

	switch (to) {
	case CHUNK_PARTIAL:
		ok = from == CHUNK_FULL || from == CHUNK_HOT ||
		     from == CHUNK_LAZY;
		break;
	case CHUNK_FULL:
		ok = from == CHUNK_PARTIAL;
		break;
	case CHUNK_HOT:
		ok = from == CHUNK_PARTIAL && c->used == 0;
		break;
	case CHUNK_RELEASING:
		ok = (from == CHUNK_PARTIAL || from == CHUNK_HOT ||
		      from == CHUNK_LAZY) && c->used == 0;
		break;
	case CHUNK_LAZY:
		ok = from == CHUNK_RELEASING && c->used == 0;
		break;
	default:
		ok = false;
		break;
	}
	assert(ok);
	(void)ok;
	l = state_list(from);
	if (l != NULL)
		list_del(l, c);
	c->state = to;
	l = state_list(to);
	if (l != NULL)
		list_push(l, c);
}

static struct chunk *page_chunk(const void *pg)
{
	return (struct chunk *)((uintptr_t)pg & ~(uintptr_t)(CHUNK_SIZE - 1));
}

/* ---- limits ------------------------------------------------------------ */

/* => pool.lock held. */
static void limits_default_locked(void)
{
	long pages = sysconf(_SC_PHYS_PAGES);
	long psize = sysconf(_SC_PAGESIZE);
	uint64_t ram;

	if (pool.limits_set)
		return;
	ram = pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize :
				       (uint64_t)1 << 30;
	pool.hot_max = HOT_MAX_DEFAULT;
	pool.lazy_max = ram / LAZY_SHARE_DEFAULT / CHUNK_SIZE;
	pool.limits_set = true;
}

/* ---- mapping ----------------------------------------------------------- */

/* A new chunk, PARTIAL, or NULL (ENOMEM).  => pool.lock held. */
static struct chunk *chunk_map_locked(void)
{
	char *p = pool_map(2 * CHUNK_SIZE);
	char *a;
	struct chunk *c;

	if (p == MAP_FAILED)
		return NULL;
	a = (char *)(((uintptr_t)p + CHUNK_SIZE - 1) &
		     ~(uintptr_t)(CHUNK_SIZE - 1));
	if (a > p)
		munmap(p, (size_t)(a - p));
	if (a + CHUNK_SIZE < p + 2 * CHUNK_SIZE)
		munmap(a + CHUNK_SIZE, (size_t)(p + 2 * CHUNK_SIZE -
						(a + CHUNK_SIZE)));
	POISON(a + PG_SIZE, CHUNK_SIZE - PG_SIZE);
	c = (struct chunk *)a;
	c->used = 0;
	c->bump = 1;
	c->bump_zero = true;
	c->nfree = 0;
	c->state = CHUNK_FULL;  /* a moment: made PARTIAL below */
	c->prev = c->next = NULL;
	chunk_set_state(c, CHUNK_PARTIAL);
	pool.chunks++;
	pool.mmaps++;
	return c;
}

/* Gives c (RELEASING, out of every list) back: to the kernel with
 * MADV_FREE and then LAZY if lazy is set, else unmapped.  Takes and
 * drops pool.lock around the system call.  => pool.lock held. */
static void chunk_release_locked(struct chunk *c, bool lazy)
{
	pthread_mutex_unlock(&pool.lock);
	if (lazy) {
		char *data = (char *)c + PG_SIZE;

		UNPOISON(data, CHUNK_SIZE - PG_SIZE);
		if (madvise(data, CHUNK_SIZE - PG_SIZE, MADV_FREE) != 0)
			madvise(data, CHUNK_SIZE - PG_SIZE, MADV_DONTNEED);
		POISON(data, CHUNK_SIZE - PG_SIZE);
	} else {
		/* a later mapping at this address must not find it poisoned */
		UNPOISON(c, CHUNK_SIZE);
		munmap(c, CHUNK_SIZE);
	}
	pthread_mutex_lock(&pool.lock);
	if (lazy) {
		c->nfree = 0;
		c->bump = 1;
		c->bump_zero = false;
		pool.lazy_due--;
		pool.lazy_frees++;
		chunk_set_state(c, CHUNK_LAZY);
	} else {
		pool.chunks--;
		pool.munmaps++;
	}
}

/* c has no page in use any more: HOT, LAZY or unmapped, as the limits
 * say.  May drop and retake pool.lock.  => pool.lock held; c PARTIAL. */
static void chunk_emptied_locked(struct chunk *c)
{
	bool lazy;

	limits_default_locked();
	if (pool.hot.n < pool.hot_max) {
		chunk_set_state(c, CHUNK_HOT);
		return;
	}
	lazy = pool.lazy.n + pool.lazy_due < pool.lazy_max;
	if (lazy)
		pool.lazy_due++;
	chunk_set_state(c, CHUNK_RELEASING);
	chunk_release_locked(c, lazy);
}

/* ---- pages ------------------------------------------------------------- */

/* One page of c, which has room.  *zero: it is known to be zeros.
 * => pool.lock held. */
static char *chunk_take_locked(struct chunk *c, bool *zero)
{
	unsigned i;

	if (c->nfree > 0) {
		i = c->freed[--c->nfree];
		*zero = false;
	} else {
		assert(c->bump < CHUNK_PAGES);
		i = c->bump++;
		*zero = c->bump_zero;
	}
	c->used++;
	pool.used++;
	if (c->nfree == 0 && c->bump == CHUNK_PAGES)
		chunk_set_state(c, CHUNK_FULL);
	return (char *)c + (size_t)i * PG_SIZE;
}

int memfs_pool_get(char **pages, unsigned n, bool zero)
{
	bool is_zero[MEMFS_POOL_BATCH];
	unsigned done = 0;

	assert(n <= MEMFS_POOL_BATCH);
	pthread_mutex_lock(&pool.lock);
	while (done < n) {
		struct chunk *c = pool.partial.head;

		if (c == NULL && pool.hot.head != NULL) {
			c = pool.hot.head;
			chunk_set_state(c, CHUNK_PARTIAL);
		} else if (c == NULL && pool.lazy.head != NULL) {
			c = pool.lazy.head;
			chunk_set_state(c, CHUNK_PARTIAL);
		} else if (c == NULL) {
			c = chunk_map_locked();
			if (c == NULL)
				break;
		}
		while (done < n && c->state == CHUNK_PARTIAL) {
			bool z;

			pages[done] = chunk_take_locked(c, &z);
			is_zero[done++] = z;
		}
	}
	if (done < n) {         /* ENOMEM: all or nothing */
		pthread_mutex_unlock(&pool.lock);
		for (unsigned i = 0; i < done; i++)
			memfs_pool_put(pages[i]);
		return -ENOMEM;
	}
	pthread_mutex_unlock(&pool.lock);
	for (unsigned i = 0; i < n; i++) {
		UNPOISON(pages[i], PG_SIZE);
		if (zero && !is_zero[i])
			memset(pages[i], 0, PG_SIZE);
	}
	return 0;
}

void memfs_pool_put(void *pg)
{
	struct chunk *c = page_chunk(pg);
	size_t i = (size_t)((char *)pg - (char *)c) / PG_SIZE;

	assert(((uintptr_t)pg & PG_MASK) == 0 && i > 0 && i < CHUNK_PAGES);
	POISON(pg, PG_SIZE);
	pthread_mutex_lock(&pool.lock);
	assert(c->used > 0 && c->nfree < CHUNK_PAGES - 1);
	c->freed[c->nfree++] = (uint16_t)i;
	c->used--;
	pool.used--;
	if (c->state == CHUNK_FULL)
		chunk_set_state(c, CHUNK_PARTIAL);
	if (c->used == 0)
		chunk_emptied_locked(c);
	pthread_mutex_unlock(&pool.lock);
}

void memfs_page_fill(char *dst, const char *src)
{
#if STREAM_FILL
	__m128i *d = (__m128i *)(void *)dst;
	const __m128i *s = (const __m128i *)(const void *)src;

	assert(((uintptr_t)dst & PG_MASK) == 0);
	CHECK_RANGE(dst, PG_SIZE);
	CHECK_RANGE(src, PG_SIZE);
	for (size_t i = 0; i < PG_SIZE / sizeof(*d); i += 4) {
		__m128i a = _mm_loadu_si128(s + i);
		__m128i b = _mm_loadu_si128(s + i + 1);
		__m128i c = _mm_loadu_si128(s + i + 2);
		__m128i e = _mm_loadu_si128(s + i + 3);
		_mm_stream_si128(d + i, a);
		_mm_stream_si128(d + i + 1, b);
		_mm_stream_si128(d + i + 2, c);
		_mm_stream_si128(d + i + 3, e);
	}
#else
	memcpy(dst, src, PG_SIZE);
#endif
}

void memfs_page_fill_end(void)
{
#if STREAM_FILL
	/* streaming stores are ordered by nothing else: every one of them
	 * before the store that publishes the page */
	_mm_sfence();
#endif
}

/* ---- limits, trimming, figures ----------------------------------------- */

/* Gives back what is over the limits: HOT chunks past hot_max, LAZY ones
 * past lazy_max (unmapped).  => pool.lock held; may drop it. */
static void trim_locked(void)
{
	while (pool.hot.n > pool.hot_max) {
		struct chunk *c = pool.hot.head;
		bool lazy = pool.lazy.n + pool.lazy_due < pool.lazy_max;

		if (lazy)
			pool.lazy_due++;
		chunk_set_state(c, CHUNK_RELEASING);
		chunk_release_locked(c, lazy);
	}
	while (pool.lazy.n > pool.lazy_max) {
		struct chunk *c = pool.lazy.head;

		chunk_set_state(c, CHUNK_RELEASING);
		chunk_release_locked(c, false);
	}
}

void memfs_pool_set_limits(uint64_t hot_max, uint64_t lazy_max)
{
	pthread_mutex_lock(&pool.lock);
	pool.hot_max = hot_max;
	pool.lazy_max = lazy_max;
	pool.limits_set = true;
	trim_locked();
	pthread_mutex_unlock(&pool.lock);
}

memfs_pool_map_fn *memfs_pool_set_map(memfs_pool_map_fn *fn)
{
	memfs_pool_map_fn *old;

	pthread_mutex_lock(&pool.lock);
	old = pool_map;
	pool_map = fn != NULL ? fn : map_default;
	pthread_mutex_unlock(&pool.lock);
	return old;
}

void memfs_pool_limits(uint64_t *hot_max, uint64_t *lazy_max)
{
	pthread_mutex_lock(&pool.lock);
	limits_default_locked();
	*hot_max = pool.hot_max;
	*lazy_max = pool.lazy_max;
	pthread_mutex_unlock(&pool.lock);
}

void memfs_pool_stats(struct memfs_pool_stats *st)
{
	pthread_mutex_lock(&pool.lock);
	st->chunks = pool.chunks;
	st->used = pool.used;
	st->partial = pool.partial.n;
	st->hot = pool.hot.n;
	st->lazy = pool.lazy.n;
	st->mmaps = pool.mmaps;
	st->munmaps = pool.munmaps;
	st->lazy_frees = pool.lazy_frees;
	pthread_mutex_unlock(&pool.lock);
}
