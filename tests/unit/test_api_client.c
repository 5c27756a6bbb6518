/* test_api_client.c - the xvmd API client over a real socket: split and pipelined reply lines, non-object replies, EOF, no daemon. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "xvm/api_client.h"
#include "xvm/rundir.h"

static int listen_fd;
static char got[4][256];

static void put(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		perror("write");
}

/* Read one request line into got[i]. */
static void get_line(FILE *f, int i)
{
	if (!fgets(got[i], sizeof(got[i]), f))
		got[i][0] = '\0';
}

static void *server(void *arg)
{
	int fd = accept(listen_fd, NULL, NULL);
	FILE *f = fdopen(dup(fd), "r");

	(void)arg;
	get_line(f, 0);
	put(fd, "{\"ok\": true, \"domains\": [{\"na");   /* a reply in two pieces */
	usleep(50000);
	put(fd, "me\": \"web\"}]}\n{\"ok\": false, \"error\": \"domain 'x' does not exist\"}\n");
	get_line(f, 1);
	get_line(f, 2);                                   /* 2nd reply already sent */
	put(fd, "[1, 2]\n");
	get_line(f, 3);
	fclose(f);
	close(fd);                                        /* EOF for the 4th request */
	return NULL;
}

static void check_paths(void)
{
	char buf[4096];

	setenv("XVM_RUNDIR", "/tmp/rd-test", 1);
	unsetenv("XVMD_SOCKET");
	CHECK(xvmd_socket_path(buf, sizeof(buf)) == 0 && !strcmp(buf, "/tmp/rd-test/xvmd.sock"));
	setenv("XVMD_SOCKET", "/x/y.sock", 1);
	CHECK(xvmd_socket_path(buf, sizeof(buf)) == 0 && !strcmp(buf, "/x/y.sock"));
	CHECK(xvmd_socket_path(buf, 4) == -ENAMETOOLONG);
	unsetenv("XVM_RUNDIR");
	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	CHECK(xvm_rundir(buf, sizeof(buf)) == 0 &&
	      !strcmp(buf, geteuid() ? "/run/user/1000/xvm" : "/run/xvm"));
}

int main(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	json_object *rep = NULL, *req;
	struct api_conn *c;
	char path[4096];
	pthread_t th;

	check_paths();
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/xvm-apitest-%d.sock", (int)getpid());
	setenv("XVMD_SOCKET", sa.sun_path, 1);
	CHECK(api_open(&c, path, sizeof(path)) == -ENOENT && !strcmp(path, sa.sun_path));
	CHECK(api_run("list", api_request("list"), NULL) == XVM_EXIT_NOXVMD);

	listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(listen_fd, 1) == 0);
	pthread_create(&th, NULL, server, NULL);
	CHECK(api_open(&c, NULL, 0) == 0);

	req = api_request("list");
	CHECK(api_call(c, req, &rep) == 0);  /* api_call leaves req to the caller */
	json_object_put(req);
	CHECK(!strcmp(api_str(json_object_array_get_idx(api_array(rep, "domains"), 0), "name", ""), "web"));
	json_object_put(rep);
	CHECK(strstr(got[0], "\"op\":\"list\"") && strstr(got[0], "\"api\":1"));
	CHECK(api_run_on(c, "pause", api_request("pause"), &rep) == XVM_EXIT_FAIL);
	CHECK(api_run_on(c, "x", api_request("x"), &rep) == XVM_EXIT_NOXVMD); /* [1, 2] */
	CHECK(api_run_on(c, "y", api_request("y"), &rep) == XVM_EXIT_NOXVMD); /* EOF */
	pthread_join(th, NULL);
	CHECK(strstr(got[1], "pause") && strstr(got[2], "\"x\"") && strstr(got[3], "\"y\""));
	api_close(c);
	close(listen_fd);
	unlink(sa.sun_path);
	return check_report("api-client");
}
