/* SPDX-License-Identifier: MIT */
/* libpmt_heaptest.so: allocator calls of known sizes in known patterns,
 * for the heap tracing tests (test_heap.py), which load it with ctypes after
 * the program has started. Built by `make check`, never installed.
 *
 * Each pattern is bracketed by two marker blocks (MARK_BEGIN, MARK_END
 * bytes, allocated and freed at once), so a test finds exactly the calls
 * the pattern made among the interpreter's own. */
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT int ht_pattern(void);
EXPORT void ht_leak(int n, size_t size);
EXPORT void ht_churn(int n, size_t size);
EXPORT int ht_storm(int nthreads, int iters, size_t base);

#define MARK_BEGIN 777001
#define MARK_END 777002

/* Kept in a volatile sink so the compiler cannot pair a malloc with its
 * free and drop both. */
static void *volatile keep;

static void mark(size_t n)
{
	keep = malloc(n);
	free(keep);
}

/* Every interposed call once, with sizes no one else uses:
 *   malloc 100001, calloc 7 x 1001, realloc -> 200003, free, free(NULL) x3,
 *   posix_memalign 64/1000, aligned_alloc 128/256, memalign 32/100,
 *   valloc 10, pvalloc 10, reallocarray 3 x 11, and the frees of each. */
EXPORT int ht_pattern(void)
{
	mark(MARK_BEGIN);
	char *a = malloc(100001);
	char *b = calloc(7, 1001);
	a = realloc(a, 200003);
	free(a);
	free(b);
	free(NULL);
	free(NULL);
	free(NULL);
	void *c = NULL;
	int r = posix_memalign(&c, 64, 1000);
	free(c);
	void *d = aligned_alloc(128, 256);
	free(d);
	void *e = memalign(32, 100);
	free(e);
	void *f = valloc(10);
	free(f);
	void *g = pvalloc(10);
	free(g);
	void *h = reallocarray(NULL, 3, 11);
	free(h);
	mark(MARK_END);
	return r;
}

/* n blocks of size bytes, never freed. */
EXPORT void ht_leak(int n, size_t size)
{
	mark(MARK_BEGIN);
	for (int i = 0; i < n; i++) {
		char *p = malloc(size);
		if (p)
			memset(p, 1, size);
	}
	mark(MARK_END);
}

/* n blocks of size bytes, then all freed. */
EXPORT void ht_churn(int n, size_t size)
{
	void **v = calloc((size_t)n, sizeof(*v));
	if (!v)
		return;
	for (int i = 0; i < n; i++)
		v[i] = malloc(size);
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

struct storm {
	int iters;
	size_t size;
};

static void *storm_main(void *arg)
{
	struct storm *s = arg;
	for (int i = 0; i < s->iters; i++) {
		void *p = malloc(s->size);
		keep = p;
		free(p);
	}
	return NULL;
}

/* nthreads native threads (they never hold the GIL nor run Python code),
 * thread i doing iters malloc+free pairs of base + i bytes. Returns the
 * number of threads started. */
EXPORT int ht_storm(int nthreads, int iters, size_t base)
{
	pthread_t th[64];
	struct storm st[64];
	int n = 0;
	if (nthreads > 64)
		nthreads = 64;
	for (int i = 0; i < nthreads; i++) {
		st[i] = (struct storm){iters, base + (size_t)i};
		if (pthread_create(&th[n], NULL, storm_main, &st[i]) == 0)
			n++;
	}
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	return n;
}
