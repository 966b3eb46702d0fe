/*
 * msg.c: the wire format of ms-events(5) as tables.  Each message type
 * lists its fields; a validator checks presence, type and limits, and
 * refuses fields it does not know, so a typo ("ammount") is an error
 * rather than a silently ignored field.
 */
#include <stdio.h>
#include <string.h>

#include "ms.h"

enum kind {
	K_ID,		/* identifier: ms_id_valid */
	K_ID_NULL,	/* identifier or null */
	K_TEXT,		/* printable string up to MS_TEXT_MAX */
	K_TEXT_NULL,
	K_NAME,		/* non-empty string up to MS_NAME_MAX */
	K_TIME,		/* RFC 3339 UTC */
	K_CARD,		/* card token */
	K_CARD_NULL,
	K_CARDS,	/* array of card tokens */
	K_SEQ,		/* integer 1..2^53 */
	K_COUNT,	/* integer >= 0 */
	K_AMOUNT,	/* integer 0..MS_AMOUNT_MAX */
	K_POS_AMOUNT,	/* integer 1..MS_AMOUNT_MAX */
	K_SIGNED_AMOUNT,/* integer -MS_AMOUNT_MAX..MS_AMOUNT_MAX */
	K_SUM,		/* a signed amount, or null for a sum past the limit */
	K_CURRENCY,
	K_BOOL,
	K_KEY,		/* idempotency key: 1..255 printable ASCII, no space */
	K_EVENT,	/* "robot:seq" */
	K_ENUM,		/* one of the strings in .values */
	K_ITEMS,	/* array of cart items */
	K_TOTALS,	/* array of {currency, amount} */
	K_CART,		/* a nested cart message */
	K_WAIT,		/* seconds, 0..MS_WAIT_MAX */
	K_NAMES,	/* {language: name}, a product's names by language */
	K_STOCK,	/* items in a slot, 0..MS_STOCK_MAX */
	K_STOCK_DELTA	/* items put in less taken out, +-MS_STOCK_MAX */
};

struct field {
	const char	*name;
	enum kind	 kind;
	int		 required;
	const char	*const *values;	/* K_ENUM */
};

static const char *const door_states[] = { "open", "closed", NULL };
static const char *const ack_status[] = { "applied", "duplicate", NULL };
static const char *const user_status[] = { "active", "blocked", "attention", NULL };
static const char *const cart_status[] = { "active", "blocked", "attention", "unknown", NULL };
static const char *const limit_states[] = { "ok", "over", "blocked", NULL };
static const char *const item_states[] = { "unpaid", "settling", "paid", "void", "credit", "held", NULL };
static const char *const settle_states[] = { "open", "paid", "declined", "failed",
    "review", "closed", NULL };
static const char *const outcome_states[] = { "paid", "declined", "failed",
    "review", "pending", NULL };
static const char *const charged_status[] = { "succeeded", "declined", "failed", "unknown", NULL };
static const char *const end_reasons[] = { "door", "identify", "timeout", "eof", "depart", NULL };
static const char *const error_codes[] = {
	"invalid", "too-long", "unknown-type", "unknown-sku", "unknown-user",
	"unknown-card", "currency", "overflow", "forbidden", "offline",
	"conflict", "blocked", "internal", "busy", "not-master", "retry", NULL
};

#define EVENT_FIELDS \
	{ "type", K_TEXT, 1, NULL }, \
	{ "ts", K_TIME, 1, NULL }, \
	{ "robot", K_ID, 0, NULL }, \
	{ "seq", K_SEQ, 0, NULL }

static const struct field f_identify[] = {
	EVENT_FIELDS,
	{ "card", K_CARD, 1, NULL },
	{ NULL, 0, 0, NULL }
};
static const struct field f_depart[] = {
	EVENT_FIELDS,
	{ "card", K_CARD, 1, NULL },
	{ NULL, 0, 0, NULL }
};
static const struct field f_take[] = {
	EVENT_FIELDS,
	{ "slot", K_ID, 1, NULL },
	{ "sku", K_ID, 1, NULL },
	{ "card", K_CARD_NULL, 0, NULL },
	{ NULL, 0, 0, NULL }
};
static const struct field f_door[] = {
	EVENT_FIELDS,
	{ "state", K_ENUM, 1, door_states },
	{ NULL, 0, 0, NULL }
};
static const struct field f_alarm[] = {
	EVENT_FIELDS,
	{ "reason", K_ID, 1, NULL },
	{ "slot", K_ID, 0, NULL },
	{ "sku", K_ID, 0, NULL },
	{ "card", K_CARD_NULL, 0, NULL },
	{ "message", K_TEXT, 0, NULL },
	{ NULL, 0, 0, NULL }
};
static const struct field f_session_end[] = {
	EVENT_FIELDS,
	{ "card", K_CARD, 1, NULL },
	{ "takes", K_COUNT, 1, NULL },
	{ "returns", K_COUNT, 1, NULL },
	{ "reason", K_ENUM, 0, end_reasons },
	{ NULL, 0, 0, NULL }
};
static const struct field f_restock[] = {
	EVENT_FIELDS,
	{ "slot", K_ID, 1, NULL },
	{ "sku", K_ID, 1, NULL },
	{ "count", K_STOCK, 0, NULL },
	{ "added", K_STOCK_DELTA, 0, NULL },
	{ "card", K_CARD, 0, NULL },
	{ NULL, 0, 0, NULL }
};
static const struct field f_query[] = {
	{ "type", K_TEXT, 1, NULL },
	{ "id", K_ID, 0, NULL },
	{ "user", K_ID, 0, NULL },
	{ "card", K_CARD, 0, NULL },
	{ "all", K_BOOL, 0, NULL },
	{ "offset", K_COUNT, 0, NULL },
	{ "settlement", K_ID, 0, NULL },
	{ NULL, 0, 0, NULL }
};
static const struct field f_cart[] = {
	{ "type", K_TEXT, 1, NULL },
	{ "id", K_ID, 0, NULL },
	{ "user", K_ID_NULL, 1, NULL },
	{ "card", K_CARD, 0, NULL },
	{ "name", K_TEXT_NULL, 0, NULL },
	{ "status", K_ENUM, 1, cart_status },
	{ "limit", K_ENUM, 1, limit_states },
	{ "credit_limit", K_AMOUNT, 0, NULL },
	{ "items", K_ITEMS, 1, NULL },
	{ "count", K_COUNT, 0, NULL },
	{ "offset", K_COUNT, 0, NULL },
	{ "more", K_BOOL, 0, NULL },
	{ "total", K_SUM, 1, NULL },
	{ "overflow", K_BOOL, 0, NULL },
	{ "currency", K_CURRENCY, 1, NULL },
	{ "totals", K_TOTALS, 0, NULL },
	{ NULL, 0, 0, NULL }
};
static const struct field f_item[] = {
	{ "id", K_ID, 1, NULL },
	{ "sku", K_ID, 1, NULL },
	{ "name", K_TEXT_NULL, 0, NULL },
	{ "price", K_SIGNED_AMOUNT, 1, NULL },
	{ "currency", K_CURRENCY, 1, NULL },
	{ "ts", K_TIME, 1, NULL },
	{ "robot", K_ID_NULL, 0, NULL },
	{ "slot", K_ID_NULL, 0, NULL },
	{ "event", K_EVENT, 0, NULL },
	{ "state", K_ENUM, 1, item_states },
	{ "settlement", K_ID_NULL, 0, NULL },
	{ NULL, 0, 0, NULL }
};
static const struct field f_total[] = {
	{ "currency", K_CURRENCY, 1, NULL },
	{ "amount", K_SUM, 1, NULL },
	{ NULL, 0, 0, NULL }
};
static const struct field f_pay[] = {
	{ "type", K_TEXT, 1, NULL },
	{ "id", K_ID, 0, NULL },
	{ "user", K_ID, 0, NULL },
	{ "card", K_CARD, 0, NULL },
	{ "currency", K_CURRENCY, 0, NULL },
	{ "wait", K_WAIT, 0, NULL },
	{ NULL, 0, 0, NULL }
};
static const struct field f_outcome[] = {
	{ "type", K_TEXT, 1, NULL },
	{ "id", K_ID, 0, NULL },
	{ "settlement", K_ID, 1, NULL },
	{ "user", K_ID, 1, NULL },
	{ "state", K_ENUM, 1, outcome_states },
	{ "amount", K_AMOUNT, 1, NULL },
	{ "currency", K_CURRENCY, 1, NULL },
	{ "code", K_TEXT_NULL, 0, NULL },
	{ "message", K_TEXT_NULL, 0, NULL },
	{ "reason", K_TEXT, 0, NULL },
	{ NULL, 0, 0, NULL }
};
static const struct field f_settlement[] = {
	{ "type", K_TEXT, 1, NULL },
	{ "id", K_ID, 0, NULL },
	{ "settlement", K_ID, 1, NULL },
	{ "user", K_ID, 1, NULL },
	{ "amount", K_AMOUNT, 1, NULL },
	{ "currency", K_CURRENCY, 1, NULL },
	{ "key", K_KEY, 1, NULL },
	{ "state", K_ENUM, 1, settle_states },
	{ "lines", K_COUNT, 1, NULL },
	{ "attempts", K_COUNT, 0, NULL },
	{ "gateway_id", K_TEXT_NULL, 0, NULL },
	{ "code", K_TEXT_NULL, 0, NULL },
	{ "message", K_TEXT_NULL, 0, NULL },
	{ "created", K_TIME, 0, NULL },
	{ "updated", K_TIME, 0, NULL },
	{ NULL, 0, 0, NULL }
};
static const struct field f_hello[] = {
	{ "type", K_TEXT, 1, NULL },
	{ "id", K_ID, 0, NULL },
	{ "backlog", K_COUNT, 1, NULL },
	{ "ts", K_TIME, 0, NULL },
	{ NULL, 0, 0, NULL }
};
static const struct field f_ack[] = {
	{ "type", K_TEXT, 1, NULL },
	{ "id", K_ID, 0, NULL },
	{ "status", K_ENUM, 1, ack_status },
	{ "of", K_ID, 0, NULL },
	{ "event", K_EVENT, 0, NULL },
	{ "user", K_ID_NULL, 0, NULL },
	{ "cart", K_CART, 0, NULL },
	{ NULL, 0, 0, NULL }
};
static const struct field f_error[] = {
	{ "type", K_TEXT, 1, NULL },
	{ "id", K_ID, 0, NULL },
	{ "code", K_ENUM, 1, error_codes },
	{ "message", K_TEXT, 1, NULL },
	{ "source", K_TEXT, 0, NULL },
	{ "line", K_SEQ, 0, NULL },
	{ "event", K_EVENT, 0, NULL },
	{ "master", K_TEXT, 0, NULL },
	{ NULL, 0, 0, NULL }
};
static const struct field f_charge[] = {
	{ "type", K_TEXT, 1, NULL },
	{ "settlement", K_ID, 1, NULL },
	{ "user", K_ID, 1, NULL },
	{ "customer", K_KEY, 1, NULL },
	{ "amount", K_POS_AMOUNT, 1, NULL },
	{ "currency", K_CURRENCY, 1, NULL },
	{ "key", K_KEY, 1, NULL },
	{ "description", K_TEXT, 0, NULL },
	{ "payment_method", K_KEY, 0, NULL },
	{ "attempt", K_SEQ, 0, NULL },
	{ "first_attempt", K_TIME, 0, NULL },
	{ "last_attempt", K_TIME, 0, NULL },
	{ NULL, 0, 0, NULL }
};
static const struct field f_charged[] = {
	{ "type", K_TEXT, 1, NULL },
	{ "settlement", K_ID, 1, NULL },
	{ "key", K_KEY, 1, NULL },
	{ "status", K_ENUM, 1, charged_status },
	{ "amount", K_AMOUNT, 1, NULL },
	{ "currency", K_CURRENCY, 1, NULL },
	{ "gateway_id", K_TEXT_NULL, 0, NULL },
	{ "code", K_TEXT_NULL, 0, NULL },
	{ "message", K_TEXT_NULL, 0, NULL },
	{ "ts", K_TIME, 0, NULL },
	{ NULL, 0, 0, NULL }
};
static const struct field f_product[] = {
	{ "type", K_TEXT, 1, NULL },
	{ "sku", K_ID, 1, NULL },
	{ "name", K_NAME, 1, NULL },
	{ "names", K_NAMES, 0, NULL },
	{ "price", K_AMOUNT, 1, NULL },
	{ "currency", K_CURRENCY, 1, NULL },
	{ "active", K_BOOL, 0, NULL },
	{ NULL, 0, 0, NULL }
};
static const struct field f_user[] = {
	{ "type", K_TEXT, 1, NULL },
	{ "user", K_ID, 1, NULL },
	{ "name", K_NAME, 1, NULL },
	{ "cards", K_CARDS, 0, NULL },
	{ "payment", K_KEY, 0, NULL },
	{ "payment_method", K_KEY, 0, NULL },
	{ "limit", K_AMOUNT, 0, NULL },
	{ "currency", K_CURRENCY, 0, NULL },
	{ "status", K_ENUM, 0, user_status },
	{ NULL, 0, 0, NULL }
};

static const char *const type_names[MS_MSG_NTYPES] = {
	[MS_MSG_UNKNOWN] = NULL,
	[MS_MSG_IDENTIFY] = "identify", [MS_MSG_DEPART] = "depart",
	[MS_MSG_TAKE] = "take", [MS_MSG_RETURN] = "return",
	[MS_MSG_DOOR] = "door", [MS_MSG_ALARM] = "alarm",
	[MS_MSG_SESSION_END] = "session-end", [MS_MSG_QUERY] = "query",
	[MS_MSG_CART] = "cart", [MS_MSG_PAY] = "pay",
	[MS_MSG_SETTLEMENT] = "settlement", [MS_MSG_ACK] = "ack",
	[MS_MSG_ERROR] = "error", [MS_MSG_CHARGE] = "charge",
	[MS_MSG_CHARGED] = "charged", [MS_MSG_PRODUCT] = "product",
	[MS_MSG_USER] = "user", [MS_MSG_OUTCOME] = "outcome",
	[MS_MSG_RESTOCK] = "restock",
	[MS_MSG_HELLO] = "hello",
};

int
ms_id_valid(const char *s)
{
	size_t n;

	if (s == NULL || *s == '\0' || *s == '-')
		return 0;
	for (n = 0; s[n] != '\0'; n++) {
		unsigned char c = (unsigned char)s[n];

		if (n >= MS_ID_MAX)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '-' || c == '@'))
			return 0;
	}
	return 1;
}

static int
key_valid(const char *s)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if (n >= MS_KEY_MAX || s[n] <= 0x20 || s[n] >= 0x7f)
			return 0;
	return n > 0;
}

size_t
ms_utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

void
ms_utf8_cut(char *s)
{
	size_t n = strlen(s), i = n, need;
	unsigned char c;

	/* back to the start of the last character, if any */
	while (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0)
		return;
	c = (unsigned char)s[i - 1];
	need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
	if (n - (i - 1) < need)
		s[i - 1] = '\0';	/* its last bytes were cut off */
}

/*
 * Limits are in characters, not bytes: a 67-character Japanese name is
 * 201 bytes.  The JSON parser has already refused invalid UTF-8.
 */
static int
text_valid(const char *s, size_t max)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if ((unsigned char)s[n] < 0x20 || s[n] == 0x7f)
			return 0;
	return ms_utf8_chars(s) <= max;
}

static int
event_id_valid(const char *s)
{
	const char *colon = strrchr(s, ':');
	char robot[MS_ID_MAX + 1];
	size_t n;

	if (colon == NULL || (n = (size_t)(colon - s)) == 0 || n > MS_ID_MAX)
		return 0;
	memcpy(robot, s, n);
	robot[n] = '\0';
	if (!ms_id_valid(robot) || colon[1] == '\0' || colon[1] == '0')
		return 0;
	for (const char *p = colon + 1; *p; p++)
		if (*p < '0' || *p > '9' || p - colon > 16)
			return 0;
	return 1;
}

static int check_fields(const char *what, const json_t *, const struct field *,
    char *, size_t);

static int
check_value(const char *what, const struct field *f, const json_t *v,
    char *err, size_t errlen)
{
	const char *s = json_string_value(v);
	json_int_t i;
	int64_t t;
	char cerr[128];
	size_t idx;
	const json_t *e;

	switch (f->kind) {
	case K_ID_NULL:
	case K_TEXT_NULL:
	case K_CARD_NULL:
	case K_SUM:
		if (json_is_null(v))
			return 0;
		break;
	default:
		break;
	}
	switch (f->kind) {
	case K_ID:
	case K_ID_NULL:
		if (s == NULL)
			goto notstring;
		if (!ms_id_valid(s)) {
			SET_ERR("%s: field \"%s\" must be 1 to %d letters, digits "
			    "or . _ - @", what, f->name, MS_ID_MAX);
			return -1;
		}
		return 0;
	case K_TEXT:
	case K_TEXT_NULL:
	case K_NAME:
		if (s == NULL)
			goto notstring;
		if (f->kind == K_NAME && *s == '\0') {
			SET_ERR("%s: field \"%s\" must not be empty", what, f->name);
			return -1;
		}
		if (!text_valid(s, f->kind == K_NAME ? MS_NAME_MAX : MS_TEXT_MAX)) {
			SET_ERR("%s: field \"%s\" is too long or has a control "
			    "character", what, f->name);
			return -1;
		}
		return 0;
	case K_TIME:
		if (s == NULL)
			goto notstring;
		if (ms_time_parse(s, &t) == -1) {
			SET_ERR("%s: field \"%s\" must be an RFC 3339 UTC time "
			    "like 2026-11-28T11:00:00.123Z", what, f->name);
			return -1;
		}
		return 0;
	case K_CARD:
	case K_CARD_NULL:
		if (s == NULL)
			goto notstring;
		if (ms_card_valid(s, cerr, sizeof(cerr)) == -1) {
			SET_ERR("%s: field \"%s\": %s", what, f->name, cerr);
			return -1;
		}
		return 0;
	case K_CARDS:
		if (!json_is_array(v)) {
			SET_ERR("%s: field \"%s\" must be an array of card tokens",
			    what, f->name);
			return -1;
		}
		if (json_array_size(v) > MS_CARDS_MAX) {
			SET_ERR("%s: field \"%s\" has more than %d cards", what,
			    f->name, MS_CARDS_MAX);
			return -1;
		}
		json_array_foreach(v, idx, e) {
			if (!json_is_string(e) ||
			    ms_card_valid(json_string_value(e), cerr, sizeof(cerr))) {
				SET_ERR("%s: field \"%s\" item %zu: %s", what, f->name,
				    idx + 1, json_is_string(e) ? cerr :
				    "must be a string");
				return -1;
			}
		}
		return 0;
	case K_SEQ:
	case K_COUNT:
	case K_AMOUNT:
	case K_POS_AMOUNT:
	case K_SIGNED_AMOUNT:
	case K_SUM:
		if (!json_is_integer(v)) {
			SET_ERR("%s: field \"%s\" must be an integer%s", what,
			    f->name, json_is_real(v) ? " (minor units, no fraction)" : "");
			return -1;
		}
		i = json_integer_value(v);
		if (f->kind == K_SEQ && (i < 1 || i > (INT64_C(1) << 53))) {
			SET_ERR("%s: field \"%s\" must be from 1 to 2^53", what, f->name);
			return -1;
		}
		if (f->kind == K_COUNT && (i < 0 || i > (INT64_C(1) << 53))) {
			SET_ERR("%s: field \"%s\" must not be negative", what, f->name);
			return -1;
		}
		if (f->kind == K_AMOUNT && !ms_amount_valid(i)) {
			SET_ERR("%s: field \"%s\" must be from 0 to %lld (minor units)",
			    what, f->name, (long long)MS_AMOUNT_MAX);
			return -1;
		}
		if (f->kind == K_POS_AMOUNT && (i < 1 || i > MS_AMOUNT_MAX)) {
			SET_ERR("%s: field \"%s\" must be from 1 to %lld (minor units)",
			    what, f->name, (long long)MS_AMOUNT_MAX);
			return -1;
		}
		if ((f->kind == K_SIGNED_AMOUNT || f->kind == K_SUM) &&
		    (i < -MS_AMOUNT_MAX || i > MS_AMOUNT_MAX)) {
			SET_ERR("%s: field \"%s\" is out of range", what, f->name);
			return -1;
		}
		return 0;
	case K_CURRENCY:
		if (s == NULL)
			goto notstring;
		if (!ms_currency_valid(s)) {
			SET_ERR("%s: field \"%s\": \"%.8s\" is not an ISO 4217 currency "
			    "code", what, f->name, s);
			return -1;
		}
		return 0;
	case K_BOOL:
		if (!json_is_boolean(v)) {
			SET_ERR("%s: field \"%s\" must be true or false", what, f->name);
			return -1;
		}
		return 0;
	case K_KEY:
		if (s == NULL)
			goto notstring;
		if (!key_valid(s)) {
			SET_ERR("%s: field \"%s\" must be 1 to %d printable ASCII "
			    "characters without spaces", what, f->name, MS_KEY_MAX);
			return -1;
		}
		return 0;
	case K_EVENT:
		if (s == NULL)
			goto notstring;
		if (!event_id_valid(s)) {
			SET_ERR("%s: field \"%s\" must be \"robot:seq\"", what, f->name);
			return -1;
		}
		return 0;
	case K_ENUM:
		if (s == NULL)
			goto notstring;
		for (const char *const *p = f->values; *p; p++)
			if (strcmp(*p, s) == 0)
				return 0;
		SET_ERR("%s: field \"%s\" must be one of", what, f->name);
		for (const char *const *p = f->values; *p && err; p++) {
			size_t n = strlen(err);
			snprintf(err + n, errlen - n, "%s %s", p == f->values ? "" : ",", *p);
		}
		return -1;
	case K_ITEMS:
	case K_TOTALS:
		if (!json_is_array(v)) {
			SET_ERR("%s: field \"%s\" must be an array", what, f->name);
			return -1;
		}
		if (json_array_size(v) > MS_ITEMS_MAX) {
			SET_ERR("%s: field \"%s\" has too many entries", what, f->name);
			return -1;
		}
		json_array_foreach(v, idx, e) {
			char sub[64];

			snprintf(sub, sizeof(sub), "%s: %s[%zu]", what, f->name, idx);
			if (check_fields(sub, e, f->kind == K_ITEMS ? f_item : f_total,
			    err, errlen) == -1)
				return -1;
		}
		return 0;
	case K_STOCK:
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > MS_STOCK_MAX) {
			SET_ERR("%s: field \"%s\" must be a whole number of "
			    "items from 0 to %d", what, f->name, MS_STOCK_MAX);
			return -1;
		}
		return 0;
	case K_STOCK_DELTA:
		if (!json_is_integer(v) || json_integer_value(v) < -MS_STOCK_MAX ||
		    json_integer_value(v) > MS_STOCK_MAX) {
			SET_ERR("%s: field \"%s\" must be a whole number of "
			    "items from -%d to %d", what, f->name, MS_STOCK_MAX,
			    MS_STOCK_MAX);
			return -1;
		}
		return 0;
	case K_WAIT:
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > MS_WAIT_MAX) {
			SET_ERR("%s: field \"%s\" must be whole seconds from 0 "
			    "to %d", what, f->name, MS_WAIT_MAX);
			return -1;
		}
		return 0;
	case K_NAMES: {
		const char *lang;
		json_t *n;

		if (!json_is_object(v)) {
			SET_ERR("%s: field \"%s\" must be an object", what, f->name);
			return -1;
		}
		json_object_foreach((json_t *)v, lang, n) {
			size_t len = strlen(lang);

			if (len < 2 || len > 16 || strspn(lang,
			    "abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != len) {
				SET_ERR("%s: %s: \"%.20s\" is not a language tag "
				    "like ja or pt-BR", what, f->name, lang);
				return -1;
			}
			if (!json_is_string(n) || *json_string_value(n) == '\0' ||
			    !text_valid(json_string_value(n), MS_NAME_MAX)) {
				SET_ERR("%s: %s.%s must be a name: a non-empty "
				    "string, no control characters, not too long",
				    what, f->name, lang);
				return -1;
			}
		}
		return 0;
	}
	case K_CART:
		if (!json_is_object(v)) {
			SET_ERR("%s: field \"%s\" must be an object", what, f->name);
			return -1;
		}
		return ms_validate_cart(v, err, errlen);
	}
	return 0;
notstring:
	SET_ERR("%s: field \"%s\" must be a string", what, f->name);
	return -1;
}

static int
check_fields(const char *what, const json_t *obj, const struct field *fields,
    char *err, size_t errlen)
{
	const char *key;
	const json_t *v;
	const struct field *f;

	if (!json_is_object(obj)) {
		SET_ERR("%s: must be an object", what);
		return -1;
	}
	for (f = fields; f->name; f++) {
		v = json_object_get(obj, f->name);
		if (v == NULL) {
			if (f->required) {
				SET_ERR("%s: missing field \"%s\"", what, f->name);
				return -1;
			}
			continue;
		}
		if (check_value(what, f, v, err, errlen) == -1)
			return -1;
	}
	json_object_foreach((json_t *)obj, key, v) {
		for (f = fields; f->name; f++)
			if (strcmp(f->name, key) == 0)
				break;
		if (f->name == NULL) {
			SET_ERR("%s: unknown field \"%.40s\"", what, key);
			return -1;
		}
	}
	return 0;
}

static int
check_event(const char *what, const json_t *obj, const struct field *fields,
    char *err, size_t errlen)
{
	if (check_fields(what, obj, fields, err, errlen) == -1)
		return -1;
	if ((json_object_get(obj, "robot") == NULL) !=
	    (json_object_get(obj, "seq") == NULL)) {
		SET_ERR("%s: fields \"robot\" and \"seq\" go together", what);
		return -1;
	}
	return 0;
}

/* query and pay name exactly one of user and card. */
static int
check_one_of_user_card(const char *what, const json_t *obj, char *err,
    size_t errlen)
{
	int u = json_object_get(obj, "user") != NULL;
	int c = json_object_get(obj, "card") != NULL;

	if (u == c) {
		SET_ERR("%s: exactly one of \"user\" and \"card\" is needed", what);
		return -1;
	}
	return 0;
}

int ms_validate_identify(const json_t *o, char *err, size_t errlen)
{ return check_event("identify", o, f_identify, err, errlen); }
int ms_validate_depart(const json_t *o, char *err, size_t errlen)
{ return check_event("depart", o, f_depart, err, errlen); }
int ms_validate_take(const json_t *o, char *err, size_t errlen)
{ return check_event("take", o, f_take, err, errlen); }
int ms_validate_return(const json_t *o, char *err, size_t errlen)
{ return check_event("return", o, f_take, err, errlen); }
int ms_validate_door(const json_t *o, char *err, size_t errlen)
{ return check_event("door", o, f_door, err, errlen); }
int ms_validate_alarm(const json_t *o, char *err, size_t errlen)
{ return check_event("alarm", o, f_alarm, err, errlen); }
int ms_validate_session_end(const json_t *o, char *err, size_t errlen)
{ return check_event("session-end", o, f_session_end, err, errlen); }
int
ms_validate_restock(const json_t *o, char *err, size_t errlen)
{
	if (check_event("restock", o, f_restock, err, errlen) == -1)
		return -1;
	/* a level a person counted, or what the robot saw go in and out */
	if ((json_object_get(o, "count") == NULL) ==
	    (json_object_get(o, "added") == NULL)) {
		SET_ERR("restock: exactly one of \"count\" and \"added\" is "
		    "needed");
		return -1;
	}
	return 0;
}
int ms_validate_cart(const json_t *o, char *err, size_t errlen)
{ return check_fields("cart", o, f_cart, err, errlen); }
int ms_validate_settlement(const json_t *o, char *err, size_t errlen)
{ return check_fields("settlement", o, f_settlement, err, errlen); }
int ms_validate_ack(const json_t *o, char *err, size_t errlen)
{ return check_fields("ack", o, f_ack, err, errlen); }
int ms_validate_error(const json_t *o, char *err, size_t errlen)
{ return check_fields("error", o, f_error, err, errlen); }
int ms_validate_charge(const json_t *o, char *err, size_t errlen)
{ return check_fields("charge", o, f_charge, err, errlen); }
int ms_validate_charged(const json_t *o, char *err, size_t errlen)
{ return check_fields("charged", o, f_charged, err, errlen); }
int ms_validate_outcome(const json_t *o, char *err, size_t errlen)
{ return check_fields("outcome", o, f_outcome, err, errlen); }
int ms_validate_hello(const json_t *o, char *err, size_t errlen)
{ return check_fields("hello", o, f_hello, err, errlen); }
int ms_validate_product(const json_t *o, char *err, size_t errlen)
{ return check_fields("product", o, f_product, err, errlen); }

int
ms_validate_user(const json_t *o, char *err, size_t errlen)
{
	if (check_fields("user", o, f_user, err, errlen) == -1)
		return -1;
	if (json_object_get(o, "limit") && !json_object_get(o, "currency")) {
		SET_ERR("user: field \"limit\" needs \"currency\"");
		return -1;
	}
	return 0;
}

int
ms_validate_query(const json_t *o, char *err, size_t errlen)
{
	if (check_fields("query", o, f_query, err, errlen) == -1)
		return -1;
	/* a settlement's outcome, or a cart */
	if (json_object_get(o, "settlement") != NULL) {
		if (json_object_get(o, "user") || json_object_get(o, "card") ||
		    json_object_get(o, "all") || json_object_get(o, "offset")) {
			SET_ERR("query: \"settlement\" goes alone, without "
			    "\"user\", \"card\", \"all\" or \"offset\"");
			return -1;
		}
		return 0;
	}
	return check_one_of_user_card("query", o, err, errlen);
}

int
ms_validate_pay(const json_t *o, char *err, size_t errlen)
{
	if (check_fields("pay", o, f_pay, err, errlen) == -1)
		return -1;
	return check_one_of_user_card("pay", o, err, errlen);
}

enum ms_msg_type
ms_msg_type(const json_t *o)
{
	const char *t = json_string_value(json_object_get(o, "type"));

	if (t == NULL)
		return MS_MSG_UNKNOWN;
	for (int i = 1; i < MS_MSG_NTYPES; i++)
		if (strcmp(type_names[i], t) == 0)
			return (enum ms_msg_type)i;
	return MS_MSG_UNKNOWN;
}

const char *
ms_msg_type_name(enum ms_msg_type t)
{
	return t > 0 && t < MS_MSG_NTYPES ? type_names[t] : "unknown";
}

int
ms_msg_is_event(enum ms_msg_type t)
{
	return (t >= MS_MSG_IDENTIFY && t <= MS_MSG_SESSION_END) ||
	    t == MS_MSG_RESTOCK;
}

int
ms_msg_validate(const json_t *o, char *err, size_t errlen)
{
	static int (*const validators[MS_MSG_NTYPES])(const json_t *, char *, size_t) = {
		[MS_MSG_IDENTIFY] = ms_validate_identify,
		[MS_MSG_DEPART] = ms_validate_depart,
		[MS_MSG_TAKE] = ms_validate_take,
		[MS_MSG_RETURN] = ms_validate_return,
		[MS_MSG_DOOR] = ms_validate_door,
		[MS_MSG_ALARM] = ms_validate_alarm,
		[MS_MSG_SESSION_END] = ms_validate_session_end,
		[MS_MSG_QUERY] = ms_validate_query,
		[MS_MSG_CART] = ms_validate_cart,
		[MS_MSG_PAY] = ms_validate_pay,
		[MS_MSG_SETTLEMENT] = ms_validate_settlement,
		[MS_MSG_ACK] = ms_validate_ack,
		[MS_MSG_ERROR] = ms_validate_error,
		[MS_MSG_CHARGE] = ms_validate_charge,
		[MS_MSG_CHARGED] = ms_validate_charged,
		[MS_MSG_PRODUCT] = ms_validate_product,
		[MS_MSG_USER] = ms_validate_user,
		[MS_MSG_OUTCOME] = ms_validate_outcome,
		[MS_MSG_RESTOCK] = ms_validate_restock,
		[MS_MSG_HELLO] = ms_validate_hello,
	};
	const json_t *t;
	enum ms_msg_type type;

	if (!json_is_object(o)) {
		SET_ERR("expected a JSON object");
		return -1;
	}
	if ((t = json_object_get(o, "type")) == NULL) {
		SET_ERR("missing field \"type\"");
		return -1;
	}
	if (!json_is_string(t)) {
		SET_ERR("field \"type\" must be a string");
		return -1;
	}
	if ((type = ms_msg_type(o)) == MS_MSG_UNKNOWN) {
		SET_ERR("unknown message type \"%.40s\"", json_string_value(t));
		return -1;
	}
	return validators[type](o, err, errlen);
}

int
ms_event_id(const json_t *o, char *buf, size_t len)
{
	const char *robot = json_string_value(json_object_get(o, "robot"));
	const json_t *seq = json_object_get(o, "seq");
	char num[24], *q = num + sizeof(num);
	long long v;
	unsigned long long u;
	size_t rl, nl;

	if (robot == NULL || !json_is_integer(seq))
		return -1;
	/* by hand, not snprintf: every event of a batch comes here */
	v = (long long)json_integer_value(seq);
	u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do
		*--q = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--q = '-';
	rl = strlen(robot);
	nl = (size_t)(num + sizeof(num) - q);
	if (rl + 1 + nl >= len)
		return -1;
	memcpy(buf, robot, rl);
	buf[rl] = ':';
	memcpy(buf + rl + 1, q, nl);
	buf[rl + 1 + nl] = '\0';
	return 0;
}
