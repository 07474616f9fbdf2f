package sshtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/odu-ci/odu/internal/odutest"
	"github.com/odu-ci/odu/proc"
)

func TestMain(m *testing.M) { odutest.Main(m) }

// ssh is the real OpenSSH client, set up to dial s with key and to trust
// only s's known_hosts line.
func ssh(t testing.TB, s *Server, key Key, command string) *exec.Cmd {
	t.Helper()
	knownHosts := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(knownHosts, []byte(s.KnownHostsLine()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return exec.Command("ssh", "-F", "/dev/null", "-i", key.Path,
		"-o", "UserKnownHostsFile="+knownHosts, "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
		"-p", strconv.Itoa(s.Port), s.User+"@"+s.Host, command)
}

// run runs command on s over ssh and returns its stdout, stderr and exit
// code.
func run(t testing.TB, s *Server, key Key, command string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := ssh(t, s, key, command)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run ssh: %v", err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// mustRun runs command on s and fails the test unless it exits 0.
func mustRun(t testing.TB, s *Server, key Key, command string) string {
	t.Helper()
	out, errOut, code := run(t, s, key, command)
	if code != 0 {
		t.Fatalf("ssh %s %q: exit %d\nstdout: %s\nstderr: %s", s.Addr(), command, code, out, errOut)
	}
	return out
}

func TestSession(t *testing.T) {
	t.Parallel()
	key := NewKey(t)
	greeting := `hello "world" \ $HOME`
	s := Start(t, Options{Keys: []Key{key}, Env: []string{"ODU_TEST_GREETING=" + greeting}})

	got := mustRun(t, s, key, `uname -sm; echo $XDG_CACHE_HOME; echo $TMPDIR; mktemp; command -v just; id -un; printf '%s\n' "$ODU_TEST_GREETING"`)
	tmp := filepath.Join(s.Dir, "tmp")
	want := "Linux x86_64\n" + s.Cache + "\n" + tmp + "\n" + tmp + "/tmp.XXXXXXXXXX\n" + filepath.Join(s.Dir, "bin", "just") + "\nodu-test\n" + greeting + "\n"
	if i, j := strings.Index(got, tmp+"/tmp."), len(tmp+"/tmp."); i >= 0 && len(got) >= i+j+10 {
		got = got[:i+j] + "XXXXXXXXXX" + got[i+j+10:] // mktemp's random part
	}
	if got != want {
		t.Errorf("session printed:\n%s\nwant:\n%s", got, want)
	}

	fast, err := odutest.FastJust()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mustRun(t, s, key, "just --version"), mustOutput(t, fast, "--version"); got != want {
		t.Errorf("just --version on the server = %q, want the fast just's %q", got, want)
	}

	if s.Addr() != "odu-test@127.0.0.1:"+strconv.Itoa(s.Port) {
		t.Errorf("Addr() = %q, want odu-test@127.0.0.1:%d", s.Addr(), s.Port)
	}
	if got, want := s.KnownHostsLine(), "[127.0.0.1]:"+strconv.Itoa(s.Port)+" "+s.HostKey; got != want {
		t.Errorf("KnownHostsLine() = %q, want %q", got, want)
	}
	if !strings.HasPrefix(s.HostKey, "ssh-ed25519 AAAA") || strings.Count(s.HostKey, " ") != 1 {
		t.Errorf("HostKey = %q, want \"ssh-ed25519 AAAA...\"", s.HostKey)
	}
	if !strings.HasPrefix(key.Public, "ssh-ed25519 AAAA") || !strings.HasSuffix(key.Public, " odu-test") {
		t.Errorf("Key.Public = %q, want \"ssh-ed25519 AAAA... odu-test\"", key.Public)
	}
	if fi, err := os.Stat(key.Path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file %s: %v, mode %v, want 0600", key.Path, err, fi.Mode().Perm())
	}
}

func TestTwoHosts(t *testing.T) {
	t.Parallel()
	key := NewKey(t)
	a := Start(t, Options{Host: "127.0.0.2", Keys: []Key{key}})
	b := Start(t, Options{Host: "127.0.0.3", Keys: []Key{key}})
	if a.Cache == b.Cache {
		t.Fatalf("both servers have the cache %s", a.Cache)
	}
	if a.HostKey == b.HostKey {
		t.Errorf("both servers have the host key %s", a.HostKey)
	}

	// What is pushed to one host is not in the other's cache.
	for _, s := range []*Server{a, b} {
		mustRun(t, s, key, `echo pushed >"$XDG_CACHE_HOME/pushed-to-`+s.Host+`"`)
	}
	for _, s := range []*Server{a, b} {
		got := mustRun(t, s, key, `echo $XDG_CACHE_HOME; ls "$XDG_CACHE_HOME"; echo $SSH_CONNECTION`)
		lines := strings.Split(got, "\n")
		if len(lines) != 4 || lines[0] != s.Cache || lines[1] != "pushed-to-"+s.Host {
			t.Errorf("on %s: session printed %q, want its cache %s holding only pushed-to-%s", s.Host, got, s.Cache, s.Host)
			continue
		}
		// The server is the address the client dialled.
		if f := strings.Fields(lines[2]); len(f) != 4 || f[2] != s.Host || f[3] != strconv.Itoa(s.Port) {
			t.Errorf("on %s: SSH_CONNECTION = %q, want the server at %s %d", s.Host, lines[2], s.Host, s.Port)
		}
	}

	// One host's key line does not vouch for the other.
	wrong := &Server{Host: b.Host, Port: b.Port, User: b.User, HostKey: a.HostKey}
	cmd := ssh(t, wrong, key, "true")
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 255 || !strings.Contains(string(out), "Host key verification failed") {
		t.Errorf("ssh to %s trusting %s's host key: exit %d (%v), output %q; want 255 and host key verification failed", b.Host, a.Host, code, err, out)
	}
}

func TestAarch64(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/sys/fs/binfmt_misc/qemu-aarch64"); err != nil {
		t.Fatalf("qemu-aarch64 is not registered with binfmt_misc: run `bash .ci/setup`")
	}
	key := NewKey(t)
	s := Start(t, Options{Host: "127.0.0.4", Keys: []Key{key}, Arch: "aarch64"})

	got := mustRun(t, s, key, "uname -m; uname -s; uname -sm; uname; arch")
	if want := "aarch64\nLinux\nLinux aarch64\nLinux\naarch64\n"; got != want {
		t.Errorf("uname on the aarch64 server printed %q, want %q", got, want)
	}
	if got := mustRun(t, s, key, "uname -a"); !strings.Contains(got, " aarch64 ") || strings.Contains(got, "x86_64") {
		t.Errorf("uname -a on the aarch64 server = %q, want aarch64 as the machine", got)
	}
	if got := mustRun(t, s, key, "just --version"); !strings.HasPrefix(got, "just ") {
		t.Errorf("just --version on the aarch64 server = %q, want a just", got)
	}

	// An arm64 program, pushed as odu pushes its runner, runs (under
	// qemu-user through binfmt_misc).
	src := t.TempDir()
	prog := "package main\n\nimport (\n\t\"os\"\n\t\"runtime\"\n)\n\nfunc main() { os.Stdout.WriteString(runtime.GOARCH + \"\\n\") }\n"
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(src, "goarch")
	build := exec.Command("go", "build", "-o", bin, "main.go")
	build.Dir = src
	build.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build for arm64: %v\n%s", err, out)
	}
	f, err := os.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out, errOut bytes.Buffer
	push := ssh(t, s, key, `p="$XDG_CACHE_HOME/goarch" && cat >"$p" && chmod +x "$p" && "$p"`)
	push.Stdin, push.Stdout, push.Stderr = f, &out, &errOut
	if err := push.Run(); err != nil {
		t.Fatalf("push and run an arm64 program: %v\n%s(is qemu-aarch64 registered with binfmt_misc? run `bash .ci/setup`)", err, errOut.String())
	}
	if got := out.String(); got != "arm64\n" {
		t.Errorf("the arm64 program printed %q, want \"arm64\\n\"", got)
	}
}

func TestNoJust(t *testing.T) {
	t.Parallel()
	key := NewKey(t)
	s := Start(t, Options{Keys: []Key{key}, NoJust: true})
	out, errOut, code := run(t, s, key, "command -v just")
	if code == 0 || out != "" {
		t.Errorf("command -v just with NoJust: exit %d, stdout %q, stderr %q; want it to find nothing", code, out, errOut)
	}
	// The rest of the usual commands are there.
	got := mustRun(t, s, key, `echo ok | cat; command -v sh; uname -m`)
	if want := "ok\n" + filepath.Join(s.Dir, "bin", "sh") + "\nx86_64\n"; got != want {
		t.Errorf("session with NoJust printed %q, want %q", got, want)
	}
}

func TestWrongKeyRefused(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Keys: []Key{NewKey(t)}})
	out, errOut, code := run(t, s, NewKey(t), "echo in")
	if code != 255 || out != "" || !strings.Contains(errOut, "Permission denied (publickey)") {
		t.Errorf("ssh with a key the server does not know: exit %d, stdout %q, stderr %q; want 255 and permission denied", code, out, errOut)
	}
}

func TestKillConnections(t *testing.T) {
	t.Parallel()
	key := NewKey(t)
	s := Start(t, Options{Keys: []Key{key}})

	// One session never reads nor writes; one waits for its stdin to end,
	// as odu's runner does.
	sleeper := ssh(t, s, key, "sleep 30")
	var sleeperErr bytes.Buffer
	sleeper.Stderr = &sleeperErr
	reader := ssh(t, s, key, `cat >/dev/null; echo stdin ended >"$XDG_CACHE_HOME/eof"`)
	stdin, err := reader.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	for _, c := range []*exec.Cmd{sleeper, reader} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	sleep := waitFor(t, "the sessions to start", func() int {
		if s.Connections() == 2 && len(s.find("cat")) == 1 {
			if p := s.find("sleep", "30"); len(p) == 1 {
				return p[0]
			}
		}
		return 0
	})

	pids, err := s.cg.pids()
	if err != nil {
		t.Fatal(err)
	}
	var sshd []int
	for _, pid := range pids {
		if strings.HasPrefix(cmdline(pid), "sshd: ") {
			sshd = append(sshd, pid)
		}
	}

	if n := s.KillConnections(); n != 2 {
		t.Errorf("KillConnections() = %d, want 2", n)
	}
	for _, c := range []*exec.Cmd{sleeper, reader} {
		code := exitWithin(t, c, 10*time.Second)
		if code != 255 {
			t.Errorf("ssh client after KillConnections: exit %d, want 255 (connection lost)", code)
		}
	}
	if n := s.Connections(); n != 0 {
		t.Errorf("Connections() after KillConnections = %d, want 0", n)
	}
	if len(sshd) < 2 {
		t.Errorf("the two connections had sshd processes %v, want at least two", describe(sshd))
	}
	// A process SIGKILL reached may still be being torn down (its
	// command line already gone) when the clients see their connections
	// end: each must be gone within the bound, not at this instant.
	for _, pid := range sshd {
		waitFor(t, fmt.Sprintf("sshd process %d (%s) to end after KillConnections", pid, cmdline(pid)), func() int {
			if running(pid) {
				return 0
			}
			return 1
		})
	}

	// The sessions are left as a dropped link leaves them: stdin ended,
	// and a process that neither reads nor writes goes on, an orphan.
	waitFor(t, "the reading session to see its stdin end", func() int {
		if data, _ := os.ReadFile(filepath.Join(s.Cache, "eof")); string(data) == "stdin ended\n" {
			return 1
		}
		return 0
	})
	if !running(sleep) {
		t.Errorf("sleep 30 (pid %d) ended with its connection; a dropped link leaves it running", sleep)
	}

	// Stop ends it, and a new connection still works before that.
	if got := mustRun(t, s, key, "echo again"); got != "again\n" {
		t.Errorf("a session after KillConnections printed %q, want \"again\\n\"", got)
	}
	s.Stop()
	if running(sleep) {
		t.Errorf("sleep 30 (pid %d) survived Stop", sleep)
	}
}

func TestStopLeavesNothing(t *testing.T) {
	t.Parallel()
	key := NewKey(t)
	s := Start(t, Options{Keys: []Key{key}})

	// A daemon that left its session behind, and a live session.
	mustRun(t, s, key, "setsid sleep 60 </dev/null >/dev/null 2>&1 &")
	live := ssh(t, s, key, "sleep 30")
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the sessions to start", func() int {
		if len(s.find("sleep", "60")) == 1 && len(s.find("sleep", "30")) == 1 {
			return 1
		}
		return 0
	})
	pids, err := s.cg.pids()
	if err != nil {
		t.Fatal(err)
	}
	var sshd int
	for _, pid := range pids {
		if cmdline(pid) == "sshd: odu-test@notty" {
			sshd++
		}
	}
	if sshd != 1 {
		t.Errorf("the live session has %d sshd processes of odu-test, want 1 (processes: %v)", sshd, describe(pids))
	}

	s.Stop()
	if code := exitWithin(t, live, 10*time.Second); code != 255 {
		t.Errorf("ssh client after Stop: exit %d, want 255 (connection lost)", code)
	}
	for _, pid := range pids {
		if running(pid) {
			t.Errorf("process %d (%s) survived Stop", pid, cmdline(pid))
		}
	}
	if left := sessionsOf(s); len(left) > 0 {
		t.Errorf("processes with the server's XDG_CACHE_HOME survived Stop: %v", describe(left))
	}
	for _, p := range []string{s.Dir, s.cg.dir} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there after Stop (%v)", p, err)
		}
	}
	if n := s.Connections(); n != 0 {
		t.Errorf("Connections() after Stop = %d, want 0", n)
	}
	if got := s.KillConnections(); got != 0 {
		t.Errorf("KillConnections() after Stop = %d, want 0", got)
	}
	s.Stop() // again: nothing happens
}

func TestStartRefusesBadOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{Host: "192.0.2.1"}, `Host "192.0.2.1" is not a loopback address`},
		{Options{Arch: "riscv64"}, `Arch "riscv64"`},
		{Options{Env: []string{"NOEQUALS"}}, `Env entry "NOEQUALS"`},
		{Options{Env: []string{"A=two\nlines"}}, `want KEY=VALUE on one line`},
	} {
		ft := &fatalT{TB: t}
		func() {
			defer func() { _ = recover() }() // fatalT stops Start by panicking
			Start(ft, tc.opts)
		}()
		if !strings.Contains(ft.msg, tc.want) {
			t.Errorf("Start(%+v) failed the test with %q, want a message with %q", tc.opts, ft.msg, tc.want)
		}
	}
}

// fatalT records the first Fatalf and stops the goroutine as testing.T
// does, by panicking here (the caller recovers).
type fatalT struct {
	testing.TB
	msg string
}

func (f *fatalT) Helper() {}
func (f *fatalT) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(f)
}

// BenchmarkSession measures a whole ssh session: connect, authenticate,
// run `true`, close.
func BenchmarkSession(b *testing.B) {
	key := NewKey(b)
	s := Start(b, Options{Keys: []Key{key}})
	for b.Loop() {
		mustRun(b, s, key, "true")
	}
}

// BenchmarkStart measures starting and stopping a server, with the fast
// just on PATH and, for NoJust, the links to every other command.
func BenchmarkStart(b *testing.B) {
	for _, opts := range []Options{{}, {NoJust: true}, {Arch: "aarch64"}} {
		b.Run(fmt.Sprintf("NoJust=%v,Arch=%q", opts.NoJust, opts.Arch), func(b *testing.B) {
			for b.Loop() {
				Start(b, opts).Stop()
			}
		})
	}
}

// find lists the running processes in s's cgroup whose command line is
// argv.
func (s *Server) find(argv ...string) []int {
	pids, _ := s.cg.pids()
	var found []int
	for _, pid := range pids {
		if cmdline(pid) == strings.Join(argv, " ") && running(pid) {
			found = append(found, pid)
		}
	}
	return found
}

// sessionsOf lists the processes anywhere on the machine started with s's
// XDG_CACHE_HOME in their environment.
func sessionsOf(s *Server) []int {
	entries, _ := os.ReadDir("/proc")
	var found []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !running(pid) {
			continue
		}
		env, _ := os.ReadFile("/proc/" + e.Name() + "/environ")
		if bytes.Contains(env, []byte("\x00XDG_CACHE_HOME="+s.Cache+"\x00")) || bytes.HasPrefix(env, []byte("XDG_CACHE_HOME="+s.Cache+"\x00")) {
			found = append(found, pid)
		}
	}
	return found
}

// running reports whether pid is a process that has not exited (zombies,
// left for init to reap, have).
func running(pid int) bool {
	state, _, ok := proc.Stat(strconv.Itoa(pid))
	return ok && state != "Z" && state != "X"
}

func cmdline(pid int) string {
	data, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.TrimRight(strings.ReplaceAll(string(data), "\x00", " "), " ")
}

func describe(pids []int) []string {
	var d []string
	for _, pid := range pids {
		d = append(d, strconv.Itoa(pid)+" "+cmdline(pid))
	}
	return d
}

// waitFor polls cond until it returns non-zero, and fails the test when
// that takes more than 10 seconds.
func waitFor(t *testing.T, what string, cond func() int) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if v := cond(); v != 0 {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// exitWithin waits for a started command for at most d, and returns its
// exit code; a command still running then is killed and fails the test.
func exitWithin(t *testing.T, cmd *exec.Cmd, d time.Duration) int {
	t.Helper()
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		t.Errorf("%s still running %v after its connection was killed", strings.Join(cmd.Args, " "), d)
	}
	return cmd.ProcessState.ExitCode()
}

func mustOutput(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return string(out)
}
