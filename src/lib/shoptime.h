/*
 * shoptime.h: the shop's local time, for what people read (tables,
 * report periods).  NDJSON stays in UTC.
 */
#ifndef MS_SHOPTIME_H
#define MS_SHOPTIME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * Take the shop's time zone: TZ when the environment sets it, else
 * "timezone" in ms.conf, else the system's.  Call before any other.
 */
void	ms_shoptime_init(void);
/* "2026-12-01 01:00:00 JST" from an RFC 3339 UTC time; "-" if not one. */
void	ms_shoptime_format(const char *utc, char *buf, size_t len);
/* The same from milliseconds since the epoch. */
void	ms_shoptime_format_ms(int64_t ms, char *buf, size_t len);
/* The local broken-down time of ms since the epoch. */
int	ms_shoptime_tm(int64_t ms, struct tm *);
/*
 * A local date or time, "2026-12-01" or "2026-12-01T09:30" (also with
 * seconds), into milliseconds since the epoch; -1 if not one.
 */
int	ms_shoptime_parse(const char *, int64_t *ms);

#endif
