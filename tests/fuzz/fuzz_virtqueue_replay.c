/* fuzz_virtqueue_replay.c - run the virtqueue fuzz target over corpus files or directories (any compiler; a unit test). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "xvm/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feed one file to the target. 0 or a negative errno. */
static int replay_file(const char *path)
{
	uint8_t *buf;
	size_t len;
	int rc = read_file(path, 1 << 20, &buf, &len);

	if (rc)
		return rc;
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

/* Feed every regular file of a directory. Count of files or a negative errno. */
static int replay_dir(const char *dir)
{
	struct dirent *d;
	DIR *dp = opendir(dir);
	char path[4096];
	int n = 0, rc;

	if (!dp)
		return -1;
	while ((d = readdir(dp))) {
		struct stat st;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		if (stat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		rc = replay_file(path);
		if (rc) {
			closedir(dp);
			return rc;
		}
		n++;
	}
	closedir(dp);
	return n;
}

int main(int argc, char **argv)
{
	int n = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		int rc;

		if (stat(argv[i], &st)) {
			fprintf(stderr, "xvm: fuzz_virtqueue_replay: %s: no such file\n", argv[i]);
			return 1;
		}
		rc = S_ISDIR(st.st_mode) ? replay_dir(argv[i]) : (replay_file(argv[i]) ? -1 : 1);
		if (rc < 0) {
			fprintf(stderr, "xvm: fuzz_virtqueue_replay: %s: cannot read\n", argv[i]);
			return 1;
		}
		n += rc;
	}
	printf("virtqueue fuzz replay: %d inputs ran cleanly\n", n);
	return n ? 0 : 1;
}
