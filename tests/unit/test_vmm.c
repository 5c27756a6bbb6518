/* test_vmm.c - unit tests for the VMM core pieces that need no /dev/kvm:
 * the I/O bus, guest memory bounds, the e820 map, CPUID topology and PVM
 * masking, and boot-image detection and hostile-image rejection. */
#include <elf.h>
#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/boot_internal.h"
#include "arch/x86/cpuid.h"
#include "tests/unit/check.h"
#include "xvm/boot.h"
#include "xvm/iobus.h"
#include "xvm/kvm.h"
#include "xvm/log.h"
#include "xvm/pci.h"
#include "xvm/vcpu.h"
#include "xvm/vm.h"

static unsigned hits;
static uint64_t last_off;

static void dev(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool wr)
{
	(void)opaque;
	hits++;
	last_off = off;
	if (!wr)
		io_put(data, len, 0x11223344);
}

static void test_iobus(void)
{
	struct iobus b;
	uint8_t d[8];

	iobus_init(&b);
	CHECK(iobus_register(&b, 0x3f8, 8, dev, NULL, "a") == 0);
	CHECK(iobus_register(&b, 0x600, 4, dev, NULL, "b") == 0);
	CHECK(iobus_register(&b, 0x100, 1, dev, NULL, "c") == 0);
	CHECK(iobus_register(&b, 0x3fc, 8, dev, NULL, "overlap") == -EEXIST);
	CHECK(iobus_register(&b, 0x3f0, 9, dev, NULL, "overlap") == -EEXIST);
	CHECK(iobus_register(&b, 0x10, 0, dev, NULL, "empty") == -EINVAL);
	CHECK(iobus_register(&b, UINT64_MAX, 2, dev, NULL, "wrap") == -EINVAL);
	for (unsigned i = 0; i < 40; i++) /* grows past the initial capacity */
		CHECK(iobus_register(&b, 0x1000 + 16 * i, 16, dev, NULL, "n") == 0);
	hits = 0;
	CHECK(iobus_dispatch(&b, 0x3fd, d, 1, false) == 0 && last_off == 5 && d[0] == 0x44);
	CHECK(iobus_dispatch(&b, 0x602, d, 2, true) == 0 && last_off == 2);
	CHECK(iobus_dispatch(&b, 0x1000 + 16 * 39 + 15, d, 1, true) == 0 && last_off == 15);
	CHECK(hits == 3);
	memset(d, 0, sizeof(d));
	CHECK(iobus_dispatch(&b, 0x500, d, 4, false) == -ENOENT && d[0] == 0xff && d[3] == 0xff);
	CHECK(iobus_dispatch(&b, 0x603, d, 2, false) == -ENOENT); /* straddles the end */
	CHECK(iobus_dispatch(&b, 0x3f8, d, 9, false) == -ENOENT);
	CHECK(hits == 3);
	iobus_free(&b);
}

/* Registration while other threads dispatch (PCI hotplug): a handler never
 * runs for a range after iobus_unregister() returned. */
struct hp_dev_state {
	atomic_int alive;           /* 1 between register and unregister's return */
	atomic_int bad;             /* handler ran while not alive */
};
static struct hp_dev_state hp_state[4];
static struct iobus hp_bus;
static atomic_int hp_stop;

static void hp_dev(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool wr)
{
	struct hp_dev_state *st = opaque;

	(void)off, (void)data, (void)len, (void)wr;
	for (volatile int i = 0; i < 300; i++)   /* a handler takes a while */
		;
	if (!atomic_load(&st->alive))
		atomic_fetch_add(&st->bad, 1);
}

static void *hp_vcpu(void *arg)
{
	uint8_t d[4];
	unsigned n = 0;

	(void)arg;
	while (!atomic_load(&hp_stop))
		iobus_dispatch(&hp_bus, 0x10000 + 0x1000 * (n++ % 4), d, 4, false);
	return NULL;
}

static void test_iobus_hotplug(void)
{
	pthread_t t[2];
	int bad = 0;

	iobus_init(&hp_bus);
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&t[i], NULL, hp_vcpu, NULL) == 0);
	for (unsigned round = 0; round < 20000; round++) {
		struct hp_dev_state *st = &hp_state[round % 4];
		uint64_t base = 0x10000 + 0x1000 * (round % 4);

		atomic_store(&st->alive, 1);
		CHECK(iobus_register(&hp_bus, base, 0x1000, hp_dev, st, "hp") == 0);
		CHECK(iobus_unregister(&hp_bus, base, NULL) == 0);
		atomic_store(&st->alive, 0);   /* no handler may run from here on */
	}
	atomic_store(&hp_stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 4; i++)
		bad += atomic_load(&hp_state[i].bad);
	CHECK(bad == 0 && hp_bus.n == 0);
	iobus_free(&hp_bus);
}

static void test_guestmem(void)
{
	struct guestmem gm;
	uint8_t buf[16];

	CHECK(gm_init(&gm, 4097) == -EINVAL);
	CHECK(gm_init(&gm, 64 << 20) == 0);
	CHECK(gm.low_size == 64 << 20 && gm.high_size == 0);
	CHECK(gm_ptr(&gm, 0, 64 << 20) == gm.host);
	CHECK(gm_ptr(&gm, (64 << 20) - 1, 1) != NULL);
	CHECK(gm_ptr(&gm, (64 << 20) - 1, 2) == NULL);
	CHECK(gm_ptr(&gm, 64 << 20, 0) == NULL);
	CHECK(gm_ptr(&gm, UINT64_MAX, 2) == NULL);
	CHECK(gm_ptr(&gm, GUESTMEM_4G, 1) == NULL);
	CHECK(gm_write(&gm, 0x1000, "hello", 6) == 0);
	CHECK(gm_read(&gm, 0x1000, buf, 6) == 0 && !strcmp((char *)buf, "hello"));
	CHECK(gm_read(&gm, (64 << 20) - 4, buf, 8) == -EFAULT);
	CHECK(gm_resident(&gm) >= 4096);
	gm_free(&gm);

	/* RAM split around the hole: 3 GiB low, the rest above 4 GiB */
	CHECK(gm_init(&gm, GUESTMEM_HOLE_START + (1ULL << 30)) == 0);
	CHECK(gm.low_size == GUESTMEM_HOLE_START && gm.high_size == 1ULL << 30);
	CHECK(gm_ptr(&gm, GUESTMEM_HOLE_START, 1) == NULL);
	CHECK(gm_ptr(&gm, GUESTMEM_HOLE_START - 1, 2) == NULL);
	CHECK(gm_ptr(&gm, GUESTMEM_4G, 1) == gm.host + GUESTMEM_HOLE_START);
	CHECK(gm_ptr(&gm, GUESTMEM_4G + (1ULL << 30) - 8, 8) != NULL);
	CHECK(gm_ptr(&gm, GUESTMEM_4G + (1ULL << 30) - 8, 9) == NULL);
	gm_free(&gm);
}

static void test_e820(void)
{
	struct vm vm;
	struct e820_entry e[8];
	unsigned n;
	uint64_t ram = 0;

	memset(&vm, 0, sizeof(vm));
	vm.mem.size = vm.mem.low_size = 512 << 20;
	n = e820_build(&vm, e, 8);
	for (unsigned i = 0; i < n; i++) {
		if (e[i].type == E820_RAM)
			ram += e[i].size;
		if (i)
			CHECK(e[i].addr >= e[i - 1].addr + e[i - 1].size); /* sorted, disjoint */
	}
	CHECK(n == 5 && e[4].addr == PCI_ECAM_BASE && e[4].type == E820_RESERVED);
	CHECK(ram == (512 << 20) - 0x100000 + BOOT_EBDA_GPA);
	vm.mem.size = 5ULL << 30;
	vm.mem.low_size = GUESTMEM_HOLE_START;
	vm.mem.high_size = vm.mem.size - GUESTMEM_HOLE_START;
	n = e820_build(&vm, e, 8);
	CHECK(n == 6 && e[5].addr == GUESTMEM_4G && e[5].size == vm.mem.high_size);
	CHECK(e820_build(&vm, e, 2) == 2);
}

static struct kvm_cpuid_entry2 *find(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
	for (unsigned i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == idx)
			return &c->entries[i];
	return NULL;
}

static void test_cpuid(void)
{
	struct kvm_host kvm = { .fd = -1 };
	struct kvm_cpuid2 *src, *c = NULL;
	struct kvm_cpuid_entry2 *e;

	src = calloc(1, sizeof(*src) + 8 * sizeof(src->entries[0]));
	src->nent = 5;
	src->entries[0] = (struct kvm_cpuid_entry2){ .function = 1, .ebx = 0x00010800,
		.ecx = 0xffffffff, .edx = 0 };
	src->entries[1] = (struct kvm_cpuid_entry2){ .function = 7, .index = 0,
		.ebx = 0xffffffff, .ecx = 0xffffffff, .edx = 0xffffffff };
	src->entries[2] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 1 };
	src->entries[3] = (struct kvm_cpuid_entry2){ .function = 0xd, .eax = 7 };
	src->entries[4] = (struct kvm_cpuid_entry2){ .function = 0x80000008, .ecx = 0xf00f };
	kvm.cpuid = src;

	CHECK(cpuid_build(&kvm, 3, 4, &c) == 0);
	e = find(c, 1, 0);
	CHECK(e && (e->ebx >> 24) == 3 && ((e->ebx >> 16) & 0xff) == 4 && (e->edx & (1u << 28)));
	CHECK(e && (e->ecx & (1u << 26))); /* not PVM: XSAVE stays */
	e = find(c, 0xb, 1);
	CHECK(e && e->eax == 2 && e->ebx == 4 && e->edx == 3 && (e->ecx >> 8) == 2);
	e = find(c, 0x80000008, 0);
	CHECK(e && (e->ecx & 0xff) == 3 && ((e->ecx >> 12) & 0xf) == 2);
	free(c);

	kvm.pvm = true;
	CHECK(cpuid_build(&kvm, 0, 1, &c) == 0);
	e = find(c, 1, 0);
	CHECK(e && !(e->ecx & ((1u << 26) | (1u << 27) | (1u << 28) | (1u << 13))));
	CHECK(e && !(e->edx & (1u << 28)));
	e = find(c, 7, 0);
	CHECK(e && !(e->edx & (1u << 29)) && !(e->ebx & (1u << 5)));
	e = find(c, 0xd, 0);
	CHECK(e && e->eax == 0);
	free(c);
	free(src);
}

static void test_boot_detect(void)
{
	uint8_t img[0x300];

	memset(img, 0, sizeof(img));
	CHECK(boot_detect(img, sizeof(img)) == BOOT_UNKNOWN);
	memcpy(img + 0x202, "HdrS", 4);
	CHECK(boot_detect(img, sizeof(img)) == BOOT_BZIMAGE);
	CHECK(boot_detect(img, 0x205) == BOOT_UNKNOWN); /* too short for the magic */
	memset(img, 0, sizeof(img));
	memcpy(img, "\177ELF", 4);
	CHECK(boot_detect(img, sizeof(img)) == BOOT_PVH_ELF);
	CHECK(boot_detect(img, 10) == BOOT_UNKNOWN);
}

/* A minimal ELF: header, one PT_LOAD at paddr, one PT_NOTE with the entry. */
struct mini_elf {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[2];
	Elf64_Nhdr nh;
	char name[4];
	uint32_t entry;
	uint8_t code[16];
};

static void mini_elf(struct mini_elf *m, uint64_t paddr)
{
	memset(m, 0, sizeof(*m));
	memcpy(m->eh.e_ident, ELFMAG, SELFMAG);
	m->eh.e_ident[EI_CLASS] = ELFCLASS64;
	m->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	m->eh.e_machine = EM_X86_64;
	m->eh.e_phoff = offsetof(struct mini_elf, ph);
	m->eh.e_phentsize = sizeof(Elf64_Phdr);
	m->eh.e_phnum = 2;
	m->ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = offsetof(struct mini_elf, code),
		.p_paddr = paddr, .p_filesz = 16, .p_memsz = 4096 };
	m->ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = offsetof(struct mini_elf, nh),
		.p_filesz = sizeof(Elf64_Nhdr) + 8 };
	m->nh = (Elf64_Nhdr){ .n_namesz = 4, .n_descsz = 4, .n_type = 18 };
	memcpy(m->name, "Xen", 4);
	m->entry = (uint32_t)paddr;
}

static int load_pvh(struct vm *vm, const void *data, size_t len)
{
	struct boot_config cfg = { .kernel = "mini.elf" };
	struct boot_image img = { "mini.elf", data, len };

	return pvh_load(vm, &cfg, &img);
}

static void test_pvh_hostile(void)
{
	struct vcpu vc = { .fd = -1 };
	struct vcpu *vcs[1] = { &vc };
	struct vm vm;
	struct mini_elf m;

	memset(&vm, 0, sizeof(vm));
	vm.vcpu = vcs;
	vm.nvcpus = 1;
	CHECK(gm_init(&vm.mem, 16 << 20) == 0);
	/* a good image gets as far as setting registers (no KVM here: EBADF) */
	mini_elf(&m, 0x100000);
	CHECK(load_pvh(&vm, &m, sizeof(m)) == -EBADF);
	CHECK(!memcmp(gm_ptr(&vm.mem, 0x100000, 4), m.code, 4));
	mini_elf(&m, 0x100000);
	CHECK(load_pvh(&vm, &m, offsetof(struct mini_elf, nh)) == -ENOEXEC); /* cut note */
	mini_elf(&m, 0x100000);
	m.ph[0].p_filesz = 1ULL << 40; /* past the end of the file */
	CHECK(load_pvh(&vm, &m, sizeof(m)) == -ENOEXEC);
	mini_elf(&m, 0x100000);
	m.ph[0].p_memsz = 8; /* filesz > memsz */
	CHECK(load_pvh(&vm, &m, sizeof(m)) == -ENOEXEC);
	mini_elf(&m, 15 << 20); /* segment runs off the end of RAM */
	m.ph[0].p_memsz = 2 << 20;
	CHECK(load_pvh(&vm, &m, sizeof(m)) == -EFBIG);
	mini_elf(&m, UINT64_MAX - 8); /* wraps */
	CHECK(load_pvh(&vm, &m, sizeof(m)) == -EFBIG);
	mini_elf(&m, 0x1000); /* over the boot structures */
	CHECK(load_pvh(&vm, &m, sizeof(m)) == -ENOEXEC);
	mini_elf(&m, 0x100000);
	m.nh.n_type = 17; /* no PHYS32_ENTRY note */
	CHECK(load_pvh(&vm, &m, sizeof(m)) == -ENOEXEC);
	mini_elf(&m, 0x100000);
	m.nh.n_descsz = 0xfffffff0; /* note larger than its segment */
	CHECK(load_pvh(&vm, &m, sizeof(m)) == -ENOEXEC);
	mini_elf(&m, 0x100000);
	m.eh.e_phnum = 0xffff; /* program headers past the end */
	CHECK(load_pvh(&vm, &m, sizeof(m)) == -ENOEXEC);
	mini_elf(&m, 0x100000);
	m.eh.e_machine = EM_386;
	CHECK(load_pvh(&vm, &m, sizeof(m)) == -ENOEXEC);
	gm_free(&vm.mem);
}

int main(void)
{
	log_init("test-vmm", LOG_ERR); /* hostile-input error lines are expected */
	test_iobus();
	test_iobus_hotplug();
	test_guestmem();
	test_e820();
	test_cpuid();
	test_boot_detect();
	test_pvh_hostile();
	return check_report("vmm");
}
