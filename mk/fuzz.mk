# libFuzzer harnesses (clang), built apart from the normal build.
# make fuzz [FUZZ_SECONDS=60]: run each for that long from tests/fuzz/corpus.
FUZZ_CC ?= clang
FUZZ_DIR := build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-std=c11 -D_XOPEN_SOURCE=700 -D_DEFAULT_SOURCE -Isrc/lib
# the harnesses parse; the ledger environment (libdb) is not theirs
FUZZ_LIB := $(filter-out src/lib/dbenv.c src/lib/dbrep.c,$(LIB_SRCS))
FUZZ_LIBS := $(JANSSON_LIBS) $(CRYPTO_LIBS)
FUZZERS := ndjson planogram lines gateway conf

fuzz_srcs_ndjson :=
fuzz_srcs_planogram := src/msdetect/planogram.c src/msdetect/replay.c
fuzz_cflags_planogram := -Isrc/msdetect
fuzz_srcs_lines := src/msid/lines.c
fuzz_cflags_lines := -Isrc/msid $(NFC_CFLAGS)
fuzz_srcs_gateway := src/mspay/gateway.c
fuzz_cflags_gateway := -Isrc/mspay

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB) src/lib/ms.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(fuzz_cflags_$*) -o $@ $< $(fuzz_srcs_$*) $(FUZZ_LIB) $(FUZZ_LIBS)

fuzz-build: $(addprefix $(FUZZ_DIR)/fuzz_,$(FUZZERS))

# Each fuzzer works on a scratch copy of its seed corpus, so runs do not
# grow the tree; a crash leaves its input in build-fuzz/ and fails make.
fuzz: deps-quiet fuzz-build
	@set -e; for f in $(FUZZERS); do \
		rm -rf $(FUZZ_DIR)/corpus-$$f; mkdir -p $(FUZZ_DIR)/corpus-$$f; \
		cp tests/fuzz/corpus/$$f/* $(FUZZ_DIR)/corpus-$$f/; \
		echo "fuzz: $$f for $(FUZZ_SECONDS) s"; \
		ASAN_OPTIONS=detect_leaks=1 $(FUZZ_DIR)/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) \
		    -max_len=8192 -timeout=10 -artifact_prefix=$(FUZZ_DIR)/crash-$$f- \
		    -print_final_stats=1 $(FUZZ_DIR)/corpus-$$f >$(FUZZ_DIR)/$$f.log 2>&1 || \
		    { tail -40 $(FUZZ_DIR)/$$f.log; echo "fuzz: $$f FAILED"; exit 1; }; \
		grep -E '^stat::number_of_executed_units' $(FUZZ_DIR)/$$f.log | sed "s/^/fuzz: $$f /"; \
	done; echo "fuzz: all harnesses ran clean"

.PHONY: fuzz fuzz-build
