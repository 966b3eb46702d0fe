/* version.c: --version, the same for every program. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms.h"
#include "version.h"

void
ms_version_option(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--version") != 0)
		return;
	printf("%s %s\n", ms_prog, MS_VERSION);
	exit(ms_close_stdout() == 0 ? MS_EX_OK : MS_EX_FAIL);
}
