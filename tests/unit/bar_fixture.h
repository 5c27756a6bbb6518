/* bar_fixture.h - unit tests that play a PCI driver over the VM's MMIO bus
 * (no vCPU runs): checked BAR register accesses. */
#ifndef XVM_TESTS_BAR_FIXTURE_H
#define XVM_TESTS_BAR_FIXTURE_H

#include <stdint.h>

#include "tests/unit/check.h"
#include "xvm/iobus.h"
#include "xvm/util.h"
#include "xvm/vm.h"

/* Write len bytes of v at bar + off; the access must reach a device. */
static inline void bar_w(struct vm *vm, uint64_t bar, uint64_t off, unsigned len, uint64_t v)
{
	uint8_t b[8];

	io_put(b, len, v);
	CHECK(iobus_dispatch(&vm->mmio, bar + off, b, len, true) == 0);
}

/* Read len bytes at bar + off; the access must reach a device. */
static inline uint64_t bar_r(struct vm *vm, uint64_t bar, uint64_t off, unsigned len)
{
	uint8_t b[8];

	CHECK(iobus_dispatch(&vm->mmio, bar + off, b, len, false) == 0);
	return io_get(b, len);
}

#endif
