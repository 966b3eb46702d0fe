/*
 * conf.c: reading /etc/ms/ms.conf.  One setting a line, "key = value";
 * blank lines and lines starting with '#' are ignored.  A line that is
 * not a known key with a well-formed value, or that repeats a key, is
 * named (source:LINE) and nothing from it is applied: a typo must not
 * half-configure a shop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "ms.h"

#define CONF_FILE_MAX	(64 * 1024)	/* a settings file, not a database */

/* Is every byte of v printable ASCII or UTF-8, with no control byte? */
static int
value_printable(const char *v)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

static const char *
check_path(const char *v)
{
	if (!value_printable(v))
		return "a control character in a path";
	return NULL;
}

static const char *
check_currency(const char *v)
{
	if (!ms_currency_valid(v))
		return "not an ISO 4217 currency code";
	return NULL;
}

/* An IANA zone name (Europe/Berlin, Etc/GMT+9, UTC): no way out of zoneinfo. */
static const char *
check_timezone(const char *v)
{
	if (v[0] == '/' || strstr(v, "..") != NULL)
		return "not a zone name (Area/City)";
	for (const char *p = v; *p; p++)
		if (!(*p >= 'A' && *p <= 'Z') && !(*p >= 'a' && *p <= 'z') &&
		    !(*p >= '0' && *p <= '9') && strchr("/_+-", *p) == NULL)
			return "not a zone name (Area/City)";
	return NULL;
}

static const char *
check_gateway(const char *v)
{
	if (strcmp(v, "ledger") != 0 && strcmp(v, "stripe") != 0 &&
	    strcmp(v, "webhook") != 0)
		return "want ledger, stripe or webhook";
	return NULL;
}

static const struct key {
	const char	*name;
	size_t		 off, size;
	const char	*(*check)(const char *);
} keys[] = {
	{ "currency", offsetof(struct ms_conf, currency),
	    sizeof(((struct ms_conf *)0)->currency), check_currency },
	{ "gateway", offsetof(struct ms_conf, gateway),
	    sizeof(((struct ms_conf *)0)->gateway), check_gateway },
	{ "key", offsetof(struct ms_conf, key),
	    sizeof(((struct ms_conf *)0)->key), check_path },
	{ "ledger", offsetof(struct ms_conf, ledger),
	    sizeof(((struct ms_conf *)0)->ledger), check_path },
	{ "payroll", offsetof(struct ms_conf, payroll),
	    sizeof(((struct ms_conf *)0)->payroll), check_path },
	{ "timezone", offsetof(struct ms_conf, timezone),
	    sizeof(((struct ms_conf *)0)->timezone), check_timezone },
	{ "url", offsetof(struct ms_conf, url),
	    sizeof(((struct ms_conf *)0)->url), check_path },
	{ NULL, 0, 0, NULL }
};

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* One line (NUL-free, no '\n'): NULL when applied or empty, else why not. */
static const char *
parse_line(struct ms_conf *conf, char *line, unsigned *seen)
{
	char *key, *eq, *val, *end;
	const struct key *k;
	const char *why;
	size_t n;

	while (is_space(*line))
		line++;
	if (*line == '\0' || *line == '#')
		return NULL;
	if ((eq = strchr(line, '=')) == NULL)
		return "not \"key = value\"";
	key = line;
	for (end = eq; end > key && is_space(end[-1]); end--)
		;
	*end = '\0';
	val = eq + 1;
	while (is_space(*val))
		val++;
	for (end = val + strlen(val); end > val && is_space(end[-1]); end--)
		;
	*end = '\0';
	for (k = keys; k->name != NULL; k++)
		if (strcmp(k->name, key) == 0)
			break;
	if (k->name == NULL)
		return "unknown key (want currency, gateway, key, ledger, "
		    "payroll, timezone or url)";
	if (*val == '\0')
		return "empty value";
	if ((why = k->check(val)) != NULL)
		return why;
	if ((n = strlen(val)) >= k->size)
		return "value too long";
	if (*seen & (1u << (k - keys)))
		return "the key is set twice";
	*seen |= 1u << (k - keys);
	memcpy((char *)conf + k->off, val, n + 1);
	return NULL;
}

int
ms_conf_parse(struct ms_conf *conf, const char *text, size_t len,
    const char *source, int warn)
{
	unsigned long lineno = 0;
	unsigned seen = 0;
	int bad = 0;
	size_t i = 0;

	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
		const char *why = NULL;
		char buf[MS_CONF_VALUE_MAX + 256];

		lineno++;
		if (memchr(text + i, '\0', n) != NULL)
			why = "a NUL byte";
		else if (n >= sizeof(buf))
			why = "line too long";
		else {
			memcpy(buf, text + i, n);
			buf[n] = '\0';
			why = parse_line(conf, buf, &seen);
		}
		if (why != NULL) {
			bad++;
			if (warn)
				ms_warn_at(source, lineno, "%s", why);
		}
		i += n + (nl != NULL);
	}
	return bad;
}

static int conf_loaded, conf_status;
static struct ms_conf conf_cache;

int
ms_conf_load(struct ms_conf *conf)
{
	const char *path = getenv("MS_CONF");
	int explicit = path != NULL && *path != '\0';
	char *text;
	ssize_t r;
	size_t len = 0;
	int fd;

	if (conf_loaded) {
		*conf = conf_cache;
		return conf_status;
	}
	conf_loaded = 1;
	memset(&conf_cache, 0, sizeof(conf_cache));
	if (!explicit)
		path = MS_CONF_DEFAULT;
	if ((fd = open(path, O_RDONLY)) == -1) {
		if (explicit || errno != ENOENT) {
			ms_warn("%s", path);
			conf_status = -1;
		}
		*conf = conf_cache;
		return conf_status;
	}
	if ((text = malloc(CONF_FILE_MAX)) == NULL)
		ms_err(MS_EX_FAIL, "malloc");
	while (len < CONF_FILE_MAX &&
	    (r = read(fd, text + len, CONF_FILE_MAX - len)) != 0) {
		if (r == -1) {
			if (errno == EINTR)
				continue;
			ms_warn("%s", path);
			conf_status = -1;
			break;
		}
		len += (size_t)r;
	}
	close(fd);
	if (conf_status == 0 && len == CONF_FILE_MAX) {
		ms_warnx("%s: longer than %d bytes", path, CONF_FILE_MAX);
		conf_status = -1;
	}
	if (conf_status == 0) {
		snprintf(conf_cache.source, sizeof(conf_cache.source), "%s", path);
		conf_status = ms_conf_parse(&conf_cache, text, len, path, 1);
	}
	free(text);
	*conf = conf_cache;
	return conf_status;
}

const struct ms_conf *
ms_conf(void)
{
	struct ms_conf c;

	ms_conf_load(&c);
	return &conf_cache;
}
