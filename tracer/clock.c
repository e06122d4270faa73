/* SPDX-License-Identifier: MIT */
/* The events' clock (clock.h): when the TSC may be used, and its scale. */
#include "clock.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The kernel keeps time with the TSC: then it is invariant and in step on
 * every CPU (the kernel checks both before it chooses it). */
static bool kernel_uses_tsc(void)
{
	int fd = open("/sys/devices/system/clocksource/clocksource0/current_clocksource",
		      O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	char buf[32];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return !strcmp(buf, "tsc\n") || !strcmp(buf, "tsc");
}

void evclock_init(struct evclock *c, uint64_t start_ns)
{
	memset(c, 0, sizeof(*c));
	c->last = start_ns;
	const char *env = getenv("PMT_TRACER_CLOCK");
	bool mono_only = env && !strcmp(env, "monotonic");
	c->use_tsc = PMT_CLOCK_HAVE_TSC && !mono_only && kernel_uses_tsc();
}

uint64_t evclock_slow(struct evclock *c)
{
	uint64_t ns = evclock_mono();
#if PMT_CLOCK_HAVE_TSC
	if (c->use_tsc) {
		uint64_t tsc = __rdtsc();
		if (!c->cal_tsc) {
			c->cal_tsc = tsc;
			c->cal_ns = ns;
		} else if (ns - c->cal_ns >= PMT_CLOCK_CALIBRATE_NS && tsc > c->cal_tsc) {
			uint64_t dns = ns - c->cal_ns, dt = tsc - c->cal_tsc;
			unsigned __int128 m = ((unsigned __int128)dns << 32) / dt;
			/* ticks in one anchor interval, at this scale */
			unsigned __int128 l = (unsigned __int128)dt * PMT_CLOCK_ANCHOR_NS / dns;
			if (m && m < ((unsigned __int128)1 << 48) && l > 0 && l < UINT64_MAX) {
				c->mult = (uint64_t)m;
				c->limit = (uint64_t)l;
			}
		}
		c->anchor_tsc = tsc;
		c->anchor_ns = ns;
	}
#endif
	if (ns < c->last)
		ns = c->last;
	c->last = ns;
	return ns;
}
