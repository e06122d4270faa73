/* SPDX-License-Identifier: MIT */
#pragma once
/* The record path, inlined into every hook (legacy and sys.monitoring) so
 * that each hook's position arguments fold away. */
#include "tracer.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The calling OS thread: its tid, and a serial that no other thread of this
 * process ever gets (tids are reused as soon as a thread ends). Both are
 * set at its first event and reset in a fork child. initial-exec: one
 * %fs-relative load on the hot path. */
extern _Thread_local uint64_t tls_tid __attribute__((tls_model("initial-exec")));
extern _Thread_local uint64_t tls_serial __attribute__((tls_model("initial-exec")));
uint64_t thread_tls_init(void);

/* Slow paths (record.c): the first sight of a code object, C function or
 * thread. */
uint32_t intern_py(struct tracer *t, PyCodeObject *co);
uint32_t intern_c(struct tracer *t, const void *key, uint32_t caller, PyObject *f,
		  PyObject *bound_self, PyCodeObject *co);
void thread_switch(struct tracer *t, uint64_t serial);

static inline uint32_t py_code_id(struct tracer *t, PyCodeObject *co)
{
	void *extra = NULL;
	if (__builtin_expect(pmt_code_get_extra((PyObject *)co, t->extra_index, &extra) < 0, 0)) {
		PyErr_Clear();
		return 0;
	}
	uintptr_t v = (uintptr_t)extra;
	if (__builtin_expect((v >> ID_BITS) == (uintptr_t)t->gen, 1))
		return (uint32_t)(v & ID_MASK);
	struct pmt_exc exc;
	pmt_exc_save(&exc);
	uint32_t id = intern_py(t, co);
	pmt_exc_restore(&exc);
	return id;
}

static inline const void *cfunc_key(PyObject *f)
{
	if (PyCFunction_Check(f))
		return ((PyCFunctionObject *)f)->m_ml;
	if (Py_TYPE(f) == &PyMethodDescr_Type)
		return ((PyMethodDescrObject *)f)->d_method;
	if (PyType_Check(f))
		return f;
	return Py_TYPE(f);
}

/* The THREAD record before the first event of another thread (record.c). */
int emit_thread(struct tracer *t, uint32_t thread, uint32_t slot);

static inline __attribute__((always_inline)) int emit(struct tracer *t, int what, uint32_t code,
						      uint32_t line, uint64_t tns, int64_t rss,
						      uint32_t thread, uint32_t slot)
{
	if (__builtin_expect(thread != t->written_thread, 0)) {
		int r = emit_thread(t, thread, slot);
		if (r < 0)
			return r;
	}
	return pmt_writer_event(t->w, (unsigned)what, code, line, tns, rss);
}

/* Where an event happened, as each hook knows it: the legacy hooks get a
 * frame; sys.monitoring callbacks get a code object and a bytecode offset,
 * or the line itself (LINE, JUMP). */
enum pos_kind { POS_FRAME, POS_OFFSET, POS_LINE, POS_UNWIND };

/* Records one event: the body of every hook, inlined into each so the
 * position arguments fold away. `cfunc` is the C callable of a C event
 * (`bound_self` its object when it is a method descriptor). Called with the
 * GIL held; allocates only the first time a code object, C function or
 * thread is seen; never raises. */
static inline __attribute__((always_inline)) int
record_event(struct tracer *t, int what, PyFrameObject *frame, PyCodeObject *co, enum pos_kind pk,
	     long pos, PyObject *cfunc, PyObject *bound_self)
{
	t->seen++;
	if (__builtin_expect(t->failed | t->fork_pending | !t->active, 0))
		return 0;
	if (__builtin_expect((t->seen & GUARD_TICK_MASK) == 0, 0))
		guard_tick(t, true);
	int64_t rss = t->rss_start;
	if (t->calc != CALC_NONE) {
		rss = pmt_rss_pages(&t->rss);
		if (__builtin_expect(t->rss.fd_changes != t->rss_fd_changes, 0))
			guard_rss_notice(t);
		if (t->calc == CALC_RSS && !t->log_events)
			return 0;
	} else if (!t->log_events) {
		return 0;
	}
	if (t->log_events && !t->log_all && !t->prev && !t->heap) {
		/* --drss without --prev: an event that will not be written needs
		 * nothing but its RSS, so skip thread, time, code and line. */
		int64_t d = rss - t->trig_rss;
		if ((d < 0 ? -d : d) < t->trig_pages) {
			t->unwritten++;
			return 0;
		}
	}
	uint64_t serial = tls_serial;
	if (__builtin_expect(!serial, 0))
		serial = thread_tls_init();
	if (__builtin_expect(serial != t->last_serial || t->name_pending, 0)) {
		thread_switch(t, serial);
		if (t->failed)
			return 0;
	}
	uint64_t now = evclock_now(&t->clk) - t->start_mono;
	uint32_t code = 0, line = 0, pycode = 0;
	if (pk == POS_FRAME && frame)
		co = pmt_frame_code(frame);
	if (__builtin_expect(co != NULL, 1)) {
		code = pycode = py_code_id(t, co);
		if (cfunc) {
			const void *key = cfunc_key(cfunc);
			uint32_t c = pmt_hash_get(&t->ctab, (uint64_t)(uintptr_t)key, code);
			code = c ? c : intern_c(t, key, code, cfunc, bound_self, co);
		}
		if (pk == POS_FRAME)
			line = (uint32_t)PyFrame_GetLineNumber(frame);
		else if (pk == POS_OFFSET)
			line = (uint32_t)PyCode_Addr2Line(co, (int)pos);
		else if (pk == POS_UNWIND) {
			int l = pmt_current_line(co);
			line = (uint32_t)(l >= 0 ? l : PyCode_Addr2Line(co, (int)pos));
		} else
			line = (uint32_t)pos;
	}
	if (__builtin_expect(t->heap != HEAP_OFF, 0) && tls_heap) {
		/* where this thread's allocations happen until its next event:
		 * after a C function returns, in its Python caller; after a
		 * Python function returns, where its caller called it */
		uint64_t l = (uint64_t)line << 32;
		tls_heap->pos = heap_position(t, what, code | l, pycode | l, tls_heap->pos);
	}
	if (!t->log_events || __builtin_expect(t->failed, 0))
		return 0;

	int r = 0;
	if (t->log_all) {
		heap_lock(t);
		if (t->heap)
			r = pmt_writer_skip(t->w, heap_pending(t, t->seen - 1));
		if (r == 0)
			r = emit(t, what, code, line, now, rss, t->cur_thread, t->cur_slot);
		heap_unlock(t);
	} else {
		int64_t d = rss - t->trig_rss;
		if (d < 0)
			d = -d;
		if (d >= t->trig_pages) {
			heap_lock(t);
			uint64_t skip = t->unwritten;
			if (t->have_prev)
				skip--;
			if (t->heap) /* other threads' records may have announced some */
				skip = heap_pending(t, t->seen - 1);
			r = pmt_writer_skip(t->w, skip);
			if (r == 0 && t->have_prev)
				r = emit(t, t->pev.what, t->pev.code, t->pev.line, t->pev.t,
					 t->pev.rss, t->pev.thread, t->pev.slot);
			if (r == 0)
				r = emit(t, what, code, line, now, rss, t->cur_thread, t->cur_slot);
			heap_unlock(t);
			t->trig_rss = rss;
			t->unwritten = 0;
			t->have_prev = false;
		} else {
			t->unwritten++;
			if (t->prev) {
				t->pev = (struct raw_event){what,	 code, line, t->cur_thread,
							    t->cur_slot, now,  rss};
				t->have_prev = true;
			}
			return 0;
		}
	}
	if (__builtin_expect(r < 0, 0))
		hook_fail(t, "write failed", r);
	return 0;
}

/* Records one event (record_event). In heap mode the thread's allocator
 * calls are not recorded while its hook runs (they are the tracer's), and
 * the event counts as done for the allocator records of other threads once
 * the hook returns. */
static inline __attribute__((always_inline)) int record(struct tracer *t, int what,
							PyFrameObject *frame, PyCodeObject *co,
							enum pos_kind pk, long pos, PyObject *cfunc,
							PyObject *bound_self)
{
	if (__builtin_expect(t->heap == HEAP_OFF, 1))
		return record_event(t, what, frame, co, pk, pos, cfunc, bound_self);
	struct pmt_heap_tls *h = tls_heap;
	if (__builtin_expect(!h, 0))
		h = heap_thread_slot(t);
	h->busy++;
	int r = record_event(t, what, frame, co, pk, pos, cfunc, bound_self);
	h->busy--;
	atomic_store_explicit(&t->heap_done, t->seen, memory_order_release);
	return r;
}
