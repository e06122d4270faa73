/* SPDX-License-Identifier: MIT */
/* libpmt_heap.so: the allocator interposer behind `python -m pmt_tracer
 * --heap` (the ABI and its rules are heap-abi.h).
 *
 * Preloaded (LD_PRELOAD), its definitions come before libc's in every
 * lookup, so it sees the calls of the interpreter, of every extension and
 * library, those loaded later with dlopen included, and of threads that
 * never hold the GIL, without patching anything. Until the extension
 * installs a sink, each call costs one load and a forward.
 *
 * Built without sanitizer instrumentation: it runs before any sanitizer
 * runtime is initialised, and under ASan it forwards to ASan's allocator
 * (the next definition). */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <libpmt/core/log-format.h>

#include "heap-abi.h"

#define EXPORT __attribute__((visibility("default")))

static struct {
	void *(*malloc)(size_t);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	void *(*reallocarray)(void *, size_t, size_t);
	void (*free)(void *);
	int (*posix_memalign)(void **, size_t, size_t);
	void *(*aligned_alloc)(size_t, size_t);
	void *(*memalign)(size_t, size_t);
	void *(*valloc)(size_t);
	void *(*pvalloc)(size_t);
} real;

static _Thread_local struct pmt_heap_tls tls __attribute__((tls_model("initial-exec")));

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(pmt_heap_sink_fn) sink_fn;
static void *sink_ctx;

/* ---- bootstrap ----------------------------------------------------------- */

/* dlsym() may allocate (its error buffer) before we know where the real
 * allocator is: those few calls are served from here and never freed. */
static _Alignas(16) unsigned char boot[64 * 1024];
static size_t boot_used;
static int resolving;

static void *boot_alloc(size_t n)
{
	size_t need = (n + 15) & ~(size_t)15;
	if (need > sizeof(boot) - boot_used)
		return NULL;
	void *p = boot + boot_used;
	boot_used += need;
	return p;
}

static int is_boot(const void *p)
{
	return (const unsigned char *)p >= boot && (const unsigned char *)p < boot + sizeof(boot);
}

static void atfork_prepare(void) { pthread_mutex_lock(&mu); }
static void atfork_parent(void) { pthread_mutex_unlock(&mu); }
static void atfork_child(void)
{
	tls.tid = 0; /* the child's only thread has a tid of its own */
	pthread_mutex_unlock(&mu);
}

static void resolve(void)
{
	if (real.free || resolving)
		return;
	resolving = 1;
	tls.busy++;
	real.calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
	real.malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
	real.realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
	real.reallocarray = (void *(*)(void *, size_t, size_t))dlsym(RTLD_NEXT, "reallocarray");
	real.posix_memalign = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
	real.aligned_alloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
	real.memalign = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "memalign");
	real.valloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "valloc");
	real.pvalloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "pvalloc");
	real.free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
	tls.busy--;
	resolving = 0;
}

__attribute__((constructor)) static void init(void)
{
	resolve();
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* ---- recording ----------------------------------------------------------- */

static inline int tracing(void)
{
	return atomic_load_explicit(&sink_fn, memory_order_relaxed) != NULL && !tls.busy;
}

/* With the mutex held and busy raised. */
static inline void emit(unsigned op, const void *addr, const void *old, uint64_t size,
			uint64_t align)
{
	pmt_heap_sink_fn fn = atomic_load_explicit(&sink_fn, memory_order_relaxed);
	if (fn)
		fn(sink_ctx, &tls, op, (uint64_t)(uintptr_t)addr, (uint64_t)(uintptr_t)old, size,
		   align);
}

static inline void enter(void)
{
	tls.busy++;
	pthread_mutex_lock(&mu);
}

static inline void leave(void)
{
	pthread_mutex_unlock(&mu);
	tls.busy--;
}

static void record(unsigned op, const void *addr, const void *old, uint64_t size, uint64_t align)
{
	enter();
	emit(op, addr, old, size, align);
	leave();
}

/* ---- the interposed functions --------------------------------------------- */

EXPORT void *malloc(size_t n)
{
	if (__builtin_expect(!real.malloc, 0)) {
		resolve();
		if (!real.malloc)
			return boot_alloc(n);
	}
	if (!tracing())
		return real.malloc(n);
	tls.busy++;
	void *p = real.malloc(n);
	tls.busy--;
	record(PMT_ALLOC_MALLOC, p, NULL, n, 0);
	return p;
}

EXPORT void *calloc(size_t n, size_t k)
{
	if (__builtin_expect(!real.calloc, 0)) {
		resolve();
		if (!real.calloc) {
			size_t b;
			if (__builtin_mul_overflow(n, k, &b))
				return NULL;
			return boot_alloc(b); /* static, so already zero */
		}
	}
	if (!tracing())
		return real.calloc(n, k);
	tls.busy++;
	void *p = real.calloc(n, k);
	tls.busy--;
	uint64_t b;
	if (__builtin_mul_overflow((uint64_t)n, (uint64_t)k, &b))
		b = UINT64_MAX;
	record(PMT_ALLOC_CALLOC, p, NULL, b, 0);
	return p;
}

EXPORT void free(void *p)
{
	if (__builtin_expect(is_boot(p), 0))
		return;
	if (__builtin_expect(!real.free, 0)) {
		resolve();
		if (!real.free)
			return;
	}
	if (!tracing()) {
		real.free(p);
		return;
	}
	/* Recorded before the block is released: once it is, another thread
	 * may get the same address and record its malloc first. */
	record(p ? PMT_ALLOC_FREE : PMT_ALLOC_FREE_NULL, p, NULL, 0, 0);
	if (p)
		real.free(p);
}

/* realloc frees the old block inside the call: the mutex is held across
 * it so that no other thread can be given (and record) that address
 * before this record is in. */
static void *do_realloc(void *p, size_t n, size_t k, int array)
{
	if (__builtin_expect(is_boot(p), 0)) {
		/* a bootstrap block: move it to the real heap */
		size_t b;
		if (array && __builtin_mul_overflow(n, k, &b)) {
			errno = ENOMEM;
			return NULL;
		}
		b = array ? b : n;
		void *q = malloc(b);
		if (q) {
			size_t left = (size_t)(boot + sizeof(boot) - (unsigned char *)p);
			memcpy(q, p, b < left ? b : left);
		}
		return q;
	}
	if (__builtin_expect(!real.realloc, 0)) {
		resolve();
		if (!real.realloc)
			return NULL;
	}
	if (!tracing())
		return array ? real.reallocarray(p, n, k) : real.realloc(p, n);
	uint64_t b = n;
	if (array && __builtin_mul_overflow((uint64_t)n, (uint64_t)k, &b))
		b = UINT64_MAX;
	enter();
	void *q = array ? real.reallocarray(p, n, k) : real.realloc(p, n);
	if (p && !q && b == 0)
		emit(PMT_ALLOC_FREE, p, NULL, 0, 0); /* realloc(p, 0): freed */
	else
		emit(PMT_ALLOC_REALLOC, q, p, b, 0);
	leave();
	return q;
}

EXPORT void *realloc(void *p, size_t n) { return do_realloc(p, n, 0, 0); }

EXPORT void *reallocarray(void *p, size_t n, size_t k) { return do_realloc(p, n, k, 1); }

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	if (__builtin_expect(!real.posix_memalign, 0)) {
		resolve();
		if (!real.posix_memalign)
			return ENOMEM;
	}
	if (!tracing())
		return real.posix_memalign(out, align, n);
	tls.busy++;
	int r = real.posix_memalign(out, align, n);
	tls.busy--;
	record(PMT_ALLOC_POSIX_MEMALIGN, r == 0 ? *out : NULL, NULL, n, align);
	return r;
}

#define ALIGNED(name, op)                                                                          \
	EXPORT void *name(size_t align, size_t n)                                                  \
	{                                                                                          \
		if (__builtin_expect(!real.name, 0)) {                                             \
			resolve();                                                                 \
			if (!real.name)                                                            \
				return NULL;                                                       \
		}                                                                                  \
		if (!tracing())                                                                    \
			return real.name(align, n);                                                \
		tls.busy++;                                                                        \
		void *p = real.name(align, n);                                                     \
		tls.busy--;                                                                        \
		record(op, p, NULL, n, align);                                                     \
		return p;                                                                          \
	}
ALIGNED(aligned_alloc, PMT_ALLOC_ALIGNED_ALLOC)
ALIGNED(memalign, PMT_ALLOC_MEMALIGN)

#define PAGED(name, op)                                                                            \
	EXPORT void *name(size_t n)                                                                \
	{                                                                                          \
		if (__builtin_expect(!real.name, 0)) {                                             \
			resolve();                                                                 \
			if (!real.name)                                                            \
				return NULL;                                                       \
		}                                                                                  \
		if (!tracing())                                                                    \
			return real.name(n);                                                       \
		tls.busy++;                                                                        \
		void *p = real.name(n);                                                            \
		tls.busy--;                                                                        \
		record(op, p, NULL, n, 0);                                                         \
		return p;                                                                          \
	}
PAGED(valloc, PMT_ALLOC_VALLOC)
PAGED(pvalloc, PMT_ALLOC_PVALLOC)

/* ---- the ABI --------------------------------------------------------------- */

static struct pmt_heap_tls *abi_tls(void)
{
	if (!tls.tid)
		tls.tid = (uint64_t)syscall(SYS_gettid);
	return &tls;
}

static void abi_lock(void) { enter(); }
static void abi_unlock(void) { leave(); }

static void abi_set_sink(pmt_heap_sink_fn fn, void *ctx)
{
	enter();
	sink_ctx = ctx;
	atomic_store_explicit(&sink_fn, fn, memory_order_relaxed);
	leave();
}

static const struct pmt_heap_abi abi = {
    .version = PMT_HEAP_ABI_VERSION,
    .size = sizeof(struct pmt_heap_abi),
    .tls = abi_tls,
    .lock = abi_lock,
    .unlock = abi_unlock,
    .set_sink = abi_set_sink,
};

EXPORT const struct pmt_heap_abi *pmt_heap_abi(void) { return &abi; }
