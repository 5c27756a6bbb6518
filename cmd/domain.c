/* domain.c - the xl lifecycle verbs: create list info destroy shutdown reboot pause unpause rename uptime vcpu-list dmesg. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/commands.h"
#include "xvm/api_client.h"
#include "xvm/log.h"
#include "xvm/util.h"

#define CFG_MAX (1u << 20)

static const struct option help_only[] = {
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* --help (stdout, 0) or the options; the verbs below share this shape. */
static bool want_help(int argc, char **argv, const char *usage)
{
	if (!cmd_wants_help(argc, argv))
		return false;
	fputs(usage, stdout);
	return true;
}

/* A request {"op": op, "domain": dom}. */
static json_object *dom_request(const char *op, const char *dom)
{
	json_object *r = api_request(op);

	if (r && dom)
		json_object_object_add(r, "domain", json_object_new_string(dom));
	return r;
}

static int check_domain(const char *verb, const char *dom)
{
	if (!*dom || strlen(dom) > 255)
		return cmd_usage_error(verb, "'%s' is not a domain name or id", dom);
	return 0;
}

/* Verbs of the form "xvm VERB [-w] DOMAIN" */
static int simple_verb(int argc, char **argv, const char *usage, bool can_wait)
{
	static const struct option lopts[] = {
		{ "wait", no_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t timeout = 0;
	bool wait = false;
	json_object *req;
	int c;

	if (want_help(argc, argv, usage))
		return 0;
	while ((c = cmd_getopt(argc, argv, can_wait ? "wt:" : "", can_wait ? lopts : help_only)) != -1) {
		if (c == 'w') {
			wait = true;
		} else if (c == 't') {
			if (parse_uint(optarg, 1, 86400, &timeout))
				return cmd_usage_error(argv[0], "--timeout '%s': expected seconds (1-86400)", optarg);
		} else {
			return 1;
		}
	}
	if (argc - optind != 1)
		return cmd_usage_error(argv[0], "expected one DOMAIN");
	if (check_domain(argv[0], argv[optind]))
		return 1;
	req = dom_request(argv[0], argv[optind]);
	if (req && wait)
		json_object_object_add(req, "wait", json_object_new_boolean(1));
	if (req && timeout)
		json_object_object_add(req, "timeout_s", json_object_new_int64((int64_t)timeout));
	return api_run(argv[0], req, NULL);
}

int cmd_destroy(int argc, char **argv)
{
	return simple_verb(argc, argv,
		"usage: xvm destroy DOMAIN\n"
		"Stop DOMAIN (name or id) at once, as pulling the plug; its devices\n"
		"and store entries are removed.\n", false);
}

int cmd_shutdown(int argc, char **argv)
{
	return simple_verb(argc, argv,
		"usage: xvm shutdown [-w] [-t SECS] DOMAIN\n"
		"Ask DOMAIN to power off: an ACPI power button press (the guest OS\n"
		"decides what to do); on_poweroff applies when it stops.\n"
		"  -w, --wait          return when the domain has stopped\n"
		"  -t, --timeout SECS  with -w: give up after SECS (default 60)\n", true);
}

int cmd_reboot(int argc, char **argv)
{
	return simple_verb(argc, argv,
		"usage: xvm reboot [-w] [-t SECS] DOMAIN\n"
		"Ask DOMAIN to reboot; on_reboot applies when it stops.\n"
		"  -w, --wait          return when the domain has stopped\n"
		"  -t, --timeout SECS  with -w: give up after SECS (default 60)\n", true);
}

int cmd_pause(int argc, char **argv)
{
	return simple_verb(argc, argv,
		"usage: xvm pause DOMAIN\n"
		"Stop DOMAIN's vCPUs; memory and devices are kept (see unpause).\n", false);
}

int cmd_unpause(int argc, char **argv)
{
	return simple_verb(argc, argv,
		"usage: xvm unpause DOMAIN\n"
		"Resume a domain that was paused or created with create -p.\n", false);
}

int cmd_rename(int argc, char **argv)
{
	json_object *req;

	if (want_help(argc, argv,
		      "usage: xvm rename DOMAIN NEWNAME\n"
		      "Give DOMAIN (name or id) the name NEWNAME (which must be free).\n"))
		return 0;
	if (cmd_getopt(argc, argv, "", help_only) != -1)
		return 1;
	if (argc - optind != 2)
		return cmd_usage_error(argv[0], "expected DOMAIN NEWNAME");
	if (check_domain(argv[0], argv[optind]) || check_domain(argv[0], argv[optind + 1]))
		return 1;
	req = dom_request("rename", argv[optind]);
	if (req)
		json_object_object_add(req, "name", json_object_new_string(argv[optind + 1]));
	return api_run(argv[0], req, NULL);
}

static const char create_usage[] =
	"usage: xvm create [-c] [-p] CFG [KEY=VALUE...]\n"
	"Create a domain from the xl.cfg file CFG (see docs/xl.cfg.md); each\n"
	"KEY=VALUE is an extra config line applied after the file (xl syntax,\n"
	"e.g. memory=512 'name=\"web2\"').\n"
	"  -c, --console  attach to the console once created (Ctrl-] detaches)\n"
	"  -p, --paused   create the domain paused (see unpause)\n";

/* The request for create: the file's text, its name and the overrides. */
static int create_request(int argc, char **argv, bool paused, json_object **out)
{
	const char *cfg = argv[optind];
	json_object *req, *ov;
	uint8_t *text;
	size_t len;
	int rc;

	for (int i = optind + 1; i < argc; i++)
		if (!strchr(argv[i], '=') || argv[i][0] == '=')
			return cmd_usage_error(argv[0], "override '%s': expected KEY=VALUE", argv[i]);
	rc = read_file(cfg, CFG_MAX, &text, &len);
	if (rc) {
		log_err("create: %s: %s", cfg, rc == -EFBIG ? "larger than 1 MiB" : strerror(-rc));
		return 1;
	}
	if (memchr(text, '\0', len)) {
		free(text);
		log_err("create: %s: not a text file (it holds a NUL byte)", cfg);
		return 1;
	}
	req = api_request("create");
	ov = json_object_new_array();
	if (!req || !ov) {
		free(text);
		json_object_put(req);
		json_object_put(ov);
		log_err("create: %s", strerror(ENOMEM));
		return 1;
	}
	json_object_object_add(req, "config", json_object_new_string_len((char *)text, (int)len));
	json_object_object_add(req, "source", json_object_new_string(cfg));
	for (int i = optind + 1; i < argc; i++)
		json_object_array_add(ov, json_object_new_string(argv[i]));
	json_object_object_add(req, "overrides", ov);
	json_object_object_add(req, "paused", json_object_new_boolean(paused));
	api_add_cwd(req);
	free(text);
	*out = req;
	return 0;
}

int cmd_create(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "console", no_argument, NULL, 'c' },
		{ "paused", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool console = false, paused = false;
	json_object *req = NULL, *rep, *warn;
	char name[256];
	int c, rc;

	if (want_help(argc, argv, create_usage))
		return 0;
	while ((c = cmd_getopt(argc, argv, "cp", lopts)) != -1) {
		if (c == 'c')
			console = true;
		else if (c == 'p')
			paused = true;
		else
			return 1;
	}
	if (optind >= argc)
		return cmd_usage_error(argv[0], "expected a config file CFG");
	if (create_request(argc, argv, paused, &req))
		return 1;
	rc = api_run("create", req, &rep);
	if (rc)
		return rc;
	warn = api_array(rep, "warnings");
	for (size_t i = 0; warn && i < json_object_array_length(warn); i++)
		log_warn("%s: %s", argv[optind],
			 json_object_get_string(json_object_array_get_idx(warn, i)));
	snprintf(name, sizeof(name), "%s", api_str(rep, "name", ""));
	log_notice("created domain %s (id %lld)", name, api_int(rep, "domid", -1));
	if (console && !*name)
		snprintf(name, sizeof(name), "%lld", api_int(rep, "domid", -1));
	json_object_put(rep);
	return console ? console_attach(name) : 0;
}

/* xl's six state letters, from whatever xvmd gave (the letters, or a word). */
static void state_letters(const char *s, char out[7])
{
	if (strlen(s) == 6) {
		memcpy(out, s, 7);
		return;
	}
	memcpy(out, "------", 7);
	if (!strcmp(s, "running"))
		out[0] = 'r';
	else if (!strcmp(s, "paused"))
		out[2] = 'p';
	else if (!strcmp(s, "stopping") || !strcmp(s, "shutdown"))
		out[3] = 's';
	else if (!strcmp(s, "crashed"))
		out[4] = 'c';
	else if (!strcmp(s, "dying"))
		out[5] = 'd';
}

static void list_short(json_object *doms)
{
	printf("Name                                        ID   Mem VCPUs\tState\tTime(s)\n");
	for (size_t i = 0; i < json_object_array_length(doms); i++) {
		json_object *d = json_object_array_get_idx(doms, i);
		char st[7];

		state_letters(api_str(d, "state", ""), st);
		printf("%-40s %5lld %5lld %5lld     %s  %8.1f\n", api_str(d, "name", "-"),
		       api_int(d, "domid", -1), api_int(d, "memory_kib", 0) / 1024,
		       api_int(d, "vcpus", 0), st, (double)api_int(d, "cpu_ns", 0) / 1e9);
	}
}

/* -l: as xl, a JSON array of {"domid", "config"} */
static void list_long(json_object *doms)
{
	json_object *out = json_object_new_array();

	for (size_t i = 0; out && i < json_object_array_length(doms); i++) {
		json_object *d = json_object_array_get_idx(doms, i), *e, *cfg;

		e = json_object_new_object();
		if (!e)
			break;
		json_object_object_add(e, "domid", json_object_new_int64(api_int(d, "domid", -1)));
		if (json_object_object_get_ex(d, "config", &cfg))
			json_object_object_add(e, "config", json_object_get(cfg));
		else
			json_object_object_add(e, "config", json_object_get(d));
		json_object_array_add(out, e);
	}
	if (out)
		puts(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY |
							 JSON_C_TO_STRING_SPACED |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(out);
}

int cmd_list(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "long", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	json_object *req, *rep, *doms;
	bool lng = false;
	int c, rc;

	if (want_help(argc, argv,
		      "usage: xvm list [-l] [DOMAIN]\n"
		      "List domains (or one): Name ID Mem (MiB) VCPUs State Time(s), as xl.\n"
		      "State letters: r running, b blocked, p paused, s shut down,\n"
		      "c crashed, d dying.\n"
		      "  -l, --long  each domain's configuration as JSON\n"))
		return 0;
	while ((c = cmd_getopt(argc, argv, "l", lopts)) != -1) {
		if (c != 'l')
			return 1;
		lng = true;
	}
	if (argc - optind > 1)
		return cmd_usage_error(argv[0], "at most one DOMAIN");
	if (optind < argc && check_domain(argv[0], argv[optind]))
		return 1;
	req = dom_request("list", optind < argc ? argv[optind] : NULL);
	if (req && lng)
		json_object_object_add(req, "long", json_object_new_boolean(1));
	rc = api_run("list", req, &rep);
	if (rc)
		return rc;
	doms = api_array(rep, "domains");
	if (!doms) {
		json_object_put(rep);
		log_err("list: xvmd's reply has no domains array");
		return XVM_EXIT_NOXVMD;
	}
	if (lng)
		list_long(doms);
	else
		list_short(doms);
	json_object_put(rep);
	return 0;
}

/* xl's names for the info fields that carry a unit in the API */
static const char *info_name(const char *key)
{
	if (!strcmp(key, "total_memory_mib"))
		return "total_memory";
	if (!strcmp(key, "free_memory_mib"))
		return "free_memory";
	return key;
}

int cmd_info(int argc, char **argv)
{
	const char *only = NULL;
	json_object *rep;
	int rc, found = 0;

	if (want_help(argc, argv,
		      "usage: xvm info [FIELD]\n"
		      "Host and xvmd information, one 'name : value' line each (memory in\n"
		      "MiB). With FIELD, print only that value.\n"))
		return 0;
	if (cmd_getopt(argc, argv, "", help_only) != -1)
		return 1;
	if (argc - optind > 1)
		return cmd_usage_error(argv[0], "at most one FIELD");
	if (optind < argc)
		only = argv[optind];
	rc = api_run("info", api_request("info"), &rep);
	if (rc)
		return rc;
	json_object_object_foreach(rep, key, val) {
		const char *name = info_name(key);

		if (!strcmp(key, "ok"))
			continue;
		if (only && strcmp(only, name))
			continue;
		found = 1;
		if (only)
			printf("%s\n", json_object_get_string(val));
		else
			printf("%-23s: %s\n", name, json_object_get_string(val));
	}
	json_object_put(rep);
	if (only && !found) {
		log_err("info: no field '%s'", only);
		return 1;
	}
	return 0;
}

int cmd_dmesg(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "clear", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	json_object *req, *rep, *log;
	bool clear = false;
	int c, rc;

	if (want_help(argc, argv,
		      "usage: xvm dmesg [-c] DOMAIN\n"
		      "Print what DOMAIN wrote to its console (the last 1 MiB).\n"
		      "  -c, --clear  clear the log after printing it\n"))
		return 0;
	while ((c = cmd_getopt(argc, argv, "c", lopts)) != -1) {
		if (c != 'c')
			return 1;
		clear = true;
	}
	if (argc - optind != 1)
		return cmd_usage_error(argv[0], "expected one DOMAIN");
	if (check_domain(argv[0], argv[optind]))
		return 1;
	req = dom_request("dmesg", argv[optind]);
	if (req && clear)
		json_object_object_add(req, "clear", json_object_new_boolean(1));
	rc = api_run("dmesg", req, &rep);
	if (rc)
		return rc;
	if (json_object_object_get_ex(rep, "log", &log) && json_object_is_type(log, json_type_string))
		fwrite(json_object_get_string(log), 1, (size_t)json_object_get_string_len(log), stdout);
	json_object_put(rep);
	return 0;
}
