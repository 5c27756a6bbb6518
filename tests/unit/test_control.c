/* test_control.c - the control socket core without a VM: framing, id echo,
 * malformed and over-long lines, unknown commands, handler errors, several
 * clients, subscribe + events, the socket's mode, stale and foreign paths. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "xvm/control.h"

static int calls;

static int cmd_echo(struct control_req *req, void *opaque)
{
	struct json_object *v;

	calls++;
	if (json_object_object_get_ex(req->args, "fail", &v))
		return control_error(req, "asked to fail");
	if (json_object_object_get_ex(req->args, "errno", &v))
		return -ENOENT;
	json_object_object_add(req->reply, "tag", json_object_new_string(opaque));
	return 0;
}

static int cmd_sub(struct control_req *req, void *opaque)
{
	req->subscribe = true;
	return 0;
}

static int dial(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { 5, 0 };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Read one line into buf (NUL-terminated, without '\n'); false on EOF. */
static bool line(int fd, char *buf, size_t size)
{
	size_t n = 0;

	while (n + 1 < size && read(fd, buf + n, 1) == 1) {
		if (buf[n] == '\n') {
			buf[n] = 0;
			return true;
		}
		n++;
	}
	buf[n] = 0;
	return false;
}

static bool ask(int fd, const char *req, char *reply, size_t size)
{
	size_t n = strlen(req);

	if (write(fd, req, n) != (ssize_t)n)
		return false;
	return line(fd, reply, size);
}

static void test_requests(int fd)
{
	char r[512];
	char *big = malloc(CONTROL_MAX_LINE + 100);

	CHECK(ask(fd, "{\"id\": 7, \"cmd\": \"echo\"}\n", r, sizeof(r)));
	CHECK(!strcmp(r, "{\"id\":7,\"tag\":\"A\",\"ok\":true}"));
	CHECK(ask(fd, "{\"cmd\": \"echo\", \"id\": \"s\", \"fail\": 1}\n", r, sizeof(r)));
	CHECK(!strcmp(r, "{\"id\":\"s\",\"ok\":false,\"error\":\"asked to fail\"}"));
	CHECK(ask(fd, "{\"cmd\": \"echo\", \"errno\": 1}\n", r, sizeof(r)));
	CHECK(strstr(r, "\"ok\":false") && strstr(r, "No such file"));
	CHECK(ask(fd, "{\"cmd\": \"nope\"}\n", r, sizeof(r)) && strstr(r, "unknown command 'nope'"));
	CHECK(ask(fd, "{\"cmd\": 1}\n", r, sizeof(r)) && strstr(r, "no \\\"cmd\\\" string"));
	CHECK(ask(fd, "{\"cmd\": \"echo\"\n", r, sizeof(r)) && strstr(r, "malformed JSON"));
	CHECK(ask(fd, "[1]\n", r, sizeof(r)) && strstr(r, "not a JSON object"));
	CHECK(ask(fd, "{\"cmd\": \"echo\"} x\n", r, sizeof(r)) && strstr(r, "\"ok\":false"));
	/* blank lines get no reply; two requests in one write get two */
	CHECK(ask(fd, "\n  \n{\"cmd\":\"echo\",\"id\":1}\n{\"cmd\":\"echo\",\"id\":2}\n", r, sizeof(r)));
	CHECK(strstr(r, "\"id\":1,") != NULL);
	CHECK(line(fd, r, sizeof(r)) && strstr(r, "\"id\":2,"));
	/* an over-long line: one refusal, then the connection works again */
	memset(big, 'x', CONTROL_MAX_LINE + 99);
	big[CONTROL_MAX_LINE + 99] = '\n';
	CHECK(write(fd, big, CONTROL_MAX_LINE + 100) == CONTROL_MAX_LINE + 100);
	CHECK(line(fd, r, sizeof(r)) && strstr(r, "longer than 64 KiB"));
	CHECK(ask(fd, "{\"cmd\":\"echo\",\"id\":3}\n", r, sizeof(r)) && strstr(r, "\"id\":3,"));
	free(big);
}

static void test_events(struct control *c, const char *path)
{
	int a = dial(path), b = dial(path);
	char r[512];

	CHECK(a >= 0 && b >= 0);
	CHECK(ask(a, "{\"cmd\":\"subscribe\"}\n", r, sizeof(r)) && strstr(r, "\"ok\":true"));
	CHECK(ask(b, "{\"cmd\":\"echo\"}\n", r, sizeof(r)));
	control_event(c, "paused", NULL);
	control_event(c, "stop", json_tokener_parse("{\"status\": 4}"));
	CHECK(line(a, r, sizeof(r)) && !strcmp(r, "{\"event\":\"paused\"}"));
	CHECK(line(a, r, sizeof(r)) && !strcmp(r, "{\"event\":\"stop\",\"status\":4}"));
	/* b did not subscribe: its next line is the reply to its next request */
	CHECK(ask(b, "{\"cmd\":\"echo\",\"id\":9}\n", r, sizeof(r)) && strstr(r, "\"id\":9,"));
	control_stop(c);
	control_event(c, "stop", NULL);  /* queued after the thread is gone */
	control_destroy(c, 500);
	CHECK(line(a, r, sizeof(r)) && !strcmp(r, "{\"event\":\"stop\"}"));
	CHECK(!line(a, r, sizeof(r)));   /* then EOF */
	CHECK(access(path, F_OK) < 0);   /* the socket is gone */
	close(a);
	close(b);
}

int main(void)
{
	char dir[] = "/tmp/xvm-ctl-XXXXXX", path[128];
	struct control *c, *c2;
	struct stat st;
	int fd;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/c.sock", dir);
	CHECK(control_create(&c, path, 3) == 0);
	CHECK(control_register(c, "echo", cmd_echo, (void *)(uintptr_t)"A") == 0);
	CHECK(control_register(c, "subscribe", cmd_sub, NULL) == 0);
	CHECK(control_register(c, "this-name-is-far-too-long-for-a-command", cmd_sub, NULL) == -EINVAL);
	CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600);
	/* a second VMM on a live socket is refused */
	CHECK(control_create(&c2, path, 4) == -EADDRINUSE);
	CHECK(control_start(c) == 0);
	CHECK(control_register(c, "late", cmd_sub, NULL) == -EINVAL);
	fd = dial(path);
	CHECK(fd >= 0);
	if (fd >= 0) {
		test_requests(fd);
		close(fd);
	}
	test_events(c, path);

	/* a stale socket (nobody listening) is replaced; a plain file is not */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		strcpy(sa.sun_path, path);
		CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	}
	close(fd);
	CHECK(control_create(&c, path, 3) == 0);
	control_destroy(c, 0);
	CHECK(close(open(path, O_CREAT | O_WRONLY, 0600)) == 0);
	CHECK(control_create(&c, path, 3) == -EEXIST);
	CHECK(access(path, F_OK) == 0);
	unlink(path);
	rmdir(dir);
	return check_report("control");
}
