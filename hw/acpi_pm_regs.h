/* acpi_pm_regs.h - the PM1a register block as a pure state machine (no KVM,
 * no locking, no clock reads): hw/acpi_pm.c wraps it with ports, a mutex,
 * the SCI line and VM stop requests; tests drive it directly.
 *
 * Registers (ACPI 6, 4.8.3): PM1_STS (16 bits, write 1 to clear), PM1_EN
 * (16 bits) in the event block, PM1_CNT (16 bits) in the control block, the
 * 24-bit PM timer, and the reset control register at port 0xCF9. Time comes
 * in as a CLOCK_MONOTONIC nanosecond value the caller reads. */
#ifndef XVM_HW_ACPI_PM_REGS_H
#define XVM_HW_ACPI_PM_REGS_H

#include <stdbool.h>
#include <stdint.h>

#define PM1_TMR_STS (1u << 0)
#define PM1_GBL_STS (1u << 5)
#define PM1_PWRBTN_STS (1u << 8)
#define PM1_SLPBTN_STS (1u << 9)
#define PM1_RTC_STS (1u << 10)
#define PM1_WAK_STS (1u << 15)
/* enable bits sit at the same positions as their status bits */
#define PM1_TMR_EN PM1_TMR_STS
#define PM1_GBL_EN PM1_GBL_STS
#define PM1_PWRBTN_EN PM1_PWRBTN_STS
#define PM1_SLPBTN_EN PM1_SLPBTN_STS
#define PM1_RTC_EN PM1_RTC_STS

#define PM1_CNT_SCI_EN (1u << 0)
#define PM1_CNT_BM_RLD (1u << 1)
#define PM1_CNT_GBL_RLS (1u << 2)
#define PM1_CNT_SLP_TYP_SHIFT 10
#define PM1_CNT_SLP_TYP_MASK (7u << PM1_CNT_SLP_TYP_SHIFT)
#define PM1_CNT_SLP_EN (1u << 13)

#define PM_TIMER_HZ 3579545ULL
#define PM_TIMER_MASK 0xffffffu

/* reset control register (port 0xCF9) bits */
#define RST_CNT_SYS_RST 0x02
#define RST_CNT_RST_CPU 0x04
#define RST_CNT_FULL_RST 0x08

/* What a register write asks of the VM. */
enum pm1_action {
	PM1_ACT_NONE = 0,
	PM1_ACT_POWEROFF,  /* SLP_EN with SLP_TYP == ACPI_S5_SLP_TYP */
	PM1_ACT_SLEEP,     /* SLP_EN with another SLP_TYP: woken at once */
	PM1_ACT_RESET,     /* RST_CPU written to the reset register */
};

struct pm1_regs {
	uint16_t sts, en, cnt;
	uint8_t rst_cnt;
	uint64_t t0_ns;         /* clock value at which the timer read 0 */
	uint64_t tmr_epoch;     /* timer bit-23 epoch of the last TMR_STS clear */
};

/* Power-on state; now_ns is the current CLOCK_MONOTONIC time. */
void pm1_init(struct pm1_regs *r, uint64_t now_ns);
/* The 24-bit PM timer value at now_ns (3.579545 MHz, wraps). */
uint32_t pm1_timer(const struct pm1_regs *r, uint64_t now_ns);
/* The event block as a 32-bit value: PM1_STS in bits 0-15, PM1_EN in 16-31.
 * TMR_STS is latched here when timer bit 23 has flipped since its clear. */
uint32_t pm1_evt_read(struct pm1_regs *r, uint64_t now_ns);
/* Write the event block bytes selected by bytemask (0xff per byte):
 * status bits are write-1-to-clear, enable bits are stored. */
void pm1_evt_write(struct pm1_regs *r, uint32_t val, uint32_t bytemask,
		   uint64_t now_ns);
/* PM1_CNT as the guest reads it: SCI_EN is always 1, SLP_EN reads 0. */
uint16_t pm1_cnt_read(const struct pm1_regs *r);
/* Write PM1_CNT bytes selected by bytemask; *slp_typ gets the sleep type
 * when the result is PM1_ACT_POWEROFF or PM1_ACT_SLEEP. */
enum pm1_action pm1_cnt_write(struct pm1_regs *r, uint16_t val,
			      uint16_t bytemask, unsigned *slp_typ);
/* The power button was pressed: sets PWRBTN_STS. */
void pm1_power_button(struct pm1_regs *r);
/* Level the SCI line should have: an enabled status bit is set. */
bool pm1_sci_level(const struct pm1_regs *r);
/* Reset control register write: PM1_ACT_RESET when RST_CPU is set
 * (0x06 and 0x0E both reset; 0x02 alone only arms SYS_RST). */
enum pm1_action pm1_reset_write(struct pm1_regs *r, uint8_t val);
uint8_t pm1_reset_read(const struct pm1_regs *r);

#endif
