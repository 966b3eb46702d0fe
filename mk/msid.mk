# msid: the PN532 emulator, as a library for tests and as a tool
# (pn532emu) for tests, benchmarks and make demo.
PN532EMU_HDR := tests/pn532emu/pn532emu.h
PN532EMU_LIB := $(BUILD)/tests/libpn532emu.a

$(BUILD)/tests/pn532emu.o: tests/pn532emu/pn532emu.c $(PN532EMU_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(MS_CFLAGS) -c -o $@ tests/pn532emu/pn532emu.c

$(BUILD)/tests/pn532emu_main.o: tests/pn532emu/main.c $(PN532EMU_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(MS_CFLAGS) -c -o $@ tests/pn532emu/main.c

$(PN532EMU_LIB): $(BUILD)/tests/pn532emu.o
	rm -f $@
	$(AR) rcs $@ $(BUILD)/tests/pn532emu.o

$(BUILD)/tests/pn532emu: $(BUILD)/tests/pn532emu_main.o $(PN532EMU_LIB)
	$(CC) $(CFLAGS) $(MS_LDFLAGS) $(LDFLAGS) -o $@ $(BUILD)/tests/pn532emu_main.o $(PN532EMU_LIB)

TEST_PROGS += $(PN532EMU_LIB) $(BUILD)/tests/pn532emu
