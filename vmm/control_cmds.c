/* control_cmds.c - the core control commands on one machine: status,
 * pause/unpause, power-button, reset, quit, stats, devices, subscribe
 * (docs/design/toolstack.md, "The VMM control protocol"). */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "xvm/acpi.h"
#include "xvm/control.h"
#include "xvm/hotplug.h"
#include "xvm/kvm_stats.h"
#include "xvm/log.h"
#include "xvm/machine.h"
#include "xvm/util.h"
#include "xvm/vcpu.h"

#define PAUSE_TIMEOUT_MS 5000

static struct json_object *j_u64(uint64_t v)
{
	return json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v);
}

static void add_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, j_u64(v));
}

static void add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

static const char *vm_state(struct vm *vm)
{
	if (__atomic_load_n(&vm->stop, __ATOMIC_ACQUIRE) != VM_RUNNING)
		return "stopping";
	return vm_paused(vm) ? "paused" : "running";
}

static int cmd_status(struct control_req *req, void *opaque)
{
	struct control_vm *v = opaque;
	struct vm *vm = v->m->vm;
	struct json_object *r = req->reply;

	add_str(r, "state", vm_state(vm));
	add_str(r, "name", vm->name);
	add_u64(r, "domid", (uint64_t)vm->cfg.domid);
	add_u64(r, "pid", (uint64_t)getpid());
	add_u64(r, "uptime_ms", (now_ns() - v->start_ns) / 1000000);
	add_u64(r, "vcpus", vm->nvcpus);
	add_u64(r, "memory_bytes", vm->mem.size);
	add_str(r, "console_pty", v->m->con.pty_path[0] ? v->m->con.pty_path : NULL);
	add_str(r, "console_log", v->console_log);
	return 0;
}

static int cmd_pause(struct control_req *req, void *opaque)
{
	struct control_vm *v = opaque;
	bool was = vm_paused(v->m->vm);
	int rc = vm_pause(v->m->vm, PAUSE_TIMEOUT_MS);

	if (rc == -ESRCH)
		return control_error(req, "the VM is stopping");
	if (rc == -ETIMEDOUT)
		return control_error(req, "a vCPU did not stop within %d ms", PAUSE_TIMEOUT_MS);
	if (rc == 0 && !was)
		control_event(v->ctl, "paused", NULL);
	return rc;
}

static int cmd_unpause(struct control_req *req, void *opaque)
{
	struct control_vm *v = opaque;
	bool was = vm_paused(v->m->vm);

	if (vm_unpause(v->m->vm) < 0)
		return control_error(req, "the VM is stopping");
	if (was)
		control_event(v->ctl, "unpaused", NULL);
	return 0;
}

static int cmd_power_button(struct control_req *req, void *opaque)
{
	struct control_vm *v = opaque;

	if (vm_paused(v->m->vm))
		log_info("power button pressed while paused: seen on unpause");
	acpi_pm_power_button(v->m->pm);
	return 0;
}

static int cmd_reset(struct control_req *req, void *opaque)
{
	struct control_vm *v = opaque;

	vm_request_stop(v->m->vm, VM_STOP_REBOOT, "reset by control request");
	return 0;
}

static int cmd_quit(struct control_req *req, void *opaque)
{
	struct control_vm *v = opaque;

	vm_request_stop(v->m->vm, VM_STOP_KILLED, "destroyed by control request");
	return 0;
}

static int cmd_subscribe(struct control_req *req, void *opaque)
{
	req->subscribe = true;
	return 0;
}

static struct json_object *disk_json(struct vblk *b, bool counters)
{
	struct json_object *d = json_object_new_object();
	struct vblk_info i;

	vblk_get_info(b, &i);
	add_str(d, "id", i.id);
	if (!counters) {
		add_str(d, "path", i.path);
		add_str(d, "format", i.format);
		json_object_object_add(d, "readonly", json_object_new_boolean(i.readonly));
		add_u64(d, "slot", i.slot);
		return d;
	}
	add_u64(d, "rd_reqs", i.rd_reqs);
	add_u64(d, "wr_reqs", i.wr_reqs);
	add_u64(d, "rd_sectors", i.rd_sectors);
	add_u64(d, "wr_sectors", i.wr_sectors);
	add_u64(d, "flush_reqs", i.flush_reqs);
	add_u64(d, "oo_reqs", i.oo_reqs);
	add_u64(d, "errors", i.errors);
	return d;
}

static struct json_object *nic_json(struct vnet *n, bool counters)
{
	struct json_object *o = json_object_new_object();
	struct vnet_info i;
	struct vnet_stats s;
	char mac[18];

	vnet_get_info(n, &i);
	add_str(o, "id", i.id);
	if (!counters) {
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", i.mac[0],
			 i.mac[1], i.mac[2], i.mac[3], i.mac[4], i.mac[5]);
		add_str(o, "mac", mac);
		add_str(o, "tap", i.tap);
		add_u64(o, "slot", i.slot);
		return o;
	}
	vnet_get_stats(n, &s);
	add_u64(o, "tx_bytes", s.tx_bytes);
	add_u64(o, "tx_packets", s.tx_packets);
	add_u64(o, "rx_bytes", s.rx_bytes);
	add_u64(o, "rx_packets", s.rx_packets);
	add_u64(o, "tx_drops", s.tx_drops);
	add_u64(o, "rx_drops", s.rx_drops);
	return o;
}

struct dev_lists {
	struct json_object *disks, *nics;
	bool counters;
};

static void add_hotplugged(void *opaque, struct vblk *b, struct vnet *n)
{
	struct dev_lists *l = opaque;

	if (b)
		json_object_array_add(l->disks, disk_json(b, l->counters));
	if (n)
		json_object_array_add(l->nics, nic_json(n, l->counters));
}

/* "disks" and "nics" arrays: the boot devices, then the hot-added ones. */
static void add_devices(struct json_object *r, struct machine *m, bool counters)
{
	struct json_object *disks = json_object_new_array(), *nics = json_object_new_array();
	struct dev_lists l = { disks, nics, counters };

	for (unsigned i = 0; i < MACHINE_MAX_DISKS; i++)
		if (m->disk[i])
			json_object_array_add(disks, disk_json(m->disk[i], counters));
	for (unsigned i = 0; i < MACHINE_MAX_NICS; i++)
		if (m->nic[i])
			json_object_array_add(nics, nic_json(m->nic[i], counters));
	if (m->hotplug)
		hotplug_foreach(m->hotplug, add_hotplugged, &l);
	json_object_object_add(r, "disks", disks);
	json_object_object_add(r, "nics", nics);
}

static int cmd_devices(struct control_req *req, void *opaque)
{
	struct control_vm *v = opaque;

	add_devices(req->reply, v->m, false);
	return 0;
}

/* Add n to exits[name]. */
static void exits_add(struct json_object *exits, const char *name, uint64_t n)
{
	struct json_object *cur;

	if (json_object_object_get_ex(exits, name, &cur))
		n += (uint64_t)json_object_get_int64(cur);
	json_object_object_add(exits, name, j_u64(n));
}

/* xvm's own counts of KVM_RUN returns by exit reason, as "xvm_<reason>". */
static void exits_xvm(struct json_object *exits, struct vcpu *c)
{
	char name[48];

	for (unsigned r = 0; r < VCPU_EXIT_REASONS; r++) {
		uint64_t n = atomic_load_explicit(&c->stats.by_reason[r], memory_order_relaxed);
		const char *rn = vcpu_exit_name(r);
		if (!n)
			continue;
		if (rn)
			snprintf(name, sizeof(name), "xvm_%s", rn);
		else
			snprintf(name, sizeof(name), "xvm_reason_%u", r);
		exits_add(exits, name, n);
	}
}

static struct json_object *vcpu_json(struct vcpu *c, struct json_object *exits,
				     uint64_t *cpu_ns)
{
	struct json_object *o = json_object_new_object();
	struct kvm_stat_val kv[KVM_STATS_MAX];
	uint64_t ns = vcpu_cpu_ns(c);
	const char *state = "running";
	int n = kvm_stats_read(c->kstats, kv, KVM_STATS_MAX);

	for (int i = 0; i < n; i++) {
		if (!strcmp(kv[i].name, "blocking")) {
			if (kv[i].value)
				state = "halted";
		} else {
			exits_add(exits, kv[i].name, kv[i].value);
		}
	}
	exits_xvm(exits, c);
	if (__atomic_load_n(&c->parked, __ATOMIC_RELAXED))
		state = "paused";
	*cpu_ns += ns;
	add_u64(o, "id", c->id);
	add_u64(o, "tid", (uint64_t)atomic_load(&c->tid));
	add_u64(o, "cpu_ns", ns);
	add_str(o, "state", state);
	return o;
}

static int cmd_stats(struct control_req *req, void *opaque)
{
	struct control_vm *v = opaque;
	struct vm *vm = v->m->vm;
	struct json_object *r = req->reply, *vcpus = json_object_new_array();
	struct json_object *exits = json_object_new_object();
	uint64_t cpu = 0;

	for (unsigned i = 0; i < vm->nvcpus; i++)
		json_object_array_add(vcpus, vcpu_json(vm->vcpu[i], exits, &cpu));
	add_u64(r, "uptime_ms", (now_ns() - v->start_ns) / 1000000);
	add_u64(r, "cpu_ns", cpu);
	json_object_object_add(r, "vcpus", vcpus);
	add_u64(r, "memory_bytes", vm->mem.size);
	add_u64(r, "memory_touched_bytes", gm_resident(&vm->mem));
	add_devices(r, v->m, true);
	json_object_object_add(r, "exits", exits);
	return 0;
}

int control_vm_register(struct control_vm *v)
{
	static const struct {
		const char *name;
		control_fn fn;
	} cmds[] = {
		{ "status", cmd_status },
		{ "pause", cmd_pause },
		{ "unpause", cmd_unpause },
		{ "power-button", cmd_power_button },
		{ "reset", cmd_reset },
		{ "quit", cmd_quit },
		{ "stats", cmd_stats },
		{ "devices", cmd_devices },
		{ "subscribe", cmd_subscribe },
	};
	int rc = 0;

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]) && rc == 0; i++)
		rc = control_register(v->ctl, cmds[i].name, cmds[i].fn, v);
	return rc;
}
