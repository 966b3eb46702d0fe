/*
 * msvalidate: check NDJSON messages against ms-events(5), the way every
 * ms tool reads them.  Prints "ok TYPE" or "bad: REASON" per line on
 * stdout, the diagnostic on stderr, and exits 1 if any line was bad.
 * A test helper (and handy by hand); not installed.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ms.h"

static int
check(int fd, const char *source)
{
	struct ms_reader r;
	char err[512];
	json_t *j;
	int rc, bad = 0;

	ms_reader_init(&r, fd, source);
	while ((rc = ms_reader_next(&r, 0, &j, err, sizeof(err))) != MS_READ_EOF) {
		if (rc == MS_READ_ERROR) {
			ms_warn_at(source, r.lineno, "%s", err);
			bad = 1;
			break;
		}
		if (rc == MS_READ_LINE && ms_msg_validate(j, err, sizeof(err)) == 0) {
			printf("ok %s\n", ms_msg_type_name(ms_msg_type(j)));
		} else {
			printf("bad: %s:%lu: %s\n", source, r.lineno, err);
			ms_warn_at(source, r.lineno, "%s", err);
			bad = 1;
		}
		json_decref(j);
	}
	ms_reader_free(&r);
	return bad;
}

int
main(int argc, char *argv[])
{
	int bad = 0, fd;

	ms_setprog(argv[0]);
	ms_sig_install(0);
	if (argc < 2)
		bad |= check(0, "-");
	for (int i = 1; i < argc; i++) {
		if ((fd = open(argv[i], O_RDONLY)) == -1) {
			ms_warn("%s", argv[i]);
			bad = 1;
			continue;
		}
		bad |= check(fd, argv[i]);
		close(fd);
	}
	if (ms_close_stdout() == -1)
		bad = 1;
	return bad ? MS_EX_FAIL : MS_EX_OK;
}
