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
