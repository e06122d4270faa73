/* SPDX-License-Identifier: MIT */
/* The hook's guard: its MESSAGE records, and naming the other hook. */
#include "guard.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GUARD_MAX_MSGS 256

/* The other hook, named without running any of its code. */
static const char *str_of(PyObject *s)
{
	const char *p = s && PyUnicode_Check(s) ? PyUnicode_AsUTF8(s) : NULL;
	if (!p)
		PyErr_Clear();
	return p ? p : "?";
}

static void type_name(PyTypeObject *tp, char *buf, size_t n)
{
	PyObject *mod = NULL;
	if ((tp->tp_flags & Py_TPFLAGS_HEAPTYPE) && tp->tp_dict)
		mod = PyDict_GetItemString(tp->tp_dict, "__module__");
	if (mod && PyUnicode_Check(mod) && strcmp(str_of(mod), "builtins"))
		snprintf(buf, n, "%s.%s", str_of(mod), tp->tp_name);
	else
		snprintf(buf, n, "%s", tp->tp_name);
}

void guard_describe(PyObject *o, char *buf, size_t n)
{
	char tn[128];
	if (!o || o == Py_None) {
		snprintf(buf, n, "None");
	} else if (PyFunction_Check(o)) {
		snprintf(buf, n, "<function %s>", str_of(((PyFunctionObject *)o)->func_qualname));
	} else if (PyCFunction_Check(o)) {
		PyCFunctionObject *cf = (PyCFunctionObject *)o;
		if (cf->m_self && !PyModule_Check(cf->m_self)) {
			type_name(Py_TYPE(cf->m_self), tn, sizeof(tn));
			snprintf(buf, n, "<built-in method %s of %s object>", cf->m_ml->ml_name,
				 tn);
		} else {
			snprintf(buf, n, "<built-in function %s>", cf->m_ml->ml_name);
		}
	} else if (PyMethod_Check(o)) {
		PyObject *f = PyMethod_GET_FUNCTION(o);
		type_name(Py_TYPE(PyMethod_GET_SELF(o)), tn, sizeof(tn));
		snprintf(buf, n, "<bound method %s of %s object>",
			 PyFunction_Check(f) ? str_of(((PyFunctionObject *)f)->func_qualname) : "?",
			 tn);
	} else {
		type_name(Py_TYPE(o), tn, sizeof(tn));
		snprintf(buf, n, "<%s object>", tn);
	}
}

/* ---- MESSAGE records ---------------------------------------------------- */

void guard_say(struct tracer *t, PyThreadState *ts, const char *fmt, ...)
{
	/* fork_pending: the writer is the parent's, its file not ours */
	if (!t->w || t->failed || t->fork_pending || !t->log_events)
		return;
	if (t->guard_msgs >= GUARD_MAX_MSGS) {
		t->guard_msgs_lost++;
		return;
	}
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(text))
		n = sizeof(text) - 1;
	/* with heap tracing, other threads append too: under their lock */
	heap_lock(t);
	int r = pmt_writer_skip(t->w, t->heap ? heap_pending(t, t->seen) : t->unwritten);
	t->unwritten = 0;
	t->have_prev = false;
	uint32_t slot;
	uint32_t idx = ts ? thread_index_of(t, ts->id, &slot) : 0;
	if (r == 0 && idx && idx != t->written_thread) {
		struct thread_info *ti = &t->threads[slot];
		r = pmt_writer_thread(t->w, idx, ti->tid,
				      ti->announced ? NULL : (ti->name ? ti->name : ""));
		if (r == 0 && !ti->announced) {
			free(ti->name);
			ti->name = NULL;
			ti->announced = true;
		}
		t->written_thread = idx;
	}
	if (r == 0)
		r = pmt_writer_message(t->w, text, (size_t)n);
	heap_unlock(t);
	if (r < 0) {
		hook_fail(t, "write failed", r);
		return;
	}
	t->guard_msgs++;
}

unsigned long long guard_event_no(struct tracer *t)
{
	/* what say() will place the message at */
	return t->w ? (unsigned long long)(t->w->events + t->w->skipped + t->unwritten)
		    : (unsigned long long)t->seen;
}

void guard_rss_notice(struct tracer *t)
{
	struct pmt_rss *r = &t->rss;
	t->rss_fd_changes = r->fd_changes;
	if (r->lost && !t->rss_lost) {
		t->rss_lost = true;
		guard_say(
		    t, NULL,
		    "pmt: RSS source lost at event %llu: /proc/self/statm cannot be opened again "
		    "(%s); RSS stays at its last value until it can",
		    guard_event_no(t), strerror(-r->lost));
	} else if (!r->lost && r->reopens != t->rss_reopens) {
		t->rss_reopens = r->reopens;
		t->rss_lost = false;
		guard_say(
		    t, NULL,
		    "pmt: RSS source: its /proc/self/statm fd was closed or reused by the program; "
		    "reopened at event %llu",
		    guard_event_no(t));
	}
}
