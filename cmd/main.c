/* main.c - the xvm command-line entry point: dispatch to a verb. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cmd/commands.h"
#include "xvm/log.h"

static const struct command commands[] = {
	{ "run", cmd_run, "boot a guest in this process (standalone VMM)" },

	{ "create", cmd_create, "create a domain from an xl.cfg file (through xvmd)" },
	{ "list", cmd_list, "list domains" },
	{ "info", cmd_info, "host and xvmd information" },
	{ "destroy", cmd_destroy, "stop a domain at once" },
	{ "shutdown", cmd_shutdown, "ask a domain to power off (ACPI power button)" },
	{ "reboot", cmd_reboot, "reboot a domain" },
	{ "pause", cmd_pause, "stop a domain's vCPUs" },
	{ "unpause", cmd_unpause, "resume a paused domain" },
	{ "rename", cmd_rename, "give a domain a new name" },
	{ "console", cmd_console, "attach to a domain's console (Ctrl-] detaches)" },
	{ "dmesg", cmd_dmesg, "print a domain's console log" },
	{ "uptime", cmd_uptime, "how long domains have been running" },
	{ "vcpu-list", cmd_vcpu_list, "list the vCPUs of domains" },
	{ "block-attach", cmd_block_attach, "hot-plug a disk into a domain" },
	{ "block-detach", cmd_block_detach, "hot-unplug a disk" },
	{ "block-list", cmd_block_list, "list a domain's disks" },
	{ "network-attach", cmd_network_attach, "hot-plug a network interface" },
	{ "network-detach", cmd_network_detach, "hot-unplug a network interface" },
	{ "network-list", cmd_network_list, "list a domain's network interfaces" },
	{ "top", cmd_top, "domains' resource use, xentop style (-b: batch)" },
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

int cmd_usage_error(const char *verb, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_err("%s: %s (see 'xvm %s --help')", verb, msg, verb);
	return 1;
}

int cmd_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	char opts[64];
	int c;

	snprintf(opts, sizeof(opts), "+:%s", shortopts);
	opterr = 0;
	c = getopt_long(argc, argv, opts, longopts, NULL);
	if (c == ':') {
		cmd_usage_error(argv[0], "option '%s' needs an argument", argv[optind - 1]);
		return '?';
	}
	if (c == '?') {
		if (optopt)
			cmd_usage_error(argv[0], "unknown option '-%c'", optopt);
		else
			cmd_usage_error(argv[0], "unknown option '%s'", argv[optind - 1]);
		return '?';
	}
	return c;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: xvm COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-15s %s\n", commands[i].name, commands[i].summary);
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
