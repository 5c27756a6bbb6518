/* serial.h - a 16550A UART (the guest console) on the port bus.
 *
 * Output bytes go to out_fd as the guest writes them. Input arrives through
 * serial_input() from the console thread; it blocks while the receive FIFO
 * is full (no input is dropped). Interrupts: level on `irq` when enabled
 * causes are pending and MCR.OUT2 is set, as on a PC. */
#ifndef XVM_SERIAL_H
#define XVM_SERIAL_H

#include <stddef.h>
#include <stdint.h>

struct vm;
struct serial;

#define SERIAL_COM1_PORT 0x3f8
#define SERIAL_COM1_IRQ 4

/* Register 8 ports at `port`. out_fd is not owned. 0 or -errno. */
int serial_create(struct vm *vm, uint16_t port, unsigned irq, int out_fd,
		  struct serial **out);
/* Also write every output byte to fd (not owned; -1: stop). Any thread. */
void serial_set_log(struct serial *s, int fd);
/* Queue input bytes; blocks while the FIFO is full unless the serial is
 * being shut down. Returns the number of bytes queued. */
size_t serial_input(struct serial *s, const uint8_t *buf, size_t len);
/* Wake a blocked serial_input() and make it return (before destroy). */
void serial_shutdown(struct serial *s);
/* Bytes the guest has written so far (statistics). */
uint64_t serial_tx_bytes(struct serial *s);
void serial_destroy(struct serial *s);

#endif
