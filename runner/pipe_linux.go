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
	unix.FcntlInt(f.Fd(), unix.F_SETPIPE_SZ, pipeSize)
}

// pipeHolds reports whether the pipe has bytes not read yet (FIONREAD,
// which Linux spells TIOCINQ).
func pipeHolds(f *os.File) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	n := 0
	rc.Control(func(fd uintptr) { n, _ = unix.IoctlGetInt(int(fd), unix.TIOCINQ) })
	return n > 0
}
