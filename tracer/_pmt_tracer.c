/* _pmt_tracer: the CPython profile/trace hook that streams RSS events into a
 * pmt log (docs/FORMAT.md).
 *
 * One Tracer object is one log. Its hook is installed with PyEval_SetProfile
 * (mode profile) or PyEval_SetTrace (mode trace) in every thread, with the
 * Tracer itself as the hook's object, so the hot path reaches its state
 * without a lookup. Laid out like CPython's Modules/_lsprof.c: multi-phase
 * init, module state, a heap type; version branches are in compat.h.
 *
 * The hot path allocates nothing and formats nothing: code objects carry
 * their id in co_extra, C functions are found in a small open-addressing
 * table, the writer appends delta/varint records and compresses in bulk. A
 * failure inside the hook never raises: it sets hook_error, writing stops,
 * and the next stop() raises RuntimeError. */
#include "compat.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "libpmt/log-format.h"
#include "libpmt/log-writer.h"
#include "libpmt/rss.h"

enum calc { CALC_NONE = 0, CALC_RSS = 1, CALC_ALL = 2 };
/* How events reach us: PyEval_SetProfile/SetTrace, or sys.monitoring. */
enum hook { HOOK_AUTO = 0, HOOK_LEGACY = 1, HOOK_MONITORING = 2 };
static const char *const hook_names[] = {"auto", "legacy", "monitoring"};

#define FLUSH_IDLE_NS (100ull * 1000 * 1000)

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

/* Open-addressing table: (a, b) -> val; val 0 marks an empty slot. Used for
 * C functions (a = PyMethodDef* or type, b = caller's code id) and threads
 * (a = OS tid). */
struct slot {
	uint64_t a;
	uint32_t b;
	uint32_t val;
};
struct table {
	struct slot *s;
	size_t cap, n; /* cap is a power of two */
};

struct thread_info {
	uint64_t tid;
	char *name;     /* threading name, or NULL */
	bool announced; /* name written to this log */
	uint32_t retries; /* name lookups that found nothing */
};

/* An event not written (yet): what --prev writes when the next one triggers. */
struct raw_event {
	int what;
	uint32_t code, line, thread;
	uint64_t t;
	int64_t rss;
};

struct mod_state {
	PyTypeObject *tracer_type;
	Py_ssize_t extra_index[2]; /* per mode: one profile and one trace log at a time */
	struct tracer *open;       /* open tracers; each holds a reference to itself */
};

struct tracer {
	PyObject_HEAD
	/* hot fields first */
	struct pmt_writer *w;
	struct pmt_rss rss;
	int calc;
	bool log_events, log_all, prev, failed;
	bool fork_pending;    /* a fork child whose log is not reopened yet */
	int64_t trig_pages;   /* |dRSS| in pages that writes an event */
	int64_t trig_rss;     /* RSS (pages) of the last triggered event */
	uint64_t seen;        /* events seen while active */
	uint64_t unwritten;   /* events since the last written one, not yet in a SKIP */
	bool have_prev;
	struct raw_event pev;
	uint64_t start_mono;
	uint64_t last_tid;    /* OS tid of the previous event's thread */
	uint32_t cur_thread;  /* its index (1..) */
	uint32_t written_thread;
	bool name_pending;    /* the current thread's name is still unknown */
	uint64_t gen;
	Py_ssize_t extra_index;
	uint32_t next_id;
	struct table ctab, ttab;
	struct thread_info *threads;
	uint32_t nthreads, threads_cap;
	_Atomic uint64_t last_event_t;
	_Atomic int dirty;

	/* sys.monitoring (hook HOOK_MONITORING) */
	PyObject *mon_missing, *mon_disable; /* sys.monitoring.MISSING, DISABLE */
	int tool_id;                         /* ours while installed, else -1 */

	/* configuration */
	PyObject *module;
	int mode;
	int hook_want;        /* enum hook: as asked */
	int hook;             /* enum hook: in use */
	bool hook_announced;  /* the "pmt: hook=" MESSAGE is in this log */
	int64_t trigger;      /* bytes as given (<0: page size) */
	enum pmt_rss_kind rss_want;
	bool force;
	char *template_path;
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

	/* idle flusher */
	pthread_t fl_thread;
	pthread_mutex_t fl_mu;
	pthread_cond_t fl_cond;
	bool fl_running, fl_stop;
};

static uint64_t next_gen = 1;
/* 3.8 has no PyType_GetModule: the module is remembered here (borrowed). */
static PyObject *the_module;
/* For the pthread_atfork child handler, which may not touch Python. */
static struct mod_state *the_state;
/* The OS tid of the calling thread, cached; reset in a fork child.
 * initial-exec: one %fs-relative load on the hot path. */
static _Thread_local uint64_t tls_tid __attribute__((tls_model("initial-exec")));

static inline uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline struct mod_state *mod_state(PyObject *module)
{
	return (struct mod_state *)PyModule_GetState(module);
}

/* ---- the hash table ---------------------------------------------------- */

static inline size_t slot_hash(uint64_t a, uint32_t b)
{
	uint64_t h = (a ^ ((uint64_t)b << 32 | b)) * 0x9E3779B97F4A7C15ull;
	return (size_t)(h ^ (h >> 29));
}

static inline uint32_t table_get(const struct table *t, uint64_t a, uint32_t b)
{
	if (!t->cap)
		return 0;
	for (size_t i = slot_hash(a, b) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		const struct slot *s = &t->s[i];
		if (!s->val)
			return 0;
		if (s->a == a && s->b == b)
			return s->val;
	}
}

static void table_put_nogrow(struct table *t, uint64_t a, uint32_t b, uint32_t val)
{
	size_t i = slot_hash(a, b) & (t->cap - 1);
	while (t->s[i].val)
		i = (i + 1) & (t->cap - 1);
	t->s[i] = (struct slot){a, b, val};
	t->n++;
}

static int table_put(struct table *t, uint64_t a, uint32_t b, uint32_t val)
{
	if ((t->n + 1) * 2 > t->cap) {
		struct table nt = {NULL, t->cap ? t->cap * 2 : 256, 0};
		nt.s = calloc(nt.cap, sizeof(*nt.s));
		if (!nt.s)
			return -ENOMEM;
		for (size_t i = 0; i < t->cap; i++)
			if (t->s[i].val)
				table_put_nogrow(&nt, t->s[i].a, t->s[i].b, t->s[i].val);
		free(t->s);
		*t = nt;
	}
	table_put_nogrow(t, a, b, val);
	return 0;
}

static void table_clear(struct table *t)
{
	free(t->s);
	*t = (struct table){0};
}

/* ---- failures inside the hook ------------------------------------------ */

static void hook_fail(struct tracer *t, const char *what, int err)
{
	if (t->failed)
		return;
	t->failed = true;
	if (err)
		snprintf(t->errmsg, sizeof(t->errmsg), "pmt_tracer: %s: %s: %s", t->path ? t->path : "",
			 what, strerror(-err));
	else
		snprintf(t->errmsg, sizeof(t->errmsg), "pmt_tracer: %s: %s", t->path ? t->path : "",
			 what);
}

/* ---- code interning (first sight only: may allocate) -------------------- */

/* A str as bytes: UTF-8 where possible, else the file system encoding
 * (surrogate-escaped file names stay exact). *tmp receives a reference to
 * release. */
static const char *str_bytes(PyObject *s, Py_ssize_t *len, PyObject **tmp)
{
	*tmp = NULL;
	if (!s || !PyUnicode_Check(s)) {
		*len = 0;
		return "";
	}
	const char *p = PyUnicode_AsUTF8AndSize(s, len);
	if (p)
		return p;
	PyErr_Clear();
	*tmp = PyUnicode_EncodeFSDefault(s);
	if (!*tmp) {
		PyErr_Clear();
		*len = 0;
		return "";
	}
	*len = PyBytes_GET_SIZE(*tmp);
	return PyBytes_AS_STRING(*tmp);
}

static uint32_t new_id(struct tracer *t)
{
	if (t->next_id >= MAX_ID) {
		hook_fail(t, "too many functions", 0);
		return 0;
	}
	return t->next_id++;
}

static uint32_t intern_py(struct tracer *t, PyCodeObject *co)
{
	uint32_t id = new_id(t);
	if (!id)
		return 0;
	uintptr_t v = (uintptr_t)t->gen << ID_BITS | id;
	if (pmt_code_set_extra((PyObject *)co, t->extra_index, (void *)v) < 0) {
		PyErr_Clear();
		hook_fail(t, "cannot store a code id", 0);
		return 0;
	}
	if (!t->log_events)
		return id;
	Py_ssize_t flen, nlen;
	PyObject *ftmp, *ntmp;
	const char *file = str_bytes(co->co_filename, &flen, &ftmp);
	const char *name = str_bytes(pmt_code_name(co), &nlen, &ntmp);
	int r = pmt_writer_code(t->w, id, PMT_CODE_PY, (uint32_t)co->co_firstlineno, file,
				(size_t)flen, name, (size_t)nlen);
	Py_XDECREF(ftmp);
	Py_XDECREF(ntmp);
	if (r < 0)
		hook_fail(t, "write failed", r);
	return id;
}

static inline uint32_t py_code_id(struct tracer *t, PyCodeObject *co)
{
	void *extra = NULL;
	if (__builtin_expect(pmt_code_get_extra((PyObject *)co, t->extra_index, &extra) < 0, 0)) {
		PyErr_Clear();
		return 0;
	}
	uintptr_t v = (uintptr_t)extra;
	if (__builtin_expect((v >> ID_BITS) == (uintptr_t)t->gen, 1))
		return (uint32_t)(v & ID_MASK);
	struct pmt_exc exc;
	pmt_exc_save(&exc);
	uint32_t id = intern_py(t, co);
	pmt_exc_restore(&exc);
	return id;
}

static const void *cfunc_key(PyObject *f)
{
	if (PyCFunction_Check(f))
		return ((PyCFunctionObject *)f)->m_ml;
	if (Py_TYPE(f) == &PyMethodDescr_Type)
		return ((PyMethodDescrObject *)f)->d_method;
	if (PyType_Check(f))
		return f;
	return Py_TYPE(f);
}

/* The name of a C callable's bound object's method: "Type.method" when the
 * bound object's type is known, a module's functions by their own name. */
static void bound_name(PyObject *self, const char *mn, char *buf, size_t n)
{
	if (!self || PyModule_Check(self))
		snprintf(buf, n, "%s", mn);
	else if (PyType_Check(self))
		snprintf(buf, n, "%s.%s", ((PyTypeObject *)self)->tp_name, mn);
	else
		snprintf(buf, n, "%s.%s", Py_TYPE(self)->tp_name, mn);
}

/* CPython's name of the callable. A method descriptor called with its
 * object (sys.monitoring's CALL) is named as the bound method the legacy
 * hook receives for the same call, so both hooks write the same names. */
static void cfunc_name(PyObject *f, PyObject *bound_self, char *buf, size_t n)
{
	if (PyCFunction_Check(f)) {
		PyCFunctionObject *cf = (PyCFunctionObject *)f;
		bound_name(cf->m_self, cf->m_ml->ml_name, buf, n);
	} else if (Py_TYPE(f) == &PyMethodDescr_Type) {
		PyMethodDescrObject *d = (PyMethodDescrObject *)f;
		if (bound_self)
			bound_name(bound_self, d->d_method->ml_name, buf, n);
		else
			snprintf(buf, n, "%s.%s", PyDescr_TYPE(d)->tp_name, d->d_method->ml_name);
	} else {
		snprintf(buf, n, "%s", PyEval_GetFuncName(f));
	}
}

static uint32_t intern_c(struct tracer *t, const void *key, uint32_t caller, PyObject *f,
			 PyObject *bound_self, PyCodeObject *co)
{
	uint32_t id = new_id(t);
	if (!id)
		return 0;
	int r = table_put(&t->ctab, (uint64_t)(uintptr_t)key, caller, id);
	if (r < 0) {
		hook_fail(t, "out of memory", r);
		return 0;
	}
	if (!t->log_events)
		return id;
	char name[256];
	cfunc_name(f, bound_self, name, sizeof(name));
	Py_ssize_t flen = 0;
	PyObject *ftmp = NULL;
	const char *file = co ? str_bytes(co->co_filename, &flen, &ftmp) : "";
	r = pmt_writer_code(t->w, id, PMT_CODE_C, 0, file, (size_t)flen, name, strlen(name));
	Py_XDECREF(ftmp);
	if (r < 0)
		hook_fail(t, "write failed", r);
	return id;
}

/* ---- threads ------------------------------------------------------------ */

/* threading's name of the calling thread, without running Python code: the
 * Thread object from threading._active, then its _name. */
static char *thread_name(void)
{
	char *res = NULL;
	PyObject *threading = PyDict_GetItemString(PyImport_GetModuleDict(), "threading");
	PyObject *active = NULL, *key = NULL, *name = NULL;
	if (!threading)
		goto out;
	active = PyObject_GetAttrString(threading, "_active");
	if (!active || !PyDict_Check(active))
		goto out;
	key = PyLong_FromUnsignedLong(PyThread_get_thread_ident());
	if (!key)
		goto out;
	PyObject *th = PyDict_GetItemWithError(active, key);
	if (!th)
		goto out;
	name = PyObject_GetAttrString(th, "_name");
	if (name && PyUnicode_Check(name)) {
		const char *s = PyUnicode_AsUTF8(name);
		if (s)
			res = strdup(s);
	}
out:
	Py_XDECREF(active);
	Py_XDECREF(key);
	Py_XDECREF(name);
	PyErr_Clear();
	return res;
}

/* A thread's first events can come before threading knows it (always with
 * sys.monitoring, which sees Thread._bootstrap): its name is looked up again
 * at its next events, a bounded number of times, and written as a rename. */
#define NAME_RETRIES 512

static void name_retry(struct tracer *t, struct thread_info *ti)
{
	struct pmt_exc exc;
	pmt_exc_save(&exc);
	char *name = thread_name();
	pmt_exc_restore(&exc);
	if (name) {
		ti->name = name;
		ti->announced = false;
		t->written_thread = 0; /* the next event writes the THREAD record with it */
	}
	if (name || ++ti->retries >= NAME_RETRIES)
		t->name_pending = false;
}

/* Slow path: the event comes from another thread than the previous one, or
 * this thread's name is still unknown. */
static void thread_switch(struct tracer *t, uint64_t tid)
{
	t->last_tid = tid;
	t->name_pending = false;
	uint32_t idx = table_get(&t->ttab, tid, 0);
	if (idx) {
		t->cur_thread = idx;
		struct thread_info *ti = &t->threads[idx - 1];
		if (!ti->name && ti->retries < NAME_RETRIES) {
			t->name_pending = true;
			name_retry(t, ti);
		}
		return;
	}
	if (t->nthreads == t->threads_cap) {
		uint32_t cap = t->threads_cap ? t->threads_cap * 2 : 8;
		struct thread_info *n = realloc(t->threads, cap * sizeof(*n));
		if (!n) {
			hook_fail(t, "out of memory", -ENOMEM);
			return;
		}
		t->threads = n;
		t->threads_cap = cap;
	}
	struct pmt_exc exc;
	pmt_exc_save(&exc);
	char *name = thread_name();
	pmt_exc_restore(&exc);
	if (!name && tid == (uint64_t)getpid())
		name = strdup("MainThread");
	t->threads[t->nthreads] = (struct thread_info){tid, name, false, 0};
	t->name_pending = !name;
	idx = ++t->nthreads;
	if (table_put(&t->ttab, tid, 0, idx) < 0) {
		hook_fail(t, "out of memory", -ENOMEM);
		return;
	}
	t->cur_thread = idx;
}

static void threads_reset(struct tracer *t)
{
	for (uint32_t i = 0; i < t->nthreads; i++)
		free(t->threads[i].name);
	free(t->threads);
	t->threads = NULL;
	t->nthreads = t->threads_cap = 0;
	table_clear(&t->ttab);
	t->last_tid = 0;
	t->cur_thread = t->written_thread = 0;
	t->name_pending = false;
}

/* ---- writing ------------------------------------------------------------ */

static inline int emit(struct tracer *t, int what, uint32_t code, uint32_t line, uint64_t tns,
		       int64_t rss, uint32_t thread)
{
	if (__builtin_expect(thread != t->written_thread, 0)) {
		struct thread_info *ti = &t->threads[thread - 1];
		int r = pmt_writer_thread(t->w, thread, ti->tid,
					  ti->announced ? NULL : (ti->name ? ti->name : ""));
		if (r < 0)
			return r;
		ti->announced = true;
		t->written_thread = thread;
	}
	return pmt_writer_event(t->w, (unsigned)what, code, line, tns, rss);
}

/* Where an event happened, as each hook knows it: the legacy hooks get a
 * frame; sys.monitoring callbacks get a code object and a bytecode offset,
 * or the line itself (LINE, JUMP). */
enum pos_kind { POS_FRAME, POS_OFFSET, POS_LINE, POS_UNWIND };

/* Records one event: the body of every hook, inlined into each so the
 * position arguments fold away. `cfunc` is the C callable of a C event
 * (`bound_self` its object when it is a method descriptor). Called with the
 * GIL held; allocates only the first time a code object, C function or
 * thread is seen; never raises. */
static inline __attribute__((always_inline)) int
record(struct tracer *t, int what, PyFrameObject *frame, PyCodeObject *co, enum pos_kind pk,
       long pos, PyObject *cfunc, PyObject *bound_self)
{
	t->seen++;
	if (__builtin_expect(t->failed | t->fork_pending, 0))
		return 0;
	int64_t rss = t->rss_start;
	if (t->calc != CALC_NONE) {
		rss = pmt_rss_pages(&t->rss);
		if (t->calc == CALC_RSS && !t->log_events)
			return 0;
	} else if (!t->log_events) {
		return 0;
	}
	if (t->log_events && !t->log_all && !t->prev) {
		/* --drss without --prev: an event that will not be written needs
		 * nothing but its RSS, so skip thread, time, code and line. */
		int64_t d = rss - t->trig_rss;
		if ((d < 0 ? -d : d) < t->trig_pages) {
			t->unwritten++;
			return 0;
		}
	}
	uint64_t tid = tls_tid;
	if (__builtin_expect(!tid, 0))
		tid = tls_tid = (uint64_t)syscall(SYS_gettid);
	if (__builtin_expect(tid != t->last_tid || t->name_pending, 0)) {
		thread_switch(t, tid);
		if (t->failed)
			return 0;
	}
	uint64_t now = mono_ns() - t->start_mono;
	uint32_t code = 0, line = 0;
	if (pk == POS_FRAME && frame)
		co = pmt_frame_code(frame);
	if (__builtin_expect(co != NULL, 1)) {
		code = py_code_id(t, co);
		if (cfunc) {
			const void *key = cfunc_key(cfunc);
			uint32_t c = table_get(&t->ctab, (uint64_t)(uintptr_t)key, code);
			code = c ? c : intern_c(t, key, code, cfunc, bound_self, co);
		}
		if (pk == POS_FRAME)
			line = (uint32_t)PyFrame_GetLineNumber(frame);
		else if (pk == POS_OFFSET)
			line = (uint32_t)PyCode_Addr2Line(co, (int)pos);
		else if (pk == POS_UNWIND) {
			int l = pmt_current_line(co);
			line = (uint32_t)(l >= 0 ? l : PyCode_Addr2Line(co, (int)pos));
		}
		else
			line = (uint32_t)pos;
	}
	if (!t->log_events || __builtin_expect(t->failed, 0))
		return 0;

	int r = 0;
	if (t->log_all) {
		r = emit(t, what, code, line, now, rss, t->cur_thread);
	} else {
		int64_t d = rss - t->trig_rss;
		if (d < 0)
			d = -d;
		if (d >= t->trig_pages) {
			uint64_t skip = t->unwritten;
			if (t->have_prev)
				skip--;
			r = pmt_writer_skip(t->w, skip);
			if (r == 0 && t->have_prev)
				r = emit(t, t->pev.what, t->pev.code, t->pev.line, t->pev.t, t->pev.rss,
					 t->pev.thread);
			if (r == 0)
				r = emit(t, what, code, line, now, rss, t->cur_thread);
			t->trig_rss = rss;
			t->unwritten = 0;
			t->have_prev = false;
		} else {
			t->unwritten++;
			if (t->prev) {
				t->pev = (struct raw_event){what, code, line, t->cur_thread, now, rss};
				t->have_prev = true;
			}
			return 0;
		}
	}
	if (__builtin_expect(r < 0, 0)) {
		hook_fail(t, "write failed", r);
		return 0;
	}
	atomic_store_explicit(&t->last_event_t, now, memory_order_relaxed);
	atomic_store_explicit(&t->dirty, 1, memory_order_relaxed);
	return 0;
}

/* The legacy hook (PyEval_SetProfile / PyEval_SetTrace): CPython calls it for
 * every event of every thread it is installed in, with the GIL held. */
static int pmt_hook(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
	bool c = what >= PyTrace_C_CALL && what <= PyTrace_C_RETURN && arg;
	return record((struct tracer *)obj, what, frame, NULL, POS_FRAME, 0, c ? arg : NULL, NULL);
}

/* ---- the sys.monitoring hooks (PEP 669, CPython 3.12+) -------------------
 *
 * One METH_FASTCALL function per kind of callback, bound to the tracer, so
 * the callback reaches its state without a lookup and without a frame object.
 * Each mirrors what CPython's Python/legacy_tracing.c makes of the same
 * monitoring event for PyEval_SetProfile / PyEval_SetTrace, so both hooks
 * see exactly the same events: PY_START, PY_RESUME and PY_THROW are CALL;
 * PY_RETURN, PY_YIELD and PY_UNWIND are RETURN; CALL, C_RETURN and C_RAISE
 * are C events only for builtins and method descriptors called with their
 * object; RAISE and STOP_ITERATION are EXCEPTION; LINE is LINE, and so is a
 * JUMP backwards within one line. They never raise: a bad argument is
 * ignored. */

static inline bool mon_args(PyObject *const *args, Py_ssize_t n, Py_ssize_t want)
{
	return __builtin_expect(n >= want && PyCode_Check(args[0]), 1);
}

static inline long mon_long(PyObject *o)
{
	long v = PyLong_AsLong(o);
	if (__builtin_expect(v == -1, 0) && PyErr_Occurred()) {
		PyErr_Clear();
		return -1;
	}
	return v;
}

static inline PyObject *mon_py(PyObject *self, PyObject *const *args, Py_ssize_t n, int what,
			       enum pos_kind pk)
{
	if (mon_args(args, n, 2))
		record((struct tracer *)self, what, NULL, (PyCodeObject *)args[0], pk,
		       mon_long(args[1]), NULL, NULL);
	Py_RETURN_NONE;
}

static PyObject *mon_call(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
	return mon_py(self, args, n, PyTrace_CALL, POS_OFFSET);
}

static PyObject *mon_return(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
	return mon_py(self, args, n, PyTrace_RETURN, POS_OFFSET);
}

/* PY_UNWIND: the line of the instruction that raised, as the frame says. */
static PyObject *mon_unwind(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
	return mon_py(self, args, n, PyTrace_RETURN, POS_UNWIND);
}

static PyObject *mon_exception(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
	return mon_py(self, args, n, PyTrace_EXCEPTION, POS_OFFSET);
}

/* CALL, C_RETURN, C_RAISE: (code, offset, callable, arg0). The legacy hook
 * binds a method descriptor to arg0 and skips it without one (MISSING), or
 * when binding fails (arg0 of another type: the call itself then raises,
 * and legacy sees neither the C call nor its exception). */
static inline PyObject *mon_c(PyObject *self, PyObject *const *args, Py_ssize_t n, int what)
{
	struct tracer *t = (struct tracer *)self;
	if (!mon_args(args, n, 4))
		Py_RETURN_NONE;
	PyObject *f = args[2];
	if (PyCFunction_Check(f)) {
		record(t, what, NULL, (PyCodeObject *)args[0], POS_OFFSET, mon_long(args[1]), f,
		       NULL);
	} else if (Py_TYPE(f) == &PyMethodDescr_Type) {
		PyObject *obj = args[3];
		if (obj != t->mon_missing &&
		    PyObject_TypeCheck(obj, PyDescr_TYPE((PyMethodDescrObject *)f)))
			record(t, what, NULL, (PyCodeObject *)args[0], POS_OFFSET,
			       mon_long(args[1]), f, obj);
	}
	Py_RETURN_NONE;
}

static PyObject *mon_c_call(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
	return mon_c(self, args, n, PyTrace_C_CALL);
}

static PyObject *mon_c_return(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
	return mon_c(self, args, n, PyTrace_C_RETURN);
}

static PyObject *mon_c_raise(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
	return mon_c(self, args, n, PyTrace_C_EXCEPTION);
}

/* LINE: (code, line). */
static PyObject *mon_line(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
	if (mon_args(args, n, 2)) {
		long line = mon_long(args[1]);
		if (line >= 0)
			record((struct tracer *)self, PyTrace_LINE, NULL, (PyCodeObject *)args[0],
			       POS_LINE, line, NULL, NULL);
	}
	Py_RETURN_NONE;
}

/* JUMP: (code, from, to), byte offsets. settrace reports a backward jump
 * that stays on one line as a LINE event (a loop on one line); any other
 * jump is disabled at that location for good, as legacy_tracing.c does. */
static PyObject *mon_jump(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
	struct tracer *t = (struct tracer *)self;
	if (!mon_args(args, n, 3))
		Py_RETURN_NONE;
	PyCodeObject *co = (PyCodeObject *)args[0];
	long from = mon_long(args[1]), to = mon_long(args[2]);
	if (from < 0 || to < 0 || to > from)
		goto disable;
	int to_line = PyCode_Addr2Line(co, (int)to);
	if (to_line != PyCode_Addr2Line(co, (int)from))
		goto disable;
	if (to_line >= 0)
		record(t, PyTrace_LINE, NULL, co, POS_LINE, to_line, NULL, NULL);
	Py_RETURN_NONE;
disable:
	Py_INCREF(t->mon_disable);
	return t->mon_disable;
}

#define MON_DEF(fn) {#fn, (PyCFunction)(void (*)(void))fn, METH_FASTCALL, NULL}
static PyMethodDef mon_defs[] = {
	MON_DEF(mon_call),     MON_DEF(mon_return),  MON_DEF(mon_unwind),
	MON_DEF(mon_exception), MON_DEF(mon_c_call), MON_DEF(mon_c_return),
	MON_DEF(mon_c_raise),  MON_DEF(mon_line),    MON_DEF(mon_jump),
};
enum { MON_CALL, MON_RETURN, MON_UNWIND, MON_EXCEPTION, MON_C_CALL, MON_C_RETURN, MON_C_RAISE,
       MON_LINE, MON_JUMP, MON_NDEFS };

/* Which callback each sys.monitoring event gets, per mode. */
struct mon_event {
	const char *name;
	int profile, trace; /* index into mon_defs, or -1 */
};
static const struct mon_event mon_events[] = {
	{"PY_START", MON_CALL, MON_CALL},
	{"PY_RESUME", MON_CALL, MON_CALL},
	{"PY_THROW", MON_CALL, MON_CALL},
	{"PY_RETURN", MON_RETURN, MON_RETURN},
	{"PY_YIELD", MON_RETURN, MON_RETURN},
	{"PY_UNWIND", MON_UNWIND, MON_UNWIND},
	/* C_RETURN and C_RAISE come with CALL: set_events takes CALL alone. */
	{"CALL", MON_C_CALL, -1},
	{"C_RETURN", MON_C_RETURN, -1},
	{"C_RAISE", MON_C_RAISE, -1},
	{"RAISE", -1, MON_EXCEPTION},
	{"STOP_ITERATION", -1, MON_EXCEPTION},
	{"LINE", -1, MON_LINE},
	{"JUMP", -1, MON_JUMP},
};
#define MON_NEVENTS (sizeof(mon_events) / sizeof(mon_events[0]))

/* ---- the idle flusher ---------------------------------------------------- */

/* Ends the frame when events are pending and none came for FLUSH_IDLE_NS,
 * so a program that goes quiet and is then killed keeps what it did. */
static void *flusher_main(void *arg)
{
	struct tracer *t = arg;
	pthread_mutex_lock(&t->fl_mu);
	while (!t->fl_stop) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)FLUSH_IDLE_NS;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&t->fl_cond, &t->fl_mu, &ts);
		if (t->fl_stop)
			break;
		if (!atomic_load_explicit(&t->dirty, memory_order_relaxed))
			continue;
		uint64_t now = mono_ns() - t->start_mono;
		if (now - atomic_load_explicit(&t->last_event_t, memory_order_relaxed) < FLUSH_IDLE_NS)
			continue;
		pthread_mutex_unlock(&t->fl_mu);
		PyGILState_STATE g = PyGILState_Ensure();
		/* stop() sets fl_stop with the GIL held before it waits for us. */
		if (!t->fl_stop && t->w && atomic_load(&t->dirty)) {
			atomic_store(&t->dirty, 0);
			int r = pmt_writer_end_frame(t->w, t->w->last_t);
			if (r < 0)
				hook_fail(t, "write failed", r);
		}
		PyGILState_Release(g);
		pthread_mutex_lock(&t->fl_mu);
	}
	pthread_mutex_unlock(&t->fl_mu);
	return NULL;
}

static int flusher_start(struct tracer *t)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&t->fl_mu, NULL);
	pthread_cond_init(&t->fl_cond, &ca);
	pthread_condattr_destroy(&ca);
	t->fl_stop = false;
	int r = pthread_create(&t->fl_thread, NULL, flusher_main, t);
	if (r)
		return -r;
	t->fl_running = true;
	return 0;
}

/* Called with the GIL held; releases it while joining, since the flusher
 * may be waiting for it. */
static void flusher_stop(struct tracer *t)
{
	if (!t->fl_running)
		return;
	pthread_mutex_lock(&t->fl_mu);
	t->fl_stop = true;
	pthread_cond_signal(&t->fl_cond);
	pthread_mutex_unlock(&t->fl_mu);
	Py_BEGIN_ALLOW_THREADS
	pthread_join(t->fl_thread, NULL);
	Py_END_ALLOW_THREADS
	t->fl_running = false;
	pthread_mutex_destroy(&t->fl_mu);
	pthread_cond_destroy(&t->fl_cond);
}

/* ---- paths --------------------------------------------------------------- */

/* %p pid, %t YYYYMMDD_HHMMSS (local time), %% a percent sign. A fork child
 * whose template has no %p gets ".<pid>" before ".log.zst" (or at the end). */
static char *expand_path(const char *tmpl, bool child)
{
	char pid[24], stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	strftime(stamp, sizeof(stamp), "%Y%m%d_%H%M%S", &tm);
	size_t n = strlen(tmpl), cap = n + 64;
	for (const char *p = tmpl; *p; p++)
		if (*p == '%')
			cap += 32;
	char *out = malloc(cap), *o = out;
	if (!out)
		return NULL;
	bool has_pid = false;
	for (const char *p = tmpl; *p; p++) {
		if (*p == '%' && (p[1] == 'p' || p[1] == 't' || p[1] == '%')) {
			const char *s = p[1] == 'p' ? pid : p[1] == 't' ? stamp : "%";
			has_pid |= p[1] == 'p';
			o = stpcpy(o, s);
			p++;
		} else {
			*o++ = *p;
		}
	}
	*o = 0;
	if (child && !has_pid) {
		static const char sfx[] = ".log.zst";
		size_t len = (size_t)(o - out), sl = sizeof(sfx) - 1;
		char tail[16] = "";
		if (len >= sl && !strcmp(out + len - sl, sfx)) {
			memcpy(tail, sfx, sl + 1);
			out[len - sl] = 0;
		}
		snprintf(out + strlen(out), cap - strlen(out), ".%s%s", pid, tail);
	}
	return out;
}

/* ---- open / close -------------------------------------------------------- */

static void python_version(char *buf, size_t n)
{
	snprintf(buf, n, "%s", Py_GetVersion());
	buf[strcspn(buf, " ")] = 0;
}

/* Opens the log (a new one in a fork child): fd, RSS source, header, writer,
 * flusher. Sets a Python exception and returns -1 on failure. */
static int tracer_open_log(struct tracer *t, bool child)
{
	char *path = expand_path(t->template_path, child);
	if (!path) {
		PyErr_NoMemory();
		return -1;
	}
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (t->force ? O_TRUNC : O_EXCL);
	int fd = open(path, flags, 0666);
	if (fd < 0) {
		int e = errno;
		if (e == EEXIST)
			PyErr_Format(PyExc_FileExistsError,
				     "%s: file exists (use --force to overwrite)", path);
		else
			PyErr_SetFromErrnoWithFilename(PyExc_OSError, path);
		free(path);
		return -1;
	}
	free(t->path);
	t->path = path;
	t->child_path = child;

	int r = child ? pmt_rss_reopen_after_fork(&t->rss) : pmt_rss_open(&t->rss, t->rss_want);
	if (r < 0) {
		close(fd);
		PyErr_Format(PyExc_OSError, "pmt_tracer: rss source %s: %s",
			     pmt_rss_name(t->rss_want), strerror(-r));
		return -1;
	}
	long rs = pmt_rss_read_statm(&t->rss);
	t->rss_start = rs > 0 ? rs : 0;
	t->trig_rss = t->rss_start;

	char pyver[64];
	python_version(pyver, sizeof(pyver));
	t->start_mono = mono_ns();
	struct pmt_header h = {
		.version = PMT_FORMAT_VERSION,
		.pid = (uint32_t)getpid(),
		.ppid = (uint32_t)getppid(),
		.page_size = (uint32_t)t->page_size,
		.python_version = pyver,
		.argc = t->argc,
		.argv = (const char *const *)t->argv,
		.start_wall_ns = wall_ns(),
		.mode = (uint32_t)t->mode,
		.rss_source = pmt_rss_name(t->rss.kind),
		.drss_trigger = t->log_all ? 0 : t->trig_pages * t->page_size,
		.flags = (t->prev ? PMT_HDR_PREV : 0) | (t->calc == CALC_NONE ? PMT_HDR_CALC_NONE : 0),
		.rss_start = (uint64_t)t->rss_start,
	};
	r = pmt_writer_new(fd, &h, NULL, &t->w);
	if (r < 0) {
		close(fd);
		pmt_rss_close(&t->rss);
		PyErr_Format(PyExc_OSError, "pmt_tracer: %s: %s", path, strerror(-r));
		return -1;
	}
	t->gen = next_gen++;
	t->next_id = 1;
	t->seen = t->unwritten = 0;
	t->have_prev = false;
	t->failed = false;
	t->hook_announced = false;
	t->errmsg[0] = 0;
	atomic_store(&t->dirty, 0);
	atomic_store(&t->last_event_t, 0);
	table_clear(&t->ctab);
	threads_reset(t);
	r = flusher_start(t);
	if (r < 0) {
		pmt_writer_free(t->w);
		t->w = NULL;
		pmt_rss_close(&t->rss);
		PyErr_Format(PyExc_OSError, "pmt_tracer: flusher thread: %s", strerror(-r));
		return -1;
	}
	t->is_open = true;
	return 0;
}

static void tracer_uninstall(struct tracer *t);

/* Writes the pending SKIP and the trailer and closes. Returns 0 or -errno;
 * the tracer is closed either way. */
static int tracer_close_log(struct tracer *t)
{
	int r = 0;
	if (!t->is_open)
		return 0;
	tracer_uninstall(t);
	flusher_stop(t);
	if (t->w) {
		uint64_t pending = t->log_events ? t->unwritten : t->seen;
		if (!t->failed)
			r = pmt_writer_skip(t->w, pending);
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		struct pmt_trailer tr = {
			.total_events = t->seen,
			.end_wall_ns = wall_ns(),
			.peak_rss = (uint64_t)ru.ru_maxrss * 1024,
			.flags = PMT_TRL_CLEAN | (t->failed ? PMT_TRL_HOOK_ERROR : 0),
		};
		int r2 = pmt_writer_close(t->w, &tr);
		if (r == 0)
			r = r2;
		t->final_written = t->w->events;
		t->final_bytes = pmt_writer_bytes(t->w);
		pmt_writer_free(t->w);
		t->w = NULL;
	}
	t->final_events = t->seen;
	pmt_rss_close(&t->rss);
	t->is_open = false;
	t->suspended = false;
	return r;
}

/* ---- install / uninstall ------------------------------------------------- */

static PyObject *threading_set(struct tracer *t, PyObject *hook)
{
	PyObject *threading = PyImport_ImportModule("threading");
	if (!threading)
		return NULL;
	PyObject *r = PyObject_CallMethod(threading, t->mode == PMT_MODE_TRACE ? "settrace" : "setprofile",
					  "O", hook);
	Py_DECREF(threading);
	return r;
}

/* ---- sys.monitoring install / uninstall (through the sys.monitoring module:
 * CPython has no C API for registering callbacks) ---------------------------- */

static PyObject *monitoring_module(void)
{
	PyObject *sys = PyImport_ImportModule("sys");
	if (!sys)
		return NULL;
	PyObject *mon = PyObject_GetAttrString(sys, "monitoring");
	Py_DECREF(sys);
	return mon;
}

/* sys.monitoring.events.<name>, or -1 with an exception set. */
static long mon_event_bit(PyObject *events, const char *name)
{
	PyObject *v = PyObject_GetAttrString(events, name);
	if (!v)
		return -1;
	long bit = PyLong_AsLong(v);
	Py_DECREF(v);
	return bit;
}

/* Unregisters everything of our tool and frees its id. Keeps a pending
 * exception. */
static void mon_uninstall(struct tracer *t)
{
	if (t->tool_id < 0)
		return;
	struct pmt_exc exc;
	pmt_exc_save(&exc);
	PyObject *mon = monitoring_module(), *events = NULL;
	if (mon)
		events = PyObject_GetAttrString(mon, "events");
	if (events) {
		Py_XDECREF(PyObject_CallMethod(mon, "set_events", "ii", t->tool_id, 0));
		PyErr_Clear();
		for (size_t i = 0; i < MON_NEVENTS; i++) {
			long bit = mon_event_bit(events, mon_events[i].name);
			if (bit >= 0)
				Py_XDECREF(PyObject_CallMethod(mon, "register_callback", "ilO",
							       t->tool_id, bit, Py_None));
			PyErr_Clear();
		}
		Py_XDECREF(PyObject_CallMethod(mon, "free_tool_id", "i", t->tool_id));
	}
	PyErr_Clear();
	Py_XDECREF(events);
	Py_XDECREF(mon);
	pmt_exc_restore(&exc);
	t->tool_id = -1;
}

/* Takes a tool id, registers our callbacks and enables the mode's events.
 * Returns 0, 1 when every tool id we may use is taken (nothing installed, no
 * exception), or -1 with an exception set. The ids no tool claims by
 * convention come first: cProfile (3.12+) insists on PROFILER_ID (2) and
 * must keep working in a traced program; 0, 1 and 5 belong to debuggers,
 * coverage and optimisers. */
static int mon_install(struct tracer *t)
{
	static const int ids[] = {3, 4, 2};
	int ret = -1;
	PyObject *mon = monitoring_module(), *events = NULL;
	if (!mon)
		return -1;
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]) && t->tool_id < 0; i++) {
		PyObject *r = PyObject_CallMethod(mon, "use_tool_id", "is", ids[i], "pmt_tracer");
		if (r) {
			Py_DECREF(r);
			t->tool_id = ids[i];
		} else if (PyErr_ExceptionMatches(PyExc_ValueError)) {
			PyErr_Clear();
		} else {
			goto out;
		}
	}
	if (t->tool_id < 0) {
		ret = 1;
		goto out;
	}
	if (!t->mon_missing && !(t->mon_missing = PyObject_GetAttrString(mon, "MISSING")))
		goto out;
	if (!t->mon_disable && !(t->mon_disable = PyObject_GetAttrString(mon, "DISABLE")))
		goto out;
	events = PyObject_GetAttrString(mon, "events");
	if (!events)
		goto out;
	long mask = 0;
	for (size_t i = 0; i < MON_NEVENTS; i++) {
		const struct mon_event *e = &mon_events[i];
		int d = t->mode == PMT_MODE_TRACE ? e->trace : e->profile;
		if (d < 0)
			continue;
		long bit = mon_event_bit(events, e->name);
		if (bit < 0)
			goto out;
		PyObject *cb = PyCFunction_NewEx(&mon_defs[d], (PyObject *)t, NULL);
		if (!cb)
			goto out;
		PyObject *r = PyObject_CallMethod(mon, "register_callback", "ilO", t->tool_id, bit, cb);
		Py_DECREF(cb);
		if (!r)
			goto out;
		Py_DECREF(r);
		if (strcmp(e->name, "C_RETURN") && strcmp(e->name, "C_RAISE"))
			mask |= bit;
	}
	PyObject *r = PyObject_CallMethod(mon, "set_events", "il", t->tool_id, mask);
	if (!r)
		goto out;
	Py_DECREF(r);
	ret = 0;
out:
	if (ret < 0) {
		struct pmt_exc exc;
		pmt_exc_save(&exc);
		mon_uninstall(t);
		pmt_exc_restore(&exc);
	}
	Py_XDECREF(events);
	Py_DECREF(mon);
	return ret;
}

/* The first install of a log says which hook produced it, as a MESSAGE
 * (the header has no field for it). */
static void announce_hook(struct tracer *t)
{
	if (t->hook_announced || !t->w || t->failed)
		return;
	char text[64];
	int n = snprintf(text, sizeof(text), "pmt: hook=%s", hook_names[t->hook]);
	int r = pmt_writer_skip(t->w, t->unwritten);
	t->unwritten = 0;
	t->have_prev = false;
	if (r == 0)
		r = pmt_writer_message(t->w, text, (size_t)n);
	if (r < 0)
		hook_fail(t, "write failed", r);
	t->hook_announced = true;
}

static int tracer_install(struct tracer *t)
{
	if (t->hook_want != HOOK_LEGACY) {
		int r = mon_install(t);
		if (r < 0)
			return -1;
		if (r == 0) {
			t->hook = HOOK_MONITORING;
			announce_hook(t);
			t->active = true;
			return 0;
		}
		if (t->hook_want == HOOK_MONITORING) {
			PyErr_SetString(PyExc_RuntimeError,
					"sys.monitoring: tool ids 3, 4 and 2 are all in use");
			return -1;
		}
		/* auto: another tool holds every id; the legacy hook still works. */
	}
	t->hook = HOOK_LEGACY;
	PyObject *hook = PyObject_GetAttrString((PyObject *)t, "_thread_start");
	if (!hook)
		return -1;
	PyObject *r = threading_set(t, hook);
	Py_DECREF(hook);
	if (!r)
		return -1;
	Py_DECREF(r);
	announce_hook(t);
	pmt_set_all_threads(t->mode == PMT_MODE_TRACE, pmt_hook, (PyObject *)t);
	t->active = true;
	return 0;
}

static void tracer_uninstall(struct tracer *t)
{
	if (!t->active)
		return;
	if (t->hook == HOOK_MONITORING) {
		mon_uninstall(t);
		t->active = false;
		return;
	}
	struct pmt_exc exc;
	pmt_exc_save(&exc);
	pmt_set_all_threads(t->mode == PMT_MODE_TRACE, NULL, NULL);
	PyObject *r = threading_set(t, Py_None);
	Py_XDECREF(r);
	PyErr_Clear();
	pmt_exc_restore(&exc);
	t->active = false;
}

static void open_list_add(struct tracer *t)
{
	struct mod_state *st = mod_state(t->module);
	Py_INCREF(t);
	t->next_open = st->open;
	st->open = t;
}

static void open_list_remove(struct tracer *t)
{
	struct mod_state *st = mod_state(t->module);
	for (struct tracer **pp = &st->open; *pp; pp = &(*pp)->next_open) {
		if (*pp == t) {
			*pp = t->next_open;
			t->next_open = NULL;
			Py_DECREF(t);
			return;
		}
	}
}

/* ---- the Tracer type ------------------------------------------------------ */

static void free_argv(struct tracer *t)
{
	for (uint32_t i = 0; i < t->argc; i++)
		free(t->argv[i]);
	free(t->argv);
	t->argv = NULL;
	t->argc = 0;
}

static int tracer_init(PyObject *self, PyObject *args, PyObject *kw)
{
	struct tracer *t = (struct tracer *)self;
	static char *kwlist[] = {"path", "mode", "trigger", "prev", "calculate", "log",
				 "rss_source", "argv", "force", "hook", NULL};
	PyObject *path = NULL, *argv = Py_None;
	const char *mode = "profile", *calc = "all", *rss_source = "auto", *hook = "auto";
	long long trigger = 0;
	int prev = 0, log = 1, force = 0;
	if (t->is_open) {
		PyErr_SetString(PyExc_RuntimeError, "tracer is open");
		return -1;
	}
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|sLpspsOps:Tracer", kwlist,
					 PyUnicode_FSConverter, &path, &mode, &trigger, &prev,
					 &calc, &log, &rss_source, &argv, &force, &hook))
		return -1;
	int ret = -1;
	PyObject *module = pmt_type_module(Py_TYPE(self), the_module);
	if (!module)
		goto out;
	Py_INCREF(module);
	Py_XSETREF(t->module, module);
	if (!strcmp(mode, "profile")) {
		t->mode = PMT_MODE_PROFILE;
	} else if (!strcmp(mode, "trace")) {
		t->mode = PMT_MODE_TRACE;
	} else {
		PyErr_Format(PyExc_ValueError, "mode must be 'profile' or 'trace', not '%s'", mode);
		goto out;
	}
	if (!strcmp(calc, "none")) {
		t->calc = CALC_NONE;
	} else if (!strcmp(calc, "rss")) {
		t->calc = CALC_RSS;
	} else if (!strcmp(calc, "all")) {
		t->calc = CALC_ALL;
	} else {
		PyErr_Format(PyExc_ValueError, "calculate must be none, rss or all, not '%s'", calc);
		goto out;
	}
	if (!strcmp(hook, "auto")) {
		/* HOOK_AUTO: sys.monitoring unless every tool id is taken. */
		t->hook_want = PMT_HAVE_MONITORING && PMT_DEFAULT_HOOK == HOOK_MONITORING
				       ? HOOK_AUTO
				       : HOOK_LEGACY;
	} else if (!strcmp(hook, "legacy")) {
		t->hook_want = HOOK_LEGACY;
	} else if (!strcmp(hook, "monitoring")) {
		if (!PMT_HAVE_MONITORING) {
			PyErr_SetString(PyExc_ValueError, "hook 'monitoring' needs Python 3.12 or newer");
			goto out;
		}
		t->hook_want = HOOK_MONITORING;
	} else {
		PyErr_Format(PyExc_ValueError,
			     "hook must be 'auto', 'monitoring' or 'legacy', not '%s'", hook);
		goto out;
	}
	t->hook = t->hook_want == HOOK_AUTO ? HOOK_MONITORING : t->hook_want;
	t->tool_id = -1;
	t->extra_index = mod_state(module)->extra_index[t->mode];
	int k = pmt_rss_parse(rss_source);
	if (k < 0) {
		PyErr_Format(PyExc_ValueError, "unknown rss source '%s'", rss_source);
		goto out;
	}
	t->rss_want = (enum pmt_rss_kind)k;
	t->page_size = sysconf(_SC_PAGESIZE);
	t->trigger = trigger;
	int64_t tb = trigger < 0 ? t->page_size : trigger;
	t->trig_pages = (tb + t->page_size - 1) / t->page_size;
	t->log_events = log;
	t->log_all = t->trig_pages == 0;
	t->prev = prev && !t->log_all;
	t->force = force;
	free(t->template_path);
	t->template_path = strdup(PyBytes_AS_STRING(path));
	free_argv(t);
	if (argv != Py_None) {
		PyObject *seq = PySequence_Fast(argv, "argv must be a sequence of str");
		if (!seq)
			goto out;
		Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
		t->argv = calloc((size_t)n + 1, sizeof(char *));
		for (Py_ssize_t i = 0; t->argv && i < n; i++) {
			PyObject *b = NULL;
			if (!PyUnicode_FSConverter(PySequence_Fast_GET_ITEM(seq, i), &b)) {
				Py_DECREF(seq);
				goto out;
			}
			t->argv[t->argc++] = strdup(PyBytes_AS_STRING(b));
			Py_DECREF(b);
		}
		Py_DECREF(seq);
	}
	ret = 0;
out:
	Py_XDECREF(path);
	return ret;
}

static PyObject *tracer_raise_failure(struct tracer *t)
{
	if (t->failed && t->errmsg[0]) {
		PyErr_SetString(PyExc_RuntimeError, t->errmsg);
		return NULL;
	}
	Py_RETURN_NONE;
}

static PyObject *tracer_start(PyObject *self, PyObject *unused)
{
	struct tracer *t = (struct tracer *)self;
	if (t->is_open) {
		PyErr_SetString(PyExc_RuntimeError, "tracer already started");
		return NULL;
	}
	if (tracer_open_log(t, false) < 0)
		return NULL;
	open_list_add(t);
	if (tracer_install(t) < 0) {
		struct pmt_exc exc;
		pmt_exc_save(&exc);
		tracer_close_log(t);
		open_list_remove(t);
		pmt_exc_restore(&exc);
		return NULL;
	}
	Py_RETURN_NONE;
}

static PyObject *tracer_stop(PyObject *self, PyObject *unused)
{
	struct tracer *t = (struct tracer *)self;
	if (!t->is_open)
		Py_RETURN_NONE;
	int r = tracer_close_log(t);
	Py_INCREF(t); /* the open list's reference may be the last one */
	open_list_remove(t);
	PyObject *res;
	if (r < 0 && !t->failed)
		res = PyErr_Format(PyExc_OSError, "pmt_tracer: %s: %s", t->path, strerror(-r));
	else
		res = tracer_raise_failure(t);
	Py_DECREF(t);
	return res;
}

static PyObject *tracer_suspend(PyObject *self, PyObject *unused)
{
	struct tracer *t = (struct tracer *)self;
	if (t->is_open && t->active) {
		tracer_uninstall(t);
		t->suspended = true;
	}
	Py_RETURN_NONE;
}

static PyObject *tracer_resume(PyObject *self, PyObject *unused)
{
	struct tracer *t = (struct tracer *)self;
	if (t->is_open && t->suspended) {
		if (tracer_install(t) < 0)
			return NULL;
		t->suspended = false;
	}
	Py_RETURN_NONE;
}

static PyObject *tracer_write_message(PyObject *self, PyObject *arg)
{
	struct tracer *t = (struct tracer *)self;
	if (!PyUnicode_Check(arg)) {
		PyErr_Format(PyExc_ValueError,
			     "write_message_to_log() requires a single string, not type %s",
			     Py_TYPE(arg)->tp_name);
		return NULL;
	}
	if (!t->is_open || !t->w) {
		PyErr_SetString(PyExc_OSError, "Log file is closed.");
		return NULL;
	}
	Py_ssize_t n;
	const char *s = PyUnicode_AsUTF8AndSize(arg, &n);
	if (!s)
		return NULL;
	if (t->failed || !t->log_events)
		Py_RETURN_NONE;
	/* The message sits at the next event's number: announce the events
	 * skipped so far; a kept previous event would now land after it. */
	int r = pmt_writer_skip(t->w, t->unwritten);
	t->unwritten = 0;
	t->have_prev = false;
	if (r == 0)
		r = pmt_writer_message(t->w, s, (size_t)n);
	if (r < 0) {
		hook_fail(t, "write failed", r);
		return PyErr_Format(PyExc_OSError, "pmt_tracer: %s: %s", t->path, strerror(-r));
	}
	atomic_store(&t->last_event_t, mono_ns() - t->start_mono);
	atomic_store(&t->dirty, 1);
	Py_RETURN_NONE;
}

static int event_kind(const char *s)
{
	static const char *const names[] = {"call",	   "exception", "line",	    "return",
					    "c_call",	   "c_exception", "c_return", "opcode"};
	for (int i = 0; i < 8; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

/* threading.setprofile/settrace hook: runs once in each new thread, installs
 * the C hook there and passes on the event it was called for. */
static PyObject *tracer_thread_start(PyObject *self, PyObject *args)
{
	struct tracer *t = (struct tracer *)self;
	PyObject *frame, *arg;
	const char *event;
	if (!PyArg_ParseTuple(args, "OsO", &frame, &event, &arg))
		return NULL;
	if (!t->active || t->hook != HOOK_LEGACY)
		Py_RETURN_NONE;
	pmt_set_this_thread(t->mode == PMT_MODE_TRACE, pmt_hook, self);
	int what = event_kind(event);
	if (what >= 0 && PyFrame_Check(frame))
		pmt_hook(self, (PyFrameObject *)frame, what, arg);
	Py_RETURN_NONE;
}

static PyObject *tracer_get_path(PyObject *self, void *c)
{
	struct tracer *t = (struct tracer *)self;
	const char *p = t->path ? t->path : t->template_path;
	if (!p)
		Py_RETURN_NONE;
	return PyUnicode_DecodeFSDefault(p);
}

static PyObject *tracer_get_events(PyObject *self, void *c)
{
	struct tracer *t = (struct tracer *)self;
	return PyLong_FromUnsignedLongLong(t->is_open ? t->seen : t->final_events);
}

static PyObject *tracer_get_written(PyObject *self, void *c)
{
	struct tracer *t = (struct tracer *)self;
	return PyLong_FromUnsignedLongLong(t->w ? t->w->events : t->final_written);
}

static PyObject *tracer_get_bytes(PyObject *self, void *c)
{
	struct tracer *t = (struct tracer *)self;
	return PyLong_FromUnsignedLongLong(t->w ? pmt_writer_bytes(t->w) : t->final_bytes);
}

static PyObject *tracer_get_active(PyObject *self, void *c)
{
	return PyBool_FromLong(((struct tracer *)self)->active);
}

static PyObject *tracer_get_open(PyObject *self, void *c)
{
	return PyBool_FromLong(((struct tracer *)self)->is_open);
}

static PyObject *tracer_get_mode(PyObject *self, void *c)
{
	return PyUnicode_FromString(((struct tracer *)self)->mode == PMT_MODE_TRACE ? "trace"
										  : "profile");
}

static PyObject *tracer_get_hook(PyObject *self, void *c)
{
	return PyUnicode_FromString(hook_names[((struct tracer *)self)->hook]);
}

static PyObject *tracer_get_rss_source(PyObject *self, void *c)
{
	struct tracer *t = (struct tracer *)self;
	return PyUnicode_FromString(pmt_rss_name(t->is_open ? t->rss.kind : t->rss_want));
}

static PyObject *tracer_get_error(PyObject *self, void *c)
{
	struct tracer *t = (struct tracer *)self;
	if (!t->failed)
		Py_RETURN_NONE;
	return PyUnicode_FromString(t->errmsg);
}

static void tracer_dealloc(PyObject *self)
{
	struct tracer *t = (struct tracer *)self;
	PyTypeObject *tp = Py_TYPE(self);
	/* Open tracers are kept alive by the open list: nothing to close. */
	table_clear(&t->ctab);
	threads_reset(t);
	free(t->template_path);
	free(t->path);
	free_argv(t);
	Py_CLEAR(t->module);
	Py_CLEAR(t->mon_missing);
	Py_CLEAR(t->mon_disable);
	tp->tp_free(self);
	Py_DECREF(tp);
}

static PyMethodDef tracer_methods[] = {
	{"start", tracer_start, METH_NOARGS, "Open the log and install the hook in every thread."},
	{"stop", tracer_stop, METH_NOARGS,
	 "Remove the hook, write the trailer and close; raises RuntimeError if the hook failed."},
	{"suspend", tracer_suspend, METH_NOARGS, "Remove the hook, keeping the log open."},
	{"resume", tracer_resume, METH_NOARGS, "Install the hook again after suspend()."},
	{"write_message", tracer_write_message, METH_O, "Write a MESSAGE record."},
	{"_thread_start", tracer_thread_start, METH_VARARGS, NULL},
	{NULL, NULL, 0, NULL},
};

static PyGetSetDef tracer_getset[] = {
	{"path", tracer_get_path, NULL, "the log's path (expanded once open)", NULL},
	{"events", tracer_get_events, NULL, "events seen", NULL},
	{"written", tracer_get_written, NULL, "EVENT records written", NULL},
	{"bytes", tracer_get_bytes, NULL, "compressed bytes written", NULL},
	{"active", tracer_get_active, NULL, "the hook is installed", NULL},
	{"open", tracer_get_open, NULL, "the log is open", NULL},
	{"mode", tracer_get_mode, NULL, "profile or trace", NULL},
	{"rss_source", tracer_get_rss_source, NULL, "the RSS source used", NULL},
	{"hook", tracer_get_hook, NULL, "how events arrive: 'monitoring' (sys.monitoring) or 'legacy' "
	 "(PyEval_SetProfile/SetTrace); before start(), as asked", NULL},
	{"error", tracer_get_error, NULL, "what made the hook fail, or None", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot tracer_slots[] = {
	{Py_tp_doc, "Tracer(path, mode='profile', trigger=0, prev=False, calculate='all', "
		    "log=True, rss_source='statm', argv=None, force=False, hook='auto'): one pmt log."},
	{Py_tp_init, tracer_init},
	{Py_tp_new, PyType_GenericNew},
	{Py_tp_dealloc, tracer_dealloc},
	{Py_tp_methods, tracer_methods},
	{Py_tp_getset, tracer_getset},
	{0, NULL},
};

static PyType_Spec tracer_spec = {
	.name = "pmt_tracer._pmt_tracer.Tracer",
	.basicsize = sizeof(struct tracer),
	.flags = Py_TPFLAGS_DEFAULT,
	.slots = tracer_slots,
};

/* ---- module functions ---------------------------------------------------- */

static PyObject *mod_rss(PyObject *module, PyObject *unused)
{
	struct pmt_rss r;
	int e = pmt_rss_open(&r, PMT_RSS_STATM);
	if (e < 0)
		return PyErr_Format(PyExc_OSError, "rss: %s", strerror(-e));
	long p = pmt_rss_read_statm(&r);
	pmt_rss_close(&r);
	if (p < 0)
		return PyErr_Format(PyExc_OSError, "rss: %s", strerror((int)-p));
	return PyLong_FromLongLong((long long)p * sysconf(_SC_PAGESIZE));
}

static PyObject *mod_rss_peak(PyObject *module, PyObject *unused)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return PyErr_SetFromErrno(PyExc_OSError);
	return PyLong_FromLongLong((long long)ru.ru_maxrss * 1024);
}

static PyObject *mod_page_size(PyObject *module, PyObject *unused)
{
	return PyLong_FromLong(sysconf(_SC_PAGESIZE));
}

/* Runs in the child right after fork(), before any Python code: the Python
 * at-fork handlers that run before ours must not reach the parent's writer,
 * which could end a frame into the parent's file. */
static void atfork_child(void)
{
	tls_tid = 0;
	if (!the_state)
		return;
	for (struct tracer *t = the_state->open; t; t = t->next_open)
		t->fork_pending = true;
}

/* os.register_at_fork(after_in_child=...): each open log of the parent is
 * dropped unwritten and the child opens its own. */
static PyObject *mod_after_fork_child(PyObject *module, PyObject *unused)
{
	struct mod_state *st = mod_state(module);
	for (struct tracer *t = st->open; t; t = t->next_open) {
		t->fork_pending = false;
		/* The parent's flusher thread does not exist here. */
		t->fl_running = false;
		pmt_writer_free(t->w);
		t->w = NULL;
		t->is_open = false;
		if (tracer_open_log(t, true) < 0) {
			/* The child runs on untraced rather than failing; its
			 * stop() reports why. */
			PyErr_Clear();
			tracer_uninstall(t);
			t->failed = true;
			snprintf(t->errmsg, sizeof(t->errmsg),
				 "pmt_tracer: cannot open the fork child's log");
		} else if (t->active) {
			announce_hook(t);
		}
	}
	Py_RETURN_NONE;
}

/* At exit: close every open log (trailer, CLEAN). Returns the list of
 * (path, events, bytes, error-or-None) of the logs closed. */
static PyObject *mod_close_all(PyObject *module, PyObject *unused)
{
	struct mod_state *st = mod_state(module);
	PyObject *res = PyList_New(0);
	if (!res)
		return NULL;
	while (st->open) {
		struct tracer *t = st->open;
		Py_INCREF(t);
		int r = tracer_close_log(t);
		open_list_remove(t);
		const char *err = t->failed ? t->errmsg : r < 0 ? strerror(-r) : NULL;
		PyObject *item = Py_BuildValue("(NKKz)", PyUnicode_DecodeFSDefault(t->path),
					       (unsigned long long)t->final_events,
					       (unsigned long long)t->final_bytes, err);
		Py_DECREF(t);
		if (!item || PyList_Append(res, item) < 0) {
			Py_XDECREF(item);
			Py_DECREF(res);
			return NULL;
		}
		Py_DECREF(item);
	}
	return res;
}

static PyObject *mod_expand_path(PyObject *module, PyObject *arg)
{
	PyObject *b = NULL;
	if (!PyUnicode_FSConverter(arg, &b))
		return NULL;
	char *p = expand_path(PyBytes_AS_STRING(b), false);
	Py_DECREF(b);
	if (!p)
		return PyErr_NoMemory();
	PyObject *r = PyUnicode_DecodeFSDefault(p);
	free(p);
	return r;
}

static PyMethodDef mod_methods[] = {
	{"rss", mod_rss, METH_NOARGS, "Resident set size now, in bytes."},
	{"rss_peak", mod_rss_peak, METH_NOARGS, "Peak resident set size (getrusage), in bytes."},
	{"page_size", mod_page_size, METH_NOARGS, "The page size in bytes."},
	{"expand_path", mod_expand_path, METH_O, "Expand %p, %t and %% in a log path."},
	{"_after_fork_child", mod_after_fork_child, METH_NOARGS, NULL},
	{"_close_all", mod_close_all, METH_NOARGS, NULL},
	{NULL, NULL, 0, NULL},
};

static int mod_exec(PyObject *module)
{
	struct mod_state *st = mod_state(module);
	the_module = module;
	the_state = st;
	static bool atfork_done;
	if (!atfork_done && pthread_atfork(NULL, NULL, atfork_child) == 0)
		atfork_done = true;
	for (int i = 0; i < 2; i++) {
		st->extra_index[i] = pmt_code_extra_index(NULL);
		if (st->extra_index[i] < 0) {
			PyErr_SetString(PyExc_RuntimeError, "no co_extra index left");
			return -1;
		}
	}
	st->tracer_type = pmt_type_from_spec(module, &tracer_spec);
	if (!st->tracer_type)
		return -1;
	Py_INCREF(st->tracer_type);
	if (PyModule_AddObject(module, "Tracer", (PyObject *)st->tracer_type) < 0) {
		Py_DECREF(st->tracer_type);
		return -1;
	}
	if (PyModule_AddIntConstant(module, "FORMAT_VERSION", PMT_FORMAT_VERSION) < 0)
		return -1;
	return 0;
}

static int mod_traverse(PyObject *module, visitproc visit, void *arg)
{
	struct mod_state *st = mod_state(module);
	if (st)
		Py_VISIT(st->tracer_type);
	return 0;
}

static int mod_clear(PyObject *module)
{
	struct mod_state *st = mod_state(module);
	if (st)
		Py_CLEAR(st->tracer_type);
	return 0;
}

static PyModuleDef_Slot mod_slots[] = {
	{Py_mod_exec, mod_exec},
	{0, NULL},
};

static struct PyModuleDef mod_def = {
	PyModuleDef_HEAD_INIT,
	.m_name = "pmt_tracer._pmt_tracer",
	.m_doc = "The pmt tracer's hook and log writer.",
	.m_size = sizeof(struct mod_state),
	.m_methods = mod_methods,
	.m_slots = mod_slots,
	.m_traverse = mod_traverse,
	.m_clear = mod_clear,
};

PMT_MODINIT PyInit__pmt_tracer(void);
PMT_MODINIT PyInit__pmt_tracer(void)
{
	return PyModuleDef_Init(&mod_def);
}
