/*
 * dispatch.c: which handler a message goes to, and how a handler refuses a
 * line: the error reply it gets instead of an answer.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"

json_t *
error_reply(const json_t *msg, const char *code, const char *source,
    unsigned long line, const char *event, const char *text)
{
	json_t *e = json_object();
	const char *id = msg ? str(msg, "id") : NULL;
	char buf[MS_TEXT_MAX + 1];

	snprintf(buf, sizeof(buf), "%s", text);
	ms_utf8_cut(buf);	/* a cut character would not be a JSON string */
	json_object_set_new(e, "type", json_string("error"));
	if (id != NULL && ms_id_valid(id))
		json_object_set_new(e, "id", json_string(id));
	json_object_set_new(e, "code", json_string(code));
	json_object_set_new(e, "message", json_string(buf));
	json_object_set_new(e, "source", json_string(source));
	json_object_set_new(e, "line", json_integer((json_int_t)line));
	if (event != NULL && *event != '\0')
		json_object_set_new(e, "event", json_string(event));
	return e;
}

int
refuse(struct ctx *c, const char *code, const char *fmt, ...)
{
	char text[MS_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	ms_utf8_cut(text);
	json_decref(c->reply);
	c->reply = error_reply(c->msg, code, c->source, c->line, c->event, text);
	c->refused = 1;
	if (strcmp(code, "forbidden") == 0)
		c->forbidden = 1;
	return 0;
}

#define FORBIDDEN_EXCERPT	200	/* characters of the line kept */
#define FORBIDDEN_BURST		100	/* records before the rate limit */

int
audit_forbidden(struct ctx *c)
{
	/* per process: one serve is one login */
	static unsigned long recorded, skipped;
	static int64_t last_ms;
	char excerpt[FORBIDDEN_EXCERPT * 4 + 1];
	const char *p;
	size_t n, chars;
	char *line;
	json_t *d;
	int64_t now = ms_mono_ms();

	if (recorded >= FORBIDDEN_BURST && now - last_ms < 1000) {
		skipped++;
		return 0;
	}
	if ((line = json_dumps(c->msg, JSON_COMPACT | JSON_PRESERVE_ORDER)) ==
	    NULL)
		return ENOMEM;
	/* the first FORBIDDEN_EXCERPT characters, whole ones */
	for (p = line, chars = 0; *p != '\0' && chars < FORBIDDEN_EXCERPT; p++)
		if (((unsigned char)p[1] & 0xc0) != 0x80)
			chars++;
	n = (size_t)(p - line);
	memcpy(excerpt, line, n);
	excerpt[n] = '\0';
	d = json_pack("{s:s,s:s,s:I,s:O}", "type",
	    ms_msg_type_name(ms_msg_type(c->msg)), "excerpt", excerpt, "bytes",
	    (json_int_t)strlen(line), "reason",
	    json_object_get(c->reply, "message"));
	free(line);
	if (d == NULL)
		return ENOMEM;
	if (skipped > 0)
		json_object_set_new(d, "not_recorded", json_integer(
		    (json_int_t)skipped));
	recorded++;
	skipped = 0;
	last_ms = now;
	return audit_add(c->st, c->txn, c->role->who, "forbidden", d);
}

/* ----- dispatch ----- */

int
dispatch(struct ctx *c, enum ms_msg_type type)
{
	if (ms_msg_is_event(type))
		return apply_event(c, type);
	switch (type) {
	case MS_MSG_QUERY:
		return apply_query(c);
	case MS_MSG_PAY:
		return apply_pay(c);
	case MS_MSG_HELLO:
		return apply_hello(c);
	case MS_MSG_PRODUCT:
	case MS_MSG_USER:
	case MS_MSG_CHARGED:
		if (c->role->kind != ROLE_ADMIN)
			return refuse(c, "forbidden", "%s: role %s may not send "
			    "%s records", ms_msg_type_name(type), c->role->who,
			    ms_msg_type_name(type));
		return type == MS_MSG_PRODUCT ? apply_product(c) :
		    type == MS_MSG_USER ? apply_user(c) : apply_charged(c);
	default:
		return refuse(c, "invalid", "%s: a reply, not a request",
		    ms_msg_type_name(type));
	}
}
