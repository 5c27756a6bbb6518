/* machine.c - assemble and tear down the virtual PC of one VMM process. */
#include "xvm/machine.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "xvm/acpi.h"
#include "xvm/evloop.h"
#include "xvm/hotplug.h"
#include "xvm/log.h"
#include "xvm/pci.h"
#include "xvm/pvpanic.h"
#include "xvm/serial.h"
#include "xvm/vcpu.h"

/* PCI hotplug for devices added at run time; the boot devices' ids stay
 * taken. */
static int machine_hotplug(struct machine *m)
{
	struct hotplug_env env = { .vm = m->vm, .pci = m->pci, .pm = m->pm,
				   .loop = m->loop, .boot_ids = m->boot_ids };
	int rc;

	for (unsigned i = 0; i < m->ndisks; i++)
		m->boot_ids[env.nboot_ids++] = vblk_id(m->disk[i]);
	for (unsigned i = 0; i < m->nnics; i++)
		m->boot_ids[env.nboot_ids++] = vnet_id(m->nic[i]);
	rc = hotplug_create(&env, &m->hotplug);
	if (rc < 0)
		log_err("cannot start PCI hotplug: %s", strerror(-rc));
	return rc;
}

/* Firmware tables, platform devices, disks and the kernel: everything that
 * can fail on bad input. */
static int machine_platform(struct machine *m, struct machine_config *cfg)
{
	struct acpi_config acfg = {
		.ncpus = m->vm->nvcpus,
		.pci_mmio_base = PCI_MMIO_BASE,
		.pci_mmio_size = PCI_MMIO_END - PCI_MMIO_BASE,
		.pci_ecam_base = PCI_ECAM_BASE,
		.pci_hotplug = 1,
	};
	void *tables = gm_ptr(&m->vm->mem, ACPI_TABLES_GPA, ACPI_TABLES_MAX);
	int rc;

	if ((rc = acpi_pm_create(m->vm, &m->pm)) < 0) {
		log_err("cannot create the ACPI PM device: %s", strerror(-rc));
		return rc;
	}
	if ((rc = pci_bus_create(m->vm, &m->pci)) < 0) {
		log_err("cannot create the PCI bus: %s", strerror(-rc));
		return rc;
	}
	if ((rc = evloop_create(&m->loop, "xvm-io")) < 0) {
		log_err("cannot start the device event loop: %s", strerror(-rc));
		return rc;
	}
	for (unsigned i = 0; i < cfg->ndisks; i++) {
		if ((rc = vblk_create(m->vm, m->pci, m->loop, &cfg->disk[i], &m->disk[i])) < 0)
			return rc;
		m->ndisks++;
	}
	for (unsigned i = 0; i < cfg->nnics; i++) {
		if ((rc = vnet_create(m->vm, m->pci, m->loop, &cfg->nic[i], i, &m->nic[i])) < 0)
			return rc;
		m->nnics++;
	}
	if (cfg->rng.enabled &&
	    (rc = vrng_create(m->vm, m->pci, m->loop, &cfg->rng, &m->rng)) < 0)
		return rc;
	if (cfg->vcon.nports &&
	    (rc = vcon_create(m->vm, m->pci, m->loop, &cfg->vcon, &m->vcon)) < 0)
		return rc;
	if (!cfg->no_pvpanic && (rc = pvpanic_create(m->vm, m->pci, &m->pvpanic)) < 0) {
		log_err("cannot create the pvpanic device: %s", strerror(-rc));
		return rc;
	}
	if ((rc = machine_hotplug(m)) < 0)
		return rc;
	for (unsigned s = 1; s < PCI_MAX_SLOTS; s++)   /* boot devices stay put */
		if (pci_cfg_read(m->pci, s, 0, PCI_VENDOR_ID, 2) != 0xffff)
			acfg.pci_fixed_slots |= 1u << s;
	rc = acpi_build(tables, ACPI_TABLES_MAX, ACPI_TABLES_GPA, &acfg,
			&cfg->boot.rsdp_gpa);
	if (rc < 0) {
		log_err("cannot build ACPI tables: %s", strerror(-rc));
		return rc;
	}
	return boot_load(m->vm, &cfg->boot);
}

/* The console last: it may create a file or a pty. */
static int machine_console(struct machine *m, const char *spec, const char *log_path)
{
	int rc = console_open(&m->con, spec);

	if (rc < 0)
		return rc;
	rc = serial_create(m->vm, SERIAL_COM1_PORT, SERIAL_COM1_IRQ, m->con.out_fd,
			   &m->serial);
	if (rc < 0) {
		log_err("cannot create the serial port: %s", strerror(-rc));
		return rc;
	}
	if (log_path) {
		m->console_log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
					 0640);
		if (m->console_log_fd < 0) {
			rc = -errno;
			log_err("--console-log %s: %s", log_path, strerror(errno));
			return rc;
		}
		serial_set_log(m->serial, m->console_log_fd);
	}
	vcon_set_output(m->vcon, m->con.out_fd);
	return console_start(&m->con, m->vm, m->serial);
}

int machine_create(struct machine *m, struct kvm_host *kvm, struct machine_config *cfg)
{
	int rc;

	memset(m, 0, sizeof(*m));
	m->con.in_fd = m->con.out_fd = m->con.stop_fd = -1;
	m->console_log_fd = -1;
	rc = vm_create(&m->vm, kvm, &cfg->vm);
	if (rc == 0)
		rc = machine_platform(m, cfg);
	if (rc == 0)
		rc = machine_console(m, cfg->console, cfg->console_log);
	return rc;
}

int machine_start(struct machine *m)
{
	return vm_start(m->vm);
}

/* Peak RSS of this process in KiB (VmHWM), 0 when unknown. */
static unsigned long peak_rss_kib(void)
{
	char line[128];
	unsigned long kib = 0;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %lu kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

void machine_log_stats(struct machine *m)
{
	struct vm *vm = m->vm;
	uint64_t exits = 0, io = 0, mmio = 0;
	unsigned long hwm = peak_rss_kib();
	unsigned long guest = (unsigned long)(gm_resident(&vm->mem) >> 10);

	for (unsigned i = 0; i < vm->nvcpus; i++) {
		exits += vm->vcpu[i]->stats.exits;
		io += vm->vcpu[i]->stats.io;
		mmio += vm->vcpu[i]->stats.mmio;
	}
	log_info("stats: exits=%llu pio=%llu mmio=%llu rss_peak_kib=%lu "
		 "guest_resident_kib=%lu vmm_overhead_kib=%lu",
		 (unsigned long long)exits, (unsigned long long)io,
		 (unsigned long long)mmio, hwm, guest, hwm > guest ? hwm - guest : 0);
}

void machine_destroy(struct machine *m)
{
	console_close(&m->con);
	vm_halt(m->vm);            /* no vCPU touches a device after this */
	evloop_stop(m->loop);      /* nor does the event loop */
	hotplug_destroy(m->hotplug);
	for (unsigned i = 0; i < m->ndisks; i++)
		vblk_destroy(m->disk[i]);
	for (unsigned i = 0; i < m->nnics; i++)
		vnet_destroy(m->nic[i]);
	vrng_destroy(m->rng);
	vcon_destroy(m->vcon);
	pvpanic_destroy(m->pvpanic);
	evloop_destroy(m->loop);
	serial_destroy(m->serial);
	if (m->vm && m->console_log_fd >= 0)   /* a zeroed machine has no fds */
		close(m->console_log_fd);
	acpi_pm_destroy(m->pm);
	pci_bus_destroy(m->pci);
	vm_destroy(m->vm);
	memset(m, 0, sizeof(*m));
}
