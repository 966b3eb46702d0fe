#include "ms.h"
#include "mscart.h"

int cmd_push(int argc, char **argv) { (void)argc; (void)argv; ms_warnx("push: not yet built"); return MS_EX_FAIL; }
