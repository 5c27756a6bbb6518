/* acpi_pcihp.c - AML for ACPI PCI hotplug on bus 0: slot devices with
 * _ADR/_SUN/_EJ0, the PCNT notifier and the GPE handler that calls it.
 *
 * What it amounts to in ASL (slot n = 1..31, names in hex):
 *   OperationRegion (PCST, SystemIO, 0xAE00, 0x10)
 *   Field (PCST, DWordAcc, NoLock, WriteAsZeros) { PCIU,32, PCID,32, B0EJ,32, PCRM,32 }
 *   Method (PCEJ, 1) { B0EJ = 1 << Arg0 }
 *   Device (Snn) { Name (_ADR, n << 16); Name (_SUN, n);
 *                  Method (_EJ0, 1) { PCEJ (n) } }   // not for boot slots
 *   Method (PCNT, 0, Serialized) { Local0 = PCIU; Local1 = PCID
 *     If (Local0 & (1 << n)) { Notify (Snn, 1) }   // device check
 *     If (Local1 & (1 << n)) { Notify (Snn, 3) } } // eject request
 *   Scope (\_GPE) { Method (_E01) { \_SB.PCI0.PCNT () } }
 * PCI_UP clears when read, so PCNT reads each register once. */
#include "arch/x86/acpi_pcihp.h"

#include <stdio.h>

#include "hw/acpi_gpe_regs.h"
#include "xvm/acpi.h"

#define PCIHP_FIRST_SLOT 1
#define PCIHP_SLOTS 32

static void slot_name(char out[5], unsigned slot)
{
	snprintf(out, 5, "S%02X", slot);
}

static void pcihp_regs(struct aml *a)
{
	aml_opregion_io(a, "PCST", ACPI_PCIHP_PORT, PCIHP_LEN);
	aml_field_begin(a, "PCST", AML_FIELD_DWORD_WZ);
	aml_field_unit(a, "PCIU", 32);
	aml_field_unit(a, "PCID", 32);
	aml_field_unit(a, "B0EJ", 32);
	aml_field_unit(a, "PCRM", 32);
	aml_end(a);
	aml_method_begin(a, "PCEJ", 1, 0);
	/* ShiftLeft (One, Arg0, B0EJ): the target form iasl emits too */
	aml_op(a, AML_OP_SHIFT_LEFT);
	aml_integer(a, 1);
	aml_op(a, AML_ARG0);
	aml_name_string(a, "B0EJ");
	aml_end(a);
}

static void pcihp_slot(struct aml *a, unsigned slot, int ejectable)
{
	char name[5];

	slot_name(name, slot);
	aml_device_begin(a, name);
	aml_name(a, "_ADR");
	aml_integer(a, (uint64_t)slot << 16);
	aml_name(a, "_SUN");
	aml_integer(a, slot);
	if (ejectable) {
		aml_method_begin(a, "_EJ0", 1, 0);
		aml_name_string(a, "PCEJ");
		aml_integer(a, slot);
		aml_end(a);
	}
	aml_end(a);
}

/* If (Local<n> & (1 << slot)) { Notify (Sxx, code) } */
static void pcnt_notify(struct aml *a, uint8_t local, unsigned slot,
			unsigned code)
{
	char name[5];

	slot_name(name, slot);
	aml_if_begin(a);
	aml_op(a, AML_OP_AND);
	aml_op(a, local);
	aml_integer(a, 1ULL << slot);
	aml_op(a, AML_NULL_TARGET);
	aml_op(a, AML_OP_NOTIFY);
	aml_name_string(a, name);
	aml_integer(a, code);
	aml_end(a);
}

void acpi_aml_pcihp_slots(struct aml *a, uint32_t fixed_slots)
{
	pcihp_regs(a);
	for (unsigned s = PCIHP_FIRST_SLOT; s < PCIHP_SLOTS; s++)
		pcihp_slot(a, s, !(fixed_slots & (1u << s)));
	aml_method_begin(a, "PCNT", 0, 1);
	aml_op(a, AML_OP_STORE);
	aml_name_string(a, "PCIU");
	aml_op(a, AML_LOCAL0);
	aml_op(a, AML_OP_STORE);
	aml_name_string(a, "PCID");
	aml_op(a, AML_LOCAL0 + 1);
	for (unsigned s = PCIHP_FIRST_SLOT; s < PCIHP_SLOTS; s++) {
		pcnt_notify(a, AML_LOCAL0, s, 1);       /* device check */
		pcnt_notify(a, AML_LOCAL0 + 1, s, 3);   /* eject request */
	}
	aml_end(a);
}

void acpi_aml_pcihp_gpe(struct aml *a)
{
	char name[5];

	snprintf(name, sizeof(name), "_E%02X", ACPI_GPE_PCIHP);
	aml_scope_begin(a, "_GPE");   /* at the root, as iasl emits it */
	aml_method_begin(a, name, 0, 0);
	aml_name_string(a, "\\_SB.PCI0.PCNT");
	aml_end(a);
	aml_end(a);
}
