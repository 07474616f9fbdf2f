package sshlink_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/odu-ci/odu/internal/sshtest"
	"github.com/odu-ci/odu/lanes/sshlink"
)

// A host reached through a ProxyJump that takes the connection and never
// answers (a host stuck, a port that is no sshd) fails the dial at its
// ConnectTimeout, as a host dialled directly does: the channel through
// the jump host takes no deadline, and without the timeout the dial
// would wait for as long as its caller (a run) lives.
func TestJumpHandshakeBoundedByConnectTimeout(t *testing.T) {
	key := sshtest.NewKey(t)
	jump := sshtest.Start(t, sshtest.Options{Keys: []sshtest.Key{key}})

	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	held.Go(func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never written to
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		silent.Close()
		held.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})

	dir := home(t, key.Path, jump.KnownHostsLine())
	_, port, _ := net.SplitHostPort(silent.Addr().String())
	cfg := fmt.Sprintf("Host stuck\n  HostName 127.0.0.1\n  Port %s\n  ProxyJump %s\n  ConnectTimeout 1\n", port, jump.Addr())
	old, err := os.ReadFile(filepath.Join(dir, ".ssh", "config"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".ssh", "config"), append([]byte(cfg), old...), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e := sshlink.Env{Home: dir, Getenv: func(string) string { return "" }}
	l, err := e.Dial(ctx, "odu-test@stuck", func(string) {})
	if err == nil {
		l.Close(errors.New("test over"))
		t.Fatal("dial of a host that never answers: a link, want an error")
	}
	if ctx.Err() != nil {
		t.Fatalf("the dial through the jump host ended only with the test's deadline (%v): its ConnectTimeout of 1s did not bound the handshake", err)
	}
	if got := sshlink.StageOf(err); got != sshlink.Connect {
		t.Errorf("dial: stage %q, want %q (%v)", got, sshlink.Connect, err)
	}
}
