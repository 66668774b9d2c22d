/* init.c — PID 1 of the test initramfs used by tests/integration/kernel_launch.sh.
 *
 * Built with `gcc -static -Os`. Prints a marker line on the console (the
 * serial port the kernel was told to use with console=ttyS0), mounts /proc
 * to report the kernel release and command line, then powers the machine
 * off with reboot(RB_POWER_OFF) so QEMU exits by itself. The marker is
 * RVF-BOOT-MARKER unless the kernel command line carries rvf.marker=WORD;
 * with rvf.hang on the command line it waits forever instead of powering off.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

static void say(const char *s)
{
	size_t n = strlen(s);
	while (n) {
		ssize_t w = write(1, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

int main(void)
{
	char cmdline[1024] = "", marker[128] = "RVF-BOOT-MARKER", line[1400];
	struct utsname u;
	int fd;

	/* The kernel hands PID 1 /dev/console as fds 0-2 when the initramfs has
	 * a /dev/console node; open it ourselves otherwise. */
	if (fcntl(1, F_GETFD) < 0) {
		mkdir("/dev", 0755);
		mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
		fd = open("/dev/console", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
	}
	mkdir("/proc", 0555);
	if (mount("proc", "/proc", "proc", 0, NULL) == 0) {
		fd = open("/proc/cmdline", O_RDONLY);
		if (fd >= 0) {
			ssize_t n = read(fd, cmdline, sizeof cmdline - 1);
			cmdline[n > 0 ? n : 0] = 0;
			close(fd);
		}
		char *m = strstr(cmdline, "rvf.marker=");
		if (m) {
			m += strlen("rvf.marker=");
			size_t k = strcspn(m, " \n");
			if (k >= sizeof marker)
				k = sizeof marker - 1;
			memcpy(marker, m, k);
			marker[k] = 0;
		}
	}
	if (uname(&u) != 0)
		strcpy(u.release, "?");
	cmdline[strcspn(cmdline, "\n")] = 0;
	snprintf(line, sizeof line, "\n%s kernel=%s cmdline=[%s]\n", marker, u.release, cmdline);
	say(line);
	sync();
	if (strstr(cmdline, "rvf.panic")) {
		/* For the launch panic test: init exiting makes the kernel panic. */
		say("rvf-init: exiting as asked (rvf.panic)\n");
		return 3;
	}
	if (strstr(cmdline, "rvf.hang")) {
		/* For launch --timeout / SIGTERM tests: keep the VM running. */
		say("rvf-init: hanging as asked (rvf.hang)\n");
		for (;;)
			pause();
	}
	reboot(RB_POWER_OFF);
	/* Not reached unless power-off failed: let panic=-1 / -no-reboot end QEMU. */
	say("rvf-init: power-off failed\n");
	return 1;
}
