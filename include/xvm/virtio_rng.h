/* virtio_rng.h - virtio-rng (entropy device, virtio type 4): the guest's
 * hwrng, fed from the host's getrandom(2).
 *
 * One queue. Each chain's writable buffers are filled with random bytes and
 * the chain is returned with the number of bytes written. A chain with no
 * writable buffer is a malformed request: the device sets
 * DEVICE_NEEDS_RESET (virtio_needs_reset) and stops until the driver resets
 * it. Readable buffers in a chain are ignored.
 *
 * Optional rate limit (--rng rate=BYTES/s): a token bucket holding at most
 * one second of bytes. A request the bucket cannot cover waits (on a timer
 * of the event loop) until it can, then is filled in full, so a guest never
 * sees short or empty answers, only slower ones.
 *
 * Threads: everything runs on the device event loop thread, except
 * vrng_create/vrng_destroy (main thread, vCPUs stopped for destroy). */
#ifndef XVM_VIRTIO_RNG_H
#define XVM_VIRTIO_RNG_H

#include <stdbool.h>
#include <stdint.h>

struct vm;
struct pci_bus;
struct evloop;
struct vrng;

struct vrng_opts {
	bool enabled;            /* false: no device (--no-rng) */
	uint64_t rate;           /* bytes per second; 0: unlimited */
};

#define VRNG_MAX_RATE (1ULL << 30)

/* Parse the --rng option value: "on", "off" or "rate=BYTES" (bytes per
 * second, with K/M/G suffixes, 1..1G; a trailing "/s" is accepted) into o.
 * 0 or -EINVAL (logged). */
int vrng_parse(const char *spec, struct vrng_opts *o);
/* Plug the device. 0 or -errno (logged). */
int vrng_create(struct vm *vm, struct pci_bus *bus, struct evloop *loop,
		const struct vrng_opts *o, struct vrng **out);
/* Remove the device's timer and free it (event loop stopped first). NULL is
 * fine. */
void vrng_destroy(struct vrng *r);

#endif
