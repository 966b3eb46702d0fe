/* cmd_admin.c: placeholder */
#include "ms.h"
#include "mscart.h"
#define STUB(f) int f(int argc, char **argv) { (void)argc; (void)argv; ms_warnx("not yet built"); return MS_EX_FAIL; }
STUB(cmd_due) STUB(cmd_show) STUB(cmd_void) STUB(cmd_refund) STUB(cmd_report) STUB(cmd_log) STUB(cmd_backup) STUB(cmd_verify)
