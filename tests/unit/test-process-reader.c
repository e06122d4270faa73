/* SPDX-License-Identifier: MIT */
/* libpmt/read/process-reader.c, process-log.c and report/process-report.c: record parsing, the
 * per-PID table against values computed by hand, pymemtrace's own expected table, bad and empty
 * inputs, and the Summary table across runs. TAP output. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include <libpmt/core/errors.h>
#include <libpmt/read/process-reader.h>
#include <libpmt/report/process-report.h>

static char dir[] = "/tmp/pmt-test-process-XXXXXX";

static const char *write_file(const char *name, const char *text)
{
	static char path[4][512];
	static int k;
	char *p = path[k++ % 4];
	snprintf(p, 512, "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
	return p;
}

static int summarise(const char *path, enum pmt_format fmt, char **text, unsigned *warnings)
{
	struct pmt_input *in;
	int r = pmt_input_open(path, &in);
	if (r < 0)
		return r;
	size_t len;
	FILE *m = open_memstream(text, &len);
	r = pmt_process_summarise(in, fmt, m, warnings);
	fclose(m);
	pmt_input_free(in);
	return r;
}

static void test_parse(void)
{
	struct pmt_process_record rec;
	const char *why = NULL;
	const char *start =
	    "2026-01-02 03:04:05,678 - p.py#1 - 42 - (ProcMon   ) - INFO     - "
	    "ProcessLoggingThread-JSON-START {\"timestamp\": \"2026-01-02 03:04:05.5\", "
	    "\"memory_info\": {\"rss\": 4096, \"vms\": 8192, \"pfaults\": 12}, "
	    "\"cpu_times\": {\"user\": 0.25, \"system\": 0.5}, \"elapsed_time\": 1.5, "
	    "\"pid\": 42}\r";
	ok(pmt_process_parse_line(start, strlen(start), &rec, &why) == 1, "START line parses");
	ok(rec.kind == PMT_PROC_START && rec.pid == 42 && rec.rss == 4096 && rec.vms == 8192,
	   "START kind, pid, rss, vms");
	ok(rec.has_pfaults && rec.pfaults == 12 && rec.has_user && rec.user == 0.25 &&
	       rec.system == 0.5 && rec.elapsed == 1.5,
	   "pfaults, user, system, elapsed");
	ok(!strcmp(rec.iso, "2026-01-02T03:04:05.500000"), "timestamp as %%Y-%%m-%%dT..%%f: %s",
	   rec.iso);

	const char *stop = "x ProcessLoggingThread-JSON-STOP{\"pid\": 1, \"elapsed_time\": 2, "
			   "\"memory_info\": {\"rss\": 1}}";
	ok(pmt_process_parse_line(stop, strlen(stop), &rec, &why) == 1 &&
	       rec.kind == PMT_PROC_STOP && !rec.has_pfaults && !rec.has_user && !rec.has_timestamp,
	   "STOP without space, pfaults, cpu_times, timestamp");
	const char *plain =
	    "xProcessLoggingThread-JSON {\"memory_info\": {\"rss\": 7}, \"pid\": 3, "
	    "\"elapsed_time\": 0.5}";
	ok(pmt_process_parse_line(plain, strlen(plain), &rec, &why) == 1 &&
	       rec.kind == PMT_PROC_PLAIN && rec.pid == 3 && rec.rss == 7,
	   "plain record, keys in any order");

	const char *at0 = "ProcessLoggingThread-JSON {\"pid\": 1}";
	ok(pmt_process_parse_line(at0, strlen(at0), &rec, &why) == 0,
	   "prefix at the start of the line is not a record (pymemtrace's regex)");
	const char *other = "2026-01-02 INFO something else";
	ok(pmt_process_parse_line(other, strlen(other), &rec, &why) == 0, "other lines ignored");
	const char *broken = "a ProcessLoggingThread-JSON {\"pid\": 1, \"elapsed_time\": ";
	ok(pmt_process_parse_line(broken, strlen(broken), &rec, &why) == PMT_E_CORRUPT && why,
	   "broken json is corrupt: %s", why ? why : "");
	const char *nopid = "a ProcessLoggingThread-JSON {\"elapsed_time\": 1, "
			    "\"memory_info\": {\"rss\": 1}}";
	ok(pmt_process_parse_line(nopid, strlen(nopid), &rec, &why) == PMT_E_CORRUPT,
	   "record without pid is corrupt");
	const char *arr = "a ProcessLoggingThread-JSON [1, 2]";
	ok(pmt_process_parse_line(arr, strlen(arr), &rec, &why) == PMT_E_CORRUPT,
	   "json that is not an object is corrupt");
	const char *trail = "a ProcessLoggingThread-JSON {\"pid\": 1, \"elapsed_time\": 1, "
			    "\"memory_info\": {\"rss\": 1}} trailing";
	ok(pmt_process_parse_line(trail, strlen(trail), &rec, &why) == PMT_E_CORRUPT,
	   "extra text after the json is corrupt (json.loads)");
}

#define REC(pid, t, rss, extra)                                                                    \
	"2026-01-01 00:00:00,000 - process.py#1 - 1 - (ProcMon   ) - INFO     - "                  \
	"ProcessLoggingThread-JSON {\"timestamp\": \"2026-01-01 00:00:0" #t ".000001\", "          \
	"\"memory_info\": {\"rss\": " #rss extra "}, \"elapsed_time\": " #t ".0, \"pid\": " #pid
/* Values chosen so every cell can be checked by hand:
 * PID 7: t=2 rss=1000 pf=100 user=1   -> 100/2=50.0/s, 1/2=50.0%, 50.0%
 *        t=4 rss=3000 pf=500 user=2   -> 400/2=200.0/s, 2/4=50.0%, 1/2=50.0%
 *        t=4 rss=2000 pf=600 user=2.5 -> dt=0: empty, 2.5/4=62.5%, empty (labelled)
 * PID 9: t=1 rss=500 (no pfaults) user=0.25 -> empty, 25.0%, 25.0%
 *        t=3 rss=700 user=1.25              -> empty, 1.25/3=41.7%, 1/2=50.0% */
/* clang-format off */
static const char hand_log[] =
	"app started\n"
	REC(7, 2, 1000, ", \"pfaults\": 100") ", \"cpu_times\": {\"user\": 1.0}}\n"
	"other logger line\n"
	REC(9, 1, 500, "") ", \"cpu_times\": {\"user\": 0.25}}\n"
	"x ProcessLoggingThread-JSON {\"pid\": 7, broken\n"
	REC(7, 4, 3000, ", \"pfaults\": 500") ", \"cpu_times\": {\"user\": 2.0}}\n"
	REC(9, 3, 700, "") ", \"cpu_times\": {\"user\": 1.25}}\n"
	REC(7, 4, 2000, ", \"pfaults\": 600")
		", \"cpu_times\": {\"user\": 2.5}, \"label\": \"a \\\"q\\\" \\\\ b\"}\n";
/* clang-format on */

static const char hand_text[] =
    "#t(s)                 RSS PageFaults/s         User    Mean_CPU%    Inst_CPU% Timestamp "
    "                    PID Label\n"
    "2.0                  1000         50.0          1.0        50.0%        50.0% "
    "2026-01-01T00:00:02.000001      7 # \n"
    "4.0                  3000        200.0          2.0        50.0%        50.0% "
    "2026-01-01T00:00:04.000001      7 # \n"
    "4.0                  2000                       2.5        62.5%              "
    "2026-01-01T00:00:04.000001      7 # a \"q\" \\ b\n"
    "\n"
    "PID 7: 3 records, 1 labels, duration 4.0 s, peak RSS 3000 bytes (0.0 MiB), mean CPU "
    "62.5%, effective time 2.5 s\n"
    "\n"
    "#t(s)                 RSS PageFaults/s         User    Mean_CPU%    Inst_CPU% Timestamp "
    "                    PID Label\n"
    "1.0                   500                       0.2        25.0%        25.0% "
    "2026-01-01T00:00:01.000001      9 # \n"
    "3.0                   700                       1.2        41.7%        50.0% "
    "2026-01-01T00:00:03.000001      9 # \n"
    "\n"
    "PID 9: 2 records, 0 labels, duration 3.0 s, peak RSS 700 bytes (0.0 MiB), mean CPU 41.7%, "
    "effective time 1.2 s, no page faults recorded\n";

static void test_hand_table(void)
{
	const char *p = write_file("hand.log", hand_log);
	char *text = NULL;
	unsigned w = 99;
	int r = summarise(p, PMT_FMT_TEXT, &text, &w);
	ok(r == 0, "hand log summarises (%d)", r);
	ok(w == 1, "one broken line counted (%u)", w);
	ok(text && !strcmp(text, hand_text), "per-PID tables match the values computed by hand");
	if (text && strcmp(text, hand_text))
		printf("# got:\n%s# want:\n%s", text, hand_text);
	free(text);

	text = NULL;
	r = summarise(p, PMT_FMT_JSON, &text, &w);
	ok(r == 0 && text && !strncmp(text, "{\"records\": [", 13) &&
	       strstr(text, "\"summary\": [") && strstr(text, "\"Mean CPU%\": 62.5") &&
	       strstr(text, "\"PageFaults/s\": null"),
	   "json: records and summary, empty cells are null");
	free(text);
	text = NULL;
	r = summarise(p, PMT_FMT_CSV, &text, &w);
	ok(r == 0 && text && strstr(text, "\"a \"\"q\"\" \\ b\""), "csv quotes the label");
	free(text);
}

static void test_oracle(void)
{
	const char *shared = getenv("PMT_SHARED");
	char log[1024], exp[1024];
	snprintf(log, sizeof(log), "%s/compat/process_oracle_example.log", shared ? shared : "");
	snprintf(exp, sizeof(exp), "%s/compat/process_oracle_example.expected",
		 shared ? shared : "");
	FILE *f = shared ? fopen(exp, "r") : NULL;
	if (!f || access(log, R_OK)) {
		printf("ok %d - # SKIP pymemtrace's oracle log not present\n", ++tap_count);
		if (f)
			fclose(f);
		return;
	}
	char want[8192];
	size_t n = fread(want, 1, sizeof(want) - 1, f);
	want[n] = '\0';
	fclose(f);
	char *text = NULL;
	unsigned w;
	int r = summarise(log, PMT_FMT_TEXT, &text, &w);
	ok(r == 0 && w == 0, "oracle log summarises cleanly");
	ok(text && !strncmp(text, want, n) && text[n] == '\n',
	   "table is byte for byte pymemtrace's expected table");
	if (text && strncmp(text, want, n))
		printf("# got:\n%s# want:\n%s", text, want);
	free(text);
}

static void test_bad_inputs(void)
{
	char *text = NULL;
	unsigned w;
	ok(summarise(write_file("empty.log", ""), PMT_FMT_TEXT, &text, &w) == PMT_E_EMPTY,
	   "empty log: PMT_E_EMPTY");
	free(text);
	text = NULL;
	ok(summarise(write_file("other.log", "just\nsome text\n"), PMT_FMT_TEXT, &text, &w) ==
	       PMT_E_TYPE,
	   "no records: PMT_E_TYPE");
	free(text);
	text = NULL;
	ok(summarise(write_file("bad.log", "a ProcessLoggingThread-JSON {nope\n"), PMT_FMT_TEXT,
		     &text, &w) == PMT_E_CORRUPT &&
	       w == 1,
	   "only broken records: PMT_E_CORRUPT, counted");
	free(text);
	text = NULL;
	/* a truncated last line (writer killed mid-line) is one bad record */
	char cut[sizeof(hand_log)];
	memcpy(cut, hand_log, sizeof(hand_log));
	cut[strlen(cut) - 20] = '\0';
	int r = summarise(write_file("cut.log", cut), PMT_FMT_TEXT, &text, &w);
	ok(r == 0 && w == 2 && text && strstr(text, "PID 7: 2 records"),
	   "cut last line skipped, the rest reported");
	free(text);
}

static void test_diff(void)
{
	const char *a =
	    write_file("a.log", REC(5, 2, 100, "") ", \"cpu_times\": {\"user\": 1.0}}\n");
	const char *b =
	    write_file("b.log", REC(6, 3, 300, "") ", \"cpu_times\": {\"user\": 3.0}}\n" REC(
				    8, 5, 900, "") ", \"cpu_times\": {\"user\": 1.0}}\n");
	struct pmt_input *ins[2];
	if (pmt_input_open(a, &ins[0]) < 0 || pmt_input_open(b, &ins[1]) < 0)
		abort();
	char *text = NULL;
	size_t len;
	FILE *m = open_memstream(&text, &len);
	unsigned w = 9;
	int r = pmt_process_diff(ins, 2, PMT_FMT_CSV, m, &w);
	fclose(m);
	ok(r == 0 && w == 0, "diff of two process logs");
	/* baseline 2.0 s; run 2 is PID 6's 3.0 s (its first PID): x1.50; peak
	 * over both PIDs: 900 */
	ok(text && strstr(text, ",1,1,2.0,x1.00,100,") && strstr(text, ",2,2,3.0,x1.50,900,"),
	   "time, ratio against the baseline, peak RSS");
	if (text)
		printf("# %s", text);
	free(text);
	pmt_input_free(ins[0]);
	pmt_input_free(ins[1]);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 99;
	test_parse();
	test_hand_table();
	test_oracle();
	test_bad_inputs();
	test_diff();
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return done_testing();
}
