/* SPDX-License-Identifier: MIT */
#pragma once
/* The ABI between libpmt_heap.so (the allocator interposer that
 * `python -m pmt_tracer --heap` preloads) and the _pmt_tracer extension.
 *
 * The interposer defines malloc, calloc, realloc, reallocarray, free,
 * posix_memalign, aligned_alloc, memalign, valloc and pvalloc, forwards each
 * to the next definition (dlsym(RTLD_NEXT): libc's, or a sanitizer's), and
 * hands every call to a sink the extension installs. It knows nothing of the
 * log format. The extension finds it with dlsym(RTLD_DEFAULT,
 * "pmt_heap_abi"); when that finds nothing, heap tracing of libc is off
 * (Profile(heap=True) says it needs the launcher).
 *
 * Per thread the interposer keeps a struct pmt_heap_tls in initial-exec
 * TLS (no allocation, ever). The extension caches its address per thread
 * (tls()) and its hook writes the thread's position there at every event;
 * the sink reads it back on the allocating thread, so an allocation in a
 * thread that does not hold the GIL still knows where its thread was.
 *
 * Locking: one mutex serialises every append to the traced log (the hook's
 * events take it too, in heap mode) and every sink call. While a thread is
 * inside the tracer or the sink, its `busy` count is non-zero and its
 * allocator calls go straight to the real allocator, unrecorded: the
 * tracer's and zstd's own allocations never recurse. The interposer takes
 * the mutex in a pthread_atfork prepare handler, so a fork never leaves the
 * child with the mutex held by a thread it does not have. Lock order: the
 * GIL, then this mutex; nothing holding the mutex waits for the GIL. */
#include <stdint.h>

#define PMT_HEAP_ABI_VERSION 1

struct pmt_heap_tls {
	uint64_t pos;	 /* code | line << 32 of the thread's last event (written by the hook) */
	uint64_t gen;	 /* log generation that pos and thread belong to; 0 = none */
	uint64_t tid;	 /* OS thread id, 0 until the sink first needs it */
	uint32_t thread; /* the log's thread index, when gen matches */
	uint32_t busy;	 /* > 0: allocator calls of this thread are not recorded */
};

/* One allocator call; op is enum pmt_alloc_op (0..9). Called with the mutex
 * held and tls->busy raised, on the thread that made the call: free before
 * the block is released, the others after the block is returned (realloc
 * with the mutex held across the call), so the order of the records is an
 * order in which the heap really changed. */
typedef void (*pmt_heap_sink_fn)(void *ctx, struct pmt_heap_tls *tls, unsigned op, uint64_t addr,
				 uint64_t old, uint64_t size, uint64_t align);

struct pmt_heap_abi {
	uint32_t version; /* PMT_HEAP_ABI_VERSION */
	uint32_t size;	  /* sizeof(struct pmt_heap_abi) */
	/* The calling thread's slot; never fails, never allocates. */
	struct pmt_heap_tls *(*tls)(void);
	/* The mutex; lock() also raises the caller's busy count, unlock()
	 * lowers it, so what the holder allocates is never recorded. */
	void (*lock)(void);
	void (*unlock)(void);
	/* Installs the sink (fn != NULL) or removes it (NULL). Takes the mutex:
	 * once set_sink(NULL, NULL) returns, no call of the old sink runs. */
	void (*set_sink)(pmt_heap_sink_fn fn, void *ctx);
};

/* Exported by libpmt_heap.so. */
const struct pmt_heap_abi *pmt_heap_abi(void);
