/* store_fuzz_replay.c - run the store fuzz target over corpus files or directories (any compiler; a unit test). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "xvm/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* feed one file to the target; 0 or -1 when it cannot be read */
static int replay_file(const char *path)
{
	uint8_t *buf;
	size_t len;

	if (read_file(path, 1 << 20, &buf, &len)) {
		fprintf(stderr, "xvm: store_fuzz_replay: %s: cannot read\n", path);
		return -1;
	}
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

/* every regular file in dir; returns how many, or -1 */
static int replay_dir(const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d) {
		fprintf(stderr, "xvm: store_fuzz_replay: %s: cannot open\n", dir);
		return -1;
	}
	while ((e = readdir(d))) {
		char path[4096];
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		if (replay_file(path)) {
			n = -1;
			break;
		}
		n++;
	}
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	int n = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		int k;

		if (stat(argv[i], &st)) {
			fprintf(stderr, "xvm: store_fuzz_replay: %s: no such file\n", argv[i]);
			return 1;
		}
		k = S_ISDIR(st.st_mode) ? replay_dir(argv[i]) : replay_file(argv[i]) ? -1 : 1;
		if (k < 0)
			return 1;
		n += k;
	}
	printf("store fuzz replay: %d inputs ran cleanly\n", n);
	return n ? 0 : 1;
}
