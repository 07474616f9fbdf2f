package sshlink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/odu-ci/odu/lanes/hosts"
)

// Link is a connection to a build host, kept alive until [Link.Close] or
// until the host stops answering.
type Link struct {
	Target *Target // what the address resolved to
	client *ssh.Client
	jump   *Link // the ProxyJump hop, if any
	done   chan struct{}
	err    error // why the link ended
	once   sync.Once
	wg     sync.WaitGroup // the keep-alives and the wait for the connection's end
}

// Dial connects to an address, through its ProxyJump if it has one, and
// keeps the link alive. note receives notes on skipped keys. A failed dial
// is a *[HostError] whose Stage says how far it got.
func (e Env) Dial(ctx context.Context, addr string, note func(string)) (*Link, error) {
	t, err := e.resolve(addr)
	if err != nil {
		return nil, err
	}
	var jump *Link
	var conn net.Conn
	if t.ProxyJump != "" {
		if strings.Contains(t.ProxyJump, ",") {
			return nil, &HostError{Addr: addr, Stage: Connect, Err: errors.New("ProxyJump with more than one hop"),
				Fix: "odu follows one ProxyJump hop; reach the host through one jump host."}
		}
		jump, err = e.Dial(ctx, t.ProxyJump, note)
		if err != nil {
			// The jump host's own stage: a jump host whose key is
			// unknown is a host key to trust.
			return nil, &HostError{Addr: addr, Stage: StageOf(err), Err: fmt.Errorf("through ProxyJump %s: %w", t.ProxyJump, err)}
		}
		conn, err = jump.client.DialContext(ctx, "tcp", t.hostPort())
		if err != nil {
			jump.Close(err)
			return nil, &HostError{Addr: addr, Stage: Connect, Err: fmt.Errorf("%s through %s: %w", connectTo(addr, t.hostPort()), t.ProxyJump, dialCause(err))}
		}
	} else {
		d := net.Dialer{Timeout: t.ConnectTimeout}
		conn, err = d.DialContext(ctx, "tcp", t.hostPort())
		if err != nil {
			return nil, &HostError{Addr: addr, Stage: Connect, Err: connectError(addr, t.hostPort(), err),
				Fix: "Check that the host is up and sshd listens there: `" + sshCommand(addr) + " true` should work."}
		}
	}
	fail := func(err error) (*Link, error) {
		conn.Close()
		if jump != nil {
			jump.Close(err)
		}
		return nil, err
	}
	cb, algos, err := hostKeys(t)
	if err != nil {
		return fail(&HostError{Addr: addr, Stage: HostKey, Err: err})
	}
	auth, notes, agentConn := e.authMethods(t)
	for _, n := range notes {
		note(n)
	}
	cfg := &ssh.ClientConfig{
		User: t.User, Auth: auth, HostKeyCallback: cb, HostKeyAlgorithms: algos,
		Timeout: t.ConnectTimeout,
	}
	// The handshake obeys the connect timeout, and ctx. A channel through
	// a jump host takes no deadline: the timeout closes it instead.
	deadline := time.Now().Add(t.ConnectTimeout)
	hctx := ctx
	if err := conn.SetDeadline(deadline); err != nil {
		var cancel context.CancelFunc
		hctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	stop := context.AfterFunc(hctx, func() { conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, t.hostPort(), cfg)
	stop()
	if agentConn != nil {
		agentConn.Close() // its keys signed what the handshake needed
	}
	if err != nil {
		var uerr *UnknownHostError
		var cerr *ChangedHostKeyError
		switch {
		case errors.As(err, &uerr):
			return fail(&HostError{Addr: addr, Stage: HostKey, Err: uerr})
		case errors.As(err, &cerr):
			return fail(&HostError{Addr: addr, Stage: HostKey, Err: cerr})
		case strings.Contains(err.Error(), "unable to authenticate"): // x/crypto/ssh's only word for it
			return fail(&HostError{Addr: addr, Stage: Auth, Err: fmt.Errorf("authentication as %s failed", t.User),
				Fix: "odu tries the IdentityFile keys, the ssh-agent's, and ~/.ssh/id_*: check that `" + sshCommand(addr) + " true` works without a prompt."})
		}
		return fail(&HostError{Addr: addr, Stage: Connect, Err: fmt.Errorf("ssh handshake: %w", err)})
	}
	_ = conn.SetDeadline(time.Time{}) // none was set on a channel, which takes none
	l := &Link{Target: t, client: ssh.NewClient(c, chans, reqs), jump: jump, done: make(chan struct{})}
	l.wg.Go(l.keepAlive)
	l.wg.Go(func() {
		err := l.client.Wait()
		l.end(fmt.Errorf("the connection closed: %w", err))
	})
	return l, nil
}

// sshCommand is the OpenSSH command line that dials addr, for hints.
func sshCommand(addr string) string {
	a, err := hosts.ParseAddr(addr)
	if err != nil {
		return "ssh " + addr
	}
	return a.SSHCommand()
}

// keepAlive asks the host for a sign of life every interval, and ends
// the link after AliveCountMax unanswered requests in a row.
func (l *Link) keepAlive() {
	tick := time.NewTicker(l.Target.AliveInterval)
	defer tick.Stop()
	missed := 0
	for {
		select {
		case <-l.done:
			return
		case <-tick.C:
		}
		answered := make(chan error, 1)
		// The request returns when the host answers or the client closes,
		// which ending the link does.
		l.wg.Go(func() {
			_, _, err := l.client.SendRequest("keepalive@openssh.com", true, nil)
			answered <- err
		})
		select {
		case err := <-answered:
			if err == nil {
				missed = 0
				continue
			}
			missed++
		case <-time.After(l.Target.AliveInterval):
			missed++
		case <-l.done:
			return
		}
		if missed >= l.Target.AliveCountMax {
			l.end(fmt.Errorf("no answer to %d keep-alives in a row (every %s)", missed, l.Target.AliveInterval))
			return
		}
	}
}

// end ends the link, once, recording why; the link's own goroutines end
// it this way, and do not wait for each other.
func (l *Link) end(err error) {
	l.once.Do(func() {
		l.err = err
		close(l.done)
		l.client.Close()
		if l.jump != nil {
			l.jump.Close(err)
		}
	})
}

// Close ends the link, recording why (the first reason given stays), and
// waits for its goroutines.
func (l *Link) Close(err error) {
	l.end(err)
	l.wg.Wait()
}

// Done is closed when the link has ended.
func (l *Link) Done() <-chan struct{} { return l.done }

// Err says why the link ended; nil while it lives.
func (l *Link) Err() error {
	select {
	case <-l.done:
		return l.err
	default:
		return nil
	}
}

// NewSession opens a session on the link.
func (l *Link) NewSession() (*ssh.Session, error) { return l.client.NewSession() }

// Run runs a shell command on the host and returns its output; its stderr
// is the error's message.
func (l *Link) Run(cmd string, stdin io.Reader) (string, error) {
	s, err := l.client.NewSession()
	if err != nil {
		return "", fmt.Errorf("open a session: %w", err)
	}
	defer s.Close()
	var stdout, stderr bytes.Buffer
	s.Stdout, s.Stderr, s.Stdin = &stdout, &stderr, stdin
	if err := s.Run(cmd); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return stdout.String(), errors.New(msg)
	}
	return stdout.String(), nil
}

// Quote quotes a string for a POSIX shell.
func Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
