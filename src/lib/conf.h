/*
 * conf.h: /etc/ms/ms.conf, the settings an administrator makes once for
 * every program (the ledger's place, the shop's currency and time zone,
 * the gateway with its key file and URL, the payroll file pattern).  The environment and the
 * options override what it says.
 */
#ifndef MS_CONF_H
#define MS_CONF_H

#include <stddef.h>

#define MS_CONF_DEFAULT	"/etc/ms/ms.conf"
#define MS_CONF_VALUE_MAX 1023

struct ms_conf {
	char	ledger[MS_CONF_VALUE_MAX + 1];	/* "" when not set */
	char	currency[4];
	char	timezone[256];
	char	gateway[64];
	char	key[MS_CONF_VALUE_MAX + 1];	/* the gateway's key file */
	char	url[MS_CONF_VALUE_MAX + 1];	/* the gateway's URL */
	char	payroll[MS_CONF_VALUE_MAX + 1];
	char	source[MS_CONF_VALUE_MAX + 1];	/* the file read, "" if none */
};

/*
 * Parse len bytes of text named source into conf (fields not set keep
 * their value).  A bad line is reported as "prog: source:LINE: why" when
 * warn is set and nothing from it is applied.  Returns the number of bad
 * lines.
 */
int	ms_conf_parse(struct ms_conf *, const char *text, size_t len,
	    const char *source, int warn);
/*
 * Read $MS_CONF, else /etc/ms/ms.conf, into a zeroed conf.  A missing
 * default file is no error; a missing $MS_CONF is.  Returns -1 when the
 * file cannot be read, else the number of bad lines.  Read once: later
 * calls return the first call's result.
 */
int	ms_conf_load(struct ms_conf *);
/* The process's settings, loaded on first use (bad lines warned once). */
const struct ms_conf *ms_conf(void);

#endif
