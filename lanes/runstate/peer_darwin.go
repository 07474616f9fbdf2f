package runstate

import "golang.org/x/sys/unix"

// peerUID returns the uid of a Unix socket's peer, or -1.
func peerUID(fd int) int {
	cred, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return -1
	}
	return int(cred.Uid)
}
