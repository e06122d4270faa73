/* SPDX-License-Identifier: MIT */
/* Heap tracing: every allocator call of the process as ALLOC records in the
 * log (docs/FORMAT.md, "Heap records"), each after a SITE saying which
 * thread made it and where that thread's Python code was.
 *
 *   --heap (HEAP_LIBC): libpmt_heap.so, preloaded by the launcher, hands
 *   every libc allocator call of every thread to heap_sink(), under its
 *   mutex, which also guards every other append to the log (heap-abi.h).
 *   --heap=python (HEAP_PYTHON): PyMem_SetAllocator hooks on the MEM and
 *   OBJ domains, the level tracemalloc sees; those calls hold the GIL, like
 *   the hook, so nothing more is locked.
 *
 * Without the hook (events=False, --heap=python --no-events) no thread
 * position is kept: each allocation takes its code and line from the frame
 * running when it is made (heap-frame.c), as tracemalloc does.
 *
 * Event numbers stay implicit: before its ALLOC a record writes the SKIP of
 * the events whose hook call has finished (heap_done) and that no record
 * has announced yet, so the ALLOC lands after the events that happened
 * before it. */
#include "heap-frame.h"
#include "record.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

_Thread_local struct pmt_heap_tls *tls_heap __attribute__((tls_model("initial-exec")));
static _Thread_local struct pmt_heap_tls own_tls __attribute__((tls_model("initial-exec")));
_Thread_local struct heap_stack *tls_hstack __attribute__((tls_model("initial-exec")));

/* Frees a thread's position stack when the thread ends. */
static pthread_key_t hstack_key;
static pthread_once_t hstack_once = PTHREAD_ONCE_INIT;
static void hstack_free(void *p)
{
	/* the tracer's block: its free is not the program's */
	struct pmt_heap_tls *h = tls_heap;
	if (h)
		h->busy++;
	free(p);
	if (h)
		h->busy--;
}
static void hstack_key_make(void) { pthread_key_create(&hstack_key, hstack_free); }

/* The interposer, when it is preloaded (looked up once). */
static const struct pmt_heap_abi *the_abi;
static bool abi_looked_up;
/* The log recording the heap (one at a time); GIL. */
static struct tracer *heap_owner;

static const struct pmt_heap_abi *find_abi(void)
{
	if (!abi_looked_up) {
		abi_looked_up = true;
		const struct pmt_heap_abi *(*get)(void) =
		    (const struct pmt_heap_abi *(*)(void))dlsym(RTLD_DEFAULT, "pmt_heap_abi");
		const struct pmt_heap_abi *a = get ? get() : NULL;
		if (a && a->version == PMT_HEAP_ABI_VERSION && a->size >= sizeof(*a))
			the_abi = a;
	}
	return the_abi;
}

bool heap_preloaded(void) { return find_abi() != NULL; }

const char *heap_library_path(void)
{
	static char path[PATH_MAX];
	Dl_info info;
	if (!dladdr((void *)heap_library_path, &info) || !info.dli_fname)
		return NULL;
	const char *sl = strrchr(info.dli_fname, '/');
	int n = sl ? (int)(sl - info.dli_fname) : 1;
	const char *dir = sl ? info.dli_fname : ".";
	if (snprintf(path, sizeof(path), "%.*s/libpmt_heap.so", n, dir) >= (int)sizeof(path))
		return NULL;
	return path;
}

/* The interposer's slot when it is there (so a thread has one slot whatever
 * the mode), else our own. */
struct pmt_heap_tls *heap_thread_slot(struct tracer *t)
{
	(void)t;
	const struct pmt_heap_abi *a = find_abi();
	if (a) {
		tls_heap = a->tls();
	} else {
		if (!own_tls.tid)
			own_tls.tid = (uint64_t)syscall(SYS_gettid);
		tls_heap = &own_tls;
	}
	/* Allocated with the thread's calls unrecorded: it is the tracer's.
	 * Without it (no memory) positions after a RETURN stay the callee's. */
	tls_heap->busy++;
	pthread_once(&hstack_once, hstack_key_make);
	struct heap_stack *s = calloc(1, sizeof(*s));
	if (s && pthread_setspecific(hstack_key, s) == 0)
		tls_hstack = s;
	else
		free(s);
	tls_heap->busy--;
	return tls_heap;
}

/* The log writer's thread: none of its allocator calls (zstd's) is the
 * program's, and recording one would take the mutex that a producer waiting
 * for this thread to free a chunk may hold. */
void heap_writer_thread_start(void *ctx)
{
	(void)ctx;
	const struct pmt_heap_abi *a = find_abi();
	if (a)
		a->tls()->busy++;
}

/* The lines of (code object, instruction) pairs seen, by their hash: a
 * line is found by a scan of the code's line table. An entry is valid only
 * with the same code id, which a code object at the address of a freed one
 * never has. GIL. */
#define HEAP_LINE_BITS 12
#define HEAP_LINES (1u << HEAP_LINE_BITS)
struct heap_line {
	PyCodeObject *co;
	int offset;
	uint32_t id, line;
};
static struct heap_line heap_lines[HEAP_LINES];

/* Without the hook: the code id and line of the running Python frame (0, 0
 * when the thread runs none). GIL; calls of the allocator are unrecorded
 * (h->busy), so interning a code object may allocate. */
static void running_site(struct tracer *t, uint32_t *code, uint32_t *line)
{
	PyCodeObject *co;
	int off;
	if (!heap_frame_now(&co, &off))
		return;
	uint32_t id = py_code_id(t, co);
	uint64_t k =
	    ((uint64_t)(uintptr_t)co ^ ((uint64_t)(uint32_t)off << 40)) * 0x9E3779B97F4A7C15ull;
	struct heap_line *c = &heap_lines[k >> (64 - HEAP_LINE_BITS)];
	if (c->co != co || c->offset != off || c->id != id || !id) {
		int l = PyCode_Addr2Line(co, off);
		*c = (struct heap_line){co, off, id, l > 0 ? (uint32_t)l : 0};
	}
	*code = id;
	*line = c->line;
}

/* One allocator call, with the lock held (libc) or the GIL (python). */
static void heap_record(struct tracer *t, struct pmt_heap_tls *h, unsigned op, unsigned domain,
			uint64_t addr, uint64_t old, uint64_t size, uint64_t align)
{
	if (!t->heap_on || !(t->events ? t->active : !t->suspended) || t->failed ||
	    t->fork_pending || !t->w)
		return;
	uint32_t code = 0, line = 0;
	if (!t->events) {
		running_site(t, &code, &line);
		if (t->failed)
			return;
	} else if (h->gen == t->gen) {
		code = (uint32_t)h->pos;
		line = (uint32_t)(h->pos >> 32);
	} else {
		/* no event of this thread in this log yet: a native thread, or one
		 * that allocates before its first event */
		h->gen = t->gen;
		h->pos = 0;
	}
	if (!h->tid)
		h->tid = (uint64_t)syscall(SYS_gettid);
	/* the slot by this thread's serial, each time: slots of ended threads
	 * are reused, and the hook may have made this one meanwhile */
	uint64_t serial = tls_serial ? tls_serial : thread_tls_init();
	uint32_t s1 = thread_native(t, serial, h->tid);
	if (!s1)
		return;
	struct thread_info *ti = &t->threads[s1 - 1];
	uint32_t thread = ti->idx;
	h->thread = thread;
	int r = pmt_writer_skip(
	    t->w, heap_pending(t, atomic_load_explicit(&t->heap_done, memory_order_acquire)));
	if (r == 0 && (!ti->announced && !ti->sited)) {
		/* the thread's kernel name (prctl: no allocation, no Python) */
		char comm[17] = "";
		prctl(PR_GET_NAME, comm, 0, 0, 0);
		r = pmt_writer_site(t->w, thread, code, line, ti->tid, comm);
		ti->sited = true;
		t->heap_site.thread = thread, t->heap_site.code = code, t->heap_site.line = line;
	} else if (r == 0 && (thread != t->heap_site.thread || code != t->heap_site.code ||
			      line != t->heap_site.line)) {
		r = pmt_writer_site(t->w, thread, code, line, 0, NULL);
		t->heap_site.thread = thread, t->heap_site.code = code, t->heap_site.line = line;
	}
	if (r == 0)
		r = pmt_writer_alloc(t->w, op, domain, addr, old, size, align);
	if (r < 0) {
		hook_fail(t, "write failed", r);
		return;
	}
	t->heap_calls++;
}

/* ---- libc: the interposer's sink ------------------------------------------ */

static void heap_sink(void *ctx, struct pmt_heap_tls *h, unsigned op, uint64_t addr, uint64_t old,
		      uint64_t size, uint64_t align)
{
	heap_record(ctx, h, op, 0, addr, old, size, align);
}

/* ---- python: allocator domain hooks ------------------------------------- */

struct py_hook {
	PyMemAllocatorEx orig;
	PyMemAllocatorDomain domain;
	unsigned pmt_domain;
	bool installed;
};
static struct py_hook py_hooks[2] = {
    {.domain = PYMEM_DOMAIN_MEM, .pmt_domain = PMT_DOMAIN_MEM},
    {.domain = PYMEM_DOMAIN_OBJ, .pmt_domain = PMT_DOMAIN_OBJ},
};

static inline void py_note(struct py_hook *k, unsigned op, void *p, void *old, uint64_t size)
{
	struct tracer *t = heap_owner;
	if (!t)
		return;
	struct pmt_heap_tls *h = tls_heap;
	if (!h)
		h = heap_thread_slot(t);
	if (h->busy)
		return;
	h->busy++;
	heap_record(t, h, op, k->pmt_domain, (uint64_t)(uintptr_t)p, (uint64_t)(uintptr_t)old, size,
		    0);
	h->busy--;
}

static void *py_malloc(void *ctx, size_t n)
{
	struct py_hook *k = ctx;
	void *p = k->orig.malloc(k->orig.ctx, n);
	py_note(k, PMT_ALLOC_PY_MALLOC, p, NULL, n);
	return p;
}

static void *py_calloc(void *ctx, size_t n, size_t sz)
{
	struct py_hook *k = ctx;
	void *p = k->orig.calloc(k->orig.ctx, n, sz);
	uint64_t b;
	if (__builtin_mul_overflow((uint64_t)n, (uint64_t)sz, &b))
		b = UINT64_MAX;
	py_note(k, PMT_ALLOC_PY_CALLOC, p, NULL, b);
	return p;
}

static void *py_realloc(void *ctx, void *p, size_t n)
{
	struct py_hook *k = ctx;
	void *q = k->orig.realloc(k->orig.ctx, p, n);
	py_note(k, PMT_ALLOC_PY_REALLOC, q, p, n);
	return q;
}

static void py_free(void *ctx, void *p)
{
	struct py_hook *k = ctx;
	py_note(k, p ? PMT_ALLOC_PY_FREE : PMT_ALLOC_PY_FREE_NULL, p, NULL, 0);
	k->orig.free(k->orig.ctx, p);
}

/* ---- start / stop ----------------------------------------------------------- */

int heap_check(struct tracer *t)
{
	if (t->heap == HEAP_OFF)
		return 0;
	if (heap_owner && heap_owner != t) {
		PyErr_SetString(PyExc_RuntimeError,
				"pmt_tracer: another log is already recording the heap");
		return -1;
	}
	if (t->heap == HEAP_LIBC && !find_abi()) {
		const char *lib = heap_library_path();
		PyErr_Format(PyExc_RuntimeError,
			     "pmt_tracer: heap tracing of libc needs the allocator interposer "
			     "loaded before the program starts: run it under 'python -m pmt_tracer "
			     "--heap', or with LD_PRELOAD=%s (heap='python' works in a running "
			     "process)",
			     lib ? lib : "libpmt_heap.so");
		return -1;
	}
	t->heap_abi = t->heap == HEAP_LIBC ? find_abi() : NULL;
	return 0;
}

int heap_start(struct tracer *t)
{
	if (t->heap == HEAP_OFF || t->heap_on)
		return 0;
	if (heap_check(t) < 0)
		return -1;
	heap_owner = t;
	t->heap_on = true;
	if (t->heap == HEAP_LIBC) {
		t->heap_abi->set_sink(heap_sink, t);
		return 0;
	}
	for (int i = 0; i < 2; i++) {
		struct py_hook *k = &py_hooks[i];
		if (k->installed)
			continue; /* still in place from an earlier log (see heap_stop) */
		PyMemAllocatorEx mine = {k, py_malloc, py_calloc, py_realloc, py_free};
		PyMem_GetAllocator(k->domain, &k->orig);
		PyMem_SetAllocator(k->domain, &mine);
		k->installed = true;
	}
	return 0;
}

void heap_stop(struct tracer *t)
{
	if (!t->heap_on)
		return;
	if (t->heap == HEAP_LIBC) {
		t->heap_abi->set_sink(NULL, NULL);
	} else {
		/* Blocks ours handed out are the original allocator's: restoring it
		 * leaves every one of them valid. */
		for (int i = 0; i < 2; i++) {
			struct py_hook *k = &py_hooks[i];
			PyMemAllocatorEx cur;
			PyMem_GetAllocator(k->domain, &cur);
			/* Restored only if ours is still on top: a hook installed
			 * after ours (tracemalloc) calls ours, which then only
			 * forwards, since nothing owns the heap any more. */
			if (k->installed && cur.ctx == k && cur.malloc == py_malloc) {
				PyMem_SetAllocator(k->domain, &k->orig);
				k->installed = false;
			}
		}
	}
	t->heap_on = false;
	if (heap_owner == t)
		heap_owner = NULL;
}
