/* t_rng.c - the virtio-rng test: two 4 KiB reads that are not zero, differ and look
 * uniform; a timed read of rng.bytes= (rate); a chain with no writable buffer. */
#include "virtio.h"


#define RNG_MEM 0x1800000ULL             /* 24 MiB: rings (16 KiB), then data */
#define RNG_DATA (RNG_MEM + 0x4000)
#define RNG_CHUNK 4096u
#define RNG_TIMEOUT_CYCLES 60000000000ULL  /* ~20 s at 3 GHz: rate-limited reads are slow */

static struct vdev rng;

/* Fill buf[0..len) with chains of at most RNG_CHUNK bytes, one at a time.
 * Returns 0, -1 on timeout, -2 on a bad used element (wrong id, len > asked). */
static int rng_read(uint8_t *buf, uint32_t len)
{
    uint32_t have = 0;

    while (have < len) {
        uint32_t ask = len - have < RNG_CHUNK ? len - have : RNG_CHUNK, got;
        uint64_t t0 = rdtsc();
        int id;

        rng.desc[0] = (struct vring_desc){ (uint64_t)(uintptr_t)(buf + have), ask,
                                           VRING_DESC_F_WRITE, 0 };
        virtio_submit(&rng, 0);
        while ((id = virtio_poll(&rng, &got)) < 0) {
            if (rdtsc() - t0 > RNG_TIMEOUT_CYCLES)
                return -1;
            cpu_relax();
        }
        if (id != 0 || got > ask)
            return -2;
        have += got;
    }
    return 0;
}

/* Chi-square statistic (times n/256) of the byte histogram of p[0..n): the
 * sum of (count - n/256)^2, to compare with its expected 255 * n/256. */
static uint64_t histogram_sq(const uint8_t *p, uint32_t n)
{
    uint32_t count[256] = { 0 };
    uint64_t sq = 0;
    int64_t e = n / 256;

    for (uint32_t i = 0; i < n; i++)
        count[p[i]]++;
    for (int i = 0; i < 256; i++)
        sq += (uint64_t)((count[i] - e) * (count[i] - e));
    return sq;
}

/* Offer a chain of one readable buffer: a device must not answer it with
 * data. Returns "needs_reset" (xvm), "answered" or "ignored". */
static const char *rng_bad_chain(void)
{
    uint64_t t0 = rdtsc();
    uint32_t got = 0;

    rng.desc[1] = (struct vring_desc){ RNG_DATA, 16, 0, 0 };
    virtio_submit(&rng, 1);
    while (rdtsc() - t0 < 200000000ULL) {       /* ~70 ms */
        if (virtio_status(&rng) & 0x40)
            return "needs_reset";
        if (virtio_poll(&rng, &got) >= 0)
            return got ? "answered_with_data" : "answered";
        cpu_relax();
    }
    return "ignored";
}

/* Timed read of rng.bytes= (default 16 KiB) for a bytes/s figure. */
static int rng_timed(struct guest *g, uint8_t *buf)
{
    uint64_t n = guest_arg(g, "rng.bytes=", 16384), t0, cyc, khz;

    if (n > 8u << 20)
        n = 8u << 20;
    if (g->mem_ram_bytes < RNG_DATA + n + (1u << 20))
        n = 16384;
    t0 = rdtsc();
    if (rng_read(buf, (uint32_t)n) < 0) {
        xt_note(" timed_read=timeout");
        return -1;
    }
    cyc = rdtsc() - t0;
    khz = guest_tsc_khz(g);
    xt_note(" timed_bytes=%lu", n);
    if (khz && cyc)
        xt_note(" us=%lu bytes_per_s=%lu", cyc * 1000 / khz, n * khz * 1000 / cyc);
    return 0;
}

int test_rng(struct guest *g)
{
    uint8_t *a = (uint8_t *)(uintptr_t)RNG_DATA, *b = a + RNG_CHUNK;
    int bdf = virtio_find(0x1044, 0), rc, zero_a = 1, zero_b = 1;
    uint64_t sq_a, sq_b, sq_ab;

    if (bdf < 0) {
        xt_note(" reason=no-virtio-rng");
        return XT_SKIP;
    }
    if (g->mem_ram_bytes < 32ULL << 20) {
        xt_note(" reason=need-32MiB");
        return XT_SKIP;
    }
    /* event idx on (QEMU's virtio-rng queue has only 8 entries: this also checks
     * that the driver places used_event/avail_event after the negotiated size) */
    rc = virtio_init(&rng, (uint32_t)bdf, 1ULL << VIRTIO_F_EVENT_IDX, RNG_MEM);
    if (rc < 0) {
        xt_note(" init=%d", rc);
        return XT_FAIL;
    }
    memset(a, 0, 2 * RNG_CHUNK);
    if ((rc = rng_read(a, RNG_CHUNK)) < 0 || (rc = rng_read(b, RNG_CHUNK)) < 0) {
        xt_note(" read=%s", rc == -1 ? "timeout" : "bad-used-elem");
        return XT_FAIL;
    }
    for (uint32_t i = 0; i < RNG_CHUNK; i++) {
        zero_a &= a[i] == 0;
        zero_b &= b[i] == 0;
    }
    /* expected sum of squares 255 * n/256 (chi-square 255 dof); fail above
     * ~6.5 standard deviations of the statistic */
    sq_a = histogram_sq(a, RNG_CHUNK);
    sq_b = histogram_sq(b, RNG_CHUNK);
    sq_ab = histogram_sq(a, 2 * RNG_CHUNK);
    xt_note(" bdf=0x%x chi2x16=%lu,%lu chi2x32=%lu", bdf, sq_a, sq_b, sq_ab);
    if (zero_a || zero_b || !memcmp(a, b, RNG_CHUNK)) {
        xt_note(" reason=%s", zero_a || zero_b ? "all-zero" : "reads-equal");
        return XT_FAIL;
    }
    if (sq_a > 400 * 16 || sq_b > 400 * 16 || sq_ab > 400 * 32) {
        xt_note(" reason=histogram-not-uniform");
        return XT_FAIL;
    }
    if (rng_timed(g, a) < 0)
        return XT_FAIL;
    xt_note(" bad_chain=%s", rng_bad_chain());
    *(volatile uint8_t *)(uintptr_t)(rng.common + 0x14) = 0;   /* reset the device */
    return XT_PASS;
}
