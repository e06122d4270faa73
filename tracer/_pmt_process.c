/* SPDX-License-Identifier: MIT */
/* pmt_tracer._pmt_process: the process monitor's native thread.
 *
 * A pthread samples /proc/PID/{stat,statm} every interval and writes
 * pymemtrace-compatible ProcessLoggingThread-JSON lines, each with one
 * write(2) on an O_APPEND descriptor, so it interleaves safely with the
 * application's own logging into the same file. The thread never takes the
 * GIL and needs no psutil. When the monitored process ends, the thread
 * writes a STOP record on its own and ends (pymemtrace hangs instead). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct sample {
	struct timespec wall;
	double elapsed;
	uint64_t size, resident, shared, text, lib, data, dirty; /* pages */
	uint64_t minflt, majflt;
	uint64_t utime, stime, cutime, cstime, blkio; /* clock ticks */
};

struct label {
	struct label *next;
	char json[]; /* the label as a JSON string literal (json.dumps) */
};

typedef struct {
	PyObject_HEAD pid_t pid;
	double interval;
	int fd;
	int dirfd; /* /proc/PID, so a recycled PID is never sampled */
	char level[16];
	pthread_t thread;
	bool started, joined;
	pthread_mutex_t lock;
	pthread_cond_t cond;		     /* signalled on stop request and thread end */
	bool stop_requested;		     /* under lock */
	bool finished;			     /* under lock */
	struct label *labels, **labels_tail; /* under lock */
	int write_errno;		     /* first write error, reported by stop() */
	bool ended;			     /* the monitored process ended */
	bool have_last;
	struct sample last;
	long ticks;
	long page;
} Monitor;

/* ---- sampling ---- */

static int read_file_at(int dirfd, const char *name, char *buf, size_t cap)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n, k;
	size_t got = 0;
	while (got + 1 < cap && (k = read(fd, buf + got, cap - 1 - got)) != 0) {
		if (k < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			close(fd);
			return (int)n;
		}
		got += (size_t)k;
	}
	close(fd);
	buf[got] = '\0';
	return (int)got;
}

/* 0, or -ESRCH when the process is gone or a zombie */
static int take_sample(Monitor *m, struct sample *s)
{
	char st[1024], sm[256];
	int n = read_file_at(m->dirfd, "stat", st, sizeof(st));
	if (n <= 0)
		return -ESRCH;
	struct timespec boot;
	clock_gettime(CLOCK_REALTIME, &s->wall);
	clock_gettime(CLOCK_BOOTTIME, &boot);
	/* comm may hold spaces and parentheses: fields start after the last ')' */
	char *p = strrchr(st, ')');
	if (!p || p[1] != ' ')
		return -ESRCH;
	p += 2;
	char state = *p;
	if (state == 'Z' || state == 'X' || state == 'x')
		return -ESRCH;
	/* field 3 is state; count from there */
	uint64_t f[53] = {0};
	int field = 3;
	char *q = p;
	while (*q && field < 53) {
		while (*q == ' ')
			q++;
		if (!*q)
			break;
		if (field > 3)
			f[field] = strtoull(q, NULL, 10);
		while (*q && *q != ' ')
			q++;
		field++;
	}
	if (field <= 22)
		return -ESRCH;
	s->minflt = f[10];
	s->majflt = f[12];
	s->utime = f[14];
	s->stime = f[15];
	s->cutime = f[16];
	s->cstime = f[17];
	s->blkio = field > 42 ? f[42] : 0;
	double start = (double)f[22] / (double)m->ticks;
	s->elapsed = (double)boot.tv_sec + (double)boot.tv_nsec * 1e-9 - start;
	if (read_file_at(m->dirfd, "statm", sm, sizeof(sm)) <= 0)
		return -ESRCH;
	unsigned long long v[7] = {0};
	if (sscanf(sm, "%llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
		   &v[5], &v[6]) < 6)
		return -ESRCH;
	s->size = v[0];
	s->resident = v[1];
	s->shared = v[2];
	s->text = v[3];
	s->lib = v[4];
	s->data = v[5];
	s->dirty = v[6];
	return 0;
}

/* ---- formatting ---- */

/* Python's repr(float): the shortest digits that read back, fixed notation
 * for exponents -4..15, else d.ddde+XX (json.dumps writes floats so). */
static int py_float(char *out, size_t cap, double x)
{
	if (!isfinite(x))
		return snprintf(out, cap, "%s",
				isnan(x) ? "NaN" : (x > 0 ? "Infinity" : "-Infinity"));
	if (x == 0.0)
		return snprintf(out, cap, "%s", signbit(x) ? "-0.0" : "0.0");
	char e[40];
	for (int prec = 0; prec < 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec, x);
		if (strtod(e, NULL) == x)
			break;
	}
	/* e = [-]d[.ddd]e[+-]XX */
	const char *p = e;
	bool neg = *p == '-';
	if (neg)
		p++;
	char dig[24];
	size_t nd = 0;
	for (; *p && *p != 'e'; p++)
		if (*p != '.')
			dig[nd++] = *p;
	while (nd > 1 && dig[nd - 1] == '0')
		nd--;
	dig[nd] = '\0';
	int exp10 = atoi(p + 1);
	int decpt = exp10 + 1;
	char buf[64];
	size_t o = 0;
	if (neg)
		buf[o++] = '-';
	if (decpt > -4 && decpt <= 16) {
		if (decpt <= 0) {
			buf[o++] = '0';
			buf[o++] = '.';
			for (int i = 0; i < -decpt; i++)
				buf[o++] = '0';
			memcpy(buf + o, dig, nd);
			o += nd;
		} else if ((int)nd <= decpt) {
			memcpy(buf + o, dig, nd);
			o += nd;
			for (int i = (int)nd; i < decpt; i++)
				buf[o++] = '0';
			buf[o++] = '.';
			buf[o++] = '0';
		} else {
			memcpy(buf + o, dig, (size_t)decpt);
			o += (size_t)decpt;
			buf[o++] = '.';
			memcpy(buf + o, dig + decpt, nd - (size_t)decpt);
			o += nd - (size_t)decpt;
		}
		buf[o] = '\0';
	} else {
		buf[o++] = dig[0];
		if (nd > 1) {
			buf[o++] = '.';
			memcpy(buf + o, dig + 1, nd - 1);
			o += nd - 1;
		}
		snprintf(buf + o, sizeof(buf) - o, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
	}
	return snprintf(out, cap, "%s", buf);
}

/* One log line, in the layout of pymemtrace's CLI logging format:
 * %(asctime)s - %(filename)s#%(lineno)d - %(process)5d - (%(threadName)-10s)
 * - %(levelname)-8s - %(message)s. Returns the length or -1. */
static int format_line(Monitor *m, const struct sample *s, const char *prefix, const char *label,
		       char *out, size_t cap)
{
	struct tm tm;
	time_t secs = s->wall.tv_sec;
	localtime_r(&secs, &tm);
	char date[32];
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
	long us = s->wall.tv_nsec / 1000;
	double t = (double)m->ticks;
	uint64_t pg = (uint64_t)m->page;
	char user[32], sys[32], cu[32], cs[32], io[32], el[32];
	py_float(user, sizeof(user), (double)s->utime / t);
	py_float(sys, sizeof(sys), (double)s->stime / t);
	py_float(cu, sizeof(cu), (double)s->cutime / t);
	py_float(cs, sizeof(cs), (double)s->cstime / t);
	py_float(io, sizeof(io), (double)s->blkio / t);
	py_float(el, sizeof(el), s->elapsed);
	int n = snprintf(
	    out, cap,
	    "%s,%03ld - _pmt_process.c#%d - %5ld - (%-10s) - %-8s - %s {\"timestamp\": "
	    "\"%s.%06ld\", "
	    "\"memory_info\": {\"rss\": %" PRIu64 ", \"vms\": %" PRIu64 ", \"pfaults\": %" PRIu64
	    ", \"pageins\": %" PRIu64 ", \"shared\": %" PRIu64 ", \"text\": %" PRIu64
	    ", \"lib\": %" PRIu64 ", \"data\": %" PRIu64 ", \"dirty\": %" PRIu64 "}, "
	    "\"cpu_times\": {\"user\": %s, \"system\": %s, \"children_user\": %s, "
	    "\"children_system\": %s, \"iowait\": %s}, \"elapsed_time\": %s, \"pid\": %ld%s%s}\n",
	    date, us / 1000, __LINE__, (long)getpid(), "ProcMon", m->level, prefix, date, us,
	    s->resident * pg, s->size * pg, s->minflt + s->majflt, s->majflt, s->shared * pg,
	    s->text * pg, s->lib * pg, s->data * pg, s->dirty * pg, user, sys, cu, cs, io, el,
	    (long)m->pid, label ? ", \"label\": " : "", label ? label : "");
	if (n < 0 || (size_t)n >= cap)
		return -1;
	return n;
}

static void emit(Monitor *m, const struct sample *s, const char *prefix, const char *label)
{
	char small[1024];
	char *buf = small;
	size_t cap = sizeof(small);
	if (label) {
		cap = strlen(label) + sizeof(small);
		buf = malloc(cap);
		if (!buf) {
			if (!m->write_errno)
				m->write_errno = ENOMEM;
			return;
		}
	}
	int n = format_line(m, s, prefix, label, buf, cap);
	if (n > 0) {
		/* one write(2): O_APPEND makes it atomic against other writers */
		ssize_t k;
		do
			k = write(m->fd, buf, (size_t)n);
		while (k < 0 && errno == EINTR);
		if (k < 0 && !m->write_errno)
			m->write_errno = errno;
		else if (k >= 0 && k < n && !m->write_errno)
			m->write_errno = EIO;
	}
	if (buf != small)
		free(buf);
}

static struct label *take_labels(Monitor *m)
{
	pthread_mutex_lock(&m->lock);
	struct label *l = m->labels;
	m->labels = NULL;
	m->labels_tail = &m->labels;
	pthread_mutex_unlock(&m->lock);
	return l;
}

/* One tick: a plain record, or one freshly sampled record per queued label
 * (pymemtrace). Returns false when the process has ended. */
static bool tick(Monitor *m, const char *prefix)
{
	struct label *l = take_labels(m);
	bool alive = true;
	if (!l) {
		struct sample s;
		if (take_sample(m, &s) == 0) {
			m->last = s;
			m->have_last = true;
			emit(m, &s, prefix, NULL);
		} else {
			alive = false;
		}
	}
	while (l) {
		struct label *next = l->next;
		struct sample s;
		if (alive && take_sample(m, &s) == 0) {
			m->last = s;
			m->have_last = true;
			emit(m, &s, prefix, l->json);
		} else {
			alive = false;
		}
		free(l);
		l = next;
	}
	return alive;
}

static void *monitor_main(void *arg)
{
	Monitor *m = arg;
	bool alive = tick(m, "ProcessLoggingThread-JSON-START");
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (alive) {
		double add = m->interval;
		next.tv_sec += (time_t)add;
		next.tv_nsec += (long)((add - floor(add)) * 1e9);
		if (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > next.tv_sec ||
		    (now.tv_sec == next.tv_sec && now.tv_nsec > next.tv_nsec))
			next = now; /* fell behind (suspended): no burst of records */
		pthread_mutex_lock(&m->lock);
		int rc = 0;
		while (!m->stop_requested && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&m->cond, &m->lock, &next);
		bool stop = m->stop_requested;
		pthread_mutex_unlock(&m->lock);
		if (stop)
			break;
		alive = tick(m, "ProcessLoggingThread-JSON");
	}
	if (alive) {
		/* asked to stop: fresh STOP records (one per queued label) */
		alive = tick(m, "ProcessLoggingThread-JSON-STOP");
	}
	if (!alive) {
		m->ended = true;
		struct label *l = take_labels(m);
		while (l) {
			struct label *nx = l->next;
			free(l);
			l = nx;
		}
		/* the process is gone: its last sample closes the record */
		if (m->have_last)
			emit(m, &m->last, "ProcessLoggingThread-JSON-STOP", NULL);
	}
	pthread_mutex_lock(&m->lock);
	m->finished = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

/* ---- Python type ---- */

static int Monitor_init(Monitor *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"pid", "interval", "fd", "level", NULL};
	long pid;
	double interval;
	int fd;
	const char *level = "INFO";
	if (!PyArg_ParseTupleAndKeywords(args, kw, "ldi|s", kwlist, &pid, &interval, &fd, &level))
		return -1;
	if (self->started) {
		PyErr_SetString(PyExc_RuntimeError, "monitor already initialised");
		return -1;
	}
	if (!(interval > 0.0) || !isfinite(interval) || interval > 1e6) {
		PyErr_SetString(PyExc_ValueError, "interval must be a positive number of seconds");
		return -1;
	}
	if (pid <= 0) {
		PyErr_SetString(PyExc_ValueError, "pid must be positive");
		return -1;
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld", pid);
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		if (errno == ENOENT)
			PyErr_Format(PyExc_ProcessLookupError, "no process %ld", pid);
		else
			PyErr_SetFromErrnoWithFilename(PyExc_OSError, path);
		return -1;
	}
	int wfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (wfd < 0) {
		PyErr_SetFromErrno(PyExc_OSError);
		close(dfd);
		return -1;
	}
	if (self->dirfd >= 0)
		close(self->dirfd);
	if (self->fd >= 0)
		close(self->fd);
	self->dirfd = dfd;
	self->fd = wfd;
	self->pid = (pid_t)pid;
	self->interval = interval;
	snprintf(self->level, sizeof(self->level), "%s", level);
	return 0;
}

static PyObject *Monitor_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	Monitor *self = (Monitor *)type->tp_alloc(type, 0);
	if (!self)
		return NULL;
	self->fd = -1;
	self->dirfd = -1;
	self->ticks = sysconf(_SC_CLK_TCK);
	self->page = sysconf(_SC_PAGESIZE);
	if (self->ticks <= 0)
		self->ticks = 100;
	pthread_mutex_init(&self->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&self->cond, &ca);
	pthread_condattr_destroy(&ca);
	self->labels_tail = &self->labels;
	strcpy(self->level, "INFO");
	return (PyObject *)self;
}

static PyObject *Monitor_start(Monitor *self, PyObject *unused)
{
	if (self->fd < 0) {
		PyErr_SetString(PyExc_RuntimeError, "monitor not initialised");
		return NULL;
	}
	if (self->started) {
		PyErr_SetString(PyExc_RuntimeError, "monitor already started");
		return NULL;
	}
	/* Python handles signals in its main thread; keep them off this one */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&self->thread, NULL, monitor_main, self);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		errno = rc;
		return PyErr_SetFromErrno(PyExc_OSError);
	}
	self->started = true;
	Py_RETURN_NONE;
}

static void join_thread(Monitor *self)
{
	if (!self->started || self->joined)
		return;
	pthread_mutex_lock(&self->lock);
	self->stop_requested = true;
	pthread_cond_broadcast(&self->cond);
	pthread_mutex_unlock(&self->lock);
	pthread_join(self->thread, NULL);
	self->joined = true;
}

static PyObject *Monitor_stop(Monitor *self, PyObject *unused)
{
	Py_BEGIN_ALLOW_THREADS join_thread(self);
	Py_END_ALLOW_THREADS if (self->write_errno)
	{
		errno = self->write_errno;
		self->write_errno = 0;
		return PyErr_SetFromErrno(PyExc_OSError);
	}
	Py_RETURN_NONE;
}

/* wait(timeout=None) -> True once the thread has finished (the monitored
 * process ended, or stop() was called). */
static PyObject *Monitor_wait(Monitor *self, PyObject *args)
{
	PyObject *tobj = Py_None;
	if (!PyArg_ParseTuple(args, "|O", &tobj))
		return NULL;
	double timeout = -1.0;
	if (tobj != Py_None) {
		timeout = PyFloat_AsDouble(tobj);
		if (timeout == -1.0 && PyErr_Occurred())
			return NULL;
		if (timeout < 0)
			timeout = 0;
	}
	if (!self->started)
		Py_RETURN_FALSE;
	bool done;
	Py_BEGIN_ALLOW_THREADS struct timespec dl;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	if (timeout >= 0) {
		dl.tv_sec += (time_t)timeout;
		dl.tv_nsec += (long)((timeout - floor(timeout)) * 1e9);
		if (dl.tv_nsec >= 1000000000L) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&self->lock);
	int rc = 0;
	while (!self->finished && rc != ETIMEDOUT) {
		if (timeout >= 0)
			rc = pthread_cond_timedwait(&self->cond, &self->lock, &dl);
		else
			pthread_cond_wait(&self->cond, &self->lock);
	}
	done = self->finished;
	pthread_mutex_unlock(&self->lock);
	Py_END_ALLOW_THREADS return PyBool_FromLong(done);
}

/* add_label(json_text): json_text is the label already encoded as a JSON
 * string (json.dumps), so labels are escaped exactly as pymemtrace does. */
static PyObject *Monitor_add_label(Monitor *self, PyObject *args)
{
	const char *js;
	Py_ssize_t n;
	if (!PyArg_ParseTuple(args, "s#", &js, &n))
		return NULL;
	if (n < 2 || js[0] != '"' || js[n - 1] != '"' || memchr(js, '\n', (size_t)n)) {
		PyErr_SetString(PyExc_ValueError, "label must be a JSON string literal");
		return NULL;
	}
	struct label *l = malloc(sizeof(*l) + (size_t)n + 1);
	if (!l)
		return PyErr_NoMemory();
	memcpy(l->json, js, (size_t)n);
	l->json[n] = '\0';
	l->next = NULL;
	pthread_mutex_lock(&self->lock);
	*self->labels_tail = l;
	self->labels_tail = &l->next;
	pthread_mutex_unlock(&self->lock);
	Py_RETURN_NONE;
}

static PyObject *Monitor_get_running(Monitor *self, void *closure)
{
	pthread_mutex_lock(&self->lock);
	bool r = self->started && !self->finished;
	pthread_mutex_unlock(&self->lock);
	return PyBool_FromLong(r);
}

static PyObject *Monitor_get_ended(Monitor *self, void *closure)
{
	pthread_mutex_lock(&self->lock);
	bool r = self->finished && self->ended;
	pthread_mutex_unlock(&self->lock);
	return PyBool_FromLong(r);
}

static PyObject *Monitor_get_pid(Monitor *self, void *closure)
{
	return PyLong_FromLong((long)self->pid);
}

static PyObject *Monitor_get_interval(Monitor *self, void *closure)
{
	return PyFloat_FromDouble(self->interval);
}

static void Monitor_dealloc(Monitor *self)
{
	PyTypeObject *tp = Py_TYPE(self);
	join_thread(self);
	struct label *l = self->labels;
	while (l) {
		struct label *nx = l->next;
		free(l);
		l = nx;
	}
	if (self->fd >= 0)
		close(self->fd);
	if (self->dirfd >= 0)
		close(self->dirfd);
	pthread_mutex_destroy(&self->lock);
	pthread_cond_destroy(&self->cond);
	tp->tp_free((PyObject *)self);
	Py_DECREF(tp);
}

static PyMethodDef Monitor_methods[] = {
    {"start", (PyCFunction)Monitor_start, METH_NOARGS,
     "Start the thread; it writes the START record at once."},
    {"stop", (PyCFunction)Monitor_stop, METH_NOARGS,
     "Write the STOP record and join the thread (idempotent)."},
    {"wait", (PyCFunction)Monitor_wait, METH_VARARGS,
     "wait(timeout=None) -> True when the thread has finished."},
    {"add_label", (PyCFunction)Monitor_add_label, METH_VARARGS,
     "add_label(json_string): a labelled record at the next tick."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Monitor_getset[] = {
    {"running", (getter)Monitor_get_running, NULL, "thread started and not finished", NULL},
    {"ended", (getter)Monitor_get_ended, NULL, "the monitored process ended", NULL},
    {"pid", (getter)Monitor_get_pid, NULL, "monitored PID", NULL},
    {"interval", (getter)Monitor_get_interval, NULL, "seconds between records", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot Monitor_slots[] = {
    {Py_tp_new, Monitor_new},
    {Py_tp_init, Monitor_init},
    {Py_tp_dealloc, Monitor_dealloc},
    {Py_tp_methods, Monitor_methods},
    {Py_tp_getset, Monitor_getset},
    {Py_tp_doc, "Monitor(pid, interval, fd, level='INFO'): native process monitor thread."},
    {0, NULL},
};

static PyType_Spec Monitor_spec = {
    .name = "pmt_tracer._pmt_process.Monitor",
    .basicsize = sizeof(Monitor),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = Monitor_slots,
};

static int module_exec(PyObject *mod)
{
	PyObject *tp = PyType_FromSpec(&Monitor_spec);
	if (!tp)
		return -1;
	if (PyModule_AddObject(mod, "Monitor", tp) < 0) {
		Py_DECREF(tp);
		return -1;
	}
	return 0;
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pmt_tracer._pmt_process",
    .m_doc = "Native process monitor: ProcessLoggingThread-JSON records from /proc.",
    .m_size = 0,
    .m_slots = module_slots,
};

__attribute__((visibility("default"))) PyMODINIT_FUNC PyInit__pmt_process(void);
__attribute__((visibility("default"))) PyMODINIT_FUNC PyInit__pmt_process(void)
{
	return PyModuleDef_Init(&module_def);
}
