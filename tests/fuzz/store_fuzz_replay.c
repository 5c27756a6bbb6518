/* store_fuzz_replay.c - run the store fuzz target over corpus files (works with gcc; used as a test). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "xvm/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	int n = 0;

	for (int i = 1; i < argc; i++) {
		uint8_t *buf;
		size_t len;

		if (read_file(argv[i], 1 << 20, &buf, &len)) {
			fprintf(stderr, "xvm: store_fuzz_replay: %s: cannot read\n", argv[i]);
			return 1;
		}
		LLVMFuzzerTestOneInput(buf, len);
		free(buf);
		n++;
	}
	printf("store fuzz replay: %d inputs ran cleanly\n", n);
	return n ? 0 : 1;
}
