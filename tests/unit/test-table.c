/* SPDX-License-Identifier: MIT */
/* libpmt/report/table.c: every format on one small table, byte for byte, and the
 * JSON/CSV escaping rules the streaming tools rely on. TAP output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpmt/report/table.h>

static int failures, count;

static void check(int ok, const char *what)
{
	count++;
	printf("%sok %d - %s\n", ok ? "" : "not ", count, what);
	if (!ok)
		failures++;
}

static void expect_buf(const char *got, const char *want, const char *what)
{
	int ok = !strcmp(got, want);
	check(ok, what);
	if (!ok)
		printf("# want:\n%s\n# got:\n%s\n", want, got);
}

static void expect(const struct pmt_table *t, enum pmt_format f, const char *want, const char *what)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	if (!m)
		abort();
	int r = pmt_table_print(t, f, m);
	fclose(m);
	check(r == 0, "pmt_table_print returns 0");
	expect_buf(buf, want, what);
	free(buf);
}

static struct pmt_table *sample(const char *title)
{
	struct pmt_table *t;
	if (pmt_table_new(title, &t) < 0)
		abort();
	pmt_table_column(t, "function", PMT_ALIGN_LEFT);
	pmt_table_column(t, "calls", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "ratio", PMT_ALIGN_RIGHT);
	pmt_table_str(t, "main");
	pmt_table_int(t, 1);
	pmt_table_num(t, 2.5, 2);
	pmt_table_str(t, "a|b, \"q\"");
	pmt_table_int(t, -40960);
	pmt_table_null(t);
	return t;
}

int main(void)
{
	printf("1..21\n");
	struct pmt_table *t = sample("Top");

	expect(t, PMT_FMT_TEXT,
	       "Top\n\n"
	       "function   calls  ratio\n"
	       "--------  ------  -----\n"
	       "main           1   2.50\n"
	       "a|b, \"q\"  -40960\n",
	       "text: aligned, no trailing blanks");
	expect(t, PMT_FMT_CSV,
	       "function,calls,ratio\n"
	       "main,1,2.50\n"
	       "\"a|b, \"\"q\"\"\",-40960,\n",
	       "csv: RFC 4180 quoting, no title");
	expect(t, PMT_FMT_JSON,
	       "[\n"
	       "  {\"function\": \"main\", \"calls\": 1, \"ratio\": 2.50},\n"
	       "  {\"function\": \"a|b, \\\"q\\\"\", \"calls\": -40960, \"ratio\": null}\n"
	       "]\n",
	       "json: numbers unquoted, null for empty");
	expect(t, PMT_FMT_MARKDOWN,
	       "Top\n\n"
	       "| function  |  calls | ratio |\n"
	       "|:----------|-------:|------:|\n"
	       "| main      |      1 |  2.50 |\n"
	       "| a\\|b, \"q\" | -40960 |       |\n",
	       "markdown: pipes escaped, alignment row");
	expect(t, PMT_FMT_RST,
	       "Top\n\n"
	       "+----------+--------+-------+\n"
	       "| function |  calls | ratio |\n"
	       "+==========+========+=======+\n"
	       "| main     |      1 |  2.50 |\n"
	       "+----------+--------+-------+\n"
	       "| a|b, \"q\" | -40960 |       |\n"
	       "+----------+--------+-------+\n",
	       "rst grid table");
	pmt_table_free(t);

	/* UTF-8 counts one column per character; NaN becomes an empty cell */
	pmt_table_new(NULL, &t);
	pmt_table_column(t, "name", PMT_ALIGN_LEFT);
	pmt_table_column(t, "v", PMT_ALIGN_RIGHT);
	pmt_table_str(t, "\xc3\xa9t\xc3\xa9");
	pmt_table_num(t, 0.0 / 0.0, 1);
	pmt_table_str(t, "x");
	pmt_table_num(t, -0.001, 2);
	expect(t, PMT_FMT_TEXT, "name     v\n----  ----\n\xc3\xa9t\xc3\xa9\nx     0.00\n",
	       "text: utf-8 width, NaN empty, no negative zero");
	expect(t, PMT_FMT_JSON,
	       "[\n  {\"name\": \"\xc3\xa9t\xc3\xa9\", \"v\": null},\n"
	       "  {\"name\": \"x\", \"v\": 0.00}\n]\n",
	       "json: NaN is null");
	pmt_table_free(t);

	/* Empty table: header only */
	pmt_table_new(NULL, &t);
	pmt_table_column(t, "a", PMT_ALIGN_LEFT);
	expect(t, PMT_FMT_JSON, "[]\n", "json: empty array");
	check(pmt_table_column(t, "b", PMT_ALIGN_LEFT) == 0, "columns may be added before cells");
	pmt_table_str(t, "1");
	check(pmt_table_column(t, "c", PMT_ALIGN_LEFT) < 0, "no columns once cells exist");
	pmt_table_free(t);

	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	pmt_json_write_string(m, "\xe9t\xc3\xa9\x01\n\"\\\xff", 9);
	fclose(m);
	expect_buf(buf, "\"\\u00e9t\xc3\xa9\\u0001\\n\\\"\\\\\\u00ff\"",
		   "json string: latin-1 bytes and controls escaped");
	free(buf);

	m = open_memstream(&buf, &len);
	pmt_csv_write_field(m, "plain", 5);
	fputc('|', m);
	pmt_csv_write_field(m, " lead", 5);
	fputc('|', m);
	pmt_csv_write_field(m, "a\nb", 3);
	fclose(m);
	expect_buf(buf, "plain|\" lead\"|\"a\nb\"", "csv fields quoted only when needed");
	free(buf);

	check(pmt_format_parse("rst") == PMT_FMT_RST &&
		  pmt_format_parse("md") == PMT_FMT_MARKDOWN && pmt_format_parse("xml") == -1,
	      "format names");
	return failures ? 1 : 0;
}
