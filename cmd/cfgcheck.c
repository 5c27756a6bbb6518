/* cfgcheck.c - `xvm config-check CFG [key=value...]`: parse an xl.cfg, print it as JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/commands.h"
#include "xvm/log.h"
#include "xvm/xlcfg.h"

static void cfgcheck_usage(FILE *f)
{
	fprintf(f,
		"usage: xvm config-check CFG [KEY=VALUE...]\n"
		"Parse the xl.cfg file CFG, apply the overrides (xl syntax, e.g.\n"
		"memory=1024 'name=\"web2\"' 'disk+=[\"/img/b.raw,,xvdb\"]') and print the\n"
		"domain description as JSON. Warnings go to stderr. Exit 0 if valid, 1 with\n"
		"one error line otherwise. See docs/xl.cfg.md.\n");
}

int cmd_config_check(int argc, char **argv)
{
	struct xlcfg_error err;
	struct xlcfg *cfg;
	char *json;
	int r;

	if (cmd_wants_help(argc, argv)) {
		cfgcheck_usage(stdout);
		return 0;
	}
	if (argc < 2 || argv[1][0] == '-') {
		cfgcheck_usage(stderr);
		return 2;
	}
	for (int i = 2; i < argc; i++)
		if (!strchr(argv[i], '=')) {
			log_err("config-check: override '%s': expected KEY=VALUE", argv[i]);
			return 2;
		}
	r = xlcfg_load(argv[1], argv + 2, (size_t)(argc - 2), &cfg, &err);
	if (r) {
		log_err("%s", err.msg);
		return 1;
	}
	for (size_t i = 0; i < cfg->nwarnings; i++)
		log_warn("%s", cfg->warnings[i]);
	json = xlcfg_to_json(cfg);
	xlcfg_free(cfg);
	if (!json) {
		log_err("config-check: %s", strerror(ENOMEM));
		return 1;
	}
	printf("%s\n", json);
	free(json);
	return 0;
}
