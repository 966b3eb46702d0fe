# make bench's own programs: the peers bench/*.sh measure ours against.
# bench/sqlite_peer.c is the ledger's ingest written on the sqlite3
# library (bench/mscart.sh); it is built only for make bench.
SQLITE_LIBS := -lsqlite3
BENCH_PROGS := $(BUILD)/bench/sqlite_peer

$(BUILD)/bench/sqlite_peer: bench/sqlite_peer.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -std=c11 -D_XOPEN_SOURCE=700 -D_DEFAULT_SOURCE -Wall -Wextra \
	    $(LDFLAGS) -o $@ $< $(SQLITE_LIBS) $(JANSSON_LIBS)

bench: $(BENCH_PROGS)
