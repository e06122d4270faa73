/* SPDX-License-Identifier: MIT */
#pragma once
/* Private to guard.c, guard-mon.c and guard-say.c: the wrapped functions
 * and the MESSAGE writer they share. GIL held everywhere. */
#include "record.h"

enum {
	W_SETPROFILE,
	W_SETTRACE,
	W_GETPROFILE,
	W_GETTRACE,
	W_SETPROFILE_ALL,
	W_SETTRACE_ALL,
	W_TH_SETPROFILE,
	W_TH_SETTRACE,
	W_TH_GETPROFILE,
	W_TH_GETTRACE,
	W_MON_FIRST,
	W_MON_USE = W_MON_FIRST,
	W_MON_FREE,
	W_MON_SET_EVENTS,
	W_MON_GET_EVENTS,
	W_MON_SET_LOCAL,
	W_MON_GET_LOCAL,
	W_MON_REGISTER,
	W_MON_GET_TOOL,
	W_COUNT
};

/* Our own hook changes raise the audit event too: not a displacement. */
extern _Thread_local int guard_busy __attribute__((tls_model("initial-exec")));

/* Calls the original of a wrapped function, our changes marked. */
PyObject *guard_call_orig(int w, PyObject *args, PyObject *kw);
/* Replaces the function by `def` (m_self: our module), keeping the original;
 * 0 (also when this Python has no such function) or -1 with an exception. */
int guard_wrap(int w, PyMethodDef *def);

/* A MESSAGE at the next event's number, attributed to the thread of ts when
 * it has had events in this log (ts NULL: the current one). */
void guard_say(struct tracer *t, PyThreadState *ts, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The event number guard_say() places its message at. */
unsigned long long guard_event_no(struct tracer *t);

/* The other hook, as "<function f>", "<cProfile.Profile object>"...,
 * named without running any of its code. */
void guard_describe(PyObject *o, char *buf, size_t n);

/* guard-mon.c */
bool guard_monitoring_profile(void); /* a profile-mode sys.monitoring tracer is active */
void guard_mon_check(struct tracer *t);
int guard_mon_setup(void);
