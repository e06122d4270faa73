/* SPDX-License-Identifier: MIT */
/* Reader of cPyMemTrace Profile/Trace text logs (pymemtrace 0.2–0.6, and
 * the v0.1 "#line" layout), plugged into struct pmt_source.
 *
 * What the log gives and how it maps (reference: pymemtrace-facts §1):
 *   - FRST: is event 0 (the attach moment, flag PMT_EV_FIRST); NEXT: lines
 *     are events; LAST: is a snapshot at the exit (flag PMT_EV_LAST) whose
 *     Event column is the number of events seen, so it closes the count.
 *   - PREV: lines are dropped: in 0.2+ logs they repeat the last NEXT (or a
 *     MSG prefix) and are not the previous event (§1.7). Gaps in the event
 *     numbers become SKIP items, so counts stay exact.
 *   - dRSS is recomputed as RSS minus the RSS of the previous event line:
 *     pymemtrace's own column makes event 1 jump by the whole RSS.
 *   - MSG: lines, untagged lines (message continuations, write_to_log) and
 *     the opening message before SOF become MESSAGE items.
 *   - No EOF line at the end: the log is truncated (killed process). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <libpmt/core/errors.h>
#include <libpmt/read/backend.h>

struct pymt {
	uint64_t lineno;
	bool seen_sof, seen_hdr, seen_eof, seen_event;
	uint64_t next_number; /* number the next event would have */
	int64_t last_rss;
	bool has_pending;
	struct pmt_item pending; /* event held back behind its SKIP */
	char pyver[32];
	bool mode_known;       /* from the file name: no guessing from kinds */
	uint32_t skipped_prev; /* PREV: lines dropped */
	uint64_t last_ns;      /* clock of the last dated line, for undated ones */
};

static bool is_space(char c) { return c == ' ' || c == '\t'; }

/* Next space-separated token in [*p, end). */
static bool token(const char **p, const char *end, const char **t, size_t *n)
{
	const char *q = *p;
	while (q < end && is_space(*q))
		q++;
	if (q == end)
		return false;
	const char *s = q;
	while (q < end && !is_space(*q))
		q++;
	*t = s;
	*n = (size_t)(q - s);
	*p = q;
	return true;
}

/* Last space-separated token in [start, *e). */
static bool rtoken(const char *start, const char **e, const char **t, size_t *n)
{
	const char *q = *e;
	while (q > start && is_space(q[-1]))
		q--;
	if (q == start)
		return false;
	const char *x = q;
	while (q > start && !is_space(q[-1]))
		q--;
	*t = q;
	*n = (size_t)(x - q);
	*e = q;
	return true;
}

static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
	if (!n || n > 20)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (d > 9)
			return false;
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static bool parse_i64(const char *s, size_t n, int64_t *out)
{
	bool neg = false;
	if (n && (*s == '-' || *s == '+')) {
		neg = *s == '-';
		s++;
		n--;
	}
	uint64_t v;
	if (!parse_u64(s, n, &v) || v > (uint64_t)INT64_MAX)
		return false;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return true;
}

/* "0.054555" -> ns, exactly (no floating point). */
static bool parse_clock(const char *s, size_t n, uint64_t *ns)
{
	const char *dot = memchr(s, '.', n);
	uint64_t sec, frac = 0;
	size_t ilen = dot ? (size_t)(dot - s) : n;
	if (!parse_u64(s, ilen, &sec) || sec > UINT64_MAX / 1000000000u)
		return false;
	if (dot) {
		size_t flen = n - ilen - 1;
		if (!flen)
			return false;
		for (size_t i = 0; i < 9; i++) {
			unsigned d = 0;
			if (i < flen) {
				d = (unsigned)(dot[1 + i] - '0');
				if (d > 9)
					return false;
			}
			frac = frac * 10 + d;
		}
		for (size_t i = 9; i < flen; i++)
			if ((unsigned)(dot[1 + i] - '0') > 9)
				return false;
	}
	if (sec * 1000000000u > UINT64_MAX - frac)
		return false;
	*ns = sec * 1000000000u + frac;
	return true;
}

/* Event, +dEvent, Clock: the common start of event and MSG lines. */
static bool parse_head(const char **p, const char *end, uint64_t *number, int64_t *devent,
		       uint64_t *ns)
{
	const char *t;
	size_t n;
	if (!token(p, end, &t, &n) || !parse_u64(t, n, number))
		return false;
	if (!token(p, end, &t, &n) || n < 2 || t[0] != '+' || !parse_i64(t + 1, n - 1, devent))
		return false;
	if (!token(p, end, &t, &n) || !parse_clock(t, n, ns))
		return false;
	return true;
}

static int parse_event(struct pmt_source *s, struct pymt *st, const char *p, const char *end,
		       struct pmt_event *ev)
{
	uint64_t number, ns;
	int64_t devent;
	const char *t, *what;
	size_t n, what_len;
	if (!parse_head(&p, end, &number, &devent, &ns))
		return PMT_E_CORRUPT;
	if (!token(&p, end, &what, &what_len))
		return PMT_E_CORRUPT;
	int kind = pmt_kind_parse(what, (unsigned)what_len);
	if (kind < 0)
		return PMT_E_CORRUPT;

	/* From the right: dRSS, RSS, Function, Line; File is what is left
	 * (paths may hold spaces and push the columns right). */
	const char *e = end;
	int64_t rss, drss_col;
	uint64_t line;
	const char *fn;
	size_t fn_len;
	if (!rtoken(p, &e, &t, &n) || !parse_i64(t, n, &drss_col))
		return PMT_E_CORRUPT;
	if (!rtoken(p, &e, &t, &n) || !parse_i64(t, n, &rss) || rss < 0 || rss > PMT_MAX_RSS_BYTES)
		return PMT_E_CORRUPT; /* RSS - last RSS must not overflow */
	if (!rtoken(p, &e, &fn, &fn_len))
		return PMT_E_CORRUPT;
	if (!rtoken(p, &e, &t, &n))
		return PMT_E_CORRUPT;
	/* v0.1 logs: "file.py   # 238" or "file.py#2080" */
	const char *hash = memrchr(t, '#', n);
	if (hash) {
		size_t k = (size_t)(hash - t) + 1;
		if (k == n || !parse_u64(hash + 1, n - k, &line))
			return PMT_E_CORRUPT;
		e = hash; /* whatever precedes '#' is still the file */
	} else if (!parse_u64(t, n, &line)) {
		return PMT_E_CORRUPT;
	}
	/* trim the file; a lone "#" before the line belongs to the old layout */
	while (p < e && is_space(*p))
		p++;
	while (e > p && is_space(e[-1]))
		e--;
	if (e > p && e[-1] == '#') {
		e--;
		while (e > p && is_space(e[-1]))
			e--;
	}
	if (line > UINT32_MAX)
		return PMT_E_CORRUPT;

	unsigned ckind = (kind == PMT_C_CALL || kind == PMT_C_RETURN || kind == PMT_C_EXCEPTION)
			     ? PMT_CODE_C
			     : PMT_CODE_PY;
	uint32_t id;
	int r = pmt_symtab_intern_code(&s->syms, ckind, (uint32_t)line, p, (size_t)(e - p), fn,
				       fn_len, &id);
	if (r < 0)
		return r;
	*ev = (struct pmt_event){
	    .number = number,
	    .delta = devent > 0 ? (uint64_t)devent : 0,
	    .time_ns = ns,
	    .rss = rss,
	    .drss = st->seen_event ? rss - st->last_rss : 0,
	    .code = id,
	    .line = (uint32_t)line,
	    .thread = 0,
	    .kind = (uint8_t)kind,
	};
	return 0;
}

static bool tag(const char *line, size_t len, const char *t)
{
	size_t n = strlen(t);
	return len >= n && !memcmp(line, t, n);
}

/* Fills it from one line; returns 1 for an item, 0 for a line that gives
 * none, or -errno. */
static int parse_line(struct pmt_source *s, struct pymt *st, const char *line, size_t len,
		      struct pmt_item *it)
{
	if (len && line[len - 1] == '\r')
		len--;
	const char *end = line + len;

	if (st->seen_eof) {
		/* anything after EOF (a reused file, appended text) is not ours */
		return 0;
	}
	if (!st->seen_sof && !st->seen_hdr) {
		if (len == 3 && !memcmp(line, "SOF", 3)) {
			st->seen_sof = true;
			return 0;
		}
		if (!tag(line, len, "HDR: ") && !tag(line, len, "FRST: ") &&
		    !tag(line, len, "NEXT: ")) {
			/* the opening message of Profile(message=...) */
			*it = (struct pmt_item){
			    .type = PMT_ITEM_MESSAGE, .text = line, .text_len = len};
			return 1;
		}
		st->seen_sof = true;
	}
	if (len == 3 && !memcmp(line, "EOF", 3)) {
		st->seen_eof = true;
		return 0;
	}
	if (tag(line, len, "HDR: ")) {
		st->seen_hdr = true;
		return 0;
	}
	if (tag(line, len, "PREV: ")) {
		st->skipped_prev++;
		return 0;
	}
	if (tag(line, len, "MSG:  ")) {
		const char *p = line + 5;
		uint64_t number, ns;
		int64_t devent;
		if (!parse_head(&p, end, &number, &devent, &ns))
			return PMT_E_CORRUPT;
		while (p < end && is_space(*p))
			p++;
		if (p < end && *p == '#')
			p++;
		if (p < end && *p == ' ')
			p++;
		*it = (struct pmt_item){
		    .type = PMT_ITEM_MESSAGE, .text = p, .text_len = (size_t)(end - p)};
		it->ev.number = number;
		it->ev.time_ns = ns;
		st->last_ns = ns;
		return 1;
	}
	bool first = tag(line, len, "FRST: "), last = tag(line, len, "LAST: ");
	if (first || last || tag(line, len, "NEXT: ")) {
		int r = parse_event(s, st, line + 6, end, &it->ev);
		if (r < 0)
			return r;
		it->type = PMT_ITEM_EVENT;
		it->text = NULL;
		it->text_len = 0;
		it->ev.flags = first ? PMT_EV_FIRST : last ? PMT_EV_LAST : 0;
		st->last_ns = it->ev.time_ns;
		return 1;
	}
	/* untagged: continuation of a multi-line message, or write_to_log() */
	*it = (struct pmt_item){.type = PMT_ITEM_MESSAGE, .text = line, .text_len = len};
	it->ev.number = st->next_number;
	it->ev.time_ns = st->last_ns;
	return 1;
}

static void note_kind(struct pmt_source *s, struct pymt *st, const struct pmt_event *ev)
{
	if (st->mode_known || (ev->flags & (PMT_EV_FIRST | PMT_EV_LAST)))
		return;
	/* only a Trace receives LINE and EXCEPTION events; only a Profile C_* */
	switch (ev->kind) {
	case PMT_LINE:
	case PMT_EXCEPTION:
		s->hdr.mode = PMT_MODE_TRACE;
		st->mode_known = true;
		break;
	case PMT_C_CALL:
	case PMT_C_RETURN:
	case PMT_C_EXCEPTION:
		s->hdr.mode = PMT_MODE_PROFILE;
		st->mode_known = true;
		break;
	default:
		break;
	}
}

static int pymt_next(struct pmt_source *s, struct pmt_item *it)
{
	struct pymt *st = s->state;
	if (st->has_pending) {
		st->has_pending = false;
		*it = st->pending;
		return 1;
	}
	for (;;) {
		const char *line;
		size_t len;
		int r = pmt_input_getline(s->in, &line, &len);
		if (r < 0) {
			pmt_backend_detail(s, "after line %llu", (unsigned long long)st->lineno);
			return r;
		}
		if (r == 0) {
			if (!st->seen_eof)
				s->truncated = true;
			if (!st->seen_sof && !st->seen_hdr && !st->seen_event) {
				pmt_backend_detail(s, "no pymemtrace header");
				return PMT_E_CORRUPT;
			}
			return 0;
		}
		st->lineno++;
		r = parse_line(s, st, line, len, it);
		if (r < 0) {
			/* a cut last line of a killed writer is truncation, not damage */
			uint64_t at = st->lineno;
			const char *l2;
			size_t n2;
			int r2 = pmt_input_getline(s->in, &l2, &n2);
			if (r2 == 0 && !st->seen_eof) {
				s->truncated = true;
				pmt_backend_detail(s, "line %llu cut short",
						   (unsigned long long)at);
				return 0;
			}
			pmt_backend_detail(s, "line %llu: not a pymemtrace line",
					   (unsigned long long)at);
			return r;
		}
		if (r == 0)
			continue;
		if (it->type != PMT_ITEM_EVENT)
			return 1;

		struct pmt_event *ev = &it->ev;
		note_kind(s, st, ev);
		if (st->seen_event && ev->number < st->next_number && !(ev->flags & PMT_EV_LAST)) {
			/* numbers never go back in one log */
			pmt_backend_detail(s, "line %llu: event %llu after event %llu",
					   (unsigned long long)st->lineno,
					   (unsigned long long)ev->number,
					   (unsigned long long)(st->next_number - 1));
			return PMT_E_CORRUPT;
		}
		uint64_t gap = ev->number > st->next_number ? ev->number - st->next_number : 0;
		if (ev->flags & PMT_EV_LAST) {
			/* LAST's number is the count of events seen */
			if (ev->number > s->events)
				s->events = ev->number;
		} else {
			st->next_number = ev->number + 1;
			s->events = st->next_number;
		}
		st->last_rss = ev->rss;
		st->seen_event = true;
		if (gap) {
			st->pending = *it;
			st->has_pending = true;
			*it = (struct pmt_item){.type = PMT_ITEM_SKIP};
			it->ev.number = ev->number - gap; /* the first one skipped */
			it->ev.delta = gap;
		}
		return 1;
	}
}

static void pymt_free(void *state) { free(state); }

static const struct pmt_source_ops pymt_ops = {
    .next = pymt_next,
    .free = pymt_free,
};

/* pymemtrace names its logs YYYYMMDD_HHMMSS_<ord>_<pid>_<P|T>_<depth>_PY<ver>.log
 * (0.3+; 0.2 has no ordinal): the only place it records pid, kind and
 * Python version. */
static void from_file_name(struct pmt_source *s, struct pymt *st, const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	const char *py = strstr(base, "_PY");
	if (!py || py - base < 4)
		return;
	const char *v = py + 3, *ve = v;
	while (*ve && (*ve == '.' || (*ve >= '0' && *ve <= '9') ||
		       (*ve >= 'a' && *ve <= 'z' && *ve != 'l')))
		ve++;
	if (ve == v || (size_t)(ve - v) >= sizeof(st->pyver))
		return;
	/* back over _<depth>_<P|T> and _<pid> */
	const char *q = py;
	while (q > base && q[-1] >= '0' && q[-1] <= '9')
		q--;
	if (q == py || q - base < 3 || q[-1] != '_' || q[-3] != '_')
		return;
	char k = q[-2];
	if (k != 'P' && k != 'T')
		return;
	const char *pe = q - 3, *pb = pe;
	while (pb > base && pb[-1] >= '0' && pb[-1] <= '9')
		pb--;
	if (pb == pe)
		return;
	uint64_t pid;
	if (!parse_u64(pb, (size_t)(pe - pb), &pid) || pid > UINT32_MAX)
		return;
	memcpy(st->pyver, v, (size_t)(ve - v));
	st->pyver[ve - v] = '\0';
	if (st->pyver[ve - v - 1] == '.')
		st->pyver[ve - v - 1] = '\0';
	s->hdr.python_version = st->pyver;
	s->hdr.pid = (uint32_t)pid;
	s->hdr.mode = k == 'T' ? PMT_MODE_TRACE : PMT_MODE_PROFILE;
	st->mode_known = true;
}

int pmt_backend_pymt_init(struct pmt_source *s)
{
	struct pymt *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	s->state = st;
	s->ops = &pymt_ops;
	s->hdr = (struct pmt_header){
	    .version = 0,
	    .page_size = 4096,
	    .python_version = "",
	    .mode = PMT_MODE_PROFILE,
	    .rss_source = "pymemtrace",
	    /* the trigger is not in the log; -1 says "unknown" */
	    .drss_trigger = -1,
	};
	from_file_name(s, st, pmt_input_path(s->in));
	int r = pmt_symtab_set_thread(&s->syms, 0, 0, "", 0);
	if (r < 0)
		return r;
	return 0;
}
