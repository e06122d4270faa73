/* SPDX-License-Identifier: MIT */
#pragma once
/* RSS sources for the tracer. A source answers "resident pages now" as
 * cheaply as it can and is always exact unless its name says otherwise.
 *
 *   statm  pread() of a kept-open /proc/self/statm, every call (fallback)
 *   perf   statm re-read only when the kmem:rss_stat tracepoint fired for
 *          this process's mm, in any task (system-wide per-CPU events
 *          filtered on mm_id: needs root or CAP_PERFMON, and tracefs)
 *
 * The struct is public so that pmt_rss_pages() inlines into the hook. One
 * pmt_rss per process; not thread-safe by itself (the tracer holds the GIL).
 *
 * The traced program may close any fd and open its own files on the same
 * numbers. So the source keeps no perf fd (the rings' mappings keep the
 * events alive), keeps statm on a high fd number, checks that the fd is
 * still the /proc/self/statm it opened (device and inode) before it takes
 * any value other than the last one, accepts only exactly statm's format
 * with sane values, reopens by path when the fd is no longer its own, and
 * never closes an fd that is not. */
#include <stdbool.h>
#include <stdint.h>

/* One gate per online CPU for the perf source; more CPUs than this and
 * "auto" uses statm (a gate check costs one load per CPU per event). */
#define PMT_RSS_MAX_GATES 64

enum pmt_rss_kind {
	PMT_RSS_AUTO = 0, /* best exact source available */
	PMT_RSS_STATM,
	PMT_RSS_PERF,
	PMT_RSS_KIND_COUNT,
};

/* Why auto chose statm (or why perf failed): the check that failed. */
enum pmt_rss_why {
	PMT_RSS_WHY_NONE = 0,	    /* perf works, or was not asked for */
	PMT_RSS_WHY_NO_TRACEFS,	    /* no kmem/rss_stat id in tracefs (not mounted) */
	PMT_RSS_WHY_TRACEFS_ACCESS, /* tracefs is there but its id file is unreadable */
	PMT_RSS_WHY_CPUS,	    /* more online CPUs than PMT_RSS_MAX_GATES */
	PMT_RSS_WHY_PERMISSION,	    /* perf_event_open refused (paranoid, no CAP_PERFMON) */
	PMT_RSS_WHY_UNSUPPORTED,    /* perf_event_open or mmap fails otherwise */
	PMT_RSS_WHY_SELF_CHECK,	    /* the events open but do not fire for our RSS */
};

struct pmt_rss {
	enum pmt_rss_kind kind;
	int statm_fd;
	uint64_t statm_dev, statm_ino; /* what statm_fd must still be */
	long pages;		       /* last value read */
	unsigned long reads;	       /* statm reads, for the periodic fd check */
	unsigned reopens;	       /* times statm_fd was found not ours and reopened */
	int lost;		       /* -errno while statm cannot be reopened, else 0 */
	unsigned fd_changes;	       /* bumped when reopens or lost change */
	enum pmt_rss_why why;	       /* see pmt_rss_why_text() */
	int why_err;		       /* the errno of that check (positive), or 0 */
	/* gated sources: re-read statm only when *gate != gate_seen */
	volatile uint64_t *gate[PMT_RSS_MAX_GATES];
	uint64_t gate_seen[PMT_RSS_MAX_GATES];
	unsigned ngates;
	void *priv;
	int owner_pid; /* process the fds and mappings belong to */
};

/* Name as written in log headers and accepted by --rss-source. */
const char *pmt_rss_name(enum pmt_rss_kind k);
/* Returns the kind or -1. */
int pmt_rss_parse(const char *name);

/* Opens the wanted source; AUTO picks the best one that works and falls
 * back to statm. Returns 0 or -errno (a specific kind that cannot work here
 * is -ENOTSUP / -EACCES / -ENOENT). On failure r is left closed (statm_fd
 * -1), so pmt_rss_close() is always safe. */
int pmt_rss_open(struct pmt_rss *r, enum pmt_rss_kind want);
/* An open pmt_rss must not be moved or copied: a fork handler keeps its
 * address so that a child never reads its parent's statm or a ring that
 * fork did not copy (perf mappings are VM_DONTCOPY). */
void pmt_rss_close(struct pmt_rss *r);
/* In a fork child: reopen for the child's own process (the inherited statm
 * fd still reads the parent's /proc/PID/statm). If the child cannot get
 * its own perf events it falls back to statm and r->kind says so: a
 * number is never wrong, only slower. */
int pmt_rss_reopen_after_fork(struct pmt_rss *r);

/* Re-reads statm. Returns pages, or -errno (-EIO: not statm's format).
 * When statm_fd is no longer the file it opened (closed, or another file
 * on its number), it opens /proc/self/statm again, leaves the old number
 * alone and counts it in r->reopens; if that open fails, r->lost says why
 * and the next read tries again. */
long pmt_rss_read_statm(struct pmt_rss *r);

/* Why the perf source is not in use, for a person: the failed check
 * (static text, lower case), and in *hint the change that would make it
 * work here (static, or NULL when none would). NULL when r->why is
 * PMT_RSS_WHY_NONE. */
const char *pmt_rss_why_text(const struct pmt_rss *r, const char **hint);

/* Resident pages now; on a read failure returns the last good value and
 * the error is visible through pmt_rss_read_statm() next time. */
static inline long pmt_rss_pages(struct pmt_rss *r)
{
	if (r->ngates) {
		bool changed = false;
		for (unsigned i = 0; i < r->ngates; i++) {
			uint64_t h = *r->gate[i];
			if (h != r->gate_seen[i]) {
				r->gate_seen[i] = h;
				changed = true;
			}
		}
		if (!changed)
			return r->pages;
	}
	long p = pmt_rss_read_statm(r);
	return p < 0 ? r->pages : p;
}
