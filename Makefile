# ms: the mobile-sales toolkit.  One Makefile, no autotools.
# Tools add their extra build rules (test helpers, emulators) in mk/*.mk.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
LIBEXECDIR ?= $(PREFIX)/libexec
DESTDIR ?=

CC ?= cc
CFLAGS ?= -O2 -g
PKG_CONFIG ?= pkg-config

ifeq ($(SANITIZE),1)
BUILD := build-san
BINOUT := build-san/bin
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD := build
BINOUT := bin
SANFLAGS :=
endif

.DEFAULT_GOAL := all

# Forced on whatever CFLAGS says.
MS_CFLAGS := -std=c11 -D_XOPEN_SOURCE=700 -D_DEFAULT_SOURCE -Wall -Wextra -Isrc/lib $(SANFLAGS)
MS_LDFLAGS := $(SANFLAGS)

# The libraries' flags come from pkg-config, asked only after make deps
# has installed it and them: $(BUILD)/config.mk is made by mk/config.sh
# in a rule that runs make deps first, and make reads it on a restart.
# Goals that build nothing do not need it.
NOCONFIG_GOALS := clean deps lint uninstall
ifneq ($(filter-out $(NOCONFIG_GOALS),$(or $(MAKECMDGOALS),all)),)
include $(BUILD)/config.mk
endif

$(BUILD)/config.mk: mk/config.sh mk/deps.sh mk/gpiod-other.sh
	@$(DEPS_QUIET)
	@mkdir -p $(@D)
	@PKG_CONFIG=$(PKG_CONFIG) sh mk/config.sh >$@.tmp && mv $@.tmp $@

DB_LIBS := -ldb-5.3

TOOLS := msid msdetect mscart mspay msscreen
PROGS := $(addprefix $(BINOUT)/,$(TOOLS))
MANS := $(wildcard man/*.[1-8])

LIB_SRCS := $(wildcard src/lib/*.c)
LIB_OBJS := $(LIB_SRCS:src/%.c=$(BUILD)/obj/%.o)
LIBMS := $(BUILD)/libms.a

# msdetect has one GPIO backend per libgpiod API; the one for the API
# this machine's libgpiod has goes into bin/msdetect, and mk/msdetect.mk
# builds the other against the libgpiod that make deps unpacked.
GPIOD_API := $(if $(filter 1.%,$(GPIOD_VERSION)),1,2)
GPIOD_OTHER_API := $(if $(filter 1,$(GPIOD_API)),2,1)
skip_msdetect := src/msdetect/gpio_v$(GPIOD_OTHER_API).c

# Per-tool objects and libraries.
objs_of = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(filter-out $(skip_$(1)),$(wildcard src/$(1)/*.c src/$(1)/*/*.c)))
msid_LIBS := $(NFC_LIBS) $(JANSSON_LIBS) $(CRYPTO_LIBS)
msdetect_LIBS := $(GPIOD_LIBS) $(JANSSON_LIBS) $(CRYPTO_LIBS)
mscart_LIBS := $(DB_LIBS) $(JANSSON_LIBS) $(CRYPTO_LIBS) $(ZLIB_LIBS) -pthread
mspay_LIBS := $(CURL_LIBS) $(JANSSON_LIBS) $(CRYPTO_LIBS) -lm
msscreen_LIBS := $(JANSSON_LIBS) $(CRYPTO_LIBS)
msid_CFLAGS := $(NFC_CFLAGS)
msdetect_CFLAGS := $(GPIOD_CFLAGS)
mspay_CFLAGS := $(CURL_CFLAGS)
mscart_CFLAGS := $(ZLIB_CFLAGS)

# Test helpers (emulators, fake libraries, unit tests) that mk/*.mk add.
TEST_PROGS :=

.PHONY: all deps check test bench demo fuzz install uninstall clean lint

all: deps-quiet $(PROGS)

# Install what is missing (a no-op when everything is there).  A package
# build, whose build dependencies are already there, says MS_DEPS=no.
DEPS_QUIET := $(if $(filter no,$(MS_DEPS)),:,sh mk/deps.sh -q)
deps:
	@sh mk/deps.sh

deps-quiet:
	@$(DEPS_QUIET)

$(BUILD)/obj/%.o: src/%.c src/lib/ms.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(MS_CFLAGS) $($(word 1,$(subst /, ,$*))_CFLAGS) -MMD -MP -c -o $@ $<

$(LIBMS): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJS)

define tool_rule
$(BINOUT)/$(1): $(call objs_of,$(1)) $(LIBMS)
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $$(MS_LDFLAGS) $$(LDFLAGS) -o $$@ $(call objs_of,$(1)) $$(LIBMS) $$($(1)_LIBS)
endef
$(foreach t,$(TOOLS),$(eval $(call tool_rule,$(t))))

-include mk/*.mk
-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# make check: every test, with prove.  SANITIZE=1 runs the same suite on
# a separate ASan+UBSan build.
check: deps-quiet $(PROGS) $(TEST_PROGS)
	MS_BIN=$(CURDIR)/$(BINOUT) MS_BUILD=$(CURDIR)/$(BUILD) MS_TOP=$(CURDIR) \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	prove -r $(PROVEFLAGS) $(if $(TESTS),$(TESTS),tests)

test: check

bench: deps-quiet $(PROGS) $(TEST_PROGS)
	MS_BIN=$(CURDIR)/$(BINOUT) MS_BUILD=$(CURDIR)/$(BUILD) MS_TOP=$(CURDIR) sh bench/run

demo: deps-quiet $(PROGS) $(TEST_PROGS)
	MS_BIN=$(CURDIR)/$(BINOUT) MS_BUILD=$(CURDIR)/$(BUILD) MS_TOP=$(CURDIR) sh demo/run

lint:
	mandoc -Tlint -W warning $(MANS)

# contrib/ms-notify is what contrib/ms-notify@.service runs
# (/usr/libexec/ms/ms-notify with PREFIX=/usr, as the package has it).
install: $(PROGS)
	install -d $(DESTDIR)$(BINDIR)
	install -m 755 $(PROGS) $(DESTDIR)$(BINDIR)
	install -d $(DESTDIR)$(LIBEXECDIR)/ms
	install -m 755 contrib/ms-notify $(DESTDIR)$(LIBEXECDIR)/ms
	for m in $(MANS); do \
		s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; \
		install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s; \
	done

uninstall:
	for t in $(TOOLS); do rm -f $(DESTDIR)$(BINDIR)/$$t; done
	rm -f $(DESTDIR)$(LIBEXECDIR)/ms/ms-notify
	rmdir $(DESTDIR)$(LIBEXECDIR)/ms 2>/dev/null || true
	for m in $(MANS); do \
		s=$${m##*.}; rm -f $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; \
	done

clean:
	rm -rf build build-san build-fuzz bin
