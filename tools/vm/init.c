// SPDX-License-Identifier: GPL-2.0
/*
 * PID 1 of a tools/vm initramfs: loads the modules the 9p root needs (the
 * initramfs's /modules lists them in dependency order, as modprobe
 * --show-depends printed them on the host), mounts the host's root
 * read-only over 9p (or, with TLSUP_ROOTFS, a root tree of its own),
 * moves /dev, /proc and /sys under it, makes it the root and executes the
 * program named by the TLSUP_INIT variable (a kernel parameter:
 * tools/vm/guest-init, or systemd). Static, no libraries: the initramfs
 * holds nothing else.
 *
 * Anything that goes wrong is printed on the console with the marker line
 * the runner reads, and the machine is rebooted (which stops qemu
 * -no-reboot), so that a broken initramfs ends the run at once with a
 * reason instead of a time-out.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("TLSUP-INIT: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputs("\nTLSUP-EXIT-STATUS=126\n", stdout);
	fflush(stdout);
	sync();
	/* qemu -no-reboot: ends the run, with or without ACPI. */
	reboot(RB_AUTOBOOT);
	for (;;)
		pause();
}

static void load_modules(void)
{
	char line[512];
	FILE *list = fopen("/modules", "r");

	if (!list)
		return;
	while (fgets(line, sizeof(line), list)) {
		int fd;

		line[strcspn(line, "\n")] = '\0';
		if (!line[0])
			continue;
		fd = open(line, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die("open %s: %s", line, strerror(errno));
		if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)
			die("finit_module %s: %s", line, strerror(errno));
		close(fd);
	}
	fclose(list);
}

/*
 * A system of its own (TLSUP_ROOTFS=1, tools/vm/boot.sh): the root tree is
 * the writable share "rootfs"; the kernel image's modules (read-only share
 * "modules") appear on its /lib/modules with a tmpfs over them, so that
 * depmod and DKMS can write there. What they write is lost at power-off:
 * a run that needs it at its next boot (a module DKMS built) puts a copy
 * of the image's modules in the root tree itself, and boot.sh says so with
 * TLSUP_MODULES=rootfs: no overlay then.
 *
 * cache=loose: only this guest uses the tree while it runs (the host
 * writes it between boots), so its page cache, dentries and attributes
 * may be kept; without them every lookup and stat of apt, dpkg, perl and
 * systemd is a round trip to the host (measured, the systemd suite on
 * stock 6.12: apt install 45 s instead of 327 s, the suite 219 CPU-s
 * instead of 431). systemd's shutdown syncs before the power-off.
 */
static void mount_rootfs(void)
{
	const char *modules = getenv("TLSUP_MODULES");

	if (mount("rootfs", "/newroot", "9p", 0,
		  "trans=virtio,version=9p2000.L,msize=512000,cache=loose") != 0)
		die("mount the root tree over 9p: %s", strerror(errno));
	if (modules && strcmp(modules, "rootfs") == 0)
		return;
	mkdir("/mods", 0755);
	mkdir("/ovl", 0755);
	if (mount("modules", "/mods", "9p", MS_RDONLY,
		  "trans=virtio,version=9p2000.L,msize=512000,cache=loose") != 0)
		die("mount the image's modules over 9p: %s", strerror(errno));
	if (mount("tmpfs", "/ovl", "tmpfs", 0, NULL) != 0)
		die("mount tmpfs: %s", strerror(errno));
	mkdir("/ovl/upper", 0755);
	mkdir("/ovl/work", 0755);
	mkdir("/newroot/lib/modules", 0755);
	if (mount("overlay", "/newroot/lib/modules", "overlay", 0,
		  "lowerdir=/mods,upperdir=/ovl/upper,workdir=/ovl/work") != 0)
		die("mount the modules' overlay: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	const char *init = getenv("TLSUP_INIT");
	const char *moves[] = { "/dev", "/proc", "/sys" };
	char target[64];
	size_t i;

	(void)argc;
	mkdir("/dev", 0755);
	mkdir("/proc", 0555);
	mkdir("/sys", 0555);
	if (mount("devtmpfs", "/dev", "devtmpfs", 0, NULL) != 0)
		die("mount /dev: %s", strerror(errno));
	/* The console the kernel gave us may be missing before devtmpfs. */
	if (!freopen("/dev/console", "w", stdout) || !freopen("/dev/console", "w", stderr))
		die("open /dev/console: %s", strerror(errno));
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (mount("proc", "/proc", "proc", 0, NULL) != 0 ||
	    mount("sysfs", "/sys", "sysfs", 0, NULL) != 0)
		die("mount /proc, /sys: %s", strerror(errno));
	if (!init || init[0] != '/')
		die("no TLSUP_INIT=/path on the kernel command line");

	load_modules();

	mkdir("/newroot", 0755);
	if (getenv("TLSUP_ROOTFS")) {
		mount_rootfs();
	} else {
		/*
		 * The host's root, read-only; cache=loose: nothing on the host
		 * that the guest reads changes while it runs (the writable
		 * share that brings results back is mounted without a cache by
		 * guest-init).
		 */
		if (mount("hostroot", "/newroot", "9p", MS_RDONLY,
			  "trans=virtio,version=9p2000.L,msize=512000,cache=loose") != 0)
			die("mount the host's root over 9p: %s", strerror(errno));
	}
	for (i = 0; i < sizeof(moves) / sizeof(moves[0]); i++) {
		snprintf(target, sizeof(target), "/newroot%s", moves[i]);
		if (mount(moves[i], target, NULL, MS_MOVE, NULL) != 0)
			die("move %s: %s", moves[i], strerror(errno));
	}
	if (chdir("/newroot") != 0 || mount(".", "/", NULL, MS_MOVE, NULL) != 0 ||
	    chroot(".") != 0 || chdir("/") != 0)
		die("switch to the new root: %s", strerror(errno));
	argv[0] = (char *)init;
	execv(init, argv);
	die("exec %s: %s", init, strerror(errno));
	return 1;
}
