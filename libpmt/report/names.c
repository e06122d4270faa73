/* SPDX-License-Identifier: MIT */
/* Short file names and the tracer's own frames (see names.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpmt/report/names.h>

#define MAXDIRS 8

struct dir {
	char *s;
	size_t len; /* without a trailing slash */
};

struct pmt_names {
	bool full;
	struct dir prog[2]; /* cwd, the script's directory */
	unsigned nprog;
	struct dir stdlib;
	struct dir site[MAXDIRS];
	unsigned nsite;
	char buf[PATH_MAX + 32];
};

static int set_dir(struct dir *d, const char *s, size_t len)
{
	while (len > 1 && s[len - 1] == '/')
		len--;
	d->s = strndup(s, len);
	if (!d->s)
		return -ENOMEM;
	d->len = strlen(d->s); /* a NUL inside the log's bytes ends the name */
	return 0;
}

static const char *guess_stdlib(const char *file, size_t len);
static const char *find(const char *s, size_t len, const char *what);

/* No header directory: the deepest directory holding every absolute file
 * that is not the interpreter's. */
static int guess_program(struct pmt_names *n, const struct pmt_source *s)
{
	const char *best = NULL;
	size_t blen = 0;
	for (const struct pmt_code *c = pmt_source_next_code(s, 0); c;
	     c = pmt_source_next_code(s, c->id)) {
		if (!c->file_len || c->file[0] != '/' || guess_stdlib(c->file, c->file_len) ||
		    find(c->file, c->file_len, "/site-packages/") ||
		    find(c->file, c->file_len, "/dist-packages/"))
			continue;
		const char *sl = memrchr(c->file, '/', c->file_len);
		size_t dl = (size_t)(sl - c->file);
		if (!best) {
			best = c->file;
			blen = dl;
			continue;
		}
		size_t k = 0;
		while (k < blen && k < dl && best[k] == c->file[k])
			k++;
		/* back to the last whole directory in common (best[blen] and
		 * c->file[dl] are slashes) */
		while (k > 0 && !(best[k] == '/' && c->file[k] == '/'))
			k--;
		blen = k;
	}
	if (!best || blen == 0)
		return 0;
	return set_dir(&n->prog[n->nprog++], best, blen);
}

int pmt_names_new(const struct pmt_source *s, bool full, struct pmt_names **out)
{
	const struct pmt_header *h = pmt_source_header(s);
	struct pmt_names *n = calloc(1, sizeof(*n));
	int r = 0;
	if (!n)
		return -ENOMEM;
	n->full = full;
	const char *cwd = h && h->cwd && h->cwd[0] == '/' ? h->cwd : NULL;
	if (cwd)
		r = set_dir(&n->prog[n->nprog++], cwd, strlen(cwd));
	/* the script's directory, for a program run from elsewhere */
	const char *a0 = h && h->argc && h->argv ? h->argv[0] : NULL;
	const char *sl = a0 ? strrchr(a0, '/') : NULL;
	if (!r && sl && sl > a0) {
		char d[PATH_MAX];
		int k = a0[0] == '/' || !cwd
			    ? snprintf(d, sizeof(d), "%.*s", (int)(sl - a0), a0)
			    : snprintf(d, sizeof(d), "%s/%.*s", cwd, (int)(sl - a0), a0);
		if (k > 0 && (size_t)k < sizeof(d) && d[0] == '/')
			r = set_dir(&n->prog[n->nprog++], d, (size_t)k);
	}
	if (!r && h && h->stdlib_dir && h->stdlib_dir[0] == '/')
		r = set_dir(&n->stdlib, h->stdlib_dir, strlen(h->stdlib_dir));
	for (uint32_t i = 0; !r && h && i < h->nsite && n->nsite < MAXDIRS; i++)
		if (h->site_dirs[i][0] == '/')
			r = set_dir(&n->site[n->nsite++], h->site_dirs[i], strlen(h->site_dirs[i]));
	if (!r && !n->nprog)
		r = guess_program(n, s);
	if (r < 0) {
		pmt_names_free(n);
		return r;
	}
	*out = n;
	return 0;
}

void pmt_names_free(struct pmt_names *n)
{
	if (!n)
		return;
	for (unsigned i = 0; i < n->nprog; i++)
		free(n->prog[i].s);
	free(n->stdlib.s);
	for (unsigned i = 0; i < n->nsite; i++)
		free(n->site[i].s);
	free(n);
}

/* The rest of file after dir and a slash, or NULL. */
static const char *under(const struct dir *d, const char *file, size_t len)
{
	if (!d->s || len <= d->len + 1 || memcmp(file, d->s, d->len) || file[d->len] != '/')
		return NULL;
	return file + d->len + 1;
}

static const char *find(const char *s, size_t len, const char *what)
{
	size_t wl = strlen(what);
	for (size_t i = 0; i + wl <= len; i++)
		if (s[i] == what[0] && !memcmp(s + i, what, wl))
			return s + i;
	return NULL;
}

/* ".../lib/python3.11/" (lib64 too): where a standard library usually is;
 * returns what follows it, or NULL. */
static const char *guess_stdlib(const char *file, size_t len)
{
	for (const char *p = file; (p = find(p, len - (size_t)(p - file), "/python")); p++) {
		if (p - file < 4 ||
		    (memcmp(p - 4, "/lib", 4) && (p - file < 6 || memcmp(p - 6, "/lib64", 6))))
			continue;
		const char *q = p + 7, *e = file + len;
		if (q == e || *q < '0' || *q > '9')
			continue;
		while (q < e && ((*q >= '0' && *q <= '9') || *q == '.'))
			q++;
		if (q < e && *q == '/')
			return q + 1;
	}
	return NULL;
}

static const char *put(struct pmt_names *n, const char *tag, const char *rest, size_t rlen,
		       size_t *out_len)
{
	int k = snprintf(n->buf, sizeof(n->buf), "%s/%.*s", tag, (int)rlen, rest);
	if (k < 0 || (size_t)k >= sizeof(n->buf))
		k = (int)sizeof(n->buf) - 1;
	*out_len = (size_t)k;
	return n->buf;
}

const char *pmt_names_file(struct pmt_names *n, const char *file, size_t len, size_t *out_len,
			   enum pmt_file_class *cls)
{
	enum pmt_file_class c = PMT_FILE_OTHER;
	const char *shown = file, *rest;
	size_t slen = len;
	if (!file || !len) {
		c = PMT_FILE_OTHER;
	} else if (file[0] == '<') {
		/* <frozen importlib._bootstrap>, <string>, <stdin> */
		c = !strncmp(file, "<frozen ", 8) ? PMT_FILE_STDLIB : PMT_FILE_PROGRAM;
	} else if (file[0] != '/') {
		c = PMT_FILE_PROGRAM; /* relative: to where it ran */
	} else {
		const char *site = NULL;
		for (unsigned i = 0; i < n->nsite && !site; i++)
			site = under(&n->site[i], file, len);
		if (!site && (site = find(file, len, "/site-packages/")))
			site += 15;
		if (!site && (site = find(file, len, "/dist-packages/")))
			site += 15;
		if (site) {
			c = PMT_FILE_SITE;
			if (!n->full)
				shown = put(n, "<site-packages>", site, len - (size_t)(site - file),
					    &slen);
		} else if ((rest = under(&n->stdlib, file, len)) ||
			   (!n->stdlib.s && (rest = guess_stdlib(file, len)))) {
			c = PMT_FILE_STDLIB;
			if (!n->full)
				shown =
				    put(n, "<stdlib>", rest, len - (size_t)(rest - file), &slen);
		} else {
			for (unsigned i = 0; i < n->nprog; i++) {
				if ((rest = under(&n->prog[i], file, len))) {
					c = PMT_FILE_PROGRAM;
					if (!n->full) {
						shown = rest;
						slen = len - (size_t)(rest - file);
					}
					break;
				}
			}
		}
	}
	*out_len = slen;
	if (cls)
		*cls = c;
	return shown;
}

static bool ends(const char *s, size_t len, const char *tail)
{
	size_t tl = strlen(tail);
	return len >= tl && !memcmp(s + len - tl, tail, tl);
}

bool pmt_names_tracer_file(const char *file, size_t len)
{
	if (!file)
		return false;
	return ends(file, len, "/pmt_tracer/__main__.py") ||
	       ends(file, len, "/pmt_tracer/__init__.py") || ends(file, len, "/runpy.py") ||
	       (len == 14 && !memcmp(file, "<frozen runpy>", 14));
}
