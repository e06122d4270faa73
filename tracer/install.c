/* SPDX-License-Identifier: MIT */
/* _pmt_tracer: installing and removing a Tracer's hook, legacy or
 * sys.monitoring, with the guard that watches it (guard.c). */
#include "record.h"

#include <stdio.h>

/* The first install of a log says which hook produced it, as a MESSAGE
 * (the header has no field for it). */
void announce_hook(struct tracer *t)
{
	if (t->hook_announced || !t->w || t->failed)
		return;
	char text[64];
	int n = snprintf(text, sizeof(text), "pmt: hook=%s", tracer_hook_names[t->hook]);
	heap_lock(t);
	int r = pmt_writer_skip(t->w, t->heap ? heap_pending(t, t->seen) : t->unwritten);
	t->unwritten = 0;
	t->have_prev = false;
	if (r == 0)
		r = pmt_writer_message(t->w, text, (size_t)n);
	heap_unlock(t);
	if (r < 0)
		hook_fail(t, "write failed", r);
	t->hook_announced = true;
}

int tracer_install(struct tracer *t)
{
	if (t->hook_want != HOOK_LEGACY) {
		t->hook = HOOK_MONITORING;
		if (guard_setup(t) < 0)
			return -1;
		int r = mon_install(t, -1);
		if (r < 0)
			return -1;
		if (r == 0) {
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
	if (guard_setup(t) < 0)
		return -1;
	PyObject *hook = PyObject_GetAttrString((PyObject *)t, "_thread_start");
	if (!hook)
		return -1;
	int r = guard_threading_install(t, hook);
	Py_DECREF(hook);
	if (r < 0)
		return -1;
	announce_hook(t);
	pmt_set_all_threads(t->mode == PMT_MODE_TRACE, pmt_hook, (PyObject *)t);
	t->active = true;
	return 0;
}

/* Removes the hook; first a last look at every thread (or at our tool id),
 * so that a displacement not seen yet is in the log. */
void tracer_uninstall(struct tracer *t)
{
	if (!t->active)
		return;
	guard_tick(t, false);
	struct pmt_exc exc;
	pmt_exc_save(&exc);
	if (t->hook == HOOK_MONITORING) {
		mon_uninstall(t);
		t->active = false;
	} else {
		guard_uninstall_legacy(t);
		t->active = false;
		guard_threading_uninstall(t);
	}
	PyErr_Clear();
	pmt_exc_restore(&exc);
}
