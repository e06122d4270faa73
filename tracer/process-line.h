/* SPDX-License-Identifier: MIT */
#pragma once
/* The process monitor's samples and their log lines, in the layout of
 * pymemtrace's CLI logging format: %(asctime)s - %(filename)s#%(lineno)d -
 * %(process)5d - (%(threadName)-10s) - %(levelname)-8s - %(message)s, the
 * message being the prefix and the JSON record. */
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct sample {
	struct timespec wall;
	double elapsed;
	uint64_t size, resident, shared, text, lib, data, dirty; /* pages */
	uint64_t minflt, majflt;
	uint64_t utime, stime, cutime, cstime, blkio; /* clock ticks */
};

struct line_fmt {
	long ticks, page, pid;
	const char *level;
};

/* One line into out (label: a JSON string literal, or NULL). Returns its
 * length, or -1 when it does not fit. */
int format_line(const struct line_fmt *m, const struct sample *s, const char *prefix,
		const char *label, char *out, size_t cap);
