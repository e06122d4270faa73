/* SPDX-License-Identifier: MIT */
/* Helpers every pmt-gnuplot plot uses: numbers and strings as gnuplot reads
 * them, output files, the terminal lines of a .plt. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gnuplot.h"

/* Shortest "%g" that reads back to the same double (Python's repr style
 * numbers in the .plt, as pymemtrace writes them). */
void shortest(char *out, size_t cap, double v)
{
	for (int p = 1; p <= 17; p++) {
		snprintf(out, cap, "%.*g", p, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

/* A gnuplot single-quoted string: no backslash escapes and no `command`
 * substitution happen inside it; a quote is doubled. Control characters
 * (not allowed in the SVG's XML) become '?'. */
void put_sq(FILE *f, const char *s, size_t len)
{
	fputc('\'', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\'')
			fputs("''", f);
		else if (c < 0x20 || c == 0x7f)
			fputc('?', f);
		else
			fputc(c, f);
	}
	fputc('\'', f);
}

void put_sqz(FILE *f, const char *s) { put_sq(f, s, strlen(s)); }

int mkdir_p(const char *dir)
{
	char p[PATH_MAX];
	size_t n = strlen(dir);
	if (n == 0 || n >= sizeof(p))
		return -ENAMETOOLONG;
	memcpy(p, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		char c = p[i];
		p[i] = '\0';
		if (mkdir(p, 0777) < 0 && errno != EEXIST)
			return -errno;
		p[i] = c;
	}
	struct stat st;
	if (stat(dir, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

FILE *open_out(const char *outdir, const char *name, const char *ext, char *path, size_t cap)
{
	int n = snprintf(path, cap, "%s/%s%s", outdir, name, ext);
	if (n < 0 || (size_t)n >= cap) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	return fopen(path, "w");
}

int close_out(FILE *f)
{
	int bad = ferror(f);
	if (fclose(f) != 0 || bad)
		return -EIO;
	return 0;
}

const char *log_basename(const char *log)
{
	if (!strcmp(log, "-"))
		return "stdin";
	const char *s = strrchr(log, '/');
	return s && s[1] ? s + 1 : log;
}

/* The end of a .plt: close the SVG, then draw the PNG as well if asked. */
void plt_outputs_head(FILE *f, const struct gnuplot_opts *o, const char *name)
{
	char out[PATH_MAX + 8];
	fprintf(f, "set terminal svg size %u,%u dynamic background rgb 'white'\n", o->width,
		o->height);
	snprintf(out, sizeof(out), "%s.svg", name);
	fputs("set output ", f);
	put_sqz(f, out);
	fputc('\n', f);
}

void plt_outputs_tail(FILE *f, const struct gnuplot_opts *o, const char *name)
{
	fputs("unset output\n", f);
	if (o->png) {
		char out[PATH_MAX + 8];
		fprintf(f, "set terminal pngcairo size %u,%u\n", o->width, o->height);
		snprintf(out, sizeof(out), "%s.png", name);
		fputs("set output ", f);
		put_sqz(f, out);
		fputs("\nreplot\nunset output\n", f);
	}
	fputs("reset\n", f);
}
