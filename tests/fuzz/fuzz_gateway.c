/*
 * libFuzzer harness: how mspay reads a gateway's answer.  The first two
 * bytes pick the HTTP status and headers; the rest is the body, given to
 * the Stripe (charges and payment_intents) and webhook classifiers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ms.h"
#include "mspay.h"

static const long statuses[] = { 0, 200, 201, 400, 401, 402, 404, 409, 429, 500, 502, 503 };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reply r;
	struct outcome o;
	char *body;

	if (size < 2)
		return 0;
	memset(&r, 0, sizeof(r));
	r.status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
	r.should_retry = (int)(data[1] % 3) - 1;
	r.retry_after_ms = data[1] & 0x80 ? (int64_t)data[1] * 10 : -1;
	/* an exact-size copy (plus the NUL mspay.c always adds) */
	if ((body = malloc(size - 2 + 1)) == NULL)
		return 0;
	memcpy(body, data + 2, size - 2);
	body[size - 2] = '\0';
	r.body = body;
	r.len = size - 2;
	memset(&o, 0, sizeof(o));
	stripe_classify(&r, API_CHARGES, &o);
	memset(&o, 0, sizeof(o));
	stripe_classify(&r, API_PAYMENT_INTENTS, &o);
	memset(&o, 0, sizeof(o));
	webhook_classify(&r, &o);
	free(body);
	return 0;
}
