/* SPDX-License-Identifier: MIT */
/* Report tables: cells kept as text, printed in one of five formats. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <libpmt/report/table.h>

enum cell_type { CELL_STR, CELL_NUM, CELL_NULL, CELL_BYTES };

struct cell {
	char *s; /* "" for null; the exact value for bytes */
	size_t len;
	enum cell_type type;
	double v; /* bytes: the value, for the human form */
};

struct column {
	char *name;
	size_t name_len;
	enum pmt_align align;
};

struct pmt_table {
	char *title;
	struct column *cols;
	unsigned ncols;
	struct cell *cells;
	size_t ncells, capcells;
};

int pmt_format_parse(const char *s)
{
	static const char *const names[] = {
	    [PMT_FMT_TEXT] = "text",	     [PMT_FMT_CSV] = "csv", [PMT_FMT_JSON] = "json",
	    [PMT_FMT_MARKDOWN] = "markdown", [PMT_FMT_RST] = "rst",
	};
	if (!s)
		return -1;
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i]))
			return (int)i;
	if (!strcmp(s, "md"))
		return PMT_FMT_MARKDOWN;
	return -1;
}

int pmt_table_new(const char *title, struct pmt_table **out)
{
	struct pmt_table *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	if (title) {
		t->title = strdup(title);
		if (!t->title) {
			free(t);
			return -ENOMEM;
		}
	}
	*out = t;
	return 0;
}

void pmt_table_free(struct pmt_table *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < t->ncols; i++)
		free(t->cols[i].name);
	for (size_t i = 0; i < t->ncells; i++)
		free(t->cells[i].s);
	free(t->cols);
	free(t->cells);
	free(t->title);
	free(t);
}

int pmt_table_column(struct pmt_table *t, const char *name, enum pmt_align a)
{
	/* columns are fixed once cells exist: rows would not line up */
	if (t->ncells)
		return -EINVAL;
	struct column *c = realloc(t->cols, (t->ncols + 1) * sizeof(*c));
	if (!c)
		return -ENOMEM;
	t->cols = c;
	c[t->ncols].name = strdup(name);
	if (!c[t->ncols].name)
		return -ENOMEM;
	c[t->ncols].name_len = strlen(name);
	c[t->ncols].align = a;
	t->ncols++;
	return 0;
}

static int add_cell(struct pmt_table *t, const char *s, size_t len, enum cell_type type)
{
	if (!t->ncols)
		return -EINVAL;
	if (t->ncells == t->capcells) {
		size_t cap = t->capcells ? t->capcells * 2 : 64;
		struct cell *c = realloc(t->cells, cap * sizeof(*c));
		if (!c)
			return -ENOMEM;
		t->cells = c;
		t->capcells = cap;
	}
	char *copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, s, len);
	copy[len] = '\0';
	t->cells[t->ncells++] = (struct cell){.s = copy, .len = len, .type = type};
	return 0;
}

char *pmt_format_bytes(char *buf, size_t cap, double v)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	double a = fabs(v);
	if (!isfinite(v)) {
		snprintf(buf, cap, "?");
		return buf;
	}
	if (a < 1024) {
		long long n = llround(v);
		snprintf(buf, cap, "%lld B  ", n == 0 ? 0 : n);
		return buf;
	}
	unsigned u = 0;
	a /= 1024;
	/* 1023.96 KiB would print as "1024.0 KiB": move up a unit first */
	while (u + 1 < sizeof(units) / sizeof(units[0]) && a >= 1023.95) {
		a /= 1024;
		u++;
	}
	snprintf(buf, cap, "%s%.1f %s", v < 0 ? "-" : "", a, units[u]);
	return buf;
}

int pmt_table_str(struct pmt_table *t, const char *s)
{
	if (!s)
		return pmt_table_null(t);
	return add_cell(t, s, strlen(s), CELL_STR);
}

int pmt_table_strn(struct pmt_table *t, const char *s, size_t len)
{
	return add_cell(t, s ? s : "", s ? len : 0, CELL_STR);
}

int pmt_table_int(struct pmt_table *t, int64_t v)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%" PRId64, v);
	return add_cell(t, buf, (size_t)n, CELL_NUM);
}

int pmt_table_num(struct pmt_table *t, double v, int decimals)
{
	/* json has no NaN or infinity; an empty cell says "no value" everywhere */
	if (!isfinite(v))
		return pmt_table_null(t);
	if (decimals < 0)
		decimals = 0;
	if (decimals > 17)
		decimals = 17;
	char buf[384];
	int n = snprintf(buf, sizeof(buf), "%.*f", decimals, v);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return pmt_table_null(t);
	/* "-0.00" reads as a change where there is none */
	if (buf[0] == '-' && strspn(buf + 1, "0.") == (size_t)n - 1)
		return add_cell(t, buf + 1, (size_t)n - 1, CELL_NUM);
	return add_cell(t, buf, (size_t)n, CELL_NUM);
}

int pmt_table_null(struct pmt_table *t) { return add_cell(t, "", 0, CELL_NULL); }

int pmt_table_bytes(struct pmt_table *t, int64_t v)
{
	int r = pmt_table_int(t, v);
	if (r == 0) {
		t->cells[t->ncells - 1].type = CELL_BYTES;
		t->cells[t->ncells - 1].v = (double)v;
	}
	return r;
}

int pmt_table_bytes_num(struct pmt_table *t, double v, int decimals)
{
	int r = pmt_table_num(t, v, decimals);
	if (r == 0 && t->cells[t->ncells - 1].type == CELL_NUM) {
		t->cells[t->ncells - 1].type = CELL_BYTES;
		t->cells[t->ncells - 1].v = v;
	}
	return r;
}

/* ---- output helpers ---- */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when the byte at s
 * does not start one. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Characters as a terminal shows them (one per code point; invalid bytes
 * count one each). */
static size_t display_width(const char *s, size_t len)
{
	size_t w = 0;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq((const unsigned char *)s + i, len - i);
		i += n ? n : 1;
		w++;
	}
	return w;
}

int pmt_json_write_string(FILE *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	fputc('"', out);
	for (size_t i = 0; i < len;) {
		unsigned char c = p[i];
		if (c == '"' || c == '\\') {
			fputc('\\', out);
			fputc(c, out);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			switch (c) {
			case '\n':
				fputs("\\n", out);
				break;
			case '\t':
				fputs("\\t", out);
				break;
			case '\r':
				fputs("\\r", out);
				break;
			default:
				fprintf(out, "\\u%04x", c);
			}
			i++;
		} else if (c < 0x80) {
			fputc(c, out);
			i++;
		} else {
			size_t n = utf8_seq(p + i, len - i);
			if (n) {
				fwrite(p + i, 1, n, out);
				i += n;
			} else {
				/* pymemtrace writes Latin-1 bytes as they are: read a
				 * byte that is not UTF-8 as Latin-1, so the output stays
				 * valid JSON and keeps the character */
				fprintf(out, "\\u%04x", c);
				i++;
			}
		}
	}
	fputc('"', out);
	return 0;
}

int pmt_xml_write(FILE *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		unsigned char c = p[i];
		size_t n = 1;
		switch (c) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&#39;", out);
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				/* XML 1.0 has no place for control characters */
				fputs(c == '\t' || c == '\n' ? " " : "\xef\xbf\xbd", out);
			} else if (c < 0x80) {
				fputc(c, out);
			} else if ((n = utf8_seq(p + i, len - i)) != 0) {
				fwrite(p + i, 1, n, out);
			} else {
				/* not UTF-8: read as Latin-1, as the JSON writer does */
				fprintf(out, "&#x%x;", c);
				n = 1;
			}
		}
		i += n;
	}
	return ferror(out) ? -EIO : 0;
}

int pmt_csv_write_field(FILE *out, const char *s, size_t len)
{
	bool quote = false;
	for (size_t i = 0; i < len; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r') {
			quote = true;
			break;
		}
	/* leading/trailing spaces survive only when quoted in some readers */
	if (len && (s[0] == ' ' || s[len - 1] == ' '))
		quote = true;
	if (!quote) {
		fwrite(s, 1, len, out);
		return 0;
	}
	fputc('"', out);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"')
			fputc('"', out);
		fputc(s[i], out);
	}
	fputc('"', out);
	return 0;
}

/* Text cell for the aligned formats: control characters would break the
 * grid, so they print as spaces. */
static void put_text(FILE *out, const char *s, size_t len, bool md)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			fputc(' ', out);
		else if (md && c == '|')
			fputs("\\|", out);
		else
			fputc(c, out);
	}
}

static size_t md_width(const char *s, size_t len)
{
	size_t w = display_width(s, len);
	for (size_t i = 0; i < len; i++)
		if (s[i] == '|')
			w++;
	return w;
}

static void pad(FILE *out, size_t n, char c)
{
	while (n--)
		fputc(c, out);
}

static void put_aligned(FILE *out, const char *s, size_t len, size_t w, size_t width,
			enum pmt_align a, bool md, bool last)
{
	if (a == PMT_ALIGN_RIGHT)
		pad(out, width - w, ' ');
	put_text(out, s, len, md);
	if (a == PMT_ALIGN_LEFT && !last)
		pad(out, width - w, ' ');
}

static size_t nrows(const struct pmt_table *t) { return (t->ncells + t->ncols - 1) / t->ncols; }

/* The cell at (r, c), or an empty one for a short last row. */
static const struct cell *cell_at(const struct pmt_table *t, size_t r, unsigned c)
{
	static const struct cell empty = {.s = "", .len = 0, .type = CELL_NULL};
	size_t i = r * t->ncols + c;
	return i < t->ncells ? &t->cells[i] : &empty;
}

/* The cell as a format shows it: byte counts in binary units when human. */
struct view {
	struct cell c;
	char buf[48];
};

static const struct cell *cell_view(const struct pmt_table *t, size_t r, unsigned c, bool human,
				    struct view *v)
{
	const struct cell *x = cell_at(t, r, c);
	if (!human || x->type != CELL_BYTES)
		return x;
	pmt_format_bytes(v->buf, sizeof(v->buf), x->v);
	v->c = *x;
	v->c.s = v->buf;
	v->c.len = strlen(v->buf);
	return &v->c;
}

static int widths(const struct pmt_table *t, size_t *w, bool md, bool human)
{
	struct view tmp;
	size_t rows = nrows(t);
	for (unsigned c = 0; c < t->ncols; c++) {
		w[c] = md ? md_width(t->cols[c].name, t->cols[c].name_len)
			  : display_width(t->cols[c].name, t->cols[c].name_len);
		for (size_t r = 0; r < rows; r++) {
			const struct cell *x = cell_view(t, r, c, human, &tmp);
			size_t cw = md ? md_width(x->s, x->len) : display_width(x->s, x->len);
			if (cw > w[c])
				w[c] = cw;
		}
		/* markdown needs at least three dashes in the rule */
		if (md && w[c] < 3)
			w[c] = 3;
	}
	return 0;
}

static void print_text(const struct pmt_table *t, const size_t *w, FILE *out, bool human)
{
	struct view tmp;
	size_t rows = nrows(t);
	if (t->title)
		fprintf(out, "%s\n\n", t->title);
	for (unsigned c = 0; c < t->ncols; c++) {
		if (c)
			fputs("  ", out);
		const struct column *col = &t->cols[c];
		put_aligned(out, col->name, col->name_len, display_width(col->name, col->name_len),
			    w[c], col->align, false, c + 1 == t->ncols);
	}
	fputc('\n', out);
	for (unsigned c = 0; c < t->ncols; c++) {
		if (c)
			fputs("  ", out);
		pad(out, w[c], '-');
	}
	fputc('\n', out);
	for (size_t r = 0; r < rows; r++) {
		for (unsigned c = 0; c < t->ncols; c++) {
			const struct cell *x = cell_view(t, r, c, human, &tmp);
			if (c)
				fputs("  ", out);
			put_aligned(out, x->s, x->len, display_width(x->s, x->len), w[c],
				    t->cols[c].align, false, c + 1 == t->ncols);
		}
		fputc('\n', out);
	}
}

static void print_markdown(const struct pmt_table *t, const size_t *w, FILE *out, bool human)
{
	struct view tmp;
	size_t rows = nrows(t);
	if (t->title)
		fprintf(out, "%s\n\n", t->title);
	fputc('|', out);
	for (unsigned c = 0; c < t->ncols; c++) {
		const struct column *col = &t->cols[c];
		fputc(' ', out);
		put_aligned(out, col->name, col->name_len, md_width(col->name, col->name_len), w[c],
			    col->align, true, false);
		fputs(" |", out);
	}
	fputs("\n|", out);
	for (unsigned c = 0; c < t->ncols; c++) {
		fputc(t->cols[c].align == PMT_ALIGN_LEFT ? ':' : '-', out);
		pad(out, w[c], '-');
		fputs(t->cols[c].align == PMT_ALIGN_RIGHT ? ":|" : "-|", out);
	}
	fputc('\n', out);
	for (size_t r = 0; r < rows; r++) {
		fputc('|', out);
		for (unsigned c = 0; c < t->ncols; c++) {
			const struct cell *x = cell_view(t, r, c, human, &tmp);
			fputc(' ', out);
			put_aligned(out, x->s, x->len, md_width(x->s, x->len), w[c],
				    t->cols[c].align, true, false);
			fputs(" |", out);
		}
		fputc('\n', out);
	}
}

static void rst_rule(const struct pmt_table *t, const size_t *w, char c, FILE *out)
{
	fputc('+', out);
	for (unsigned i = 0; i < t->ncols; i++) {
		pad(out, w[i] + 2, c);
		fputc('+', out);
	}
	fputc('\n', out);
}

static void print_rst(const struct pmt_table *t, const size_t *w, FILE *out, bool human)
{
	struct view tmp;
	size_t rows = nrows(t);
	if (t->title)
		fprintf(out, "%s\n\n", t->title);
	rst_rule(t, w, '-', out);
	fputc('|', out);
	for (unsigned c = 0; c < t->ncols; c++) {
		const struct column *col = &t->cols[c];
		fputc(' ', out);
		put_aligned(out, col->name, col->name_len, display_width(col->name, col->name_len),
			    w[c], col->align, false, false);
		fputs(" |", out);
	}
	fputc('\n', out);
	rst_rule(t, w, '=', out);
	for (size_t r = 0; r < rows; r++) {
		fputc('|', out);
		for (unsigned c = 0; c < t->ncols; c++) {
			const struct cell *x = cell_view(t, r, c, human, &tmp);
			fputc(' ', out);
			put_aligned(out, x->s, x->len, display_width(x->s, x->len), w[c],
				    t->cols[c].align, false, false);
			fputs(" |", out);
		}
		fputc('\n', out);
		rst_rule(t, w, '-', out);
	}
}

static void print_csv(const struct pmt_table *t, FILE *out)
{
	size_t rows = nrows(t);
	for (unsigned c = 0; c < t->ncols; c++) {
		if (c)
			fputc(',', out);
		pmt_csv_write_field(out, t->cols[c].name, t->cols[c].name_len);
	}
	fputc('\n', out);
	for (size_t r = 0; r < rows; r++) {
		for (unsigned c = 0; c < t->ncols; c++) {
			const struct cell *x = cell_at(t, r, c);
			if (c)
				fputc(',', out);
			pmt_csv_write_field(out, x->s, x->len);
		}
		fputc('\n', out);
	}
}

static void print_json(const struct pmt_table *t, FILE *out)
{
	size_t rows = nrows(t);
	fputc('[', out);
	for (size_t r = 0; r < rows; r++) {
		fputs(r ? ",\n  {" : "\n  {", out);
		for (unsigned c = 0; c < t->ncols; c++) {
			const struct cell *x = cell_at(t, r, c);
			if (c)
				fputs(", ", out);
			pmt_json_write_string(out, t->cols[c].name, t->cols[c].name_len);
			fputs(": ", out);
			if (x->type == CELL_NULL)
				fputs("null", out);
			else if (x->type == CELL_NUM || x->type == CELL_BYTES)
				fwrite(x->s, 1, x->len, out);
			else
				pmt_json_write_string(out, x->s, x->len);
		}
		fputc('}', out);
	}
	fputs(rows ? "\n]\n" : "]\n", out);
}

/* A <table> whose numeric cells carry their exact value in data-v, so a
 * script can sort on it whatever the cell shows. */
static void print_html(const struct pmt_table *t, FILE *out, bool human)
{
	struct view tmp;
	size_t rows = nrows(t);
	fputs("<table class=\"pmt-table\">\n", out);
	if (t->title) {
		fputs("<caption>", out);
		pmt_xml_write(out, t->title, strlen(t->title));
		fputs("</caption>\n", out);
	}
	fputs("<thead><tr>", out);
	for (unsigned c = 0; c < t->ncols; c++) {
		fputs(t->cols[c].align == PMT_ALIGN_RIGHT ? "<th class=\"r\">" : "<th>", out);
		pmt_xml_write(out, t->cols[c].name, t->cols[c].name_len);
		fputs("</th>", out);
	}
	fputs("</tr></thead>\n<tbody>\n", out);
	for (size_t r = 0; r < rows; r++) {
		fputs("<tr>", out);
		for (unsigned c = 0; c < t->ncols; c++) {
			const struct cell *raw = cell_at(t, r, c);
			const struct cell *x = cell_view(t, r, c, human, &tmp);
			fputs(t->cols[c].align == PMT_ALIGN_RIGHT ? "<td class=\"r\"" : "<td", out);
			if (raw->type == CELL_NUM || raw->type == CELL_BYTES) {
				fputs(" data-v=\"", out);
				fwrite(raw->s, 1, raw->len, out);
				fputc('"', out);
			}
			if (raw->type == CELL_BYTES && human) {
				fputs(" title=\"", out);
				fwrite(raw->s, 1, raw->len, out);
				fputs(" bytes\"", out);
			}
			fputc('>', out);
			pmt_xml_write(out, x->s, x->len);
			fputs("</td>", out);
		}
		fputs("</tr>\n", out);
	}
	fputs("</tbody></table>\n", out);
}

int pmt_table_print(const struct pmt_table *t, enum pmt_format f, FILE *out)
{
	if (!t->ncols)
		return -EINVAL;
	size_t *w = calloc(t->ncols, sizeof(*w));
	if (!w)
		return -ENOMEM;
	bool human = !(f & PMT_FMT_EXACT);
	f = (enum pmt_format)(f & PMT_FMT_MASK);
	switch (f) {
	case PMT_FMT_TEXT: {
		/* empty cells at the end of a row would leave trailing blanks:
		 * render, then trim each line */
		char *buf = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&buf, &len);
		if (!m) {
			free(w);
			return -ENOMEM;
		}
		widths(t, w, false, human);
		print_text(t, w, m, human);
		if (fclose(m)) {
			free(buf);
			free(w);
			return -ENOMEM;
		}
		for (size_t i = 0; i < len;) {
			char *nl = memchr(buf + i, '\n', len - i);
			size_t e = nl ? (size_t)(nl - buf) : len, k = e;
			while (k > i && buf[k - 1] == ' ')
				k--;
			fwrite(buf + i, 1, k - i, out);
			if (nl)
				fputc('\n', out);
			i = e + 1;
		}
		free(buf);
		break;
	}
	case PMT_FMT_MARKDOWN:
		widths(t, w, true, human);
		print_markdown(t, w, out, human);
		break;
	case PMT_FMT_RST:
		widths(t, w, false, human);
		print_rst(t, w, out, human);
		break;
	case PMT_FMT_CSV:
		print_csv(t, out);
		break;
	case PMT_FMT_JSON:
		print_json(t, out);
		break;
	case PMT_FMT_HTML:
		print_html(t, out, human);
		break;
	default:
		free(w);
		return -EINVAL;
	}
	free(w);
	if (ferror(out))
		return -EIO;
	return 0;
}

void pmt_table_diff_row(struct pmt_table *t, const char *what, int64_t a, int64_t b, bool bytes)
{
	int (*cell)(struct pmt_table *, int64_t) = bytes ? pmt_table_bytes : pmt_table_int;
	pmt_table_str(t, what);
	cell(t, a);
	cell(t, b);
	cell(t, b - a);
	if (a)
		pmt_table_num(t, (double)b / (double)a, 3);
	else
		pmt_table_null(t);
}
