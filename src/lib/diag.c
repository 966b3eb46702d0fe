/* diag.c: messages on stderr, prefixed with the program's name. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms.h"

const char *ms_prog = "ms";

void
ms_setprog(const char *argv0)
{
	const char *p;

	if (argv0 == NULL || *argv0 == '\0')
		return;
	p = strrchr(argv0, '/');
	ms_prog = p ? p + 1 : argv0;
}

static void
vwarn_common(const char *source, unsigned long line, int errnum,
    const char *fmt, va_list ap)
{
	char msg[2048];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (source != NULL && errnum != 0)
		fprintf(stderr, "%s: %s:%lu: %s: %s\n", ms_prog, source, line,
		    msg, strerror(errnum));
	else if (source != NULL)
		fprintf(stderr, "%s: %s:%lu: %s\n", ms_prog, source, line, msg);
	else if (errnum != 0)
		fprintf(stderr, "%s: %s: %s\n", ms_prog, msg, strerror(errnum));
	else
		fprintf(stderr, "%s: %s\n", ms_prog, msg);
}

void
ms_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn_common(NULL, 0, 0, fmt, ap);
	va_end(ap);
}

void
ms_warn(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	vwarn_common(NULL, 0, e, fmt, ap);
	va_end(ap);
}

void
ms_errx(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn_common(NULL, 0, 0, fmt, ap);
	va_end(ap);
	exit(code);
}

void
ms_err(int code, const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	vwarn_common(NULL, 0, e, fmt, ap);
	va_end(ap);
	exit(code);
}

void
ms_warn_at(const char *source, unsigned long line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn_common(source ? source : "-", line, 0, fmt, ap);
	va_end(ap);
}

int
ms_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
ms_parse_seconds(const char *s, int64_t *ms)
{
	int64_t whole = 0, frac = 0;
	int digits = 0, fdigits = 0;

	if (s == NULL)
		return -1;
	for (; *s >= '0' && *s <= '9'; s++, digits++) {
		if (whole > INT64_MAX / 10000)
			return -1;
		whole = whole * 10 + (*s - '0');
	}
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++, fdigits++)
			if (fdigits < 3)
				frac = frac * 10 + (*s - '0');
		if (fdigits == 0)
			return -1;
		for (int i = fdigits; i < 3; i++)
			frac *= 10;
	}
	if (*s != '\0' || digits + fdigits == 0)
		return -1;
	*ms = whole * 1000 + frac;
	return 0;
}
