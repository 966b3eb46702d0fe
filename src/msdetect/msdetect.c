/* msdetect: placeholder until its issue lands. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ms.h"

static void
usage(void)
{
	fprintf(stderr, "usage: msdetect [-h]\n");
}

int
main(int argc, char *argv[])
{
	int ch;

	ms_setprog(argv[0]);
	while ((ch = getopt(argc, argv, "h")) != -1) {
		switch (ch) {
		case 'h':
			usage();
			return MS_EX_OK;
		default:
			usage();
			return MS_EX_USAGE;
		}
	}
	ms_warnx("not yet built");
	return MS_EX_FAIL;
}
