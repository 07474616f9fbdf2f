package sshlink

import (
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestConnectErrorNamesTheHostOnce: a refused dial says the address once
// (HostError's prefix) and is still ECONNREFUSED to errors.Is. The error
// is built as net.Dialer returns it; cli_errors.txtar dials for real.
func TestConnectErrorNamesTheHostOnce(t *testing.T) {
	const addr = "127.0.0.1:1"
	tcp, _ := net.ResolveTCPAddr("tcp", addr)
	refused := &net.OpError{Op: "dial", Net: "tcp", Addr: tcp, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}

	herr := &HostError{Addr: addr, Err: connectError(addr, addr, refused)}
	if got, want := herr.Error(), addr+": connect: connection refused"; got != want {
		t.Errorf("HostError = %q, want %q", got, want)
	}
	if !errors.Is(herr, syscall.ECONNREFUSED) {
		t.Errorf("errors.Is(%v, ECONNREFUSED) = false, want true", herr)
	}
	alias := &HostError{Addr: "builder", Err: connectError("builder", addr, refused)}
	if got, want := alias.Error(), "builder: connect to "+addr+": connection refused"; got != want {
		t.Errorf("through an ssh_config alias: %q, want %q", got, want)
	}
	for _, a := range []string{"odu@127.0.0.1:22", "127.0.0.1"} {
		if got := connectTo(a, "127.0.0.1:22"); got != "connect" {
			t.Errorf("connectTo(%q, 127.0.0.1:22) = %q, want %q", a, got, "connect")
		}
	}
	if got := connectError(addr, addr, errors.New("no route")).Error(); !strings.HasSuffix(got, "no route") {
		t.Errorf("connectError(other error) = %q, want the error kept", got)
	}
}
