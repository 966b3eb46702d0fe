/*
 * shoptime.c: times in the shop's zone.  A shop closes its books by its
 * own day and month, so a take at 2026-11-30T16:00:00Z in Tokyo is on
 * 1 December; the zone comes from the environment or ms.conf once, and
 * the C library's zoneinfo does the rest (summer time included).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "ms.h"
#include "shoptime.h"

void
ms_shoptime_init(void)
{
	const char *tz = getenv("TZ");

	if ((tz == NULL || *tz == '\0') && ms_conf()->timezone[0] != '\0')
		setenv("TZ", ms_conf()->timezone, 1);
	tzset();
}

int
ms_shoptime_tm(int64_t ms, struct tm *tm)
{
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);

	return localtime_r(&t, tm) == NULL ? -1 : 0;
}

void
ms_shoptime_format_ms(int64_t ms, char *buf, size_t len)
{
	struct tm tm;

	if (ms_shoptime_tm(ms, &tm) == -1 ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0)
		snprintf(buf, len, "-");
}

void
ms_shoptime_format(const char *utc, char *buf, size_t len)
{
	int64_t ms;

	if (utc == NULL || ms_time_parse(utc, &ms) != 0)
		snprintf(buf, len, "-");
	else
		ms_shoptime_format_ms(ms, buf, len);
}

int
ms_shoptime_parse(const char *s, int64_t *ms)
{
	struct tm tm;
	char *end;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%Y-%m-%d", &tm)) == NULL)
		return -1;
	if (*end == 'T' || *end == ' ') {
		if ((end = strptime(end + 1, "%H:%M", &tm)) == NULL)
			return -1;
		if (*end == ':' && (end = strptime(end + 1, "%S", &tm)) == NULL)
			return -1;
	}
	if (*end != '\0')
		return -1;
	tm.tm_isdst = -1;	/* as the zone says on that day */
	/* -1 is also the last second of 1969: no shop's period */
	if ((t = mktime(&tm)) == (time_t)-1)
		return -1;
	*ms = (int64_t)t * 1000;
	return 0;
}
