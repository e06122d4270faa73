/* SPDX-License-Identifier: MIT */
/* pmt-gnuplot LOG OUTDIR: plots of RSS over time with gnuplot.
 *
 * A process JSON log gives, per PID, OUTDIR/<basename>_<pid>.{dat,plt,svg}
 * in the layout of pymemtrace's process.py (RSS on y1; page faults and mean /
 * instantaneous CPU% on y2; that PID's labels as vertical arrows). A pmt or
 * pymemtrace event log gives RSS over time with the largest jumps annotated
 * by function. Every .dat/.plt is written before gnuplot runs, so they exist
 * even when gnuplot is missing or fails. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpmt/core/errors.h>
#include <libpmt/read/input.h>
#include <libpmt/read/source.h>
#include <libpmt/report/cli.h>
#include <libpmt/report/process-report.h>

#include "gnuplot.h"

/* ---- process logs ---- */

static void warn_line(void *ctx, uint64_t line, const char *why)
{
	pmt_cli_warn((const char *)ctx, "line %" PRIu64 ": %s (skipped)", line, why);
}

/* pymemtrace's .dat: every cell left-justified to the longest cell of its
 * column + 2, joined by one space, rows joined by newlines, no final one. */
static int write_process_dat(struct pmt_process_log *l, unsigned i, FILE *f)
{
	static char buf[16384];
	const char *cells[PMT_PROCESS_NCOLS];
	size_t w[PMT_PROCESS_NCOLS];
	struct pmt_process_row row;
	pmt_process_row_cells(NULL, true, buf, sizeof(buf), cells);
	for (unsigned c = 0; c < PMT_PROCESS_NCOLS; c++)
		w[c] = strlen(cells[c]);
	int r = pmt_process_log_begin(l, i);
	while (r >= 0 && (r = pmt_process_log_next(l, &row)) > 0) {
		pmt_process_row_cells(&row, true, buf, sizeof(buf), cells);
		for (unsigned c = 0; c < PMT_PROCESS_NCOLS; c++) {
			size_t n = strlen(cells[c]);
			if (n > w[c])
				w[c] = n;
		}
	}
	if (r < 0)
		return r;
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 0) {
			pmt_process_row_cells(NULL, true, buf, sizeof(buf), cells);
		} else {
			r = pmt_process_log_begin(l, i);
			if (r < 0)
				return r;
		}
		for (;;) {
			if (pass == 1) {
				r = pmt_process_log_next(l, &row);
				if (r <= 0)
					break;
				pmt_process_row_cells(&row, true, buf, sizeof(buf), cells);
				fputc('\n', f);
			}
			for (unsigned c = 0; c < PMT_PROCESS_NCOLS; c++) {
				if (c)
					fputc(' ', f);
				fprintf(f, "%-*s", (int)(w[c] + 2), cells[c]);
			}
			if (pass == 0)
				break;
		}
	}
	if (r < 0)
		return r;
	return ferror(f) ? -EIO : 0;
}

static int write_process_plt(struct pmt_process_log *l, unsigned i, const struct gnuplot_opts *o,
			     const char *name, const char *base, FILE *f)
{
	const struct pmt_process_pid *p = pmt_process_log_pid(l, i);
	char title[PATH_MAX + 64];
	snprintf(title, sizeof(title), "Memory and CPU Usage. %s PID %" PRId64, base, p->pid);
	fputs("\nset grid\nset title ", f);
	put_sqz(f, title);
	fputs(" font \",14\" noenhanced\n"
	      "set xlabel \"Elapsed Time (s)\"\n"
	      "set ylabel \"Memory Usage (MiB)\"\n"
	      "set y2label \"CPU Usage (%), Page Faults (10,000/s)\"\n"
	      "set y2tics\n"
	      "set ytics nomirror\n"
	      "set pointsize 1\n"
	      "set datafile separator whitespace\n"
	      "set datafile missing \"NaN\"\n"
	      "set key below\n",
	      f);
	plt_outputs_head(f, o, name);

	/* Labels of this PID only. pymemtrace draws each from Y = half the RSS
	 * range down to 0, which falls outside the plot when RSS never gets
	 * near 0; the arrows here span the lower half of the range instead. */
	double lo = (double)p->rss_min / 1048576.0, hi = (double)p->rss_max / 1048576.0;
	double span = hi - lo > 0 ? hi - lo : (hi > 0 ? hi : 1.0);
	double y = lo + 0.5 * span;
	char ty[40], tlo[40], tt[40], tlab[40];
	shortest(ty, sizeof(ty), y);
	shortest(tlo, sizeof(tlo), lo);
	shortest(tlab, sizeof(tlab), y + 0.025 * span);
	struct pmt_process_row row;
	int r = pmt_process_log_begin(l, i);
	while (r >= 0 && (r = pmt_process_log_next(l, &row)) > 0) {
		if (!row.label)
			continue;
		shortest(tt, sizeof(tt), row.t);
		fprintf(f, "set arrow from %s,%s to %s,%s lt -1 lw 1\n", tt, ty, tt, tlo);
		fputs("set label ", f);
		put_sq(f, row.label, row.label_len);
		fprintf(f, " at %s,%s left font \",10\" rotate by 90 noenhanced front\n", tt, tlab);
	}
	if (r < 0)
		return r;
	char dat[PATH_MAX + 8];
	snprintf(dat, sizeof(dat), "%s.dat", name);
	fputs("\nplot ", f);
	put_sqz(f, dat);
	fputs(
	    " using 1:($2 / 1024**2) axes x1y1 title \"RSS (MiB), left axis\" with lines lt 1 lw 2",
	    f);
	if (!p->pfaults_missing || p->records == 0) {
		fputs(", \\\n    ", f);
		put_sqz(f, dat);
		fputs(
		    " using 1:($3 / 10000) axes x1y2 title \"Page Faults (10,000/s), right axis\" "
		    "with lines lt 3 lw 1",
		    f);
	}
	fputs(", \\\n    ", f);
	put_sqz(f, dat);
	fputs(" using 1:5 axes x1y2 title \"Mean CPU (%), right axis\" with lines lt 2 lw 1, \\\n  "
	      "  ",
	      f);
	put_sqz(f, dat);
	fputs(" using 1:6 axes x1y2 title \"Instantaneous CPU (%), right axis\" with lines lt 7 lw "
	      "1\n",
	      f);
	plt_outputs_tail(f, o, name);
	return ferror(f) ? -EIO : 0;
}

/* ---- running gnuplot ---- */

static const char *gnuplot_prog(void)
{
	const char *g = getenv("GNUPLOT");
	return g && *g ? g : PMT_GNUPLOT;
}

/* Runs gnuplot NAME.plt in outdir. 0 = ok, 1 = gnuplot failed (reported),
 * 2 = gnuplot could not be run at all (reported). */
static int run_gnuplot(const char *outdir, const char *name, const struct gnuplot_opts *o)
{
	const char *prog = gnuplot_prog();
	char plt[PATH_MAX + 8];
	snprintf(plt, sizeof(plt), "%s.plt", name);
	int errp[2], execp[2];
	if (pipe2(errp, O_CLOEXEC) < 0)
		return pmt_cli_error(NULL, "pipe: %s", pmt_strerror(-errno)), 2;
	if (pipe2(execp, O_CLOEXEC) < 0) {
		close(errp[0]);
		close(errp[1]);
		return pmt_cli_error(NULL, "pipe: %s", pmt_strerror(-errno)), 2;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(errp[0]);
		close(errp[1]);
		close(execp[0]);
		close(execp[1]);
		pmt_cli_error(NULL, "fork: %s", pmt_strerror(-e));
		return 2;
	}
	if (pid == 0) {
		int dn = open("/dev/null", O_RDWR);
		if (dn >= 0) {
			dup2(dn, 0);
			dup2(dn, 1);
		}
		dup2(errp[1], 2);
		int e = 0;
		if (chdir(outdir) < 0)
			e = errno;
		else {
			execlp(prog, prog, plt, (char *)NULL);
			e = errno;
		}
		ssize_t k = write(execp[1], &e, sizeof(e));
		(void)k;
		_exit(127);
	}
	close(errp[1]);
	close(execp[1]);
	int exec_errno = 0;
	ssize_t k;
	do
		k = read(execp[0], &exec_errno, sizeof(exec_errno));
	while (k < 0 && errno == EINTR);
	close(execp[0]);
	if (k != (ssize_t)sizeof(exec_errno))
		exec_errno = 0;
	char err[4096];
	size_t got = 0;
	for (;;) {
		char tmp[4096];
		k = read(errp[0], tmp, sizeof(tmp));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		size_t take = (size_t)k;
		if (take > sizeof(err) - 1 - got)
			take = sizeof(err) - 1 - got;
		memcpy(err + got, tmp, take);
		got += take;
	}
	close(errp[0]);
	err[got] = '\0';
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (exec_errno) {
		pmt_cli_error(NULL,
			      "cannot run gnuplot '%s': %s (set GNUPLOT to the program; "
			      "the .dat and .plt files are written)",
			      prog, pmt_strerror(-exec_errno));
		return 2;
	}
	/* one line of gnuplot's complaint: the last non-empty one says what */
	for (size_t i = 0; i < got; i++)
		if (err[i] == '\n' || err[i] == '\r' || err[i] == '\t')
			err[i] = ' ';
	char *e = err;
	while (*e == ' ')
		e++;
	size_t el = strlen(e);
	while (el && e[el - 1] == ' ')
		e[--el] = '\0';
	if (WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0)) {
		char how[64];
		if (WIFSIGNALED(status))
			snprintf(how, sizeof(how), "killed by signal %d", WTERMSIG(status));
		else
			snprintf(how, sizeof(how), "exit status %d", WEXITSTATUS(status));
		char where[PATH_MAX + 16];
		snprintf(where, sizeof(where), "%s/%s", outdir, plt);
		pmt_cli_error(where, "gnuplot failed (%s)%s%s", how, *e ? ": " : "", e);
		return 1;
	}
	char svg[PATH_MAX + 16];
	snprintf(svg, sizeof(svg), "%s/%s.svg", outdir, name);
	struct stat st;
	if (stat(svg, &st) < 0 || st.st_size == 0) {
		pmt_cli_error(svg, "gnuplot wrote no picture%s%s", *e ? ": " : "", e);
		return 1;
	}
	if (*e) {
		char where[PATH_MAX + 16];
		snprintf(where, sizeof(where), "%s/%s", outdir, plt);
		pmt_cli_warn(where, "gnuplot: %s", e);
	}
	printf("%s\n", svg);
	if (o->png)
		printf("%s/%s.png\n", outdir, name);
	return 0;
}

/* ---- main ---- */

static void usage(void)
{
	printf(
	    "Usage: %s [OPTION]... LOG OUTDIR\n"
	    "Plot RSS over time with gnuplot.\n"
	    "\n"
	    "A process JSON log (pymemtrace's process module or pmt_tracer.process, also\n"
	    "inside any application log) gives, for each PID, OUTDIR/<log>_<pid>.dat, .plt\n"
	    "and .svg: RSS on the left axis; page faults and mean and instantaneous CPU%%\n"
	    "on the right; that PID's labels as arrows. A pmt or pymemtrace event log\n"
	    "gives RSS over time with the largest jumps annotated by function.\n"
	    "\n"
	    "  -s, --size=W,H        picture size in pixels (default 1000,700)\n"
	    "      --png             also write a PNG\n"
	    "  -n, --top=N           event logs: mark the N largest rises and falls (default 5)\n"
	    "      --max-points=N    event logs: at most about N points (default 100000)\n"
	    "      --threads N      threads that decompress a pmt log ahead of reading it\n"
	    "                       (default: one per CPU; 1: the reading thread alone)\n"
	    "  -h, --help            display this help and exit\n"
	    "  -V, --version         output version information and exit\n"
	    "\n"
	    "gnuplot is the program in $GNUPLOT, else %s. The .dat and .plt files\n"
	    "are written even when gnuplot is missing or fails.\n"
	    "Exit status: 0 if every plot was drawn, 2 on any error.\n",
	    pmt_cli_prog(), PMT_GNUPLOT);
}

static int parse_size(const char *s, unsigned *w, unsigned *h)
{
	char *end;
	errno = 0;
	unsigned long a = strtoul(s, &end, 10);
	if (end == s || (*end != ',' && *end != 'x') || errno)
		return -EINVAL;
	const char *s2 = end + 1;
	unsigned long b = strtoul(s2, &end, 10);
	if (end == s2 || *end || errno || a < 50 || b < 50 || a > 20000 || b > 20000)
		return -EINVAL;
	*w = (unsigned)a;
	*h = (unsigned)b;
	return 0;
}

static int plot_process(struct pmt_input *in, const struct gnuplot_opts *o, struct plot **plots,
			unsigned *nplots)
{
	struct pmt_process_log *l = NULL;
	const char *path = pmt_input_path(in);
	int rerr = pmt_process_log_read(in, warn_line, (void *)path, &l);
	if (!l) {
		pmt_cli_errno(path, rerr, NULL);
		return 2;
	}
	int status = 0;
	if (rerr < 0) {
		pmt_cli_errno(path, rerr, NULL);
		status = 2;
	}
	if (pmt_process_log_truncated(l))
		pmt_cli_warn(path, "truncated zstd frame at the end");
	unsigned n = pmt_process_log_pids(l);
	if (n == 0) {
		if (rerr >= 0)
			pmt_cli_error(path, "%s",
				      pmt_process_log_bad(l) ? "no readable process record"
							     : "no process records (not a process "
							       "or event log)");
		pmt_process_log_free(l);
		return 2;
	}
	struct plot *pl = calloc(n, sizeof(*pl));
	if (!pl) {
		pmt_process_log_free(l);
		pmt_cli_errno(NULL, -ENOMEM, NULL);
		return 2;
	}
	const char *base = log_basename(o->log);
	for (unsigned i = 0; i < n; i++) {
		const struct pmt_process_pid *p = pmt_process_log_pid(l, i);
		snprintf(pl[i].name, sizeof(pl[i].name), "%s_%" PRId64, base, p->pid);
		char fpath[PATH_MAX];
		FILE *f = open_out(o->outdir, pl[i].name, ".dat", fpath, sizeof(fpath));
		int r = f ? write_process_dat(l, i, f) : -errno;
		if (f && close_out(f) < 0 && r == 0)
			r = -EIO;
		if (r == 0) {
			f = open_out(o->outdir, pl[i].name, ".plt", fpath, sizeof(fpath));
			r = f ? write_process_plt(l, i, o, pl[i].name, base, f) : -errno;
			if (f && close_out(f) < 0 && r == 0)
				r = -EIO;
		}
		if (r < 0) {
			pmt_cli_errno(fpath, r, NULL);
			status = 2;
			pl[i].name[0] = '\0';
		}
	}
	pmt_process_log_free(l);
	*plots = pl;
	*nplots = n;
	return status;
}

int main(int argc, char **argv)
{
	pmt_cli_set_prog(argv[0]);
	argv[0] = (char *)pmt_cli_prog(); /* getopt says "pmt-x: ...", not the path */
	struct gnuplot_opts o = {.width = 1000, .height = 700, .top = 5, .max_points = 100000};
	enum { OPT_PNG = 256, OPT_MAX_POINTS };
	static const struct option longopts[] = {
	    {"size", required_argument, NULL, 's'},
	    {"png", no_argument, NULL, OPT_PNG},
	    {"top", required_argument, NULL, 'n'},
	    {"max-points", required_argument, NULL, OPT_MAX_POINTS},
	    PMT_CLI_THREADS_OPTION,
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "s:n:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_size(optarg, &o.width, &o.height) < 0)
				pmt_cli_usage_error("invalid size '%s' (expected W,H)", optarg);
			break;
		case OPT_PNG:
			o.png = true;
			break;
		case 'n':
			o.top = (unsigned)pmt_cli_range("top", optarg, 0, 1000);
			break;
		case OPT_MAX_POINTS:
			o.max_points = pmt_cli_range("max-points", optarg, 2, 100000000);
			break;
		case PMT_CLI_OPT_THREADS:
			pmt_cli_threads(optarg);
			break;
		default:
			pmt_cli_common_option(c, usage);
		}
	}
	if (argc - optind != 2)
		pmt_cli_usage_error(argc - optind < 2 ? "missing LOG or OUTDIR"
						      : "too many arguments");
	o.log = argv[optind];
	o.outdir = argv[optind + 1];

	struct pmt_input *in = NULL;
	int r = pmt_input_open(o.log, &in);
	if (r < 0) {
		pmt_cli_errno(o.log, r, NULL);
		return PMT_EXIT_ERROR;
	}
	enum pmt_input_type type = pmt_input_type(in);
	if (type == PMT_INPUT_EMPTY) {
		pmt_cli_errno(pmt_input_path(in), PMT_E_EMPTY, NULL);
		pmt_input_free(in);
		return PMT_EXIT_ERROR;
	}
	r = mkdir_p(o.outdir);
	if (r < 0) {
		pmt_cli_errno(o.outdir, r, NULL);
		pmt_input_free(in);
		return PMT_EXIT_ERROR;
	}

	struct plot *plots = NULL;
	unsigned nplots = 0;
	int status = 0;
	if (type == PMT_INPUT_PMT || type == PMT_INPUT_PYMEMTRACE) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s", pmt_input_path(in));
		struct pmt_source *src = NULL;
		pmt_cli_progress(in);
		r = pmt_source_new(in, &src);
		if (r < 0) {
			pmt_cli_errno(path, r, NULL);
			return PMT_EXIT_ERROR;
		}
		plots = calloc(1, sizeof(*plots));
		if (!plots) {
			pmt_source_free(src);
			pmt_cli_errno(NULL, -ENOMEM, NULL);
			return PMT_EXIT_ERROR;
		}
		r = plot_events(src, &o, log_basename(o.log), plots, o.outdir);
		if (r == -ENODATA) {
			pmt_cli_error(path, "no events to plot");
			status = 2;
		} else if (r < 0) {
			const char *d = pmt_source_detail(src);
			pmt_cli_errno(path, r, d);
			status = 2;
		} else if (r > 0) {
			status = 2;
		} else {
			nplots = 1;
			if (pmt_source_truncated(src))
				pmt_cli_incomplete(path, src, "plotted what was readable");
		}
		pmt_source_free(src);
	} else {
		status = plot_process(in, &o, &plots, &nplots);
		pmt_input_free(in);
	}

	for (unsigned i = 0; i < nplots; i++) {
		if (!plots[i].name[0])
			continue;
		int g = run_gnuplot(o.outdir, plots[i].name, &o);
		if (g)
			status = 2;
		if (g == 2)
			break; /* no gnuplot: say it once */
	}
	free(plots);
	return status;
}
