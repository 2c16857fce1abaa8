// SPDX-License-Identifier: GPL-2.0
/*
 * Powers the UML guest off. Used as the last step of the guest's init so
 * that nothing ever writes /proc/sysrq-trigger (with the guest's /proc not
 * mounted, that path would be the host's).
 */
#include <stdio.h>
#include <sys/reboot.h>
#include <unistd.h>

int main(void)
{
	sync();
	reboot(RB_POWER_OFF);
	perror("reboot");
	return 1;
}
