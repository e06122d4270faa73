/* SPDX-License-Identifier: MIT */
/* The Python frame running on the calling thread, for heap tracing without
 * the call hook (events=False): the innermost complete frame of its thread
 * state, read the way tracemalloc reads it. From 3.11 frames are
 * _PyInterpreterFrame, declared in CPython's internal headers only; they
 * are included in this file alone, with Py_BUILD_CORE defined around that
 * one include, so no other source depends on CPython's internals. */
#include "heap-frame.h"

#if PY_VERSION_HEX >= 0x030B0000
#define Py_BUILD_CORE 1
#include <internal/pycore_frame.h>
#undef Py_BUILD_CORE
#endif

#if PY_VERSION_HEX >= 0x030B0000
static inline PyCodeObject *iframe_code(_PyInterpreterFrame *f)
{
#if PY_VERSION_HEX >= 0x030D0000
	return (PyCodeObject *)f->f_executable;
#else
	return f->f_code;
#endif
}

/* An entry frame of the C stack (3.12+), or one whose code has not
 * started (its prologue copies arguments and makes cells): skipped, as
 * _PyFrame_GetFirstComplete does. */
static inline bool iframe_skipped(_PyInterpreterFrame *f)
{
#if PY_VERSION_HEX >= 0x030C0000
	if (f->owner == FRAME_OWNED_BY_CSTACK)
		return true;
#endif
#if PY_VERSION_HEX >= 0x030D0000
	if (!PyCode_Check(f->f_executable))
		return true;
#endif
	return _PyFrame_IsIncomplete(f);
}
#endif

bool heap_frame_now(PyCodeObject **co, int *offset)
{
	PyThreadState *ts = pmt_tstate_unchecked();
	if (!ts)
		return false;
#if PY_VERSION_HEX >= 0x030B0000
#if PY_VERSION_HEX >= 0x030D0000
	_PyInterpreterFrame *f = ts->current_frame;
#else
	_PyInterpreterFrame *f = ts->cframe->current_frame;
#endif
	for (int n = 0; f && n < 64; n++, f = f->previous) {
		if (iframe_skipped(f))
			continue;
		*co = iframe_code(f);
		*offset = _PyInterpreterFrame_LASTI(f) * (int)sizeof(_Py_CODEUNIT);
		return true;
	}
	return false;
#else
	PyFrameObject *f = ts->frame;
	if (!f)
		return false;
	*co = f->f_code;
#if PY_VERSION_HEX >= 0x030A0000
	*offset = f->f_lasti * (int)sizeof(_Py_CODEUNIT); /* 3.10 counts code units */
#else
	*offset = f->f_lasti;
#endif
	return true;
#endif
}
