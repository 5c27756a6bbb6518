/* acpica_peer.h - helpers the ACPI unit tests share to check tables against
 * ACPICA's tools (iasl, acpiexec): run a tool in a scratch directory,
 * capture its output, and round-trip a table through iasl. */
#ifndef XVM_TESTS_ACPICA_PEER_H
#define XVM_TESTS_ACPICA_PEER_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "xvm/util.h"

/* 1 when an executable called name is on $PATH. */
static inline int find_tool(const char *name)
{
	const char *path = getenv("PATH");
	char full[4200];

	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		snprintf(full, sizeof(full), "%.*s/%s", (int)n, path, name);
		if (access(full, X_OK) == 0)
			return 1;
		path += n + (path[n] == ':');
	}
	return 0;
}

/* Run argv in dir with stdout+stderr to dir/log; returns the exit status
 * (-1 when it did not exit) and leaves the output in *out (NUL-ended,
 * free it). */
static inline int run(const char *dir, const char *const argv[], char **out)
{
	char log[4200];
	uint8_t *buf = NULL;
	size_t len = 0;
	int status = 0;
	pid_t pid;

	*out = NULL;
	snprintf(log, sizeof(log), "%s/log", dir);
	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd < 0 || chdir(dir) < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (pid > 0 && waitpid(pid, &status, 0) == pid &&
	    read_file(log, 16 << 20, &buf, &len) == 0) {
		*out = calloc(1, len + 1);
		if (*out)
			memcpy(*out, buf, len);
	}
	free(buf);
	if (!*out)
		*out = calloc(1, 1);
	if (pid < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Write p[0..n) to dir/name; 0 or -errno. */
static inline int save(const char *dir, const char *name, const void *p,
		       size_t n)
{
	char path[4200];
	int fd, rc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, p, n);
	close(fd);
	return rc;
}

static inline int has(const char *s, const char *what)
{
	return s && strstr(s, what) != NULL;
}

/* Remove the scratch directory dir and the files in it. */
static inline void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	rmdir(dir);
}

/* Round trip through iasl: `iasl -d name.dat` must decode the table t
 * without a warning (a bad checksum is one), and compiling the disassembly
 * must give t back byte for byte except the checksum and the creator
 * fields (bytes 9 and 28..35), which iasl replaces with its own (the FACS
 * has neither: all of it must match). The disassembly stays in
 * dir/name.dsl. */
static inline void peer_roundtrip(const char *dir, const char *name,
				  const uint8_t *t)
{
	char dat[64], dsl[64], rt[64], path[4200], *out = NULL;
	uint32_t len = (uint32_t)t[4] | (uint32_t)t[5] << 8 |
		       (uint32_t)t[6] << 16 | (uint32_t)t[7] << 24;
	int facs = !memcmp(t, "FACS", 4);   /* no checksum, no creator */
	uint8_t *back = NULL;
	size_t blen = 0;

	snprintf(dat, sizeof(dat), "%s.dat", name);
	snprintf(dsl, sizeof(dsl), "%s.dsl", name);
	snprintf(rt, sizeof(rt), "rt_%s", name);
	CHECK(save(dir, dat, t, len) == 0);
	CHECK(run(dir, (const char *[]){ "iasl", "-d", dat, NULL }, &out) == 0);
	if (has(out, "Warning") || has(out, "Error") || has(out, "Incorrect"))
		fprintf(stderr, "iasl -d %s:\n%s\n", dat, out);
	CHECK(!has(out, "Warning") && !has(out, "Error"));
	CHECK(!has(out, "Incorrect"));
	free(out);
	CHECK(run(dir, (const char *[]){ "iasl", "-p", rt, dsl, NULL }, &out) == 0);
	CHECK(has(out, " 0 Errors, 0 Warnings"));
	free(out);
	snprintf(path, sizeof(path), "%s/%s.aml", dir, rt);
	CHECK(read_file(path, 16 << 20, &back, &blen) == 0);
	CHECK(blen == len);
	for (uint32_t i = 0; back && blen == len && i < len; i++)
		if ((facs || (i != 9 && (i < 28 || i >= 36))) && back[i] != t[i]) {
			fprintf(stderr, "%s: byte %u: iasl %#x, ours %#x\n", name,
				i, back[i], t[i]);
			CHECK(back[i] == t[i]);
		}
	free(back);
}

/* Fill a DSDT header in front of n bytes of AML at t + 36 and checksum it;
 * returns the table length. For tests that build their own AML. */
static inline uint32_t test_dsdt_wrap(uint8_t *t, size_t n)
{
	uint32_t len = (uint32_t)(36 + n);
	uint8_t sum = 0;

	memset(t, 0, 36);
	memcpy(t, "DSDT", 4);
	for (int i = 0; i < 4; i++)
		t[4 + i] = (uint8_t)(len >> (8 * i));
	t[8] = 2;
	memcpy(t + 10, "XVM   XVM TEST", 14);
	for (uint32_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + t[i]);
	t[9] = (uint8_t)(0 - sum);
	return len;
}

#endif
