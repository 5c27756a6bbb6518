/* qcow2_fuzz_replay.c - run the qcow2 fuzz target over every file of a corpus directory (gcc; a unit test). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xvm/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	struct dirent *e;
	int n = 0;
	DIR *d;

	if (argc != 2 || !(d = opendir(argv[1]))) {
		fprintf(stderr, "xvm: qcow2_fuzz_replay: usage: qcow2_fuzz_replay CORPUS_DIR\n");
		return 1;
	}
	while ((e = readdir(d))) {
		char path[4096];
		uint8_t *buf;
		size_t len;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", argv[1], e->d_name);
		if (read_file(path, 16 << 20, &buf, &len)) {
			fprintf(stderr, "xvm: qcow2_fuzz_replay: %s: cannot read\n", path);
			closedir(d);
			return 1;
		}
		LLVMFuzzerTestOneInput(buf, len);
		free(buf);
		n++;
	}
	closedir(d);
	printf("qcow2 fuzz replay: %d inputs ran cleanly\n", n);
	return n ? 0 : 1;
}
