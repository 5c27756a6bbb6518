/* console.c - COM1 8250 output (polled, FIFO-batched) and a small printf. */
#include "guest.h"

#define COM1 0x3f8

/* Every port access is a VM exit (~47 us on PVM), so LSR is read once per
 * 16-byte FIFO load instead of once per byte. */
void con_init(void)
{
    outb(COM1 + 1, 0x00);   /* no UART interrupts */
    outb(COM1 + 3, 0x03);   /* 8N1 */
    outb(COM1 + 2, 0x07);   /* FIFO on, both cleared */
}

void con_write(const char *s, size_t n)
{
    while (n) {
        size_t chunk = n < 16 ? n : 16;
        uint64_t t0 = rdtsc();

        /* a UART that never drains costs at most ~10 ms per chunk */
        while (!(inb(COM1 + 5) & 0x20) && rdtsc() - t0 < 25000000)
            cpu_relax();
        for (size_t i = 0; i < chunk; i++)
            outb(COM1, (uint8_t)s[i]);
        s += chunk;
        n -= chunk;
    }
}

struct out {
    char *buf;
    size_t size, len;
};

static void put(struct out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void put_num(struct out *o, uint64_t v, unsigned base, bool neg, int width, char pad)
{
    char tmp[24];
    int n = 0;

    do {
        tmp[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (neg)
        tmp[n++] = '-';
    for (int w = n; w < width; w++)
        put(o, pad);
    while (n)
        put(o, tmp[--n]);
}

static uint64_t get_arg(va_list *ap, int lng, bool sign)
{
    if (lng >= 1)
        return sign ? (uint64_t)va_arg(*ap, long) : va_arg(*ap, unsigned long);
    return sign ? (uint64_t)(int64_t)va_arg(*ap, int) : va_arg(*ap, unsigned int);
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = { buf, size, 0 };
    va_list a;

    va_copy(a, ap);
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put(&o, *fmt);
            continue;
        }
        char pad = ' ';
        int width = 0, lng = 0;
        if (*++fmt == '0')
            pad = '0';
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l' || *fmt == 'z') {
            lng++;
            fmt++;
        }
        switch (*fmt) {
        case 'd': {
            int64_t v = (int64_t)get_arg(&a, lng, true);
            put_num(&o, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0, width, pad);
            break;
        }
        case 'u':
            put_num(&o, get_arg(&a, lng, false), 10, false, width, pad);
            break;
        case 'x':
            put_num(&o, get_arg(&a, lng, false), 16, false, width, pad);
            break;
        case 'p':
            put(&o, '0');
            put(&o, 'x');
            put_num(&o, (uint64_t)(uintptr_t)va_arg(a, void *), 16, false, width, pad);
            break;
        case 'c':
            put(&o, (char)va_arg(a, int));
            break;
        case 's': {
            const char *s = va_arg(a, const char *);
            size_t n = strlen(s ? s : "(null)");
            for (size_t w = n; w < (size_t)width; w++)
                put(&o, ' ');
            for (const char *p = s ? s : "(null)"; *p; p++)
                put(&o, *p);
            break;
        }
        case '%':
            put(&o, '%');
            break;
        default:
            put(&o, '?');
            if (!*fmt)
                fmt--;
            break;
        }
    }
    va_end(a);
    if (size)
        buf[o.len < size ? o.len : size - 1] = 0;
    return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

int kprintf(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(buf) - 1)
        n = sizeof(buf) - 1;
    con_write(buf, (size_t)n);
    return n;
}
