/* SPDX-License-Identifier: MIT */
#pragma once
/* Every CPython-version branch of the tracer lives here, so that
 * the tracer's sources read the same on 3.8 .. 3.13. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>

#if PY_VERSION_HEX < 0x03080000
#error "pmt_tracer needs CPython 3.8 or newer"
#endif

/* co_extra: renamed to PyUnstable_* in 3.12 (the old names stay as inline
 * aliases there, but say what we mean). */
#if PY_VERSION_HEX >= 0x030C0000
#define pmt_code_extra_index(f) PyUnstable_Eval_RequestCodeExtraIndex(f)
#define pmt_code_get_extra(c, i, e) PyUnstable_Code_GetExtra((c), (i), (e))
#define pmt_code_set_extra(c, i, e) PyUnstable_Code_SetExtra((c), (i), (e))
#else
#define pmt_code_extra_index(f) _PyEval_RequestCodeExtraIndex(f)
#define pmt_code_get_extra(c, i, e) _PyCode_GetExtra((c), (i), (e))
#define pmt_code_set_extra(c, i, e) _PyCode_SetExtra((c), (i), (e))
#endif

/* The code object of a frame, borrowed: the frame keeps it alive for as long
 * as the hook runs. 3.11 made PyFrameObject opaque. */
static inline PyCodeObject *pmt_frame_code(PyFrameObject *f)
{
#if PY_VERSION_HEX >= 0x030B0000
	PyCodeObject *co = PyFrame_GetCode(f);
	Py_DECREF(co);
	return co;
#else
	return f->f_code;
#endif
}

/* The name a CODE record shows: the qualified name where CPython has one. */
static inline PyObject *pmt_code_name(PyCodeObject *co)
{
#if PY_VERSION_HEX >= 0x030B0000
	return co->co_qualname;
#else
	return co->co_name;
#endif
}

/* Saving the pending exception around slow paths of the hook. */
#if PY_VERSION_HEX >= 0x030C0000
struct pmt_exc {
	PyObject *exc;
};
static inline void pmt_exc_save(struct pmt_exc *s) { s->exc = PyErr_GetRaisedException(); }
static inline void pmt_exc_restore(struct pmt_exc *s) { PyErr_SetRaisedException(s->exc); }
#else
struct pmt_exc {
	PyObject *type, *value, *tb;
};
static inline void pmt_exc_save(struct pmt_exc *s) { PyErr_Fetch(&s->type, &s->value, &s->tb); }
static inline void pmt_exc_restore(struct pmt_exc *s) { PyErr_Restore(s->type, s->value, s->tb); }
#endif

/* Heap types: PyType_FromModuleAndSpec appeared in 3.9. */
static inline PyTypeObject *pmt_type_from_spec(PyObject *module, PyType_Spec *spec)
{
#if PY_VERSION_HEX >= 0x03090000
	return (PyTypeObject *)PyType_FromModuleAndSpec(module, spec, NULL);
#else
	(void)module;
	return (PyTypeObject *)PyType_FromSpec(spec);
#endif
}

/* 3.13 exports _PyEval_SetProfile but declares it in an internal header
 * only; _PyEval_SetTrace is not exported there at all. */
#if PY_VERSION_HEX >= 0x030D0000
PyAPI_FUNC(int) _PyEval_SetProfile(PyThreadState *tstate, Py_tracefunc func, PyObject *arg);
#endif

/* Installs func/arg as the profile (trace = 0) or trace (trace = 1) function
 * of one thread state other than the current one. Returns 0, or -1 where
 * this version cannot (3.13's trace function), with no exception set.
 * 3.9+ export _PyEval_SetProfile/_PyEval_SetTrace for this; on 3.8 the
 * thread state's fields are public and set the way 3.8's own
 * PyEval_SetProfile does (the trace counter _Py_TracingPossible is kept >0
 * by the current thread's own PyEval_SetTrace, which is always installed
 * first and removed last). */
static inline int pmt_set_other_thread(PyThreadState *ts, int trace, Py_tracefunc func,
				       PyObject *arg)
{
#if PY_VERSION_HEX >= 0x030D0000
	if (trace)
		return -1;
	int r = _PyEval_SetProfile(ts, func, arg);
	if (r < 0)
		PyErr_Clear();
	return r;
#elif PY_VERSION_HEX >= 0x03090000
	int r = trace ? _PyEval_SetTrace(ts, func, arg) : _PyEval_SetProfile(ts, func, arg);
	if (r < 0)
		PyErr_Clear();
	return r;
#else
	PyObject *old;
	Py_XINCREF(arg);
	if (trace) {
		old = ts->c_traceobj;
		ts->c_tracefunc = NULL;
		ts->c_traceobj = NULL;
		ts->use_tracing = ts->c_profilefunc != NULL;
		Py_XDECREF(old);
		ts->c_traceobj = arg;
		ts->c_tracefunc = func;
	} else {
		old = ts->c_profileobj;
		ts->c_profilefunc = NULL;
		ts->c_profileobj = NULL;
		ts->use_tracing = ts->c_tracefunc != NULL;
		Py_XDECREF(old);
		ts->c_profileobj = arg;
		ts->c_profilefunc = func;
	}
	ts->use_tracing = ts->c_profilefunc != NULL || ts->c_tracefunc != NULL;
	return 0;
#endif
}

/* What a thread state's profile (trace = 0) or trace function is: the C
 * function and its object (borrowed). The fields are public on every
 * supported version; read with the GIL held. */
static inline Py_tracefunc pmt_thread_hook(PyThreadState *ts, int trace, PyObject **obj)
{
	*obj = trace ? ts->c_traceobj : ts->c_profileobj;
	return trace ? ts->c_tracefunc : ts->c_profilefunc;
}

/* The calling thread's state, or NULL (an audit hook may run without one). */
static inline PyThreadState *pmt_tstate_unchecked(void)
{
#if PY_VERSION_HEX >= 0x030D0000
	return PyThreadState_GetUnchecked();
#else
	return _PyThreadState_UncheckedGet();
#endif
}

/* Gives the calling thread k more frames of Python recursion (k < 0:
 * fewer), so that a program run below the launcher's frames reaches
 * RecursionError where it would untraced. */
static inline void pmt_recursion_shift(int k)
{
	PyThreadState *ts = PyThreadState_Get();
#if PY_VERSION_HEX >= 0x030C0000
	ts->py_recursion_remaining += k;
#elif PY_VERSION_HEX >= 0x030B0000
	ts->recursion_remaining += k;
#else
	ts->recursion_depth -= k;
#endif
}

/* The interpreter's thread states, for a walk with PyThreadState_Next. */
static inline PyThreadState *pmt_threads_head(void)
{
	return PyInterpreterState_ThreadHead(PyThreadState_Get()->interp);
}

/* Installs func/arg in every thread of the interpreter (func NULL removes). */
static inline void pmt_set_all_threads(int trace, Py_tracefunc func, PyObject *arg)
{
#if PY_VERSION_HEX >= 0x030C0000
	if (trace)
		PyEval_SetTraceAllThreads(func, arg);
	else
		PyEval_SetProfileAllThreads(func, arg);
#else
	PyThreadState *self = PyThreadState_Get();
	/* Own thread first when installing, last when removing (see above). */
	if (func) {
		if (trace)
			PyEval_SetTrace(func, arg);
		else
			PyEval_SetProfile(func, arg);
	}
	for (PyThreadState *ts = PyInterpreterState_ThreadHead(self->interp); ts;
	     ts = PyThreadState_Next(ts))
		if (ts != self)
			pmt_set_other_thread(ts, trace, func, arg);
	if (!func) {
		if (trace)
			PyEval_SetTrace(NULL, NULL);
		else
			PyEval_SetProfile(NULL, NULL);
	}
#endif
}

/* Only this thread. */
static inline void pmt_set_this_thread(int trace, Py_tracefunc func, PyObject *arg)
{
	if (trace)
		PyEval_SetTrace(func, arg);
	else
		PyEval_SetProfile(func, arg);
}

/* The module a heap type was created by (3.9+); 3.8 passes a fallback. */
#if PY_VERSION_HEX >= 0x03090000
#define pmt_type_module(tp, fallback) PyType_GetModule(tp)
#else
#define pmt_type_module(tp, fallback) (fallback)
#endif

/* 3.8's PyMODINIT_FUNC does not mark the init function visible, and the
 * extension is built with -fvisibility=hidden. */
#define PMT_MODINIT __attribute__((visibility("default"))) PyMODINIT_FUNC

/* sys.monitoring (PEP 669) exists from 3.12 on. Its callbacks use only API
 * that every supported version has, so the code is always compiled and this
 * decides whether it may be used. The default hook there is the one measured
 * faster (see docs/pmt_tracer.1, HOOKS). */
#if PY_VERSION_HEX >= 0x030C0000
#define PMT_HAVE_MONITORING 1
#define PMT_DEFAULT_HOOK HOOK_MONITORING
#else
#define PMT_HAVE_MONITORING 0
#define PMT_DEFAULT_HOOK HOOK_LEGACY
#endif

/* The line the current frame is at, when it runs `co`, else -1: what
 * PyFrame_GetLineNumber gives the legacy hook, without a frame object. A
 * sys.monitoring PY_UNWIND reports the offset of the RERAISE that ends a
 * handler (often no line at all); the frame still points at the
 * instruction that raised. */
static inline int pmt_current_line(PyCodeObject *co)
{
#if PY_VERSION_HEX >= 0x030D0000
	struct _PyInterpreterFrame *f = PyThreadState_Get()->current_frame;
#elif PY_VERSION_HEX >= 0x030C0000
	struct _PyInterpreterFrame *f = PyThreadState_Get()->cframe->current_frame;
#else
	struct _PyInterpreterFrame *f = NULL;
#endif
	if (!f)
		return -1;
#if PY_VERSION_HEX >= 0x030C0000
	PyObject *fco = PyUnstable_InterpreterFrame_GetCode(f);
	Py_XDECREF(fco); /* the frame holds it */
	if (fco != (PyObject *)co)
		return -1;
	return PyUnstable_InterpreterFrame_GetLine(f);
#else
	(void)co;
	return -1;
#endif
}
