#include "ms.h"
#include "mscart.h"

int cmd_record(int argc, char **argv) { (void)argc; (void)argv; ms_warnx("record: not yet built"); return MS_EX_FAIL; }
