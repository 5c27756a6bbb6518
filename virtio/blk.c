/* blk.c - virtio-blk: request parsing, block-layer submission, completion. */
#include "xvm/virtio_blk.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xvm/log.h"
#include "xvm/trace.h"
#include "xvm/util.h"
#include "xvm/virtio.h"
#include "xvm/vm.h"

#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_MQ 12
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

enum { T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8, T_DISCARD = 11, T_WRITE_ZEROES = 13 };
enum { S_OK = 0, S_IOERR = 1, S_UNSUPP = 2 };

#define SECTOR 512ULL
#define CFG_SIZE 60
#define ID_LEN 20
#define MAX_QUEUES 16
#define QUEUE_SIZE 256

struct vblk {
	struct vm *vm;
	struct virtio_pci *vp;
	struct blk *img;
	struct virtio_dev_ops ops;
	char name[32];
	char id[ID_LEN];
	uint8_t cfg[CFG_SIZE];
	pthread_mutex_t lock;      /* in-flight count */
	pthread_cond_t idle;
	unsigned inflight;
	uint64_t poll_ns;          /* ring polling window after a batch */
	char *path;                /* image path as given */
	/* counters (relaxed atomics: bumped on the event loop and completion
	 * threads, read by the control thread) */
	_Atomic uint64_t rd_reqs, wr_reqs, rd_sectors, wr_sectors, flush_reqs;
	_Atomic uint64_t oo_reqs, errors;
};

/* Requests in flight beyond which a new one waits for an engine slot
 * (the io_uring depth; xentop's VBD_OO counts those). */
#define VBLK_ENGINE_SLOTS 256
#define CNT_ADD(b, f, n) atomic_fetch_add_explicit(&(b)->f, (n), memory_order_relaxed)

struct vblk_req {
	struct vblk *b;
	struct virtqueue *vq;
	unsigned q;
	uint32_t type;
	uint64_t sector;
	uint32_t bytes;            /* data bytes of a read or write */
	uint8_t *status;           /* last byte of the writable part */
	uint32_t written;          /* for the used ring */
	uint64_t t0;
	int iovcnt;
	struct iovec iov[VQ_MAX_IOV];
	struct vq_elem elem;
};

/* Copy the part of src[0..n) that starts at skip and is len long. */
static int iov_slice(const struct iovec *src, unsigned n, uint64_t skip, uint64_t len,
		     struct iovec *dst)
{
	int k = 0;

	for (unsigned i = 0; i < n && len; i++) {
		uint64_t l = src[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		dst[k].iov_base = (uint8_t *)src[i].iov_base + skip;
		dst[k].iov_len = MIN(l - skip, len);
		len -= dst[k].iov_len;
		skip = 0;
		k++;
	}
	return k;
}

static void vblk_inflight(struct vblk *b, int delta)
{
	pthread_mutex_lock(&b->lock);
	b->inflight = (unsigned)((int)b->inflight + delta);
	if (!b->inflight)
		pthread_cond_broadcast(&b->idle);
	pthread_mutex_unlock(&b->lock);
}

static void vblk_finish(struct vblk_req *r, uint8_t status)
{
	struct vblk *b = r->b;

	if (status == S_IOERR)
		CNT_ADD(b, errors, 1);
	*r->status = status;
	vq_push(r->vq, r->elem.head, r->written + 1);
	virtio_notify(b->vp, r->q);
	free(r);
	vblk_inflight(b, -1);
}

static void vblk_done(void *opaque, int result)
{
	struct vblk_req *r = opaque;

	XVM_PROBE(BLK_REQ_DONE, r->b->name, (int)r->type,
		  (unsigned long long)r->sector, r->bytes, result,
		  (unsigned long long)(now_ns() - r->t0));
	if (result < 0)
		r->written = 0;
	vblk_finish(r, result < 0 ? S_IOERR : S_OK);
}

/* Discard / write-zeroes: one segment {sector le64, num_sectors le32, flags le32}. */
static int vblk_segment(struct vblk_req *r, uint64_t *off, uint64_t *len)
{
	uint8_t seg[16];
	uint64_t sector;
	uint32_t n;

	if (r->elem.out_len != 16 + sizeof(seg) ||
	    vq_elem_read(&r->elem, 16, seg, sizeof(seg)) < 0)
		return -EINVAL;
	memcpy(&sector, seg, 8);
	memcpy(&n, seg + 8, 4);
	*off = sector * SECTOR;
	*len = (uint64_t)n * SECTOR;
	r->sector = sector;
	if (sector > blk_size(r->b->img) / SECTOR ||
	    n > blk_size(r->b->img) / SECTOR - sector)
		return -ERANGE;
	return 0;
}

static void vblk_count(struct vblk *b, enum blk_op op, uint64_t len)
{
	if (op == BLK_OP_READ) {
		CNT_ADD(b, rd_reqs, 1);
		CNT_ADD(b, rd_sectors, len / SECTOR);
	} else if (op == BLK_OP_WRITE) {
		CNT_ADD(b, wr_reqs, 1);
		CNT_ADD(b, wr_sectors, len / SECTOR);
	} else if (op == BLK_OP_FLUSH) {
		CNT_ADD(b, flush_reqs, 1);
	}
	if (__atomic_load_n(&b->inflight, __ATOMIC_RELAXED) > VBLK_ENGINE_SLOTS)
		CNT_ADD(b, oo_reqs, 1);
}

/* Start request r; returns the status to complete it with now, or -1 when
 * it was handed to the block layer (completion in vblk_done). */
static int vblk_start(struct vblk_req *r)
{
	struct vq_elem *e = &r->elem;
	struct blk *img = r->b->img;
	uint64_t off = r->sector * SECTOR, len = 0;
	enum blk_op op;
	int rc;

	switch (r->type) {
	case T_IN:
	case T_OUT:
		len = r->type == T_IN ? e->in_len - 1 : e->out_len - 16;
		if (len % SECTOR || len > UINT32_MAX || r->sector > blk_size(img) / SECTOR ||
		    len > blk_size(img) - off)
			return S_IOERR;
		r->bytes = (uint32_t)len;
		if (r->type == T_IN)
			r->iovcnt = iov_slice(e->iov + e->out_num, e->in_num, 0, len, r->iov);
		else
			r->iovcnt = iov_slice(e->iov, e->out_num, 16, len, r->iov);
		if (r->type == T_IN)
			r->written = (uint32_t)len;
		op = r->type == T_IN ? BLK_OP_READ : BLK_OP_WRITE;
		break;
	case T_FLUSH:
		op = BLK_OP_FLUSH;
		break;
	case T_GET_ID:
		len = MIN((uint64_t)ID_LEN, e->in_len - 1);
		if (vq_elem_write(e, 0, r->b->id, len) < 0)
			return S_IOERR;
		r->written = (uint32_t)len;
		return S_OK;
	case T_DISCARD:
	case T_WRITE_ZEROES:
		if (vblk_segment(r, &off, &len) < 0)
			return S_IOERR;
		op = r->type == T_DISCARD ? BLK_OP_DISCARD : BLK_OP_WRITE_ZEROES;
		break;
	default:
		return S_UNSUPP;
	}
	if (blk_is_readonly(img) && op != BLK_OP_READ && op != BLK_OP_FLUSH)
		return S_IOERR;
	XVM_PROBE(BLK_REQ_START, r->b->vm->cfg.domid, r->b->name, (int)r->type,
		  (unsigned long long)r->sector, r->bytes);
	r->t0 = now_ns();
	vblk_count(r->b, op, len);
	rc = blk_submit(img, op, off, r->iov, r->iovcnt, len, vblk_done, r);
	return rc < 0 ? S_IOERR : -1;
}

/* Take one request off the queue. 1: taken, 0: empty, -EIO: broken. */
static int vblk_pop(struct vblk *b, struct virtqueue *vq, unsigned q)
{
	struct vblk_req *r = malloc(sizeof(*r));
	const struct iovec *last;
	uint8_t hdr[16];
	int rc, st;

	if (!r)
		return 0; /* try again at the next kick */
	rc = vq_pop(vq, &r->elem);
	if (rc <= 0) {
		free(r);
		return rc;
	}
	r->b = b;
	r->vq = vq;
	r->q = q;
	r->written = r->bytes = 0;
	r->iovcnt = 0;
	r->sector = 0;
	if (!r->elem.in_num || vq_elem_read(&r->elem, 0, hdr, sizeof(hdr)) < 0) {
		/* no header or no status byte: a driver bug we cannot answer */
		free(r);
		virtio_needs_reset(b->vp, "request without header or status byte");
		return -EIO;
	}
	last = &r->elem.iov[r->elem.out_num + r->elem.in_num - 1];
	r->status = (uint8_t *)last->iov_base + last->iov_len - 1;
	memcpy(&r->type, hdr, 4);
	memcpy(&r->sector, hdr + 8, 8);
	vblk_inflight(b, 1);
	st = vblk_start(r);
	if (st >= 0) {
		if (st != S_OK)
			r->written = 0;
		vblk_finish(r, (uint8_t)st);
	}
	return 1;
}

/* After a batch, watch the ring for poll_ns with kicks left off: a driver
 * that submits again within the window costs no VM exit (an exit is worth
 * 50-100 us on PVM hosts, a few us elsewhere). Only a nearly idle device
 * polls (at most one request in flight: a driver waiting for that answer
 * to send the next): with more in flight, spinning here would take the CPU
 * the completions need, and the driver's next kick is cheap by comparison.
 * Returns true when work came. */
static bool vblk_poll(struct vblk *b, struct virtqueue *vq)
{
	uint64_t end;

	if (!b->poll_ns)
		return false;
	end = now_ns() + b->poll_ns;
	do {
		if (__atomic_load_n(&b->inflight, __ATOMIC_RELAXED) > 1)
			return false;
		if (vq_set_notify(vq, false))
			return true;
		__builtin_ia32_pause();
	} while (now_ns() < end);
	return false;
}

static void vblk_queue_notify(void *dev, struct virtqueue *vq, unsigned q)
{
	struct vblk *b = dev;
	int rc;

	XVM_PROBE(VIRTIO_NOTIFY, b->vm->cfg.domid, b->name, (int)q);
	do {
		do {
			while ((rc = vblk_pop(b, vq, q)) > 0)
				;
			if (rc < 0) {
				virtio_needs_reset(b->vp, vq->why ? vq->why : "malformed request");
				return;
			}
		} while (vblk_poll(b, vq));
	} while (vq_set_notify(vq, true));
}

static void vblk_cfg_read(void *dev, unsigned off, uint8_t *data, unsigned len)
{
	struct vblk *b = dev;

	memcpy(data, b->cfg + off, len);
}

static void vblk_reset(void *dev)
{
	struct vblk *b = dev;

	pthread_mutex_lock(&b->lock);
	while (b->inflight)
		pthread_cond_wait(&b->idle, &b->lock);
	pthread_mutex_unlock(&b->lock);
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void vblk_fill_config(struct vblk *b, unsigned nq)
{
	uint64_t sectors = blk_size(b->img) / SECTOR;

	put_le(b->cfg + 0, sectors, 8);              /* capacity */
	put_le(b->cfg + 12, VQ_MAX_IOV - 2, 4);      /* seg_max */
	put_le(b->cfg + 20, SECTOR, 4);              /* blk_size */
	put_le(b->cfg + 34, nq, 2);                  /* num_queues */
	put_le(b->cfg + 36, 0x3fffff, 4);            /* max_discard_sectors */
	put_le(b->cfg + 40, 1, 4);                   /* max_discard_seg */
	put_le(b->cfg + 44, 8, 4);                   /* discard_sector_alignment */
	put_le(b->cfg + 48, 0x3fffff, 4);            /* max_write_zeroes_sectors */
	put_le(b->cfg + 52, 1, 4);                   /* max_write_zeroes_seg */
	b->cfg[56] = 1;                              /* write_zeroes_may_unmap */
}

int vblk_create(struct vm *vm, struct pci_bus *bus, struct evloop *loop,
		const struct vblk_opts *o, struct vblk **out)
{
	struct vblk *b = calloc(1, sizeof(*b));
	unsigned nq = o->queues ? o->queues : 1;
	int rc;

	if (!b)
		return -ENOMEM;
	b->vm = vm;
	b->poll_ns = (o->poll_us == VBLK_POLL_DEFAULT ? 64 : o->poll_us) * 1000ULL;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->idle, NULL);
	snprintf(b->name, sizeof(b->name), "%s", o->id ? o->id : "disk");
	strncpy(b->id, o->id ? o->id : "", ID_LEN);
	b->path = strdup(o->image.path);
	if (!b->path) {
		free(b);
		return -ENOMEM;
	}
	{
		struct blk_opts io = o->image;

		io.inline_done = true; /* vblk_done takes no lock the submit path holds */
		rc = blk_open(&io, &b->img);
	}
	if (rc < 0) {
		free(b->path);
		free(b);
		return rc;
	}
	vblk_fill_config(b, nq);
	b->ops = (struct virtio_dev_ops){
		.name = "virtio-blk", .type = VIRTIO_ID_BLOCK, .class_code = 0x018000,
		.features = (1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
			    (1ULL << VIRTIO_BLK_F_FLUSH) | (1ULL << VIRTIO_BLK_F_DISCARD) |
			    (1ULL << VIRTIO_BLK_F_WRITE_ZEROES) |
			    (nq > 1 ? 1ULL << VIRTIO_BLK_F_MQ : 0) |
			    (blk_is_readonly(b->img) ? 1ULL << VIRTIO_BLK_F_RO : 0),
		.nqueues = nq, .queue_size = QUEUE_SIZE, .cfg_size = CFG_SIZE,
		.cfg_read = vblk_cfg_read, .queue_notify = vblk_queue_notify,
		.reset = vblk_reset,
	};
	rc = virtio_pci_create(vm, bus, loop, &b->ops, b, &b->vp);
	if (rc < 0) {
		vblk_destroy(b);
		return rc;
	}
	log_info("disk %s: %s (%s, %llu MiB%s), I/O engine %s", b->name, o->image.path,
		 blk_format_of(b->img) == BLK_FMT_QCOW2 ? "qcow2" : "raw",
		 (unsigned long long)(blk_size(b->img) >> 20),
		 blk_is_readonly(b->img) ? ", read-only" : "", blk_engine_name(b->img));
	*out = b;
	return 0;
}

void vblk_destroy(struct vblk *b)
{
	if (!b)
		return;
	virtio_pci_unplug(b->vp);   /* no new requests (hot-unplug safe) */
	vblk_reset(b);              /* in-flight ones complete */
	virtio_pci_destroy(b->vp);
	blk_close(b->img);
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->idle);
	free(b->path);
	free(b);
}

unsigned vblk_slot(const struct vblk *b)
{
	return virtio_pci_slot(b->vp);
}

const char *vblk_id(const struct vblk *b)
{
	return b->name;
}

void vblk_get_info(struct vblk *b, struct vblk_info *i)
{
	*i = (struct vblk_info){
		.id = b->name, .path = b->path,
		.format = blk_format_name(blk_format_of(b->img)),
		.readonly = blk_is_readonly(b->img),
		.slot = virtio_pci_slot(b->vp),
		.rd_reqs = atomic_load_explicit(&b->rd_reqs, memory_order_relaxed),
		.wr_reqs = atomic_load_explicit(&b->wr_reqs, memory_order_relaxed),
		.rd_sectors = atomic_load_explicit(&b->rd_sectors, memory_order_relaxed),
		.wr_sectors = atomic_load_explicit(&b->wr_sectors, memory_order_relaxed),
		.flush_reqs = atomic_load_explicit(&b->flush_reqs, memory_order_relaxed),
		.oo_reqs = atomic_load_explicit(&b->oo_reqs, memory_order_relaxed),
		.errors = atomic_load_explicit(&b->errors, memory_order_relaxed),
	};
}

int vblk_parse(const char *spec, char *buf, struct vblk_opts *o)
{
	char *save = NULL, *tok;

	memset(o, 0, sizeof(*o));
	o->poll_us = VBLK_POLL_DEFAULT;
	strcpy(buf, spec);
	tok = strtok_r(buf, ",", &save);
	if (!tok || spec[0] == ',') {
		log_err("--disk '%s': needs a path (PATH[,format=raw|qcow2][,readonly][,id=NAME])",
			spec);
		return -EINVAL;
	}
	o->image.path = tok;
	while ((tok = strtok_r(NULL, ",", &save))) {
		uint64_t n;
		if (!strcmp(tok, "readonly") || !strcmp(tok, "ro"))
			o->image.readonly = true;
		else if (!strcmp(tok, "format=raw"))
			o->image.format = BLK_FMT_RAW;
		else if (!strcmp(tok, "format=qcow2"))
			o->image.format = BLK_FMT_QCOW2;
		else if (!strncmp(tok, "id=", 3) && tok[3] && strlen(tok + 3) <= ID_LEN)
			o->id = tok + 3;
		else if (!strncmp(tok, "queues=", 7) &&
			 parse_uint(tok + 7, 1, MAX_QUEUES, &n) == 0)
			o->queues = (unsigned)n;
		else if (!strncmp(tok, "poll=", 5) && parse_uint(tok + 5, 0, 1000, &n) == 0)
			o->poll_us = (unsigned)n;
		else {
			log_err("--disk '%s': unknown or bad option '%s' (format=raw|qcow2, "
				"readonly, id=NAME (20 chars), queues=1..16, poll=0..1000 us)", spec, tok);
			return -EINVAL;
		}
	}
	return 0;
}
