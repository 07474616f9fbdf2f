package runner

import (
	"os"

	"golang.org/x/sys/unix"
)

// pipeSize is the capacity asked for a node's output pipe. The default
// 64 KiB makes a recipe that writes fast sleep and wake every 64 KiB;
// 1 MiB is what an unprivileged process may ask for by default
// (/proc/sys/fs/pipe-max-size).
const pipeSize = 1 << 20

// growPipe enlarges a pipe's buffer, when the kernel allows; it is only
// a matter of speed.
func growPipe(f *os.File) {
	_, _ = unix.FcntlInt(f.Fd(), unix.F_SETPIPE_SZ, pipeSize)
}

// pipeHolds reports whether the pipe has bytes not read yet.
func pipeHolds(f *os.File) bool {
	n, _ := pipeUnread(f)
	return n > 0
}

// pipeUnread returns how many bytes the pipe holds not read yet
// (FIONREAD, which Linux spells TIOCINQ); known is false when that could
// not be asked.
func pipeUnread(f *os.File) (n int, known bool) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, false
	}
	var ierr error
	if err := rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.TIOCINQ) }); err != nil || ierr != nil {
		return 0, false
	}
	return n, true
}
