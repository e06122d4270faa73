/* SPDX-License-Identifier: MIT */
/* cPyMemTrace ReferenceTracing text logs (pymemtrace 0.6, CPython 3.13+):
 *   an optional message, SOF, a HDR: line naming LiveCnt, then
 *   NEW:/DEL: Clock Address LiveCnt Type File Line Function RSS dRSS,
 *   MSG:/ERR: <clock> # <text>, and EOF.
 * Each NEW/DEL becomes an OBJECT item (type interned by name, site code by
 * file and function). Two quirks of the writer are handled here: the first
 * line's dRSS is garbage (never initialised), so dRSS is ignored and
 * recomputed from RSS; and "Resuming reference tracing." is written twice
 * per resume, so the second of two in a row is dropped. File names may
 * contain spaces: four tokens are taken from each side and the rest is the
 * file. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <libpmt/core/errors.h>
#include <libpmt/read/backend.h>

struct rt {
	uint64_t lineno;
	bool seen_sof, seen_hdr, seen_eof, seen_line;
	bool last_resume; /* the previous line was "Resuming reference tracing." */
	char *buf;	  /* copy of a message's text */
};

static const char RESUME[] = "Resuming reference tracing.";

static bool is_sp(char c) { return c == ' ' || c == '\t' || c == '\r'; }

static bool ltok(const char **p, const char *end, const char **t, size_t *n)
{
	while (*p < end && is_sp(**p))
		(*p)++;
	*t = *p;
	while (*p < end && !is_sp(**p))
		(*p)++;
	*n = (size_t)(*p - *t);
	return *n > 0;
}

static bool rtok(const char *start, const char **e, const char **t, size_t *n)
{
	while (*e > start && is_sp((*e)[-1]))
		(*e)--;
	const char *q = *e;
	while (*e > start && !is_sp((*e)[-1]))
		(*e)--;
	*t = *e;
	*n = (size_t)(q - *e);
	return *n > 0;
}

static bool num(const char *t, size_t n, int base, long long *v, bool real, double *d)
{
	char tmp[64];
	if (n == 0 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, t, n);
	tmp[n] = 0;
	char *e;
	errno = 0;
	if (real)
		*d = strtod(tmp, &e);
	else
		*v = (long long)strtoull(tmp, &e, base);
	return *e == 0 && errno == 0;
}

/* A clock in seconds that converts to nanoseconds in 64 bits (not NaN,
 * not negative, under 584 years). */
static bool clock_ok(double c) { return c >= 0 && c < 1.8e10; }

static bool tag(const char *l, size_t n, const char *t)
{
	size_t m = strlen(t);
	return n >= m && !memcmp(l, t, m);
}

/* A left-aligned field of at least width characters and a space: its text
 * without the padding, which may hold spaces (the type "symtable entry").
 * One longer than width has no padding: it ends at the first space. */
static void field(const char **p, const char *end, size_t width, const char **t, size_t *n)
{
	const char *f = *p, *q;
	if ((size_t)(end - f) > width && f[width] == ' ') {
		q = f + width;
		*p = q + 1;
	} else {
		for (q = f; q < end && !is_sp(*q); q++)
			;
		*p = q < end ? q + 1 : q;
	}
	while (q > f && is_sp(q[-1]))
		q--;
	*t = f;
	*n = (size_t)(q - f);
}

/* NEW: or DEL:, then " %12.6f %16p %16ld %-32s %-80s %4d %-40s %16zd %16ld":
 * clock, address, live count, type, file, line, function, RSS, dRSS. The
 * numbers hold no space; type, file and function may (a function
 * "<generic parameters of SupportsAbs>"), so they are cut by their widths,
 * and the function is what is left between the line and RSS. */
static int object_line(struct pmt_source *s, const char *l, size_t len, struct pmt_item *it)
{
	const char *p = l + 4, *end = l + len, *t, *ty, *file, *fn, *ln, *rs;
	size_t n, tyn, filen, lnn, rsn;
	long long addr, line, rss, lc;
	double clock;
	if (!ltok(&p, end, &t, &n) || !num(t, n, 0, NULL, true, &clock) || !clock_ok(clock) ||
	    !ltok(&p, end, &t, &n) || !num(t, n, 16, &addr, false, NULL) ||
	    !ltok(&p, end, &t, &n) || !num(t, n, 10, &lc, false, NULL) || p >= end || *p++ != ' ')
		return PMT_E_CORRUPT;
	field(&p, end, 32, &ty, &tyn);
	field(&p, end, 80, &file, &filen);
	if (!tyn || !ltok(&p, end, &ln, &lnn) || !num(ln, lnn, 10, &line, false, NULL) ||
	    line < 0 || line > UINT32_MAX || p >= end || *p++ != ' ')
		return PMT_E_CORRUPT;
	const char *e = end;
	if (!rtok(p, &e, &t, &n) || !num(t, n, 10, &lc, false, NULL) || /* dRSS: ignored */
	    !rtok(p, &e, &rs, &rsn) || !num(rs, rsn, 10, &rss, false, NULL) || rss < 0 ||
	    rss > PMT_MAX_RSS_BYTES)
		return PMT_E_CORRUPT;
	fn = p;
	while (e > fn && is_sp(e[-1]))
		e--;
	uint32_t code = 0, type = 0;
	int r = pmt_symtab_intern_code(&s->syms, PMT_CODE_PY, 0, file, filen, fn, (size_t)(e - fn),
				       &code);
	if (r == 0)
		r = pmt_symtab_intern_name(&s->syms, ty, tyn, &type);
	if (r < 0)
		return r;
	memset(it, 0, sizeof(*it));
	it->type = PMT_ITEM_OBJECT;
	it->ev.time_ns = (uint64_t)(clock * 1e9);
	it->ev.rss = rss;
	it->obj.op = l[0] == 'N' ? PMT_OBJECT_NEW : PMT_OBJECT_DEL;
	it->obj.site = (struct pmt_site){.thread = 0, .code = code, .line = (uint32_t)line};
	it->obj.addr = (uint64_t)addr;
	it->obj.type = type;
	it->obj.time_ns = it->ev.time_ns;
	it->obj.rss = rss;
	return 1;
}

/* 1 with an item, 0 for a line that gives none, -errno. */
static int rt_line(struct pmt_source *s, struct rt *st, const char *l, size_t len,
		   struct pmt_item *it)
{
	while (len && l[len - 1] == '\r')
		len--;
	bool resume = false;
	int r = 0;
	if (!st->seen_sof) {
		if (len == 3 && !memcmp(l, "SOF", 3)) {
			st->seen_sof = true;
			return 0;
		}
		if (tag(l, len, "HDR: ") || tag(l, len, "NEW: ") || tag(l, len, "DEL: "))
			st->seen_sof = true; /* no SOF: take it from here */
		else {
			/* the opening message */
			*it =
			    (struct pmt_item){.type = PMT_ITEM_MESSAGE, .text = l, .text_len = len};
			return 1;
		}
	}
	if (len == 3 && !memcmp(l, "EOF", 3)) {
		st->seen_eof = true;
	} else if (tag(l, len, "HDR: ")) {
		st->seen_hdr = true;
	} else if (tag(l, len, "NEW: ") || tag(l, len, "DEL: ")) {
		r = object_line(s, l, len, it);
		st->seen_line = true;
	} else if (tag(l, len, "MSG: ") || tag(l, len, "ERR: ")) {
		const char *p = l + 5, *end = l + len, *t;
		size_t n;
		double clock = 0;
		if (!ltok(&p, end, &t, &n) || !num(t, n, 0, NULL, true, &clock) || !clock_ok(clock))
			return PMT_E_CORRUPT;
		while (p < end && is_sp(*p))
			p++;
		if (p < end && *p == '#')
			p++;
		if (p < end && *p == ' ')
			p++;
		resume = (size_t)(end - p) == sizeof(RESUME) - 1 &&
			 !memcmp(p, RESUME, sizeof(RESUME) - 1);
		if (resume && st->last_resume) {
			st->last_resume = false; /* pymemtrace writes it twice */
			return 0;
		}
		*it = (struct pmt_item){
		    .type = PMT_ITEM_MESSAGE, .text = p, .text_len = (size_t)(end - p)};
		it->ev.time_ns = (uint64_t)(clock * 1e9);
		r = 1;
	} else {
		return PMT_E_CORRUPT;
	}
	st->last_resume = resume;
	return r;
}

static int rt_next(struct pmt_source *s, struct pmt_item *it)
{
	struct rt *st = s->state;
	for (;;) {
		const char *line;
		size_t len;
		int r = pmt_input_getline(s->in, &line, &len);
		if (r < 0) {
			pmt_backend_detail(s, "after line %llu", (unsigned long long)st->lineno);
			return r;
		}
		if (r == 0) {
			if (!st->seen_hdr && !st->seen_line) {
				pmt_backend_detail(s, "no ReferenceTracing header");
				return PMT_E_CORRUPT;
			}
			if (!st->seen_eof) {
				s->truncated = true;
				pmt_backend_detail(s, "no EOF line after line %llu",
						   (unsigned long long)st->lineno);
			}
			return 0;
		}
		st->lineno++;
		if (st->seen_eof) {
			pmt_backend_detail(s, "line %llu: after EOF",
					   (unsigned long long)st->lineno);
			return PMT_E_CORRUPT;
		}
		r = rt_line(s, st, line, len, it);
		if (r < 0) {
			uint64_t at = st->lineno;
			const char *l2;
			size_t n2;
			if (r == PMT_E_CORRUPT && pmt_input_getline(s->in, &l2, &n2) == 0) {
				/* a cut last line of a killed writer is truncation */
				s->truncated = true;
				pmt_backend_detail(s, "line %llu cut short",
						   (unsigned long long)at);
				return 0;
			}
			pmt_backend_detail(s, "line %llu: not a ReferenceTracing line",
					   (unsigned long long)at);
			return r;
		}
		if (r > 0)
			return 1;
	}
}

static void rt_free(void *state)
{
	struct rt *st = state;
	if (st)
		free(st->buf);
	free(st);
}

static const struct pmt_source_ops rt_ops = {.next = rt_next, .free = rt_free};

int pmt_backend_reftrace_init(struct pmt_source *s)
{
	struct rt *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	s->state = st;
	s->ops = &rt_ops;
	s->hdr = (struct pmt_header){
	    .version = 0,
	    .page_size = 4096,
	    .python_version = "",
	    .mode = PMT_MODE_PROFILE,
	    .rss_source = "pymemtrace",
	    .drss_trigger = -1,
	    .flags = PMT_HDR_OBJECTS | PMT_HDR_NO_EVENTS,
	};
	return pmt_symtab_set_thread(&s->syms, 0, 0, "", 0);
}
