package sshlink

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/odu-ci/odu/internal/hint"
	"github.com/odu-ci/odu/lanes/hosts"
)

// Stage is how far a dial got before it failed.
type Stage string

const (
	// Connect: resolving the address (ssh_config, ProxyJump), reaching
	// the host, or the SSH handshake before the host key was checked.
	Connect Stage = "connect"
	// HostKey: the host was reached; its key is unknown, has changed, or
	// known_hosts could not be read.
	HostKey Stage = "host key"
	// Auth: the host's key was trusted; no key was accepted.
	Auth Stage = "auth"
)

// HostError is a problem with a build host: unreachable, refused,
// misconfigured. Its message names the host. Stage says how far a dial
// got; it is "" for an error that came after a link was up.
type HostError struct {
	Addr  string
	Stage Stage
	Err   error
	Fix   string // what to do; else Err's hint, if it has one
}

// StageOf returns how far the dial that returned err got, and "" when err
// is no *HostError.
func StageOf(err error) Stage {
	var h *HostError
	if errors.As(err, &h) {
		return h.Stage
	}
	return ""
}

func (e *HostError) Error() string { return e.Addr + ": " + e.Err.Error() }

// connectTo says what a failed dial tried, naming the address only where
// ssh_config made it differ from the one the error starts with: a host
// is named once per message.
func connectTo(addr, hostPort string) string {
	host, port, err := net.SplitHostPort(hostPort)
	if a, aerr := hosts.ParseAddr(addr); err == nil && aerr == nil && a.Host == host && (a.Port == "" || a.Port == port) {
		return "connect" // the user is not part of where it dialled
	}
	return "connect to " + hostPort
}

// connectError is a failed dial to hostPort for addr, without the
// address repeated.
func connectError(addr, hostPort string, err error) error {
	return fmt.Errorf("%s: %w", connectTo(addr, hostPort), dialCause(err))
}

// dialCause is what went wrong in a dial without the address, which
// [net.OpError] repeats ("dial tcp 127.0.0.1:1: connect: connection
// refused"). The cause still wraps the system error for errors.Is.
func dialCause(err error) error {
	var op *net.OpError
	if !errors.As(err, &op) || op.Err == nil {
		return err
	}
	var sys *os.SyscallError // "connect: connection refused": the verb again
	if errors.As(op.Err, &sys) {
		return sys.Err
	}
	return op.Err
}

func (e *HostError) Unwrap() error { return e.Err }

// Hint says what to do.
func (e *HostError) Hint() string {
	if e.Fix != "" {
		return e.Fix
	}
	return hint.Of(e.Err)
}

// UnknownHostError reports a host whose key is not in known_hosts.
type UnknownHostError struct {
	Host        string // host:port
	KeyType     string
	Fingerprint string // SHA256:...
	KnownHosts  string // the file it would go in
}

func (e *UnknownHostError) Error() string {
	return fmt.Sprintf("host key of %s is not known (%s %s)", e.Host, e.KeyType, e.Fingerprint)
}

// Hint says how to trust it.
func (e *UnknownHostError) Hint() string {
	host, port, _ := net.SplitHostPort(e.Host)
	scan := "ssh-keyscan " + host
	if port != "22" {
		scan = "ssh-keyscan -p " + port + " " + host
	}
	return fmt.Sprintf("Check that %s is the host's key, then trust it: `%s >> %s`, or `ssh` to it once; or set `StrictHostKeyChecking accept-new` for it in ~/.ssh/config.",
		e.Fingerprint, scan, e.KnownHosts)
}

// ChangedHostKeyError reports a host whose key differs from known_hosts:
// a reinstalled host, or someone in the middle.
type ChangedHostKeyError struct {
	Host        string
	Fingerprint string   // of the key the host showed
	Lines       []string // the known_hosts lines with its other key: "file:line"
}

func (e *ChangedHostKeyError) Error() string {
	return fmt.Sprintf("host key of %s has changed (it now shows %s); known_hosts has another at %s",
		e.Host, e.Fingerprint, strings.Join(e.Lines, ", "))
}

// Hint says what to do.
func (e *ChangedHostKeyError) Hint() string {
	host, _, _ := net.SplitHostPort(e.Host)
	return fmt.Sprintf("If the host was reinstalled, remove the old key (`ssh-keygen -R %s`) and trust the new one; otherwise someone may be in the middle: do not connect.", host)
}
