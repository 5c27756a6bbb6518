/* acpi_gpe_regs.c - GPE0 status/enable and the PCI hotplug registers
 * (UP, DOWN, eject, removable), free of KVM and locks. */
#include "hw/acpi_gpe_regs.h"

#include "xvm/acpi.h"

uint8_t gpe_read(const struct gpe_regs *r, unsigned off)
{
	switch (off) {
	case 0: return (uint8_t)r->sts;
	case 1: return (uint8_t)(r->sts >> 8);
	case 2: return (uint8_t)r->en;
	case 3: return (uint8_t)(r->en >> 8);
	}
	return 0;
}

void gpe_write(struct gpe_regs *r, unsigned off, uint8_t val)
{
	switch (off) {
	case 0: r->sts &= (uint16_t)~val; break;
	case 1: r->sts &= (uint16_t)~(val << 8); break;
	case 2: r->en = (uint16_t)((r->en & 0xff00) | val); break;
	case 3: r->en = (uint16_t)((r->en & 0x00ff) | val << 8); break;
	}
}

void gpe_raise(struct gpe_regs *r, unsigned bit)
{
	if (bit < 16)
		r->sts |= (uint16_t)(1u << bit);
}

bool gpe_sci_level(const struct gpe_regs *r)
{
	return (r->sts & r->en) != 0;
}

uint32_t pcihp_read(struct gpe_regs *r, unsigned off)
{
	uint32_t v;

	switch (off) {
	case PCIHP_UP:
		v = r->up;
		r->up = 0;   /* one device check per arrival */
		return v;
	case PCIHP_DOWN:
		return r->down;
	case PCIHP_RMV:
		return r->rmv;
	}
	return 0;
}

uint32_t pcihp_write(struct gpe_regs *r, unsigned off, uint32_t val)
{
	uint32_t ej;

	if (off != PCIHP_EJ)
		return 0;
	ej = val & r->down;  /* only what we asked for: a hostile write of
			      * all ones ejects nothing else */
	r->down &= ~ej;
	return ej;
}

static bool slot_ok(unsigned slot)
{
	return slot >= 1 && slot < 32;
}

void pcihp_plug(struct gpe_regs *r, unsigned slot)
{
	if (!slot_ok(slot))
		return;
	r->up |= 1u << slot;
	r->down &= ~(1u << slot);
	gpe_raise(r, ACPI_GPE_PCIHP);
}

void pcihp_unplug_request(struct gpe_regs *r, unsigned slot)
{
	if (!slot_ok(slot))
		return;
	r->up &= ~(1u << slot);
	r->down |= 1u << slot;
	gpe_raise(r, ACPI_GPE_PCIHP);
}

void pcihp_gone(struct gpe_regs *r, unsigned slot)
{
	if (!slot_ok(slot))
		return;
	r->up &= ~(1u << slot);
	r->down &= ~(1u << slot);
}
