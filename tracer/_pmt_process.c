/* SPDX-License-Identifier: MIT */
/* pmt_tracer._pmt_process: the process monitor's native thread.
 *
 * A pthread samples /proc/PID/{stat,statm} every interval and writes
 * pymemtrace-compatible ProcessLoggingThread-JSON lines, each with one
 * write(2) on an O_APPEND descriptor, so it interleaves safely with the
 * application's own logging into the same file. The thread never takes the
 * GIL and needs no psutil. When the monitored process ends, the thread
 * writes a STOP record on its own and ends (pymemtrace hangs instead).
 *
 * The monitored program may close any fd and open its own files on the
 * same numbers. So the thread unshares its fd table at start (it keeps its
 * two fds and drops its copies of all others at once): the program's
 * close() and dup2() cannot reach the monitor's fds any more, nor can the
 * monitor keep a file of the program's open. Where unshare is refused
 * (seccomp), the fds still sit high (new files take the lowest free
 * number), and each is checked to be the file it opened (device and inode)
 * before every use: the log is reopened by its path in append mode (or,
 * given as a bare fd, no longer written: stop() says so), /proc/PID again
 * by path when it is still the same process (its start time). Every
 * sample is parsed strictly: a file that is not stat/statm is no sample. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "process-line.h"

struct label {
	struct label *next;
	char json[]; /* the label as a JSON string literal (json.dumps) */
};

/* An fd of ours and what it must still be. */
struct kept_fd {
	int fd;
	dev_t dev;
	ino_t ino;
};

typedef struct {
	PyObject_HEAD pid_t pid;
	double interval;
	struct kept_fd log; /* O_APPEND */
	char *path;	    /* the log's path, to reopen it; NULL: a bare fd */
	struct kept_fd dir; /* /proc/PID, so a recycled PID is never sampled */
	uint64_t starttime; /* the process's start (stat field 22), 0: unknown */
	unsigned reopens;   /* log or /proc/PID found not ours and reopened */
	bool fds_ready;	    /* under lock: the thread has its fd table */
	bool fds_private;   /* ... of its own: the fds are not in the program's */
	bool log_lost;	    /* the bare log fd is no longer ours: not written */
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

/* ---- our fds ---- */

/* Far above the program's: it gets the fd numbers it would untraced, and a
 * program reopening its files after closing everything rarely lands on
 * ours. Takes over fd. */
static int move_high(int fd)
{
	int min = 512;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < 1024)
		min = (int)(rl.rlim_cur / 2);
	if (fd >= min)
		return fd;
	int hi = fcntl(fd, F_DUPFD_CLOEXEC, min);
	if (hi < 0)
		return fd;
	close(fd);
	return hi;
}

static int keep(struct kept_fd *k, int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	k->fd = move_high(fd);
	k->dev = st.st_dev;
	k->ino = st.st_ino;
	return 0;
}

static bool is_ours(const struct kept_fd *k)
{
	struct stat st;
	return k->fd >= 0 && fstat(k->fd, &st) == 0 && st.st_dev == k->dev && st.st_ino == k->ino;
}

/* Closes only an fd that is still ours. */
static void release(struct kept_fd *k)
{
	if (is_ours(k))
		close(k->fd);
	k->fd = -1;
}

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

/* The start time (field 22) in a stat line, or 0. */
static uint64_t stat_starttime(const char *st)
{
	const char *p = strrchr(st, ')');
	if (!p)
		return 0;
	for (int field = 2; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	return strtoull(p, NULL, 10);
}

/* /proc/PID still ours, or again by path if it is the same process. */
static int proc_dir(Monitor *m)
{
	if (is_ours(&m->dir))
		return 0;
	m->dir.fd = -1; /* that number is someone else's now */
	char path[64], st[1024];
	snprintf(path, sizeof(path), "/proc/%ld", (long)m->pid);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || keep(&m->dir, fd) < 0)
		return -ESRCH;
	if (m->starttime && (read_file_at(m->dir.fd, "stat", st, sizeof(st)) <= 0 ||
			     stat_starttime(st) != m->starttime)) {
		release(&m->dir); /* another process has the PID now */
		return -ESRCH;
	}
	m->reopens++;
	return 0;
}

/* 0, or -ESRCH when the process is gone or a zombie */
static int take_sample(Monitor *m, struct sample *s)
{
	char st[1024], sm[256];
	if (proc_dir(m) < 0)
		return -ESRCH;
	int n = read_file_at(m->dir.fd, "stat", st, sizeof(st));
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
	if (!m->starttime)
		m->starttime = f[22];
	double start = (double)f[22] / (double)m->ticks;
	s->elapsed = (double)boot.tv_sec + (double)boot.tv_nsec * 1e-9 - start;
	if (read_file_at(m->dir.fd, "statm", sm, sizeof(sm)) <= 0)
		return -ESRCH;
	unsigned long long v[7] = {0};
	int used = 0;
	if (sscanf(sm, "%llu %llu %llu %llu %llu %llu %llu\n%n", &v[0], &v[1], &v[2], &v[3], &v[4],
		   &v[5], &v[6], &used) != 7 ||
	    sm[used] || v[1] > v[0])
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

/* The log fd, still ours, or the log reopened by its path. Never writes
 * to a number that is someone else's now. */
static int log_fd(Monitor *m)
{
	if (m->log_lost)
		return -EBADF;
	if (is_ours(&m->log))
		return 0;
	m->log.fd = -1;
	int fd = m->path ? open(m->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644) : -1;
	int err = fd < 0 ? (m->path ? -errno : -EBADF) : keep(&m->log, fd);
	if (err) {
		m->log_lost = !m->path;
		if (!m->write_errno)
			m->write_errno = -err;
		return err;
	}
	m->reopens++;
	return 0;
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
	struct line_fmt lf = {m->ticks, m->page, (long)m->pid, m->level};
	int n = format_line(&lf, s, prefix, label, buf, cap);
	if (n > 0 && log_fd(m) == 0) {
		/* one write(2): O_APPEND makes it atomic against other writers */
		ssize_t k;
		do
			k = write(m->log.fd, buf, (size_t)n);
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

/* A private fd table holding only the monitor's two fds. */
static bool private_fds(Monitor *m)
{
	if (unshare(CLONE_FILES) < 0)
		return false;
	int lo = m->log.fd < m->dir.fd ? m->log.fd : m->dir.fd;
	int hi = m->log.fd < m->dir.fd ? m->dir.fd : m->log.fd;
	/* our copies of the program's fds: dropped, they are not ours to keep */
	for (int fd = 0; fd < lo; fd++)
		close(fd);
	for (int fd = lo + 1; fd < hi; fd++)
		close(fd);
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)hi + 1, ~0u, 0) == 0)
		return true;
#endif
	struct rlimit rl;
	int max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
		      ? (int)rl.rlim_cur
		      : 65536;
	for (int fd = hi + 1; fd < max; fd++)
		close(fd);
	return true;
}

static void *monitor_main(void *arg)
{
	Monitor *m = arg;
	bool priv = private_fds(m);
	pthread_mutex_lock(&m->lock);
	m->fds_private = priv;
	m->fds_ready = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
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
	static char *kwlist[] = {"pid", "interval", "fd", "level", "path", NULL};
	long pid;
	double interval;
	int fd;
	const char *level = "INFO";
	PyObject *path_arg = Py_None, *path = NULL;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "ldi|sO", kwlist, &pid, &interval, &fd, &level,
					 &path_arg))
		return -1;
	if (path_arg != Py_None && !PyUnicode_FSConverter(path_arg, &path))
		return -1;
	int ret = -1;
	if (self->started) {
		PyErr_SetString(PyExc_RuntimeError, "monitor already initialised");
		goto out;
	}
	if (!(interval > 0.0) || !isfinite(interval) || interval > 1e6) {
		PyErr_SetString(PyExc_ValueError, "interval must be a positive number of seconds");
		goto out;
	}
	if (pid <= 0) {
		PyErr_SetString(PyExc_ValueError, "pid must be positive");
		goto out;
	}
	char dpath[64];
	snprintf(dpath, sizeof(dpath), "/proc/%ld", pid);
	int dfd = open(dpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		if (errno == ENOENT)
			PyErr_Format(PyExc_ProcessLookupError, "no process %ld", pid);
		else
			PyErr_SetFromErrnoWithFilename(PyExc_OSError, dpath);
		goto out;
	}
	int wfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (wfd < 0) {
		PyErr_SetFromErrno(PyExc_OSError);
		close(dfd);
		goto out;
	}
	release(&self->dir);
	release(&self->log);
	int e = keep(&self->dir, dfd);
	if (!e)
		e = keep(&self->log, wfd);
	else
		close(wfd);
	if (e) {
		errno = -e;
		PyErr_SetFromErrno(PyExc_OSError);
		goto out;
	}
	free(self->path);
	self->path = path ? strdup(PyBytes_AS_STRING(path)) : NULL;
	self->pid = (pid_t)pid;
	self->interval = interval;
	snprintf(self->level, sizeof(self->level), "%s", level);
	ret = 0;
out:
	Py_XDECREF(path);
	return ret;
}

static PyObject *Monitor_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	Monitor *self = (Monitor *)type->tp_alloc(type, 0);
	if (!self)
		return NULL;
	self->log.fd = -1;
	self->dir.fd = -1;
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
	if (self->log.fd < 0) {
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
	/* Once the thread has its own fd table, the program's keeps none of
	 * the monitor's fds: it sees the fds it would see untraced. */
	Py_BEGIN_ALLOW_THREADS pthread_mutex_lock(&self->lock);
	while (!self->fds_ready)
		pthread_cond_wait(&self->cond, &self->lock);
	pthread_mutex_unlock(&self->lock);
	Py_END_ALLOW_THREADS if (self->fds_private)
	{
		if (is_ours(&self->log))
			close(self->log.fd);
		if (is_ours(&self->dir))
			close(self->dir.fd);
	}
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

/* Read once the thread has finished (stop() joined it). */
static PyObject *Monitor_get_reopens(Monitor *self, void *closure)
{
	return PyLong_FromUnsignedLong(self->reopens);
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
	if (!self->fds_private) { /* else the thread's own table had them */
		release(&self->log);
		release(&self->dir);
	}
	free(self->path);
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
    {"reopens", (getter)Monitor_get_reopens, NULL,
     "times the log or /proc/PID fd was found closed or reused by the program and reopened", NULL},
    {"interval", (getter)Monitor_get_interval, NULL, "seconds between records", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot Monitor_slots[] = {
    {Py_tp_new, Monitor_new},
    {Py_tp_init, Monitor_init},
    {Py_tp_dealloc, Monitor_dealloc},
    {Py_tp_methods, Monitor_methods},
    {Py_tp_getset, Monitor_getset},
    {Py_tp_doc, "Monitor(pid, interval, fd, level='INFO', path=None): native process monitor "
		"thread; path: the log's, to reopen it if the program closes the fd."},
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
