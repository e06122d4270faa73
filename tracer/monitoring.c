/* SPDX-License-Identifier: MIT */
/* The sys.monitoring hooks (PEP 669, CPython 3.12+): callbacks and their
 * install. Compiled on every version; never installed before 3.12. */
#include "record.h"

#include <stdarg.h>
#include <string.h>

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

#define MON_DEF(fn)                                                                                \
	{                                                                                          \
#fn, (PyCFunction)(void (*)(void))fn, METH_FASTCALL, NULL                          \
	}
static PyMethodDef mon_defs[] = {
    MON_DEF(mon_call),	    MON_DEF(mon_return), MON_DEF(mon_unwind),
    MON_DEF(mon_exception), MON_DEF(mon_c_call), MON_DEF(mon_c_return),
    MON_DEF(mon_c_raise),   MON_DEF(mon_line),	 MON_DEF(mon_jump),
};
enum {
	MON_CALL,
	MON_RETURN,
	MON_UNWIND,
	MON_EXCEPTION,
	MON_C_CALL,
	MON_C_RETURN,
	MON_C_RAISE,
	MON_LINE,
	MON_JUMP,
	MON_NDEFS
};

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

/* ---- sys.monitoring install / uninstall (through the sys.monitoring module:
 * CPython has no C API for registering callbacks) ---------------------------- */

static PyObject *monitoring_module(void)
{
	/* From the sys module itself, not by an import: an import looks up
	 * __import__ in the running frame's builtins, and code run with
	 * __builtins__ = {} (namedtuple's __new__) has none, so the tick's
	 * check failed there and took the hook for displaced. */
	PyObject *mon = PySys_GetObject("monitoring"); /* borrowed */
	if (!mon) {
		PyErr_SetString(PyExc_RuntimeError, "sys.monitoring is missing");
		return NULL;
	}
	Py_INCREF(mon);
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

/* A sys.monitoring function as CPython defines it: guard.c may have wrapped
 * the module's, and ours must not go through the wrappers. */
static PyObject *mon_fn(PyObject *mon, const char *name, const char *fmt, ...)
{
	PyObject *fn = guard_original(mon, "sys.monitoring", name);
	if (!fn)
		return NULL;
	va_list ap;
	va_start(ap, fmt);
	PyObject *args = Py_VaBuildValue(fmt, ap);
	va_end(ap);
	PyObject *r = NULL;
	if (args) {
		if (!PyTuple_Check(args))
			Py_SETREF(args, PyTuple_Pack(1, args));
		if (args)
			r = PyObject_Call(fn, args, NULL);
		Py_XDECREF(args);
	}
	Py_DECREF(fn);
	return r;
}

/* Unregisters everything of our tool and frees its id. Keeps a pending
 * exception. */
void mon_uninstall(struct tracer *t)
{
	if (t->tool_id < 0)
		return;
	struct pmt_exc exc;
	pmt_exc_save(&exc);
	PyObject *mon = monitoring_module(), *events = NULL;
	if (mon)
		events = PyObject_GetAttrString(mon, "events");
	if (events) {
		Py_XDECREF(mon_fn(mon, "set_events", "(ii)", t->tool_id, 0));
		PyErr_Clear();
		for (size_t i = 0; i < MON_NEVENTS; i++) {
			long bit = mon_event_bit(events, mon_events[i].name);
			if (bit >= 0)
				Py_XDECREF(mon_fn(mon, "register_callback", "(ilO)", t->tool_id,
						  bit, Py_None));
			PyErr_Clear();
		}
		Py_XDECREF(mon_fn(mon, "free_tool_id", "(i)", t->tool_id));
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
 * must keep working in a traced program (a tool that asks for our id later
 * gets it: guard.c moves us); 0, 1 and 5 belong to debuggers, coverage and
 * optimisers. */
int mon_install(struct tracer *t, int avoid)
{
	static const int ids[] = {3, 4, 2};
	int ret = -1;
	PyObject *mon = monitoring_module(), *events = NULL;
	if (!mon)
		return -1;
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]) && t->tool_id < 0; i++) {
		if (ids[i] == avoid)
			continue;
		PyObject *r = mon_fn(mon, "use_tool_id", "(is)", ids[i], "pmt_tracer");
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
		PyObject *r = mon_fn(mon, "register_callback", "(ilO)", t->tool_id, bit, cb);
		Py_DECREF(cb);
		if (!r)
			goto out;
		Py_DECREF(r);
		if (strcmp(e->name, "C_RETURN") && strcmp(e->name, "C_RAISE"))
			mask |= bit;
	}
	PyObject *r = mon_fn(mon, "set_events", "(il)", t->tool_id, mask);
	if (!r)
		goto out;
	Py_DECREF(r);
	t->mon_mask = mask;
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

int mon_intact(struct tracer *t)
{
	int ok = 0;
	PyObject *mon = monitoring_module();
	PyObject *name = mon ? mon_fn(mon, "get_tool", "(i)", t->tool_id) : NULL;
	PyObject *ev = name ? mon_fn(mon, "get_events", "(i)", t->tool_id) : NULL;
	if (ev && PyUnicode_Check(name) &&
	    PyUnicode_CompareWithASCIIString(name, "pmt_tracer") == 0 && PyLong_Check(ev) &&
	    PyLong_AsLong(ev) == t->mon_mask)
		ok = 1;
	Py_XDECREF(ev);
	Py_XDECREF(name);
	Py_XDECREF(mon);
	PyErr_Clear();
	return ok;
}
