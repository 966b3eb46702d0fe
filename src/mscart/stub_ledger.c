/* Placeholders until the ledger commands land. */
#include "ms.h"
#include "mscart.h"

int cmd_apply(int argc, char **argv) { (void)argc; (void)argv; ms_warnx("apply: not yet built"); return MS_EX_FAIL; }
int cmd_serve(int argc, char **argv) { (void)argc; (void)argv; ms_warnx("serve: not yet built"); return MS_EX_FAIL; }
