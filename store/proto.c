/* proto.c - xenstore wire helpers: op names, error strings, argument and path rules. */
#include "xvm/store_proto.h"

#include <stdio.h>
#include <string.h>

static const char *const op_names[XS_TYPE_COUNT] = {
	[XS_CONTROL] = "CONTROL",
	[XS_DIRECTORY] = "DIRECTORY",
	[XS_READ] = "READ",
	[XS_GET_PERMS] = "GET_PERMS",
	[XS_WATCH] = "WATCH",
	[XS_UNWATCH] = "UNWATCH",
	[XS_TRANSACTION_START] = "TRANSACTION_START",
	[XS_TRANSACTION_END] = "TRANSACTION_END",
	[XS_INTRODUCE] = "INTRODUCE",
	[XS_RELEASE] = "RELEASE",
	[XS_GET_DOMAIN_PATH] = "GET_DOMAIN_PATH",
	[XS_WRITE] = "WRITE",
	[XS_MKDIR] = "MKDIR",
	[XS_RM] = "RM",
	[XS_SET_PERMS] = "SET_PERMS",
	[XS_WATCH_EVENT] = "WATCH_EVENT",
	[XS_ERROR] = "ERROR",
	[XS_IS_DOMAIN_INTRODUCED] = "IS_DOMAIN_INTRODUCED",
	[XS_RESUME] = "RESUME",
	[XS_SET_TARGET] = "SET_TARGET",
	[XS_RESET_WATCHES] = "RESET_WATCHES",
	[XS_DIRECTORY_PART] = "DIRECTORY_PART",
};

const char *store_op_name(uint32_t type)
{
	if (type < XS_TYPE_COUNT && op_names[type])
		return op_names[type];
	return "UNKNOWN";
}

int store_op_from_name(const char *name)
{
	for (uint32_t i = 0; i < XS_TYPE_COUNT; i++)
		if (op_names[i] && !strcasecmp(op_names[i], name))
			return (int)i;
	return -EINVAL;
}

const char *store_err_string(int err)
{
	for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
		if (xsd_errors[i].errnum == err)
			return xsd_errors[i].errstring;
	return "EINVAL";
}

int store_err_parse(const char *s, size_t len)
{
	while (len && s[len - 1] == '\0')
		len--;
	for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
		if (strlen(xsd_errors[i].errstring) == len &&
		    !memcmp(xsd_errors[i].errstring, s, len))
			return xsd_errors[i].errnum;
	return EINVAL;
}

int store_hdr_check(const struct xsd_sockmsg *h)
{
	return h->len > STORE_PAYLOAD_MAX ? -EMSGSIZE : 0;
}

int store_split(const char *payload, uint32_t len, const char **argv, int max,
		const char **tail, uint32_t *tail_len)
{
	uint32_t start = 0;
	int n = 0;

	for (uint32_t i = 0; i < len; i++) {
		if (payload[i] != '\0')
			continue;
		if (n == max)
			return -E2BIG;
		argv[n++] = payload + start;
		start = i + 1;
		if (tail && n == max)
			break;
	}
	if (tail) {
		*tail = payload + start;
		*tail_len = len - start;
	} else if (start != len) {
		return -EINVAL; /* missing terminating NUL */
	}
	return n;
}

static bool path_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '/' || c == '_' ||
	       c == '@';
}

int store_path_check(const char *path, bool special)
{
	size_t len = strlen(path);

	if (path[0] == '@') {
		if (!special || len < 2 || len > XENSTORE_ABS_PATH_MAX)
			return -EINVAL;
		for (size_t i = 1; i < len; i++)
			if (!path_char_ok(path[i]) || path[i] == '/' || path[i] == '@')
				return -EINVAL;
		return 0;
	}
	if (len == 0)
		return -EINVAL;
	if (len > (path[0] == '/' ? XENSTORE_ABS_PATH_MAX : XENSTORE_REL_PATH_MAX))
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (!path_char_ok(path[i]) || path[i] == '@')
			return -EINVAL;
		if (path[i] == '/' && path[i + 1] == '/')
			return -EINVAL;
	}
	if (len > 1 && path[len - 1] == '/')
		return -EINVAL;
	return 0;
}

int store_path_canon(const char *path, unsigned int domid, char *out, size_t size)
{
	int n;

	if (path[0] == '/' || path[0] == '@')
		n = snprintf(out, size, "%s", path);
	else
		n = snprintf(out, size, "/local/domain/%u/%s", domid, path);
	if (n < 0 || (size_t)n >= size)
		return -EINVAL;
	return 0;
}
