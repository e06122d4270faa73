/* SPDX-License-Identifier: MIT */
/* Process JSON records out of any application log (pymemtrace process.py's
 * regex ^.+?ProcessLoggingThread-JSON(-START|-STOP)?\s*(.+)$, then JSON). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <libpmt/core/errors.h>
#include <libpmt/read/process-reader.h>

#define PREFIX "ProcessLoggingThread-JSON"
#define PREFIX_LEN (sizeof(PREFIX) - 1)

struct pmt_process_reader {
	struct pmt_input *in;
	uint64_t lines;
	uint64_t bad;
	json_t *root; /* the last record's JSON, owns rec->label */
	char *label;  /* label of a non-string label value, json_dumps'd */
	pmt_process_warn_fn warn;
	void *warn_ctx;
};

int pmt_process_reader_new(struct pmt_input *in, struct pmt_process_reader **out)
{
	struct pmt_process_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->in = in;
	*out = r;
	return 0;
}

void pmt_process_reader_free(struct pmt_process_reader *r)
{
	if (!r)
		return;
	json_decref(r->root);
	free(r->label);
	free(r);
}

void pmt_process_reader_set_warn(struct pmt_process_reader *r, pmt_process_warn_fn fn, void *ctx)
{
	r->warn = fn;
	r->warn_ctx = ctx;
}

uint64_t pmt_process_reader_bad(const struct pmt_process_reader *r) { return r->bad; }

static int digits(const char **p, const char *end, int min, int max, int *v)
{
	int n = 0, x = 0;
	while (*p < end && n < max && **p >= '0' && **p <= '9') {
		x = x * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	if (n < min)
		return -1;
	*v = x;
	return n;
}

static int lit(const char **p, const char *end, char c)
{
	if (*p >= end || **p != c)
		return -1;
	(*p)++;
	return 0;
}

/* strptime(s, "%Y-%m-%d %H:%M:%S.%f") then strftime("%Y-%m-%dT%H:%M:%S.%f"),
 * as pymemtrace's table does. */
static bool parse_timestamp(const char *s, size_t n, char *iso, size_t isosz)
{
	const char *p = s, *end = s + n;
	int Y, M, D, h, m, sec, us = 0;
	int nd;
	if (digits(&p, end, 4, 4, &Y) < 0 || lit(&p, end, '-') || digits(&p, end, 1, 2, &M) < 0 ||
	    lit(&p, end, '-') || digits(&p, end, 1, 2, &D) < 0 || lit(&p, end, ' ') ||
	    digits(&p, end, 1, 2, &h) < 0 || lit(&p, end, ':') || digits(&p, end, 1, 2, &m) < 0 ||
	    lit(&p, end, ':') || digits(&p, end, 1, 2, &sec) < 0 || lit(&p, end, '.') ||
	    (nd = digits(&p, end, 1, 6, &us)) < 0 || p != end)
		return false;
	for (int i = nd; i < 6; i++)
		us *= 10;
	if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 61)
		return false;
	char tmp[80];
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%06d", Y, M, D, h, m, sec, us);
	size_t tn = strnlen(tmp, isosz - 1);
	memcpy(iso, tmp, tn);
	iso[tn] = '\0';
	return true;
}

static bool get_num(json_t *obj, const char *key, double *v)
{
	json_t *j = obj ? json_object_get(obj, key) : NULL;
	if (!j || !json_is_number(j))
		return false;
	*v = json_number_value(j);
	return isfinite(*v);
}

static bool get_int(json_t *obj, const char *key, int64_t *v)
{
	json_t *j = obj ? json_object_get(obj, key) : NULL;
	if (j && json_is_integer(j)) {
		*v = (int64_t)json_integer_value(j);
		return true;
	}
	double d;
	if (!get_num(obj, key, &d) || d != floor(d) || fabs(d) > 9e18)
		return false;
	*v = (int64_t)d;
	return true;
}

/* Fills rec from the object; on success the label points into root (or into
 * *dumped, which the caller frees). */
static int fill(json_t *root, struct pmt_process_record *rec, char **dumped, const char **why)
{
	if (!json_is_object(root)) {
		*why = "json record is not an object";
		return PMT_E_CORRUPT;
	}
	json_t *mem = json_object_get(root, "memory_info");
	json_t *cpu = json_object_get(root, "cpu_times");
	if (!get_int(root, "pid", &rec->pid)) {
		*why = "record without a pid";
		return PMT_E_CORRUPT;
	}
	if (!get_num(root, "elapsed_time", &rec->elapsed)) {
		*why = "record without elapsed_time";
		return PMT_E_CORRUPT;
	}
	if (!json_is_object(mem) || !get_int(mem, "rss", &rec->rss)) {
		*why = "record without memory_info.rss";
		return PMT_E_CORRUPT;
	}
	if (rec->rss < 0 || rec->rss > (1ll << 52)) {
		/* the range of event logs' RSS (docs/FORMAT.md, "Value ranges") */
		*why = "memory_info.rss out of range";
		return PMT_E_CORRUPT;
	}
	if (!get_int(mem, "vms", &rec->vms))
		rec->vms = -1;
	rec->has_pfaults = get_num(mem, "pfaults", &rec->pfaults);
	rec->has_user = json_is_object(cpu) && get_num(cpu, "user", &rec->user);
	if (!json_is_object(cpu) || !get_num(cpu, "system", &rec->system))
		rec->system = NAN;
	json_t *ts = json_object_get(root, "timestamp");
	rec->has_timestamp =
	    json_is_string(ts) && parse_timestamp(json_string_value(ts), json_string_length(ts),
						  rec->iso, sizeof(rec->iso));
	if (!rec->has_timestamp)
		rec->iso[0] = '\0';
	json_t *label = json_object_get(root, "label");
	if (json_is_string(label)) {
		rec->label = json_string_value(label);
		rec->label_len = json_string_length(label);
	} else if (label && !json_is_null(label)) {
		/* pymemtrace formats whatever it is; show its JSON text */
		*dumped = json_dumps(label, JSON_ENCODE_ANY | JSON_COMPACT);
		rec->label = *dumped ? *dumped : "";
		rec->label_len = strlen(rec->label);
	}
	return 0;
}

static int parse(const char *line, size_t len, struct pmt_process_record *rec, json_t **rootp,
		 char **dumped, const char **why)
{
	/* '.' in the regex does not match the '\r' of a CRLF line either */
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	if (len <= PREFIX_LEN)
		return 0;
	const char *hit = memmem(line + 1, len - 1, PREFIX, PREFIX_LEN);
	if (!hit)
		return 0;
	const char *p = hit + PREFIX_LEN, *end = line + len;
	enum pmt_process_kind kind = PMT_PROC_PLAIN;
	if ((size_t)(end - p) >= 6 && !memcmp(p, "-START", 6)) {
		kind = PMT_PROC_START;
		p += 6;
	} else if ((size_t)(end - p) >= 5 && !memcmp(p, "-STOP", 5)) {
		kind = PMT_PROC_STOP;
		p += 5;
	}
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\f' || *p == '\v'))
		p++;
	memset(rec, 0, sizeof(*rec));
	rec->kind = kind;
	if (p == end) {
		*why = "no json after the record prefix";
		return PMT_E_CORRUPT;
	}
	json_error_t err;
	json_t *root = json_loadb(p, (size_t)(end - p), JSON_ALLOW_NUL, &err);
	if (!root) {
		*why = "broken json record";
		return PMT_E_CORRUPT;
	}
	int r = fill(root, rec, dumped, why);
	if (r < 0) {
		json_decref(root);
		return r;
	}
	*rootp = root;
	return 1;
}

int pmt_process_parse_line(const char *line, size_t len, struct pmt_process_record *rec,
			   const char **why)
{
	/* Standalone use: the label must outlive the JSON, so copy nothing and
	 * drop the label pointer (tests check labels through the reader). */
	json_t *root = NULL;
	char *dumped = NULL;
	int r = parse(line, len, rec, &root, &dumped, why);
	rec->label = NULL;
	rec->label_len = 0;
	json_decref(root);
	free(dumped);
	return r;
}

int pmt_process_reader_next(struct pmt_process_reader *r, struct pmt_process_record *rec)
{
	json_decref(r->root);
	r->root = NULL;
	free(r->label);
	r->label = NULL;
	for (;;) {
		const char *line;
		size_t len;
		int k = pmt_input_getline(r->in, &line, &len);
		if (k <= 0)
			return k;
		r->lines++;
		const char *why = NULL;
		k = parse(line, len, rec, &r->root, &r->label, &why);
		if (k == 0)
			continue;
		if (k < 0) {
			r->bad++;
			if (r->warn)
				r->warn(r->warn_ctx, r->lines, why);
			continue;
		}
		rec->line = r->lines;
		return 1;
	}
}
