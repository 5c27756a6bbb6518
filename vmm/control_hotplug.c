/* control_hotplug.c - disk-add/disk-remove/nic-add/nic-remove on the VMM
 * control socket, and device-added/device-removed events (contract:
 * docs/design/toolstack.md; the work: vmm/hotplug.c).
 *
 * Requests: {"cmd": "disk-add", "spec": "--disk syntax"} -> {id, slot};
 * {"cmd": "nic-add", "spec": "--net syntax"} -> {id, slot, mac};
 * {"cmd": "disk-remove"|"nic-remove", "id": "...", "timeout_ms": N,
 * "force": bool} -> {} at once; the device-removed event follows when the
 * guest ejected (or the timeout passed, or forced). Handlers run on the
 * control thread; the removed event comes from the hotplug thread. */
#include "xvm/control_hotplug.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "xvm/control.h"
#include "xvm/hotplug.h"

struct ctl_hp {
	struct control *ctl;
	struct hotplug *h;
};

static void mac_text(const uint8_t mac[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
		 mac[3], mac[4], mac[5]);
}

static void hp_event(void *opaque, bool added, const struct hotplug_info *dev,
		     const char *how)
{
	struct ctl_hp *c = opaque;
	struct json_object *f = json_object_new_object();

	json_object_object_add(f, "kind", json_object_new_string(
		dev->kind == HOTPLUG_DISK ? "disk" : "nic"));
	json_object_object_add(f, "id", json_object_new_string(dev->id));
	json_object_object_add(f, "slot", json_object_new_int((int)dev->slot));
	json_object_object_add(f, "how", json_object_new_string(how));
	control_event(c->ctl, added ? "device-added" : "device-removed", f);
}

/* A string argument, or NULL (with the error set) when missing. */
static const char *str_arg(struct control_req *req, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(req->args, key, &v) ||
	    !json_object_is_type(v, json_type_string)) {
		control_error(req, "%s: needs \"%s\" (a string)", req->cmd, key);
		return NULL;
	}
	return json_object_get_string(v);
}

static int do_add(struct control_req *req, struct ctl_hp *c, enum hotplug_kind kind)
{
	const char *spec = str_arg(req, "spec");
	struct hotplug_info info;
	char err[300], mac[18];
	int rc;

	if (!spec)
		return -EINVAL;
	rc = hotplug_add(c->h, kind, spec, &info, err, sizeof(err));
	if (rc < 0) {
		control_error(req, "%s: %s", req->cmd, err);
		return rc;
	}
	json_object_object_add(req->reply, "id", json_object_new_string(info.id));
	json_object_object_add(req->reply, "slot", json_object_new_int((int)info.slot));
	if (kind == HOTPLUG_NIC) {
		mac_text(info.mac, mac);
		json_object_object_add(req->reply, "mac", json_object_new_string(mac));
	}
	return 0;
}

static int do_remove(struct control_req *req, struct ctl_hp *c, enum hotplug_kind kind)
{
	const char *id = str_arg(req, "id");
	struct json_object *v;
	int64_t timeout = 0;
	bool force = false;
	int rc;

	if (!id)
		return -EINVAL;
	if (json_object_object_get_ex(req->args, "timeout_ms", &v)) {
		timeout = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
		if (timeout < 0 || timeout > 3600000)
			return control_error(req, "%s: timeout_ms must be 0..3600000", req->cmd);
	}
	if (json_object_object_get_ex(req->args, "force", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			return control_error(req, "%s: force must be true or false", req->cmd);
		force = json_object_get_boolean(v);
	}
	rc = hotplug_remove(c->h, kind, id, (unsigned)timeout, force);
	if (rc == -ENOENT)
		control_error(req, "%s: no hot-added %s with id '%s'", req->cmd,
			      kind == HOTPLUG_DISK ? "disk" : "nic", id);
	else if (rc == -EALREADY)
		control_error(req, "%s: '%s' is already being removed (force: true removes it now)",
			      req->cmd, id);
	return rc;
}

static int cmd_disk_add(struct control_req *req, void *o) { return do_add(req, o, HOTPLUG_DISK); }
static int cmd_nic_add(struct control_req *req, void *o) { return do_add(req, o, HOTPLUG_NIC); }
static int cmd_disk_remove(struct control_req *req, void *o) { return do_remove(req, o, HOTPLUG_DISK); }
static int cmd_nic_remove(struct control_req *req, void *o) { return do_remove(req, o, HOTPLUG_NIC); }

void control_hotplug_unregister(struct hotplug *h)
{
	if (h)
		hotplug_set_event_fn(h, NULL, NULL);
}

int control_hotplug_register(struct control *c, struct hotplug *h)
{
	static const struct {
		const char *name;
		control_fn fn;
	} cmds[] = {
		{ "disk-add", cmd_disk_add },
		{ "disk-remove", cmd_disk_remove },
		{ "nic-add", cmd_nic_add },
		{ "nic-remove", cmd_nic_remove },
	};
	/* one per process: the VMM has one control socket and one machine */
	static struct ctl_hp state;
	int rc;

	state = (struct ctl_hp){ c, h };
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if ((rc = control_register(c, cmds[i].name, cmds[i].fn, &state)) < 0)
			return rc;
	hotplug_set_event_fn(h, hp_event, &state);
	return 0;
}
