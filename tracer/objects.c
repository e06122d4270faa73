/* SPDX-License-Identifier: MIT */
/* Object tracing (CPython 3.13+): every Python object created and destroyed,
 * through PyRefTracer_SetTracer, as OBJECT records in the log
 * (docs/FORMAT.md, "Object records"), each after the SITE saying which
 * thread and which line of Python code ran when it happened.
 *
 * The filters are pymemtrace's ReferenceTracing ones: frames and code
 * objects are never recorded; the builtins (what has a Py*_Check: numbers,
 * str, bytes, containers, functions, modules, exceptions...) only with
 * include_builtins; then exclude_tp_names, then include_tp_names, by tp_name.
 * The decision depends on the type alone (but for exception classes, which
 * are objects of a metaclass), so it is made once per type and kept in a
 * small hash keyed by the type's address and its tp_name pointer (a type
 * renamed or freed and replaced at the same address is looked at again).
 *
 * The callback runs for every object of the process with the GIL held; it
 * never records what it creates itself (a thread-local depth), and the
 * hot path of an object it does not record is one hash probe. */
#include "record.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#if PY_VERSION_HEX >= 0x030D0000
#define PMT_HAVE_REFTRACER 1
#else
#define PMT_HAVE_REFTRACER 0
#endif

bool objects_supported(void) { return PMT_HAVE_REFTRACER; }

PyObject *objects_py_supported(PyObject *module, PyObject *unused)
{
	(void)module, (void)unused;
	return PyBool_FromLong(PMT_HAVE_REFTRACER);
}

PyObject *objects_py_get_on(PyObject *self, void *c)
{
	(void)c;
	return PyBool_FromLong(((struct tracer *)self)->obj != NULL);
}

#if PMT_HAVE_REFTRACER

/* One type seen: its decision. */
struct obj_type {
	PyTypeObject *tp;    /* NULL: empty */
	const char *tp_name; /* tp_name when decided */
	uint32_t id;	     /* NAME id, 0: not recorded */
	bool per_object;     /* a metaclass: exception classes are builtins */
};

/* A line looked up: (code, instruction offset) -> line. */
struct obj_line {
	PyObject *co;
	int lasti;
	int line;
};
#define OBJ_LINES 1024

struct objects {
	bool include_builtins;
	char **exclude, **include; /* NULL-terminated; include NULL: no include filter */
	bool has_include;
	struct obj_type *types;
	uint32_t types_cap, ntypes; /* power of two */
	/* interned names: id - 1 indexes these */
	char **names;
	int64_t *live;
	uint32_t nnames, names_cap;
	uint64_t count_new, count_del, records;
	uint64_t last_addr, last_t;
	int64_t last_rss;
	bool on; /* the callback is installed */
	struct obj_line lines[OBJ_LINES];
};

/* The one log recording objects: the ref tracer is process-wide. */
static struct tracer *obj_owner;
static _Thread_local int obj_depth;

/* The start of CPython 3.13's _PyInterpreterFrame (Include/internal/
 * pycore_frame.h): the executable, a strong reference to a code object or
 * None (an entry frame of the C stack); 3.14 tags it as a _PyStackRef. */
struct pmt_iframe {
	uintptr_t f_executable;
	struct pmt_iframe *previous;
};

static void free_list(char **l)
{
	if (!l)
		return;
	for (char **p = l; *p; p++)
		free(*p);
	free(l);
}

static void objects_free(struct objects *o)
{
	if (!o)
		return;
	free_list(o->exclude);
	free_list(o->include);
	for (uint32_t i = 0; i < o->nnames; i++)
		free(o->names[i]);
	free(o->names);
	free(o->live);
	free(o->types);
	free(o);
}

/* A sequence of str as a NULL-terminated list; -1 with TypeError. */
static int str_list(PyObject *seq, const char *what, char ***out)
{
	*out = NULL;
	if (!seq || seq == Py_None)
		return 0;
	if (PyUnicode_Check(seq) || !PySequence_Check(seq)) {
		PyErr_Format(PyExc_TypeError, "%s must be a sequence of str, not %s", what,
			     Py_TYPE(seq)->tp_name);
		return -1;
	}
	PyObject *f = PySequence_Fast(seq, what);
	if (!f)
		return -1;
	Py_ssize_t n = PySequence_Fast_GET_SIZE(f);
	char **l = calloc((size_t)n + 1, sizeof(char *));
	if (!l) {
		Py_DECREF(f);
		PyErr_NoMemory();
		return -1;
	}
	for (Py_ssize_t i = 0; i < n; i++) {
		PyObject *s = PySequence_Fast_GET_ITEM(f, i);
		const char *c = PyUnicode_Check(s) ? PyUnicode_AsUTF8(s) : NULL;
		if (!c || !(l[i] = strdup(c))) {
			if (!PyErr_Occurred())
				PyErr_Format(PyExc_TypeError, "%s must hold str, not %s", what,
					     Py_TYPE(s)->tp_name);
			free_list(l);
			Py_DECREF(f);
			return -1;
		}
	}
	Py_DECREF(f);
	*out = l;
	return 0;
}

int objects_configure(struct tracer *t, bool on, bool include_builtins, PyObject *exclude,
		      PyObject *include)
{
	objects_free(t->obj);
	t->obj = NULL;
	if (!on)
		return 0;
	struct objects *o = calloc(1, sizeof(*o));
	if (!o) {
		PyErr_NoMemory();
		return -1;
	}
	o->include_builtins = include_builtins;
	if (str_list(exclude, "exclude_tp_names", &o->exclude) < 0 ||
	    str_list(include, "include_tp_names", &o->include) < 0) {
		objects_free(o);
		return -1;
	}
	o->has_include = include && include != Py_None;
	t->obj = o;
	return 0;
}

void objects_dealloc(struct tracer *t)
{
	if (obj_owner == t) {
		PyRefTracer_SetTracer(NULL, NULL);
		obj_owner = NULL;
	}
	objects_free(t->obj);
	t->obj = NULL;
}

/* pymemtrace's reference_trace_is_builtin_pre_suspend(), for any object of
 * type tp: every check there reads the type only, but for exception
 * classes (whose type is a metaclass), done per object. */
static bool is_builtin(PyObject *op)
{
	return PyFloat_Check(op) || PyLong_Check(op) || PyBool_Check(op) || PyComplex_Check(op) ||
	       PyUnicode_Check(op) || PyBytes_Check(op) || PyByteArray_Check(op) ||
	       PyTuple_Check(op) || PyList_Check(op) || PyDict_Check(op) || PyDictKeys_Check(op) ||
	       PyDictValues_Check(op) || PyDictItems_Check(op) || PyODict_Check(op) ||
	       PyFrozenSet_Check(op) || PyAnySet_Check(op) || PySet_Check(op) ||
	       PySlice_Check(op) || PyRange_Check(op) || PyMethod_Check(op) ||
	       PyInstanceMethod_Check(op) || PyCell_Check(op) || PyCMethod_Check(op) ||
	       PyFunction_Check(op) || PySeqIter_Check(op) || PyCallIter_Check(op) ||
	       PyGen_Check(op) || PyFrame_Check(op) || PyFrameLocalsProxy_Check(op) ||
	       PyCode_Check(op) || PyModule_Check(op) || PyExceptionClass_Check(op) ||
	       PyExceptionInstance_Check(op) || PyWeakref_Check(op) || PyTraceBack_Check(op) ||
	       PyCFunction_Check(op) || PyPickleBuffer_Check(op) || PyMemoryView_Check(op);
}

static bool in_list(char **l, const char *name)
{
	for (char **p = l; p && *p; p++)
		if (!strcmp(*p, name))
			return true;
	return false;
}

/* The NAME id of name, written to the log the first time; 0 on failure. */
static uint32_t name_id(struct tracer *t, struct objects *o, const char *name)
{
	for (uint32_t i = 0; i < o->nnames; i++)
		if (!strcmp(o->names[i], name))
			return i + 1;
	if (o->nnames == o->names_cap) {
		uint32_t cap = o->names_cap ? o->names_cap * 2 : 64;
		char **n = realloc(o->names, cap * sizeof(*n));
		if (!n)
			return 0;
		o->names = n;
		int64_t *l = realloc(o->live, cap * sizeof(*l));
		if (!l)
			return 0;
		o->live = l;
		o->names_cap = cap;
	}
	char *c = strdup(name);
	if (!c)
		return 0;
	uint32_t id = o->nnames + 1;
	if (t->w && !t->failed) {
		/* NAME: kind, id, str (cut to what one reservation holds) */
		size_t len = strlen(c);
		if (len > 200)
			len = 200;
		uint8_t *p = pmt_writer_reserve(t->w, 1 + 4 * PMT_VARINT_MAX + len);
		if (!p) {
			free(c);
			hook_fail(t, "write failed", t->w->error);
			return 0;
		}
		uint8_t body[3 * PMT_VARINT_MAX], *b = body;
		b = pmt_varint_put(b, PMT_NAME_TYPE);
		b = pmt_varint_put(b, id);
		b = pmt_varint_put(b, len);
		*p++ = PMT_TAG_NAME;
		p = pmt_varint_put(p, (uint64_t)(b - body) + len);
		memcpy(p, body, (size_t)(b - body));
		p += b - body;
		memcpy(p, c, len);
		pmt_writer_commit(t->w, p + len);
	}
	o->names[o->nnames] = c;
	o->live[o->nnames] = 0;
	o->nnames++;
	return id;
}

/* The decision for op's type: its NAME id, or 0 when not recorded. */
static uint32_t decide(struct tracer *t, struct objects *o, PyObject *op)
{
	PyTypeObject *tp = Py_TYPE(op);
	if (PyFrame_Check(op) || PyCode_Check(op))
		return 0;
	if (!o->include_builtins && is_builtin(op))
		return 0;
	if (in_list(o->exclude, tp->tp_name))
		return 0;
	if (o->has_include && !in_list(o->include, tp->tp_name))
		return 0;
	return name_id(t, o, tp->tp_name);
}

static inline uint32_t type_hash(const void *tp, uint32_t cap)
{
	uint64_t h = (uint64_t)(uintptr_t)tp * 0x9E3779B97F4A7C15ull;
	return (uint32_t)(h >> 40) & (cap - 1);
}

static struct obj_type *type_slot(struct objects *o, PyTypeObject *tp)
{
	uint32_t i = type_hash(tp, o->types_cap);
	while (o->types[i].tp && o->types[i].tp != tp)
		i = (i + 1) & (o->types_cap - 1);
	return &o->types[i];
}

static int types_grow(struct objects *o)
{
	uint32_t cap = o->types_cap ? o->types_cap * 2 : 256;
	struct obj_type *old = o->types, *n = calloc(cap, sizeof(*n));
	if (!n)
		return -1;
	uint32_t oldcap = o->types_cap;
	o->types = n;
	o->types_cap = cap;
	for (uint32_t i = 0; i < oldcap; i++)
		if (old[i].tp)
			*type_slot(o, old[i].tp) = old[i];
	free(old);
	return 0;
}

/* Slow path: the first object of a type (or of a renamed one). */
static __attribute__((noinline)) uint32_t type_decide(struct tracer *t, struct objects *o,
						      PyObject *op, struct obj_type *e)
{
	PyTypeObject *tp = Py_TYPE(op);
	if (!e->tp) {
		if ((o->ntypes + 1) * 2 > o->types_cap) {
			if (types_grow(o) < 0)
				return 0;
			e = type_slot(o, tp);
		}
		o->ntypes++;
	}
	e->tp = tp;
	e->tp_name = tp->tp_name;
	e->per_object = PyType_FastSubclass(tp, Py_TPFLAGS_TYPE_SUBCLASS);
	e->id = e->per_object ? 0 : decide(t, o, op);
	if (e->per_object)
		return decide(t, o, op);
	return e->id;
}

/* The Python line running on this thread: the innermost frame that runs
 * code (entry frames of the C stack have none). Immortal code objects are
 * the interpreter's static shims (_Py_InitCleanup, the frame that checks
 * that __init__ returned None): they live in read-only memory, so they are
 * not interned (co_extra cannot be written) and their caller is the site. */
static void running_site(struct tracer *t, struct objects *o, uint32_t *code, uint32_t *line)
{
	*code = *line = 0;
	PyThreadState *ts = PyThreadState_GetUnchecked();
	if (!ts)
		return;
	struct pmt_iframe *f = (struct pmt_iframe *)ts->current_frame;
	for (int n = 0; f && n < 64; n++, f = f->previous) {
		PyObject *exe = (PyObject *)(f->f_executable & ~(uintptr_t)7);
		if (!exe || !PyCode_Check(exe) || _Py_IsImmortal(exe))
			continue;
		*code = py_code_id(t, (PyCodeObject *)exe);
		int lasti = PyUnstable_InterpreterFrame_GetLasti((struct _PyInterpreterFrame *)f);
		uint32_t h =
		    (uint32_t)(((uintptr_t)exe >> 4) * 31u + (uint32_t)lasti) & (OBJ_LINES - 1);
		struct obj_line *c = &o->lines[h];
		if (c->co != exe || c->lasti != lasti) {
			c->co = exe;
			c->lasti = lasti;
			c->line =
			    PyUnstable_InterpreterFrame_GetLine((struct _PyInterpreterFrame *)f);
		}
		*line = c->line > 0 ? (uint32_t)c->line : 0;
		return;
	}
}

/* One recorded object: SITE when it changed, then the OBJECT record. */
static void obj_record(struct tracer *t, struct objects *o, unsigned op, PyObject *obj, uint32_t id)
{
	uint32_t code, line;
	running_site(t, o, &code, &line);
	if (t->failed)
		return;
	uint64_t serial = tls_serial ? tls_serial : thread_tls_init();
	uint32_t s1 = thread_native(t, serial, tls_tid);
	if (!s1)
		return;
	struct thread_info *ti = &t->threads[s1 - 1];
	uint32_t thread = ti->idx;
	struct pmt_writer *w = t->w;
	int r = 0;
	/* the events seen before this object, as a MESSAGE announces them; a
	 * kept previous event stays for the one that triggers it */
	uint64_t pending = t->unwritten - (t->have_prev ? 1 : 0);
	if (pending) {
		r = pmt_writer_skip(w, pending);
		t->unwritten -= pending;
	}
	if (r == 0 && !ti->announced && !ti->sited) {
		char comm[17] = "";
		prctl(PR_GET_NAME, comm, 0, 0, 0);
		r = pmt_writer_site(w, thread, code, line, ti->tid, comm);
		ti->sited = true;
		t->heap_site.thread = thread, t->heap_site.code = code, t->heap_site.line = line;
	} else if (r == 0 && (thread != t->heap_site.thread || code != t->heap_site.code ||
			      line != t->heap_site.line)) {
		r = pmt_writer_site(w, thread, code, line, 0, NULL);
		t->heap_site.thread = thread, t->heap_site.code = code, t->heap_site.line = line;
	}
	if (r < 0) {
		hook_fail(t, "write failed", r);
		return;
	}
	int64_t rss = t->rss_start;
	if (t->calc != CALC_NONE)
		rss = pmt_rss_pages(&t->rss);
	uint64_t now = mono_ns() - t->start_mono;
	uint64_t addr = (uint64_t)(uintptr_t)obj;
	uint8_t *p = pmt_writer_reserve(w, PMT_OBJECT_MAX);
	if (!p) {
		hook_fail(t, "write failed", w->error);
		return;
	}
	*p++ = (uint8_t)(PMT_TAG_OBJECT | op);
	p = pmt_varint_put(p, id);
	p = pmt_varint_put(p, pmt_zigzag((int64_t)(addr - o->last_addr)));
	p = pmt_varint_put(p, now - o->last_t);
	p = pmt_varint_put(p, pmt_zigzag(rss - o->last_rss));
	o->last_addr = addr;
	o->last_t = now;
	o->last_rss = rss;
	pmt_writer_commit(w, p);
	o->records++;
	if (__builtin_expect(__atomic_load_n(&w->frame_deadline, __ATOMIC_RELAXED) == 0 ||
				 --w->frame_left == 0,
			     0)) {
		r = pmt_writer_end_frame(w, w->last_t);
		if (r < 0)
			hook_fail(t, "write failed", r);
	}
}

static int obj_callback(PyObject *op, PyRefTracerEvent ev, void *data)
{
	if (obj_depth)
		return 0;
	struct tracer *t = data;
	struct objects *o = t->obj;
	if (__builtin_expect(!o || t->failed || t->fork_pending || !t->w, 0))
		return 0;
	PyTypeObject *tp = Py_TYPE(op);
	if (ev == PyRefTracer_DESTROY) {
		if (__builtin_expect(PyType_FastSubclass(tp, Py_TPFLAGS_TYPE_SUBCLASS), 0) &&
		    o->types_cap) {
			/* a type going away: its address may be another type's next */
			struct obj_type *e = type_slot(o, (PyTypeObject *)op);
			if (e->tp)
				e->tp_name = NULL;
		} else if (__builtin_expect(tp == &PyCode_Type, 0)) {
			memset(o->lines, 0, sizeof(o->lines));
		}
	} else if (ev != PyRefTracer_CREATE) {
		return 0;
	}
	obj_depth++;
	uint32_t id;
	struct obj_type *e = o->types_cap ? type_slot(o, tp) : NULL;
	if (__builtin_expect(e && e->tp == tp && e->tp_name == tp->tp_name && !e->per_object, 1))
		id = e->id;
	else if (!e && types_grow(o) < 0)
		id = 0;
	else
		id = type_decide(t, o, op, e ? e : type_slot(o, tp));
	if (id) {
		unsigned k = ev == PyRefTracer_CREATE ? PMT_OBJECT_NEW : PMT_OBJECT_DEL;
		if (k == PMT_OBJECT_NEW) {
			o->count_new++;
			o->live[id - 1]++;
		} else {
			o->count_del++;
			o->live[id - 1]--;
		}
		obj_record(t, o, k, op, id);
	}
	obj_depth--;
	return 0;
}

int objects_start(struct tracer *t)
{
	struct objects *o = t->obj;
	if (!o || o->on)
		return 0;
	void *data = NULL;
	PyRefTracer cur = PyRefTracer_GetTracer(&data);
	if (cur && cur != obj_callback) {
		PyErr_SetString(PyExc_RuntimeError,
				"pmt_tracer: another reference tracer (PyRefTracer_SetTracer) is "
				"installed");
		return -1;
	}
	if (obj_owner && obj_owner != t && obj_owner->obj && obj_owner->obj->on) {
		PyErr_SetString(PyExc_RuntimeError,
				"pmt_tracer: another log is already recording objects");
		return -1;
	}
	if (!o->last_t && !o->records)
		o->last_rss = t->rss_start;
	if (PyRefTracer_SetTracer(obj_callback, t) < 0)
		return -1;
	obj_owner = t;
	o->on = true;
	return 0;
}

void objects_stop(struct tracer *t)
{
	struct objects *o = t->obj;
	if (!o || !o->on)
		return;
	if (obj_owner == t) {
		PyRefTracer_SetTracer(NULL, NULL);
		obj_owner = NULL;
	}
	o->on = false;
}

/* A new log (start, or a fork child's): the stream's bases and names
 * start again. */
void objects_reset(struct tracer *t)
{
	struct objects *o = t->obj;
	if (!o)
		return;
	for (uint32_t i = 0; i < o->nnames; i++)
		free(o->names[i]);
	o->nnames = 0;
	free(o->types);
	o->types = NULL;
	o->types_cap = o->ntypes = 0;
	o->count_new = o->count_del = o->records = 0;
	o->last_addr = o->last_t = 0;
	o->last_rss = t->rss_start;
	memset(o->lines, 0, sizeof(o->lines));
}

PyObject *objects_py_counts(PyObject *self, PyObject *unused)
{
	(void)unused;
	struct objects *o = ((struct tracer *)self)->obj;
	PyObject *d = PyDict_New();
	if (!d || !o)
		return d;
	obj_depth++;
	for (uint32_t i = 0; i < o->nnames; i++) {
		PyObject *v = PyLong_FromLongLong(o->live[i]);
		if (!v || PyDict_SetItemString(d, o->names[i], v) < 0) {
			Py_XDECREF(v);
			Py_CLEAR(d);
			break;
		}
		Py_DECREF(v);
	}
	obj_depth--;
	return d;
}

PyObject *objects_py_get_stats(PyObject *self, void *c)
{
	(void)c;
	struct objects *o = ((struct tracer *)self)->obj;
	if (!o)
		return Py_BuildValue("KKK", 0ull, 0ull, 0ull);
	return Py_BuildValue("KKK", (unsigned long long)o->count_new,
			     (unsigned long long)o->count_del, (unsigned long long)o->records);
}

#else /* !PMT_HAVE_REFTRACER */

int objects_configure(struct tracer *t, bool on, bool include_builtins, PyObject *exclude,
		      PyObject *include)
{
	(void)include_builtins, (void)exclude, (void)include;
	t->obj = NULL;
	if (!on)
		return 0;
	PyErr_Format(PyExc_RuntimeError,
		     "pmt_tracer: object tracing needs CPython 3.13 or newer "
		     "(PyRefTracer_SetTracer); this is %d.%d",
		     PY_MAJOR_VERSION, PY_MINOR_VERSION);
	return -1;
}
void objects_dealloc(struct tracer *t) { (void)t; }
int objects_start(struct tracer *t)
{
	(void)t;
	return 0;
}
void objects_stop(struct tracer *t) { (void)t; }
void objects_reset(struct tracer *t) { (void)t; }
PyObject *objects_py_counts(PyObject *self, PyObject *unused)
{
	(void)self, (void)unused;
	return PyDict_New();
}
PyObject *objects_py_get_stats(PyObject *self, void *c)
{
	(void)self, (void)c;
	return Py_BuildValue("KKK", 0ull, 0ull, 0ull);
}

#endif
