/* SPDX-License-Identifier: MIT */
#pragma once
/* Private to the _pmt_tracer extension: the Tracer object and what its
 * parts share. The parts:
 *   record.h, record.c   the hook and the record path (hot), code and thread
 *                        interning (slow, first sight only), the legacy hook
 *   monitoring.c         the sys.monitoring callbacks (3.12+) and their install
 *   log.c                log life cycle: paths, open, close, signals
 *   guard.c, guard.h     the hook's guard: a hook taken away by another tool
 *                        (sys.setprofile/settrace users, cProfile) is seen,
 *                        said and re-armed; guard-mon.c the same for other
 *                        sys.monitoring tools; guard-say.c its MESSAGE
 *                        records (and the RSS source's fd changes)
 *   module.c             the Tracer type, installing hooks, module functions
 *   heap.c               heap tracing: the sink of libpmt_heap.so (--heap, the
 *                        ABI is heap-abi.h) and the Python allocator hooks
 *                        (--heap=python)
 *   objects.c            object tracing (3.13+): PyRefTracer_SetTracer's
 *                        callback, its filters and the OBJECT records
 * Every non-static symbol is hidden: the module exports PyInit_* only. */
#include "clock.h"
#include "compat.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <libpmt/core/hash.h>
#include <libpmt/core/log-format.h>
#include <libpmt/core/log-writer.h>
#include <libpmt/core/rss.h>

#include "heap-abi.h"

enum calc { CALC_NONE = 0, CALC_RSS = 1, CALC_ALL = 2 };
/* What --heap records: nothing, every libc allocator call (through the
 * preloaded libpmt_heap.so), or Python's MEM and OBJ allocator domains. */
enum heap { HEAP_OFF = 0, HEAP_LIBC = 1, HEAP_PYTHON = 2 };
/* How events reach us: PyEval_SetProfile/SetTrace, or sys.monitoring. */
enum hook { HOOK_AUTO = 0, HOOK_LEGACY = 1, HOOK_MONITORING = 2 };
extern const char *const tracer_hook_names[];

/* co_extra holds (generation << ID_BITS | id): a value left by another log
 * (an earlier Profile, the parent before a fork) never matches, so ids are
 * always defined in the log they are used in. */
#if UINTPTR_MAX > 0xffffffffu
#define ID_BITS 32
#else
#define ID_BITS 20
#endif
#define ID_MASK ((((uintptr_t)1) << ID_BITS) - 1)
#define MAX_ID ((uint32_t)ID_MASK)

/* One OS thread seen in this log. OS tids are reused, so a thread is known
 * by its serial (tls_serial, unique for the process's life); the slot of a
 * thread that has ended is reused (see thread_switch), so the table is as
 * large as the threads alive at once, not every thread ever seen. */
struct thread_info {
	uint64_t tid;	  /* OS tid, written in THREAD records */
	uint64_t serial;  /* 0: free slot */
	uint64_t ts_id;	  /* its PyThreadState's id, for the guard's thread walks */
	uint32_t idx;	  /* its index in the log (1..) */
	uint32_t retries; /* name lookups that found nothing */
	char *name;	  /* threading name not written yet, or NULL */
	bool announced;	  /* THREAD record with the name (or none to find) written */
	bool named;	  /* the name is known (written or pending) */
	bool sited;	  /* announced by a SITE tail (heap tracing: a native thread) */
};

/* An event not written (yet): what --prev writes when the next one triggers. */
struct raw_event {
	int what;
	uint32_t code, line, thread, slot;
	uint64_t t;
	int64_t rss;
};

/* A thread whose hook slot another tool holds (legacy hook). */
struct displaced {
	PyThreadState *ts;
	uint64_t ts_id;
	uint64_t since; /* mono_ns() when seen */
	bool seen;	/* still there in the current walk */
};

struct mod_state {
	PyTypeObject *tracer_type;
	Py_ssize_t extra_index[4]; /* per mode: one profile and one trace log at a time,
				    * one log of objects alone and one of the heap
				    * alone (events=False) */
	struct tracer *open;	   /* open tracers; each holds a reference to itself */
};

struct tracer {
	PyObject_HEAD
	    /* hot fields first */
	    struct pmt_writer *w;
	struct pmt_rss rss;
	int calc;
	bool log_events, log_all, prev, failed;
	bool fork_pending;  /* a fork child whose log is not reopened yet */
	int64_t trig_pages; /* |dRSS| in pages that writes an event */
	int64_t trig_rss;   /* RSS (pages) of the last triggered event */
	uint64_t seen;	    /* events seen while active */
	uint64_t unwritten; /* events since the last written one, not yet in a SKIP */
	bool have_prev;
	struct raw_event pev;
	uint64_t start_mono;
	struct evclock clk;   /* the events' time (clock.h) */
	uint64_t last_serial; /* tls_serial of the previous event's thread */
	uint32_t cur_thread;  /* its index in the log (1..) */
	uint32_t cur_slot;    /* and in threads[] */
	uint32_t written_thread;
	bool name_pending;	 /* the current thread's name is still unknown */
	unsigned rss_fd_changes; /* t->rss.fd_changes already said in the log */
	uint64_t gen;
	Py_ssize_t extra_index;
	uint32_t next_id;
	struct pmt_hash ctab, ttab; /* ttab: serial -> slot + 1 */
	struct thread_info *threads;
	uint32_t nthreads, threads_cap; /* slots in use (free ones included), allocated */
	uint32_t nfree;			/* free slots among them */
	uint32_t next_thread;		/* the last thread index given in the log */
	uint32_t sweep_at;		/* look for ended threads when nthreads reaches it */

	/* heap tracing (heap.c); with HEAP_LIBC every append to the writer, and
	 * the thread table, are under the interposer's mutex */
	int heap;			     /* enum heap */
	const struct pmt_heap_abi *heap_abi; /* HEAP_LIBC: the interposer's */
	bool heap_on;			     /* allocator calls are being recorded */
	_Atomic uint64_t heap_done;	     /* events whose hook call has finished */
	struct {
		uint32_t thread, code, line;
	} heap_site;	     /* the last SITE written */
	uint64_t heap_calls; /* ALLOC records written */

	/* object tracing (objects.c); NULL when off */
	struct objects *obj;
	bool events; /* the hook is installed (False: objects alone) */

	/* sys.monitoring (hook HOOK_MONITORING) */
	PyObject *mon_missing, *mon_disable; /* sys.monitoring.MISSING, DISABLE */
	int tool_id;			     /* ours while installed, else -1 */
	long mon_mask;			     /* the events we set */

	/* guard.c: the hook taken away and given back */
	struct displaced *disp;
	uint32_t ndisp, disp_cap;
	uint32_t displaced;	  /* displacements seen (events may be missing) */
	uint32_t rearmed_at_once; /* hook removed and re-armed before any event */
	uint64_t displaced_ns;	  /* thread time spent displaced */
	uint32_t guard_msgs;	  /* MESSAGE records the guard wrote */
	uint32_t guard_msgs_lost; /* ... and those over the cap */
	uint32_t rss_reopens;	  /* RSS source fd found not ours and reopened */
	bool rss_lost;		  /* the RSS source cannot be read: values are stale */

	/* configuration */
	PyObject *module;
	int mode;
	int hook_want;	     /* enum hook: as asked */
	int hook;	     /* enum hook: in use */
	bool hook_announced; /* the "pmt: hook=" MESSAGE is in this log */
	int64_t trigger;     /* bytes as given (<0: page size) */
	enum pmt_rss_kind rss_want;
	bool force;
	char *template_path;
	char *child_template; /* template_path made absolute at the first open: a
			       * fork child's log goes beside its parent's even
			       * if the program changed directory */
	char *path;
	char **argv;
	uint32_t argc;

	/* life cycle */
	bool is_open, active, suspended, child_path;
	long page_size;
	int64_t rss_start;
	uint64_t final_events, final_written, final_bytes;
	char errmsg[256];
	struct tracer *next_open;
};

/* 3.8 has no PyType_GetModule: the module is remembered here (borrowed). */
extern PyObject *tracer_the_module;
/* For the pthread_atfork child handler, which may not touch Python. */
extern struct mod_state *tracer_the_state;

static inline uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline struct mod_state *mod_state(PyObject *module)
{
	return (struct mod_state *)PyModule_GetState(module);
}

/* The calling thread's heap slot (heap-abi.h): the interposer's with
 * HEAP_LIBC, the extension's own with HEAP_PYTHON; NULL until heap.c
 * sets it. initial-exec: one %fs-relative load. */
extern _Thread_local struct pmt_heap_tls *tls_heap __attribute__((tls_model("initial-exec")));

/* Per thread, the positions of the callers of the Python frames the hook
 * saw called, so that after a RETURN the thread's allocations are charged
 * to its caller again (where the caller was when it made the call). gen:
 * the log the entries belong to. Deeper calls are counted, not kept. */
#define HEAP_STACK 256
struct heap_stack {
	uint64_t gen;
	uint32_t depth;
	uint64_t pos[HEAP_STACK];
};
extern _Thread_local struct heap_stack *tls_hstack __attribute__((tls_model("initial-exec")));

/* The position a thread's allocations get after an event (the SITE code
 * and line, packed as in struct pmt_heap_tls), and the stack's update. */
static inline uint64_t heap_position(struct tracer *t, int what, uint64_t now_pos,
				     uint64_t back_pos, uint64_t cur)
{
	struct heap_stack *s = tls_hstack;
	if (s && s->gen != t->gen) {
		s->gen = t->gen;
		s->depth = 0;
	}
	switch (what) {
	case PyTrace_CALL:
		if (s) {
			if (s->depth < HEAP_STACK)
				s->pos[s->depth] = cur;
			s->depth++;
		}
		return now_pos;
	case PyTrace_RETURN:
		if (s && s->depth) {
			s->depth--;
			if (s->depth < HEAP_STACK)
				return s->pos[s->depth];
		}
		return now_pos; /* the log began inside this call */
	case PyTrace_C_RETURN:
	case PyTrace_C_EXCEPTION:
		return back_pos;
	default:
		return now_pos;
	}
}

/* heap.c */
/* Checks that heap mode `heap` can run here; sets a Python exception and
 * returns -1 when not (libc: the interposer is not preloaded). */
int heap_check(struct tracer *t);
/* Starts / stops recording allocator calls into the open log. */
int heap_start(struct tracer *t);
void heap_stop(struct tracer *t);
struct pmt_heap_tls *heap_thread_slot(struct tracer *t);
/* thread_start of the log writer: its allocations are never recorded. */
void heap_writer_thread_start(void *ctx);
/* libpmt_heap.so is loaded (preloaded) in this process. */
bool heap_preloaded(void);
/* The path of libpmt_heap.so beside the extension, or NULL. */
const char *heap_library_path(void);

static inline void heap_lock(struct tracer *t)
{
	if (t->heap == HEAP_LIBC)
		t->heap_abi->lock();
}

static inline void heap_unlock(struct tracer *t)
{
	if (t->heap == HEAP_LIBC)
		t->heap_abi->unlock();
}

/* Events seen and not yet written or announced by a SKIP, for heap mode,
 * where allocator records from other threads also announce them: `upto`
 * events are accounted for once the SKIP is written. Under the lock. */
static inline uint64_t heap_pending(struct tracer *t, uint64_t upto)
{
	uint64_t acc = t->w->events + t->w->skipped;
	return upto > acc ? upto - acc : 0;
}

/* objects.c. Room reserved by an OBJECT record: tag + four varints. */
#define PMT_OBJECT_MAX (1 + 4 * PMT_VARINT_MAX)
/* PyRefTracer_SetTracer exists (3.13+). */
bool objects_supported(void);
/* Object tracing on or off for t's next log, with pymemtrace's filters;
 * -1 with an exception (a bad filter, or before 3.13). */
int objects_configure(struct tracer *t, bool on, bool include_builtins, PyObject *exclude,
		      PyObject *include);
void objects_dealloc(struct tracer *t);
/* The callback installed / removed (suspend, resume, stop). */
int objects_start(struct tracer *t);
void objects_stop(struct tracer *t);
/* A new log: names, bases and counts start again. */
void objects_reset(struct tracer *t);
/* The Tracer's attributes and methods of object tracing (module.c's tables). */
PyObject *objects_py_get_on(PyObject *self, void *c);
PyObject *objects_py_get_stats(PyObject *self, void *c);
PyObject *objects_py_counts(PyObject *self, PyObject *unused);
PyObject *objects_py_supported(PyObject *module, PyObject *unused);

/* record.c */
void hook_fail(struct tracer *t, const char *what, int err);
void threads_reset(struct tracer *t);
/* Heap tracing, under the lock: the slot + 1 of the calling thread by its
 * serial, made for a thread with no event yet; 0 with the hook failed. */
uint32_t thread_native(struct tracer *t, uint64_t serial, uint64_t tid);
int pmt_hook(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg);
/* The log index of the thread whose PyThreadState id is ts_id, or 0. */
uint32_t thread_index_of(struct tracer *t, uint64_t ts_id, uint32_t *slot);

/* guard.c. Every function: GIL held, never raises (a pending exception is
 * kept). */
#define GUARD_TICK_MASK 0xffffu /* a look every 65536 events */
void guard_reset(struct tracer *t);
/* Installs the wrappers of sys/threading (and sys.monitoring) hook setters,
 * and the audit hook, once per process. -1 with an exception set. */
int guard_setup(struct tracer *t);
/* A look at every thread's hook (or our tool id), re-arming what can be:
 * from the hook every GUARD_TICK_MASK+1 events, at suspend and stop. */
void guard_tick(struct tracer *t, bool in_hook);
/* The RSS source's fd changed (t->rss.fd_changes moved): say so. */
void guard_rss_notice(struct tracer *t);
/* threading's hook for new threads, saved before ours replaces it and given
 * back when no tracer of that mode uses the legacy hook any more. */
int guard_threading_install(struct tracer *t, PyObject *hook);
void guard_threading_uninstall(struct tracer *t);
/* Legacy hook removal, in the threads that hold ours only. */
void guard_uninstall_legacy(struct tracer *t);
/* The unwrapped function `name` of module `mod` (new reference), for our
 * own calls; NULL with an exception set. */
PyObject *guard_original(PyObject *mod, const char *modname, const char *name);
/* For the Tracer's tp_call and _thread_start: a new thread starts (or a
 * Python-level copy of our hook was installed); returns the new reference
 * to return to CPython's trampoline. */
PyObject *guard_thread_start(struct tracer *t, PyObject *frame, const char *event, PyObject *arg);

/* monitoring.c: install returns 0, 1 when every tool id we may use is taken
 * (nothing installed, no exception), or -1 with an exception set. `avoid`
 * is an id not to take (-1: none). */
int mon_install(struct tracer *t, int avoid);
void mon_uninstall(struct tracer *t);
/* Our tool id still ours, with our events set: 1; 0 when not. */
int mon_intact(struct tracer *t);

/* log.c */
char *expand_path(const char *tmpl, bool child);
int tracer_open_log(struct tracer *t, bool child);
int tracer_close_log(struct tracer *t);
/* SIGTERM and SIGHUP, where nothing handles them yet: close every open log
 * with a trailer, then die of the signal as the program would have. */
int tracer_close_on_signals(void);

/* module.c */
/* fork.c: pthread_atfork handlers, and os.register_at_fork's after_in_child. */
void tracer_atfork_prepare(void);
void tracer_atfork_parent(void);
void tracer_atfork_child(void);
PyObject *tracer_after_fork_child(PyObject *module, PyObject *unused);
int tracer_install(struct tracer *t);
void tracer_uninstall(struct tracer *t);
void announce_hook(struct tracer *t);
