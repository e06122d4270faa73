/* SPDX-License-Identifier: MIT */
/* The log's file descriptor: identity checks, reopening, cuts (log-sink.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpmt/core/log-sink.h>

/* Well above the descriptors a program normally uses. */
static int high_fd_floor(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= 2048)
		return 1024;
	return (int)(rl.rlim_cur / 2);
}

/* A close-on-exec copy of fd at high_fd_floor() or above, or -1. */
static int dup_high(int fd)
{
	int floor = high_fd_floor();
	if (fd >= floor || floor < 3)
		return -1;
	return fcntl(fd, F_DUPFD_CLOEXEC, floor);
}

static bool same_file(const struct pmt_sink *k, const struct stat *st)
{
	return st->st_dev == k->dev && st->st_ino == k->ino;
}

/* The fd is still the log. */
static bool ours(const struct pmt_sink *k)
{
	struct stat st;
	return k->fd >= 0 && fstat(k->fd, &st) == 0 && same_file(k, &st);
}

int pmt_sink_open(struct pmt_sink *k, int fd, const char *path)
{
	struct stat st;
	*k = (struct pmt_sink){.fd = -1};
	if (fstat(fd, &st) < 0)
		return -errno;
	k->dev = st.st_dev;
	k->ino = st.st_ino;
	k->regular = S_ISREG(st.st_mode);
	if (k->regular) {
		off_t at = lseek(fd, 0, SEEK_CUR);
		k->base = at > 0 ? at : 0;
	}
	if (path && path[0] != '/') {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)))
			return -errno;
		size_t n = strlen(cwd) + strlen(path) + 2;
		k->path = malloc(n);
		if (k->path)
			snprintf(k->path, n, "%s/%s", cwd, path);
	} else if (path) {
		k->path = strdup(path);
	}
	if (path && !k->path)
		return -ENOMEM;
	int hi = dup_high(fd);
	k->fd = hi >= 0 ? hi : fd;
	return 0;
}

/* The fd is not the log any more: forget it (it is the program's now) and
 * open the log again by its path. */
static int reopen(struct pmt_sink *k)
{
	k->fd = -1;
	if (!k->path)
		return k->lost = -EBADF;
	int fd = open(k->path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return k->lost = -errno;
	struct stat st;
	int r = 0;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (!same_file(k, &st) || (k->regular && st.st_size != k->base + (off_t)k->bytes))
		r = -ESTALE; /* replaced, truncated or written by someone else */
	if (r < 0) {
		close(fd);
		return k->lost = r;
	}
	int hi = dup_high(fd);
	if (hi >= 0) {
		close(fd);
		fd = hi;
	}
	k->fd = fd;
	k->reopened++;
	k->reopened_now = true;
	return 0;
}

int pmt_sink_write(struct pmt_sink *k, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	if (k->fd < 0)
		return k->lost ? k->lost : -EBADF;
	if (k->broken)
		return -EIO;
	if (!ours(k)) {
		int r = reopen(k);
		if (r < 0)
			return r;
	}
	while (n) {
		ssize_t c = write(k->fd, p, n);
		if (c < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			if (e == EAGAIN || e == EWOULDBLOCK) {
				struct pollfd pfd = {.fd = k->fd, .events = POLLOUT};
				poll(&pfd, 1, -1);
				continue;
			}
			/* Closed between the check and the write: taken too. */
			if (e == EBADF) {
				int r = reopen(k);
				if (r < 0)
					return r;
				continue;
			}
			return -e;
		}
		p += c;
		n -= (size_t)c;
		__atomic_store_n(&k->bytes, k->bytes + (uint64_t)c, __ATOMIC_RELAXED);
	}
	return 0;
}

int pmt_sink_cut(struct pmt_sink *k)
{
	if (k->bytes == k->good)
		return 0;
	if (k->fd < 0 || !k->regular || !ours(k) ||
	    ftruncate(k->fd, k->base + (off_t)k->good) < 0 ||
	    lseek(k->fd, k->base + (off_t)k->good, SEEK_SET) < 0) {
		k->broken = true;
		return -EIO;
	}
	__atomic_store_n(&k->bytes, k->good, __ATOMIC_RELAXED);
	return 0;
}

bool pmt_sink_reopened(struct pmt_sink *k)
{
	bool r = k->reopened_now;
	k->reopened_now = false;
	return r;
}

int pmt_sink_close(struct pmt_sink *k)
{
	int r = 0;
	if (k->fd >= 0 && ours(k) && close(k->fd) < 0)
		r = -errno;
	k->fd = -1;
	free(k->path);
	k->path = NULL;
	return r;
}
