/*
 * planogram.c: which product sits on which GPIO line.  The format is in
 * msdetect(5); in short:
 *
 *	chip gpiochip0
 *	default pull-up active-low debounce=20
 *	line 3 A1 cola-330 presence
 *	line 4 B1 crisps pulse debounce=5
 *	door 7
 *	operator felica:0123456789ABCDEF
 *
 * Lines may end in LF or CR LF.  A bad file is refused whole, with every
 * problem named by line.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msdetect.h"

#define WORDS_MAX 16

struct defaults {
	int		 active_low;
	enum gpio_bias	 bias;
	int64_t		 debounce_ns;
};

const char *
sensor_kind_name(enum sensor_kind k)
{
	switch (k) {
	case SENSOR_PRESENCE:
		return "presence";
	case SENSOR_PULSE:
		return "pulse";
	case SENSOR_DOOR:
		return "door";
	}
	return "?";
}

int
planogram_find(const struct planogram *pg, unsigned int offset)
{
	size_t i;

	for (i = 0; i < pg->n; i++)
		if (pg->lines[i].offset == offset)
			return (int)i;
	return -1;
}

int
planogram_is_operator(const struct planogram *pg, const char *card)
{
	for (size_t i = 0; i < pg->nops; i++)
		if (strcmp(pg->operators[i], card) == 0)
			return 1;
	return 0;
}

static size_t
split(char *s, char **w, size_t max)
{
	size_t n = 0;

	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || *s == '#')
			return n;
		if (n == max)
			return max + 1;
		w[n++] = s;
		while (*s != '\0' && *s != ' ' && *s != '\t')
			s++;
		if (*s != '\0')
			*s++ = '\0';
	}
}

/* Apply one option word; -1 with a reason. */
static int
option(const char *w, int *active_low, enum gpio_bias *bias,
    int64_t *debounce_ns, char *err, size_t errlen)
{
	long ms;

	if (strcmp(w, "active-low") == 0)
		*active_low = 1;
	else if (strcmp(w, "active-high") == 0)
		*active_low = 0;
	else if (strcmp(w, "pull-up") == 0)
		*bias = GPIO_BIAS_PULL_UP;
	else if (strcmp(w, "pull-down") == 0)
		*bias = GPIO_BIAS_PULL_DOWN;
	else if (strcmp(w, "bias-disable") == 0)
		*bias = GPIO_BIAS_DISABLE;
	else if (strcmp(w, "as-is") == 0)
		*bias = GPIO_BIAS_AS_IS;
	else if (strncmp(w, "debounce=", 9) == 0) {
		if (ms_parse_long(w + 9, 0, DEBOUNCE_MAX_MS, &ms) == -1) {
			snprintf(err, errlen, "debounce \"%.20s\" must be 0 to "
			    "%d milliseconds", w + 9, DEBOUNCE_MAX_MS);
			return -1;
		}
		*debounce_ns = (int64_t)ms * 1000000;
	} else {
		snprintf(err, errlen, "unknown option \"%.40s\"", w);
		return -1;
	}
	return 0;
}

static int
parse_line(struct planogram *pg, struct defaults *def, char **w, size_t n,
    unsigned long lineno, char *err, size_t errlen)
{
	struct pg_line l;
	size_t first_opt, i;
	long off;
	int k;

	if (strcmp(w[0], "chip") == 0) {
		if (n != 2) {
			snprintf(err, errlen, "usage: chip NAME");
			return -1;
		}
		if (pg->chip[0] != '\0') {
			snprintf(err, errlen, "a second chip line");
			return -1;
		}
		if (strlen(w[1]) >= sizeof(pg->chip)) {
			snprintf(err, errlen, "chip name too long");
			return -1;
		}
		strcpy(pg->chip, w[1]);
		pg->chip_lineno = lineno;
		return 0;
	}
	if (strcmp(w[0], "operator") == 0) {
		char cerr[128];

		if (n != 2) {
			snprintf(err, errlen, "usage: operator CARD");
			return -1;
		}
		if (ms_card_valid(w[1], cerr, sizeof(cerr)) == -1) {
			snprintf(err, errlen, "operator: %s", cerr);
			return -1;
		}
		if (planogram_is_operator(pg, w[1]))
			return 0;
		if (pg->nops == OPERATORS_MAX) {
			snprintf(err, errlen, "more than %d operator cards",
			    OPERATORS_MAX);
			return -1;
		}
		snprintf(pg->operators[pg->nops++], MS_CARD_MAX, "%s", w[1]);
		return 0;
	}
	if (strcmp(w[0], "default") == 0) {
		for (i = 1; i < n; i++)
			if (option(w[i], &def->active_low, &def->bias,
			    &def->debounce_ns, err, errlen) == -1)
				return -1;
		return 0;
	}
	memset(&l, 0, sizeof(l));
	l.lineno = lineno;
	l.active_low = def->active_low;
	l.bias = def->bias;
	l.debounce_ns = def->debounce_ns;
	if (strcmp(w[0], "door") == 0) {
		l.kind = SENSOR_DOOR;
		first_opt = 2;
		if (n < 2) {
			snprintf(err, errlen, "usage: door OFFSET [OPTION ...]");
			return -1;
		}
	} else if (strcmp(w[0], "line") == 0) {
		if (n < 5) {
			snprintf(err, errlen, n == 4 && (strcmp(w[3], "presence") == 0 ||
			    strcmp(w[3], "pulse") == 0) ? "missing sku" :
			    "usage: line OFFSET SLOT SKU presence|pulse [OPTION ...]");
			return -1;
		}
		if (strcmp(w[4], "presence") == 0)
			l.kind = SENSOR_PRESENCE;
		else if (strcmp(w[4], "pulse") == 0)
			l.kind = SENSOR_PULSE;
		else {
			snprintf(err, errlen, "unknown sensor kind \"%.40s\" "
			    "(presence or pulse)", w[4]);
			return -1;
		}
		if (!ms_id_valid(w[2])) {
			snprintf(err, errlen, "bad slot \"%.40s\": 1 to %d letters, "
			    "digits or . _ - @", w[2], MS_ID_MAX);
			return -1;
		}
		if (!ms_id_valid(w[3])) {
			snprintf(err, errlen, "bad sku \"%.40s\": 1 to %d letters, "
			    "digits or . _ - @", w[3], MS_ID_MAX);
			return -1;
		}
		strcpy(l.slot, w[2]);
		strcpy(l.sku, w[3]);
		first_opt = 5;
	} else {
		snprintf(err, errlen, "unknown keyword \"%.40s\" (chip, default, "
		    "line, door or operator)", w[0]);
		return -1;
	}
	if (ms_parse_long(w[1], 0, 65535, &off) == -1) {
		snprintf(err, errlen, "bad line offset \"%.20s\"", w[1]);
		return -1;
	}
	l.offset = (unsigned int)off;
	for (i = first_opt; i < n; i++)
		if (option(w[i], &l.active_low, &l.bias, &l.debounce_ns, err,
		    errlen) == -1)
			return -1;
	if ((k = planogram_find(pg, l.offset)) != -1) {
		snprintf(err, errlen, "offset %u is already used on line %lu",
		    l.offset, pg->lines[k].lineno);
		return -1;
	}
	for (i = 0; i < pg->n; i++) {
		if (l.kind == SENSOR_DOOR && pg->lines[i].kind == SENSOR_DOOR) {
			snprintf(err, errlen, "a second door (the first is on "
			    "line %lu)", pg->lines[i].lineno);
			return -1;
		}
		if (l.kind != SENSOR_DOOR && strcmp(pg->lines[i].slot, l.slot) == 0) {
			snprintf(err, errlen, "slot %s is already on line %lu",
			    l.slot, pg->lines[i].lineno);
			return -1;
		}
	}
	if (pg->n == GPIO_LINES_MAX) {
		snprintf(err, errlen, "more than %d lines", GPIO_LINES_MAX);
		return -1;
	}
	pg->lines[pg->n++] = l;
	return 0;
}

int
planogram_load(const char *path, struct planogram *pg)
{
	struct defaults def = { 0, GPIO_BIAS_AS_IS,
	    (int64_t)DEBOUNCE_DEFAULT_MS * 1000000 };
	FILE *fp;
	char *buf = NULL, *w[WORDS_MAX];
	char err[256];
	size_t cap = 0, n;
	ssize_t len;
	unsigned long lineno = 0;
	int bad = 0;

	memset(pg, 0, sizeof(*pg));
	pg->source = path;
	if ((fp = fopen(path, "r")) == NULL) {
		ms_warn("%s", path);
		return -1;
	}
	while ((len = getline(&buf, &cap, fp)) != -1) {
		lineno++;
		if (len > 0 && buf[len - 1] == '\n')
			buf[--len] = '\0';
		/* a file saved with CR LF line ends reads the same */
		if (len > 0 && buf[len - 1] == '\r')
			buf[--len] = '\0';
		if (strlen(buf) != (size_t)len) {
			ms_warn_at(path, lineno, "line contains a NUL byte");
			bad = 1;
			continue;
		}
		if (strchr(buf, '\r') != NULL) {
			ms_warn_at(path, lineno, "a carriage return (CR) inside "
			    "the line: lines end in LF or CR LF");
			bad = 1;
			continue;
		}
		if ((n = split(buf, w, WORDS_MAX)) == 0)
			continue;
		if (n > WORDS_MAX) {
			ms_warn_at(path, lineno, "too many words");
			bad = 1;
			continue;
		}
		if (parse_line(pg, &def, w, n, lineno, err, sizeof(err)) == -1) {
			ms_warn_at(path, lineno, "%s", err);
			bad = 1;
		}
	}
	if (ferror(fp)) {
		ms_warn("%s", path);
		bad = 1;
	}
	fclose(fp);
	free(buf);
	if (!bad && pg->chip[0] == '\0') {
		ms_warn_at(path, lineno, "no chip line (e.g. \"chip gpiochip0\")");
		bad = 1;
	}
	if (!bad && pg->n == 0) {
		ms_warn_at(path, lineno, "no line or door to watch");
		bad = 1;
	}
	return bad ? -1 : 0;
}
