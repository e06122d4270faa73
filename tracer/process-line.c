/* SPDX-License-Identifier: MIT */
/* The process monitor's log lines (see process-line.h). */
#include "process-line.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

int format_line(const struct line_fmt *m, const struct sample *s, const char *prefix,
		const char *label, char *out, size_t cap)
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
	    "%s,%03ld - process-line.c#%d - %5ld - (%-10s) - %-8s - %s {\"timestamp\": "
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
