/* ndjson.c: one JSON object per line, in and out. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ms.h"

void
ms_reader_init(struct ms_reader *r, int fd, const char *source)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->source = source ? source : "-";
	r->maxlen = MS_LINE_MAX_DEFAULT;
}

void
ms_reader_free(struct ms_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->line = NULL;
}

/* Room for at least one more byte after r->end, keeping unread bytes. */
static int
make_room(struct ms_reader *r)
{
	size_t want;
	char *nb;

	if (r->start > 0 && (r->end == r->cap || r->start == r->end)) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	if (r->end < r->cap)
		return 0;
	want = r->cap ? r->cap * 2 : 8192;
	/* an oversized line is never held whole: maxlen + '\n' + slack */
	if (want > r->maxlen + 2 && r->cap >= r->maxlen + 2)
		return 0;
	if (want < 8192)
		want = 8192;
	if ((nb = realloc(r->buf, want + 1)) == NULL)
		return -1;
	r->buf = nb;
	r->cap = want;
	return 0;
}

int
ms_reader_fill(struct ms_reader *r)
{
	ssize_t n;

	if (r->eof || r->error)
		return 0;
	if (make_room(r) == -1) {
		r->error = ENOMEM;
		return -1;
	}
	if (r->end == r->cap) {
		/* buffer full of an oversized line: drop what we have */
		r->skipping = 1;
		r->start = r->end = 0;
	}
	n = read(r->fd, r->buf + r->end, r->cap - r->end);
	if (n > 0) {
		r->end += (size_t)n;
		return 1;
	}
	if (n == 0) {
		r->eof = 1;
		return 0;
	}
	if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
		return -1;
	r->error = errno;
	return -1;
}

int
ms_reader_prefill(struct ms_reader *r, const void *data, size_t len)
{
	size_t have = r->end - r->start, want = have + len;
	char *nb;

	if (want < 8192)
		want = 8192;
	if (want > r->cap) {
		if ((nb = realloc(r->buf, want + 1)) == NULL)
			return -1;
		r->buf = nb;
		r->cap = want;
	}
	memmove(r->buf, r->buf + r->start, have);
	memcpy(r->buf + have, data, len);
	r->start = 0;
	r->end = have + len;
	return 0;
}

int
ms_reader_ready(const struct ms_reader *r)
{
	return r->eof || r->error ||
	    (r->end > r->start &&
	    memchr(r->buf + r->start, '\n', r->end - r->start) != NULL) ||
	    r->end - r->start > r->maxlen;
}

int
ms_reader_line(struct ms_reader *r, int nonblock, char *err, size_t errlen)
{
	char *nl;
	size_t len;

	for (;;) {
		nl = r->end > r->start ?
		    memchr(r->buf + r->start, '\n', r->end - r->start) : NULL;
		if (nl != NULL) {
			len = (size_t)(nl - (r->buf + r->start));
			*nl = '\0';
			r->line = r->buf + r->start;
			r->start += len + 1;
			if (r->skipping) {
				r->skipping = 0;
				r->lineno++;
				r->len = 0;
				SET_ERR("line longer than %zu bytes", r->maxlen);
				return MS_READ_BAD;
			}
			if (len > 0 && r->line[len - 1] == '\r')
				r->line[--len] = '\0';
			r->len = len;
			r->lineno++;
			if (len > r->maxlen) {
				SET_ERR("line longer than %zu bytes", r->maxlen);
				return MS_READ_BAD;
			}
			return MS_READ_LINE;
		}
		if (r->end - r->start > r->maxlen) {
			/* no newline within maxlen: discard, skip to newline */
			r->skipping = 1;
			r->start = r->end = 0;
		}
		if (r->error) {
			errno = r->error;
			SET_ERR("read: %s", strerror(r->error));
			return MS_READ_ERROR;
		}
		if (r->eof) {
			if (r->skipping) {
				r->skipping = 0;
				r->lineno++;
				SET_ERR("line longer than %zu bytes", r->maxlen);
				return MS_READ_BAD;
			}
			if (r->end > r->start) {
				/* a last line without '\n' still counts */
				if (make_room(r) == -1) {
					r->error = ENOMEM;
					continue;
				}
				r->buf[r->end] = '\n';
				r->end++;
				continue;
			}
			return MS_READ_EOF;
		}
		if (nonblock) {
			struct pollfd pfd = { .fd = r->fd, .events = POLLIN };

			if (poll(&pfd, 1, 0) <= 0)
				return MS_READ_AGAIN;
		}
		if (ms_reader_fill(r) == -1 && !r->error) {
			if (errno == EINTR && ms_sig_stop) {
				SET_ERR("interrupted");
				return MS_READ_AGAIN;
			}
			if (nonblock)
				return MS_READ_AGAIN;
		}
	}
}

json_t *
ms_json_parse_line(const char *line, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *j;

	if (memchr(line, '\0', len) != NULL) {
		SET_ERR("line contains a NUL byte");
		return NULL;
	}
	if (len == 0) {
		SET_ERR("empty line");
		return NULL;
	}
	j = json_loadb(line, len, JSON_REJECT_DUPLICATES,
	    &jerr);
	if (j == NULL) {
		if (strstr(jerr.text, "UTF-8") || strstr(jerr.text, "decode byte"))
			SET_ERR("invalid UTF-8 at column %d", jerr.column);
		else
			SET_ERR("invalid JSON at column %d: %s", jerr.column,
			    jerr.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		SET_ERR("expected a JSON object, got %s",
		    json_is_array(j) ? "an array" :
		    json_is_string(j) ? "a string" :
		    json_is_number(j) ? "a number" : "a literal");
		json_decref(j);
		return NULL;
	}
	return j;
}

int
ms_reader_next(struct ms_reader *r, int nonblock, json_t **out, char *err,
    size_t errlen)
{
	int rc;

	*out = NULL;
	if ((rc = ms_reader_line(r, nonblock, err, errlen)) != MS_READ_LINE)
		return rc;
	if ((*out = ms_json_parse_line(r->line, r->len, err, errlen)) == NULL)
		return MS_READ_BAD;
	return MS_READ_LINE;
}

static int write_failed;

int
ms_write_raw(FILE *fp, const char *line, size_t len, int flush)
{
	if (fwrite(line, 1, len, fp) != len || putc('\n', fp) == EOF ||
	    (flush && fflush(fp) == EOF)) {
		if (!write_failed)
			ms_warn("write");
		write_failed = 1;
		return -1;
	}
	return 0;
}

int
ms_write_json(FILE *fp, const json_t *j, int flush)
{
	char *s;
	int rc;

	if ((s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL) {
		write_failed = 1;
		ms_warnx("write: cannot encode JSON");
		return -1;
	}
	rc = ms_write_raw(fp, s, strlen(s), flush);
	free(s);
	return rc;
}

int
ms_write_failed(void)
{
	return write_failed;
}

int
ms_close_stdout(void)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		if (!write_failed)
			ms_warn("write");
		write_failed = 1;
	}
	return write_failed ? -1 : 0;
}

int
ms_json_quote(char *buf, size_t len, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (len < 3)
		return -1;
	buf[o++] = '"';
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (o + 8 > len)
			return -1;
		if (ch == '"' || ch == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			memcpy(buf + o, "\\u00", 4);
			buf[o + 4] = hex[ch >> 4];
			buf[o + 5] = hex[ch & 15];
			o += 6;
		} else
			buf[o++] = (char)ch;
	}
	if (o + 2 > len)
		return -1;
	buf[o++] = '"';
	buf[o] = '\0';
	return (int)o;
}
