/* launch.c - bench helper: run a command R times and report the medians of
 * process start -> first stdout byte, start -> exit, and peak RSS.
 *
 * usage: bench-launch [-r RUNS] [-o OUTFILE] [-e ERRFILE] -- CMD [ARGS...]
 * Prints one line: "first_byte_ms=X exit_ms=Y maxrss_kib=Z runs=R status=S".
 * The last run's stdout/stderr are kept in OUTFILE/ERRFILE when given.
 * bench-launch -t prints this host's TSC rate ("tsc_khz=N"), measured
 * against CLOCK_MONOTONIC over 200 ms, to turn guest cycle counts into ns. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct sample {
	double first_ms, exit_ms;
	long maxrss_kib;
	int status;
};

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static int run_once(char **cmd, const char *out, const char *err, struct sample *s)
{
	struct timespec t0;
	struct rusage ru;
	int p[2], ofd = -1, efd, st;
	char buf[65536];
	pid_t pid;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	if (out)
		ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	efd = open(err ? err : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		dup2(in, 0);
		dup2(p[1], 1);
		dup2(efd, 2);
		execvp(cmd[0], cmd);
		_exit(127);
	}
	close(p[1]);
	close(efd);
	s->first_ms = -1;
	while ((n = read(p[0], buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (s->first_ms < 0)
			s->first_ms = ms_since(&t0);
		if (ofd >= 0 && write(ofd, buf, (size_t)n) != n)
			break;
	}
	close(p[0]);
	if (wait4(pid, &st, 0, &ru) < 0)
		return -errno;
	s->exit_ms = ms_since(&t0);
	s->maxrss_kib = ru.ru_maxrss;
	s->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (ofd >= 0)
		close(ofd);
	return 0;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static int print_tsc_khz(void)
{
	struct timespec t0, d = { 0, 200000000 };
	uint64_t c0 = rdtsc(), c1;
	double ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	nanosleep(&d, NULL);
	c1 = rdtsc();
	ms = ms_since(&t0);
	printf("tsc_khz=%.0f\n", (double)(c1 - c0) / ms);
	return 0;
}

int main(int argc, char **argv)
{
	const char *out = NULL, *err = NULL;
	int runs = 11, c, status = 0;
	double *f, *e, *r;

	while ((c = getopt(argc, argv, "r:o:e:t")) != -1) {
		switch (c) {
		case 't': return print_tsc_khz();
		case 'r': runs = atoi(optarg); break;
		case 'o': out = optarg; break;
		case 'e': err = optarg; break;
		default: return 2;
		}
	}
	if (optind >= argc || runs < 1) {
		fprintf(stderr, "usage: bench-launch [-r RUNS] [-o OUT] [-e ERR] -- CMD...\n");
		return 2;
	}
	f = calloc((size_t)runs, sizeof(double));
	e = calloc((size_t)runs, sizeof(double));
	r = calloc((size_t)runs, sizeof(double));
	for (int i = 0; i < runs; i++) {
		struct sample s;
		if (run_once(argv + optind, out, err, &s) < 0) {
			perror("bench-launch");
			return 1;
		}
		f[i] = s.first_ms;
		e[i] = s.exit_ms;
		r[i] = (double)s.maxrss_kib;
		if (s.status)
			status = s.status;
	}
	printf("first_byte_ms=%.2f exit_ms=%.2f maxrss_kib=%.0f runs=%d status=%d\n",
	       median(f, runs), median(e, runs), median(r, runs), runs, status);
	free(f);
	free(e);
	free(r);
	return 0;
}
