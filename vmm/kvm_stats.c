/* kvm_stats.c - parse a vCPU's KVM binary stats fd and read its exit
 * counters (Documentation/virt/kvm/api.rst, KVM_GET_STATS_FD). */
#include "xvm/kvm_stats.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct kvm_stats {
	int fd;
	uint32_t data_offset, data_size;
	int n;
	struct {
		char name[KVM_STATS_NAME];
		uint32_t offset;          /* of the value, from data_offset */
	} stat[KVM_STATS_MAX];
};

static bool stats_wanted(const struct kvm_stats_desc *d, const char *name)
{
	uint32_t type = d->flags & KVM_STATS_TYPE_MASK;
	size_t l = strlen(name);

	if (d->size != 1 || l >= KVM_STATS_NAME)
		return false;
	if (type == KVM_STATS_TYPE_INSTANT)
		return !strcmp(name, "blocking");
	return type == KVM_STATS_TYPE_CUMULATIVE &&
	       ((l > 6 && !strcmp(name + l - 6, "_exits")) || !strcmp(name, "exits"));
}

/* Walk the descriptor block (already read into buf). */
static int stats_parse(struct kvm_stats *s, const struct kvm_stats_header *h,
		       const uint8_t *buf, size_t len)
{
	size_t dsz = sizeof(struct kvm_stats_desc) + h->name_size;

	for (uint32_t i = 0; i < h->num_desc && s->n < KVM_STATS_MAX; i++) {
		const struct kvm_stats_desc *d = (const void *)(buf + i * dsz);
		char name[KVM_STATS_NAME * 2];

		if ((i + 1) * dsz > len)
			return -EINVAL;
		memcpy(name, d->name, h->name_size < sizeof(name) ? h->name_size : sizeof(name));
		name[sizeof(name) - 1] = 0;
		if (!stats_wanted(d, name) || (uint64_t)d->offset + 8 > s->data_size)
			continue;
		strcpy(s->stat[s->n].name, name);
		s->stat[s->n].offset = d->offset;
		s->n++;
	}
	return 0;
}

int kvm_stats_open(int vcpu_fd, struct kvm_stats **out)
{
	struct kvm_stats_header h;
	struct kvm_stats *s;
	uint8_t *buf = NULL;
	size_t dlen;
	int rc = 0;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = ioctl(vcpu_fd, KVM_GET_STATS_FD, NULL);
	if (s->fd < 0) {
		rc = -errno;
		goto fail;
	}
	if (pread(s->fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    h.desc_offset >= h.data_offset || h.name_size > 1024 || h.num_desc > 4096) {
		rc = -EINVAL;
		goto fail;
	}
	dlen = (sizeof(struct kvm_stats_desc) + h.name_size) * h.num_desc;
	s->data_offset = h.data_offset;
	s->data_size = 8u * 4096;    /* checked against each read below */
	buf = malloc(dlen ? dlen : 1);
	if (!buf || pread(s->fd, buf, dlen, h.desc_offset) != (ssize_t)dlen) {
		rc = buf ? -EIO : -ENOMEM;
		goto fail;
	}
	rc = stats_parse(s, &h, buf, dlen);
	free(buf);
	buf = NULL;
	if (rc < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	free(buf);
	kvm_stats_close(s);
	return rc;
}

int kvm_stats_read(struct kvm_stats *s, struct kvm_stat_val *out, int max)
{
	int k = 0;

	for (int i = 0; s && i < s->n && k < max; i++) {
		uint64_t v;
		if (pread(s->fd, &v, sizeof(v), (off_t)s->data_offset + s->stat[i].offset) !=
		    (ssize_t)sizeof(v))
			continue;
		out[k].name = s->stat[i].name;
		out[k].value = v;
		k++;
	}
	return k;
}

void kvm_stats_close(struct kvm_stats *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}
