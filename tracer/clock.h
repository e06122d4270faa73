/* SPDX-License-Identifier: MIT */
#pragma once
/* The events' clock: CLOCK_MONOTONIC nanoseconds, read on every event.
 *
 * clock_gettime() costs about 30 ns in the vDSO of these VMs, a sixth of
 * what the whole log adds per event on a call-dense program. Where the
 * kernel itself keeps time with the TSC (its clocksource is "tsc": invariant
 * and synchronised across CPUs, or the kernel would not use it), the hook
 * reads the TSC instead (about 10 ns) and scales it: ns = anchor_ns +
 * (tsc - anchor_tsc) * mult >> 32, where mult comes from two real readings
 * of CLOCK_MONOTONIC as far apart as the run has lasted, and the anchor is a
 * real reading at most PMT_CLOCK_ANCHOR_NS old. So an event's time is
 * CLOCK_MONOTONIC's to well under a microsecond (the scale's error over one
 * anchor interval), never goes backwards and follows NTP's slewing.
 * Elsewhere (other clocksource, other architecture, PMT_TRACER_CLOCK=
 * monotonic), every event reads CLOCK_MONOTONIC as before.
 *
 * One evclock per tracer; used with the GIL held (the hook's callers). */
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define PMT_CLOCK_HAVE_TSC 1
#else
#define PMT_CLOCK_HAVE_TSC 0
#endif

/* Re-anchor on a real reading after this much time. */
#define PMT_CLOCK_ANCHOR_NS 1000000u
/* Calibrate the scale over at least this much time before using it. */
#define PMT_CLOCK_CALIBRATE_NS 1000000u

struct evclock {
	uint64_t mult;		  /* ns per tick, 32.32 fixed point; 0: read CLOCK_MONOTONIC */
	uint64_t anchor_tsc;	  /* a real reading: the TSC ... */
	uint64_t anchor_ns;	  /* ... and CLOCK_MONOTONIC then */
	uint64_t limit;		  /* ticks after the anchor that need a new one */
	uint64_t last;		  /* the latest time returned: none is earlier */
	uint64_t cal_tsc, cal_ns; /* the first real reading: the scale's base */
	bool use_tsc;		  /* the TSC may be used here */
};

static inline uint64_t evclock_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Starts the clock; no time returned is before start_ns (a CLOCK_MONOTONIC
 * reading). Reads the environment and sysfs: call outside the hook. */
void evclock_init(struct evclock *c, uint64_t start_ns);
/* A real reading: re-anchors, and calibrates the scale. */
uint64_t evclock_slow(struct evclock *c);

/* CLOCK_MONOTONIC now, in ns (see above). */
static inline __attribute__((always_inline)) uint64_t evclock_now(struct evclock *c)
{
#if PMT_CLOCK_HAVE_TSC
	if (__builtin_expect(c->mult != 0, 1)) {
		uint64_t d = __rdtsc() - c->anchor_tsc;
		/* a TSC read before the anchor (another CPU's, a hair behind)
		 * wraps d: a real reading then */
		if (__builtin_expect(d < c->limit, 1)) {
			uint64_t ns =
			    c->anchor_ns + (uint64_t)(((unsigned __int128)d * c->mult) >> 32);
			if (__builtin_expect(ns < c->last, 0))
				ns = c->last;
			c->last = ns;
			return ns;
		}
	}
#endif
	return evclock_slow(c);
}
