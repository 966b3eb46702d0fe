# msdetect for both libgpiod APIs, and its test helpers.
#
# bin/msdetect is built by the Makefile against this machine's libgpiod
# (API $(GPIOD_API)).  Here: the same msdetect for the other API,
# $(BUILD)/gpiod-v$(GPIOD_OTHER_API)/msdetect, from the other backend
# (src/msdetect/gpio_v$(GPIOD_OTHER_API).c) and the libgpiod make deps
# unpacked ($(GPIOD_OTHER_CFLAGS), $(GPIOD_OTHER_LIBS)); and a fake
# libgpiod for each API, used with LD_PRELOAD over the real one:
# $(BUILD)/fakegpiod-v1.so (tests/fakegpiod.c) and fakegpiod-v2.so
# (tests/fakegpiod2.c), over one kernel (tests/fakegpiod_core.c).
# $(BUILD)/fakegpiod.so is the one for this machine's API, for bin/msdetect
# (demo/run, tests/e2e, bench).  A build without the other libgpiod (a
# package build, GPIOD_OTHER_VERSION empty) leaves out the other API's
# helpers; the tests that need them then fail saying so.

fakegpiod_src_1 := tests/fakegpiod.c
fakegpiod_src_2 := tests/fakegpiod2.c
# The fakes read their scripts with msdetect's own parser (replay.c, which
# needs ms_parse_long from diag.c); only the EXPORTed names are visible.
FAKEGPIOD_COMMON := tests/fakegpiod_core.c src/msdetect/replay.c src/lib/diag.c
FAKEGPIOD_DEPS := $(FAKEGPIOD_COMMON) tests/fakegpiod_core.h \
	src/msdetect/msdetect.h src/msdetect/gpio.h src/lib/ms.h

# fakegpiod_rule API CFLAGS: $(BUILD)/fakegpiod-vAPI.so
define fakegpiod_rule
$(BUILD)/fakegpiod-v$(1).so: $(fakegpiod_src_$(1)) $(FAKEGPIOD_DEPS)
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $$(MS_CFLAGS) $(2) -Isrc/msdetect -Itests -fPIC -shared \
	    -fvisibility=hidden -pthread -o $$@ $(fakegpiod_src_$(1)) \
	    $$(FAKEGPIOD_COMMON) $$(MS_LDFLAGS)
endef
$(eval $(call fakegpiod_rule,$(GPIOD_API),$$(GPIOD_CFLAGS)))

$(BUILD)/fakegpiod.so: $(BUILD)/fakegpiod-v$(GPIOD_API).so
	cp $< $@

TEST_PROGS += $(BUILD)/fakegpiod.so $(BUILD)/fakegpiod-v$(GPIOD_API).so

ifneq ($(GPIOD_OTHER_VERSION),)
$(eval $(call fakegpiod_rule,$(GPIOD_OTHER_API),$$(GPIOD_OTHER_CFLAGS)))

MSDETECT_OTHER := $(BUILD)/gpiod-v$(GPIOD_OTHER_API)/msdetect
msdetect_other_backend := $(BUILD)/gpiod-v$(GPIOD_OTHER_API)/gpio_v$(GPIOD_OTHER_API).o
# bin/msdetect's objects but its backend
msdetect_other_objs := $(filter-out %/gpio_v$(GPIOD_API).o,$(call objs_of,msdetect)) \
	$(msdetect_other_backend)

$(msdetect_other_backend): src/msdetect/gpio_v$(GPIOD_OTHER_API).c \
    src/msdetect/gpio.h src/lib/ms.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(MS_CFLAGS) $(GPIOD_OTHER_CFLAGS) -c -o $@ $<

$(MSDETECT_OTHER): $(msdetect_other_objs) $(LIBMS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(MS_LDFLAGS) $(LDFLAGS) -o $@ $(msdetect_other_objs) \
	    $(LIBMS) $(GPIOD_OTHER_LIBS) $(JANSSON_LIBS) $(CRYPTO_LIBS)

TEST_PROGS += $(BUILD)/fakegpiod-v$(GPIOD_OTHER_API).so $(MSDETECT_OTHER)
endif
