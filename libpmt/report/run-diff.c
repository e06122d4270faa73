/* SPDX-License-Identifier: MIT */
/* Two runs compared (see run-diff.h). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libpmt/report/run-diff.h>

struct sums {
	int64_t events, growth, peaks;
};

static struct sums sum(const struct pmt_run *run)
{
	struct sums s = {0};
	for (size_t i = 0; i < pmt_run_procs(run); i++) {
		const struct pmt_run_proc *p = pmt_run_proc(run, i);
		s.events += (int64_t)p->events;
		if (p->rss) {
			s.growth += p->rss_end - p->rss_start;
			s.peaks += p->rss_peak;
		}
	}
	return s;
}

static int print(struct pmt_table *t, const char *key, const struct pmt_run_diff_opts *o, FILE *out,
		 bool first)
{
	if ((o->format & PMT_FMT_MASK) == PMT_FMT_JSON)
		fprintf(out, first ? "{\n\"%s\": " : ",\n\"%s\": ", key);
	else if (!first)
		fputc('\n', out);
	int r = pmt_table_print(t, o->format, out);
	pmt_table_free(t);
	return r;
}

/* The command line with its digits left out. */
static bool same_shape(const char *a, const char *b)
{
	for (;;) {
		while (isdigit((unsigned char)*a))
			a++;
		while (isdigit((unsigned char)*b))
			b++;
		if (*a != *b)
			return false;
		if (!*a)
			return true;
		a++, b++;
	}
}

static int processes(const struct pmt_run *a, const struct pmt_run *b,
		     const struct pmt_run_diff_opts *o, FILE *out)
{
	size_t na = pmt_run_procs(a), nb = pmt_run_procs(b);
	size_t *match = malloc((na ? na : 1) * sizeof(*match)); /* b index + 1 */
	bool *taken = calloc(nb ? nb : 1, sizeof(*taken));
	struct pmt_table *t = NULL;
	int r = -ENOMEM;
	if (!match || !taken || (r = pmt_table_new("Processes, matched by command line", &t)) < 0)
		goto out;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < na; i++) {
			if (!pass)
				match[i] = 0;
			for (size_t k = 0; k < nb && !match[i]; k++) {
				const char *x = pmt_run_proc(a, i)->key,
					   *y = pmt_run_proc(b, k)->key;
				if (!taken[k] && (pass ? same_shape(x, y) : !strcmp(x, y))) {
					match[i] = k + 1;
					taken[k] = true;
				}
			}
		}
	static const char *const cols[] = {"pid_old",	 "pid_new",    "peak_old",	"peak_new",
					   "growth_old", "growth_new", "growth_change", "program"};
	for (unsigned i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		pmt_table_column(t, cols[i], i < 7 ? PMT_ALIGN_RIGHT : PMT_ALIGN_LEFT);
	/* OLD's processes with their NEW match, then NEW's unmatched ones */
	for (size_t i = 0; i < na + nb; i++) {
		const struct pmt_run_proc *p[2] = {NULL, NULL};
		if (i < na) {
			p[0] = pmt_run_proc(a, i);
			p[1] = match[i] ? pmt_run_proc(b, match[i] - 1) : NULL;
		} else if (!taken[i - na]) {
			p[1] = pmt_run_proc(b, i - na);
		} else {
			continue;
		}
		int64_t g[2] = {0, 0};
		for (int s = 0; s < 2; s++)
			if (p[s]) {
				pmt_table_int(t, p[s]->pid);
				g[s] = p[s]->rss ? p[s]->rss_end - p[s]->rss_start : 0;
			} else {
				pmt_table_null(t);
			}
		for (int s = 0; s < 2; s++)
			if (p[s] && p[s]->rss)
				pmt_table_bytes(t, p[s]->rss_peak);
			else
				pmt_table_null(t);
		for (int s = 0; s < 2; s++)
			if (p[s])
				pmt_table_bytes(t, g[s]);
			else
				pmt_table_null(t);
		pmt_table_bytes(t, g[1] - g[0]);
		pmt_table_str(t, (p[1] ? p[1] : p[0])->program);
	}
	r = print(t, "processes", o, out, false);
	t = NULL;
out:
	pmt_table_free(t);
	free(match);
	free(taken);
	return r;
}

/* A function of either run. */
struct pair {
	const struct pmt_run_func *f[2];
};

static int64_t g(const struct pair *p, int side, bool incl)
{
	const struct pmt_run_func *f = p->f[side];
	return f ? (incl ? f->st.incl : f->st.self) : 0;
}

static int64_t worsening(const struct pair *p)
{
	int64_t ds = g(p, 1, false) - g(p, 0, false), di = g(p, 1, true) - g(p, 0, true);
	return ds > di ? ds : di;
}

static const struct pmt_run_func *any(const struct pair *p) { return p->f[1] ? p->f[1] : p->f[0]; }

static int cmp_pair(const void *x, const void *y)
{
	const struct pair *a = x, *b = y;
	int64_t wa = worsening(a), wb = worsening(b);
	if (wa != wb)
		return wa > wb ? -1 : 1;
	int c = strcmp(any(a)->name, any(b)->name);
	return c ? c : strcmp(any(a)->file, any(b)->file);
}

static bool same_func(const struct pmt_run_func *x, const struct pmt_run_func *y)
{
	return x->line == y->line && x->name_len == y->name_len && x->file_len == y->file_len &&
	       !memcmp(x->name, y->name, x->name_len) && !memcmp(x->file, y->file, x->file_len);
}

static int cmp_func(const void *x, const void *y)
{
	const struct pmt_run_func *a = *(const struct pmt_run_func *const *)x,
				  *b = *(const struct pmt_run_func *const *)y;
	int c = strcmp(a->name, b->name);
	if (!c)
		c = strcmp(a->file, b->file);
	return c ? c : (a->line > b->line) - (a->line < b->line);
}

static int functions(const struct pmt_run *a, const struct pmt_run *b,
		     const struct pmt_run_diff_opts *o, FILE *out, bool *worse)
{
	size_t n[2];
	const struct pmt_run_func *v[2] = {pmt_run_funcs(a, &n[0]), pmt_run_funcs(b, &n[1])};
	const struct pmt_run_func **s[2] = {malloc((n[0] + 1) * sizeof(**s)),
					    malloc((n[1] + 1) * sizeof(**s))};
	struct pair *pairs = malloc((n[0] + n[1] + 1) * sizeof(*pairs));
	struct pmt_table *t = NULL;
	int r = -ENOMEM;
	if (!s[0] || !s[1] || !pairs)
		goto out;
	/* both sides sorted by (name, file, line), then merged */
	for (int side = 0; side < 2; side++) {
		for (size_t i = 0; i < n[side]; i++)
			s[side][i] = &v[side][i];
		if (n[side] > 1) /* qsort of NULL, 0 is undefined */
			qsort(s[side], n[side], sizeof(**s), cmp_func);
	}
	size_t np = 0, i = 0, k = 0;
	while (i < n[0] || k < n[1]) {
		int c = i == n[0] ? 1 : k == n[1] ? -1 : cmp_func(&s[0][i], &s[1][k]);
		if (!c && !same_func(s[0][i], s[1][k]))
			c = -1;
		pairs[np++] = (struct pair){{c <= 0 ? s[0][i] : NULL, c >= 0 ? s[1][k] : NULL}};
		i += c <= 0;
		k += c >= 0;
	}
	if (np > 1) /* qsort of NULL, 0 is undefined */
		qsort(pairs, np, sizeof(*pairs), cmp_pair);
	*worse = false;
	for (size_t j = 0; j < np; j++)
		if (o->has_threshold && worsening(&pairs[j]) > o->threshold)
			*worse = true;
	if ((r = pmt_table_new("Functions over all processes by change in RSS growth (new minus "
			       "old)",
			       &t)) < 0)
		goto out;
	static const char *const cols[] = {"function", "file",	     "calls_old",   "calls_new",
					   "self_old", "self_new",   "self_change", "incl_old",
					   "incl_new", "incl_change"};
	for (unsigned c = 0; c < sizeof(cols) / sizeof(cols[0]); c++)
		pmt_table_column(t, cols[c], c < 2 ? PMT_ALIGN_LEFT : PMT_ALIGN_RIGHT);
	for (size_t j = 0; j < np && (!o->top || j < o->top); j++) {
		const struct pair *p = &pairs[j];
		pmt_table_strn(t, any(p)->name, any(p)->name_len);
		pmt_table_strn(t, any(p)->shown, any(p)->shown_len);
		for (int side = 0; side < 2; side++)
			if (p->f[side])
				pmt_table_int(t, (int64_t)p->f[side]->st.calls);
			else
				pmt_table_null(t);
		for (int incl = 0; incl < 2; incl++) {
			pmt_table_bytes(t, g(p, 0, incl));
			pmt_table_bytes(t, g(p, 1, incl));
			pmt_table_bytes(t, g(p, 1, incl) - g(p, 0, incl));
		}
	}
	r = print(t, "functions", o, out, false);
	t = NULL;
out:
	pmt_table_free(t);
	free(s[0]);
	free(s[1]);
	free(pairs);
	return r;
}

int pmt_run_diff(const struct pmt_run *old, const struct pmt_run *new_,
		 const struct pmt_run_diff_opts *o, FILE *out, bool *worse)
{
	struct pmt_table *t;
	int r = pmt_table_new("Overall (sums over the processes of each run)", &t);
	if (r < 0)
		return r;
	pmt_table_column(t, "metric", PMT_ALIGN_LEFT);
	pmt_table_column(t, "old", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "new", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "change", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "ratio", PMT_ALIGN_RIGHT);
	struct sums a = sum(old), b = sum(new_);
	pmt_table_diff_row(t, "processes", (int64_t)pmt_run_procs(old),
			   (int64_t)pmt_run_procs(new_), false);
	pmt_table_diff_row(t, "events", a.events, b.events, false);
	pmt_table_diff_row(t, "rss_growth", a.growth, b.growth, true);
	pmt_table_diff_row(t, "rss_peak_sum", a.peaks, b.peaks, true);
	if ((r = print(t, "overall", o, out, true)) < 0 || (r = processes(old, new_, o, out)) < 0 ||
	    (r = functions(old, new_, o, out, worse)) < 0)
		return r;
	if ((o->format & PMT_FMT_MASK) == PMT_FMT_JSON)
		fputs("}\n", out);
	return ferror(out) ? -EIO : 0;
}
