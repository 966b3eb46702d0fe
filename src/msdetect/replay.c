/* replay.c: the edge script format of msdetect -r (see msdetect(1)). */
#include <stdio.h>
#include <string.h>

#include "msdetect.h"

/* Seconds with up to 9 decimals, "12" or "0.0001", into nanoseconds. */
static int
parse_time(const char *s, int64_t *ns)
{
	int64_t sec = 0, frac = 0, scale = 100000000;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (sec > (INT64_MAX / 1000000000 - 9) / 10)
			return -1;
		sec = sec * 10 + (*p - '0');
	}
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (scale == 0)
				return -1;
			frac += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (*p != '\0')
		return -1;
	*ns = sec * 1000000000 + frac;
	return 0;
}

int
replay_parse(char *line, struct replay_rec *r, char *err, size_t errlen)
{
	char *w[4], *s = line;
	size_t n = 0;
	long off;

	memset(r, 0, sizeof(*r));
	while (n < 4) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || (n == 0 && *s == '#'))
			break;
		w[n++] = s;
		while (*s != '\0' && *s != ' ' && *s != '\t')
			s++;
		if (*s != '\0')
			*s++ = '\0';
	}
	if (n == 0) {
		r->kind = REPLAY_NONE;
		return 0;
	}
	if (n != 3) {
		snprintf(err, errlen, "expected \"TIME OFFSET rising|falling\" or "
		    "\"level OFFSET high|low\"");
		return -1;
	}
	if (ms_parse_long(w[1], 0, 65535, &off) == -1) {
		snprintf(err, errlen, "bad line offset \"%.20s\"", w[1]);
		return -1;
	}
	r->offset = (unsigned int)off;
	if (strcmp(w[0], "level") == 0) {
		r->kind = REPLAY_LEVEL;
		if (strcmp(w[2], "high") == 0)
			r->high = 1;
		else if (strcmp(w[2], "low") == 0)
			r->high = 0;
		else {
			snprintf(err, errlen, "level must be high or low");
			return -1;
		}
		return 0;
	}
	r->kind = REPLAY_EDGE;
	if (parse_time(w[0], &r->t_ns) == -1) {
		snprintf(err, errlen, "bad time \"%.30s\" (seconds, like 1.250)",
		    w[0]);
		return -1;
	}
	if (strcmp(w[2], "rising") == 0)
		r->high = 1;
	else if (strcmp(w[2], "falling") == 0)
		r->high = 0;
	else {
		snprintf(err, errlen, "edge must be rising or falling");
		return -1;
	}
	return 0;
}
