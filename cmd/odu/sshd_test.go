package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/odu-ci/odu/internal/sshtest"
)

// scriptT adapts a testscript session to what sshtest needs of a test, so
// that each script starts its own sshd servers. Errorf fails the script's
// test (and the script goes on, as with t.Errorf), and Failed says whether
// it failed, by whatever step: sshtest reports through them what it finds
// wrong when it stops a server (processes left after the cgroup kill, sshd
// not ending, KillConnections timing out), and prints sshd's log when the
// script failed.
type scriptT struct{ ts *testscript.TestScript }

// scriptTestKey is the key under which setupScriptT keeps the script's own
// test in its Values.
type scriptTestKey struct{}

// failer is what scriptT needs of the script's test beyond testscript.T:
// *testing.T has it, and so does the testscript.T that wraps one.
type failer interface {
	Fail()
	Failed() bool
}

// setupScriptT keeps the script's test for scriptT (testscript gives it to
// Setup only). Call it from Params.Setup.
func setupScriptT(env *testscript.Env) error {
	t, ok := env.T().(failer)
	if !ok {
		return fmt.Errorf("the script's test (%T) cannot be failed: sshtest's errors would be lost", env.T())
	}
	env.Values[scriptTestKey{}] = t
	return nil
}

func (s scriptT) test() failer {
	t, ok := s.ts.Value(scriptTestKey{}).(failer)
	if !ok {
		panic("scriptT: Params.Setup did not call setupScriptT")
	}
	return t
}

func (s scriptT) Helper()                        {}
func (s scriptT) Fatalf(format string, a ...any) { s.ts.Fatalf(format, a...) }
func (s scriptT) Logf(format string, a ...any)   { s.ts.Logf(format, a...) }
func (s scriptT) Cleanup(f func())               { s.ts.Defer(f) }
func (s scriptT) Failed() bool                   { return s.test().Failed() }

// Errorf logs in the script's log, which is printed since the test
// fails, and fails the test. It does not stop the script: ts.Fatalf
// cannot be called from a deferred function (sshtest calls Errorf from
// Stop, which runs when the script ends).
func (s scriptT) Errorf(format string, a ...any) {
	s.ts.Logf("FAIL: "+format, a...)
	s.test().Fail()
}

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
// HOST "netns": the server listens in a network namespace of its own,
// through a veth pair, so that sshd-link can cut it; nojust: sessions do
// not find just; unknown: its key is not added to
// known_hosts; key=PATH authorizes that public key instead. It sets
// $NAME_ADDR (user@host:port), $NAME_HOST, $NAME_PORT and $NAME_CACHE
// (the cache directory its sessions get).
func cmdSSHD(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: sshd NAME HOST [aarch64] [nojust] [unknown] [key=PATH] [env=K=V ...]")
	}
	name, opts := args[0], sshtest.Options{Host: args[1]}
	if args[1] == "netns" {
		opts = sshtest.Options{NetNS: true}
	}
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
	n := server(ts, args[0]).KillConnections()
	ts.Logf("killed %d connections at %s", n, time.Now().Format("15:04:05.000"))
}

// cmdSSHDLose makes a server's host lost for good: it stops listening,
// and every process it started is killed (see sshtest.Server.Lose):
//
//	sshd-lose NAME
func cmdSSHDLose(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: sshd-lose NAME")
	}
	server(ts, args[0]).Lose()
	ts.Logf("lost %s for good at %s", args[0], time.Now().Format("15:04:05.000"))
}

// server returns a server started with sshd.
func server(ts *testscript.TestScript, name string) *sshtest.Server {
	serversMu.Lock()
	s := servers[ts][name]
	serversMu.Unlock()
	if s == nil {
		ts.Fatalf("no sshd %s", name)
	}
	return s
}

// cmdSSHDRefuse makes a server drop new connections at once, as a host
// that is down would (on), or serve them again (off):
//
//	sshd-refuse NAME on|off
func cmdSSHDRefuse(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 || (args[1] != "on" && args[1] != "off") {
		ts.Fatalf("usage: sshd-refuse NAME on|off")
	}
	server(ts, args[0]).Refuse(args[1] == "on")
}

// cmdNoLinger waits until nothing that a server started is left on its
// host (its cgroup is empty: no session, no runner, no recipe), or
// nothing whose command line matches REGEXP, and fails listing what is
// left after awaitLimit:
//
//	nolinger NAME [REGEXP]
func cmdNoLinger(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: nolinger NAME [REGEXP]")
	}
	s := server(ts, args[0])
	var re *regexp.Regexp
	if len(args) == 2 {
		re = regexp.MustCompile(args[1])
	}
	start := time.Now()
	deadline := start.Add(awaitLimit)
	for {
		left := s.Processes()
		if re != nil {
			left = slices.DeleteFunc(left, func(p string) bool { return !re.MatchString(p) })
		}
		if len(left) == 0 {
			ts.Logf("nothing left on %s at %s (waited %s)", args[0], time.Now().Format("15:04:05.000"), time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("still running on %s %s later:\n%s", args[0], awaitLimit, strings.Join(left, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cmdLingers checks that something a server started still runs on its
// host, matching a regular expression (a detached runner):
//
//	lingers NAME REGEXP
func cmdLingers(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: [!] lingers NAME REGEXP")
	}
	re := regexp.MustCompile(args[1])
	left := server(ts, args[0]).Processes()
	found := false
	for _, p := range left {
		found = found || re.MatchString(p)
	}
	if found == neg {
		ts.Fatalf("processes on %s (want %q: %v):\n%s", args[0], args[1], !neg, strings.Join(left, "\n"))
	}
}

// cmdWaitSize waits until the file a glob names (one) holds at least N
// bytes: a log that has come that far.
//
//	waitsize .ci/*/x86_64-linux/stream.log 10000000
func cmdWaitSize(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitsize GLOB BYTES")
	}
	want, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	deadline := time.Now().Add(awaitLimit)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(ts.MkAbs(args[0]))
		if len(files) == 1 {
			if fi, err := os.Stat(files[0]); err == nil && fi.Size() >= want {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.Fatalf("%s did not reach %d bytes within %s", args[0], want, awaitLimit)
}

// cmdSSHDLink cuts the link to a server started with `sshd NAME netns` at
// the network level (the namespace side of its veth goes down: packets
// are dropped, nobody is told), or restores it:
//
//	sshd-link NAME down|up
func cmdSSHDLink(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 || (args[1] != "down" && args[1] != "up") {
		ts.Fatalf("usage: sshd-link NAME down|up")
	}
	s := server(ts, args[0])
	if args[1] == "down" {
		s.LinkDown()
	} else {
		s.LinkUp()
	}
	ts.Logf("link %s at %s", args[1], time.Now().Format("15:04:05.000"))
}

// cmdWaitLines waits until the file a glob names (one) holds at least N
// lines that match a regular expression: a log on a host, whose directory
// has a name the script does not know, that has said something N times.
//
//	waitlines $ONE_CACHE/odu/work/*/*.logs/x86_64-linux/.runner.log 1 'a coordinator detached \(0 attached\)'
func cmdWaitLines(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: waitlines GLOB N REGEXP")
	}
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	re := regexp.MustCompile(args[2])
	deadline := time.Now().Add(awaitLimit)
	got, last := 0, ""
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(ts.MkAbs(args[0]))
		if len(files) > 1 {
			ts.Fatalf("%s names %d files, want one: %v", args[0], len(files), files)
		}
		if len(files) == 1 {
			if data, err := os.ReadFile(files[0]); err == nil {
				got, last = 0, string(data)
				for line := range strings.Lines(string(data)) {
					if re.MatchString(line) {
						got++
					}
				}
				if got >= want {
					return
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.Fatalf("%s did not hold %d lines matching %q within %s (it held %d):\n%s", args[0], want, args[2], awaitLimit, got, last)
}
