/*
 * libFuzzer harness: the NDJSON reader and the message validator, as
 * every ms tool runs them on untrusted input.  The input is written to a
 * pipe-like file and read back line by line with a small maximum line
 * length, so oversized-line handling is exercised too.
 */
#define _GNU_SOURCE
#include <sys/mman.h>

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "ms.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_reader r;
	char err[512], id[128];
	json_t *j;
	int fd, rc;

	if ((fd = memfd_create("ndjson", 0)) == -1)
		return 0;
	if (write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return 0;
	}
	ms_reader_init(&r, fd, "fuzz");
	r.maxlen = 4096;
	while ((rc = ms_reader_next(&r, 0, &j, err, sizeof(err))) != MS_READ_EOF &&
	    rc != MS_READ_ERROR) {
		if (rc != MS_READ_LINE)
			continue;
		if (ms_msg_validate(j, err, sizeof(err)) == 0) {
			(void)ms_event_id(j, id, sizeof(id));
			(void)ms_msg_is_event(ms_msg_type(j));
		}
		json_decref(j);
	}
	ms_reader_free(&r);
	close(fd);
	return 0;
}
