# Test helpers for libms: the validator CLI and the C unit tests.
$(BUILD)/tests/msvalidate: tests/lib/msvalidate.c $(LIBMS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(MS_CFLAGS) $(MS_LDFLAGS) -o $@ $< $(LIBMS) $(JANSSON_LIBS) $(CRYPTO_LIBS)

$(BUILD)/tests/libms_test: tests/lib/libms_test.c $(LIBMS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(MS_CFLAGS) $(MS_LDFLAGS) -o $@ $< $(LIBMS) $(JANSSON_LIBS) $(CRYPTO_LIBS)

TEST_PROGS += $(BUILD)/tests/msvalidate $(BUILD)/tests/libms_test
