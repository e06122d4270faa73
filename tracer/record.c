/* SPDX-License-Identifier: MIT */
/* The hook's slow paths: failures, code and thread interning; and the legacy
 * hook (PyEval_SetProfile / PyEval_SetTrace). The hot path is record.h. */
#include "record.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Thread_local uint64_t tls_tid __attribute__((tls_model("initial-exec")));
_Thread_local uint64_t tls_serial __attribute__((tls_model("initial-exec")));
static _Atomic uint64_t next_serial = 1;

uint64_t thread_tls_init(void)
{
	tls_tid = (uint64_t)syscall(SYS_gettid);
	tls_serial = atomic_fetch_add(&next_serial, 1);
	return tls_serial;
}

int emit_thread(struct tracer *t, uint32_t thread, uint32_t slot)
{
	struct thread_info *ti = &t->threads[slot];
	int r = pmt_writer_thread(t->w, thread, ti->tid,
				  ti->announced ? NULL : (ti->name ? ti->name : ""));
	if (r < 0)
		return r;
	if (!ti->announced) {
		/* written: the name is not needed any more */
		free(ti->name);
		ti->name = NULL;
		ti->announced = true;
	}
	t->written_thread = thread;
	return 0;
}

/* ---- failures inside the hook ------------------------------------------ */

void hook_fail(struct tracer *t, const char *what, int err)
{
	if (t->failed)
		return;
	t->failed = true;
	if (err)
		snprintf(t->errmsg, sizeof(t->errmsg), "pmt_tracer: %s: %s: %s",
			 t->path ? t->path : "", what, strerror(-err));
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

uint32_t intern_py(struct tracer *t, PyCodeObject *co)
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
	heap_lock(t);
	int r = pmt_writer_code(t->w, id, PMT_CODE_PY, (uint32_t)co->co_firstlineno, file,
				(size_t)flen, name, (size_t)nlen);
	heap_unlock(t);
	Py_XDECREF(ftmp);
	Py_XDECREF(ntmp);
	if (r < 0)
		hook_fail(t, "write failed", r);
	return id;
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

uint32_t intern_c(struct tracer *t, const void *key, uint32_t caller, PyObject *f,
		  PyObject *bound_self, PyCodeObject *co)
{
	uint32_t id = new_id(t);
	if (!id)
		return 0;
	int r = pmt_hash_put(&t->ctab, (uint64_t)(uintptr_t)key, caller, id);
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
	heap_lock(t);
	r = pmt_writer_code(t->w, id, PMT_CODE_C, 0, file, (size_t)flen, name, strlen(name));
	heap_unlock(t);
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

static void name_retry(struct tracer *t, uint32_t slot)
{
	struct pmt_exc exc;
	pmt_exc_save(&exc);
	char *name = thread_name();
	pmt_exc_restore(&exc);
	heap_lock(t);
	struct thread_info *ti = &t->threads[slot];
	if (name) {
		free(ti->name);
		ti->name = name;
		ti->named = true;
		ti->announced = false;
		t->written_thread = 0; /* the next event writes the THREAD record with it */
	}
	if (name || ++ti->retries >= NAME_RETRIES)
		t->name_pending = false;
	heap_unlock(t);
}

/* The OS tids of this process's threads alive now, sorted; NULL when
 * /proc/self/task cannot be read. */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t *live_tids(size_t *n)
{
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return NULL;
	size_t cap = 64;
	uint64_t *v = malloc(cap * sizeof(*v));
	*n = 0;
	struct dirent *e;
	while (v && (e = readdir(d))) {
		char *end;
		unsigned long long tid = strtoull(e->d_name, &end, 10);
		if (end == e->d_name || *end)
			continue;
		if (*n == cap) {
			uint64_t *nv = realloc(v, (cap *= 2) * sizeof(*v));
			if (!nv) {
				free(v);
				v = NULL;
				break;
			}
			v = nv;
		}
		v[(*n)++] = tid;
	}
	closedir(d);
	if (v)
		qsort(v, *n, sizeof(*v), cmp_u64);
	return v;
}

/* Frees the slots of threads that have ended (their tid is no longer in
 * /proc/self/task), so that a program starting threads for ever keeps a
 * table as large as the threads alive at once. The current thread and the
 * one of a kept --prev event stay. Rebuilds the serial map. */
static void threads_sweep(struct tracer *t)
{
	size_t n;
	uint64_t *live = live_tids(&n);
	if (!live)
		return;
	pmt_hash_clear(&t->ttab);
	for (uint32_t i = 0; i < t->nthreads; i++) {
		struct thread_info *ti = &t->threads[i];
		if (!ti->serial)
			continue;
		bool keep = i == t->cur_slot || (t->have_prev && i == t->pev.slot) ||
			    bsearch(&ti->tid, live, n, sizeof(*live), cmp_u64);
		if (keep && pmt_hash_put(&t->ttab, ti->serial, 0, i + 1) == 0)
			continue;
		free(ti->name);
		*ti = (struct thread_info){0};
	}
	free(live);
}

static int thread_slot_new(struct tracer *t, uint32_t *slot)
{
	if (!t->nfree && t->nthreads >= t->sweep_at) {
		threads_sweep(t);
		t->nfree = 0;
		for (uint32_t i = 0; i < t->nthreads; i++)
			t->nfree += !t->threads[i].serial;
		uint32_t used = t->nthreads - t->nfree;
		t->sweep_at = used * 2 > 64 ? used * 2 : 64;
	}
	if (t->nfree) {
		for (uint32_t i = 0; i < t->nthreads; i++) {
			if (!t->threads[i].serial) {
				t->nfree--;
				*slot = i;
				return 0;
			}
		}
	}
	if (t->nthreads == t->threads_cap) {
		uint32_t cap = t->threads_cap ? t->threads_cap * 2 : 8;
		struct thread_info *n = realloc(t->threads, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		t->threads = n;
		t->threads_cap = cap;
	}
	*slot = t->nthreads++;
	return 0;
}

/* Slow path: the event comes from another thread than the previous one, or
 * this thread's name is still unknown. With heap tracing the table is
 * shared with the allocator hooks of every thread (thread_native()): it
 * changes under the lock, and Python is called outside it. */
void thread_switch(struct tracer *t, uint64_t serial)
{
	t->last_serial = serial;
	t->name_pending = false;
	heap_lock(t);
	uint32_t s1 = pmt_hash_get(&t->ttab, serial, 0);
	bool retry = false;
	if (s1) {
		struct thread_info *ti = &t->threads[s1 - 1];
		t->cur_thread = ti->idx;
		t->cur_slot = s1 - 1;
		retry = !ti->named && ti->retries < NAME_RETRIES;
		if (!ti->ts_id)
			ti->ts_id = PyThreadState_Get()->id; /* first seen by the heap hooks */
	}
	heap_unlock(t);
	if (s1) {
		if (retry) {
			t->name_pending = true;
			name_retry(t, s1 - 1);
		}
		goto heap;
	}
	struct pmt_exc exc;
	pmt_exc_save(&exc);
	char *name = thread_name();
	pmt_exc_restore(&exc);
	if (!name && tls_tid == (uint64_t)getpid())
		name = strdup("MainThread");
	heap_lock(t);
	uint32_t slot;
	if (thread_slot_new(t, &slot) < 0) {
		heap_unlock(t);
		free(name);
		hook_fail(t, "out of memory", -ENOMEM);
		return;
	}
	t->threads[slot] = (struct thread_info){
	    .tid = tls_tid,
	    .serial = serial,
	    .ts_id = PyThreadState_Get()->id,
	    .idx = ++t->next_thread,
	    .name = name,
	    .named = name != NULL,
	};
	int r = pmt_hash_put(&t->ttab, serial, 0, slot + 1);
	heap_unlock(t);
	t->name_pending = !name;
	if (r < 0) {
		hook_fail(t, "out of memory", -ENOMEM);
		return;
	}
	t->cur_thread = t->threads[slot].idx;
	t->cur_slot = slot;
heap:
	if (t->heap && tls_heap) {
		tls_heap->thread = t->cur_thread;
		tls_heap->gen = t->gen;
	}
}

/* Heap tracing, under the lock, on a thread that allocates before its first
 * event in this log (a native thread, or one just started): its slot + 1,
 * made if need be with no name (a SITE tail names it), or 0 with the hook
 * failed. Allocates (the caller's allocator calls are not recorded). */
uint32_t thread_native(struct tracer *t, uint64_t serial, uint64_t tid)
{
	uint32_t s1 = pmt_hash_get(&t->ttab, serial, 0);
	if (s1)
		return s1;
	uint32_t slot;
	if (thread_slot_new(t, &slot) < 0) {
		hook_fail(t, "out of memory", -ENOMEM);
		return 0;
	}
	t->threads[slot] =
	    (struct thread_info){.tid = tid, .serial = serial, .idx = ++t->next_thread};
	if (pmt_hash_put(&t->ttab, serial, 0, slot + 1) < 0) {
		hook_fail(t, "out of memory", -ENOMEM);
		return 0;
	}
	return slot + 1;
}

uint32_t thread_index_of(struct tracer *t, uint64_t ts_id, uint32_t *slot)
{
	for (uint32_t i = 0; i < t->nthreads; i++) {
		if (t->threads[i].serial && t->threads[i].ts_id == ts_id) {
			*slot = i;
			return t->threads[i].idx;
		}
	}
	return 0;
}

void threads_reset(struct tracer *t)
{
	for (uint32_t i = 0; i < t->nthreads; i++)
		free(t->threads[i].name);
	free(t->threads);
	t->threads = NULL;
	t->nthreads = t->threads_cap = t->next_thread = t->nfree = 0;
	t->sweep_at = 64;
	pmt_hash_clear(&t->ttab);
	t->last_serial = 0;
	t->cur_thread = t->cur_slot = t->written_thread = 0;
	t->name_pending = false;
}

/* The legacy hook (PyEval_SetProfile / PyEval_SetTrace): CPython calls it for
 * every event of every thread it is installed in, with the GIL held. */
int pmt_hook(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
	/* A frame whose f_trace_opcodes a program's own tracer set sends OPCODE
	 * events to whatever trace function is there, ours once re-armed: not
	 * asked for, not recorded. */
	if (what == PyTrace_OPCODE)
		return 0;
	bool c = what >= PyTrace_C_CALL && what <= PyTrace_C_RETURN && arg;
	return record((struct tracer *)obj, what, frame, NULL, POS_FRAME, 0, c ? arg : NULL, NULL);
}
