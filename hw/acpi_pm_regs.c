/* acpi_pm_regs.c - PM1 status/enable/control, PM timer and reset register
 * logic, free of KVM and locks so unit tests can drive it directly. */
#include "hw/acpi_pm_regs.h"
#include "xvm/acpi.h"

/* status bits that raise the SCI when their enable bit is set */
#define PM1_SCI_EVENTS                                                         \
	(PM1_TMR_STS | PM1_GBL_STS | PM1_PWRBTN_STS | PM1_SLPBTN_STS |         \
	 PM1_RTC_STS)
/* PM1_EN bits the guest may set (the rest are reserved, read 0) */
#define PM1_EN_WRITABLE PM1_SCI_EVENTS
/* PM1_CNT bits that keep the written value (SLP_EN, GBL_RLS are actions) */
#define PM1_CNT_STORED (PM1_CNT_BM_RLD | PM1_CNT_SLP_TYP_MASK)

/* Timer ticks since t0, not wrapped to 24 bits. */
static uint64_t pm1_ticks(const struct pm1_regs *r, uint64_t now_ns)
{
	uint64_t ns = now_ns >= r->t0_ns ? now_ns - r->t0_ns : 0;

	return (uint64_t)((unsigned __int128)ns * PM_TIMER_HZ / 1000000000U);
}

void pm1_init(struct pm1_regs *r, uint64_t now_ns)
{
	*r = (struct pm1_regs){ .t0_ns = now_ns };
}

uint32_t pm1_timer(const struct pm1_regs *r, uint64_t now_ns)
{
	return (uint32_t)(pm1_ticks(r, now_ns) & PM_TIMER_MASK);
}

uint32_t pm1_evt_read(struct pm1_regs *r, uint64_t now_ns)
{
	/* TMR_STS: set whenever timer bit 23 changes, i.e. once per 2^23
	 * ticks (2.34 s); computed when read instead of by a host timer */
	if ((pm1_ticks(r, now_ns) >> 23) != r->tmr_epoch)
		r->sts |= PM1_TMR_STS;
	return r->sts | (uint32_t)r->en << 16;
}

void pm1_evt_write(struct pm1_regs *r, uint32_t val, uint32_t bytemask,
		   uint64_t now_ns)
{
	uint16_t clear = (uint16_t)(val & bytemask);
	uint16_t en_mask = (uint16_t)(bytemask >> 16);

	if (clear & PM1_TMR_STS)
		r->tmr_epoch = pm1_ticks(r, now_ns) >> 23;
	r->sts &= (uint16_t)~clear;
	r->en = (uint16_t)((r->en & ~en_mask) |
			   ((val >> 16) & en_mask & PM1_EN_WRITABLE));
}

uint16_t pm1_cnt_read(const struct pm1_regs *r)
{
	return (uint16_t)((r->cnt & PM1_CNT_STORED) | PM1_CNT_SCI_EN);
}

enum pm1_action pm1_cnt_write(struct pm1_regs *r, uint16_t val,
			      uint16_t bytemask, unsigned *slp_typ)
{
	uint16_t v = val & bytemask;
	unsigned typ;

	r->cnt = (uint16_t)((r->cnt & ~(bytemask & PM1_CNT_STORED)) |
			    (v & PM1_CNT_STORED));
	if (!(v & PM1_CNT_SLP_EN))
		return PM1_ACT_NONE;
	typ = (r->cnt & PM1_CNT_SLP_TYP_MASK) >> PM1_CNT_SLP_TYP_SHIFT;
	if (slp_typ)
		*slp_typ = typ;
	if (typ == ACPI_S5_SLP_TYP)
		return PM1_ACT_POWEROFF;
	/* a sleep state we do not offer: wake up at once so an OS polling
	 * WAK_STS carries on */
	r->sts |= PM1_WAK_STS;
	return PM1_ACT_SLEEP;
}

void pm1_power_button(struct pm1_regs *r)
{
	r->sts |= PM1_PWRBTN_STS;
}

bool pm1_sci_level(const struct pm1_regs *r)
{
	return (r->sts & r->en & PM1_SCI_EVENTS) != 0;
}

enum pm1_action pm1_reset_write(struct pm1_regs *r, uint8_t val)
{
	/* RST_CPU is self-clearing; SYS_RST and FULL_RST are kept */
	r->rst_cnt = val & (RST_CNT_SYS_RST | RST_CNT_FULL_RST);
	return (val & RST_CNT_RST_CPU) ? PM1_ACT_RESET : PM1_ACT_NONE;
}

uint8_t pm1_reset_read(const struct pm1_regs *r)
{
	return r->rst_cnt;
}
