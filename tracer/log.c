/* SPDX-License-Identifier: MIT */
/* The log's life cycle: paths, open (a new log in a fork child too), close
 * with the trailer, and the idle flusher thread. */
#include "tracer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define FLUSH_IDLE_NS (100ull * 1000 * 1000)

static uint64_t next_gen = 1;

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the idle flusher ---------------------------------------------------- */

/* Ends the frame when events are pending and none came for FLUSH_IDLE_NS,
 * so a program that goes quiet and is then killed keeps what it did. */
static void *flusher_main(void *arg)
{
	struct tracer *t = arg;
	pthread_mutex_lock(&t->fl_mu);
	while (!t->fl_stop) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)FLUSH_IDLE_NS;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&t->fl_cond, &t->fl_mu, &ts);
		if (t->fl_stop)
			break;
		if (!atomic_load_explicit(&t->dirty, memory_order_relaxed))
			continue;
		uint64_t now = mono_ns() - t->start_mono;
		if (now - atomic_load_explicit(&t->last_event_t, memory_order_relaxed) <
		    FLUSH_IDLE_NS)
			continue;
		pthread_mutex_unlock(&t->fl_mu);
		PyGILState_STATE g = PyGILState_Ensure();
		/* stop() sets fl_stop with the GIL held before it waits for us. */
		if (!t->fl_stop && t->w && atomic_load(&t->dirty)) {
			atomic_store(&t->dirty, 0);
			int r = pmt_writer_end_frame(t->w, t->w->last_t);
			if (r < 0)
				hook_fail(t, "write failed", r);
		}
		PyGILState_Release(g);
		pthread_mutex_lock(&t->fl_mu);
	}
	pthread_mutex_unlock(&t->fl_mu);
	return NULL;
}

static int flusher_start(struct tracer *t)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&t->fl_mu, NULL);
	pthread_cond_init(&t->fl_cond, &ca);
	pthread_condattr_destroy(&ca);
	t->fl_stop = false;
	int r = pthread_create(&t->fl_thread, NULL, flusher_main, t);
	if (r)
		return -r;
	t->fl_running = true;
	return 0;
}

/* Called with the GIL held; releases it while joining, since the flusher
 * may be waiting for it. */
static void flusher_stop(struct tracer *t)
{
	if (!t->fl_running)
		return;
	pthread_mutex_lock(&t->fl_mu);
	t->fl_stop = true;
	pthread_cond_signal(&t->fl_cond);
	pthread_mutex_unlock(&t->fl_mu);
	Py_BEGIN_ALLOW_THREADS pthread_join(t->fl_thread, NULL);
	Py_END_ALLOW_THREADS t->fl_running = false;
	pthread_mutex_destroy(&t->fl_mu);
	pthread_cond_destroy(&t->fl_cond);
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

/* Opens the log (a new one in a fork child): fd, RSS source, header, writer,
 * flusher. Sets a Python exception and returns -1 on failure. */
int tracer_open_log(struct tracer *t, bool child)
{
	char *path = expand_path(t->template_path, child);
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
	    .flags = (t->prev ? PMT_HDR_PREV : 0) | (t->calc == CALC_NONE ? PMT_HDR_CALC_NONE : 0),
	    .rss_start = (uint64_t)t->rss_start,
	    .cwd = cwd,
	    .stdlib_dir = stdlib_dir,
	    .nsite = nsite,
	    .site_dirs = (const char *const *)site_dirs,
	};
	r = pmt_writer_new(fd, &h, NULL, &t->w);
	if (r < 0) {
		close(fd);
		pmt_rss_close(&t->rss);
		PyErr_Format(PyExc_OSError, "pmt_tracer: %s: %s", path, strerror(-r));
		return -1;
	}
	t->gen = next_gen++;
	t->next_id = 1;
	t->seen = t->unwritten = 0;
	t->have_prev = false;
	t->failed = false;
	t->hook_announced = false;
	t->errmsg[0] = 0;
	atomic_store(&t->dirty, 0);
	atomic_store(&t->last_event_t, 0);
	pmt_hash_clear(&t->ctab);
	threads_reset(t);
	r = flusher_start(t);
	if (r < 0) {
		pmt_writer_free(t->w);
		t->w = NULL;
		pmt_rss_close(&t->rss);
		PyErr_Format(PyExc_OSError, "pmt_tracer: flusher thread: %s", strerror(-r));
		return -1;
	}
	t->is_open = true;
	return 0;
}

/* Writes the pending SKIP and the trailer and closes. Returns 0 or -errno;
 * the tracer is closed either way. */
int tracer_close_log(struct tracer *t)
{
	int r = 0;
	if (!t->is_open)
		return 0;
	tracer_uninstall(t);
	flusher_stop(t);
	if (t->w) {
		uint64_t pending = t->log_events ? t->unwritten : t->seen;
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
