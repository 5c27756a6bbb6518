/* msix.c - MSI-X capability, table, PBA and irqfd delivery. */
#include "xvm/msix.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "xvm/irq.h"
#include "xvm/log.h"
#include "xvm/pci.h"
#include "xvm/vm.h"

#define PCI_CAP_ID_MSIX 0x11
#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_CTRL_FMASK 0x4000
#define MSIX_VEC_MASKED 0x1

static void msix_signal(struct msix *m, unsigned v)
{
	uint64_t one = 1;

	if (write(m->efd[v], &one, sizeof(one)) < 0)
		log_debug("msix: irqfd write: %s", strerror(errno));
}

/* Bring vector v's route in line with the masks; deliver a pending one.
 * Called with m->lock held. */
static void msix_update(struct msix *m, unsigned v)
{
	const struct msix_entry *e = &m->table[v];
	bool live = m->enabled && !m->fmask && !(e->ctrl & MSIX_VEC_MASKED);
	bool was = m->live[v];
	uint64_t addr = (uint64_t)e->addr_hi << 32 | e->addr_lo;
	int rc;

	rc = irq_msi_set(&m->vm->irq, m->gsi[v], live, addr, e->data);
	if (rc < 0)
		log_warn("%s: MSI-X vector %u: cannot route: %s", m->pci->name, v,
			 strerror(-rc));
	m->live[v] = live && rc == 0;
	if (m->live[v] && (m->pba[v / 64] & (1ULL << (v % 64)))) {
		m->pba[v / 64] &= ~(1ULL << (v % 64));
		msix_signal(m, v);
	} else if (m->live[v] && !was && m->ext[v]) {
		msix_signal(m, v);   /* whoever else signals it may have done so while masked */
	}
}

int msix_init(struct msix *m, struct vm *vm, struct pci_dev *pci, unsigned nvec,
	      unsigned bar, uint32_t table_off, uint32_t pba_off)
{
	unsigned cap;

	memset(m, 0, sizeof(*m));
	m->vm = vm;
	m->pci = pci;
	m->nvec = nvec;
	pthread_mutex_init(&m->lock, NULL);
	if (!nvec || nvec > 2048)
		return -EINVAL;
	cap = pci_add_cap(pci, PCI_CAP_ID_MSIX, 12);
	if (!cap)
		return -ENOSPC;
	m->cap = cap;
	pci_set16(pci, cap + 2, (uint16_t)(nvec - 1));
	pci->wmask[cap + 3] = (MSIX_CTRL_ENABLE | MSIX_CTRL_FMASK) >> 8;
	pci_set32(pci, cap + 4, table_off | bar);
	pci_set32(pci, cap + 8, pba_off | bar);
	m->table = calloc(nvec, sizeof(*m->table));
	m->pba = calloc((nvec + 63) / 64, sizeof(*m->pba));
	m->gsi = calloc(nvec, sizeof(int));
	m->efd = calloc(nvec, sizeof(int));
	m->live = calloc(nvec, sizeof(bool));
	m->ext = calloc(nvec, sizeof(bool));
	if (!m->table || !m->pba || !m->gsi || !m->efd || !m->live || !m->ext)
		return -ENOMEM;
	for (unsigned v = 0; v < nvec; v++) {
		m->efd[v] = -1;
		m->table[v].ctrl = MSIX_VEC_MASKED;
	}
	for (unsigned v = 0; v < nvec; v++) {
		int rc;
		m->gsi[v] = irq_msi_alloc(&vm->irq);
		if (m->gsi[v] < 0)
			return m->gsi[v];
		m->efd[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (m->efd[v] < 0)
			return -errno;
		rc = irq_irqfd(&vm->irq, m->gsi[v], m->efd[v], true);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void msix_destroy(struct msix *m)
{
	for (unsigned v = 0; m->efd && v < m->nvec; v++) {
		if (m->efd[v] >= 0) {
			irq_irqfd(&m->vm->irq, m->gsi[v], m->efd[v], false);
			close(m->efd[v]);
		}
		if (m->gsi[v] > 0)   /* hot-removed devices give their GSIs back */
			irq_msi_free(&m->vm->irq, m->gsi[v]);
	}
	free(m->table);
	free(m->pba);
	free(m->gsi);
	free(m->efd);
	free(m->live);
	free(m->ext);
	pthread_mutex_destroy(&m->lock);
	memset(m, 0, sizeof(*m));
}

void msix_table_io(struct msix *m, uint64_t off, uint8_t *data, unsigned len,
		   bool is_write)
{
	unsigned v = (unsigned)(off / 16), field = (unsigned)(off % 16);
	uint32_t *w;

	if ((len != 4 && len != 8) || (off & 3) || v >= m->nvec)
		return; /* reads of bad accesses stay 0xff */
	pthread_mutex_lock(&m->lock);
	w = &m->table[v].addr_lo + field / 4;
	if (!is_write) {
		io_put(data, 4, w[0]);
		if (len == 8 && field < 12)
			io_put(data + 4, 4, w[1]);
	} else {
		w[0] = (uint32_t)io_get(data, 4);
		if (len == 8 && field < 12)
			w[1] = (uint32_t)io_get(data + 4, 4);
		msix_update(m, v);
	}
	pthread_mutex_unlock(&m->lock);
}

void msix_pba_io(struct msix *m, uint64_t off, uint8_t *data, unsigned len,
		 bool is_write)
{
	uint64_t word;

	if (is_write || (len != 4 && len != 8) || (off & 3) ||
	    off / 8 >= (m->nvec + 63) / 64)
		return;
	pthread_mutex_lock(&m->lock);
	word = m->pba[off / 8] >> (off % 8 ? 32 : 0);
	pthread_mutex_unlock(&m->lock);
	io_put(data, len, word);
}

void msix_config_write(struct msix *m, unsigned off, unsigned len)
{
	uint16_t ctrl;

	if (off > m->cap + 3 || off + len <= m->cap + 2)
		return;
	pthread_mutex_lock(&m->lock);
	ctrl = pci_get16(m->pci, m->cap + 2);
	m->enabled = ctrl & MSIX_CTRL_ENABLE;
	m->fmask = ctrl & MSIX_CTRL_FMASK;
	for (unsigned v = 0; v < m->nvec; v++)
		msix_update(m, v);
	pthread_mutex_unlock(&m->lock);
}

bool msix_enabled(struct msix *m)
{
	bool e;

	pthread_mutex_lock(&m->lock);
	e = m->enabled;
	pthread_mutex_unlock(&m->lock);
	return e;
}

void msix_notify(struct msix *m, unsigned v)
{
	if (v >= m->nvec)
		return;
	pthread_mutex_lock(&m->lock);
	if (m->live[v])
		msix_signal(m, v);
	else
		m->pba[v / 64] |= 1ULL << (v % 64);
	pthread_mutex_unlock(&m->lock);
}

int msix_share(struct msix *m, unsigned v, bool on)
{
	int fd = -1;

	if (v >= m->nvec)
		return -1;
	pthread_mutex_lock(&m->lock);
	m->ext[v] = on;
	if (on && m->enabled)
		fd = m->efd[v];
	pthread_mutex_unlock(&m->lock);
	return fd;
}
