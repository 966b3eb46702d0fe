#!/bin/sh
# mk/config.sh: print the make variables that come from the installed
# libraries (pkg-config), for the Makefile's generated $(BUILD)/config.mk.
# It runs after make deps, never when the Makefile is first read, so a
# pristine machine gets real flags on its very first make.
set -u
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
fail=0
pc() {
	"$PKG_CONFIG" "$@" 2>/dev/null || {
		echo "config: pkg-config $* failed (run: make deps)" >&2
		fail=1
	}
}
cat <<MK
# Made by mk/config.sh after make deps; make clean removes it.
JANSSON_LIBS := $(pc --libs jansson)
CRYPTO_LIBS := $(pc --libs libcrypto)
ZLIB_CFLAGS := $(pc --cflags zlib)
ZLIB_LIBS := $(pc --libs zlib)
NFC_CFLAGS := $(pc --cflags libnfc)
NFC_LIBS := $(pc --libs libnfc)
CURL_CFLAGS := $(pc --cflags libcurl)
CURL_LIBS := $(pc --libs libcurl)
GPIOD_CFLAGS := $(pc --cflags libgpiod)
GPIOD_LIBS := $(pc --libs libgpiod)
GPIOD_VERSION := $(pc --modversion libgpiod)
MK
# The other libgpiod API, which make deps unpacked beside the build (a
# package build does without it: it only builds msdetect's other backend
# for the tests).
other=build/gpiod-other
if [ -s "$other/version" ]; then
	lib=$(dirname "$(find "$other/usr/lib" -name 'libgpiod.so' | head -1)")
	cat <<MK
GPIOD_OTHER_VERSION := $(cat "$other/version")
GPIOD_OTHER_CFLAGS := -I\$(CURDIR)/$other/usr/include
GPIOD_OTHER_LIBS := -L\$(CURDIR)/$lib -Wl,-rpath,\$(CURDIR)/$lib -lgpiod
MK
fi
exit $fail
