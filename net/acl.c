/* acl.c - the bridge ACL of xvm-net-helper: "allow BR|all", "deny BR|all" lines. */
#include "xvm/net_helper.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* One line (comment stripped): 0 ok (allow and deny updated), -EINVAL. */
static int acl_line(char *line, const char *br, bool *allow, bool *deny)
{
	char verb[16], who[IFNAMSIZ + 1], extra[2];
	int n = sscanf(line, "%15s %16s %1s", verb, who, extra);

	if (n <= 0)
		return 0;                    /* blank */
	if (n != 2 || strlen(who) >= IFNAMSIZ)
		return -EINVAL;
	bool match = !strcmp(who, "all") || !strcmp(who, br);
	if (!strcmp(verb, "allow"))
		*allow |= match;
	else if (!strcmp(verb, "deny"))
		*deny |= match;
	else
		return -EINVAL;
	return 0;
}

int net_acl_check(const char *text, const char *br, unsigned *bad_line)
{
	bool allow = false, deny = false;
	unsigned no = 0;

	while (*text) {
		const char *end = strchr(text, '\n');
		size_t len = end ? (size_t)(end - text) : strlen(text);
		char line[256];

		no++;
		if (len >= sizeof(line)) {
			*bad_line = no;
			return -EINVAL;
		}
		memcpy(line, text, len);
		line[len] = 0;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		if (acl_line(line, br, &allow, &deny) < 0) {
			*bad_line = no;
			return -EINVAL;
		}
		text += len + (end ? 1 : 0);
	}
	return allow && !deny;
}
