package sshlink_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/odu-ci/odu/internal/odutest"
	"github.com/odu-ci/odu/internal/sshtest"
	"github.com/odu-ci/odu/lanes/sshlink"
)

// Every link's goroutines end with Close, and a dial that fails leaves
// none behind.
func TestMain(m *testing.M) { odutest.Main(m) }

// home makes a home directory whose ~/.ssh/config names key for every
// host, alone (none: the agent's keys and the default ones), and whose
// known_hosts holds known.
func home(t *testing.T, key string, known ...string) string {
	t.Helper()
	dir := t.TempDir()
	ssh := filepath.Join(dir, ".ssh")
	if err := os.MkdirAll(ssh, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := "Host *\n"
	if key != "" {
		cfg += "  IdentitiesOnly yes\n  IdentityFile " + key + "\n"
	}
	if err := os.WriteFile(filepath.Join(ssh, "config"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ssh, "known_hosts"), []byte(strings.Join(known, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func dial(t *testing.T, dir, addr string, env map[string]string) (*sshlink.Link, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e := sshlink.Env{Home: dir, Getenv: func(k string) string { return env[k] }}
	return e.Dial(ctx, addr, func(string) {})
}

// A failed dial says how far it got, which odu doctor reads to tell
// which check failed: the host not reached, its key not trusted, or no
// key of this user's accepted.
func TestDialStages(t *testing.T) {
	key, other := sshtest.NewKey(t), sshtest.NewKey(t)
	s := sshtest.Start(t, sshtest.Options{Keys: []sshtest.Key{key}})

	for _, tc := range []struct {
		name  string
		home  string
		addr  string
		stage sshlink.Stage
		want  string
	}{
		{"refused", home(t, key.Path), "127.0.0.1:1", sshlink.Connect, "127.0.0.1:1: connect: connection refused"},
		{"unknown host key", home(t, key.Path), s.Addr(), sshlink.HostKey, "host key of 127.0.0.1:"},
		{"changed host key", home(t, key.Path, strings.Replace(s.KnownHostsLine(), s.HostKey, other.Public, 1)), s.Addr(), sshlink.HostKey, "has changed"},
		{"no key accepted", home(t, other.Path, s.KnownHostsLine()), s.Addr(), sshlink.Auth, "authentication as odu-test failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := dial(t, tc.home, tc.addr, nil)
			if err == nil {
				l.Close(errors.New("test over"))
				t.Fatalf("dial %s: a link, want an error at stage %q", tc.addr, tc.stage)
			}
			if got := sshlink.StageOf(err); got != tc.stage {
				t.Errorf("dial %s: stage %q, want %q (%v)", tc.addr, got, tc.stage, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("dial %s: %v, want it to say %q", tc.addr, err, tc.want)
			}
		})
	}

	l, err := dial(t, home(t, key.Path, s.KnownHostsLine()), s.Addr(), nil)
	if err != nil {
		t.Fatalf("dial with the authorized key: %v", err)
	}
	if out, err := l.Run("echo $((6*7))", nil); err != nil || out != "42\n" {
		t.Errorf("run on the link: %q, %v; want 42", out, err)
	}
	l.Close(errors.New("test over"))
	if err := l.Err(); err == nil || err.Error() != "test over" {
		t.Errorf("Err after Close = %v, want the reason given", err)
	}
}

// The agent's keys sign the handshake, and the connection to the agent is
// closed once it is over: a coordinator dials its hosts again and again,
// and would otherwise hold a socket of the agent's for each dial.
func TestAgentClosedAfterHandshake(t *testing.T) {
	key := sshtest.NewKey(t)
	s := sshtest.Start(t, sshtest.Options{Keys: []sshtest.Key{key}})
	data, err := os.ReadFile(key.Path)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ssh.ParseRawPrivateKey(data)
	if err != nil {
		t.Fatal(err)
	}
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan struct{}, 4) // one per agent connection, when its client closed it
	served := make(chan struct{})
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		defer close(served)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			_ = agent.ServeAgent(keyring, c) // until the client closes it, or the test ends
			c.Close()
			ended <- struct{}{}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		<-served
	})

	// No IdentityFile: only the agent has the key.
	l, err := dial(t, home(t, "", s.KnownHostsLine()), s.Addr(), map[string]string{"SSH_AUTH_SOCK": sock})
	if err != nil {
		t.Fatalf("dial with the agent's key: %v", err)
	}
	defer l.Close(errors.New("test over"))
	select {
	case <-ended:
	case <-time.After(30 * time.Second):
		t.Fatal("the connection to the agent is still open 30s after the handshake")
	}
	if l.Err() != nil {
		t.Errorf("the link ended with the agent's connection: %v", l.Err())
	}
}
