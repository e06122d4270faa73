/* SPDX-License-Identifier: MIT */
#pragma once
/* Private to the _pmt_tracer extension: the Tracer object and what its
 * parts share. The parts:
 *   record.h, record.c   the hook and the record path (hot), code and thread
 *                        interning (slow, first sight only), the legacy hook
 *   monitoring.c         the sys.monitoring callbacks (3.12+) and their install
 *   log.c                log life cycle: paths, open, close, signals
 *   module.c             the Tracer type, installing hooks, module functions
 * Every non-static symbol is hidden: the module exports PyInit_* only. */
#include "compat.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <libpmt/core/hash.h>
#include <libpmt/core/log-format.h>
#include <libpmt/core/log-writer.h>
#include <libpmt/core/rss.h>

enum calc { CALC_NONE = 0, CALC_RSS = 1, CALC_ALL = 2 };
/* How events reach us: PyEval_SetProfile/SetTrace, or sys.monitoring. */
enum hook { HOOK_AUTO = 0, HOOK_LEGACY = 1, HOOK_MONITORING = 2 };
extern const char *const tracer_hook_names[];

/* co_extra holds (generation << ID_BITS | id): a value left by another log
 * (an earlier Profile, the parent before a fork) never matches, so ids are
 * always defined in the log they are used in. */
#if UINTPTR_MAX > 0xffffffffu
#define ID_BITS 32
#else
#define ID_BITS 20
#endif
#define ID_MASK ((((uintptr_t)1) << ID_BITS) - 1)
#define MAX_ID ((uint32_t)ID_MASK)

struct thread_info {
	uint64_t tid;
	char *name;	  /* threading name, or NULL */
	bool announced;	  /* name written to this log */
	uint32_t retries; /* name lookups that found nothing */
};

/* An event not written (yet): what --prev writes when the next one triggers. */
struct raw_event {
	int what;
	uint32_t code, line, thread;
	uint64_t t;
	int64_t rss;
};

struct mod_state {
	PyTypeObject *tracer_type;
	Py_ssize_t extra_index[2]; /* per mode: one profile and one trace log at a time */
	struct tracer *open;	   /* open tracers; each holds a reference to itself */
};

struct tracer {
	PyObject_HEAD
	    /* hot fields first */
	    struct pmt_writer *w;
	struct pmt_rss rss;
	int calc;
	bool log_events, log_all, prev, failed;
	bool fork_pending;  /* a fork child whose log is not reopened yet */
	int64_t trig_pages; /* |dRSS| in pages that writes an event */
	int64_t trig_rss;   /* RSS (pages) of the last triggered event */
	uint64_t seen;	    /* events seen while active */
	uint64_t unwritten; /* events since the last written one, not yet in a SKIP */
	bool have_prev;
	struct raw_event pev;
	uint64_t start_mono;
	uint64_t last_tid;   /* OS tid of the previous event's thread */
	uint32_t cur_thread; /* its index (1..) */
	uint32_t written_thread;
	bool name_pending; /* the current thread's name is still unknown */
	uint64_t gen;
	Py_ssize_t extra_index;
	uint32_t next_id;
	struct pmt_hash ctab, ttab;
	struct thread_info *threads;
	uint32_t nthreads, threads_cap;

	/* sys.monitoring (hook HOOK_MONITORING) */
	PyObject *mon_missing, *mon_disable; /* sys.monitoring.MISSING, DISABLE */
	int tool_id;			     /* ours while installed, else -1 */

	/* configuration */
	PyObject *module;
	int mode;
	int hook_want;	     /* enum hook: as asked */
	int hook;	     /* enum hook: in use */
	bool hook_announced; /* the "pmt: hook=" MESSAGE is in this log */
	int64_t trigger;     /* bytes as given (<0: page size) */
	enum pmt_rss_kind rss_want;
	bool force;
	char *template_path;
	char *child_template; /* template_path made absolute at the first open: a
			       * fork child's log goes beside its parent's even
			       * if the program changed directory */
	char *path;
	char **argv;
	uint32_t argc;

	/* life cycle */
	bool is_open, active, suspended, child_path;
	long page_size;
	int64_t rss_start;
	uint64_t final_events, final_written, final_bytes;
	char errmsg[256];
	struct tracer *next_open;
};

/* 3.8 has no PyType_GetModule: the module is remembered here (borrowed). */
extern PyObject *tracer_the_module;
/* For the pthread_atfork child handler, which may not touch Python. */
extern struct mod_state *tracer_the_state;

static inline uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline struct mod_state *mod_state(PyObject *module)
{
	return (struct mod_state *)PyModule_GetState(module);
}

/* record.c */
void hook_fail(struct tracer *t, const char *what, int err);
void threads_reset(struct tracer *t);
int pmt_hook(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg);

/* monitoring.c: install returns 0, 1 when every tool id we may use is taken
 * (nothing installed, no exception), or -1 with an exception set. */
int mon_install(struct tracer *t);
void mon_uninstall(struct tracer *t);

/* log.c */
char *expand_path(const char *tmpl, bool child);
int tracer_open_log(struct tracer *t, bool child);
int tracer_close_log(struct tracer *t);
/* SIGTERM and SIGHUP, where nothing handles them yet: close every open log
 * with a trailer, then die of the signal as the program would have. */
int tracer_close_on_signals(void);

/* module.c */
int tracer_install(struct tracer *t);
void tracer_uninstall(struct tracer *t);
void announce_hook(struct tracer *t);
