/* iobus.c - sorted range table routing port I/O and MMIO exits to devices. */
#include "xvm/iobus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void iobus_init(struct iobus *bus)
{
	pthread_rwlockattr_t a;

	memset(bus, 0, sizeof(*bus));
	/* writer-preferring: a stream of exits cannot starve a hotplug */
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&bus->lock, &a);
	pthread_rwlockattr_destroy(&a);
}

void iobus_free(struct iobus *bus)
{
	free(bus->ranges);
	pthread_rwlock_destroy(&bus->lock);
	memset(bus, 0, sizeof(*bus));
}

static int iobus_insert(struct iobus *bus, uint64_t base, uint64_t len,
			io_handler_fn fn, void *opaque, const char *name)
{
	unsigned i;

	if (!len || base + len < base || !fn)
		return -EINVAL;
	for (i = 0; i < bus->n; i++) {
		const struct io_range *r = &bus->ranges[i];
		if (base < r->base + r->len && r->base < base + len)
			return -EEXIST;
		if (r->base > base)
			break;
	}
	if (bus->n == bus->cap) {
		unsigned cap = bus->cap ? bus->cap * 2 : 16;
		struct io_range *nr = realloc(bus->ranges, cap * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		bus->ranges = nr;
		bus->cap = cap;
	}
	memmove(&bus->ranges[i + 1], &bus->ranges[i],
		(bus->n - i) * sizeof(bus->ranges[0]));
	bus->ranges[i] = (struct io_range){ base, len, fn, opaque, name };
	bus->n++;
	return 0;
}

int iobus_register(struct iobus *bus, uint64_t base, uint64_t len,
		   io_handler_fn fn, void *opaque, const char *name)
{
	int rc;

	pthread_rwlock_wrlock(&bus->lock);
	rc = iobus_insert(bus, base, len, fn, opaque, name);
	pthread_rwlock_unlock(&bus->lock);
	return rc;
}

static int iobus_remove(struct iobus *bus, uint64_t base, struct io_range *out)
{
	for (unsigned i = 0; i < bus->n; i++) {
		if (bus->ranges[i].base != base)
			continue;
		if (out)
			*out = bus->ranges[i];
		memmove(&bus->ranges[i], &bus->ranges[i + 1],
			(bus->n - i - 1) * sizeof(bus->ranges[0]));
		bus->n--;
		return 0;
	}
	return -ENOENT;
}

int iobus_unregister(struct iobus *bus, uint64_t base, struct io_range *out)
{
	int rc;

	pthread_rwlock_wrlock(&bus->lock);
	rc = iobus_remove(bus, base, out);
	pthread_rwlock_unlock(&bus->lock);
	return rc;
}

static const struct io_range *iobus_find(const struct iobus *bus, uint64_t addr)
{
	unsigned lo = 0, hi = bus->n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct io_range *r = &bus->ranges[mid];
		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

int iobus_dispatch(struct iobus *bus, uint64_t addr, uint8_t *data,
		   unsigned len, bool is_write)
{
	const struct io_range *r;
	int rc = -ENOENT;

	if (len == 0 || len > 8)
		return -ENOENT; /* no device access is wider than 8 bytes */
	if (!is_write)
		memset(data, 0xff, len);
	pthread_rwlock_rdlock(&bus->lock);
	r = iobus_find(bus, addr);
	if (r && addr - r->base + len <= r->len) {
		r->fn(r->opaque, addr - r->base, data, len, is_write);
		rc = 0;
	}
	pthread_rwlock_unlock(&bus->lock);
	return rc;
}
