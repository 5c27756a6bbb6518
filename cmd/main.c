/* main.c - the xvm command-line entry point: dispatch to a verb. */
#include <stdio.h>
#include <string.h>

#include "cmd/commands.h"
#include "xvm/log.h"

static const struct command commands[] = {
	{ "run", cmd_run, "boot a guest in this process (standalone VMM)" },

	{ "image", cmd_image, "create, inspect, snapshot, clone and check disk images" },
	{ "config-check", cmd_config_check, "parse an xl.cfg (with overrides) and print it as JSON" },
	{ "store", cmd_store, "read, write, watch and snoop the xenstore (xvmstored)" },
	{ "version", cmd_version, "print the xvm version" },
	{ "help", cmd_help, "list commands, or show help for one" },
};

int cmd_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			return 0;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return 1;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: xvm COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'xvm COMMAND --help' shows a command's options; "
		   "see also man xvm (docs/xvm.1).\n");
}

int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("xvm %s\n", XVM_VERSION);
	return 0;
}

static const struct command *lookup(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

int cmd_help(int argc, char **argv)
{
	const struct command *c;
	char help[] = "--help";

	if (argc < 2) {
		usage(stdout);
		return 0;
	}
	c = lookup(argv[1]);
	if (!c) {
		log_err("unknown command '%s' (see 'xvm help')", argv[1]);
		return 1;
	}
	char *sub[] = { argv[1], help, NULL };
	return c->fn(2, sub);
}

int main(int argc, char **argv)
{
	const struct command *c;

	log_init("xvm", LOG_NOTICE);
	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version"))
		return cmd_version(argc - 1, argv + 1);
	c = lookup(argv[1]);
	if (!c) {
		log_err("unknown command '%s' (see 'xvm help')", argv[1]);
		return 1;
	}
	return c->fn(argc - 1, argv + 1);
}
