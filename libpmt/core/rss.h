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
 * pmt_rss per process; not thread-safe by itself (the tracer holds the GIL). */
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

struct pmt_rss {
	enum pmt_rss_kind kind;
	int statm_fd;
	long pages; /* last value read */
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

/* Re-reads statm. Returns pages, or -errno. */
long pmt_rss_read_statm(struct pmt_rss *r);

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
