/* t_console.c - the virtio-console test: MULTIPORT handshake, find the first named
 * port, wait for the host to connect, send a hello line, echo one line back, then
 * a short control message (the device must need a reset). Skips without the device
 * or without a named port. */
#include "virtio.h"


#define VC_MEM 0x1e00000ULL             /* 30 MiB: 6 rings of 16 KiB, then buffers */
#define VC_BUF (VC_MEM + 0x20000)
#define VC_NQ 6                         /* port 0, control, port 1 */
#define VC_NBUF 8                       /* receive buffers per queue */
#define VC_BUFSZ 256u
#define VC_TIMEOUT 60000000000ULL       /* ~20 s at 3 GHz: the host connects late */
#define Q_CRX 2
#define Q_CTX 3
#define Q_PRX 4
#define Q_PTX 5
#define F_MULTIPORT 1
#define EV_DEVICE_READY 0
#define EV_DEVICE_ADD 1
#define EV_PORT_READY 3
#define EV_PORT_OPEN 6
#define EV_PORT_NAME 7

static struct vdev q[VC_NQ];
static char port_name[64];

static uint8_t *vc_buf(unsigned qi, unsigned i)
{
    return (uint8_t *)(uintptr_t)(VC_BUF + (uint64_t)(qi * VC_NBUF + i) * VC_BUFSZ);
}

static void post_rx(unsigned qi, uint16_t i)
{
    q[qi].desc[i] = (struct vring_desc){ (uint64_t)(uintptr_t)vc_buf(qi, i), VC_BUFSZ,
                                         VRING_DESC_F_WRITE, 0 };
    virtio_submit(&q[qi], i);
}

/* Send n bytes on tx queue qi and wait until the device took them. 0 or -1. */
static int vc_send(unsigned qi, const void *p, uint32_t n)
{
    uint64_t t0 = rdtsc();

    memcpy(vc_buf(qi, 0), p, n);
    q[qi].desc[0] = (struct vring_desc){ (uint64_t)(uintptr_t)vc_buf(qi, 0), n, 0, 0 };
    virtio_submit(&q[qi], 0);
    while (virtio_poll(&q[qi], NULL) < 0) {
        if (rdtsc() - t0 > VC_TIMEOUT)
            return -1;
        cpu_relax();
    }
    return 0;
}

static int ctrl(uint32_t id, uint16_t ev, uint16_t val)
{
    uint8_t m[8];

    memcpy(m, &id, 4);
    memcpy(m + 4, &ev, 2);
    memcpy(m + 6, &val, 2);
    return vc_send(Q_CTX, m, 8);
}

/* Next control message; the name of a PORT_NAME goes to port_name. 0 or -1. */
static int ctrl_next(uint32_t *id, uint16_t *ev, uint16_t *val)
{
    uint64_t t0 = rdtsc();
    uint32_t len;
    int b;

    while ((b = virtio_poll(&q[Q_CRX], &len)) < 0) {
        if (rdtsc() - t0 > VC_TIMEOUT)
            return -1;
        cpu_relax();
    }
    if ((unsigned)b >= VC_NBUF || len < 8 || len > VC_BUFSZ)
        return -1;
    memcpy(id, vc_buf(Q_CRX, (unsigned)b), 4);
    memcpy(ev, vc_buf(Q_CRX, (unsigned)b) + 4, 2);
    memcpy(val, vc_buf(Q_CRX, (unsigned)b) + 6, 2);
    if (*ev == EV_PORT_NAME) {
        uint32_t n = len - 8 < sizeof(port_name) - 1 ? len - 8 : sizeof(port_name) - 1;
        memcpy(port_name, vc_buf(Q_CRX, (unsigned)b) + 8, n);
        port_name[n] = 0;
    }
    post_rx(Q_CRX, (uint16_t)b);
    return 0;
}

/* Handshake until port 1 is named and the host is connected. 0, or a reason. */
static const char *vc_handshake(void)
{
    uint32_t id;
    uint16_t ev, val;
    bool named = false, open = false;

    for (uint16_t i = 0; i < VC_NBUF; i++)
        post_rx(Q_CRX, i);
    if (ctrl(0, EV_DEVICE_READY, 1) < 0)
        return "device-ready-not-taken";
    while (!named || !open) {
        if (ctrl_next(&id, &ev, &val) < 0)
            return named ? "host-never-connected" : "no-named-port";
        if (ev == EV_DEVICE_ADD && ctrl(id, EV_PORT_READY, 1) < 0)
            return "port-ready-not-taken";
        if (ev == EV_PORT_NAME && id == 1)
            named = true;
        if (ev == EV_PORT_OPEN && id == 1)
            open = val == 1;
    }
    return ctrl(1, EV_PORT_OPEN, 1) < 0 ? "port-open-not-taken" : 0;
}

/* Read one line (up to cap - 1 bytes, without the newline) from port 1. */
static int read_line(char *line, uint32_t cap)
{
    uint64_t t0 = rdtsc();
    uint32_t have = 0, len;
    int b;

    for (;;) {
        while ((b = virtio_poll(&q[Q_PRX], &len)) < 0) {
            if (rdtsc() - t0 > VC_TIMEOUT)
                return -1;
            cpu_relax();
        }
        if ((unsigned)b >= VC_NBUF || len > VC_BUFSZ)
            return -2;
        for (uint32_t k = 0; k < len; k++) {
            char ch = (char)vc_buf(Q_PRX, (unsigned)b)[k];
            if (ch == '\n') {
                line[have] = 0;
                post_rx(Q_PRX, (uint16_t)b);
                return (int)have;
            }
            if (have < cap - 1)
                line[have++] = ch;
        }
        post_rx(Q_PRX, (uint16_t)b);
    }
}

/* A 4-byte control message: "needs_reset" (xvm), or what else happened. */
static const char *vc_bad_ctrl(void)
{
    uint64_t t0 = rdtsc();

    memset(vc_buf(Q_CTX, 1), 0, 4);
    q[Q_CTX].desc[1] = (struct vring_desc){ (uint64_t)(uintptr_t)vc_buf(Q_CTX, 1), 4, 0, 0 };
    virtio_submit(&q[Q_CTX], 1);
    while (rdtsc() - t0 < 200000000ULL) {       /* ~70 ms */
        if (virtio_status(&q[0]) & 0x40)
            return "needs_reset";
        cpu_relax();
    }
    return "ignored";
}

int test_console(struct guest *g)
{
    int bdf = virtio_find(0x1043, 0), rc, n;
    char hello[96], line[160], echo[176];
    const char *why;

    if (bdf < 0) {
        xt_note(" reason=no-virtio-console");
        return XT_SKIP;
    }
    if (g->mem_ram_bytes < 32ULL << 20) {
        xt_note(" reason=need-32MiB");
        return XT_SKIP;
    }
    rc = virtio_init_queues(q, VC_NQ, (uint32_t)bdf, 1ULL << F_MULTIPORT, VC_MEM);
    if (rc < 0 || !(q[0].features & (1ULL << F_MULTIPORT))) {
        xt_note(" init=%d multiport=%d", rc, (int)(q[0].features >> F_MULTIPORT & 1));
        return XT_FAIL;
    }
    xt_note(" ports=%u", virtio_cfg32(&q[0], 4));
    for (uint16_t i = 0; i < VC_NBUF; i++)
        post_rx(Q_PRX, i);
    if ((why = vc_handshake())) {
        xt_note(" reason=%s", why);
        return !strncmp(why, "no-named-port", 14) ? XT_SKIP : XT_FAIL;
    }
    xt_note(" name=%s", port_name);
    n = snprintf(hello, sizeof(hello), "XVM-VCON-HELLO %s\n", port_name);
    if (vc_send(Q_PTX, hello, (uint32_t)n) < 0) {
        xt_note(" reason=hello-not-taken");
        return XT_FAIL;
    }
    if ((n = read_line(line, sizeof(line))) < 0) {
        xt_note(" reason=%s", n == -1 ? "no-line-from-host" : "bad-used-elem");
        return XT_FAIL;
    }
    n = snprintf(echo, sizeof(echo), "echo: %s\n", line);
    if (vc_send(Q_PTX, echo, (uint32_t)n) < 0) {
        xt_note(" reason=echo-not-taken");
        return XT_FAIL;
    }
    xt_note(" echoed=%d bad_ctrl=%s", (int)strlen(line), vc_bad_ctrl());
    *(volatile uint8_t *)(uintptr_t)(q[0].common + 0x14) = 0;   /* reset the device */
    return XT_PASS;
}
