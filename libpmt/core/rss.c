/* SPDX-License-Identifier: MIT */
/* RSS sources: statm (pread of a kept-open /proc/self/statm) and perf
 * (statm re-read only when the kmem:rss_stat tracepoint fired for our mm).
 *
 * Why the perf gate is exact: every change of an mm's RSS counters goes
 * through add_mm_counter()/inc_mm_counter()/dec_mm_counter(), which emit
 * kmem:rss_stat right after updating the counter that statm reads -- in
 * whatever task makes the change: one of our threads, or a kernel thread
 * acting on our memory (kswapd or DAMON reclaiming, khugepaged collapsing).
 * So the events are system-wide, one per online CPU (each with its own ring
 * and gate), with a filter on the tracepoint's mm_id: our mm's hashed id,
 * learnt once from a sample of a change we make ourselves. Per-task events
 * would miss the kernel threads' changes and leave a stale value. An event
 * with sample_period 1 writes one record per firing into its ring, so the
 * ring's data_head moves whenever statm may have changed. After each statm
 * read data_tail is moved up to the head seen, so the ring is empty again and
 * the next firing always moves data_head, however many records a single call
 * produced (a full ring drops records, it would not move the head).
 *
 * System-wide events need perf permission beyond the default
 * perf_event_paranoid=2 (root, CAP_PERFMON, or paranoid <= 0); without it
 * perf fails to open and auto uses statm, remembering which check failed.
 *
 * The program owns the fd table: it may close our fds and get their numbers
 * back for its own files. A perf event's fd is closed as soon as its ring
 * is mapped (the mapping holds the event), so perf keeps no fd at all;
 * statm's fd sits high (new files take the lowest free number), is checked
 * to be the same /proc/self/statm before every read, is reopened by path
 * when it is not, and is closed only while it is still ours. */
#include <libpmt/core/rss.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static const char *const kind_names[PMT_RSS_KIND_COUNT] = {
    [PMT_RSS_AUTO] = "auto",
    [PMT_RSS_STATM] = "statm",
    [PMT_RSS_PERF] = "perf",
};

const char *pmt_rss_name(enum pmt_rss_kind k)
{
	if ((unsigned)k >= PMT_RSS_KIND_COUNT)
		return "unknown";
	return kind_names[k];
}

int pmt_rss_parse(const char *name)
{
	if (!name)
		return -1;
	for (int k = 0; k < PMT_RSS_KIND_COUNT; k++)
		if (strcmp(name, kind_names[k]) == 0)
			return k;
	return -1;
}

/* ---- perf source ---- */

/* One data page holds 512 sample records (8 bytes each with sample_type 0);
 * more is never needed because the tail is moved up at every statm read and
 * only "did data_head move" matters. */
#define RING_DATA_PAGES 1

struct perf_src {
	unsigned ncpu;
	int cpu[PMT_RSS_MAX_GATES];
	struct perf_event_mmap_page *ring[PMT_RSS_MAX_GATES]; /* holds its event */
	size_t ring_len;
};

static int sys_perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group,
			       unsigned long flags)
{
	long fd = syscall(SYS_perf_event_open, attr, pid, cpu, group, flags);
	return fd < 0 ? -errno : (int)fd;
}

static int read_small_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n;
	do
		n = read(fd, buf, size - 1);
	while (n < 0 && errno == EINTR);
	int err = n < 0 ? -errno : 0;
	close(fd);
	if (err)
		return err;
	buf[n] = '\0';
	return (int)n;
}

/* The library never mounts tracefs; it looks where it is usually mounted. */
static int tracepoint_id(long long *id)
{
	static const char *const paths[] = {
	    "/sys/kernel/tracing/events/kmem/rss_stat/id",
	    "/sys/kernel/debug/tracing/events/kmem/rss_stat/id",
	};
	char buf[32];
	int err = -ENOENT;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		int n = read_small_file(paths[i], buf, sizeof(buf));
		if (n < 0) {
			if (err == -ENOENT)
				err = n;
			continue;
		}
		char *end;
		errno = 0;
		long long v = strtoll(buf, &end, 10);
		if (errno || end == buf || v < 0)
			return -EINVAL;
		*id = v;
		return 0;
	}
	return err;
}

/* Parses /sys/devices/system/cpu/online ("0-3,8,10-11"). */
static int online_cpus(int *cpus, unsigned max, unsigned *n)
{
	char buf[512];
	int len = read_small_file("/sys/devices/system/cpu/online", buf, sizeof(buf));
	if (len < 0)
		return len;
	*n = 0;
	const char *p = buf;
	while (*p && *p != '\n') {
		char *end;
		long a = strtol(p, &end, 10), b;
		if (end == p || a < 0)
			return -EINVAL;
		p = end;
		b = a;
		if (*p == '-') {
			b = strtol(p + 1, &end, 10);
			if (end == p + 1 || b < a)
				return -EINVAL;
			p = end;
		}
		for (long c = a; c <= b; c++) {
			if (*n >= max)
				return -ENOTSUP;
			cpus[(*n)++] = (int)c;
		}
		if (*p == ',')
			p++;
	}
	return *n ? 0 : -EINVAL;
}

static void rss_attr(struct perf_event_attr *attr, long long id)
{
	memset(attr, 0, sizeof(*attr));
	attr->size = sizeof(*attr);
	attr->type = PERF_TYPE_TRACEPOINT;
	attr->config = (unsigned long long)id;
	attr->sample_period = 1;
	attr->sample_type = 0; /* the record header alone moves data_head */
	/* Nobody polls the ring: wake up as rarely as the kernel allows. */
	attr->watermark = 1;
	attr->wakeup_watermark = RING_DATA_PAGES * 4096u;
}

/* The tracepoint's mm_id for our mm: a hash of the mm pointer that only the
 * kernel knows, so read it from a sample of a change we make: one page
 * touched and unmapped, recorded by a per-task event with the raw
 * tracepoint data (mm_id at byte 8, curr at byte 12 of it, as the
 * tracepoint's format file says). */
static int discover_mm_id(long long id, long page, uint32_t *mm_id)
{
	struct perf_event_attr attr;
	rss_attr(&attr, id);
	attr.sample_type = PERF_SAMPLE_RAW;
	int fd = sys_perf_event_open(&attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return fd;
	size_t len = (size_t)page * 2;
	struct perf_event_mmap_page *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int err = -ENOTSUP;
	if (m == MAP_FAILED) {
		err = -errno;
		goto out_fd;
	}
	char *probe =
	    mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (probe == MAP_FAILED) {
		err = -errno;
		goto out_map;
	}
	((volatile char *)probe)[0] = 1;
	munmap(probe, (size_t)page);
	uint64_t head = __atomic_load_n(&m->data_head, __ATOMIC_ACQUIRE);
	const uint8_t *data = (const uint8_t *)m + m->data_offset;
	uint64_t size = m->data_size;
	for (uint64_t pos = 0; pos + sizeof(struct perf_event_header) <= head;) {
		struct perf_event_header h;
		uint8_t rec[64];
		for (unsigned i = 0; i < sizeof(h); i++) /* the ring may wrap */
			((uint8_t *)&h)[i] = data[(pos + i) % size];
		if (h.size < sizeof(h))
			break;
		if (h.type == PERF_RECORD_SAMPLE && h.size >= sizeof(h) + 4 + 16 &&
		    h.size <= sizeof(rec)) {
			for (unsigned i = 0; i < h.size; i++)
				rec[i] = data[(pos + i) % size];
			uint32_t raw_len, curr;
			memcpy(&raw_len, rec + sizeof(h), 4);
			memcpy(mm_id, rec + sizeof(h) + 4 + 8, 4);
			memcpy(&curr, rec + sizeof(h) + 4 + 12, 4);
			if (raw_len >= 16 && curr) {
				err = 0;
				break;
			}
		}
		pos += h.size;
	}
out_map:
	munmap(m, len);
out_fd:
	close(fd);
	return err;
}

static void perf_free(struct pmt_rss *r)
{
	struct perf_src *ps = r->priv;

	r->ngates = 0;
	if (!ps)
		return;
	/* In a fork child the rings were not copied (VM_DONTCOPY) and their
	 * addresses may hold something else by now: never unmap them there. */
	bool mapped_here = r->owner_pid == getpid();
	for (unsigned i = 0; i < ps->ncpu; i++)
		if (ps->ring[i] && mapped_here)
			munmap(ps->ring[i], ps->ring_len);
	free(ps);
	r->priv = NULL;
}

static bool gates_moved(const struct pmt_rss *r, const uint64_t *before)
{
	for (unsigned i = 0; i < r->ngates; i++)
		if (*r->gate[i] != before[i])
			return true;
	return false;
}

/* The kernel may accept the events and still never fire them for us (an
 * unexpected kernel, an exclude flag, a tracepoint that moved): prove that
 * both growth and shrinking of RSS move a gate before trusting it. */
static int perf_self_check(struct pmt_rss *r)
{
	const size_t len = 1 << 20;
	long page = sysconf(_SC_PAGESIZE);
	uint64_t before[PMT_RSS_MAX_GATES];
	int err = 0;

	for (unsigned i = 0; i < r->ngates; i++)
		before[i] = *r->gate[i];
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	for (size_t off = 0; off < len; off += (size_t)page)
		((volatile char *)p)[off] = 1;
	if (!gates_moved(r, before))
		err = -ENOTSUP;
	for (unsigned i = 0; i < r->ngates; i++)
		before[i] = *r->gate[i];
	munmap(p, len);
	if (!err && !gates_moved(r, before))
		err = -ENOTSUP;
	return err;
}

static void set_why(struct pmt_rss *r, enum pmt_rss_why why, int err)
{
	r->why = why;
	r->why_err = err < 0 ? -err : err;
}

static int perf_open(struct pmt_rss *r)
{
	struct perf_event_attr attr;
	long long id;
	long page = sysconf(_SC_PAGESIZE);
	int err = tracepoint_id(&id);
	if (err) {
		set_why(r,
			err == -EACCES || err == -EPERM ? PMT_RSS_WHY_TRACEFS_ACCESS
							: PMT_RSS_WHY_NO_TRACEFS,
			err);
		return err;
	}

	struct perf_src *ps = calloc(1, sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	r->priv = ps;
	err = online_cpus(ps->cpu, PMT_RSS_MAX_GATES, &ps->ncpu);
	if (err) {
		ps->ncpu = 0;
		set_why(r, err == -ENOTSUP ? PMT_RSS_WHY_CPUS : PMT_RSS_WHY_UNSUPPORTED, err);
		goto out;
	}
	ps->ring_len = (size_t)page * (1 + RING_DATA_PAGES);

	uint32_t mm_id = 0;
	err = discover_mm_id(id, page, &mm_id);
	if (err) {
		set_why(r,
			err == -EACCES || err == -EPERM ? PMT_RSS_WHY_PERMISSION
			: err == -ENOTSUP		? PMT_RSS_WHY_SELF_CHECK
							: PMT_RSS_WHY_UNSUPPORTED,
			err);
		goto out;
	}
	char filter[32];
	snprintf(filter, sizeof(filter), "mm_id == %u", mm_id);
	for (unsigned i = 0; i < ps->ncpu; i++) {
		rss_attr(&attr, id);
		int fd = sys_perf_event_open(&attr, -1, ps->cpu[i], -1, PERF_FLAG_FD_CLOEXEC);
		if (fd < 0) {
			err = fd;
			set_why(r,
				err == -EACCES || err == -EPERM ? PMT_RSS_WHY_PERMISSION
								: PMT_RSS_WHY_UNSUPPORTED,
				err);
			goto out;
		}
		void *m = MAP_FAILED;
		if (ioctl(fd, PERF_EVENT_IOC_SET_FILTER, filter) < 0)
			err = -errno;
		else if ((m = mmap(NULL, ps->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
				   0)) == MAP_FAILED)
			err = -errno;
		/* The mapping keeps the event alive and counting: no fd to guard. */
		close(fd);
		if (err) {
			set_why(r, PMT_RSS_WHY_UNSUPPORTED, err);
			goto out;
		}
		ps->ring[i] = m;
		/* __u64 and uint64_t are distinct types of the same width */
		r->gate[i] = (volatile uint64_t *)&ps->ring[i]->data_head;
		r->ngates = i + 1;
	}
	err = perf_self_check(r);
	if (err)
		set_why(r, PMT_RSS_WHY_SELF_CHECK, err);
out:
	if (err)
		perf_free(r);
	else
		set_why(r, PMT_RSS_WHY_NONE, 0);
	return err;
}

const char *pmt_rss_why_text(const struct pmt_rss *r, const char **hint)
{
	const char *h = NULL, *text = NULL;
	switch (r->why) {
	case PMT_RSS_WHY_NONE:
		break;
	case PMT_RSS_WHY_NO_TRACEFS:
		text = "tracefs is not mounted (no events/kmem/rss_stat/id under "
		       "/sys/kernel/tracing or /sys/kernel/debug/tracing)";
		h = "sudo mount -t tracefs nodev /sys/kernel/tracing";
		break;
	case PMT_RSS_WHY_TRACEFS_ACCESS:
		text = "the kmem:rss_stat id in tracefs is readable by root only";
		h = "run as root (the perf source needs root or CAP_PERFMON, and read access "
		    "to /sys/kernel/tracing)";
		break;
	case PMT_RSS_WHY_CPUS:
		text = "more CPUs online than the perf source watches (64)";
		break;
	case PMT_RSS_WHY_PERMISSION:
		text = "perf_event_open refused: system-wide tracepoint events need root, "
		       "CAP_PERFMON or kernel.perf_event_paranoid=-1";
		h = geteuid() == 0 ? NULL : "sudo sysctl kernel.perf_event_paranoid=-1";
		break;
	case PMT_RSS_WHY_UNSUPPORTED:
		text = "this kernel's perf events cannot be used for it (perf_event_open or "
		       "mmap failed)";
		break;
	case PMT_RSS_WHY_SELF_CHECK:
		text = "the kmem:rss_stat events open but do not fire for this process";
		break;
	}
	if (hint)
		*hint = h;
	return text;
}

/* Empties every ring up to the head already seen (see the top comment). */
static void perf_release(struct pmt_rss *r)
{
	struct perf_src *ps = r->priv;
	for (unsigned i = 0; i < r->ngates; i++)
		__atomic_store_n(&ps->ring[i]->data_tail, (__u64)r->gate_seen[i], __ATOMIC_RELEASE);
}

/* ---- statm ---- */

/* New files take the lowest free number: an fd far above the program's
 * keeps it out of the way of a program that closes what it did not open
 * and reopens its own files, and gives the program the fd numbers it would
 * have untraced. */
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

static bool statm_is_ours(const struct pmt_rss *r)
{
	struct stat st;
	return r->statm_fd >= 0 && fstat(r->statm_fd, &st) == 0 &&
	       (uint64_t)st.st_dev == r->statm_dev && (uint64_t)st.st_ino == r->statm_ino;
}

/* Opens /proc/self/statm on a new number; the old one, if any, is not
 * touched (it may be the program's file now). */
static int statm_open_fd(struct pmt_rss *r)
{
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	fd = move_high(fd);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	r->statm_fd = fd;
	r->statm_dev = (uint64_t)st.st_dev;
	r->statm_ino = (uint64_t)st.st_ino;
	return 0;
}

/* Exactly "size resident shared text lib data dt\n": seven decimal numbers
 * without leading zeros, one space apart, and values a statm can have.
 * Anything else is not statm (the file on that number is not ours, or the
 * read was cut). Digits by hand: with the statm source this runs for every
 * traced event. Returns resident pages or -EIO. */
static long parse_statm(const char *p, const char *end)
{
	unsigned long v[7];
	for (int i = 0; i < 7; i++) {
		const char *d = p;
		unsigned long x = 0;
		while (p < end && (unsigned)(*p - '0') < 10) {
			x = x * 10 + (unsigned long)(*p - '0');
			p++;
		}
		size_t nd = (size_t)(p - d);
		if (nd == 0 || nd > 19 || (nd > 1 && *d == '0') || p == end ||
		    *p != (i < 6 ? ' ' : '\n'))
			return -EIO;
		p++;
		v[i] = x;
	}
	if (p != end || v[1] > v[0] || v[2] > v[0] || v[3] > v[0] || v[5] > v[0] ||
	    v[1] > (unsigned long)LONG_MAX)
		return -EIO;
	return (long)v[1];
}

/* Checking the fd before every read costs a syscall as dear as a third of
 * the read itself (fstat ~140 ns against ~400 ns for the pread, measured
 * here): the fd is checked whenever a read gives anything but the value
 * read last, and before every CHECK_EVERY-th read. So no value is ever
 * taken from a file that is not ours; a read of a number that has just
 * changed hands is a pread, which moves no offset and consumes nothing on
 * the files a program has (regular files, pipes and sockets refuse it). */
#define CHECK_EVERY 1024

static long statm_pread(struct pmt_rss *r)
{
	char buf[160];
	ssize_t n;
	do
		n = pread(r->statm_fd, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n < sizeof(buf) ? parse_statm(buf, buf + n) : -EIO;
}

long pmt_rss_read_statm(struct pmt_rss *r)
{
	long v = 0;
	bool done = false;
	if (__builtin_expect(r->statm_fd >= 0 && (++r->reads % CHECK_EVERY) != 0, 1)) {
		v = statm_pread(r);
		if (__builtin_expect(v == r->pages, 1))
			goto good;
		done = true;
	}
	if (!statm_is_ours(r)) {
		r->statm_fd = -1; /* that number is someone else's now */
		int err = statm_open_fd(r);
		if (err) {
			if (r->lost != err)
				r->fd_changes++;
			r->lost = err;
			return err;
		}
		r->lost = 0;
		r->reopens++;
		r->fd_changes++;
		v = statm_pread(r);
	} else if (!done) {
		v = statm_pread(r); /* the periodic check: the fd is ours, read it */
	}
	if (v < 0)
		return v;
	r->pages = v;
good:
	if (r->ngates)
		perf_release(r);
	return v;
}

static int statm_open(struct pmt_rss *r)
{
	int err = statm_open_fd(r);
	if (err)
		return err;
	long p = pmt_rss_read_statm(r);
	return p < 0 ? (int)p : 0;
}

static void statm_close(struct pmt_rss *r)
{
	if (statm_is_ours(r))
		close(r->statm_fd);
	r->statm_fd = -1;
}

/* ---- fork safety ---- */

/* The tracer may run its hook in a fork child before it gets round to
 * pmt_rss_reopen_after_fork(): the child's statm fd would still read the
 * parent's statm and its gates would point at unmapped memory. The fork
 * handler makes every live pmt_rss a plain statm source for the child at
 * once (one open; cheap enough for fork+exec); perf comes back in the
 * explicit reopen. */
#define MAX_LIVE 16
static struct pmt_rss *live[MAX_LIVE];
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void child_make_safe(struct pmt_rss *r)
{
	if (r->owner_pid == getpid())
		return;
	r->ngates = 0; /* the rings are not mapped in the child */
	/* The inherited fd reads the parent's statm; a new open reads ours
	 * (same device, another inode). */
	statm_close(r);
	if (statm_open_fd(r) == 0)
		pmt_rss_read_statm(r);
}

static void atfork_child(void)
{
	/* Single-threaded here; the lock may have been held by a thread that
	 * does not exist in the child, so it is reinitialised, not taken. */
	pthread_mutex_init(&live_lock, NULL);
	for (unsigned i = 0; i < MAX_LIVE; i++)
		if (live[i])
			child_make_safe(live[i]);
}

static void atfork_register(void) { pthread_atfork(NULL, NULL, atfork_child); }

static void live_add(struct pmt_rss *r)
{
	pthread_once(&atfork_once, atfork_register);
	pthread_mutex_lock(&live_lock);
	for (unsigned i = 0; i < MAX_LIVE; i++)
		if (!live[i]) {
			live[i] = r;
			break;
		}
	pthread_mutex_unlock(&live_lock);
}

static void live_remove(struct pmt_rss *r)
{
	pthread_mutex_lock(&live_lock);
	for (unsigned i = 0; i < MAX_LIVE; i++)
		if (live[i] == r)
			live[i] = NULL;
	pthread_mutex_unlock(&live_lock);
}

/* ---- public ---- */

static int open_kind(struct pmt_rss *r, enum pmt_rss_kind want)
{
	int err = statm_open(r);
	if (err)
		return err;
	if (want == PMT_RSS_STATM) {
		r->kind = PMT_RSS_STATM;
		return 0;
	}
	err = perf_open(r);
	if (!err) {
		r->kind = PMT_RSS_PERF;
		for (unsigned i = 0; i < r->ngates; i++)
			r->gate_seen[i] = *r->gate[i];
		long p = pmt_rss_read_statm(r);
		return p < 0 ? (int)p : 0;
	}
	if (want == PMT_RSS_PERF)
		return err;
	r->kind = PMT_RSS_STATM; /* auto: never a wrong number, only a slower one */
	return 0;
}

int pmt_rss_open(struct pmt_rss *r, enum pmt_rss_kind want)
{
	memset(r, 0, sizeof(*r));
	r->statm_fd = -1;
	r->owner_pid = getpid();
	if ((unsigned)want >= PMT_RSS_KIND_COUNT)
		return -EINVAL;
	int err = open_kind(r, want);
	if (err) {
		perf_free(r);
		statm_close(r);
		return err;
	}
	live_add(r);
	return 0;
}

void pmt_rss_close(struct pmt_rss *r)
{
	live_remove(r);
	perf_free(r);
	statm_close(r);
}

int pmt_rss_reopen_after_fork(struct pmt_rss *r)
{
	/* The fork handler may already have run child_make_safe(); the perf
	 * state (fds, bookkeeping) is the parent's either way. */
	child_make_safe(r);
	bool want_perf = r->kind == PMT_RSS_PERF;
	perf_free(r);
	r->owner_pid = getpid();
	statm_close(r);
	int err = statm_open(r);
	if (err)
		return err;
	r->kind = PMT_RSS_STATM;
	if (want_perf && perf_open(r) == 0) {
		r->kind = PMT_RSS_PERF;
		for (unsigned i = 0; i < r->ngates; i++)
			r->gate_seen[i] = *r->gate[i];
		long p = pmt_rss_read_statm(r);
		if (p < 0)
			return (int)p;
	}
	return 0;
}
