/* config_json.c - a parsed xl.cfg as JSON (json-c): what `xvm config-check` prints. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xvm/xlcfg.h"

static json_object *jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL; /* NULL is JSON null */
}

static json_object *value_json(const struct xlcfg_value *v)
{
	json_object *a;

	if (v->type == XLCFG_STRING)
		return json_object_new_string(v->str);
	a = json_object_new_array();
	for (size_t i = 0; a && i < v->nitems; i++)
		json_object_array_add(a, value_json(v->items[i]));
	return a;
}

static json_object *disk_json(const struct xlcfg_disk *d)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "target", jstr(d->target));
	json_object_object_add(o, "format", jstr(xlcfg_format_name(d->format)));
	json_object_object_add(o, "vdev", jstr(d->vdev));
	json_object_object_add(o, "readonly", json_object_new_boolean(d->readonly));
	json_object_object_add(o, "devtype",
			       jstr(d->devtype == XLCFG_DEV_CDROM ? "cdrom" : "disk"));
	json_object_object_add(o, "backendtype", jstr(d->backendtype));
	json_object_object_add(o, "script", jstr(d->script));
	return o;
}

static json_object *vif_json(const struct xlcfg_vif *v)
{
	json_object *o = json_object_new_object();
	char mac[18];

	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", v->mac[0], v->mac[1],
		 v->mac[2], v->mac[3], v->mac[4], v->mac[5]);
	json_object_object_add(o, "mac", v->mac_set ? jstr(mac) : NULL);
	json_object_object_add(o, "bridge", jstr(v->bridge));
	json_object_object_add(o, "ip", jstr(v->ip));
	json_object_object_add(o, "script", jstr(v->script));
	json_object_object_add(o, "type", jstr(v->type == XLCFG_VIF_IOEMU ? "ioemu" : "vif"));
	json_object_object_add(o, "vifname", jstr(v->vifname));
	json_object_object_add(o, "model", jstr(v->model));
	json_object_object_add(o, "rate_bytes_per_s", json_object_new_int64((int64_t)v->rate_bytes_per_s));
	json_object_object_add(o, "rate_interval_us", json_object_new_int64(v->rate_interval_us));
	json_object_object_add(o, "devid", v->devid < 0 ? NULL : json_object_new_int(v->devid));
	return o;
}

char *xlcfg_to_json(const struct xlcfg *c)
{
	json_object *o = json_object_new_object(), *a, *other;
	char *s;

	if (!o)
		return NULL;
	json_object_object_add(o, "name", jstr(c->name));
	json_object_object_add(o, "uuid", c->uuid_set ? jstr(c->uuid) : NULL);
	json_object_object_add(o, "memory_mib", json_object_new_int64((int64_t)c->memory_mib));
	json_object_object_add(o, "maxmem_mib", json_object_new_int64((int64_t)c->maxmem_mib));
	json_object_object_add(o, "vcpus", json_object_new_int64(c->vcpus));
	json_object_object_add(o, "maxvcpus", json_object_new_int64(c->maxvcpus));
	json_object_object_add(o, "kernel", jstr(c->kernel));
	json_object_object_add(o, "ramdisk", jstr(c->ramdisk));
	json_object_object_add(o, "cmdline", jstr(c->cmdline));
	json_object_object_add(o, "on_poweroff", jstr(xlcfg_action_name(c->on_poweroff)));
	json_object_object_add(o, "on_reboot", jstr(xlcfg_action_name(c->on_reboot)));
	json_object_object_add(o, "on_crash", jstr(xlcfg_action_name(c->on_crash)));
	json_object_object_add(o, "on_watchdog", jstr(xlcfg_action_name(c->on_watchdog)));
	json_object_object_add(o, "on_soft_reset", jstr(xlcfg_action_name(c->on_soft_reset)));
	a = json_object_new_array();
	for (size_t i = 0; a && i < c->ndisks; i++)
		json_object_array_add(a, disk_json(&c->disks[i]));
	json_object_object_add(o, "disks", a);
	a = json_object_new_array();
	for (size_t i = 0; a && i < c->nvifs; i++)
		json_object_array_add(a, vif_json(&c->vifs[i]));
	json_object_object_add(o, "vifs", a);
	other = json_object_new_object();
	for (size_t i = 0; other && i < c->nother; i++)
		json_object_object_add(other, c->other[i].name, value_json(c->other[i].value));
	json_object_object_add(o, "other", other);
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						     JSON_C_TO_STRING_SPACED |
						     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}
