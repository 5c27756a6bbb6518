/* pci.c - the virtio 1.x modern PCI transport: capabilities, common config,
 * feature negotiation, status/reset, queue setup, ioeventfd kicks, MSI-X. */
#include "xvm/virtio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "xvm/evloop.h"
#include "xvm/irq.h"
#include "xvm/log.h"
#include "xvm/msix.h"
#include "xvm/pci.h"
#include "xvm/trace.h"
#include "xvm/vm.h"

/* BAR 0 layout */
#define BAR_SIZE 0x8000
#define OFF_COMMON 0x0000
#define OFF_ISR 0x1000
#define OFF_DEVICE 0x2000
#define OFF_NOTIFY 0x3000
#define OFF_MSIX_TABLE 0x4000
#define OFF_MSIX_PBA 0x5000
#define COMMON_LEN 0x38
#define NOTIFY_MULT 4

/* virtio_pci_cap cfg_type */
enum { CAP_COMMON = 1, CAP_NOTIFY = 2, CAP_ISR = 3, CAP_DEVICE = 4, CAP_PCI = 5 };

struct vp_queue {
	struct virtqueue vq;
	uint16_t vector;
	int kick_fd;
	bool ioeventfd, watched;   /* KVM_IOEVENTFD assigned, on the loop */
	struct virtio_pci *vp;
	unsigned index;
};

struct virtio_pci {
	struct pci_dev pci;
	struct vm *vm;
	struct pci_bus *bus;
	struct evloop *loop;
	uint64_t notify_base;      /* guest address of the notify area */
	bool unplugged;            /* virtio_pci_unplug() done */
	const struct virtio_dev_ops *ops;
	void *dev;
	pthread_mutex_t lock;      /* transport registers */
	uint32_t dfselect, gfselect;
	uint64_t driver_features, offered;
	uint8_t status, cfg_gen, isr;
	uint16_t queue_select, config_vector;
	bool intx_level;
	unsigned intx_gsi;
	unsigned pcicfg_cap;       /* VIRTIO_PCI_CAP_PCI_CFG offset */
	struct msix msix;
	struct vp_queue *q;
};

static void vp_add_cap(struct virtio_pci *vp, uint8_t type, uint32_t off, uint32_t len,
		       unsigned extra)
{
	unsigned c = pci_add_cap(&vp->pci, 0x09, 16 + extra);

	if (!c)
		return;
	vp->pci.cfg[c + 2] = (uint8_t)(16 + extra); /* cap_len */
	vp->pci.cfg[c + 3] = type;
	vp->pci.cfg[c + 4] = 0;                      /* bar */
	pci_set32(&vp->pci, c + 8, off);
	pci_set32(&vp->pci, c + 12, len);
	if (type == CAP_NOTIFY)
		pci_set32(&vp->pci, c + 16, NOTIFY_MULT);
	if (type == CAP_PCI) {
		vp->pcicfg_cap = c;
		/* the driver picks bar, offset, length and accesses pci_cfg_data */
		vp->pci.wmask[c + 4] = 0xff;
		memset(&vp->pci.wmask[c + 8], 0xff, 8);
		memset(&vp->pci.wmask[c + 16], 0xff, 4);
	}
}

/* --- interrupts ------------------------------------------------------- */

static void vp_raise(struct virtio_pci *vp, int q, uint16_t vector, uint8_t isr_bit)
{
	XVM_PROBE(VIRTIO_IRQ, vp->vm->cfg.domid, (char *)vp->ops->name, q, (int)vector);
	if (msix_enabled(&vp->msix)) {
		if (vector != MSIX_NO_VECTOR)
			msix_notify(&vp->msix, vector);
		return;
	}
	pthread_mutex_lock(&vp->lock);
	vp->isr |= isr_bit;
	if (!vp->intx_level && !(pci_get16(&vp->pci, PCI_COMMAND) & PCI_CMD_INTX_DISABLE)) {
		vp->intx_level = true;
		vm_irq_line(vp->vm, vp->intx_gsi, 1);
	}
	pthread_mutex_unlock(&vp->lock);
}

void virtio_notify(struct virtio_pci *vp, unsigned q)
{
	struct vp_queue *vq = &vp->q[q];

	if (q < vp->ops->nqueues && vq_should_notify(&vq->vq))
		vp_raise(vp, (int)q, __atomic_load_n(&vq->vector, __ATOMIC_RELAXED), 1);
}

void virtio_raise(struct virtio_pci *vp, unsigned q)
{
	if (q < vp->ops->nqueues)
		vp_raise(vp, (int)q, __atomic_load_n(&vp->q[q].vector, __ATOMIC_RELAXED), 1);
}

void virtio_config_changed(struct virtio_pci *vp)
{
	pthread_mutex_lock(&vp->lock);
	vp->cfg_gen++;
	pthread_mutex_unlock(&vp->lock);
	vp_raise(vp, -1, vp->config_vector, 2);
}

void virtio_needs_reset(struct virtio_pci *vp, const char *why)
{
	bool first;

	pthread_mutex_lock(&vp->lock);
	first = !(vp->status & VIRTIO_STATUS_NEEDS_RESET);
	if (vp->status & VIRTIO_STATUS_DRIVER_OK)
		vp->status |= VIRTIO_STATUS_NEEDS_RESET;
	pthread_mutex_unlock(&vp->lock);
	if (first) {
		log_warn("%s %s: %s; device needs reset", vp->ops->name, vp->vm->name, why);
		virtio_config_changed(vp);
	}
}

uint64_t virtio_features(const struct virtio_pci *vp)
{
	return vp->driver_features;
}

/* --- status, reset, features ----------------------------------------- */

/* Called with vp->lock held. */
static void vp_reset(struct virtio_pci *vp)
{
	pthread_mutex_unlock(&vp->lock);
	if (vp->ops->reset)
		vp->ops->reset(vp->dev);
	pthread_mutex_lock(&vp->lock);
	for (unsigned i = 0; i < vp->ops->nqueues; i++) {
		vq_reset(&vp->q[i].vq);
		vp->q[i].vq.size = vp->ops->queue_size;
		vp->q[i].vector = MSIX_NO_VECTOR;
	}
	vp->status = 0;
	vp->driver_features = 0;
	vp->dfselect = vp->gfselect = 0;
	vp->queue_select = 0;
	vp->config_vector = MSIX_NO_VECTOR;
	vp->isr = 0;
	if (vp->intx_level) {
		vp->intx_level = false;
		vm_irq_line(vp->vm, vp->intx_gsi, 0);
	}
}

static void vp_set_status(struct virtio_pci *vp, uint8_t s)
{
	if (s == 0) {
		vp_reset(vp);
		return;
	}
	if ((s & VIRTIO_STATUS_FEATURES_OK) && !(vp->status & VIRTIO_STATUS_FEATURES_OK)) {
		/* refuse feature sets we did not offer, and legacy drivers */
		if ((vp->driver_features & ~vp->offered) ||
		    !(vp->driver_features & (1ULL << VIRTIO_F_VERSION_1)))
			s &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
		for (unsigned i = 0; i < vp->ops->nqueues; i++) {
			vp->q[i].vq.event_idx = vp->driver_features & (1ULL << VIRTIO_F_EVENT_IDX);
			vp->q[i].vq.indirect = vp->driver_features & (1ULL << VIRTIO_F_INDIRECT_DESC);
		}
	}
	bool ok = (s & VIRTIO_STATUS_DRIVER_OK) && !(vp->status & VIRTIO_STATUS_DRIVER_OK);
	vp->status = (uint8_t)(s | (vp->status & VIRTIO_STATUS_NEEDS_RESET));
	if (ok && vp->ops->driver_ok && !(vp->status & VIRTIO_STATUS_NEEDS_RESET)) {
		pthread_mutex_unlock(&vp->lock);
		vp->ops->driver_ok(vp->dev);
		pthread_mutex_lock(&vp->lock);
	}
}

/* --- common configuration --------------------------------------------- */

static struct vp_queue *vp_selq(struct virtio_pci *vp)
{
	return vp->queue_select < vp->ops->nqueues ? &vp->q[vp->queue_select] : NULL;
}

static uint64_t vp_common_read(struct virtio_pci *vp, unsigned off)
{
	struct vp_queue *q = vp_selq(vp);

	switch (off) {
	case 0x00: return vp->dfselect;
	case 0x04: return vp->dfselect < 2 ? (uint32_t)(vp->offered >> (32 * vp->dfselect)) : 0;
	case 0x08: return vp->gfselect;
	case 0x0c: return vp->gfselect < 2 ? (uint32_t)(vp->driver_features >> (32 * vp->gfselect)) : 0;
	case 0x10: return vp->config_vector;
	case 0x12: return vp->ops->nqueues;
	case 0x14: return vp->status;
	case 0x15: return vp->cfg_gen;
	case 0x16: return vp->queue_select;
	case 0x18: return q ? q->vq.size : 0;
	case 0x1a: return q ? q->vector : MSIX_NO_VECTOR;
	case 0x1c: return q ? q->vq.enabled : 0;
	case 0x1e: return q ? q->index : 0;
	case 0x20: return q ? q->vq.desc_gpa : 0;
	case 0x28: return q ? q->vq.avail_gpa : 0;
	case 0x30: return q ? q->vq.used_gpa : 0;
	default: return 0;
	}
}

static void vp_queue_write(struct virtio_pci *vp, unsigned off, uint64_t v, unsigned len)
{
	struct vp_queue *q = vp_selq(vp);

	if (!q || q->vq.enabled)
		return; /* ring parameters are fixed while the queue is enabled */
	switch (off) {
	case 0x18:
		if (v && v <= vp->ops->queue_size && !(v & (v - 1)))
			q->vq.size = (uint16_t)v;
		break;
	case 0x1c:
		if (v == 1) {
			if (vq_enable(&q->vq) < 0)
				virtio_needs_reset(vp, "queue rings outside RAM or misaligned");
		}
		break;
	case 0x20: case 0x24: case 0x28: case 0x2c: case 0x30: case 0x34: {
		uint64_t *g = off < 0x28 ? &q->vq.desc_gpa : off < 0x30 ? &q->vq.avail_gpa
								  : &q->vq.used_gpa;
		if (len == 8)
			*g = v;
		else if (off & 4)
			*g = (*g & 0xffffffffULL) | v << 32;
		else
			*g = (*g & ~0xffffffffULL) | (uint32_t)v;
		break;
	}
	default:
		break;
	}
}

static void vp_common_write(struct virtio_pci *vp, unsigned off, uint64_t v, unsigned len)
{
	struct vp_queue *q;

	switch (off) {
	case 0x00: vp->dfselect = (uint32_t)v; break;
	case 0x08: vp->gfselect = (uint32_t)v; break;
	case 0x0c:
		if (vp->gfselect < 2 && !(vp->status & VIRTIO_STATUS_FEATURES_OK)) {
			unsigned sh = 32 * vp->gfselect;
			vp->driver_features = (vp->driver_features & ~(0xffffffffULL << sh)) |
					      ((uint64_t)(uint32_t)v << sh);
		}
		break;
	case 0x10: vp->config_vector = (uint16_t)v; break;
	case 0x14: vp_set_status(vp, (uint8_t)v); break;
	case 0x16: vp->queue_select = (uint16_t)v; break;
	case 0x1a:
		q = vp_selq(vp);
		if (q)
			__atomic_store_n(&q->vector, (uint16_t)(v < vp->msix.nvec ? v : MSIX_NO_VECTOR),
					 __ATOMIC_RELAXED);
		break;
	default:
		vp_queue_write(vp, off, v, len);
	}
}

/* --- BAR 0 ------------------------------------------------------------- */

static void vp_bar_io(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool wr)
{
	struct virtio_pci *vp = opaque;

	if (off >= OFF_MSIX_PBA) {
		msix_pba_io(&vp->msix, off - OFF_MSIX_PBA, data, len, wr);
	} else if (off >= OFF_MSIX_TABLE) {
		msix_table_io(&vp->msix, off - OFF_MSIX_TABLE, data, len, wr);
	} else if (off >= OFF_NOTIFY) {
		/* a kick that missed the ioeventfd (e.g. a 4-byte write) */
		unsigned qi = (unsigned)(off - OFF_NOTIFY) / NOTIFY_MULT;
		uint64_t one = 1;
		if (wr && qi < vp->ops->nqueues && write(vp->q[qi].kick_fd, &one, 8) < 0)
			log_debug("virtio: kick: %s", strerror(errno));
	} else if (off >= OFF_DEVICE) {
		unsigned o = (unsigned)(off - OFF_DEVICE);
		if (o + len > vp->ops->cfg_size)
			return;
		pthread_mutex_lock(&vp->lock);
		if (wr && vp->ops->cfg_write)
			vp->ops->cfg_write(vp->dev, o, data, len);
		else if (!wr)
			vp->ops->cfg_read(vp->dev, o, data, len);
		pthread_mutex_unlock(&vp->lock);
	} else if (off >= OFF_ISR) {
		if (wr || off != OFF_ISR)
			return;
		pthread_mutex_lock(&vp->lock);
		data[0] = vp->isr;
		vp->isr = 0; /* read to clear, and drop INTx */
		if (vp->intx_level) {
			vp->intx_level = false;
			vm_irq_line(vp->vm, vp->intx_gsi, 0);
		}
		pthread_mutex_unlock(&vp->lock);
	} else if (off + len <= COMMON_LEN && (len == 1 || len == 2 || len == 4 || len == 8) &&
		   !(off & (len - 1))) {
		pthread_mutex_lock(&vp->lock);
		if (wr)
			vp_common_write(vp, (unsigned)off, io_get(data, len), len);
		else
			io_put(data, len, vp_common_read(vp, (unsigned)off));
		pthread_mutex_unlock(&vp->lock);
	}
}

/* VIRTIO_PCI_CAP_PCI_CFG: a window onto BAR 0 through config space. */
static void vp_pcicfg_access(struct virtio_pci *vp, unsigned off, unsigned len)
{
	unsigned c = vp->pcicfg_cap, dlen;
	uint32_t boff;
	uint8_t buf[4];

	if (!c || off + len <= c + 16 || off >= c + 20)
		return;
	dlen = pci_get32(&vp->pci, c + 12);
	boff = pci_get32(&vp->pci, c + 8);
	if (vp->pci.cfg[c + 4] != 0 || (dlen != 1 && dlen != 2 && dlen != 4) ||
	    boff >= BAR_SIZE || boff + dlen > BAR_SIZE)
		return;
	memcpy(buf, &vp->pci.cfg[c + 16], 4);
	vp_bar_io(vp, boff, buf, dlen, true);
}

static void vp_config_write(struct pci_dev *d, unsigned off, unsigned len)
{
	struct virtio_pci *vp = d->opaque;

	msix_config_write(&vp->msix, off, len);
	vp_pcicfg_access(vp, off, len);
}

/* --- kicks ------------------------------------------------------------- */

static void vp_kick(void *opaque)
{
	struct vp_queue *q = opaque;
	struct virtio_pci *vp = q->vp;
	uint64_t n;
	bool ready;

	if (read(q->kick_fd, &n, sizeof(n)) < 0)
		return;
	pthread_mutex_lock(&vp->lock);
	ready = (vp->status & VIRTIO_STATUS_DRIVER_OK) &&
		!(vp->status & VIRTIO_STATUS_NEEDS_RESET) && q->vq.enabled;
	pthread_mutex_unlock(&vp->lock);
	if (ready)
		vp->ops->queue_notify(vp->dev, &q->vq, q->index);
}

static int vp_setup_queues(struct virtio_pci *vp)
{
	uint64_t notify = vp->pci.bar[0].addr + OFF_NOTIFY;

	vp->notify_base = notify;
	vp->q = calloc(vp->ops->nqueues, sizeof(*vp->q));
	if (!vp->q)
		return -ENOMEM;
	for (unsigned i = 0; i < vp->ops->nqueues; i++)
		vp->q[i].kick_fd = -1;
	for (unsigned i = 0; i < vp->ops->nqueues; i++) {
		struct vp_queue *q = &vp->q[i];
		int rc;

		vq_init(&q->vq, &vp->vm->mem);
		q->vq.size = vp->ops->queue_size;
		q->vector = MSIX_NO_VECTOR;
		q->vp = vp;
		q->index = i;
		q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (q->kick_fd < 0)
			return -errno;
		rc = irq_ioeventfd(vp->vm->vm_fd, notify + i * NOTIFY_MULT, 2, false,
				   q->kick_fd, true);
		q->ioeventfd = rc == 0;
		if (rc == 0)
			rc = evloop_add(vp->loop, q->kick_fd, vp_kick, q);
		if (rc < 0)
			return rc;
		q->watched = true;
	}
	return 0;
}

int virtio_pci_create(struct vm *vm, struct pci_bus *bus, struct evloop *loop,
		      const struct virtio_dev_ops *ops, void *dev,
		      struct virtio_pci **out)
{
	struct virtio_pci *vp = calloc(1, sizeof(*vp));
	int rc;

	if (!vp)
		return -ENOMEM;
	vp->vm = vm;
	vp->bus = bus;
	vp->loop = loop;
	vp->ops = ops;
	vp->dev = dev;
	vp->config_vector = MSIX_NO_VECTOR;
	vp->offered = ops->features | (1ULL << VIRTIO_F_VERSION_1) |
		      (1ULL << VIRTIO_F_EVENT_IDX) | (1ULL << VIRTIO_F_INDIRECT_DESC);
	pthread_mutex_init(&vp->lock, NULL);
	pci_dev_init(&vp->pci, ops->name, 0x1af4, (uint16_t)(0x1040 + ops->type),
		     ops->class_code, 1, 0x1af4, 0x1100);
	vp->pci.opaque = vp;
	vp->pci.config_write = vp_config_write;
	vp->pci.bar[0] = (struct pci_bar){ .size = BAR_SIZE, .fn = vp_bar_io, .opaque = vp };
	vp_add_cap(vp, CAP_COMMON, OFF_COMMON, COMMON_LEN, 0);
	vp_add_cap(vp, CAP_NOTIFY, OFF_NOTIFY, ops->nqueues * NOTIFY_MULT, 4);
	vp_add_cap(vp, CAP_ISR, OFF_ISR, 1, 0);
	if (ops->cfg_size)   /* none for a device without config (virtio-rng): Linux
			     * refuses a device-config capability of length 0 */
		vp_add_cap(vp, CAP_DEVICE, OFF_DEVICE, ops->cfg_size, 0);
	vp_add_cap(vp, CAP_PCI, 0, 0, 4);
	rc = msix_init(&vp->msix, vm, &vp->pci, ops->nqueues + 1, 0, OFF_MSIX_TABLE,
		       OFF_MSIX_PBA);
	if (rc == 0)
		rc = pci_register(bus, &vp->pci);
	if (rc == 0) {
		/* INTx: INTA of slot s swizzled onto GSI 16-19 (DSDT _PRT) */
		vp->intx_gsi = 16 + (vp->pci.slot + 3) % 4;
		vp->pci.cfg[PCI_INT_LINE] = (uint8_t)vp->intx_gsi;
		rc = vp_setup_queues(vp);
	}
	if (rc < 0) {
		log_err("%s: cannot create the device: %s", ops->name, strerror(-rc));
		virtio_pci_destroy(vp);
		return rc;
	}
	*out = vp;
	return 0;
}

struct virtqueue *virtio_queue(struct virtio_pci *vp, unsigned q)
{
	return q < vp->ops->nqueues ? &vp->q[q].vq : NULL;
}

int virtio_kick_handoff(struct virtio_pci *vp, unsigned qi, bool to_device)
{
	struct vp_queue *q = qi < vp->ops->nqueues ? &vp->q[qi] : NULL;

	if (!q || vp->unplugged)
		return -1;
	if (to_device && q->watched) {
		evloop_del(vp->loop, q->kick_fd);
		q->watched = false;
	} else if (!to_device && !q->watched) {
		q->watched = evloop_add(vp->loop, q->kick_fd, vp_kick, q) == 0;
		if (!q->watched)
			log_warn("%s %s: queue %u: cannot watch kicks again", vp->ops->name,
				 vp->vm->name, qi);
	}
	return q->kick_fd;
}

int virtio_call_share(struct virtio_pci *vp, unsigned qi, bool on)
{
	uint16_t v = qi < vp->ops->nqueues ? __atomic_load_n(&vp->q[qi].vector, __ATOMIC_RELAXED)
					     : MSIX_NO_VECTOR;

	if (v == MSIX_NO_VECTOR || v >= vp->msix.nvec)
		return -1;
	return msix_share(&vp->msix, v, on);
}

unsigned virtio_pci_slot(const struct virtio_pci *vp)
{
	return vp->pci.slot;
}

void virtio_pci_unplug(struct virtio_pci *vp)
{
	if (!vp || vp->unplugged)
		return;
	vp->unplugged = true;
	/* 1. off the bus: no vCPU reaches config space or the BAR after this */
	pci_unregister(vp->bus, &vp->pci);
	/* 2. no kick reaches the loop: KVM forgets the notify addresses (a
	 * new device may get them), the loop forgets the eventfds */
	for (unsigned i = 0; vp->q && i < vp->ops->nqueues; i++) {
		struct vp_queue *q = &vp->q[i];

		if (q->ioeventfd)
			irq_ioeventfd(vp->vm->vm_fd, vp->notify_base + i * NOTIFY_MULT, 2,
				      false, q->kick_fd, false);
		if (q->watched)
			evloop_del(vp->loop, q->kick_fd);
		q->ioeventfd = q->watched = false;
	}
	/* 3. a level INTx this device held goes down */
	pthread_mutex_lock(&vp->lock);
	if (vp->intx_level) {
		vp->intx_level = false;
		vm_irq_line(vp->vm, vp->intx_gsi, 0);
	}
	pthread_mutex_unlock(&vp->lock);
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
	if (!vp)
		return;
	virtio_pci_unplug(vp);
	for (unsigned i = 0; vp->q && i < vp->ops->nqueues; i++)
		if (vp->q[i].kick_fd >= 0)
			close(vp->q[i].kick_fd);
	free(vp->q);
	msix_destroy(&vp->msix);
	pthread_mutex_destroy(&vp->lock);
	free(vp);
}
