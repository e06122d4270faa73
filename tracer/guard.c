/* SPDX-License-Identifier: MIT */
/* The hook's guard: another tool may take the hook away from us, and a
 * lost hook must never be silent.
 *
 * The legacy hook (PyEval_SetProfile/SetTrace) is one slot per thread:
 * sys.setprofile(f), cProfile's enable() (3.8-3.11), the profile module,
 * coverage's or a debugger's settrace put their own function there and our
 * C function is simply not called any more, so displacement can only be
 * seen from elsewhere:
 *
 *   - sys.setprofile/settrace (and getprofile/gettrace, threading's four,
 *     sys._setprofileallthreads/_settraceallthreads) are wrapped: a change
 *     made through them is seen at once, in the thread that made it, and a
 *     slot set to None is re-armed before the next event;
 *   - a change made in C (PyEval_SetProfile: cProfile on 3.8-3.11) raises
 *     the "sys.setprofile" audit event first; our audit hook schedules a
 *     pending call, which looks at every thread right after;
 *   - the hook itself looks at the other threads every GUARD_TICK_MASK+1
 *     events, and every thread is looked at when the tracer stops.
 *
 * A thread whose slot holds another function is "displaced": a MESSAGE
 * names the other hook at the event where it was seen, the time is
 * counted, and the thread is re-armed as soon as the other tool lets go
 * (its slot is None again) with a second MESSAGE. Our hook is only ever
 * put into an empty slot, so the other tool keeps its events and ours are
 * never counted twice. sys.getprofile()/gettrace() answer None where the
 * slot is ours, as they would untraced, so a tool that saves and restores
 * the previous hook gives ours back.
 *
 * With sys.monitoring (3.12+) our tool id is ours alone: the
 * sys.monitoring functions are wrapped so that a program asking for our id
 * gets it (we move to another free id, or to the legacy hook), and calls
 * on our id behave as on an unused one; the tick and the stop check that
 * the id and its events are still ours.
 *
 * Everything here runs with the GIL held, never raises, and writes only
 * through the tracer's writer. */
#include "guard.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the wrapped functions ---------------------------------------------- */

struct wrap {
	const char *mod, *name;
	PyObject *orig; /* strong, once wrapped */
};

static struct wrap wraps[W_COUNT] = {
    [W_SETPROFILE] = {"sys", "setprofile", NULL},
    [W_SETTRACE] = {"sys", "settrace", NULL},
    [W_GETPROFILE] = {"sys", "getprofile", NULL},
    [W_GETTRACE] = {"sys", "gettrace", NULL},
    [W_SETPROFILE_ALL] = {"sys", "_setprofileallthreads", NULL},
    [W_SETTRACE_ALL] = {"sys", "_settraceallthreads", NULL},
    [W_TH_SETPROFILE] = {"threading", "setprofile", NULL},
    [W_TH_SETTRACE] = {"threading", "settrace", NULL},
    [W_TH_GETPROFILE] = {"threading", "getprofile", NULL},
    [W_TH_GETTRACE] = {"threading", "gettrace", NULL},
    [W_MON_USE] = {"sys.monitoring", "use_tool_id", NULL},
    [W_MON_FREE] = {"sys.monitoring", "free_tool_id", NULL},
    [W_MON_SET_EVENTS] = {"sys.monitoring", "set_events", NULL},
    [W_MON_GET_EVENTS] = {"sys.monitoring", "get_events", NULL},
    [W_MON_SET_LOCAL] = {"sys.monitoring", "set_local_events", NULL},
    [W_MON_GET_LOCAL] = {"sys.monitoring", "get_local_events", NULL},
    [W_MON_REGISTER] = {"sys.monitoring", "register_callback", NULL},
    [W_MON_GET_TOOL] = {"sys.monitoring", "get_tool", NULL},
};

static bool legacy_wrapped, audit_added, pending_queued;
/* Our own hook changes raise the audit event too: not a displacement. */
/* per thread: audit events fire in the changing one */
_Thread_local int guard_busy __attribute__((tls_model("initial-exec")));
/* The program's threading.setprofile/settrace hooks (per mode), kept aside
 * while a legacy tracer of that mode owns threading's hook. */
static PyObject *prog_thread[2];

/* Threads whose slot was ours when the audit event said it is changing. */
#define MAX_SUSPECTS 32
static struct {
	PyThreadState *ts;
	uint64_t id;
} suspects[2][MAX_SUSPECTS];
static unsigned nsuspects[2];

PyObject *guard_original(PyObject *mod, const char *modname, const char *name)
{
	for (int i = 0; i < W_COUNT; i++) {
		if (wraps[i].orig && !strcmp(wraps[i].mod, modname) &&
		    !strcmp(wraps[i].name, name)) {
			Py_INCREF(wraps[i].orig);
			return wraps[i].orig;
		}
	}
	return PyObject_GetAttrString(mod, name);
}

/* A module by name, from sys.modules when it is there: an import looks up
 * __import__ in the running frame's builtins, which code run with
 * __builtins__ = {} (namedtuple's __new__) does not have. */
static PyObject *module_named(const char *name)
{
	if (!strcmp(name, "sys.monitoring")) {
		PyObject *m = PySys_GetObject("monitoring"); /* borrowed */
		if (!m)
			PyErr_SetString(PyExc_RuntimeError, "sys.monitoring is missing");
		Py_XINCREF(m);
		return m;
	}
	PyObject *n = PyUnicode_FromString(name);
	PyObject *m = n ? PyImport_GetModule(n) : NULL;
	Py_XDECREF(n);
	if (m || PyErr_Occurred())
		return m;
	return PyImport_ImportModule(name);
}

/* Calls a wrapped function's original with our own changes marked. */
PyObject *guard_call_orig(int w, PyObject *args, PyObject *kw)
{
	if (!wraps[w].orig) {
		PyErr_Format(PyExc_RuntimeError, "%s.%s is gone", wraps[w].mod, wraps[w].name);
		return NULL;
	}
	guard_busy++;
	PyObject *r = PyObject_Call(wraps[w].orig, args, kw);
	guard_busy--;
	return r;
}

static PyObject *call_orig1(int w, PyObject *a)
{
	PyObject *args = PyTuple_Pack(1, a);
	if (!args)
		return NULL;
	PyObject *r = guard_call_orig(w, args, NULL);
	Py_DECREF(args);
	return r;
}

/* ---- which tracer, which slot --------------------------------------------- */

static struct tracer *active_legacy(int trace)
{
	if (!tracer_the_state)
		return NULL;
	for (struct tracer *t = tracer_the_state->open; t; t = t->next_open)
		if (t->active && t->hook == HOOK_LEGACY && (t->mode == PMT_MODE_TRACE) == trace)
			return t;
	return NULL;
}

static bool is_tracer(PyObject *o)
{
	return o && tracer_the_state && tracer_the_state->tracer_type &&
	       Py_TYPE(o) == tracer_the_state->tracer_type;
}

/* Our hook as a Python callable: the Tracer itself, or its _thread_start
 * (threading's hook for new threads). */
static bool is_ours_py(PyObject *o)
{
	if (is_tracer(o))
		return true;
	return o && PyCFunction_Check(o) && is_tracer(((PyCFunctionObject *)o)->m_self) &&
	       !strcmp(((PyCFunctionObject *)o)->m_ml->ml_name, "_thread_start");
}

enum slot { SLOT_NONE, SLOT_OURS, SLOT_OURS_PY, SLOT_OTHER };

static enum slot slot_of(struct tracer *t, PyThreadState *ts, PyObject **obj)
{
	Py_tracefunc f = pmt_thread_hook(ts, t->mode == PMT_MODE_TRACE, obj);
	if (!f)
		return SLOT_NONE;
	if (f == pmt_hook && *obj == (PyObject *)t)
		return SLOT_OURS;
	if (*obj == (PyObject *)t || (is_ours_py(*obj) && PyCFunction_Check(*obj) &&
				      ((PyCFunctionObject *)*obj)->m_self == (PyObject *)t))
		return SLOT_OURS_PY;
	return SLOT_OTHER;
}

/* Puts our C hook into one thread's slot. 0, or -1 where this version
 * cannot set another thread's (3.13's trace function). */
static int arm(struct tracer *t, PyThreadState *ts)
{
	int trace = t->mode == PMT_MODE_TRACE, r = 0;
	guard_busy++;
	if (ts == PyThreadState_Get())
		pmt_set_this_thread(trace, pmt_hook, (PyObject *)t);
	else
		r = pmt_set_other_thread(ts, trace, pmt_hook, (PyObject *)t);
	guard_busy--;
	return r;
}

/* ---- displaced threads -------------------------------------------------- */

static struct displaced *disp_find(struct tracer *t, PyThreadState *ts)
{
	for (uint32_t i = 0; i < t->ndisp; i++)
		if (t->disp[i].ts == ts && t->disp[i].ts_id == ts->id)
			return &t->disp[i];
	return NULL;
}

static void disp_drop(struct tracer *t, struct displaced *d, uint64_t now)
{
	t->displaced_ns += now - d->since;
	*d = t->disp[--t->ndisp];
}

static void displaced_new(struct tracer *t, PyThreadState *ts, PyObject *other, uint64_t now)
{
	char name[300];
	guard_describe(other, name, sizeof(name));
	t->displaced++;
	guard_say(t, ts, "pmt: hook displaced by %s at event %llu", name, guard_event_no(t));
	if (t->ndisp == t->disp_cap) {
		uint32_t cap = t->disp_cap ? t->disp_cap * 2 : 4;
		struct displaced *n = realloc(t->disp, cap * sizeof(*n));
		if (!n)
			return; /* counted and said, only its time is lost */
		t->disp = n;
		t->disp_cap = cap;
	}
	t->disp[t->ndisp++] = (struct displaced){ts, ts ? ts->id : 0, now, true};
}

static void rearmed(struct tracer *t, PyThreadState *ts, struct displaced *d, uint64_t now)
{
	guard_say(t, ts, "pmt: hook re-armed at event %llu", guard_event_no(t));
	if (d)
		disp_drop(t, d, now);
}

static bool take_suspect(int trace, PyThreadState *ts)
{
	for (unsigned i = 0; i < nsuspects[trace]; i++) {
		if (suspects[trace][i].ts == ts && suspects[trace][i].id == ts->id) {
			suspects[trace][i] = suspects[trace][--nsuspects[trace]];
			return true;
		}
	}
	return false;
}

static void add_suspect(int trace, PyThreadState *ts)
{
	for (unsigned i = 0; i < nsuspects[trace]; i++)
		if (suspects[trace][i].ts == ts && suspects[trace][i].id == ts->id)
			return;
	if (nsuspects[trace] < MAX_SUSPECTS) {
		suspects[trace][nsuspects[trace]].ts = ts;
		suspects[trace][nsuspects[trace]].id = ts->id;
		nsuspects[trace]++;
	}
}

/* One thread's slot: displaced, given back, or empty (re-armed). `removed`:
 * its slot was ours when someone started changing it. */
static enum slot look_at(struct tracer *t, PyThreadState *ts, uint64_t now, bool removed)
{
	struct displaced *d = disp_find(t, ts);
	if (d)
		d->seen = true;
	PyObject *obj;
	enum slot sl = slot_of(t, ts, &obj);
	switch (sl) {
	case SLOT_OURS:
		if (d)
			rearmed(t, ts, d, now);
		break;
	case SLOT_OURS_PY: /* a Python-level copy of our hook: the C one */
		if (arm(t, ts) == 0 && d)
			rearmed(t, ts, d, now);
		break;
	case SLOT_NONE:
		if (arm(t, ts) < 0)
			break;
		if (d) {
			rearmed(t, ts, d, now);
		} else if (removed) {
			t->displaced++;
			guard_say(t, ts, "pmt: hook displaced by None at event %llu",
				  guard_event_no(t));
			rearmed(t, ts, NULL, now);
		}
		/* else a thread that never had it (a new one): armed quietly */
		break;
	case SLOT_OTHER:
		if (!d)
			displaced_new(t, ts, obj, now);
		break;
	}
	return sl;
}

/* Every thread of the interpreter; in_hook: the current thread is running
 * our hook (or a hook calling ours), so it is not displaced. */
static void scan(struct tracer *t, bool in_hook)
{
	int trace = t->mode == PMT_MODE_TRACE;
	PyThreadState *cur = PyThreadState_Get();
	uint64_t now = mono_ns();
	for (uint32_t i = 0; i < t->ndisp; i++)
		t->disp[i].seen = false;
	/* A suspect whose slot is still ours keeps waiting for its change
	 * (the pending call ran before it); the others are done, or gone. */
	PyThreadState *keep[MAX_SUSPECTS];
	unsigned nkeep = 0;
	for (PyThreadState *ts = pmt_threads_head(); ts; ts = PyThreadState_Next(ts)) {
		bool sus = take_suspect(trace, ts);
		if (in_hook && ts == cur) {
			struct displaced *d = disp_find(t, ts);
			if (d)
				d->seen = true;
		} else if (look_at(t, ts, now, sus) != SLOT_OURS) {
			sus = false;
		}
		if (sus && nkeep < MAX_SUSPECTS)
			keep[nkeep++] = ts;
	}
	/* threads that ended displaced */
	for (uint32_t i = 0; i < t->ndisp;) {
		if (!t->disp[i].seen && t->disp[i].ts)
			disp_drop(t, &t->disp[i], now);
		else
			i++;
	}
	nsuspects[trace] = 0;
	for (unsigned i = 0; i < nkeep; i++)
		add_suspect(trace, keep[i]);
}

/* ---- the wrappers ---------------------------------------------------------- */

/* Untraced, a profile function set by sys.setprofile(f) where none was set
 * never sees that call's C_RETURN (CPython decides before the call whether
 * to report it). With our hook in the slot it would, and the pure-Python
 * profile module then fails ("Bad return"); with sys.monitoring too, where
 * our CALL events make CPython report it. So f is installed by the real
 * function, and its trampoline held back until the next event, which is
 * that C_RETURN, swallowed here. */
static Py_tracefunc held_trampoline;

static bool is_wrapper(PyObject *o, int w);

static int skip_setter_return(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
	PyThreadState *ts = PyThreadState_Get();
	ts->c_profilefunc = held_trampoline;
	if (what == PyTrace_C_RETURN && is_wrapper(arg, W_SETPROFILE))
		return 0;
	return held_trampoline(obj, frame, what, arg);
}

static void hold_first_return(PyThreadState *ts)
{
	if (!ts->c_profilefunc || ts->c_profilefunc == pmt_hook)
		return;
	held_trampoline = ts->c_profilefunc;
	ts->c_profilefunc = skip_setter_return;
}

static PyObject *w_set(int trace, PyObject *func)
{
	int w = trace ? W_SETTRACE : W_SETPROFILE;
	struct tracer *t = active_legacy(trace);
	PyThreadState *cur = PyThreadState_Get();
	if (!t) {
		/* sys.monitoring: our CALL events make CPython report this
		 * call's C_RETURN to the function it installs (3.12, 3.13) */
		bool was_empty = !cur->c_profilefunc;
		PyObject *r = call_orig1(w, func);
		if (r && !trace && was_empty && func != Py_None && guard_monitoring_profile())
			hold_first_return(cur);
		return r;
	}
	uint64_t now = mono_ns();
	if (is_ours_py(func)) {
		/* threading starting a thread, or our hook given back */
		if (!is_tracer(func) && prog_thread[trace]) {
			/* the program's own threading hook takes this thread */
			PyObject *obj;
			bool was_ours = slot_of(t, cur, &obj) == SLOT_OURS;
			PyObject *r = call_orig1(w, prog_thread[trace]);
			if (r && !trace && was_ours)
				hold_first_return(cur);
			if (r)
				look_at(t, cur, now, false);
			return r;
		}
		struct displaced *d = disp_find(t, cur);
		if (arm(t, cur) == 0 && d)
			rearmed(t, cur, d, now);
		Py_RETURN_NONE;
	}
	PyObject *obj;
	bool was_ours = slot_of(t, cur, &obj) == SLOT_OURS;
	PyObject *r = call_orig1(w, func);
	if (!r)
		return NULL;
	if (!trace && was_ours && func != Py_None)
		hold_first_return(cur);
	if (func == Py_None) {
		struct displaced *d = disp_find(t, cur);
		if (arm(t, cur) == 0) {
			if (d) {
				rearmed(t, cur, d, now);
			} else if (was_ours) {
				/* removed and back before any event: nothing missed */
				t->rearmed_at_once++;
				guard_say(t, cur, "pmt: hook displaced by None at event %llu",
					  guard_event_no(t));
				rearmed(t, cur, NULL, now);
			}
		}
	} else {
		look_at(t, cur, now, false);
	}
	return r;
}

static PyObject *w_setprofile(PyObject *self, PyObject *func) { return w_set(0, func); }
static PyObject *w_settrace(PyObject *self, PyObject *func) { return w_set(1, func); }

static PyObject *w_get(int trace)
{
	PyThreadState *cur = PyThreadState_Get();
	PyObject *obj;
	Py_tracefunc f = pmt_thread_hook(cur, trace, &obj);
	if (f && (f == pmt_hook || is_ours_py(obj)))
		Py_RETURN_NONE; /* untraced, there would be nothing */
	PyObject *args = PyTuple_New(0);
	if (!args)
		return NULL;
	PyObject *r = guard_call_orig(trace ? W_GETTRACE : W_GETPROFILE, args, NULL);
	Py_DECREF(args);
	return r;
}

static PyObject *w_getprofile(PyObject *self, PyObject *unused) { return w_get(0); }
static PyObject *w_gettrace(PyObject *self, PyObject *unused) { return w_get(1); }

static PyObject *w_set_all(int trace, PyObject *func)
{
	int w = trace ? W_SETTRACE_ALL : W_SETPROFILE_ALL;
	struct tracer *t = active_legacy(trace);
	if (!t)
		return call_orig1(w, func);
	if (is_ours_py(func)) {
		guard_busy++;
		pmt_set_all_threads(trace, pmt_hook, (PyObject *)t);
		guard_busy--;
		scan(t, false);
		Py_RETURN_NONE;
	}
	for (PyThreadState *ts = pmt_threads_head(); ts; ts = PyThreadState_Next(ts)) {
		PyObject *obj;
		if (slot_of(t, ts, &obj) == SLOT_OURS)
			add_suspect(trace, ts);
	}
	PyObject *r = call_orig1(w, func);
	if (r)
		scan(t, false);
	return r;
}

static PyObject *w_setprofile_all(PyObject *self, PyObject *func) { return w_set_all(0, func); }
static PyObject *w_settrace_all(PyObject *self, PyObject *func) { return w_set_all(1, func); }

/* threading.setprofile/settrace: while a legacy tracer of the mode owns
 * threading's hook, the program's is kept here and handed each new thread
 * by _thread_start (through w_set) in place of ours. */
static PyObject *w_th_set(int trace, PyObject *func)
{
	Py_XINCREF(func == Py_None ? NULL : func);
	Py_XSETREF(prog_thread[trace], func == Py_None ? NULL : func);
	if (active_legacy(trace))
		Py_RETURN_NONE;
	return call_orig1(trace ? W_TH_SETTRACE : W_TH_SETPROFILE, func);
}

static PyObject *w_th_setprofile(PyObject *self, PyObject *func) { return w_th_set(0, func); }
static PyObject *w_th_settrace(PyObject *self, PyObject *func) { return w_th_set(1, func); }

static PyObject *w_th_get(int trace)
{
	if (active_legacy(trace)) {
		PyObject *h = prog_thread[trace] ? prog_thread[trace] : Py_None;
		Py_INCREF(h);
		return h;
	}
	PyObject *args = PyTuple_New(0);
	if (!args)
		return NULL;
	PyObject *r = guard_call_orig(trace ? W_TH_GETTRACE : W_TH_GETPROFILE, args, NULL);
	Py_DECREF(args);
	return r;
}

static PyObject *w_th_getprofile(PyObject *self, PyObject *unused) { return w_th_get(0); }
static PyObject *w_th_gettrace(PyObject *self, PyObject *unused) { return w_th_get(1); }

static PyMethodDef wrap_defs[W_MON_FIRST] = {
    [W_SETPROFILE] = {"setprofile", w_setprofile, METH_O, NULL},
    [W_SETTRACE] = {"settrace", w_settrace, METH_O, NULL},
    [W_GETPROFILE] = {"getprofile", w_getprofile, METH_NOARGS, NULL},
    [W_GETTRACE] = {"gettrace", w_gettrace, METH_NOARGS, NULL},
    [W_SETPROFILE_ALL] = {"_setprofileallthreads", w_setprofile_all, METH_O, NULL},
    [W_SETTRACE_ALL] = {"_settraceallthreads", w_settrace_all, METH_O, NULL},
    [W_TH_SETPROFILE] = {"setprofile", w_th_setprofile, METH_O, NULL},
    [W_TH_SETTRACE] = {"settrace", w_th_settrace, METH_O, NULL},
    [W_TH_GETPROFILE] = {"getprofile", w_th_getprofile, METH_NOARGS, NULL},
    [W_TH_GETTRACE] = {"gettrace", w_th_gettrace, METH_NOARGS, NULL},
};

static bool is_wrapper(PyObject *o, int w)
{
	return o && PyCFunction_Check(o) && ((PyCFunctionObject *)o)->m_ml == &wrap_defs[w];
}

/* Replaces mod.name by our wrapper `def`, keeping the original. */
int guard_wrap(int w, PyMethodDef *def)
{
	PyObject *mod = module_named(wraps[w].mod);
	if (!mod)
		return -1;
	int ret = -1;
	PyObject *orig = PyObject_GetAttrString(mod, wraps[w].name), *fn = NULL, *modname = NULL;
	if (!orig) {
		/* not in this version (getprofile before 3.10, ...) */
		PyErr_Clear();
		ret = 0;
		goto out;
	}
	/* A builtin's doc (and text signature) is static: reuse it. */
	if (PyCFunction_Check(orig))
		def->ml_doc = ((PyCFunctionObject *)orig)->m_ml->ml_doc;
	modname = PyUnicode_FromString(wraps[w].mod);
	if (!modname)
		goto out;
	fn = PyCFunction_NewEx(def, tracer_the_module, modname);
	if (!fn || PyObject_SetAttrString(mod, wraps[w].name, fn) < 0)
		goto out;
	wraps[w].orig = orig;
	orig = NULL;
	ret = 0;
out:
	Py_XDECREF(orig);
	Py_XDECREF(fn);
	Py_XDECREF(modname);
	Py_DECREF(mod);
	return ret;
}

/* ---- the audit hook and the pending look ------------------------------- */

static int guard_pending(void *unused)
{
	pending_queued = false;
	if (!tracer_the_state || !Py_IsInitialized())
		return 0;
	struct pmt_exc exc;
	pmt_exc_save(&exc);
	for (struct tracer *t = tracer_the_state->open; t; t = t->next_open)
		if (t->active && t->hook == HOOK_LEGACY)
			scan(t, false);
	pmt_exc_restore(&exc);
	return 0;
}

/* Raised before any profile or trace function changes, by the thread that
 * changes it: the change itself is seen by the pending call, which runs
 * right after in the main thread. */
static int guard_audit(const char *event, PyObject *args, void *unused)
{
	if (event[0] != 's' || strncmp(event, "sys.set", 7))
		return 0;
	int trace;
	if (!strcmp(event + 7, "profile"))
		trace = 0;
	else if (!strcmp(event + 7, "trace"))
		trace = 1;
	else
		return 0;
	if (guard_busy)
		return 0;
	PyThreadState *cur = pmt_tstate_unchecked();
	struct tracer *t = cur ? active_legacy(trace) : NULL;
	if (!t)
		return 0;
	PyObject *obj;
	if (slot_of(t, cur, &obj) == SLOT_OURS)
		add_suspect(trace, cur);
	if (!pending_queued && Py_AddPendingCall(guard_pending, NULL) == 0)
		pending_queued = true;
	return 0;
}

/* ---- entry points ---------------------------------------------------------- */

void guard_reset(struct tracer *t)
{
	free(t->disp);
	t->disp = NULL;
	t->ndisp = t->disp_cap = 0;
	t->displaced = t->rearmed_at_once = 0;
	t->displaced_ns = 0;
	t->guard_msgs = t->guard_msgs_lost = 0;
	t->rss_reopens = 0;
	t->rss_lost = false;
	t->rss_fd_changes = t->rss.fd_changes;
}

int guard_setup(struct tracer *t)
{
	/* sys.setprofile and company with either hook (see w_set) */
	if (!legacy_wrapped) {
		for (int w = 0; w < W_MON_FIRST; w++)
			if (guard_wrap(w, &wrap_defs[w]) < 0)
				return -1;
		legacy_wrapped = true;
	}
	if (t->hook == HOOK_LEGACY && !audit_added) {
		/* Refused only when another audit hook says no: then C-level
		 * changes are seen at the next tick or at stop. */
		if (PySys_AddAuditHook(guard_audit, NULL) < 0)
			PyErr_Clear();
		audit_added = true;
	}
	if (t->hook == HOOK_MONITORING && guard_mon_setup() < 0)
		return -1;
	return 0;
}

void guard_tick(struct tracer *t, bool in_hook)
{
	if (!t->active)
		return;
	struct pmt_exc exc;
	pmt_exc_save(&exc);
	if (t->hook == HOOK_LEGACY)
		scan(t, in_hook);
	else if (t->hook == HOOK_MONITORING)
		guard_mon_check(t);
	pmt_exc_restore(&exc);
}

int guard_threading_install(struct tracer *t, PyObject *hook)
{
	int trace = t->mode == PMT_MODE_TRACE;
	PyObject *threading = module_named("threading");
	if (!threading)
		return -1;
	/* The program's hook for new threads, if it set one: kept aside. */
	PyObject *cur = PyObject_GetAttrString(threading, trace ? "_trace_hook" : "_profile_hook");
	if (!cur) {
		PyErr_Clear();
	} else if (cur != Py_None && !is_ours_py(cur)) {
		Py_XSETREF(prog_thread[trace], cur);
		cur = NULL;
	}
	Py_XDECREF(cur);
	PyObject *set = guard_original(threading, "threading", trace ? "settrace" : "setprofile");
	PyObject *r = set ? PyObject_CallFunctionObjArgs(set, hook, NULL) : NULL;
	Py_XDECREF(set);
	Py_DECREF(threading);
	if (!r)
		return -1;
	Py_DECREF(r);
	return 0;
}

void guard_threading_uninstall(struct tracer *t)
{
	int trace = t->mode == PMT_MODE_TRACE;
	PyObject *threading = module_named("threading");
	PyObject *set =
	    threading ? guard_original(threading, "threading", trace ? "settrace" : "setprofile")
		      : NULL;
	PyObject *h = prog_thread[trace] ? prog_thread[trace] : Py_None;
	PyObject *r = set ? PyObject_CallFunctionObjArgs(set, h, NULL) : NULL;
	Py_XDECREF(r);
	Py_XDECREF(set);
	Py_XDECREF(threading);
	PyErr_Clear();
}

void guard_uninstall_legacy(struct tracer *t)
{
	int trace = t->mode == PMT_MODE_TRACE;
	PyThreadState *cur = PyThreadState_Get();
	bool cur_ours = false, stuck = false, others = false;
	guard_busy++;
	for (PyThreadState *ts = pmt_threads_head(); ts; ts = PyThreadState_Next(ts)) {
		PyObject *obj;
		enum slot s = slot_of(t, ts, &obj);
		if (s == SLOT_OTHER)
			others = true;
		if (s != SLOT_OURS && s != SLOT_OURS_PY)
			continue;
		if (ts == cur)
			cur_ours = true; /* removed last (3.8's trace counter) */
		else if (pmt_set_other_thread(ts, trace, NULL, NULL) < 0)
			stuck = true;
	}
	if (stuck && !others) {
		/* 3.13, trace: no per-thread removal, and nobody else's hook to
		 * keep: remove everywhere. */
		pmt_set_all_threads(trace, NULL, NULL);
		stuck = false;
	} else if (cur_ours) {
		pmt_set_this_thread(trace, NULL, NULL);
	}
	guard_busy--;
	/* Where ours could not be removed it stays, inert (the tracer is not
	 * active); sys.gettrace() there still answers None. */
	(void)stuck;
	uint64_t now = mono_ns();
	while (t->ndisp)
		disp_drop(t, &t->disp[0], now);
}

PyObject *guard_thread_start(struct tracer *t, PyObject *frame, const char *event, PyObject *arg)
{
	if (!t->active || t->hook != HOOK_LEGACY)
		Py_RETURN_NONE;
	int trace = t->mode == PMT_MODE_TRACE;
	PyThreadState *cur = PyThreadState_Get();
	PyObject *h = prog_thread[trace];
	if (h) {
		/* The program's threading hook takes this thread, and sees the
		 * event we were called for, as it would untraced. */
		Py_INCREF(h);
		PyObject *r = call_orig1(trace ? W_SETTRACE : W_SETPROFILE, h);
		if (!r) {
			Py_DECREF(h);
			return NULL;
		}
		Py_DECREF(r);
		look_at(t, cur, mono_ns(), false);
		r = PyObject_CallFunction(h, "OsO", frame, event, arg);
		Py_DECREF(h);
		return r;
	}
	struct displaced *d = disp_find(t, cur);
	if (arm(t, cur) == 0 && d)
		rearmed(t, cur, d, mono_ns());
	int what = pmt_kind_parse(event, strlen(event));
	if (what >= 0 && PyFrame_Check(frame))
		pmt_hook((PyObject *)t, (PyFrameObject *)frame, what, arg);
	Py_RETURN_NONE;
}
