/*
 * libFuzzer harness: msdetect's planogram parser (planogram_load) and the
 * edge-script line parser (replay_parse) shared by -r and the fake GPIO.
 */
#define _GNU_SOURCE
#include <sys/mman.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "msdetect.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct planogram pg;
	struct replay_rec rec;
	char path[64], err[256], *copy, *line, *save = NULL;
	int fd;

	if ((fd = memfd_create("planogram", 0)) == -1)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (planogram_load(path, &pg) == 0)
			for (size_t i = 0; i < pg.n; i++)
				(void)planogram_find(&pg, pg.lines[i].offset);
	}
	close(fd);

	if ((copy = malloc(size + 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		(void)replay_parse(line, &rec, err, sizeof(err));
	free(copy);
	return 0;
}
