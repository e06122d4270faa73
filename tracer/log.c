/* SPDX-License-Identifier: MIT */
/* The log's life cycle: paths, open (a new log in a fork child too), close
 * with the trailer. The writer's own thread compresses and writes, and ends
 * frames when the program goes quiet (libpmt/core/log-writer.h). */
#include "tracer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static uint64_t next_gen = 1;

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- paths --------------------------------------------------------------- */

/* %p pid, %t YYYYMMDD_HHMMSS (local time), %% a percent sign. A fork child
 * whose template has no %p gets ".<pid>" before ".log.zst" (or at the end). */
char *expand_path(const char *tmpl, bool child)
{
	char pid[24], stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	strftime(stamp, sizeof(stamp), "%Y%m%d_%H%M%S", &tm);
	size_t n = strlen(tmpl), cap = n + 64;
	for (const char *p = tmpl; *p; p++)
		if (*p == '%')
			cap += 32;
	char *out = malloc(cap), *o = out;
	if (!out)
		return NULL;
	bool has_pid = false;
	for (const char *p = tmpl; *p; p++) {
		if (*p == '%' && (p[1] == 'p' || p[1] == 't' || p[1] == '%')) {
			const char *s = p[1] == 'p' ? pid : p[1] == 't' ? stamp : "%";
			has_pid |= p[1] == 'p';
			o = stpcpy(o, s);
			p++;
		} else {
			*o++ = *p;
		}
	}
	*o = 0;
	if (child && !has_pid) {
		static const char sfx[] = ".log.zst";
		size_t len = (size_t)(o - out), sl = sizeof(sfx) - 1;
		char tail[16] = "";
		if (len >= sl && !strcmp(out + len - sl, sfx)) {
			memcpy(tail, sfx, sl + 1);
			out[len - sl] = 0;
		}
		snprintf(out + strlen(out), cap - strlen(out), ".%s%s", pid, tail);
	}
	return out;
}

/* ---- open / close -------------------------------------------------------- */

static void python_version(char *buf, size_t n)
{
	snprintf(buf, n, "%s", Py_GetVersion());
	buf[strcspn(buf, " ")] = 0;
}

/* The interpreter's library directories, for the header: the tools show
 * files under them as <stdlib>/... and <site-packages>/.... Asked of
 * sysconfig once per process (before any tracer is installed, so no event
 * is made) and kept; a failure leaves them empty, which only makes names
 * longer. */
static char *stdlib_dir;
static char *site_dirs[4];
static uint32_t nsite;
static bool dirs_done;

static char *sysconfig_path(PyObject *get_path, const char *name)
{
	PyObject *v = PyObject_CallFunction(get_path, "s", name);
	char *out = NULL;
	if (v && PyUnicode_Check(v)) {
		const char *u = PyUnicode_AsUTF8(v);
		if (u)
			out = strdup(u);
	}
	Py_XDECREF(v);
	PyErr_Clear();
	return out;
}

static void python_dirs(void)
{
	if (dirs_done)
		return;
	dirs_done = true;
	PyObject *mod = PyImport_ImportModule("sysconfig");
	PyObject *get_path = mod ? PyObject_GetAttrString(mod, "get_path") : NULL;
	if (get_path) {
		stdlib_dir = sysconfig_path(get_path, "stdlib");
		static const char *const names[] = {"purelib", "platlib"};
		for (unsigned i = 0; i < 2; i++) {
			char *d = sysconfig_path(get_path, names[i]);
			if (d && (!nsite || strcmp(d, site_dirs[0])))
				site_dirs[nsite++] = d;
			else
				free(d);
		}
	}
	Py_XDECREF(get_path);
	Py_XDECREF(mod);
	PyErr_Clear();
	/* where this package was imported from is a site directory too
	 * (PYTHONPATH, a build tree): its process monitor shows as
	 * <site-packages>/pmt_tracer/process.py */
	mod = PyImport_ImportModule("pmt_tracer");
	PyObject *file = mod ? PyObject_GetAttrString(mod, "__file__") : NULL;
	const char *f = file && PyUnicode_Check(file) ? PyUnicode_AsUTF8(file) : NULL;
	const char *end = f ? strrchr(f, '/') : NULL;
	while (end && end > f && end[-1] != '/')
		end--; /* up from .../pmt_tracer/__init__.py to ... */
	if (end && end > f + 1 && nsite < 4) {
		char *d = strndup(f, (size_t)(end - f - 1));
		if (d && (!nsite || strcmp(d, site_dirs[0])) &&
		    (nsite < 2 || strcmp(d, site_dirs[1])))
			site_dirs[nsite++] = d;
		else
			free(d);
	}
	Py_XDECREF(file);
	Py_XDECREF(mod);
	PyErr_Clear();
}

/* Opens the log (a new one in a fork child): fd, RSS source, header, writer
 * and its thread. Sets a Python exception and returns -1 on failure. */
int tracer_open_log(struct tracer *t, bool child)
{
	if (!child) {
		free(t->child_template);
		t->child_template = NULL;
		char cwd[PATH_MAX];
		if (t->template_path[0] != '/' && getcwd(cwd, sizeof(cwd))) {
			size_t n = strlen(cwd) + strlen(t->template_path) + 2;
			t->child_template = malloc(n);
			if (t->child_template)
				snprintf(t->child_template, n, "%s/%s", cwd, t->template_path);
		}
	}
	const char *tmpl = child && t->child_template ? t->child_template : t->template_path;
	char *path = expand_path(tmpl, child);
	if (!path) {
		PyErr_NoMemory();
		return -1;
	}
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (t->force ? O_TRUNC : O_EXCL);
	int fd = open(path, flags, 0666);
	if (fd < 0) {
		int e = errno;
		if (e == EEXIST)
			PyErr_Format(PyExc_FileExistsError,
				     "%s: file exists (use --force to overwrite)", path);
		else
			PyErr_SetFromErrnoWithFilename(PyExc_OSError, path);
		free(path);
		return -1;
	}
	free(t->path);
	t->path = path;
	t->child_path = child;

	int r = child ? pmt_rss_reopen_after_fork(&t->rss) : pmt_rss_open(&t->rss, t->rss_want);
	if (r < 0) {
		close(fd);
		PyErr_Format(PyExc_OSError, "pmt_tracer: rss source %s: %s",
			     pmt_rss_name(t->rss_want), strerror(-r));
		return -1;
	}
	long rs = pmt_rss_read_statm(&t->rss);
	t->rss_start = rs > 0 ? rs : 0;
	t->trig_rss = t->rss_start;

	char pyver[64], cwd[4096];
	python_version(pyver, sizeof(pyver));
	python_dirs();
	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = '\0';
	t->start_mono = mono_ns();
	evclock_init(&t->clk, t->start_mono);
	struct pmt_header h = {
	    .version = PMT_FORMAT_VERSION,
	    .pid = (uint32_t)getpid(),
	    .ppid = (uint32_t)getppid(),
	    .page_size = (uint32_t)t->page_size,
	    .python_version = pyver,
	    .argc = t->argc,
	    .argv = (const char *const *)t->argv,
	    .start_wall_ns = wall_ns(),
	    .mode = (uint32_t)t->mode,
	    .rss_source = pmt_rss_name(t->rss.kind),
	    .drss_trigger = t->log_all ? 0 : t->trig_pages * t->page_size,
	    .flags = (t->prev ? PMT_HDR_PREV : 0) | (t->calc == CALC_NONE ? PMT_HDR_CALC_NONE : 0) |
		     (t->heap == HEAP_LIBC ? PMT_HDR_HEAP_LIBC : 0) |
		     (t->heap == HEAP_PYTHON ? PMT_HDR_HEAP_PYTHON : 0) |
		     (t->obj ? PMT_HDR_OBJECTS : 0) | (t->events ? 0 : PMT_HDR_NO_EVENTS),
	    .rss_start = (uint64_t)t->rss_start,
	    .cwd = cwd,
	    .stdlib_dir = stdlib_dir,
	    .nsite = nsite,
	    .site_dirs = (const char *const *)site_dirs,
	};
	struct pmt_writer_opts wo = {
	    .mode = PMT_WRITER_THREAD, .path = path, .thread_start = heap_writer_thread_start};
	r = pmt_writer_new(fd, &h, &wo, &t->w);
	if (r < 0) {
		close(fd);
		pmt_rss_close(&t->rss);
		PyErr_Format(PyExc_OSError, "pmt_tracer: %s: %s", path, strerror(-r));
		return -1;
	}
	t->gen = next_gen++;
	t->next_id = 1;
	t->seen = t->unwritten = 0;
	atomic_store(&t->heap_done, 0);
	t->heap_calls = 0;
	t->heap_site.thread = t->heap_site.code = t->heap_site.line = 0;
	t->have_prev = false;
	t->failed = false;
	t->hook_announced = false;
	t->errmsg[0] = 0;
	pmt_hash_clear(&t->ctab);
	threads_reset(t);
	objects_reset(t);
	t->is_open = true;
	return 0;
}

/* A failure of the log's file is said once, plainly, whatever the hook
 * made of it ("write failed"). */
static void writer_failure(struct tracer *t, const struct pmt_writer_status *st)
{
	if (!st->error)
		return;
	t->failed = true;
	if (st->fd_lost)
		snprintf(t->errmsg, sizeof(t->errmsg),
			 "pmt_tracer: %s: log cut at event %llu: the program took its file "
			 "descriptor and the log cannot be reopened: %s",
			 t->path, (unsigned long long)st->framed,
			 st->error == -ESTALE ? "the path names another file now"
					      : strerror(-st->error));
	else
		snprintf(t->errmsg, sizeof(t->errmsg), "pmt_tracer: %s: log cut at event %llu: %s",
			 t->path, (unsigned long long)st->framed, strerror(-st->error));
}

/* Writes the pending SKIP and the trailer and closes. Returns 0 or -errno;
 * the tracer is closed either way. */
int tracer_close_log(struct tracer *t)
{
	int r = 0;
	if (!t->is_open)
		return 0;
	tracer_uninstall(t);
	heap_stop(t);	 /* no allocator record is written after this */
	objects_stop(t); /* nor any object record */
	if (t->w) {
		uint64_t pending = t->log_events ? t->unwritten : t->seen;
		if (t->heap)
			pending = heap_pending(t, t->seen);
		if (!t->failed)
			r = pmt_writer_skip(t->w, pending);
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		struct pmt_trailer tr = {
		    .total_events = t->seen,
		    .end_wall_ns = wall_ns(),
		    .peak_rss = (uint64_t)ru.ru_maxrss * 1024,
		    .flags = PMT_TRL_CLEAN | (t->failed ? PMT_TRL_HOOK_ERROR : 0),
		};
		int r2 = pmt_writer_close(t->w, &tr);
		if (r == 0)
			r = r2;
		struct pmt_writer_status st;
		pmt_writer_status(t->w, &st);
		writer_failure(t, &st);
		t->final_written = t->w->events;
		t->final_bytes = pmt_writer_bytes(t->w);
		pmt_writer_free(t->w);
		t->w = NULL;
	}
	t->final_events = t->seen;
	pmt_rss_close(&t->rss);
	t->is_open = false;
	t->suspended = false;
	return r;
}

/* ---- fatal signals ------------------------------------------------------- */

/* SIGTERM or SIGHUP with nothing to handle it kills the program at once: no
 * atexit, no trailer, and what the writer thread had not written yet is
 * lost. The handler has each writer thread write what was published and a
 * trailer (PMT_TRL_SIGNAL), waits for them a little, and dies of the signal
 * as the program would have (the parent's wait status says so). It is
 * installed in C only, where the disposition is SIG_DFL: Python's view of the
 * handlers (signal.getsignal) stays what it was, and a handler the program
 * installs replaces this one, as it would replace the default. */

#define SIGNAL_WAIT_MS 3000

static volatile sig_atomic_t dying;

static void on_fatal_signal(int sig)
{
	int saved = errno;
	struct mod_state *st = tracer_the_state;
	if (!dying && st) {
		dying = 1;
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		/* The open list only changes under the GIL; a signal that comes
		 * in the middle of that is a risk taken for the trailer. */
		for (struct tracer *t = st->open; t; t = t->next_open) {
			if (!t->w || t->fork_pending)
				continue;
			struct pmt_trailer tr = {
			    .total_events = t->seen,
			    .end_wall_ns = wall_ns(),
			    .peak_rss = (uint64_t)ru.ru_maxrss * 1024,
			    .flags = PMT_TRL_SIGNAL | (t->failed ? PMT_TRL_HOOK_ERROR : 0),
			    .signal = (uint32_t)sig,
			};
			pmt_writer_close_async(t->w, &tr);
		}
		for (int ms = 0; ms < SIGNAL_WAIT_MS; ms++) {
			bool all = true;
			for (struct tracer *t = st->open; t; t = t->next_open)
				if (t->w && !t->fork_pending && !pmt_writer_done(t->w))
					all = false;
			if (all)
				break;
			struct timespec ts = {0, 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	/* Blocked while this runs: delivered, by default, on return. */
	struct sigaction sa = {.sa_handler = SIG_DFL};
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
	raise(sig);
	errno = saved;
}

int tracer_close_on_signals(void)
{
	static const int sigs[] = {SIGTERM, SIGHUP};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction old, sa = {.sa_handler = on_fatal_signal};
		if (sigaction(sigs[i], NULL, &old) < 0)
			return -1;
		if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL)
			continue; /* ignored, or someone's handler */
		sigfillset(&sa.sa_mask);
		if (sigaction(sigs[i], &sa, NULL) < 0)
			return -1;
	}
	return 0;
}
