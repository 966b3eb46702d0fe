/*
 * roles.c: the role a connection speaks in (admin, robot:ID, terminal:USER),
 * from serve's --role or the admin commands, and the "who" it leaves in
 * the audit trail: robot:ID and terminal:USER as they are, an admin as
 * admin:COMMAND@LOGIN (the mscart command, serve for serve --role admin;
 * the login from USER, left out when USER is not set or not an id).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"

int
role_parse(const char *s, struct role *r)
{
	memset(r, 0, sizeof(*r));
	if (strcmp(s, "admin") == 0) {
		/* as every admin command says who: admin:serve@LOGIN */
		role_admin(r, "serve");
		return 0;
	}
	if (strncmp(s, "robot:", 6) == 0 && ms_id_valid(s + 6)) {
		r->kind = ROLE_ROBOT;
		snprintf(r->id, sizeof(r->id), "%s", s + 6);
	} else if (strncmp(s, "terminal:", 9) == 0 && ms_id_valid(s + 9)) {
		r->kind = ROLE_TERMINAL;
		snprintf(r->id, sizeof(r->id), "%s", s + 9);
	} else
		return -1;
	snprintf(r->who, sizeof(r->who), "%s", s);
	return 0;
}

void
role_admin(struct role *r, const char *how)
{
	const char *u = getenv("USER");

	memset(r, 0, sizeof(*r));
	r->kind = ROLE_ADMIN;
	snprintf(r->who, sizeof(r->who), "admin:%s%s%s", how,
	    u && ms_id_valid(u) ? "@" : "", u && ms_id_valid(u) ? u : "");
}
