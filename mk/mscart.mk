# mscart's test helper: diewrite.so, LD_PRELOADed into a process that
# must be killed while it holds Berkeley DB's log mutex (tests/sync-watchdog.t).
DIEWRITE := $(BUILD)/tests/diewrite.so

$(DIEWRITE): tests/lib/diewrite.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Wall -Wextra -fPIC -shared -o $@ $< -ldl

TEST_PROGS += $(DIEWRITE)
