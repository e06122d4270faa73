/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpmt/core/log-writer.h>
#include <libpmt/report/log-copy.h>

struct pmt_log_copy {
	struct pmt_source *src;
	struct pmt_writer *w;
	int fd; /* until the writer takes it */
	int64_t trigger;
	uint32_t flags;
	uint32_t page;
	uint64_t next;	    /* number the next written event gets */
	int64_t thread;	    /* of the last written event, -1 before any */
	uint8_t *code_done; /* CODE written, by id */
	uint32_t code_cap;
	struct pmt_site site; /* of the last ALLOC written */
	uint8_t *thread_done; /* thread announced (THREAD or SITE tail), by index */
	uint32_t thread_cap;
};

/* Marks thread idx announced; returns whether it was already. -errno. */
static int thread_seen(struct pmt_log_copy *c, uint32_t idx)
{
	if (idx >= c->thread_cap) {
		if (idx >= (1u << 24))
			return -E2BIG;
		uint32_t cap = c->thread_cap ? c->thread_cap : 64;
		while (cap <= idx)
			cap *= 2;
		uint8_t *v = realloc(c->thread_done, cap);
		if (!v)
			return -ENOMEM;
		memset(v + c->thread_cap, 0, cap - c->thread_cap);
		c->thread_done = v;
		c->thread_cap = cap;
	}
	int was = c->thread_done[idx];
	c->thread_done[idx] = 1;
	return was;
}

int pmt_log_copy_new(int fd, struct pmt_source *src, int64_t drss_trigger, uint32_t flags,
		     struct pmt_log_copy **out)
{
	struct pmt_log_copy *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	const struct pmt_header *h = pmt_source_header(src);
	*c = (struct pmt_log_copy){.src = src,
				   .fd = fd,
				   .trigger = drss_trigger,
				   .flags = flags | PMT_HDR_FILTERED,
				   .page = h->page_size ? h->page_size : 4096,
				   .thread = -1};
	*out = c;
	return 0;
}

static int open_writer(struct pmt_log_copy *c, const struct pmt_event *first)
{
	struct pmt_header h = *pmt_source_header(c->src);
	h.version = PMT_FORMAT_VERSION;
	h.flags |= c->flags;
	h.drss_trigger = c->trigger;
	/* a pymemtrace log has no starting RSS: the first event's base is it */
	if (first)
		h.rss_start = (uint64_t)((first->rss - first->drss) / (int64_t)c->page);
	if (!h.python_version)
		h.python_version = "";
	if (!h.rss_source)
		h.rss_source = "";
	int r = pmt_writer_new(c->fd, &h, NULL, &c->w);
	if (r == 0)
		c->fd = -1;
	return r;
}

static int define_code(struct pmt_log_copy *c, uint32_t id)
{
	if (id >= c->code_cap) {
		uint32_t cap = c->code_cap ? c->code_cap : 1024;
		while (cap <= id)
			cap *= 2;
		uint8_t *v = realloc(c->code_done, cap);
		if (!v)
			return -ENOMEM;
		memset(v + c->code_cap, 0, cap - c->code_cap);
		c->code_done = v;
		c->code_cap = cap;
	}
	if (c->code_done[id])
		return 0;
	c->code_done[id] = 1;
	const struct pmt_code *k = pmt_source_code(c->src, id);
	if (!k)
		return 0;
	return pmt_writer_code(c->w, id, k->kind, k->firstline, k->file, k->file_len, k->name,
			       k->name_len);
}

int pmt_log_copy_event(struct pmt_log_copy *c, const struct pmt_event *ev)
{
	int r;
	if (!c->w && (r = open_writer(c, ev)) < 0)
		return r;
	if (ev->number > c->next && (r = pmt_writer_skip(c->w, ev->number - c->next)) < 0)
		return r;
	c->next = ev->number + 1;
	if ((int64_t)ev->thread != c->thread) {
		const struct pmt_thread *t = pmt_source_thread(c->src, ev->thread);
		r = pmt_writer_thread(c->w, ev->thread, t ? t->tid : 0,
				      t && *t->name ? t->name : NULL);
		if (r < 0 || (r = thread_seen(c, ev->thread)) < 0)
			return r;
		c->thread = ev->thread;
	}
	if (ev->code && (r = define_code(c, ev->code)) < 0)
		return r;
	uint32_t code = pmt_source_code(c->src, ev->code) ? ev->code : 0;
	return pmt_writer_event(c->w, ev->kind, code, ev->line, ev->time_ns,
				ev->rss / (int64_t)c->page);
}

int pmt_log_copy_message(struct pmt_log_copy *c, const struct pmt_item *it)
{
	int r;
	if (!c->w && (r = open_writer(c, NULL)) < 0)
		return r;
	if (it->ev.number > c->next) {
		if ((r = pmt_writer_skip(c->w, it->ev.number - c->next)) < 0)
			return r;
		c->next = it->ev.number;
	}
	return pmt_writer_message(c->w, it->text, it->text_len);
}

int pmt_log_copy_alloc(struct pmt_log_copy *c, const struct pmt_item *it)
{
	int r;
	const struct pmt_alloc *a = &it->alloc;
	if (!c->w && (r = open_writer(c, NULL)) < 0)
		return r;
	if (it->ev.number > c->next) {
		if ((r = pmt_writer_skip(c->w, it->ev.number - c->next)) < 0)
			return r;
		c->next = it->ev.number;
	}
	if (a->site.code && (r = define_code(c, a->site.code)) < 0)
		return r;
	uint32_t code = pmt_source_code(c->src, a->site.code) ? a->site.code : 0;
	int was = thread_seen(c, a->site.thread);
	if (was < 0)
		return was;
	if (!was || a->site.thread != c->site.thread || code != c->site.code ||
	    a->site.line != c->site.line) {
		const struct pmt_thread *t = pmt_source_thread(c->src, a->site.thread);
		r = pmt_writer_site(c->w, a->site.thread, code, a->site.line, t ? t->tid : 0,
				    was ? NULL : (t ? t->name : ""));
		if (r < 0)
			return r;
		c->site = (struct pmt_site){a->site.thread, code, a->site.line};
	}
	return pmt_writer_alloc(c->w, a->op, a->domain, a->addr, a->old_addr, a->size, a->align);
}

int pmt_log_copy_close(struct pmt_log_copy *c, uint64_t total, bool truncated)
{
	int r;
	if (!c->w && (r = open_writer(c, NULL)) < 0)
		return r;
	if (total > c->next && (r = pmt_writer_skip(c->w, total - c->next)) < 0)
		return r;
	const struct pmt_trailer *t = pmt_source_trailer(c->src);
	struct pmt_trailer trl = {.total_events = total, .flags = t ? t->flags : 0};
	if (t) {
		trl.end_wall_ns = t->end_wall_ns;
		trl.peak_rss = t->peak_rss;
	}
	if (truncated)
		trl.flags &= ~(uint32_t)PMT_TRL_CLEAN;
	return pmt_writer_close(c->w, &trl);
}

void pmt_log_copy_free(struct pmt_log_copy *c)
{
	if (!c)
		return;
	pmt_writer_free(c->w);
	if (c->fd >= 0)
		close(c->fd);
	free(c->code_done);
	free(c->thread_done);
	free(c);
}
