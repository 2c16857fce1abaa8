// SPDX-License-Identifier: GPL-2.0
/*
 * Powers the UML guest off. Used as the last step of the guest's init so
 * that nothing ever writes /proc/sysrq-trigger (with the guest's /proc not
 * mounted, that path would be the host's).
 *
 * Built with -DTLSUP_REBOOT for qemu guests (tools/vm/run.sh): a reboot,
 * which ends qemu -no-reboot on every kernel, also one without ACPI (the
 * debug kernel), where a power-off would only halt the CPUs.
 */
#include <stdio.h>
#include <sys/reboot.h>
#include <unistd.h>

int main(void)
{
	sync();
#ifdef TLSUP_REBOOT
	reboot(RB_AUTOBOOT);
#else
	reboot(RB_POWER_OFF);
#endif
	perror("reboot");
	return 1;
}
