package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/odu-ci/odu/internal/sshtest"
)

// scriptT adapts a testscript session to what sshtest needs of a test, so
// that each script starts its own sshd servers.
type scriptT struct{ ts *testscript.TestScript }

func (s scriptT) Helper()                        {}
func (s scriptT) Fatalf(format string, a ...any) { s.ts.Fatalf(format, a...) }
func (s scriptT) Errorf(format string, a ...any) { s.ts.Logf("error: "+format, a...) }
func (s scriptT) Logf(format string, a ...any)   { s.ts.Logf(format, a...) }
func (s scriptT) Cleanup(f func())               { s.ts.Defer(f) }
func (s scriptT) Failed() bool                   { return false }
func (s scriptT) TempDir() string {
	dir, err := os.MkdirTemp("", "odu-sshd-")
	s.ts.Check(err)
	s.ts.Defer(func() { os.RemoveAll(dir) })
	return dir
}

var (
	serversMu sync.Mutex
	servers   = map[*testscript.TestScript]map[string]*sshtest.Server{}
)

// cmdSSHD starts a real OpenSSH sshd on a loopback address for the
// script's user, whose key (~/.ssh/id_ed25519 of the script's HOME) it
// authorizes, and whose known_hosts it adds its host key to:
//
//	sshd NAME HOST [aarch64] [nojust] [unknown] [key=PATH] [env=K=V ...]
//
// aarch64: the host says it is aarch64 (arm64 binaries run under qemu);
// nojust: sessions do not find just; unknown: its key is not added to
// known_hosts; key=PATH authorizes that public key instead. It sets
// $NAME_ADDR (user@host:port), $NAME_HOST, $NAME_PORT and $NAME_CACHE
// (the cache directory its sessions get).
func cmdSSHD(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: sshd NAME HOST [aarch64] [nojust] [unknown] [key=PATH] [env=K=V ...]")
	}
	name, opts := args[0], sshtest.Options{Host: args[1]}
	home := ts.Getenv("HOME")
	sshDir := filepath.Join(home, ".ssh")
	ts.Check(os.MkdirAll(sshDir, 0o700))
	keyPath := filepath.Join(sshDir, "id_ed25519")
	if _, err := os.Stat(keyPath); err != nil {
		k := sshtest.NewKey(scriptT{ts})
		data, err := os.ReadFile(k.Path)
		ts.Check(err)
		ts.Check(os.WriteFile(keyPath, data, 0o600))
		ts.Check(os.WriteFile(keyPath+".pub", []byte(k.Public+"\n"), 0o644))
	}
	pub, err := os.ReadFile(keyPath + ".pub")
	ts.Check(err)
	key := sshtest.Key{Path: keyPath, Public: strings.TrimSpace(string(pub))}
	known := true
	for _, a := range args[2:] {
		switch {
		case a == "aarch64":
			opts.Arch = "aarch64"
		case a == "nojust":
			opts.NoJust = true
		case a == "unknown":
			known = false
		case strings.HasPrefix(a, "key="):
			p, err := os.ReadFile(ts.MkAbs(strings.TrimPrefix(a, "key=")))
			ts.Check(err)
			key = sshtest.Key{Public: strings.TrimSpace(string(p))}
		case strings.HasPrefix(a, "env="):
			opts.Env = append(opts.Env, strings.TrimPrefix(a, "env="))
		default:
			ts.Fatalf("sshd: unknown option %q", a)
		}
	}
	opts.Keys = []sshtest.Key{key}
	s := sshtest.Start(scriptT{ts}, opts)
	if known {
		f, err := os.OpenFile(filepath.Join(sshDir, "known_hosts"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		ts.Check(err)
		fmt.Fprintln(f, s.KnownHostsLine())
		f.Close()
	}
	up := strings.ToUpper(name)
	ts.Setenv(up+"_ADDR", s.Addr())
	ts.Setenv(up+"_HOST", s.Host)
	ts.Setenv(up+"_PORT", strconv.Itoa(s.Port))
	ts.Setenv(up+"_CACHE", s.Cache)
	serversMu.Lock()
	if servers[ts] == nil {
		servers[ts] = map[string]*sshtest.Server{}
		ts.Defer(func() {
			serversMu.Lock()
			delete(servers, ts)
			serversMu.Unlock()
		})
	}
	servers[ts][name] = s
	serversMu.Unlock()
}

// cmdSSHDKill drops every live connection to a server started with sshd,
// as a dropped link would:
//
//	sshd-kill NAME
func cmdSSHDKill(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: sshd-kill NAME")
	}
	serversMu.Lock()
	s := servers[ts][args[0]]
	serversMu.Unlock()
	if s == nil {
		ts.Fatalf("no sshd %s", args[0])
	}
	ts.Logf("killed %d connections", s.KillConnections())
}
