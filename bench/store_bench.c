/* store_bench.c - xvmstored throughput (reads, writes, listings, commits; 1 and 16 clients) beside a bare Unix-socket echo.
 *
 * usage: store_bench SOCKET [SECONDS [DATA_DIR]]
 * The echo server runs in this process and returns each message verbatim,
 * so the echo clients go through exactly the same client code
 * (store_request) as the store clients: the difference is the daemon.
 * With DATA_DIR, the other physical limit is measured too: fdatasync()s
 * per second of a 4 KiB overwrite in that directory, which bounds durable
 * commits (writes/s <= clients x fdatasyncs/s with group commit). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "xvm/store.h"
#include "xvm/store_proto.h"
#include "xvm/util.h"

enum mode { M_ECHO, M_READ, M_WRITE, M_DIR, M_TX };
static const char *const mode_names[] = { "echo round trip", "read", "write (durable)",
					  "directory (100 entries)", "transaction commit" };

struct worker {
	pthread_t th;
	const char *sock;
	enum mode mode;
	int id;
	double seconds;
	uint64_t ops;
	int rc;
};

static void *echo_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	uint8_t buf[STORE_HDR_LEN + STORE_PAYLOAD_MAX];

	for (;;) {
		struct xsd_sockmsg h;

		if (read_all(fd, &h, sizeof(h)) || h.len > STORE_PAYLOAD_MAX ||
		    read_all(fd, buf + sizeof(h), h.len))
			break;
		memcpy(buf, &h, sizeof(h));
		if (write_all(fd, buf, sizeof(h) + h.len))
			break;
	}
	close(fd);
	return NULL;
}

static void *echo_server(void *arg)
{
	int lfd = (int)(intptr_t)arg;

	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		pthread_t th;

		if (fd < 0)
			return NULL;
		if (pthread_create(&th, NULL, echo_conn, (void *)(intptr_t)fd) == 0)
			pthread_detach(th);
		else
			close(fd);
	}
}

static int one_op(struct store_client *c, struct worker *w, uint64_t i)
{
	char path[96], **names;
	unsigned int n;
	uint32_t tx;
	int rc;

	switch (w->mode) {
	case M_ECHO:
	case M_READ:
		snprintf(path, sizeof(path), "/bench/k%llu", (unsigned long long)(i % 100));
		return store_request(c, XS_READ, 0, path, (uint32_t)strlen(path) + 1, NULL, NULL);
	case M_WRITE:
		snprintf(path, sizeof(path), "/bench/w%d/k%llu", w->id,
			 (unsigned long long)(i % 1000));
		return store_write(c, 0, path, "value-0123456789", 16);
	case M_DIR:
		rc = store_directory(c, 0, "/bench", &names, &n);
		if (!rc)
			free(names);
		return rc;
	case M_TX:
		snprintf(path, sizeof(path), "/bench/t%d/k%llu", w->id,
			 (unsigned long long)(i % 100));
		rc = store_tx_start(c, &tx);
		if (!rc)
			rc = store_write(c, tx, path, "v", 1);
		if (!rc)
			rc = store_tx_end(c, tx, true);
		return rc == -EAGAIN ? 0 : rc;
	}
	return -EINVAL;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct store_client *c;
	uint64_t end;

	w->rc = store_open(w->sock, &c);
	if (w->rc)
		return NULL;
	end = now_ns() + (uint64_t)(w->seconds * 1e9);
	while (now_ns() < end) {
		for (int k = 0; k < 64; k++) {
			w->rc = one_op(c, w, w->ops++);
			if (w->rc)
				goto out;
		}
	}
out:
	store_close(c);
	return NULL;
}

static double run(const char *sock, enum mode mode, int nclients, double seconds)
{
	struct worker w[16];
	uint64_t total = 0, t0 = now_ns();

	for (int i = 0; i < nclients; i++) {
		w[i] = (struct worker){ .sock = sock, .mode = mode, .id = i, .seconds = seconds };
		pthread_create(&w[i].th, NULL, worker_main, &w[i]);
	}
	for (int i = 0; i < nclients; i++) {
		pthread_join(w[i].th, NULL);
		if (w[i].rc) {
			fprintf(stderr, "xvm: store_bench: %s: %s\n", mode_names[mode],
				strerror(-w[i].rc));
			return -1;
		}
		total += w[i].ops;
	}
	return (double)total / ((double)(now_ns() - t0) / 1e9); /* elapsed, not planned */
}

static int setup(const char *sock)
{
	struct store_client *c;
	uint32_t tx;
	char path[64];
	int rc = store_open(sock, &c);

	if (rc)
		return rc;
	rc = store_tx_start(c, &tx);
	for (int i = 0; i < 100 && !rc; i++) {
		snprintf(path, sizeof(path), "/bench/k%d", i);
		rc = store_write(c, tx, path, "some-value-0123456789", 21);
	}
	if (!rc)
		rc = store_tx_end(c, tx, true);
	store_close(c);
	return rc;
}

/* fdatasync()s per second on a scratch file in dir */
static double fsync_rate(const char *dir, double seconds)
{
	char path[256], block[4096] = { 0 };
	uint64_t n = 0, end;
	int fd;

	snprintf(path, sizeof(path), "%s/fsync-probe", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	end = now_ns() + (uint64_t)(seconds * 1e9);
	while (now_ns() < end) {
		if (pwrite(fd, block, sizeof(block), 0) != (ssize_t)sizeof(block) ||
		    fdatasync(fd))
			break;
		n++;
	}
	close(fd);
	unlink(path);
	return (double)n / seconds;
}

static int echo_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pthread_t th;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 64))
		return -errno;
	return pthread_create(&th, NULL, echo_server, (void *)(intptr_t)fd) ? -EAGAIN : 0;
}

int main(int argc, char **argv)
{
	static const int clients[] = { 1, 16 };
	char echo_path[108];
	double secs = argc > 2 ? atof(argv[2]) : 2.0, echo1 = 0, read1 = 0;
	int rc;

	if (argc < 2 || secs <= 0) {
		fprintf(stderr, "usage: store_bench SOCKET [SECONDS [DATA_DIR]]\n");
		return 2;
	}
	snprintf(echo_path, sizeof(echo_path), "%s.echo", argv[1]);
	rc = echo_listen(echo_path);
	if (!rc)
		rc = setup(argv[1]);
	if (rc) {
		fprintf(stderr, "xvm: store_bench: set-up: %s\n", strerror(-rc));
		return 1;
	}
	/* single-client echo and reads alternate in short slices so that load
	 * from other processes hits both alike: their ratio is the target */
	for (int i = 0; i < 10; i++) {
		double e = run(echo_path, M_ECHO, 1, secs / 10), r = run(argv[1], M_READ, 1, secs / 10);

		if (e < 0 || r < 0)
			return 1;
		echo1 += e / 10;
		read1 += r / 10;
	}
	printf("%-26s %8s %12s %10s\n", "operation", "clients", "ops/s", "vs echo(1)");
	for (int m = M_ECHO; m <= M_TX; m++) {
		for (size_t k = 0; k < 2; k++) {
			double r = m == M_ECHO && k == 0 ? echo1 :
				   m == M_READ && k == 0 ? read1 :
				   run(m == M_ECHO ? echo_path : argv[1], (enum mode)m,
				       clients[k], secs);

			if (r < 0)
				return 1;
			printf("%-26s %8d %12.0f %9.2fx\n", mode_names[m], clients[k], r,
			       r / echo1);
			fflush(stdout);
		}
	}
	unlink(echo_path);
	if (argc > 3) {
		double f = fsync_rate(argv[3], secs);

		printf("%-26s %8d %12.0f %9s\n", "fdatasync (4 KiB)", 1, f, "-");
	}
	return 0;
}
