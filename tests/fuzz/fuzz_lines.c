/*
 * libFuzzer harness: msid's line-scanner input (-l), which turns each
 * scanned line into a "line:TEXT" card token or refuses it.
 */
#define _GNU_SOURCE
#include <sys/mman.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "msid.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct linesrc src;
	char path[64], err[256], tok[MS_CARD_MAX + 8];
	int fd, bad, rc, guard = 0;

	if ((fd = memfd_create("scanner", 0)) == -1)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (linesrc_open(&src, path, err, sizeof(err)) == 0) {
		while ((rc = linesrc_next(&src, tok, sizeof(tok), &bad)) != -1 &&
		    guard++ < 100000)
			if (rc == 1 && ms_card_valid(tok, NULL, 0) != 0)
				__builtin_trap();	/* msid must only emit valid tokens */
		linesrc_close(&src);
	}
	close(fd);
	return 0;
}
