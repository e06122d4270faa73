/* SPDX-License-Identifier: MIT */
/* _pmt_tracer and fork(): the writer threads stopped before it and started
 * again after it in the parent; in the child, the parent's logs made inert
 * at once and replaced by the child's own. */
#include "record.h"

#include <stdio.h>

/* Runs in the forking thread right before fork(): each writer thread writes
 * what it was handed and stops, so that CPython 3.12+ does not find a thread
 * of ours and warn the program about a multi-threaded fork. Only with the
 * GIL, which excludes the hook and so every producer of a log without heap
 * tracing. A --heap (libc) log is left running: its producers are any
 * thread, holding the interposer's mutex, and a writer thread started again
 * from one of them would allocate (pthread_create, its first steps) while
 * that thread holds the mutex the allocation must take: a deadlock. */
static bool pausable(const struct tracer *t)
{
	return t->w && !t->fork_pending && t->heap != HEAP_LIBC;
}

static int resume_writers(void *unused)
{
	(void)unused;
	if (!tracer_the_state)
		return 0;
	for (struct tracer *t = tracer_the_state->open; t; t = t->next_open)
		if (pausable(t))
			pmt_writer_resume(t->w);
	return 0;
}

void tracer_atfork_prepare(void)
{
	if (!tracer_the_state || !PyGILState_Check())
		return;
	for (struct tracer *t = tracer_the_state->open; t; t = t->next_open)
		if (pausable(t))
			pmt_writer_pause(t->w);
}

/* In the parent: the threads start again once fork() has returned (CPython
 * counts threads after it), or at the next hand-over of records. */
void tracer_atfork_parent(void)
{
	if (tracer_the_state && PyGILState_Check())
		Py_AddPendingCall(resume_writers, NULL);
}

/* Runs in the child right after fork(), before any Python code: the Python
 * at-fork handlers that run before ours must not reach the parent's writer,
 * which could end a frame into the parent's file. */
void tracer_atfork_child(void)
{
	tls_tid = 0;
	tls_serial = 0;
	if (!tracer_the_state)
		return;
	for (struct tracer *t = tracer_the_state->open; t; t = t->next_open) {
		t->fork_pending = true;
		if (t->w)
			pmt_writer_after_fork_child(t->w);
	}
}

/* os.register_at_fork(after_in_child=...): each open log of the parent is
 * dropped unwritten and the child opens its own. */
PyObject *tracer_after_fork_child(PyObject *module, PyObject *unused)
{
	struct mod_state *st = mod_state(module);
	for (struct tracer *t = st->open; t; t = t->next_open) {
		/* fork_pending stays set while the log is replaced: allocator
		 * records of this process are dropped until the new log is open. */
		pmt_writer_free(t->w); /* inert since atfork_child */
		t->w = NULL;
		t->is_open = false;
		guard_reset(t);
		int r = tracer_open_log(t, true);
		t->fork_pending = false;
		if (r < 0) {
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
