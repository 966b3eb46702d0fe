/*
 * lines.c: identities from a line scanner (barcode or QR scanner in
 * serial mode, a kiosk writing to a fifo, or a plain file).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "msid.h"

int
linesrc_open(struct linesrc *ls, const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd, flags = O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC;

	memset(ls, 0, sizeof(*ls));
	ls->rd.fd = -1;
	if (stat(path, &st) == -1) {
		SET_ERR("%s: %s", path, strerror(errno));
		return -1;
	}
	/*
	 * A fifo is opened for writing too, so that kiosk writers may come
	 * and go without msid ever seeing an end of file (and so that the
	 * open does not wait for the first writer).
	 */
	if (S_ISFIFO(st.st_mode))
		flags = (flags & ~O_RDONLY) | O_RDWR;
	if ((fd = open(path, flags)) == -1) {
		SET_ERR("%s: %s", path, strerror(errno));
		return -1;
	}
	ms_reader_init(&ls->rd, fd, path);
	ls->rd.maxlen = LINE_TOKEN_MAX;
	return 0;
}

void
linesrc_close(struct linesrc *ls)
{
	if (ls->rd.fd != -1)
		close(ls->rd.fd);
	ls->rd.fd = -1;
	ms_reader_free(&ls->rd);
}

/* Printable ASCII; no leading or trailing blanks. */
static const char *
line_check(const char *s, size_t len)
{
	if (len == 0)
		return "empty line";
	if (s[0] == ' ' || s[len - 1] == ' ')
		return "leading or trailing blank";
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7E)
			return "not printable ASCII";
	return NULL;
}

int
linesrc_next(struct linesrc *ls, char *tok, size_t len, int *bad)
{
	char err[256];
	const char *why;
	int r;

	for (;;) {
		r = ms_reader_line(&ls->rd, 1, err, sizeof(err));
		switch (r) {
		case MS_READ_LINE:
			if ((why = line_check(ls->rd.line, ls->rd.len)) != NULL) {
				ms_warn_at(ls->rd.source, ls->rd.lineno, "%s; skipped", why);
				*bad = 1;
				continue;
			}
			snprintf(tok, len, "line:%s", ls->rd.line);
			return 1;
		case MS_READ_BAD:
			ms_warn_at(ls->rd.source, ls->rd.lineno, "%s; skipped", err);
			*bad = 1;
			continue;
		case MS_READ_AGAIN:
			return 0;
		case MS_READ_ERROR:
			ms_warnx("%s: %s", ls->rd.source, err);
			*bad = 1;
			return -1;
		default:	/* MS_READ_EOF */
			return -1;
		}
	}
}
