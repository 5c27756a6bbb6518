/* store_fuzz.c - libFuzzer target for xvmstored's message parser and dispatch (bytes in as one client).
 *
 * The first input byte picks the connection: even = privileged (dom0),
 * odd = unprivileged domain (byte >> 1). The rest is fed to the daemon as
 * a byte stream, exactly as read() would deliver it; a fresh store (memory
 * only, no data file) per input keeps runs reproducible. Build: clang -fsanitize=fuzzer (meson
 * does this when the compiler is clang); store_fuzz_replay.c replays a
 * corpus with any compiler. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "store/daemon.h"
#include "xvm/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store s;
	struct store_conn *c, *peer;

	if (size < 1)
		return 0;
	log_set_level(LOG_ERR); /* closing a bad connection logs a warning */
	if (store_init(&s, NULL)) {
		store_fini(&s);
		return 0;
	}
	/* a watcher, so watch events are generated and delivered too */
	peer = store_conn_detached(&s, true, 0);
	c = store_conn_detached(&s, (data[0] & 1) == 0, data[0] >> 1);
	if (peer && c) {
		static const uint8_t watch[] = { XS_WATCH, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
						 4, 0, 0, 0, '/', 0, 't', 0 };

		store_feed(&s, peer, watch, sizeof(watch));
		store_feed(&s, c, data + 1, size - 1);
		persist_commit(s.db);
	}
	store_fini(&s);
	return 0;
}
