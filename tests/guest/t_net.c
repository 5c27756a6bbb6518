/* t_net.c - the virtio-net driver tests: send a broadcast frame, receive and echo
 * frames from the host (polling or MSI-X), and the opt-in netbench (packets/s). */
#include "virtio.h"


#define NET_MEM 0x1c00000ULL             /* 28 MiB: rx rings, tx rings, buffers */
#define RX_RING NET_MEM
#define TX_RING (NET_MEM + 0x4000)             /* = RX_RING + 16 KiB: virtio_init_queues */
#define RX_BUF (NET_MEM + 0x10000)
#define TX_BUF (NET_MEM + 0x60000)
#define BUF_SZ 2048u
#define RX_N 64u                          /* receive buffers posted */
#define TX_N 64u                          /* frames in flight */
#define HDR 12u
#define F_MAC 5
#define F_STATUS 16
#define F_MRG 15
#define ETH_XVM 0x88b5                    /* local experimental ethertype: hello/echo */
#define ETH_BENCH 0x88b6                  /* rx benchmark flood */
#define VEC_NET 0x45
#define SEC 3000000000ULL                 /* ~1 s of TSC when the rate is unknown */
/* common config offsets */
#define C_STATUS 0x14

#define F_CSUM 0
#define F_GUEST_CSUM 1
#define F_GUEST_TSO4 7
#define F_GUEST_TSO6 8
#define F_HOST_TSO4 11

static struct vdev rx, tx;               /* one device: queue 0 in rx, queue 1 in tx */
static uint8_t mac[6];
static uint8_t peer[6];                  /* source MAC of the last host frame */
static bool have_peer;
static uint16_t tx_free[TX_N];
static unsigned tx_nfree;

static inline void w8(uint64_t a, uint8_t v) { *(volatile uint8_t *)(uintptr_t)a = v; }
static inline uint8_t r8(uint64_t a) { return *(volatile uint8_t *)(uintptr_t)a; }
static inline uint16_t r16(uint64_t a) { return *(volatile uint16_t *)(uintptr_t)a; }

/* Both queues (rx at RX_RING, tx 16 KiB above), then DRIVER_OK. 0 or a negative step. */
static int net_init(uint32_t bdf, uint64_t want)
{
    struct vdev q[2];
    int rc = virtio_init_queues(q, 2, bdf, want, RX_RING);

    if (rc < 0)
        return rc;
    rx = q[0];
    tx = q[1];
    for (unsigned i = 0; i < 6; i++)
        mac[i] = r8(rx.device + i);
    tx_nfree = 0;
    for (uint16_t i = 0; i < TX_N; i++)
        tx_free[tx_nfree++] = i;
    return 0;
}

static uint8_t *rx_buf(unsigned i) { return (uint8_t *)(uintptr_t)(RX_BUF + (uint64_t)i * BUF_SZ); }
static uint8_t *tx_buf(unsigned i) { return (uint8_t *)(uintptr_t)(TX_BUF + (uint64_t)i * BUF_SZ); }

static void rx_post(uint16_t i)
{
    rx.desc[i] = (struct vring_desc){ (uint64_t)(uintptr_t)rx_buf(i), BUF_SZ, VRING_DESC_F_WRITE, 0 };
    virtio_submit(&rx, i);
}

/* Take back completed tx descriptors. */
static void tx_reap(void)
{
    int id;

    while ((id = virtio_poll(&tx, NULL)) >= 0)
        if ((unsigned)id < TX_N && tx_nfree < TX_N)
            tx_free[tx_nfree++] = (uint16_t)id;
}

/* Queue one frame behind hdr (NULL: all zero); false when the ring stayed
 * full ~1 s. */
static bool tx_send(const uint8_t *hdr, const uint8_t *dst, uint16_t type, const void *payload,
                    uint32_t plen, uint32_t frame_len)
{
    uint64_t t0 = rdtsc();
    uint8_t *b;
    uint16_t i;

    while (!tx_nfree) {
        tx_reap();
        if (rdtsc() - t0 > SEC)
            return false;
    }
    i = tx_free[--tx_nfree];
    b = tx_buf(i);
    if (hdr)
        memcpy(b, hdr, HDR);
    else
        memset(b, 0, HDR);
    memcpy(b + HDR, dst, 6);
    memcpy(b + HDR + 6, mac, 6);
    b[HDR + 12] = (uint8_t)(type >> 8);
    b[HDR + 13] = (uint8_t)type;
    if (frame_len < 14 + plen)
        frame_len = 14 + plen;
    memcpy(b + HDR + 14, payload, plen);
    if (frame_len > 14 + plen)
        memset(b + HDR + 14 + plen, 0, frame_len - 14 - plen);
    tx.desc[i] = (struct vring_desc){ (uint64_t)(uintptr_t)b, HDR + frame_len, 0, 0 };
    virtio_submit(&tx, i);
    return true;
}

/* Wait until every frame is sent (reaped); false after ~1 s. */
static bool tx_drain(void)
{
    uint64_t t0 = rdtsc();

    while (tx_nfree < TX_N) {
        tx_reap();
        if (rdtsc() - t0 > SEC)
            return false;
    }
    return true;
}

/* Next received frame: its buffer index and length (without the header), or
 * -1. Buffers of a frame spanning several (num_buffers > 1) are re-posted
 * at once and only the first one's data is returned. */
static struct { uint32_t total; uint16_t nb; uint8_t gso; } last_rx;  /* of rx_next's frame */

static int rx_next(uint32_t *len)
{
    uint32_t l, more_len;
    int id = virtio_poll(&rx, &l);
    uint16_t nb;

    if (id < 0)
        return -1;
    if ((unsigned)id >= RX_N || l < HDR) {
        *len = 0;
        return id;
    }
    nb = (uint16_t)(rx_buf((unsigned)id)[10] | rx_buf((unsigned)id)[11] << 8);
    last_rx.nb = nb;
    last_rx.gso = rx_buf((unsigned)id)[1];
    last_rx.total = l - HDR;
    for (uint16_t k = 1; k < nb; k++) {
        int more;
        while ((more = virtio_poll(&rx, &more_len)) < 0)
            cpu_relax();
        last_rx.total += more_len;
        if ((unsigned)more < RX_N)
            rx_post((uint16_t)more);
    }
    *len = l - HDR;
    return id;
}

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static int net_open(struct guest *g)
{
    int bdf = virtio_find(0x1041, (int)guest_arg(g, "net.dev=", 0)), rc;
    uint64_t want = (1ULL << F_MAC) | (1ULL << F_STATUS) | (1ULL << VIRTIO_F_EVENT_IDX);

    if (bdf < 0) {
        xt_note(" reason=no-virtio-net");
        return XT_SKIP;
    }
    if (g->mem_ram_bytes < 32ULL << 20) {
        xt_note(" reason=need-32MiB");
        return XT_SKIP;
    }
    if (guest_arg(g, "net.mrg=", 1))
        want |= 1ULL << F_MRG;
    if (guest_arg(g, "net.offload=", 0))
        want |= (1ULL << F_CSUM) | (1ULL << F_GUEST_CSUM) | (1ULL << F_GUEST_TSO4) |
                (1ULL << F_GUEST_TSO6) | (1ULL << F_HOST_TSO4);
    if ((rc = net_init((uint32_t)bdf, want)) < 0) {
        xt_note(" init=%d", rc);
        return XT_FAIL;
    }
    for (uint16_t i = 0; i < RX_N; i++)
        rx_post(i);
    return XT_PASS;
}

/* Echo frames of type ETH_XVM whose payload starts "XVM-HOST": back to the
 * sender, payload "XVM-ECHO" + the rest. Returns frames echoed; *other
 * counts frames of any other kind (the netns's IPv6 chatter). */
static unsigned net_echo(struct guest *g, unsigned want, bool irq, unsigned *other)
{
    uint64_t khz = guest_tsc_khz(g), wait = guest_arg(g, "net.wait_ms=", 10000);
    uint64_t t0 = rdtsc(), limit = (khz ? khz : SEC / 1000) * wait;
    volatile uint64_t *count = &irq_count[VEC_NET - VEC_IRQ_BASE];
    uint64_t seen = *count;
    unsigned done = 0;

    while (done < want && rdtsc() - t0 < limit) {
        uint32_t len;
        int id = rx_next(&len);
        if (id < 0) {
            /* interrupt mode: the ring is drained, sleep (spin) until the
             * device's next interrupt; a frame that lands meanwhile has
             * already bumped the count */
            while (irq && *count == seen && rdtsc() - t0 < limit)
                cpu_relax();
            seen = *count;
            cpu_relax();
            continue;
        }
        uint8_t *f = rx_buf((unsigned)id) + HDR;
        if (len >= 22 && f[12] == (ETH_XVM >> 8) && f[13] == (ETH_XVM & 0xff) &&
            !memcmp(f + 14, "XVM-HOST", 8) && len <= BUF_SZ - HDR) {
            uint8_t reply[256];
            uint32_t plen = len - 14 > sizeof(reply) ? sizeof(reply) : len - 14;
            memcpy(reply, f + 14, plen);
            memcpy(reply, "XVM-ECHO", 8);
            memcpy(peer, f + 6, 6);
            have_peer = true;
            if (tx_send(NULL, f + 6, ETH_XVM, reply, plen, 0))
                done++;
        } else if (len >= 54 && f[12] == 0x08 && f[13] == 0 && f[23] == 6 &&
                   f[36] == 7777 >> 8 && f[37] == (7777 & 0xff)) {
            /* the host's big TCP segment (port 7777): one frame, GSO kept? */
            xt_note(" tcp=%u nb=%u gso=%u", last_rx.total, last_rx.nb, last_rx.gso);
        } else {
            (*other)++;
        }
        rx_post((uint16_t)id);
    }
    return done;
}

static uint16_t csum_add(uint32_t sum, const uint8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* Send "XVM-UDP-CSUM" from 10.99.0.2:9998 to 10.99.0.1:9999 (the peer's
 * MAC) with the UDP checksum left to the host (NEEDS_CSUM: only the
 * pseudo-header sum is filled in). A host stack that receives it proves the
 * header reached the tap. false when CSUM was not negotiated or no peer. */
static bool net_udp_csum(void)
{
    static const char msg[] = "XVM-UDP-CSUM";
    uint8_t p[28 + sizeof(msg) - 1], h[HDR];
    uint32_t ulen = 8 + sizeof(msg) - 1;
    uint16_t ck;

    if (!have_peer || !(rx.features & (1ULL << F_CSUM)))
        return false;
    memset(p, 0, sizeof(p));
    p[0] = 0x45; p[2] = (uint8_t)((20 + ulen) >> 8); p[3] = (uint8_t)(20 + ulen);
    p[8] = 64; p[9] = 17;                                   /* ttl, UDP */
    p[12] = 10; p[13] = 99; p[14] = 0; p[15] = 2;
    p[16] = 10; p[17] = 99; p[18] = 0; p[19] = 1;
    ck = (uint16_t)~csum_add(0, p, 20);
    p[10] = (uint8_t)(ck >> 8); p[11] = (uint8_t)ck;
    p[20] = 9998 >> 8; p[21] = 9998 & 0xff; p[22] = 9999 >> 8; p[23] = 9999 & 0xff;
    p[24] = (uint8_t)(ulen >> 8); p[25] = (uint8_t)ulen;
    memcpy(p + 28, msg, sizeof(msg) - 1);
    ck = csum_add(17 + ulen, p + 12, 8);                    /* pseudo header, not inverted */
    p[26] = (uint8_t)(ck >> 8); p[27] = (uint8_t)ck;
    memset(h, 0, sizeof(h));
    h[0] = 1;                                               /* VIRTIO_NET_HDR_F_NEEDS_CSUM */
    h[6] = 14 + 20;                                         /* csum_start */
    h[8] = 6;                                               /* csum_offset */
    return tx_send(h, peer, 0x0800, p, sizeof(p), 0);
}

/* net: MAC and link, one broadcast hello, then net.echo=N frames echoed
 * (net.irq=1: rx completions through MSI-X). */
int test_net(struct guest *g)
{
    static const char hello[] = "XVM-NET-HELLO from the test guest";
    unsigned want = (unsigned)guest_arg(g, "net.echo=", 0), other = 0, got;
    bool irq = guest_arg(g, "net.irq=", 0) != 0;
    uint64_t before = irq_count[VEC_NET - VEC_IRQ_BASE];
    int rc = net_open(g);

    if (rc != XT_PASS)
        return rc;
    xt_note(" mac=%02x:%02x:%02x:%02x:%02x:%02x link=%u mrg=%d", mac[0], mac[1], mac[2],
            mac[3], mac[4], mac[5], r16(rx.device + 6) & 1, !!(rx.features & (1ULL << F_MRG)));
    if (irq) {
        if (virtio_msix(&rx, lapic_id(g->acpi->lapic_base), VEC_NET) < 0) {
            xt_note(" msix=unavailable");
            return XT_FAIL;
        }
        irq_enable();
    }
    if (!tx_send(NULL, bcast, ETH_XVM, hello, sizeof(hello) - 1, 60) || !tx_drain()) {
        if (irq)
            irq_disable();
        xt_note(" tx=timeout status=0x%x", virtio_status(&rx));
        return XT_FAIL;
    }
    got = want ? net_echo(g, want, irq, &other) : 0;
    if (guest_arg(g, "net.udp=", 0))
        xt_note(" udp=%s", net_udp_csum() ? "sent" : "not-sent");
    tx_drain();
    if (irq)
        irq_disable();
    xt_note(" tx=ok echoed=%u other=%u", got, other);
    if (irq)
        xt_note(" irqs=%lu", irq_count[VEC_NET - VEC_IRQ_BASE] - before);
    w8(rx.common + C_STATUS, 0);    /* reset: the device stops using our rings */
    if (got < want || (irq && want && irq_count[VEC_NET - VEC_IRQ_BASE] == before))
        return XT_FAIL;
    return XT_PASS;
}

/* Send n frames of size bytes as fast as the ring allows; packets/s or 0. */
static uint64_t bench_tx(struct guest *g, uint32_t size, uint64_t n)
{
    static const char tag[] = "XVM-BENCH";
    uint64_t t0 = rdtsc(), cyc, khz = guest_tsc_khz(g);

    for (uint64_t i = 0; i < n; i++)
        if (!tx_send(NULL, bcast, ETH_BENCH, tag, sizeof(tag) - 1, size))
            return 0;
    if (!tx_drain())
        return 0;
    cyc = rdtsc() - t0;
    return khz && cyc ? n * khz * 1000 / cyc : 0;
}

/* Count ETH_BENCH frames from the first until net.rxbench=N arrived or none
 * came for 300 ms; packets/s over that span, or 0. */
static uint64_t bench_rx(struct guest *g, uint64_t n, uint64_t *frames, uint64_t *bytes)
{
    uint64_t khz = guest_tsc_khz(g), ms = khz ? khz : SEC / 1000;
    uint64_t t0 = rdtsc(), first = 0, last = 0, wait = guest_arg(g, "net.wait_ms=", 10000);

    *frames = *bytes = 0;
    while (*frames < n) {
        uint32_t len;
        int id = rx_next(&len);
        uint64_t now = rdtsc();
        if (id < 0) {
            if ((*frames && now - last > 300 * ms) || (!*frames && now - t0 > wait * ms))
                break;
            cpu_relax();
            continue;
        }
        uint8_t *f = rx_buf((unsigned)id) + HDR;
        if (len >= 14 && f[12] == (ETH_BENCH >> 8) && f[13] == (ETH_BENCH & 0xff)) {
            if (!*frames)
                first = now;
            last = now;
            (*frames)++;
            *bytes += len;
        }
        rx_post((uint16_t)id);
    }
    return *frames > 1 && last > first ? (*frames - 1) * ms * 1000 / (last - first) : 0;
}

/* netbench: tx packets/s at 64 and 1500 bytes (net.bench_n=, default 20000,
 * after net.start_ms= of waiting);
 * with net.rxbench=N also rx packets/s of a flood the host sends. */
int test_netbench(struct guest *g)
{
    uint64_t n = guest_arg(g, "net.bench_n=", 20000), nrx = guest_arg(g, "net.rxbench=", 0);
    uint64_t frames, bytes, pps;
    int rc = net_open(g);

    if (rc != XT_PASS)
        return rc;
    if (n) {
        /* net.start_ms=: let the host bring a fresh tap up first */
        uint64_t khz = guest_tsc_khz(g), t0 = rdtsc(), ms = guest_arg(g, "net.start_ms=", 0);
        while (khz && rdtsc() - t0 < ms * khz)
            cpu_relax();
        uint64_t p64 = bench_tx(g, 64, n), p1500 = bench_tx(g, 1500, n);
        xt_note(" tx64_pps=%lu tx1500_pps=%lu", p64, p1500);
        if (!p64 || !p1500)
            return XT_FAIL;
    }
    if (nrx) {
        kprintf("XNET-RX-READY\n");
        pps = bench_rx(g, nrx, &frames, &bytes);
        xt_note(" rx_pps=%lu rx_frames=%lu rx_avg=%lu", pps, frames, frames ? bytes / frames : 0);
        if (!pps)
            return XT_FAIL;
    }
    w8(rx.common + C_STATUS, 0);
    return XT_PASS;
}
