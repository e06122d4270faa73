/* SPDX-License-Identifier: MIT */
/* libpmt/report names, flame and table units: short file names from the
 * header's directories and without them, the tracer's frames left out of
 * the stacks, stacks merged by name, binary units, XML escaping. TAP. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpmt/core/log-writer.h>
#include <libpmt/report/flame.h>
#include <libpmt/report/names.h>
#include <libpmt/report/profile.h>
#include <libpmt/report/table.h>

static int failures, count;

static void check(int ok, const char *what)
{
	count++;
	printf("%sok %d - %s\n", ok ? "" : "not ", count, what);
	if (!ok)
		failures++;
}

static void expect_str(const char *got, size_t len, const char *want, const char *what)
{
	int ok = len == strlen(want) && !memcmp(got, want, len);
	check(ok, what);
	if (!ok)
		printf("# want '%s', got '%.*s'\n", want, (int)len, got);
}

static const char *const files[] = {
    "/home/u/proj/app.py",
    "/usr/lib/python3.11/json/encoder.py",
    "/usr/lib/python3.11/site-packages/pkg/mod.py",
    "<frozen importlib._bootstrap>",
    "/opt/x/pmt_tracer/__main__.py",
    "/elsewhere/lib.py",
};

/* A log: the launcher (code 5) runs <module> (1), which calls dumps (2),
 * then call (3), which calls dumps again; RSS grows 1, 2 and 3 pages. */
static int write_log(const char *path, bool dirs)
{
	static const char *const argv[] = {"app.py"};
	static const char *const site[] = {"/usr/lib/python3.11/site-packages"};
	struct pmt_header h = {.version = PMT_FORMAT_VERSION,
			       .pid = 1,
			       .page_size = 4096,
			       .python_version = "3.11.7",
			       .argc = 1,
			       .argv = argv,
			       .rss_source = "statm",
			       .rss_start = 100};
	if (dirs) {
		h.cwd = "/home/u/proj";
		h.stdlib_dir = "/usr/lib/python3.11";
		h.nsite = 1;
		h.site_dirs = site;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	struct pmt_writer *w;
	if (fd < 0 || pmt_writer_new(fd, &h, NULL, &w) < 0)
		return -1;
	static const char *const names[] = {"<module>", "dumps", "call", "g", "_run_script", "h"};
	for (unsigned i = 0; i < 6; i++)
		pmt_writer_code(w, i + 1, PMT_CODE_PY, 1, files[i], strlen(files[i]), names[i],
				strlen(names[i]));
	static const struct {
		unsigned kind, code;
		uint64_t rss;
	} ev[] = {
	    {PMT_CALL, 5, 100},	  {PMT_CALL, 1, 100},	{PMT_CALL, 2, 101},   {PMT_RETURN, 2, 101},
	    {PMT_CALL, 3, 101},	  {PMT_CALL, 2, 101},	{PMT_RETURN, 2, 103}, {PMT_RETURN, 3, 103},
	    {PMT_RETURN, 1, 106}, {PMT_RETURN, 5, 106},
	};
	for (unsigned i = 0; i < sizeof(ev) / sizeof(ev[0]); i++)
		pmt_writer_event(w, ev[i].kind, ev[i].code, 1, i * 10, ev[i].rss);
	struct pmt_trailer t = {.total_events = 10, .flags = PMT_TRL_CLEAN};
	int r = pmt_writer_close(w, &t);
	pmt_writer_free(w);
	close(fd);
	return r;
}

static char *folded(const char *path, bool all, int64_t *hidden)
{
	struct pmt_source *s;
	struct pmt_profile *p;
	struct pmt_names *n;
	struct pmt_flame *f;
	struct pmt_item it;
	if (pmt_source_open(path, &s) < 0 || pmt_profile_new(4096, true, &p) < 0)
		return NULL;
	while (pmt_source_next(s, &it) > 0)
		pmt_profile_item(p, &it);
	pmt_profile_finish(p);
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	if (pmt_names_new(s, false, &n) < 0 || pmt_flame_new(PMT_WEIGHT_RSS, &f) < 0 ||
	    pmt_flame_add(f, p, s, n, 0, all) < 0 || pmt_flame_finish(f) < 0 ||
	    pmt_flame_folded(f, 0, m) < 0)
		abort();
	fclose(m);
	*hidden = pmt_flame_hidden(f, 0);
	pmt_flame_free(f);
	pmt_names_free(n);
	pmt_profile_free(p);
	pmt_source_free(s);
	return buf;
}

int main(void)
{
	char path[] = "/tmp/pmt-test-names-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return 99;
	close(fd);

	/* names from the header's directories, then guessed without them */
	static const char *const want[2][6] = {
	    {"app.py", "<stdlib>/json/encoder.py", "<site-packages>/pkg/mod.py",
	     "<frozen importlib._bootstrap>", "/opt/x/pmt_tracer/__main__.py", "/elsewhere/lib.py"},
	    {"/home/u/proj/app.py", "<stdlib>/json/encoder.py", "<site-packages>/pkg/mod.py",
	     "<frozen importlib._bootstrap>", "/opt/x/pmt_tracer/__main__.py", "/elsewhere/lib.py"},
	};
	static const enum pmt_file_class cls[] = {PMT_FILE_PROGRAM, PMT_FILE_STDLIB,
						  PMT_FILE_SITE,    PMT_FILE_STDLIB,
						  PMT_FILE_OTHER,   PMT_FILE_OTHER};
	for (int d = 0; d < 2; d++) {
		struct pmt_source *s;
		struct pmt_names *n;
		if (write_log(path, d == 0) < 0 || pmt_source_open(path, &s) < 0 ||
		    pmt_names_new(s, false, &n) < 0)
			return 99;
		for (unsigned i = 0; i < 6; i++) {
			size_t len;
			enum pmt_file_class c;
			const char *got = pmt_names_file(n, files[i], strlen(files[i]), &len, &c);
			char what[128];
			snprintf(what, sizeof(what), "%s header dirs: %s", d ? "without" : "with",
				 want[d][i]);
			expect_str(got, len, want[d][i], what);
			/* without a cwd the program's directory is guessed from its
			 * files: /home/u/proj and /opt/x and /elsewhere share only / */
			check(c == cls[i] || (d && i == 0 && c == PMT_FILE_OTHER), "its class");
		}
		pmt_names_free(n);
		pmt_source_free(s);
	}
	check(pmt_names_tracer_file(files[4], strlen(files[4])), "the launcher is the tracer's");
	check(pmt_names_tracer_file("<frozen runpy>", 14), "runpy is the tracer's");
	check(!pmt_names_tracer_file(files[0], strlen(files[0])), "the program is not");

	/* the stacks: <module> is the root */
	int64_t hidden;
	if (write_log(path, true) < 0)
		return 99;
	char *got = folded(path, false, &hidden);
	/* each ΔRSS is charged to the frame running before its event */
	const char *want_f = "<module> (app.py) 16384\n"
			     "<module> (app.py);call (<site-packages>/pkg/mod.py);dumps "
			     "(<stdlib>/json/encoder.py) 8192\n";
	check(got && !strcmp(got, want_f), "folded stacks without the launcher");
	if (got && strcmp(got, want_f))
		printf("# got:\n%s", got);
	check(hidden == 0, "nothing grew in the launcher alone");
	free(got);
	got = folded(path, true, &hidden);
	const char *want_a =
	    "_run_script (/opt/x/pmt_tracer/__main__.py);<module> (app.py) 16384\n";
	check(got && !strncmp(got, want_a, strlen(want_a)), "--all-frames keeps it");
	free(got);

	/* units and escaping */
	static const struct {
		double v;
		const char *s;
	} units[] = {{0, "0 B  "},	   {512, "512 B  "},
		     {-4096, "-4.0 KiB"},  {12897484.8, "12.3 MiB"},
		     {1048575, "1.0 MiB"}, {1536.0 * 1073741824, "1.5 TiB"}};
	for (unsigned i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		char b[48];
		pmt_format_bytes(b, sizeof(b), units[i].v);
		expect_str(b, strlen(b), units[i].s, units[i].s);
	}
	char *x = NULL;
	size_t xl = 0;
	FILE *m = open_memstream(&x, &xl);
	static const char markup[] = "<a href=\"x\">&'\x01\xe9t\xc3\xa9</a>";
	pmt_xml_write(m, markup, sizeof(markup) - 1);
	fclose(m);
	expect_str(x, xl,
		   "&lt;a href=&quot;x&quot;&gt;&amp;&#39;\xef\xbf\xbd&#xe9;t\xc3\xa9&lt;/a&gt;",
		   "XML escaping: markup, a control character, Latin-1, UTF-8");
	free(x);
	unlink(path);
	printf("1..%d\n", count);
	return failures ? 1 : 0;
}
