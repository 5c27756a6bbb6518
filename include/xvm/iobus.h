/* iobus.h - port I/O and MMIO dispatch from vCPU exits to device models.
 *
 * A bus is a sorted table of non-overlapping ranges behind a read-write lock
 * (writer-preferring): dispatch takes it shared and may run on every vCPU
 * thread at once, so a handler that keeps state must lock it itself;
 * register/unregister take it exclusive, so they work while vCPUs run (PCI
 * hotplug) and, once iobus_unregister() returns, no vCPU is inside the
 * removed range's handler. A handler must never (un)register on its own
 * bus, and no lock a handler takes may be held around (un)registration. */
#ifndef XVM_IOBUS_H
#define XVM_IOBUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Called with offset = address - base and len in 1..8. On a read the handler
 * fills data[0..len); on a write data holds the guest's bytes (little-endian).
 * A handler that does not fill a read leaves the buffer as 0xff bytes. */
typedef void (*io_handler_fn)(void *opaque, uint64_t offset, uint8_t *data,
			      unsigned len, bool is_write);

struct io_range {
	uint64_t base, len;
	io_handler_fn fn;
	void *opaque;
	const char *name;
};

struct iobus {
	struct io_range *ranges;
	unsigned n, cap;
	pthread_rwlock_t lock;
};

void iobus_init(struct iobus *bus);
void iobus_free(struct iobus *bus);
/* Add [base, base+len). Returns 0, -EEXIST on overlap, -EINVAL for len 0 or
 * wrap-around, -ENOMEM. */
int iobus_register(struct iobus *bus, uint64_t base, uint64_t len,
		   io_handler_fn fn, void *opaque, const char *name);
/* Remove the range that starts at base and return it in *out (lets a
 * device take over a port another one registered, as PCI's 0xCF8 dword
 * does with the reset register at 0xCF9; hot-unplug). 0 or -ENOENT. */
int iobus_unregister(struct iobus *bus, uint64_t base, struct io_range *out);
/* Route an access. Returns 0 when a device took it, -ENOENT when none
 * matches (reads then see 0xff bytes, writes are dropped). An access that
 * straddles the end of a range is -ENOENT too, and so is len 0 or len > 8
 * (data is not touched then). */
int iobus_dispatch(struct iobus *bus, uint64_t addr, uint8_t *data,
		   unsigned len, bool is_write);

/* Little-endian helpers for handlers. */
static inline uint64_t io_get(const uint8_t *data, unsigned len)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < len && i < 8; i++)
		v |= (uint64_t)data[i] << (8 * i);
	return v;
}
static inline void io_put(uint8_t *data, unsigned len, uint64_t v)
{
	for (unsigned i = 0; i < len && i < 8; i++)
		data[i] = (uint8_t)(v >> (8 * i));
}

#endif
