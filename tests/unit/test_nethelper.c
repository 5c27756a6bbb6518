/* test_nethelper.c - the bridge ACL of xvm-net-helper (allow/deny/all, comments,
 * malformed lines) and where the VMM looks for the helper. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"
#include "xvm/net_helper.h"

static int acl(const char *text, const char *br)
{
	unsigned bad = 0;
	int rc = net_acl_check(text, br, &bad);

	return rc < 0 ? -(int)bad : rc;
}

int main(void)
{
	char buf[PATH_MAX];

	/* nothing allowed without a rule */
	CHECK(acl("", "br0") == 0);
	CHECK(acl("# only a comment\n\n   \n", "br0") == 0);
	/* allow names one bridge, exactly */
	CHECK(acl("allow br0\n", "br0") == 1);
	CHECK(acl("allow br0\n", "br01") == 0);
	CHECK(acl("allow br0\n", "br") == 0);
	CHECK(acl("allow br0", "br0") == 1);                  /* no final newline */
	CHECK(acl("  allow\tbr0   # the lab bridge\n", "br0") == 1);
	CHECK(acl("allow br1\nallow br0\n", "br0") == 1);
	/* all, and deny wins whatever the order */
	CHECK(acl("allow all\n", "anything") == 1);
	CHECK(acl("allow all\ndeny br1\n", "br1") == 0);
	CHECK(acl("deny br1\nallow all\n", "br1") == 0);
	CHECK(acl("allow all\ndeny br1\n", "br2") == 1);
	CHECK(acl("deny all\nallow br0\n", "br0") == 0);
	CHECK(acl("#allow br0\n", "br0") == 0);
	/* malformed: the line number comes back */
	CHECK(acl("allow br0\npermit br1\n", "br0") == -2);
	CHECK(acl("allow\n", "br0") == -1);
	CHECK(acl("allow br0 br1\n", "br0") == -1);
	CHECK(acl("allow averyveryverylongname\n", "br0") == -1);
	memset(buf, 'x', 300);
	buf[300] = 0;
	CHECK(acl(buf, "br0") == -1);                          /* line too long */
	/* helper path: the environment first, else next to this executable */
	setenv("XVM_NET_HELPER", "/opt/x/helper", 1);
	CHECK(!strcmp(net_helper_path(buf, sizeof(buf)), "/opt/x/helper"));
	unsetenv("XVM_NET_HELPER");
	net_helper_path(buf, sizeof(buf));
	CHECK(strstr(buf, "/" NET_HELPER_NAME) != NULL);
	return check_report("nethelper");
}
