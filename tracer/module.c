/* SPDX-License-Identifier: MIT */
/* _pmt_tracer: the CPython profile/trace hook that streams RSS events into a
 * pmt log (docs/FORMAT.md). This file: the Tracer type
 * and the module (see tracer.h for the other parts).
 *
 * One Tracer object is one log. Its hook is installed with PyEval_SetProfile
 * (mode profile) or PyEval_SetTrace (mode trace) in every thread, or through
 * sys.monitoring on 3.12+, with the Tracer itself as the hook's object, so
 * the hot path reaches its state without a lookup. Laid out like CPython's
 * Modules/_lsprof.c: multi-phase init, module state, a heap type; version
 * branches are in compat.h.
 *
 * The hot path allocates nothing and formats nothing: code objects carry
 * their id in co_extra, C functions are found in a small open-addressing
 * table, the writer appends delta/varint records and compresses in bulk. A
 * failure inside the hook never raises: it sets hook_error, writing stops,
 * and the next stop() raises RuntimeError. */
#include "record.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

const char *const tracer_hook_names[] = {"auto", "legacy", "monitoring"};
PyObject *tracer_the_module;
struct mod_state *tracer_the_state;

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
	static char *kwlist[] = {"path",
				 "mode",
				 "trigger",
				 "prev",
				 "calculate",
				 "log",
				 "rss_source",
				 "argv",
				 "force",
				 "hook",
				 "heap",
				 "objects",
				 "events",
				 "include_builtins",
				 "exclude_tp_names",
				 "include_tp_names",
				 NULL};
	int objects = 0, events = 1, include_builtins = 0;
	PyObject *exclude = Py_None, *include = Py_None;
	PyObject *path = NULL, *argv = Py_None;
	const char *mode = "profile", *calc = "all", *rss_source = "auto", *hook = "auto";
	const char *heap = "off";
	long long trigger = 0;
	int prev = 0, log = 1, force = 0;
	if (t->is_open) {
		PyErr_SetString(PyExc_RuntimeError, "tracer is open");
		return -1;
	}
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|sLpspsOpssppp$OO:Tracer", kwlist,
					 PyUnicode_FSConverter, &path, &mode, &trigger, &prev,
					 &calc, &log, &rss_source, &argv, &force, &hook, &heap,
					 &objects, &events, &include_builtins, &exclude, &include))
		return -1;
	int ret = -1;
	PyObject *module = pmt_type_module(Py_TYPE(self), tracer_the_module);
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
		PyErr_Format(PyExc_ValueError, "calculate must be none, rss or all, not '%s'",
			     calc);
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
			PyErr_SetString(PyExc_ValueError,
					"hook 'monitoring' needs Python 3.12 or newer");
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
	t->events = events;
	t->extra_index = mod_state(module)->extra_index[events ? t->mode : objects ? 2 : 3];
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
	if (!strcmp(heap, "off")) {
		t->heap = HEAP_OFF;
	} else if (!strcmp(heap, "libc")) {
		t->heap = HEAP_LIBC;
	} else if (!strcmp(heap, "python")) {
		t->heap = HEAP_PYTHON;
	} else {
		PyErr_Format(PyExc_ValueError, "heap must be 'off', 'libc' or 'python', not '%s'",
			     heap);
		goto out;
	}
	if (t->heap && t->prev) {
		/* The kept previous event would have to be written before the
		 * allocations other threads record after it. */
		PyErr_SetString(PyExc_ValueError, "heap tracing cannot be combined with prev");
		goto out;
	}
	if (t->heap && !t->log_events) {
		PyErr_SetString(PyExc_ValueError,
				"heap tracing needs the event log (log must not be 'none')");
		goto out;
	}
	if (!events && !objects && t->heap != HEAP_PYTHON) {
		PyErr_SetString(PyExc_ValueError,
				"events=False needs objects=True or heap='python'");
		goto out;
	}
	if (!events && !log) {
		PyErr_SetString(PyExc_ValueError, "events=False needs the log (log must be True)");
		goto out;
	}
	if (objects && t->heap) {
		PyErr_SetString(PyExc_ValueError,
				"object tracing cannot be combined with heap tracing");
		goto out;
	}
	if (objects && !log) {
		PyErr_SetString(PyExc_ValueError,
				"object tracing needs the log (log must not be 'none')");
		goto out;
	}
	if (objects_configure(t, objects, include_builtins, exclude, include) < 0)
		goto out;
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
	if (heap_check(t) < 0 || tracer_open_log(t, false) < 0)
		return NULL;
	guard_reset(t);
	open_list_add(t);
	if ((t->events && tracer_install(t) < 0) || heap_start(t) < 0 || objects_start(t) < 0) {
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
	if (t->is_open && (t->active || (!t->events && !t->suspended))) {
		tracer_uninstall(t);
		objects_stop(t);
		t->suspended = true;
	}
	Py_RETURN_NONE;
}

static PyObject *tracer_resume(PyObject *self, PyObject *unused)
{
	struct tracer *t = (struct tracer *)self;
	if (t->is_open && t->suspended) {
		if ((t->events && tracer_install(t) < 0) || objects_start(t) < 0)
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
	heap_lock(t);
	int r = pmt_writer_skip(t->w, t->heap ? heap_pending(t, t->seen) : t->unwritten);
	t->unwritten = 0;
	t->have_prev = false;
	if (r == 0)
		r = pmt_writer_message(t->w, s, (size_t)n);
	heap_unlock(t);
	if (r < 0) {
		hook_fail(t, "write failed", r);
		return PyErr_Format(PyExc_OSError, "pmt_tracer: %s: %s", t->path, strerror(-r));
	}
	Py_RETURN_NONE;
}

/* threading.setprofile/settrace hook: runs once in each new thread, installs
 * the C hook there and passes on the event it was called for (guard.c: or
 * hands the thread to the program's own threading hook). */
static PyObject *tracer_thread_start(PyObject *self, PyObject *args)
{
	PyObject *frame, *arg;
	const char *event;
	if (!PyArg_ParseTuple(args, "OsO", &frame, &event, &arg))
		return NULL;
	return guard_thread_start((struct tracer *)self, frame, event, arg);
}

/* The Tracer as a Python-level hook (sys.setprofile(tracer) through a
 * reference to the unwrapped function): the same as _thread_start, so the
 * thread gets the C hook at its next event. */
static PyObject *tracer_call(PyObject *self, PyObject *args, PyObject *kw)
{
	if (kw && PyDict_GET_SIZE(kw)) {
		PyErr_SetString(PyExc_TypeError, "Tracer() takes (frame, event, arg)");
		return NULL;
	}
	return tracer_thread_start(self, args);
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
	return PyUnicode_FromString(tracer_hook_names[((struct tracer *)self)->hook]);
}

static PyObject *tracer_get_rss_source(PyObject *self, void *c)
{
	struct tracer *t = (struct tracer *)self;
	/* once opened, the source used (kept after close) */
	return PyUnicode_FromString(pmt_rss_name(t->path ? t->rss.kind : t->rss_want));
}

static PyObject *tracer_get_displaced(PyObject *self, void *c)
{
	struct tracer *t = (struct tracer *)self;
	double secs = (double)t->displaced_ns * 1e-9;
	if (t->active)
		for (uint32_t i = 0; i < t->ndisp; i++)
			secs += (double)(mono_ns() - t->disp[i].since) * 1e-9;
	return Py_BuildValue("(IdI)", t->displaced, secs, t->rearmed_at_once);
}

static PyObject *tracer_get_rss_notes(PyObject *self, void *c)
{
	struct tracer *t = (struct tracer *)self;
	const char *hint = NULL;
	const char *why = pmt_rss_why_text(&t->rss, &hint); /* kept after close */
	return Py_BuildValue("(zzIO)", why, hint, t->rss_reopens, t->rss_lost ? Py_True : Py_False);
}

static PyObject *tracer_get_thread_slots(PyObject *self, void *c)
{
	return PyLong_FromUnsignedLong(((struct tracer *)self)->nthreads);
}

static PyObject *tracer_get_heap(PyObject *self, void *c)
{
	static const char *const names[] = {"off", "libc", "python"};
	return PyUnicode_FromString(names[((struct tracer *)self)->heap]);
}

static PyObject *tracer_get_heap_calls(PyObject *self, void *c)
{
	return PyLong_FromUnsignedLongLong(((struct tracer *)self)->heap_calls);
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
	pmt_hash_clear(&t->ctab);
	threads_reset(t);
	objects_dealloc(t);
	free(t->template_path);
	free(t->child_template);
	free(t->path);
	free_argv(t);
	free(t->disp);
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
    {"live_object_counts", objects_py_counts, METH_NOARGS,
     "{type name: objects created minus destroyed} of the objects recorded."},
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
    {"hook", tracer_get_hook, NULL,
     "how events arrive: 'monitoring' (sys.monitoring) or 'legacy' "
     "(PyEval_SetProfile/SetTrace); before start(), as asked",
     NULL},
    {"heap", tracer_get_heap, NULL, "what heap tracing records: 'off', 'libc' or 'python'", NULL},
    {"heap_calls", tracer_get_heap_calls, NULL, "allocator calls recorded", NULL},
    {"objects", objects_py_get_on, NULL, "objects are recorded", NULL},
    {"object_stats", objects_py_get_stats, NULL,
     "(created, destroyed, records) of the objects recorded", NULL},
    {"error", tracer_get_error, NULL, "what made the hook fail, or None", NULL},
    {"displaced", tracer_get_displaced, NULL,
     "(times another tool took the hook away, seconds of thread time without our hook, "
     "times it was removed and re-armed before any event was missed)",
     NULL},
    {"_thread_slots", tracer_get_thread_slots, NULL, "entries of the thread table", NULL},
    {"rss_notes", tracer_get_rss_notes, NULL,
     "(why perf is not the RSS source or None, the change that would enable it or None, "
     "times the statm fd was found not ours and reopened, statm lost now)",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot tracer_slots[] = {
    {Py_tp_doc,
     "Tracer(path, mode='profile', trigger=0, prev=False, calculate='all', "
     "log=True, rss_source='statm', argv=None, force=False, hook='auto', heap='off', "
     "objects=False, events=True, *, "
     "include_builtins=False, exclude_tp_names=None, include_tp_names=None): one pmt log."},
    {Py_tp_init, tracer_init},
    {Py_tp_call, tracer_call},
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

static PyObject *mod_close_on_signals(PyObject *module, PyObject *unused)
{
	if (tracer_close_on_signals() < 0)
		return PyErr_SetFromErrno(PyExc_OSError);
	Py_RETURN_NONE;
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

static PyObject *mod_heap_library(PyObject *module, PyObject *unused)
{
	const char *p = heap_library_path();
	if (!p)
		Py_RETURN_NONE;
	return PyUnicode_DecodeFSDefault(p);
}

static PyObject *mod_heap_preloaded(PyObject *module, PyObject *unused)
{
	return PyBool_FromLong(heap_preloaded());
}

static PyObject *mod_shift_recursion(PyObject *module, PyObject *arg)
{
	long k = PyLong_AsLong(arg);
	if (k == -1 && PyErr_Occurred())
		return NULL;
	if (k < -100000 || k > 100000) {
		PyErr_SetString(PyExc_ValueError, "shift out of range");
		return NULL;
	}
	pmt_recursion_shift((int)k);
	Py_RETURN_NONE;
}

static PyMethodDef mod_methods[] = {
    {"heap_preloaded", mod_heap_preloaded, METH_NOARGS,
     "True when libpmt_heap.so is loaded in this process."},
    {"heap_library", mod_heap_library, METH_NOARGS,
     "Path of libpmt_heap.so, the allocator interposer that --heap preloads."},
    {"rss", mod_rss, METH_NOARGS, "Resident set size now, in bytes."},
    {"objects_supported", objects_py_supported, METH_NOARGS,
     "True when object tracing works here (CPython 3.13+: PyRefTracer_SetTracer)."},
    {"rss_peak", mod_rss_peak, METH_NOARGS, "Peak resident set size (getrusage), in bytes."},
    {"page_size", mod_page_size, METH_NOARGS, "The page size in bytes."},
    {"expand_path", mod_expand_path, METH_O, "Expand %p, %t and %% in a log path."},
    {"_after_fork_child", tracer_after_fork_child, METH_NOARGS, NULL},
    {"_close_all", mod_close_all, METH_NOARGS, NULL},
    {"_close_on_signals", mod_close_on_signals, METH_NOARGS, NULL},
    {"_shift_recursion", mod_shift_recursion, METH_O,
     "Give the calling thread k more frames before RecursionError."},
    {NULL, NULL, 0, NULL},
};

static int mod_exec(PyObject *module)
{
	struct mod_state *st = mod_state(module);
	tracer_the_module = module;
	tracer_the_state = st;
	static bool atfork_done;
	if (!atfork_done &&
	    pthread_atfork(tracer_atfork_prepare, tracer_atfork_parent, tracer_atfork_child) == 0)
		atfork_done = true;
	for (int i = 0; i < 4; i++) {
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

/* Pending calls and audit events may come after the module is gone. */
static void mod_free(void *module)
{
	if (tracer_the_module == module) {
		tracer_the_module = NULL;
		tracer_the_state = NULL;
	}
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
    .m_free = mod_free,
};

PMT_MODINIT PyInit__pmt_tracer(void);
PMT_MODINIT PyInit__pmt_tracer(void) { return PyModuleDef_Init(&mod_def); }
