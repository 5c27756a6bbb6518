/* xlcfg_fuzz.c - libFuzzer target for the xl.cfg parser (file text, one override, disk and vif specs). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xvm/xlcfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An error is one non-empty line; anything else is a bug. */
static void check_err(int r, const struct xlcfg_error *err)
{
	if (r != -EINVAL || !err->msg[0] || strchr(err->msg, '\n'))
		abort();
}

static void spec_parsers(const char *s)
{
	struct xlcfg_error err;
	struct xlcfg_disk d;
	struct xlcfg_vif v;
	size_t at = 0;
	int r;

	r = xlcfg_parse_disk(s, &d, &at, &err);
	if (r == 0)
		xlcfg_disk_clear(&d);
	else
		check_err(r, &err);
	if (at > strlen(s))
		abort();
	r = xlcfg_parse_vif(s, &v, &at, &err);
	if (r == 0)
		xlcfg_vif_clear(&v);
	else
		check_err(r, &err);
	if (at > strlen(s))
		abort();
}

/* Input: config text, optionally followed by 0x01 and one override. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *sep = memchr(data, 1, size);
	size_t len = sep ? (size_t)(sep - data) : size;
	char *ov = NULL, *str = malloc(size + 1);
	struct xlcfg_error err;
	struct xlcfg *cfg = NULL;
	char *json;
	int r;

	if (!str)
		return 0;
	memcpy(str, data, size);
	str[size] = 0;
	if (sep)
		ov = str + len + 1;
	r = xlcfg_parse("fuzz.cfg", (const char *)data, len, ov ? &ov : NULL, ov ? 1 : 0,
			&cfg, &err);
	if (r == 0) {
		if (!cfg || !cfg->name)
			abort();
		json = xlcfg_to_json(cfg);
		if (!json)
			abort();
		free(json);
		xlcfg_free(cfg);
	} else {
		if (cfg)
			abort();
		check_err(r, &err);
	}
	spec_parsers(str);
	free(str);
	return 0;
}
