# msdetect's test helper: a fake libgpiod v1 (tests/fakegpiod.c), used
# with LD_PRELOAD over the real libgpiod.
FAKEGPIOD := $(BUILD)/fakegpiod.so

$(FAKEGPIOD): tests/fakegpiod.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(MS_CFLAGS) $(GPIOD_CFLAGS) -fPIC -shared -pthread \
	    -o $@ tests/fakegpiod.c $(MS_LDFLAGS)

TEST_PROGS += $(FAKEGPIOD)
