/* acpi_pcihp.h - the DSDT's PCI hotplug AML (arch/x86/acpi_pcihp.c). */
#ifndef XVM_ARCH_X86_ACPI_PCIHP_H
#define XVM_ARCH_X86_ACPI_PCIHP_H

#include "arch/x86/acpi_aml.h"

/* Inside Device (PCI0): the register region and fields, PCEJ, the slot
 * devices S01..S1F (no _EJ0 for the slots in fixed_slots) and PCNT. */
void acpi_aml_pcihp_slots(struct aml *a, uint32_t fixed_slots);
/* At the root: Scope (\_GPE) { Method (_E01) { \_SB.PCI0.PCNT () } }. */
void acpi_aml_pcihp_gpe(struct aml *a);

#endif
