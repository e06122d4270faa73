/* SPDX-License-Identifier: MIT */
/* pymemtrace's event line layout, csv and json lines. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <libpmt/core/log-format.h>
#include <libpmt/report/event-format.h>
#include <libpmt/report/names.h>
#include <libpmt/report/table.h>

#define UNKNOWN_FILE "<UNKNOWN_FILE_NAME>"
#define UNKNOWN_NAME "<UNKNOWN_FUNCTION_NAME>"

void pmt_evline_code(struct pmt_evline *l, const struct pmt_source *s, uint32_t code)
{
	const struct pmt_code *c = code ? pmt_source_code(s, code) : NULL;
	if (c) {
		l->file = c->file;
		l->file_len = c->file_len;
		l->name = c->name;
		l->name_len = c->name_len;
	} else {
		l->file = UNKNOWN_FILE;
		l->file_len = sizeof(UNKNOWN_FILE) - 1;
		l->name = UNKNOWN_NAME;
		l->name_len = sizeof(UNKNOWN_NAME) - 1;
	}
}

/* Decimal digits of v, backwards into the end of a 24-byte buffer. */
static char *u64_digits(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

static char *i64_digits(char *end, int64_t v)
{
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	char *p = u64_digits(end, u);
	if (v < 0)
		*--p = '-';
	return p;
}

static char *put_left(char *o, const char *s, size_t n, size_t w)
{
	memcpy(o, s, n);
	o += n;
	if (n < w) {
		memset(o, ' ', w - n);
		o += w - n;
	}
	return o;
}

static char *put_right(char *o, const char *s, size_t n, size_t w)
{
	if (n < w) {
		memset(o, ' ', w - n);
		o += w - n;
	}
	memcpy(o, s, n);
	return o + n;
}

/* Seconds with 6 decimals, exactly as %f would print the microseconds. */
static size_t clock_text(char *buf, uint64_t ns)
{
	char tmp[32], *end = tmp + sizeof(tmp);
	uint64_t us = (ns + 500) / 1000;
	char *p = end;
	uint64_t frac = us % 1000000;
	for (int i = 0; i < 6; i++) {
		*--p = (char)('0' + frac % 10);
		frac /= 10;
	}
	*--p = '.';
	p = u64_digits(p, us / 1000000);
	size_t n = (size_t)(end - p);
	memcpy(buf, p, n);
	return n;
}

/* Writes the common head "TAG event +devent clock" into o. */
static char *head(char *o, const char *tag, uint64_t number, int64_t devent, uint64_t ns)
{
	char num[24], *p;
	memcpy(o, tag, 6);
	o += 6;
	p = u64_digits(num + sizeof(num), number);
	o = put_left(o, p, (size_t)(num + sizeof(num) - p), 12);
	*o++ = ' ';
	*o++ = '+';
	p = i64_digits(num + sizeof(num), devent);
	o = put_left(o, p, (size_t)(num + sizeof(num) - p), 6);
	*o++ = ' ';
	char ck[32];
	size_t n = clock_text(ck, ns);
	return put_left(o, ck, n, 12);
}

void pmt_evline_short(struct pmt_evline *l, struct pmt_names *n)
{
	if (n && l->file_len)
		l->file = pmt_names_file(n, l->file, l->file_len, &l->file_len, NULL);
}

int pmt_evfmt_header(FILE *out)
{
	char buf[256], *o = buf;
	memcpy(o, "HDR: ", 5);
	o += 5;
	o = put_left(o, "Event", 5, 12);
	*o++ = ' ';
	o = put_left(o, "dEvent", 6, 6);
	*o++ = ' ';
	*o++ = ' ';
	o = put_left(o, "Clock", 5, 12);
	*o++ = ' ';
	o = put_left(o, "What", 4, 8);
	*o++ = ' ';
	o = put_left(o, "File", 4, 80);
	*o++ = ' ';
	o = put_right(o, "Line", 4, 4);
	*o++ = ' ';
	o = put_left(o, "Function", 8, 32);
	*o++ = ' ';
	o = put_right(o, "RSS", 3, 12);
	*o++ = ' ';
	o = put_right(o, "dRSS", 4, 12);
	*o++ = '\n';
	return fwrite(buf, 1, (size_t)(o - buf), out) == (size_t)(o - buf) ? 0 : -EIO;
}

int pmt_evfmt_text(FILE *out, const struct pmt_evline *l)
{
	char stack[512], *buf = stack;
	size_t need = 200 + l->file_len + l->name_len;
	if (need > sizeof(stack)) {
		buf = malloc(need);
		if (!buf)
			return -ENOMEM;
	}
	char *o = head(buf, l->tag, l->number, l->devent, l->time_ns), num[24], *p;
	*o++ = ' ';
	const char *what = pmt_kind_name(l->kind);
	o = put_left(o, what, strlen(what), 8);
	*o++ = ' ';
	o = put_left(o, l->file, l->file_len, 80);
	*o++ = ' ';
	p = u64_digits(num + sizeof(num), l->line);
	o = put_right(o, p, (size_t)(num + sizeof(num) - p), 4);
	*o++ = ' ';
	o = put_left(o, l->name, l->name_len, 32);
	*o++ = ' ';
	p = i64_digits(num + sizeof(num), l->rss);
	o = put_right(o, p, (size_t)(num + sizeof(num) - p), 12);
	*o++ = ' ';
	p = i64_digits(num + sizeof(num), l->drss);
	o = put_right(o, p, (size_t)(num + sizeof(num) - p), 12);
	*o++ = '\n';
	size_t n = (size_t)(o - buf);
	int r = fwrite(buf, 1, n, out) == n ? 0 : -EIO;
	if (buf != stack)
		free(buf);
	return r;
}

int pmt_evfmt_message(FILE *out, uint64_t number, int64_t devent, uint64_t time_ns,
		      const char *text, size_t len)
{
	char buf[128];
	char *o = head(buf, "MSG:  ", number, devent, time_ns);
	memcpy(o, " # ", 3);
	o += 3;
	size_t n = (size_t)(o - buf);
	if (fwrite(buf, 1, n, out) != n || fwrite(text, 1, len, out) != len ||
	    fputc('\n', out) == EOF)
		return -EIO;
	return 0;
}

static void put_clock(FILE *out, uint64_t ns)
{
	char ck[32];
	size_t n = clock_text(ck, ns);
	fwrite(ck, 1, n, out);
}

int pmt_evfmt_csv_header(FILE *out)
{
	fputs("tag,event,devent,clock,what,file,line,function,rss,drss,thread,message\n", out);
	return ferror(out) ? -EIO : 0;
}

static const char *tag_word(const char *tag, size_t *n)
{
	*n = 0;
	while (*n < 6 && tag[*n] != ':' && tag[*n] != ' ')
		(*n)++;
	return tag;
}

int pmt_evfmt_csv(FILE *out, const struct pmt_evline *l)
{
	size_t tn;
	const char *t = tag_word(l->tag, &tn);
	fwrite(t, 1, tn, out);
	fprintf(out, ",%llu,%lld,", (unsigned long long)l->number, (long long)l->devent);
	put_clock(out, l->time_ns);
	fprintf(out, ",%s,", pmt_kind_name(l->kind));
	pmt_csv_write_field(out, l->file, l->file_len);
	fprintf(out, ",%u,", l->line);
	pmt_csv_write_field(out, l->name, l->name_len);
	fprintf(out, ",%lld,%lld,%u,\n", (long long)l->rss, (long long)l->drss, l->thread);
	return ferror(out) ? -EIO : 0;
}

int pmt_evfmt_csv_message(FILE *out, uint64_t number, uint64_t time_ns, const char *text,
			  size_t len)
{
	fprintf(out, "MSG,%llu,,", (unsigned long long)number);
	put_clock(out, time_ns);
	fputs(",,,,,,,,", out);
	pmt_csv_write_field(out, text, len);
	fputc('\n', out);
	return ferror(out) ? -EIO : 0;
}

int pmt_evfmt_json(FILE *out, const struct pmt_evline *l)
{
	size_t tn;
	const char *t = tag_word(l->tag, &tn);
	fputs("{\"tag\": ", out);
	pmt_json_write_string(out, t, tn);
	fprintf(out,
		", \"event\": %llu, \"devent\": %lld, \"clock\": ", (unsigned long long)l->number,
		(long long)l->devent);
	put_clock(out, l->time_ns);
	fprintf(out, ", \"what\": \"%s\", \"file\": ", pmt_kind_name(l->kind));
	pmt_json_write_string(out, l->file, l->file_len);
	fprintf(out, ", \"line\": %u, \"function\": ", l->line);
	pmt_json_write_string(out, l->name, l->name_len);
	fprintf(out, ", \"rss\": %lld, \"drss\": %lld, \"thread\": %u}\n", (long long)l->rss,
		(long long)l->drss, l->thread);
	return ferror(out) ? -EIO : 0;
}

int pmt_evfmt_json_message(FILE *out, uint64_t number, uint64_t time_ns, const char *text,
			   size_t len)
{
	fprintf(out, "{\"tag\": \"MSG\", \"event\": %llu, \"clock\": ", (unsigned long long)number);
	put_clock(out, time_ns);
	fputs(", \"message\": ", out);
	pmt_json_write_string(out, text, len);
	fputs("}\n", out);
	return ferror(out) ? -EIO : 0;
}

/* ---- allocator calls -------------------------------------------------------- */

static const char *call_name(const struct pmt_alloc *a)
{
	const char *n = pmt_alloc_op_name(a->op, a->domain);
	return n ? n : "?";
}

int pmt_evfmt_alloc_header(FILE *out)
{
	fprintf(out, "HDR:  %-12s %-12s %-20s %12s %-18s %-18s %6s %5s %s\n", "Event", "Clock",
		"Call", "Size", "Address", "Old", "Thread", "Line", "Function File");
	return ferror(out) ? -EIO : 0;
}

int pmt_evfmt_alloc_text(FILE *out, const struct pmt_item *it, const struct pmt_source *s)
{
	const struct pmt_alloc *a = &it->alloc;
	struct pmt_evline l = {0};
	char ck[32], size[24] = "-", old[24] = "-";
	ck[clock_text(ck, it->ev.time_ns)] = 0;
	pmt_evline_code(&l, s, a->site.code);
	if (pmt_alloc_has_size(a->op))
		snprintf(size, sizeof(size), "%llu", (unsigned long long)a->size);
	if (pmt_alloc_op_reallocs(a->op))
		snprintf(old, sizeof(old), "0x%llx", (unsigned long long)a->old_addr);
	fprintf(out, "HEAP: %-12llu %-12s %-20s %12s 0x%-16llx %-18s %6u %5u %.*s %.*s\n",
		(unsigned long long)it->ev.number, ck, call_name(a), size,
		(unsigned long long)a->addr, old, a->site.thread, a->site.line, (int)l.name_len,
		l.name, (int)l.file_len, l.file);
	return ferror(out) ? -EIO : 0;
}

int pmt_evfmt_alloc_csv_header(FILE *out)
{
	fputs("tag,event,clock,call,size,addr,old_addr,align,thread,file,line,function\n", out);
	return ferror(out) ? -EIO : 0;
}

int pmt_evfmt_alloc_csv(FILE *out, const struct pmt_item *it, const struct pmt_source *s)
{
	const struct pmt_alloc *a = &it->alloc;
	struct pmt_evline l = {0};
	pmt_evline_code(&l, s, a->site.code);
	fprintf(out, "HEAP,%llu,", (unsigned long long)it->ev.number);
	put_clock(out, it->ev.time_ns);
	fprintf(out, ",%s,", call_name(a));
	if (pmt_alloc_has_size(a->op))
		fprintf(out, "%llu", (unsigned long long)a->size);
	fprintf(out, ",0x%llx,", (unsigned long long)a->addr);
	if (pmt_alloc_op_reallocs(a->op))
		fprintf(out, "0x%llx", (unsigned long long)a->old_addr);
	fprintf(out, ",%llu,%u,", (unsigned long long)a->align, a->site.thread);
	pmt_csv_write_field(out, l.file, l.file_len);
	fprintf(out, ",%u,", a->site.line);
	pmt_csv_write_field(out, l.name, l.name_len);
	fputc('\n', out);
	return ferror(out) ? -EIO : 0;
}

int pmt_evfmt_alloc_json(FILE *out, const struct pmt_item *it, const struct pmt_source *s)
{
	const struct pmt_alloc *a = &it->alloc;
	struct pmt_evline l = {0};
	pmt_evline_code(&l, s, a->site.code);
	fprintf(out, "{\"tag\": \"HEAP\", \"event\": %llu, \"clock\": ",
		(unsigned long long)it->ev.number);
	put_clock(out, it->ev.time_ns);
	fprintf(out, ", \"call\": \"%s\", \"size\": ", call_name(a));
	if (pmt_alloc_has_size(a->op))
		fprintf(out, "%llu", (unsigned long long)a->size);
	else
		fputs("null", out);
	fprintf(out, ", \"addr\": %llu, \"old_addr\": ", (unsigned long long)a->addr);
	if (pmt_alloc_op_reallocs(a->op))
		fprintf(out, "%llu", (unsigned long long)a->old_addr);
	else
		fputs("null", out);
	fprintf(out, ", \"align\": %llu, \"thread\": %u, \"file\": ", (unsigned long long)a->align,
		a->site.thread);
	pmt_json_write_string(out, l.file, l.file_len);
	fprintf(out, ", \"line\": %u, \"function\": ", a->site.line);
	pmt_json_write_string(out, l.name, l.name_len);
	fputs("}\n", out);
	return ferror(out) ? -EIO : 0;
}
