/* test_virtqueue.c - unit tests of the split virtqueue: chains, indirect, event idx, hostile rings (threads: test_virtqueue_mt.c). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/vq_fixture.h"

/* The queue must be broken for a reason containing `why`, and stay so. */
static void expect_broken(struct fx *f, const char *why)
{
	struct vq_elem e;
	int rc = vq_pop(&f->vq, &e);

	CHECK(rc == -EIO);
	CHECK(f->vq.broken);
	CHECK(f->vq.why && strstr(f->vq.why, why));
	if (rc != -EIO || !f->vq.why || !strstr(f->vq.why, why))
		fprintf(stderr, "  expected \"%s\", got rc %d why \"%s\"\n", why, rc,
			f->vq.why ? f->vq.why : "(null)");
	CHECK(vq_pop(&f->vq, &e) == -EIO);
}

static void test_simple(struct guestmem *gm)
{
	struct fx f;
	struct vq_elem e;
	uint8_t buf[100], got[100];

	fx_setup(&f, gm, 16, false, false);
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 1);
	memcpy(host(&f, BUF), buf, sizeof(buf));
	set_desc(&f, DESC, 5, BUF, 100, 0, 0);
	CHECK(vq_pop(&f.vq, &e) == 0);
	publish(&f, 5);
	CHECK(vq_pop(&f.vq, &e) == 1);
	CHECK(e.head == 5);
	CHECK(e.out_num == 1 && e.in_num == 0);
	CHECK(e.out_len == 100 && e.in_len == 0);
	CHECK(e.iov[0].iov_base == gm->host + BUF && e.iov[0].iov_len == 100);
	CHECK(vq_elem_read(&e, 0, got, 100) == 0 && !memcmp(got, buf, 100));
	CHECK(vq_elem_read(&e, 1, got, 100) == -EFAULT);
	CHECK(vq_elem_write(&e, 0, got, 1) == -EFAULT);
	CHECK(vq_pop(&f.vq, &e) == 0);
	vq_push(&f.vq, 5, 0);
	CHECK(used_idx(&f) == 1);
	CHECK(rd32(&f, USED + 4) == 5 && rd32(&f, USED + 8) == 0);
	/* a completion for a head the device never had is dropped */
	vq_push(&f.vq, 16, 1);
	CHECK(used_idx(&f) == 1);
}

static void test_out_in(struct guestmem *gm)
{
	struct fx f;
	struct vq_elem e;
	uint8_t src[20], got[20];

	fx_setup(&f, gm, 16, false, false);
	for (unsigned i = 0; i < 0x400; i++)
		((uint8_t *)host(&f, BUF))[i] = (uint8_t)i;
	set_desc(&f, DESC, 3, BUF, 10, F_NEXT, 9);
	set_desc(&f, DESC, 9, BUF + 0x100, 20, F_NEXT, 0);
	set_desc(&f, DESC, 0, BUF + 0x200, 30, F_NEXT | F_WRITE, 15);
	set_desc(&f, DESC, 15, BUF + 0x300, 40, F_WRITE, 1);
	publish(&f, 3);
	CHECK(vq_pop(&f.vq, &e) == 1);
	CHECK(e.head == 3 && e.out_num == 2 && e.in_num == 2);
	CHECK(e.out_len == 30 && e.in_len == 70);
	CHECK(e.iov[1].iov_base == gm->host + BUF + 0x100 && e.iov[1].iov_len == 20);
	CHECK(e.iov[3].iov_base == gm->host + BUF + 0x300 && e.iov[3].iov_len == 40);
	/* a read across the segment boundary: bytes 5..9 then 0x100..0x104 */
	CHECK(vq_elem_read(&e, 5, got, 10) == 0);
	CHECK(got[0] == 5 && got[4] == 9 && got[5] == 0x00 && got[9] == 0x04);
	/* starting past the first segment: byte 12 is 0x102 of the second */
	CHECK(vq_elem_read(&e, 12, got, 3) == 0 && got[0] == 0x02 && got[2] == 0x04);
	CHECK(vq_elem_read(&e, 25, got, 6) == -EFAULT);
	CHECK(vq_elem_read(&e, 30, got, 0) == 0);
	CHECK(vq_elem_read(&e, UINT64_MAX, got, 2) == -EFAULT);
	memset(src, 0xab, sizeof(src));
	CHECK(vq_elem_write(&e, 25, src, 20) == 0);
	CHECK(((uint8_t *)host(&f, BUF + 0x200))[24] == 24);
	CHECK(((uint8_t *)host(&f, BUF + 0x200))[25] == 0xab);
	CHECK(((uint8_t *)host(&f, BUF + 0x300))[14] == 0xab);
	CHECK(((uint8_t *)host(&f, BUF + 0x300))[15] == 15);
	CHECK(vq_elem_write(&e, 60, src, 11) == -EFAULT);
	vq_push(&f.vq, e.head, 45);
	CHECK(used_idx(&f) == 1 && rd32(&f, USED + 4) == 3 && rd32(&f, USED + 8) == 45);
}

static void test_indirect(struct guestmem *gm)
{
	struct fx f;
	struct vq_elem e;

	fx_setup(&f, gm, 16, false, true);
	/* head is an indirect table; its WRITE flag must be ignored */
	set_desc(&f, DESC, 0, TABLE, 48, F_INDIRECT | F_WRITE, 0);
	set_desc(&f, TABLE, 0, BUF, 16, F_NEXT, 2);
	set_desc(&f, TABLE, 2, BUF + 0x100, 32, F_NEXT | F_WRITE, 1);
	set_desc(&f, TABLE, 1, BUF + 0x200, 1, F_WRITE, 0);
	/* a direct descriptor followed by an indirect one ending the chain */
	set_desc(&f, DESC, 1, BUF + 0x300, 8, F_NEXT, 2);
	set_desc(&f, DESC, 2, TABLE + 0x100, 16, F_INDIRECT, 0);
	set_desc(&f, TABLE + 0x100, 0, BUF + 0x400, 512, F_WRITE, 0);
	publish(&f, 0);
	publish(&f, 1);
	CHECK(vq_pop(&f.vq, &e) == 1);
	CHECK(e.head == 0 && e.out_num == 1 && e.in_num == 2);
	CHECK(e.out_len == 16 && e.in_len == 33);
	CHECK(e.iov[1].iov_base == gm->host + BUF + 0x100);
	CHECK(e.iov[2].iov_base == gm->host + BUF + 0x200 && e.iov[2].iov_len == 1);
	CHECK(vq_pop(&f.vq, &e) == 1);
	CHECK(e.head == 1 && e.out_num == 1 && e.in_num == 1);
	CHECK(e.out_len == 8 && e.in_len == 512);
	CHECK(e.iov[1].iov_base == gm->host + BUF + 0x400);
	CHECK(vq_pop(&f.vq, &e) == 0);
}

/* Exactly VQ_MAX_IOV segments are fine; one more breaks the queue. */
static void test_max_segments(struct guestmem *gm)
{
	struct fx f;
	struct vq_elem e;

	for (unsigned extra = 0; extra < 2; extra++) {
		unsigned n = VQ_MAX_IOV + extra;

		fx_setup(&f, gm, 16, false, true);
		for (unsigned i = 0; i < n; i++)
			set_desc(&f, TABLE, i, BUF + i, 1, i + 1 < n ? F_NEXT : 0,
				 (uint16_t)(i + 1));
		set_desc(&f, DESC, 0, TABLE, 16 * n, F_INDIRECT, 0);
		publish(&f, 0);
		if (!extra) {
			CHECK(vq_pop(&f.vq, &e) == 1);
			CHECK(e.out_num == VQ_MAX_IOV && e.out_len == VQ_MAX_IOV);
		} else {
			expect_broken(&f, "too many segments");
		}
	}
}

/* Notify decisions with event idx, including the 16-bit wrap. */
static void test_event_idx_notify(struct guestmem *gm)
{
	static const struct {
		uint16_t start, pushes, used_event;
		bool expect;
	} cases[] = {
		{ 0, 1, 5, true },          /* first one after reset: always */
		{ 65534, 2, 65535, true },  /* event in [65534, 0) across the wrap */
		{ 65534, 2, 0, false },     /* event at the new idx: not yet */
		{ 65534, 2, 65533, false }, /* event already behind */
		{ 65535, 3, 1, true },      /* [65535, 2) contains 1 */
		{ 100, 5, 104, true },
		{ 100, 5, 105, false },
	};
	struct fx f;

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fx_setup(&f, gm, 8, true, false);
		f.vq.used_idx = cases[i].start;
		f.vq.signalled_used = cases[i].start;
		f.vq.signalled_valid = i != 0;
		wr16(&f, AVAIL + 4 + 2 * 8, cases[i].used_event);
		for (unsigned k = 0; k < cases[i].pushes; k++)
			vq_push(&f.vq, (uint16_t)k, 0);
		CHECK(used_idx(&f) == (uint16_t)(cases[i].start + cases[i].pushes));
		CHECK(vq_should_notify(&f.vq) == cases[i].expect);
		/* nothing pushed since: never notify twice for the same batch */
		CHECK(!vq_should_notify(&f.vq));
	}
}

/* avail_event publication and kick suppression with event idx. */
static void test_event_idx_kicks(struct guestmem *gm)
{
	struct fx f;
	struct vq_elem e;
	const uint64_t avail_event = USED + 4 + 8 * 8;

	fx_setup(&f, gm, 8, true, false);
	for (unsigned i = 0; i < 8; i++)
		set_desc(&f, DESC, i, BUF, 4, 0, 0);
	wr16(&f, avail_event, 0x5555);
	CHECK(!vq_set_notify(&f.vq, true));
	CHECK(rd16(&f, avail_event) == 0);
	publish(&f, 1);
	CHECK(vq_set_notify(&f.vq, true));
	CHECK(vq_pop(&f.vq, &e) == 1 && vq_pop(&f.vq, &e) == 0);
	/* an empty ring leaves avail_event at last_avail: the driver will kick */
	CHECK(rd16(&f, avail_event) == 1);
	CHECK(!vq_set_notify(&f.vq, false));
	publish(&f, 2);
	publish(&f, 3);
	CHECK(vq_pop(&f.vq, &e) == 1 && vq_pop(&f.vq, &e) == 1);
	CHECK(vq_pop(&f.vq, &e) == 0);
	CHECK(rd16(&f, avail_event) == 1); /* suppressed: left behind */
	CHECK(!vq_set_notify(&f.vq, true));
	CHECK(rd16(&f, avail_event) == 3);
	CHECK(rd16(&f, USED) == 0); /* the flag is not used with event idx */
}

/* Without event idx: the NO_INTERRUPT / NO_NOTIFY flags. */
static void test_flags(struct guestmem *gm)
{
	struct fx f;

	fx_setup(&f, gm, 8, false, false);
	vq_push(&f.vq, 0, 0);
	CHECK(vq_should_notify(&f.vq));
	wr16(&f, AVAIL, 1);
	CHECK(!vq_should_notify(&f.vq));
	wr16(&f, AVAIL, 0);
	CHECK(vq_should_notify(&f.vq));
	CHECK(!vq_set_notify(&f.vq, false));
	CHECK(rd16(&f, USED) == 1);
	publish(&f, 0);
	CHECK(vq_set_notify(&f.vq, true));
	CHECK(rd16(&f, USED) == 0);
}

/* Avail and used indices wrapping at 2^16; the size-ahead limit. */
static void test_wrap(struct guestmem *gm)
{
	struct fx f;
	struct vq_elem e;
	unsigned popped = 0;

	fx_setup(&f, gm, 8, true, false);
	for (unsigned i = 0; i < 8; i++)
		set_desc(&f, DESC, i, BUF + 0x100 * i, 4, 0, 0);
	f.avail = 65530;
	f.vq.last_avail = 65530;
	f.vq.used_idx = 65533;
	for (unsigned round = 0; round < 3; round++) {
		for (unsigned k = 0; k < 5; k++)
			publish(&f, (uint16_t)((round * 5 + k) % 8));
		for (unsigned k = 0; k < 5; k++) {
			CHECK(vq_pop(&f.vq, &e) == 1);
			CHECK(e.head == (round * 5 + k) % 8);
			CHECK(e.iov[0].iov_base == gm->host + BUF + 0x100 * e.head);
			vq_push(&f.vq, e.head, 0);
			popped++;
		}
		CHECK(vq_pop(&f.vq, &e) == 0);
	}
	CHECK(popped == 15 && f.vq.last_avail == (uint16_t)(65530 + 15));
	CHECK(used_idx(&f) == (uint16_t)(65533 + 15));
	CHECK(rd32(&f, USED + 4 + 8 * ((65533 + 14) & 7)) == 14 % 8);
	/* exactly size ahead (across the wrap) is fine ... */
	f.avail = 65534;
	f.vq.last_avail = 65534;
	for (unsigned k = 0; k < 8; k++)
		publish(&f, (uint16_t)k);
	CHECK(vq_pop(&f.vq, &e) == 1 && e.head == 0);
	/* ... one more than size ahead is not */
	wr16(&f, AVAIL + 2, (uint16_t)(65535 + 9));
	expect_broken(&f, "more than queue size ahead");
}

/* One hostile ring per case: built by fn, must break with `why`. */
struct hostile {
	const char *name;
	bool indirect;
	void (*fn)(struct fx *f);
	const char *why;
};

static void h_head(struct fx *f) { publish(f, 16); }
static void h_next(struct fx *f) { set_desc(f, DESC, 0, BUF, 4, F_NEXT, 16); publish(f, 0); }
static void h_self_loop(struct fx *f) { set_desc(f, DESC, 0, BUF, 4, F_NEXT, 0); publish(f, 0); }

static void h_loop(struct fx *f)
{
	set_desc(f, DESC, 0, BUF, 4, F_NEXT, 1);
	set_desc(f, DESC, 1, BUF, 4, F_NEXT, 2);
	set_desc(f, DESC, 2, BUF, 4, F_NEXT, 1);
	publish(f, 0);
}

static void h_ind_loop(struct fx *f)
{
	set_desc(f, DESC, 0, TABLE, 64, F_INDIRECT, 0);
	set_desc(f, TABLE, 0, BUF, 4, F_NEXT, 3);
	set_desc(f, TABLE, 3, BUF, 4, F_NEXT, 0);
	publish(f, 0);
}

static void h_ind_next(struct fx *f)
{
	set_desc(f, DESC, 0, TABLE, 32, F_INDIRECT, 0);
	set_desc(f, TABLE, 0, BUF, 4, F_NEXT, 2);
	publish(f, 0);
}

static void h_nested(struct fx *f)
{
	set_desc(f, DESC, 0, TABLE, 32, F_INDIRECT, 0);
	set_desc(f, TABLE, 0, BUF, 4, F_NEXT, 1);
	set_desc(f, TABLE, 1, TABLE + 0x100, 16, F_INDIRECT, 0);
	set_desc(f, TABLE + 0x100, 0, BUF, 4, 0, 0);
	publish(f, 0);
}

static void h_ind_len(struct fx *f) { set_desc(f, DESC, 0, TABLE, 24, F_INDIRECT, 0); publish(f, 0); }
static void h_ind_empty(struct fx *f) { set_desc(f, DESC, 0, TABLE, 0, F_INDIRECT, 0); publish(f, 0); }
static void h_ind_ram(struct fx *f) { set_desc(f, DESC, 0, RAM - 16, 32, F_INDIRECT, 0); publish(f, 0); }
static void h_ind_flag(struct fx *f) { set_desc(f, DESC, 0, TABLE, 16, F_INDIRECT, 0); publish(f, 0); }

static void h_ind_with_next(struct fx *f)
{
	set_desc(f, DESC, 0, TABLE, 16, F_INDIRECT | F_NEXT, 1);
	set_desc(f, TABLE, 0, BUF, 4, 0, 0);
	set_desc(f, DESC, 1, BUF, 4, 0, 0);
	publish(f, 0);
}

static void h_buf_ram(struct fx *f) { set_desc(f, DESC, 0, RAM - 10, 20, 0, 0); publish(f, 0); }
static void h_buf_wrap(struct fx *f) { set_desc(f, DESC, 0, UINT64_MAX - 15, 32, 0, 0); publish(f, 0); }
static void h_buf_hole(struct fx *f) { set_desc(f, DESC, 0, GUESTMEM_HOLE_START, 1, 0, 0); publish(f, 0); }
static void h_zero(struct fx *f) { set_desc(f, DESC, 0, BUF, 0, 0, 0); publish(f, 0); }

static void h_buf_ram_later(struct fx *f)
{
	set_desc(f, DESC, 0, BUF, 4, F_NEXT, 1);
	set_desc(f, DESC, 1, RAM, 1, F_WRITE, 0);
	publish(f, 0);
}

static void h_rw_order(struct fx *f)
{
	set_desc(f, DESC, 0, BUF, 4, F_WRITE | F_NEXT, 1);
	set_desc(f, DESC, 1, BUF, 4, 0, 0);
	publish(f, 0);
}

static void h_rw_order_ind(struct fx *f)
{
	set_desc(f, DESC, 0, BUF, 4, F_WRITE | F_NEXT, 1);
	set_desc(f, DESC, 1, TABLE, 16, F_INDIRECT, 0);
	set_desc(f, TABLE, 0, BUF, 4, 0, 0);
	publish(f, 0);
}

static void h_jump(struct fx *f) { wr16(f, AVAIL + 2, 17); }
/* a transport that changes the rings of an enabled queue (a VMM bug) */
static void h_moved(struct fx *f) { publish(f, 0); f->vq.used_gpa = RAM - 64; }
static void h_resized(struct fx *f) { publish(f, 0); f->vq.size = 24; }

static const struct hostile hostile_cases[] = {
	{ "head index", false, h_head, "head index out of range" },
	{ "next index", false, h_next, "next index out of range" },
	{ "self loop", false, h_self_loop, "loop in descriptor chain" },
	{ "loop", false, h_loop, "loop in descriptor chain" },
	{ "indirect loop", true, h_ind_loop, "loop in indirect table" },
	{ "indirect next", true, h_ind_next, "indirect next index out of range" },
	{ "nested indirect", true, h_nested, "nested indirect" },
	{ "indirect len", true, h_ind_len, "not a multiple of 16" },
	{ "indirect empty", true, h_ind_empty, "not a multiple of 16" },
	{ "indirect outside", true, h_ind_ram, "indirect table outside" },
	{ "indirect not negotiated", false, h_ind_flag, "not negotiated" },
	{ "indirect with next", true, h_ind_with_next, "with NEXT" },
	{ "buffer outside", false, h_buf_ram, "buffer outside guest RAM" },
	{ "buffer wraps", false, h_buf_wrap, "buffer outside guest RAM" },
	{ "buffer in hole", false, h_buf_hole, "buffer outside guest RAM" },
	{ "later buffer outside", false, h_buf_ram_later, "buffer outside guest RAM" },
	{ "zero length", false, h_zero, "zero-length" },
	{ "readable after writable", false, h_rw_order, "readable buffer after" },
	{ "readable after writable (indirect)", true, h_rw_order_ind, "readable buffer after" },
	{ "avail jump", false, h_jump, "more than queue size ahead" },
	{ "rings moved while enabled", false, h_moved, "ring outside guest RAM" },
	{ "size changed while enabled", false, h_resized, "ring outside guest RAM" },
};

static void test_hostile(struct guestmem *gm)
{
	struct fx f;

	for (unsigned i = 0; i < sizeof(hostile_cases) / sizeof(hostile_cases[0]); i++) {
		const struct hostile *h = &hostile_cases[i];
		int before = check_failures;

		fx_setup(&f, gm, 16, false, h->indirect);
		h->fn(&f);
		expect_broken(&f, h->why);
		CHECK(f.vq.last_avail == 0);
		if (check_failures != before)
			fprintf(stderr, "  in hostile case \"%s\"\n", h->name);
	}
}

/* Total length over 4 GiB needs more RAM than the rest: 3 GiB low + 2 GiB
 * high, reserved but never touched. Also checks high-RAM translation. */
static void test_total_length(void)
{
	struct guestmem big;
	struct fx f;
	struct vq_elem e;

	CHECK(gm_init(&big, 5ULL << 30) == 0);
	if (!big.host)
		return;
	fx_setup(&f, &big, 16, false, false);
	set_desc(&f, DESC, 0, GUESTMEM_4G, 1u << 31, F_NEXT, 1);
	set_desc(&f, DESC, 1, GUESTMEM_4G, 1u << 31, 0, 0);
	publish(&f, 0);
	CHECK(vq_pop(&f.vq, &e) == 1);
	CHECK(e.out_len == 1ULL << 32);
	CHECK(e.iov[0].iov_base == big.host + GUESTMEM_HOLE_START);
	set_desc(&f, DESC, 1, GUESTMEM_4G, 1u << 31, F_NEXT | F_WRITE, 2);
	set_desc(&f, DESC, 2, GUESTMEM_4G, 1, F_WRITE, 0);
	publish(&f, 0);
	expect_broken(&f, "longer than 4 GiB");
	/* a buffer straddling the end of low RAM (the hole) is not RAM */
	fx_setup(&f, &big, 16, false, false);
	set_desc(&f, DESC, 0, GUESTMEM_HOLE_START - 8, 16, 0, 0);
	publish(&f, 0);
	expect_broken(&f, "buffer outside guest RAM");
	gm_free(&big);
}

static void test_enable(struct guestmem *gm)
{
	static const struct {
		uint16_t size;
		uint64_t desc, avail, used;
		int rc;
	} cases[] = {
		{ 16, DESC, AVAIL, USED, 0 },
		{ 1, DESC, AVAIL, USED, 0 },
		{ 32768, 0x100000, 0x200000, 0x300000, 0 },
		{ 0, DESC, AVAIL, USED, -EINVAL },
		{ 3, DESC, AVAIL, USED, -EINVAL },
		{ 48, DESC, AVAIL, USED, -EINVAL },
		{ 65535, DESC, AVAIL, USED, -EINVAL },
		{ 16, DESC + 8, AVAIL, USED, -EINVAL },
		{ 16, DESC, AVAIL + 1, USED, -EINVAL },
		{ 16, DESC, AVAIL, USED + 2, -EINVAL },
		{ 16, RAM - 128, AVAIL, USED, -EINVAL },
		{ 16, RAM - 256, AVAIL, USED, 0 },
		{ 16, DESC, RAM - 36, USED, -EINVAL },
		{ 16, DESC, RAM - 38, USED, 0 },
		{ 16, DESC, AVAIL, RAM - 132, -EINVAL },
		{ 16, DESC, AVAIL, RAM - 136, 0 },
		{ 16, DESC, AVAIL, GUESTMEM_HOLE_START, -EINVAL },
		{ 16, UINT64_MAX - 15, AVAIL, USED, -EINVAL },
	};
	struct virtqueue vq;

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		vq_init(&vq, gm);
		vq.size = cases[i].size;
		vq.desc_gpa = cases[i].desc;
		vq.avail_gpa = cases[i].avail;
		vq.used_gpa = cases[i].used;
		CHECK(vq_enable(&vq) == cases[i].rc);
		CHECK(vq.enabled == !cases[i].rc);
		if (vq_enable(&vq) != cases[i].rc)
			fprintf(stderr, "  in enable case %u\n", i);
	}
}

/* After -EIO nothing works until vq_reset; then the queue starts afresh. */
static void test_reset(struct guestmem *gm)
{
	struct fx f;
	struct vq_elem e;

	fx_setup(&f, gm, 16, true, false);
	set_desc(&f, DESC, 0, BUF, 4, F_NEXT, 0);
	publish(&f, 0);
	expect_broken(&f, "loop");
	set_desc(&f, DESC, 0, BUF, 4, 0, 0); /* fixing the ring is not enough */
	CHECK(vq_pop(&f.vq, &e) == -EIO);
	vq_push(&f.vq, 0, 4);
	CHECK(used_idx(&f) == 0);
	CHECK(!vq_should_notify(&f.vq));
	CHECK(!vq_set_notify(&f.vq, true));
	vq_reset(&f.vq);
	CHECK(!f.vq.broken && !f.vq.enabled && !f.vq.why);
	CHECK(vq_pop(&f.vq, &e) == 0); /* disabled: nothing to do */
	memset(host(&f, AVAIL), 0, 0x100);
	f.avail = 0;
	CHECK(vq_enable(&f.vq) == 0);
	publish(&f, 0);
	CHECK(vq_pop(&f.vq, &e) == 1 && e.head == 0 && e.out_len == 4);
	vq_push(&f.vq, 0, 0);
	CHECK(used_idx(&f) == 1);
}

int main(void)
{
	struct guestmem gm;

	if (gm_init(&gm, RAM)) {
		fprintf(stderr, "xvm: test_virtqueue: cannot map guest RAM\n");
		return 1;
	}
	test_simple(&gm);
	test_out_in(&gm);
	test_indirect(&gm);
	test_max_segments(&gm);
	test_event_idx_notify(&gm);
	test_event_idx_kicks(&gm);
	test_flags(&gm);
	test_wrap(&gm);
	test_hostile(&gm);
	test_total_length();
	test_enable(&gm);
	test_reset(&gm);
	gm_free(&gm);
	return check_report("virtqueue");
}
