/* device.c - block-attach/-detach/-list and network-attach/-detach/-list (hotplug through xvmd). */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/commands.h"
#include "xvm/api_client.h"
#include "xvm/log.h"
#include "xvm/util.h"

#define SPEC_MAX 4096

static const struct option help_only[] = {
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};
static const struct option detach_opts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "force", no_argument, NULL, 'f' },
	{ NULL, 0, NULL, 0 },
};

/* --help, options (none), and at least min operands. 0 to go on, 1 on a
 * usage error, -1 when help was printed. */
static int dev_args_f(int argc, char **argv, const char *usage, const char *operands,
		      int min, int max, bool *force)
{
	int c;

	if (cmd_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return -1;
	}
	while ((c = cmd_getopt(argc, argv, force ? "f" : "", force ? detach_opts : help_only)) != -1) {
		if (c != 'f')
			return 1;
		*force = true;
	}
	if (argc - optind < min || (max && argc - optind > max))
		return cmd_usage_error(argv[0], "expected %s", operands);
	if (!*argv[optind])
		return cmd_usage_error(argv[0], "empty DOMAIN");
	return 0;
}

static int dev_args(int argc, char **argv, const char *usage, const char *operands,
		    int min, int max)
{
	return dev_args_f(argc, argv, usage, operands, min, max, NULL);
}

/* The operands from first on, joined with ',' (xl takes a spec in pieces). */
static int join_spec(int argc, char **argv, int first, char *out)
{
	size_t n = 0;

	out[0] = '\0';
	for (int i = first; i < argc; i++) {
		size_t l = strlen(argv[i]);

		if (n + l + 2 > SPEC_MAX)
			return cmd_usage_error(argv[0], "the device spec is longer than %d bytes",
					       SPEC_MAX);
		if (n)
			out[n++] = ',';
		memcpy(out + n, argv[i], l + 1);
		n += l;
	}
	if (!n)
		return cmd_usage_error(argv[0], "empty device spec");
	return 0;
}

static json_object *dev_request(const char *op, const char *dom)
{
	json_object *r = api_request(op);

	if (r)
		json_object_object_add(r, "domain", json_object_new_string(dom));
	return r;
}

static int attach(int argc, char **argv, const char *usage)
{
	char spec[SPEC_MAX];
	json_object *req;
	int rc = dev_args(argc, argv, usage, "DOMAIN SPEC", 2, 0);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (join_spec(argc, argv, optind + 1, spec))
		return 1;
	req = dev_request(argv[0], argv[optind]);
	if (req)
		json_object_object_add(req, "spec", json_object_new_string(spec));
	if (!strcmp(argv[0], "block-attach"))
		api_add_cwd(req);
	return api_run(argv[0], req, NULL);
}

int cmd_block_attach(int argc, char **argv)
{
	return attach(argc, argv,
		"usage: xvm block-attach DOMAIN DISKSPEC...\n"
		"Hot-plug a disk into DOMAIN. DISKSPEC is an xl disk spec (the disk=\n"
		"syntax of docs/xl.cfg.md), e.g. '/img/data.qcow2,qcow2,xvdb,w' or\n"
		"'target=/img/d.raw,vdev=xvdc,access=ro'; several pieces are joined\n"
		"with commas. The guest sees a PCI hotplug event.\n");
}

int cmd_network_attach(int argc, char **argv)
{
	return attach(argc, argv,
		"usage: xvm network-attach DOMAIN VIFSPEC...\n"
		"Hot-plug a network interface into DOMAIN. VIFSPEC is an xl vif spec\n"
		"(docs/xl.cfg.md), e.g. 'mac=00:16:3e:00:00:01,bridge=xvmbr0'; several\n"
		"pieces are joined with commas.\n");
}

int cmd_block_detach(int argc, char **argv)
{
	json_object *req;
	bool force = false;
	int rc = dev_args_f(argc, argv,
			    "usage: xvm block-detach [-f] DOMAIN VDEV\n"
			    "Hot-unplug the disk VDEV (e.g. xvdb, or its devid) from DOMAIN:\n"
			    "the guest is asked to eject it (ACPI) and the device goes when it\n"
			    "has, or after 5 s.\n"
			    "  -f, --force   remove it at once (a surprise removal for the guest)\n",
			    "DOMAIN VDEV", 2, 2, &force);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (!*argv[optind + 1])
		return cmd_usage_error(argv[0], "empty VDEV");
	req = dev_request("block-detach", argv[optind]);
	if (req) {
		json_object_object_add(req, "vdev", json_object_new_string(argv[optind + 1]));
		json_object_object_add(req, "force", json_object_new_boolean(force));
	}
	return api_run(argv[0], req, NULL);
}

int cmd_network_detach(int argc, char **argv)
{
	const char *dev;
	json_object *req;
	uint64_t devid;
	bool force = false;
	int rc = dev_args_f(argc, argv,
			    "usage: xvm network-detach [-f] DOMAIN DEVID|MAC\n"
			    "Hot-unplug a network interface, named by its device id or its MAC\n"
			    "address (xx:xx:xx:xx:xx:xx); the guest is asked to eject it first.\n"
			    "  -f, --force   remove it at once (a surprise removal for the guest)\n",
			    "DOMAIN DEVID|MAC", 2, 2, &force);

	if (rc)
		return rc < 0 ? 0 : rc;
	dev = argv[optind + 1];
	req = dev_request("network-detach", argv[optind]);
	if (req)
		json_object_object_add(req, "force", json_object_new_boolean(force));
	if (strchr(dev, ':')) {
		unsigned int b[6];
		char end;

		if (sscanf(dev, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4],
			   &b[5], &end) != 6 || strlen(dev) != 17) {
			json_object_put(req);
			return cmd_usage_error(argv[0], "'%s' is not a MAC address", dev);
		}
		if (req)
			json_object_object_add(req, "mac", json_object_new_string(dev));
	} else {
		if (parse_uint(dev, 0, 65535, &devid)) {
			json_object_put(req);
			return cmd_usage_error(argv[0], "'%s' is neither a DEVID nor a MAC", dev);
		}
		if (req)
			json_object_object_add(req, "devid", json_object_new_int64((int64_t)devid));
	}
	return api_run(argv[0], req, NULL);
}

/* One list request per DOMAIN; print one row per member of key. handle is
 * the frontend domain: its id, or the name given when the reply has none. */
static int dev_list(int argc, char **argv, const char *key, const char *header,
		    void (*row)(json_object *dev, const char *handle))
{
	bool printed = false;
	int rc = 0;

	for (int i = optind; i < argc; i++) {
		json_object *rep, *arr;
		char handle[32];
		long long domid;
		int r = api_run(argv[0], dev_request(argv[0], argv[i]), &rep);

		if (r) {
			rc = r;
			if (r == XVM_EXIT_NOXVMD)
				break;
			continue;
		}
		if (!printed)
			fputs(header, stdout);
		printed = true;
		domid = api_int(rep, "domid", -1);
		if (domid >= 0)
			snprintf(handle, sizeof(handle), "%lld", domid);
		else
			snprintf(handle, sizeof(handle), "%.31s", argv[i]);
		arr = api_array(rep, key);
		for (size_t j = 0; arr && j < json_object_array_length(arr); j++)
			row(json_object_array_get_idx(arr, j), handle);
		json_object_put(rep);
	}
	return rc;
}

static void block_row(json_object *d, const char *handle)
{
	printf("%-5lld %-3d %-6s %-5lld %-6s %-4s %-6s %s\n", api_int(d, "devid", -1), 0, handle,
	       api_int(d, "state", 0), api_str(d, "vdev", "-"), api_str(d, "mode", "-"),
	       api_str(d, "type", "-"), api_str(d, "params", "-"));
}

int cmd_block_list(int argc, char **argv)
{
	char hdr[128];
	int rc = dev_args(argc, argv,
			  "usage: xvm block-list DOMAIN...\n"
			  "The disks of each DOMAIN: Vdev (devid) BE (backend domain) handle\n"
			  "(frontend domain) state (XenbusState: 1 initialising, 4 connected,\n"
			  "5 closing, 6 closed) Dev Mode Type Params.\n", "DOMAIN...", 1, 0);

	if (rc)
		return rc < 0 ? 0 : rc;
	snprintf(hdr, sizeof(hdr), "%-5s %-3s %-6s %-5s %-6s %-4s %-6s %s\n", "Vdev", "BE",
		 "handle", "state", "Dev", "Mode", "Type", "Params");
	return dev_list(argc, argv, "disks", hdr, block_row);
}

static void nic_row(json_object *n, const char *handle)
{
	printf("%-3lld %-2d %-17s %-6s %-5lld %-16s %s\n", api_int(n, "devid", -1), 0,
	       api_str(n, "mac", "-"), handle, api_int(n, "state", 0), api_str(n, "bridge", "-"),
	       api_str(n, "vifname", "-"));
}

int cmd_network_list(int argc, char **argv)
{
	char hdr[128];
	int rc = dev_args(argc, argv,
			  "usage: xvm network-list DOMAIN...\n"
			  "The network interfaces of each DOMAIN: Idx (devid) BE (backend domain)\n"
			  "Mac Addr. handle (frontend domain) state (XenbusState) Bridge Vifname.\n",
			  "DOMAIN...", 1, 0);

	if (rc)
		return rc < 0 ? 0 : rc;
	snprintf(hdr, sizeof(hdr), "%-3s %-2s %-17s %-6s %-5s %-16s %s\n", "Idx", "BE",
		 "Mac Addr.", "handle", "state", "Bridge", "Vifname");
	return dev_list(argc, argv, "nics", hdr, nic_row);
}
