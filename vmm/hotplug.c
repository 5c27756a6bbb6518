/* hotplug.c - runtime add and remove of virtio-blk and virtio-net devices
 * over ACPI PCI hotplug (contract and threads: include/xvm/hotplug.h).
 *
 * Removal state per device: present -> removing (eject asked, deadline set)
 * -> gone (taken out of the table by the hotplug thread, then torn down
 * without the lock). The eject callback runs on a vCPU thread: it only
 * marks slots and wakes the thread, never tears down (a vCPU must not wait
 * for the buses it is dispatching on). */
#include "xvm/hotplug.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xvm/acpi.h"
#include "xvm/log.h"
#include "xvm/trace.h"
#include "xvm/util.h"
#include "xvm/virtio_blk.h"
#include "xvm/virtio_net.h"
#include "xvm/vm.h"

#define DEFAULT_TIMEOUT_MS 5000
#define NIC_INDEX_BASE 8   /* default MACs after the boot NICs' (machine.h) */

struct hp_dev {
	bool used;
	struct hotplug_info info;
	struct vblk *blk;
	struct vnet *net;
	bool ejected, forced;
	uint64_t deadline_ns;
};

struct hotplug {
	struct hotplug_env env;
	pthread_mutex_t add_lock;  /* one hotplug_add at a time (held across
				    * device creation; never with lock held) */
	pthread_mutex_t lock;      /* dev[], seq, stop, event fn */
	pthread_cond_t cond;       /* CLOCK_MONOTONIC: work for the thread */
	pthread_cond_t idle;       /* event_calls dropped to 0 */
	unsigned event_calls;      /* event callbacks running right now */
	struct hp_dev dev[HOTPLUG_MAX];
	unsigned seq;
	bool stop;
	hotplug_event_fn event;
	void *event_opaque;
	pthread_t thread;
	bool thread_started;
};

static const char *kind_name(enum hotplug_kind k)
{
	return k == HOTPLUG_DISK ? "disk" : "nic";
}

/* PCI_RMV: the slots of hotplugged devices. Under h->lock. */
static void hp_update_removable(struct hotplug *h)
{
	uint32_t m = 0;

	for (unsigned i = 0; i < HOTPLUG_MAX; i++)
		if (h->dev[i].used)
			m |= 1u << h->dev[i].info.slot;
	acpi_pcihp_set_removable(h->env.pm, m);
}

static void hp_on_eject(void *opaque, uint32_t slots)
{
	struct hotplug *h = opaque;

	pthread_mutex_lock(&h->lock);
	for (unsigned i = 0; i < HOTPLUG_MAX; i++) {
		struct hp_dev *d = &h->dev[i];
		if (d->used && d->info.removing && (slots & (1u << d->info.slot)))
			d->ejected = true;
	}
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

/* A device whose removal is due, taken out of the table, or -1. */
static int hp_take_due(struct hotplug *h, uint64_t now, struct hp_dev *out,
		       uint64_t *next)
{
	for (unsigned i = 0; i < HOTPLUG_MAX; i++) {
		struct hp_dev *d = &h->dev[i];

		if (!d->used || !d->info.removing)
			continue;
		if (d->ejected || d->forced || now >= d->deadline_ns || h->stop) {
			*out = *d;
			memset(d, 0, sizeof(*d));
			hp_update_removable(h);
			return (int)i;
		}
		if (d->deadline_ns < *next)
			*next = d->deadline_ns;
	}
	return -1;
}

/* Run the event callback (if any) without the lock, counted so that
 * hotplug_set_event_fn() can wait until no call is in flight. */
static void hp_emit(struct hotplug *h, bool added, const struct hotplug_info *dev,
		    const char *how)
{
	hotplug_event_fn fn;
	void *opaque;

	pthread_mutex_lock(&h->lock);
	fn = h->event;
	opaque = h->event_opaque;
	if (fn)
		h->event_calls++;
	pthread_mutex_unlock(&h->lock);
	if (!fn)
		return;
	fn(opaque, added, dev, how);
	pthread_mutex_lock(&h->lock);
	if (--h->event_calls == 0)
		pthread_cond_broadcast(&h->idle);
	pthread_mutex_unlock(&h->lock);
}

static void hp_teardown(struct hotplug *h, struct hp_dev *d, const char *how)
{
	vblk_destroy(d->blk);    /* both unplug first, then drain and close */
	vnet_destroy(d->net);
	acpi_pcihp_gone(h->env.pm, d->info.slot);
	log_notice("hotplug: %s %s removed from slot %u (%s)", kind_name(d->info.kind),
		 d->info.id, d->info.slot, how);
	XVM_PROBE(HOTPLUG_REMOVE, h->env.vm->cfg.domid, (char *)kind_name(d->info.kind),
		  (int)d->info.slot, 0);
	hp_emit(h, false, &d->info, how);
}

static void *hp_thread(void *arg)
{
	struct hotplug *h = arg;

	pthread_mutex_lock(&h->lock);
	for (;;) {
		uint64_t now = now_ns(), next = UINT64_MAX;
		struct hp_dev d;

		if (hp_take_due(h, now, &d, &next) >= 0) {
			const char *how = h->stop ? "shutdown" : d.ejected ? "ejected" :
					  d.forced ? "forced" : "timeout";
			pthread_mutex_unlock(&h->lock);
			hp_teardown(h, &d, how);
			pthread_mutex_lock(&h->lock);
			continue;
		}
		if (h->stop)
			break;
		if (next == UINT64_MAX) {
			pthread_cond_wait(&h->cond, &h->lock);
		} else {
			struct timespec ts = { (time_t)(next / 1000000000U),
					       (long)(next % 1000000000U) };
			pthread_cond_timedwait(&h->cond, &h->lock, &ts);
		}
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

/* Is id taken by a boot device or a hotplugged one? Under h->lock. */
static bool hp_id_taken(struct hotplug *h, const char *id)
{
	for (unsigned i = 0; i < h->env.nboot_ids; i++)
		if (h->env.boot_ids[i] && !strcmp(h->env.boot_ids[i], id))
			return true;
	for (unsigned i = 0; i < HOTPLUG_MAX; i++)
		if (h->dev[i].used && !strcmp(h->dev[i].info.id, id))
			return true;
	return false;
}

/* Parse spec into d's options and pick the id; under h->lock. */
static int hp_prepare(struct hotplug *h, struct hp_dev *d, const char *spec,
		      char *buf, struct vblk_opts *bo, struct vnet_opts *no,
		      char *err, size_t errlen)
{
	const char *id;
	int rc;

	if (d->info.kind == HOTPLUG_DISK) {
		rc = vblk_parse(spec, buf, bo);
		id = bo->id;
	} else {
		rc = vnet_parse(spec, buf, no);
		id = no->id;
	}
	if (rc < 0) {
		snprintf(err, errlen, "bad %s spec '%s'", kind_name(d->info.kind), spec);
		return rc;
	}
	if (id && strlen(id) >= HOTPLUG_ID_LEN) {
		snprintf(err, errlen, "id '%s' is too long", id);
		return -EINVAL;
	}
	if (id)
		snprintf(d->info.id, sizeof(d->info.id), "%s", id);
	else
		do
			snprintf(d->info.id, sizeof(d->info.id), "%s%u",
				 d->info.kind == HOTPLUG_DISK ? "hdisk" : "hnet", h->seq++);
		while (hp_id_taken(h, d->info.id));
	if (id && hp_id_taken(h, id)) {
		snprintf(err, errlen, "id '%s' is already in use", id);
		return -EEXIST;
	}
	if (d->info.kind == HOTPLUG_DISK) {
		bo->id = d->info.id;
		snprintf(d->info.path, sizeof(d->info.path), "%s", bo->image.path);
		d->info.readonly = bo->image.readonly;
	} else {
		no->id = d->info.id;
		if (!no->mac_set)
			vnet_mac_default(h->env.vm->name, NIC_INDEX_BASE + h->seq++, no->mac);
		no->mac_set = true;
		memcpy(d->info.mac, no->mac, 6);
		snprintf(d->info.path, sizeof(d->info.path), "%s",
			 no->tap ? no->tap : no->bridge ? no->bridge : "");
	}
	return 0;
}

static struct hp_dev *hp_free_entry(struct hotplug *h)
{
	for (unsigned i = 0; i < HOTPLUG_MAX; i++)
		if (!h->dev[i].used)
			return &h->dev[i];
	return NULL;
}

/* Open and plug; under add_lock only (device creation may block). */
static int hp_create_dev(struct hotplug *h, struct hp_dev *d, struct vblk_opts *bo,
			 struct vnet_opts *no)
{
	int rc;

	if (d->info.kind == HOTPLUG_DISK) {
		rc = vblk_create(h->env.vm, h->env.pci, h->env.loop, bo, &d->blk);
		if (rc == 0)
			d->info.slot = vblk_slot(d->blk);
	} else {
		no->fd = -1;
		rc = vnet_create(h->env.vm, h->env.pci, h->env.loop, no,
				 NIC_INDEX_BASE, &d->net);
		if (rc == 0)
			d->info.slot = vnet_slot(d->net);
	}
	return rc;
}

int hotplug_add(struct hotplug *h, enum hotplug_kind kind, const char *spec,
		struct hotplug_info *out, char *err, size_t errlen)
{
	size_t n = spec ? strlen(spec) + 1 : 1;
	char *buf = malloc(n);
	struct vblk_opts bo;
	struct vnet_opts no;
	struct hp_dev *e, d = { .used = true, .info.kind = kind };
	int rc;

	if (!buf || !spec) {
		free(buf);
		snprintf(err, errlen, "%s", spec ? strerror(ENOMEM) : "no spec");
		return spec ? -ENOMEM : -EINVAL;
	}
	/* add_lock: one add at a time, so the free entry and the id checked
	 * here are still free when the device is in */
	pthread_mutex_lock(&h->add_lock);
	pthread_mutex_lock(&h->lock);
	rc = hp_free_entry(h) ? hp_prepare(h, &d, spec, buf, &bo, &no, err, errlen)
			      : -ENOSPC;
	if (rc == -ENOSPC)
		snprintf(err, errlen, "at most %d hotplugged devices", HOTPLUG_MAX);
	pthread_mutex_unlock(&h->lock);
	if (rc == 0 && (rc = hp_create_dev(h, &d, &bo, &no)) < 0)
		snprintf(err, errlen, "%s '%s': %s", kind_name(kind), d.info.path,
			 rc == -ENOSPC ? "no free PCI slot" : strerror(-rc));
	pthread_mutex_lock(&h->lock);
	if (rc == 0) {
		e = hp_free_entry(h);
		*e = d;
		hp_update_removable(h);
		acpi_pcihp_plug(h->env.pm, d.info.slot);
	}
	pthread_mutex_unlock(&h->lock);
	pthread_mutex_unlock(&h->add_lock);
	free(buf);
	XVM_PROBE(HOTPLUG_ADD, h->env.vm->cfg.domid, (char *)kind_name(kind),
		  rc == 0 ? (int)d.info.slot : -1, rc);
	if (rc < 0)
		return rc;
	log_notice("hotplug: %s %s added in slot %u", kind_name(kind), d.info.id, d.info.slot);
	if (out)
		*out = d.info;
	hp_emit(h, true, &d.info, "guest");
	return 0;
}

int hotplug_remove(struct hotplug *h, enum hotplug_kind kind, const char *id,
		   unsigned timeout_ms, bool force)
{
	int rc = -ENOENT;
	unsigned slot = 0;

	pthread_mutex_lock(&h->lock);
	for (unsigned i = 0; id && i < HOTPLUG_MAX; i++) {
		struct hp_dev *d = &h->dev[i];

		if (!d->used || d->info.kind != kind || strcmp(d->info.id, id))
			continue;
		rc = d->info.removing && !force ? -EALREADY : 0;
		if (rc == 0) {
			if (!d->info.removing)
				d->deadline_ns = now_ns() + (uint64_t)(timeout_ms ? timeout_ms :
						 DEFAULT_TIMEOUT_MS) * 1000000ULL;
			d->info.removing = true;
			d->forced |= force;
			slot = d->info.slot;
			if (!force)
				acpi_pcihp_unplug_request(h->env.pm, slot);
			pthread_cond_signal(&h->cond);
		}
		break;
	}
	pthread_mutex_unlock(&h->lock);
	if (rc == 0)
		log_info("hotplug: %s %s in slot %u: %s", kind_name(kind), id, slot,
			 force ? "forced removal" : "eject requested");
	else
		XVM_PROBE(HOTPLUG_REMOVE, h->env.vm->cfg.domid, (char *)"?", -1, rc);
	return rc;
}

unsigned hotplug_list(struct hotplug *h, struct hotplug_info *out, unsigned max)
{
	unsigned n = 0;

	pthread_mutex_lock(&h->lock);
	for (unsigned i = 0; i < HOTPLUG_MAX; i++) {
		if (!h->dev[i].used)
			continue;
		if (n < max)
			out[n] = h->dev[i].info;
		n++;
	}
	pthread_mutex_unlock(&h->lock);
	return n;
}

void hotplug_foreach(struct hotplug *h,
		     void (*fn)(void *opaque, struct vblk *b, struct vnet *n),
		     void *opaque)
{
	pthread_mutex_lock(&h->lock);
	for (unsigned i = 0; i < HOTPLUG_MAX; i++)
		if (h->dev[i].used)
			fn(opaque, h->dev[i].blk, h->dev[i].net);
	pthread_mutex_unlock(&h->lock);
}

void hotplug_set_event_fn(struct hotplug *h, hotplug_event_fn fn, void *opaque)
{
	pthread_mutex_lock(&h->lock);
	h->event = fn;
	h->event_opaque = opaque;
	while (h->event_calls)     /* the old callback is not running afterwards */
		pthread_cond_wait(&h->idle, &h->lock);
	pthread_mutex_unlock(&h->lock);
}

int hotplug_create(const struct hotplug_env *env, struct hotplug **out)
{
	struct hotplug *h = calloc(1, sizeof(*h));
	pthread_condattr_t ca;
	int rc;

	if (!h)
		return -ENOMEM;
	h->env = *env;
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_init(&h->add_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cond, &ca);
	pthread_cond_init(&h->idle, NULL);
	pthread_condattr_destroy(&ca);
	rc = -pthread_create(&h->thread, NULL, hp_thread, h);
	if (rc < 0) {
		hotplug_destroy(h);
		return rc;
	}
	h->thread_started = true;
	acpi_pcihp_set_removable(env->pm, 0);
	acpi_pm_set_eject_fn(env->pm, hp_on_eject, h);
	*out = h;
	return 0;
}

void hotplug_destroy(struct hotplug *h)
{
	if (!h)
		return;
	acpi_pm_set_eject_fn(h->env.pm, NULL, NULL);
	pthread_mutex_lock(&h->lock);
	h->stop = true;
	for (unsigned i = 0; i < HOTPLUG_MAX; i++)
		if (h->dev[i].used)
			h->dev[i].info.removing = true;   /* the thread tears them down */
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	if (h->thread_started)
		pthread_join(h->thread, NULL);
	pthread_cond_destroy(&h->cond);
	pthread_cond_destroy(&h->idle);
	pthread_mutex_destroy(&h->add_lock);
	pthread_mutex_destroy(&h->lock);
	free(h);
}
