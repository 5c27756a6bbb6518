/* pread.c - bench reference: the host's own read rate on an image file, the
 * limit a VMM's virtio-blk can approach on this machine.
 *
 * usage: bench-pread FILE rand|seq BS N
 * Prints "iops=X mib_s=Y". Buffered reads (the page cache, as xvm and QEMU
 * with cache=writeback use it); random offsets are BS-aligned. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	uint64_t rnd = 88172645463325252ULL, off = 0, blocks;
	struct stat st;
	long bs, n;
	char *buf;
	double s;
	int fd;

	if (argc != 5 || (strcmp(argv[2], "rand") && strcmp(argv[2], "seq"))) {
		fprintf(stderr, "usage: bench-pread FILE rand|seq BS N\n");
		return 2;
	}
	bs = atol(argv[3]);
	n = atol(argv[4]);
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0 || bs <= 0 || n <= 0 || st.st_size < bs) {
		perror(argv[1]);
		return 1;
	}
	buf = aligned_alloc(4096, (size_t)((bs + 4095) & ~4095L));
	blocks = (uint64_t)st.st_size / (uint64_t)bs;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		if (argv[2][0] == 'r') {
			rnd ^= rnd << 13;
			rnd ^= rnd >> 7;
			rnd ^= rnd << 17;
			off = rnd % blocks * (uint64_t)bs;
		} else {
			off = off + (uint64_t)bs * 2 > (uint64_t)st.st_size ? 0 : off + (uint64_t)bs;
		}
		if (pread(fd, buf, (size_t)bs, (off_t)off) != bs) {
			perror("pread");
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("iops=%.0f mib_s=%.0f\n", (double)n / s, (double)n * (double)bs / s / 1048576.0);
	free(buf);
	close(fd);
	return 0;
}
