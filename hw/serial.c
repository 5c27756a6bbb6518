/* serial.c - 16550A UART emulation: the registers Linux's 8250 driver probes
 * (scratch, IER, FIFO, loopback) and the interrupt logic. */
#include "xvm/serial.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "xvm/log.h"
#include "xvm/util.h"
#include "xvm/vm.h"

#define RX_FIFO 64

/* registers (offset from base) */
enum { R_DATA, R_IER, R_IIR, R_LCR, R_MCR, R_LSR, R_MSR, R_SCR };
#define IER_RDI 0x01
#define IER_THRI 0x02
#define IIR_NONE 0x01
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_FIFO 0xc0
#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define LCR_DLAB 0x80
#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

struct serial {
	struct vm *vm;
	unsigned irq;
	int out_fd;
	int log_fd;            /* copy of the output (--console-log), -1: none */
	pthread_mutex_t lock;
	pthread_cond_t space;  /* signalled when the guest drains the FIFO */
	bool shutdown;
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm, msr;
	bool thri_pending;     /* THR empty interrupt waiting to be read */
	bool irq_level;
	uint8_t rx[RX_FIFO];
	unsigned rx_head, rx_len;
	uint64_t tx_bytes;
};

static uint8_t serial_iir(const struct serial *s)
{
	uint8_t fifo = (s->fcr & FCR_ENABLE) ? IIR_FIFO : 0;

	if ((s->ier & IER_RDI) && s->rx_len)
		return IIR_RDI | fifo;
	if ((s->ier & IER_THRI) && s->thri_pending)
		return IIR_THRI | fifo;
	return IIR_NONE | fifo;
}

/* Called with the lock held after any state change. */
static void serial_update_irq(struct serial *s)
{
	bool level = !(serial_iir(s) & IIR_NONE) && (s->mcr & MCR_OUT2);

	if (level != s->irq_level) {
		s->irq_level = level;
		vm_irq_line(s->vm, s->irq, level);
	}
}

static void serial_tx(struct serial *s, uint8_t b)
{
	if (s->mcr & MCR_LOOP) {
		if (s->rx_len < RX_FIFO)
			s->rx[(s->rx_head + s->rx_len++) % RX_FIFO] = b;
	} else {
		if (write_all(s->out_fd, &b, 1) < 0)
			log_debug("serial: console output failed");
		if (s->log_fd >= 0 && write_all(s->log_fd, &b, 1) < 0)
			log_debug("serial: console log write failed");
		s->tx_bytes++;
	}
	s->thri_pending = true; /* transmission is instantaneous */
}

static uint8_t serial_rx(struct serial *s)
{
	uint8_t b = 0;

	if (s->rx_len) {
		b = s->rx[s->rx_head];
		s->rx_head = (s->rx_head + 1) % RX_FIFO;
		s->rx_len--;
		pthread_cond_signal(&s->space);
	}
	return b;
}

static uint8_t serial_msr(const struct serial *s)
{
	uint8_t m = 0;

	if (!(s->mcr & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	/* loopback: modem outputs appear on the inputs */
	if (s->mcr & MCR_RTS) m |= MSR_CTS;
	if (s->mcr & MCR_DTR) m |= MSR_DSR;
	if (s->mcr & MCR_OUT1) m |= MSR_RI;
	if (s->mcr & MCR_OUT2) m |= MSR_DCD;
	return m;
}

static uint8_t serial_read(struct serial *s, unsigned off)
{
	uint8_t v;

	switch (off) {
	case R_DATA:
		return (s->lcr & LCR_DLAB) ? s->dll : serial_rx(s);
	case R_IER:
		return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
	case R_IIR:
		v = serial_iir(s);
		if ((v & 0x0f) == IIR_THRI)
			s->thri_pending = false; /* reading IIR clears THRI */
		return v;
	case R_LCR: return s->lcr;
	case R_MCR: return s->mcr;
	case R_LSR: return LSR_THRE | LSR_TEMT | (s->rx_len ? LSR_DR : 0);
	case R_MSR: return serial_msr(s);
	default: return s->scr;
	}
}

static void serial_write(struct serial *s, unsigned off, uint8_t v)
{
	switch (off) {
	case R_DATA:
		if (s->lcr & LCR_DLAB)
			s->dll = v;
		else
			serial_tx(s, v);
		break;
	case R_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
		} else {
			/* enabling THRI with an empty THR raises it at once */
			if (!(s->ier & IER_THRI) && (v & IER_THRI))
				s->thri_pending = true;
			s->ier = v & 0x0f;
		}
		break;
	case R_IIR: /* FCR */
		s->fcr = v & (FCR_ENABLE | 0xc0);
		if (v & FCR_CLEAR_RX) {
			s->rx_len = 0;
			pthread_cond_signal(&s->space);
		}
		break;
	case R_LCR: s->lcr = v; break;
	case R_MCR: s->mcr = v & 0x1f; break;
	case R_SCR: s->scr = v; break;
	default: break; /* LSR, MSR are read-only */
	}
}

static void serial_io(void *opaque, uint64_t off, uint8_t *data, unsigned len,
		      bool is_write)
{
	struct serial *s = opaque;

	if (len != 1)
		return; /* the 8250 has byte registers only */
	pthread_mutex_lock(&s->lock);
	if (is_write)
		serial_write(s, (unsigned)off, data[0]);
	else
		data[0] = serial_read(s, (unsigned)off);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

int serial_create(struct vm *vm, uint16_t port, unsigned irq, int out_fd,
		  struct serial **out)
{
	struct serial *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	s->vm = vm;
	s->irq = irq;
	s->out_fd = out_fd;
	s->log_fd = -1;
	s->lcr = 0x03; /* 8N1 */
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->space, NULL);
	rc = iobus_register(&vm->pio, port, 8, serial_io, s, "serial");
	if (rc < 0) {
		serial_destroy(s);
		return rc;
	}
	*out = s;
	return 0;
}

void serial_set_log(struct serial *s, int fd)
{
	pthread_mutex_lock(&s->lock);
	s->log_fd = fd;
	pthread_mutex_unlock(&s->lock);
}

size_t serial_input(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t done = 0;

	pthread_mutex_lock(&s->lock);
	while (done < len && !s->shutdown) {
		if (s->rx_len == RX_FIFO) {
			pthread_cond_wait(&s->space, &s->lock);
			continue;
		}
		s->rx[(s->rx_head + s->rx_len++) % RX_FIFO] = buf[done++];
		serial_update_irq(s);
	}
	pthread_mutex_unlock(&s->lock);
	return done;
}

void serial_shutdown(struct serial *s)
{
	pthread_mutex_lock(&s->lock);
	s->shutdown = true;
	pthread_cond_broadcast(&s->space);
	pthread_mutex_unlock(&s->lock);
}

uint64_t serial_tx_bytes(struct serial *s)
{
	uint64_t n;

	pthread_mutex_lock(&s->lock);
	n = s->tx_bytes;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void serial_destroy(struct serial *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->space);
	free(s);
}
