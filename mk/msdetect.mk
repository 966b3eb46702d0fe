# msdetect's test helper: a fake libgpiod v1 (tests/fakegpiod.c), used
# with LD_PRELOAD over the real libgpiod.
FAKEGPIOD := $(BUILD)/fakegpiod.so

# It reads its scripts with msdetect's own parser (replay.c, which needs
# ms_parse_long from diag.c); only the EXPORTed libgpiod names are visible.
FAKEGPIOD_SRCS := tests/fakegpiod.c src/msdetect/replay.c src/lib/diag.c

$(FAKEGPIOD): $(FAKEGPIOD_SRCS) src/msdetect/msdetect.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(MS_CFLAGS) $(GPIOD_CFLAGS) -Isrc/msdetect -fPIC -shared \
	    -fvisibility=hidden -pthread -o $@ $(FAKEGPIOD_SRCS) $(MS_LDFLAGS)

TEST_PROGS += $(FAKEGPIOD)
