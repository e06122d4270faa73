/* SPDX-License-Identifier: MIT */
/* The hook's guard, sys.monitoring side (3.12+): our tool id is ours alone.
 * The sys.monitoring functions are wrapped so that a program asking for
 * our id gets it (we move to another free id, or to the legacy hook when
 * none is left), and calls on our id act as on an id nobody uses; the tick
 * and the stop check that the id and its events are still ours. */
#include "guard.h"

#include <string.h>

static bool mon_wrapped;

bool guard_monitoring_profile(void)
{
	if (!tracer_the_state)
		return false;
	for (struct tracer *t = tracer_the_state->open; t; t = t->next_open)
		if (t->active && t->hook == HOOK_MONITORING && t->mode == PMT_MODE_PROFILE)
			return true;
	return false;
}

static struct tracer *monitoring_owner(long id)
{
	if (!tracer_the_state)
		return NULL;
	for (struct tracer *t = tracer_the_state->open; t; t = t->next_open)
		if (t->active && t->hook == HOOK_MONITORING && t->tool_id >= 0 && t->tool_id == id)
			return t;
	return NULL;
}

void guard_mon_check(struct tracer *t)
{
	if (t->tool_id < 0 || mon_intact(t))
		return;
	int old = t->tool_id;
	t->displaced++;
	guard_say(t, NULL,
		  "pmt: hook displaced (sys.monitoring tool id %d no longer ours) at event %llu",
		  old, guard_event_no(t));
	/* The id may be someone else's now: forget it without freeing it. */
	t->tool_id = -1;
	int r = mon_install(t, old);
	if (r == 0)
		guard_say(t, NULL, "pmt: hook re-armed (sys.monitoring tool id %d) at event %llu",
			  t->tool_id, guard_event_no(t));
	else
		PyErr_Clear();
}

/* Gives our tool id `id` to a program that asks for it: ours moves to
 * another free id, or to the legacy hook when none is left. */
static int mon_give_away(struct tracer *t, int id, PyObject *name)
{
	char who[200];
	PyObject *s = name && PyUnicode_Check(name) ? name : NULL;
	const char *n = s ? PyUnicode_AsUTF8(s) : NULL;
	if (!n)
		PyErr_Clear();
	snprintf(who, sizeof(who), "'%s'", n ? n : "?");
	mon_uninstall(t);
	int r = mon_install(t, id);
	if (r == 0) {
		guard_say(t, NULL,
			  "pmt: sys.monitoring tool id %d given to %s; hook moved to tool id %d at "
			  "event %llu",
			  id, who, t->tool_id, guard_event_no(t));
		return 0;
	}
	if (r < 0)
		PyErr_Clear();
	/* Every id is taken: events come through the legacy hook from here. */
	t->hook = HOOK_LEGACY;
	if (guard_setup(t) == 0) {
		PyObject *hook = PyObject_GetAttrString((PyObject *)t, "_thread_start");
		if (hook && guard_threading_install(t, hook) == 0) {
			Py_DECREF(hook);
			guard_busy++;
			pmt_set_all_threads(t->mode == PMT_MODE_TRACE, pmt_hook, (PyObject *)t);
			guard_busy--;
			guard_say(t, NULL,
				  "pmt: sys.monitoring tool id %d given to %s; no tool id left: "
				  "hook=legacy "
				  "from event %llu",
				  id, who, guard_event_no(t));
			return 0;
		}
		Py_XDECREF(hook);
	}
	PyErr_Clear();
	t->displaced++;
	guard_say(t, NULL, "pmt: sys.monitoring tool id %d given to %s; hook lost at event %llu",
		  id, who, guard_event_no(t));
	hook_fail(t, "hook lost: no sys.monitoring tool id left", 0);
	return 0;
}

/* sys.monitoring: our id, when the first argument names it; the tracer. */
static struct tracer *mon_target(PyObject *args, long *id)
{
	if (!PyTuple_Check(args) || PyTuple_GET_SIZE(args) < 1 ||
	    !PyLong_Check(PyTuple_GET_ITEM(args, 0)))
		return NULL;
	*id = PyLong_AsLong(PyTuple_GET_ITEM(args, 0));
	if (*id == -1 && PyErr_Occurred()) {
		PyErr_Clear();
		return NULL;
	}
	return monitoring_owner(*id);
}

static PyObject *w_mon(int w, PyObject *args, PyObject *kw)
{
	long id;
	struct tracer *t = kw ? NULL : mon_target(args, &id);
	if (t) {
		Py_ssize_t n = PyTuple_GET_SIZE(args);
		switch (w) {
		case W_MON_USE:
			mon_give_away(t, (int)id, n > 1 ? PyTuple_GET_ITEM(args, 1) : NULL);
			break; /* then the program's own call, now on a free id */
		case W_MON_FREE:
		case W_MON_GET_TOOL:
		case W_MON_REGISTER:
			if (n == (w == W_MON_REGISTER ? 3 : 1))
				Py_RETURN_NONE; /* as for an id nobody uses */
			break;
		case W_MON_GET_EVENTS:
		case W_MON_GET_LOCAL:
			if (n == (w == W_MON_GET_EVENTS ? 1 : 2))
				return PyLong_FromLong(0);
			break;
		case W_MON_SET_EVENTS:
		case W_MON_SET_LOCAL:
			if (n == (w == W_MON_SET_EVENTS ? 2 : 3))
				return PyErr_Format(PyExc_ValueError, "tool %ld is not in use", id);
			break;
		}
	}
	return guard_call_orig(w, args, kw);
}

#define MON_WRAPPER(fn, w)                                                                         \
	static PyObject *fn(PyObject *self, PyObject *args, PyObject *kw)                          \
	{                                                                                          \
		return w_mon(w, args, kw);                                                         \
	}
MON_WRAPPER(w_mon_use, W_MON_USE)
MON_WRAPPER(w_mon_free, W_MON_FREE)
MON_WRAPPER(w_mon_set_events, W_MON_SET_EVENTS)
MON_WRAPPER(w_mon_get_events, W_MON_GET_EVENTS)
MON_WRAPPER(w_mon_set_local, W_MON_SET_LOCAL)
MON_WRAPPER(w_mon_get_local, W_MON_GET_LOCAL)
MON_WRAPPER(w_mon_register, W_MON_REGISTER)
MON_WRAPPER(w_mon_get_tool, W_MON_GET_TOOL)

#define KW (PyCFunction)(void (*)(void))
static PyMethodDef mon_defs[W_COUNT] = {
    [W_MON_USE] = {"use_tool_id", KW w_mon_use, METH_VARARGS | METH_KEYWORDS, NULL},
    [W_MON_FREE] = {"free_tool_id", KW w_mon_free, METH_VARARGS | METH_KEYWORDS, NULL},
    [W_MON_SET_EVENTS] = {"set_events", KW w_mon_set_events, METH_VARARGS | METH_KEYWORDS, NULL},
    [W_MON_GET_EVENTS] = {"get_events", KW w_mon_get_events, METH_VARARGS | METH_KEYWORDS, NULL},
    [W_MON_SET_LOCAL] = {"set_local_events", KW w_mon_set_local, METH_VARARGS | METH_KEYWORDS,
			 NULL},
    [W_MON_GET_LOCAL] = {"get_local_events", KW w_mon_get_local, METH_VARARGS | METH_KEYWORDS,
			 NULL},
    [W_MON_REGISTER] = {"register_callback", KW w_mon_register, METH_VARARGS | METH_KEYWORDS, NULL},
    [W_MON_GET_TOOL] = {"get_tool", KW w_mon_get_tool, METH_VARARGS | METH_KEYWORDS, NULL},
};

int guard_mon_setup(void)
{
	if (mon_wrapped)
		return 0;
	for (int w = W_MON_FIRST; w < W_COUNT; w++)
		if (guard_wrap(w, &mon_defs[w]) < 0)
			return -1;
	mon_wrapped = true;
	return 0;
}
