package surface

import (
	"errors"
	"net"
	"syscall"
	"time"
)

// Accept waits for the next connection on ln, retrying the errors that
// pass (out of file descriptors, a connection aborted before it was
// taken) with a backoff of 5 ms doubling to 1 s, as net/http's Server
// does: one EMFILE must not end a run's socket for the rest of the run,
// leaving every face to hang. It says each retry to logf, when set. Any
// other error (the listener closed) is returned.
func Accept(ln net.Listener, logf func(format string, a ...any)) (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err == nil || !temporary(err) {
			return c, err
		}
		if delay == 0 {
			delay = 5 * time.Millisecond
		} else {
			delay = min(2*delay, time.Second)
		}
		if logf != nil {
			logf("%v; retrying in %s", err, delay)
		}
		time.Sleep(delay)
	}
}

// temporary reports an accept error that passes once resources are back.
func temporary(err error) bool {
	if errors.Is(err, net.ErrClosed) {
		return false
	}
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.EINTR, syscall.EAGAIN, syscall.EPROTO} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
