/*
 * libFuzzer harness: ms.conf's parser (src/lib/conf.c), which must take
 * any bytes, apply only well-formed lines and leave every value
 * NUL-terminated and valid.
 */
#include <stdint.h>
#include <string.h>

#include "conf.h"
#include "ms.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_conf conf;

	memset(&conf, 0, sizeof(conf));
	ms_conf_parse(&conf, (const char *)data, size, "ms.conf", 0);
	if (memchr(conf.ledger, '\0', sizeof(conf.ledger)) == NULL ||
	    memchr(conf.timezone, '\0', sizeof(conf.timezone)) == NULL ||
	    memchr(conf.gateway, '\0', sizeof(conf.gateway)) == NULL ||
	    memchr(conf.payroll, '\0', sizeof(conf.payroll)) == NULL ||
	    memchr(conf.currency, '\0', sizeof(conf.currency)) == NULL)
		__builtin_trap();
	if (conf.currency[0] != '\0' && !ms_currency_valid(conf.currency))
		__builtin_trap();	/* a bad value must never be applied */
	if (strstr(conf.timezone, "..") != NULL || conf.timezone[0] == '/')
		__builtin_trap();
	return 0;
}
