/*
 * amount.c: Stripe's minor units.  A charge line carries its amount in the
 * currency's ISO 4217 minor unit (see ms(7)); Stripe takes most currencies
 * the same way, but not all (its "zero-decimal" list and "special cases"):
 *
 *   ISK	ISO has no minor unit; Stripe keeps ISK two-decimal in its
 *		API, and only whole kronur: 500 kr goes out as 50000.
 *   MGA	ISO 4217 gives it two decimals; Stripe takes it zero-decimal:
 *		123.00 ariary (12300) goes out as 123; a fraction cannot go.
 *   BHD JOD KWD OMR TND
 *		three decimals in both, but Stripe (for the card networks)
 *		wants the last digit 0: 5.124 KWD cannot go exactly.
 *
 * Everything else goes as it is: the other zero-decimal currencies (JPY,
 * KRW, UGX, ...) have no minor unit in ISO either, and HUF and TWD, which
 * Stripe pays out only in whole units, are charged with two decimals.
 * An amount that cannot be sent exactly is refused: rounding it would
 * charge something other than what the ledger says.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ms.h"
#include "mspay.h"

static const struct {
	char	code[4];
	int	shift;		/* Stripe's exponent minus ISO's */
	int	step;		/* Stripe amounts are multiples of this */
} special[] = {
	{ "BHD", 0, 10 }, { "ISK", 2, 100 }, { "JOD", 0, 10 },
	{ "KWD", 0, 10 }, { "MGA", -2, 1 }, { "OMR", 0, 10 },
	{ "TND", 0, 10 },
};

int
stripe_amount(const char *currency, int64_t iso, int64_t *out, char *err,
    size_t errlen)
{
	int64_t v = iso;
	size_t i;

	for (i = 0; i < sizeof(special) / sizeof(special[0]); i++)
		if (strcmp(special[i].code, currency) == 0)
			break;
	if (i == sizeof(special) / sizeof(special[0])) {
		*out = iso;
		return 0;
	}
	if (special[i].shift < 0) {
		if (iso % 100 != 0) {
			SET_ERR("%lld %s has a fraction Stripe cannot take "
			    "(%s is zero-decimal at Stripe)", (long long)iso,
			    currency, currency);
			return -1;
		}
		v = iso / 100;
	} else if (special[i].shift > 0 &&
	    __builtin_mul_overflow(iso, (int64_t)100, &v)) {
		SET_ERR("%lld %s is too large", (long long)iso, currency);
		return -1;
	}
	if (v % special[i].step != 0) {
		SET_ERR("%lld %s cannot go to Stripe exactly: %s amounts must "
		    "be multiples of %d in its minor unit", (long long)iso,
		    currency, currency, special[i].step);
		return -1;
	}
	*out = v;
	return 0;
}

/*
 * Does the object a gateway answered with charge what was asked?  A
 * succeeded answer must say so in its own amount and currency.
 */
int
stripe_amount_check(const struct charge *c, const struct outcome *o,
    char *err, size_t errlen)
{
	char cur[4];
	size_t i;

	for (i = 0; i < 3 && c->currency[i]; i++)
		cur[i] = (char)(c->currency[i] | 0x20);
	cur[i] = '\0';
	if (o->reply_amount < 0 || o->reply_currency[0] == '\0') {
		SET_ERR("the gateway's answer has no amount or currency; asked "
		    "for %lld %s", (long long)c->gw_amount, cur);
		return -1;
	}
	if (o->reply_amount != c->gw_amount ||
	    strcasecmp(o->reply_currency, cur) != 0) {
		SET_ERR("the gateway answered %lld %s for %lld %s: not "
		    "recorded as paid; an admin must look at %s",
		    (long long)o->reply_amount, o->reply_currency,
		    (long long)c->gw_amount, cur,
		    o->gateway_id[0] ? o->gateway_id : "the gateway");
		return -1;
	}
	return 0;
}
