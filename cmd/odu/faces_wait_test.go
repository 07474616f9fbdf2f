package main

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/odu-ci/odu/internal/odutest"
)

// waitLimit bounds every wait of these tests: far beyond what a passing
// run needs, so that a hang fails instead of stalling CI.
const waitLimit = 2 * time.Minute

// TestWaitStartingRun is `odu run & odu wait` where wait starts before
// the run serves its socket (the run is held in its `git status`), while
// the last record of the commit is red: wait must wait for the run being
// started, say so on a terminal, and give that run's verdict (green), not
// the record's. Then, after a new commit, wait finds a record of another
// commit, says it waits for a run of HEAD, and gets the next run's (so
// does logs -f, which prints that run's log). And a
// run being started that is refused ends wait with exit 1.
func TestWaitStartingRun(t *testing.T) {
	bin, err := odutest.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	realGit, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	dir, home, wrap := filepath.Join(tmp, "repo"), filepath.Join(tmp, "home"), filepath.Join(tmp, "wrap")
	for _, d := range []string{dir, home, wrap} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pass, blocked, release := filepath.Join(tmp, "pass"), filepath.Join(tmp, "blocked"), filepath.Join(tmp, "go")
	justfile := "[metadata(\"ci\")]\nci: lint\n    @echo ci\n\nlint:\n    @test -f \"$WAIT_PASS\" || exit 3\n"
	if err := os.WriteFile(filepath.Join(dir, "justfile"), []byte(justfile), 0o644); err != nil {
		t.Fatal(err)
	}
	// A git that holds `git status` (odu run's check of the tree, before
	// it serves) until the test says.
	wrapper := "#!/bin/sh\nfor a; do if [ \"$a\" = status ]; then touch '" + blocked + "'; while [ ! -f '" + release +
		"' ]; do sleep 0.05; done; fi; done\nexec '" + realGit + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(wrap, "git"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), odutest.GitEnv(home)...)
	env = append(env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"XDG_CACHE_HOME="+filepath.Join(tmp, "cache"), "WAIT_PASS="+pass, "TERM=dumb")
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", args[0], err, out)
		}
	}
	git("init", "-q", "-b", "main")
	git("add", "-A")
	git("commit", "-q", "-m", "first")
	t.Cleanup(func() { touch(t, release) })

	// A red run: the last record of HEAD's commit says failure.
	if code := runOdu(t, dir, env, nil, "run", "--progress", "plain"); code != 1 {
		t.Fatalf("the first odu run exited %d, want 1", code)
	}
	if err := os.WriteFile(pass, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	// odu run, held before it serves; then odu wait on a terminal.
	wrapped := append(append([]string{}, env...), "PATH="+wrap+string(os.PathListSeparator)+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	run := startOdu(t, dir, wrapped, "run", "--progress", "plain")
	waitFile(t, blocked)
	w := startTTY(t, dir, env, "wait", "--settle", "0")
	w.waitText(t, "odu: waiting for the run being started in "+dir+"… (Ctrl-C to stop)")
	touch(t, release)
	if code := run.exit(t); code != 0 {
		t.Fatalf("odu run exited %d, want 0", code)
	}
	if code := w.exit(t); code != 0 {
		t.Fatalf("odu wait exited %d, want 0 (the verdict of the run it waited for, not the red record); it wrote:\n%s", code, w.out.String())
	}

	// A new commit: the last record is of another; wait waits for a run.
	git("commit", "-q", "--allow-empty", "-m", "second")
	w = startTTY(t, dir, env, "wait", "--settle", "0")
	w.waitText(t, ", not of HEAD ", "; waiting for one to start in "+dir+"… (Ctrl-C to stop)")
	logs := startTTY(t, dir, env, "logs", "-f", "ci")
	logs.waitText(t, ", not of HEAD ", "; waiting for one to start in "+dir+"… (Ctrl-C to stop)")
	if code := runOdu(t, dir, env, nil, "run", "--progress", "plain"); code != 0 {
		t.Fatalf("odu run exited %d, want 0", code)
	}
	if code := w.exit(t); code != 0 {
		t.Fatalf("odu wait exited %d, want 0; it wrote:\n%s", code, w.out.String())
	}
	if code := logs.exit(t); code != 0 {
		t.Fatalf("odu logs -f exited %d, want 0; it wrote:\n%s", code, logs.out.String())
	}
	if out := logs.out.String(); !strings.Contains(out, "ci\r\n") {
		t.Errorf("odu logs -f ci did not print the run's log (ci):\n%q", out)
	}

	// A run being started that is refused (a dirty tree) ends wait with
	// exit 1, not with the green record of the commit.
	os.Remove(blocked)
	os.Remove(release)
	if err := os.WriteFile(filepath.Join(dir, "dirt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	run = startOdu(t, dir, wrapped, "run", "--progress", "plain")
	waitFile(t, blocked)
	w = startTTY(t, dir, env, "wait", "--settle", "0")
	w.waitText(t, "odu: waiting for the run being started in ")
	touch(t, release)
	if code := run.exit(t); code != 2 {
		t.Fatalf("odu run in a dirty tree exited %d, want 2", code)
	}
	if code := w.exit(t); code != 1 {
		t.Fatalf("odu wait exited %d, want 1; it wrote:\n%s", code, w.out.String())
	}
	if out := w.out.String(); !strings.Contains(out, "ended without running its nodes") {
		t.Errorf("odu wait did not say the run ended without running its nodes:\n%s", out)
	}
}

// oduProc is an odu started by a test.
type oduProc struct {
	cmd  *exec.Cmd
	done chan error
	out  *lockedBuffer
}

func startOdu(t *testing.T, dir string, env []string, args ...string) *oduProc {
	t.Helper()
	p := &oduProc{cmd: exec.Command(filepath.Join(mustBin(t), "odu"), args...), done: make(chan error, 1), out: &lockedBuffer{}}
	p.cmd.Dir, p.cmd.Env, p.cmd.Stdout, p.cmd.Stderr = dir, env, p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.cmd.Process.Kill(); p.exit(t) })
	return p
}

// startTTY starts odu on a terminal of its own (stdin, stdout, stderr).
func startTTY(t *testing.T, dir string, env []string, args ...string) *oduProc {
	t.Helper()
	p := &oduProc{cmd: exec.Command(filepath.Join(mustBin(t), "odu"), args...), done: make(chan error, 1), out: &lockedBuffer{}}
	p.cmd.Dir, p.cmd.Env = dir, env
	tty, err := pty.StartWithSize(p.cmd, &pty.Winsize{Cols: 200, Rows: 24})
	if err != nil {
		t.Fatal(err)
	}
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(p.out, tty); close(copied) }() // until the terminal closes
	go func() {
		err := p.cmd.Wait()
		<-copied // the read fails once the terminal has no process left
		tty.Close()
		p.done <- err
	}()
	t.Cleanup(func() { p.cmd.Process.Kill(); p.exit(t) })
	return p
}

// exit waits for the process and returns its exit code (the same again on
// a later call).
func (p *oduProc) exit(t *testing.T) int {
	t.Helper()
	var err error
	select {
	case err = <-p.done:
		p.done <- err
	case <-time.After(waitLimit):
		p.cmd.Process.Kill()
		t.Fatalf("odu %s did not exit within %s; it wrote:\n%s", strings.Join(p.cmd.Args[1:], " "), waitLimit, p.out.String())
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return exit.ExitCode()
	}
	t.Fatalf("odu %s: %v", strings.Join(p.cmd.Args[1:], " "), err)
	return -1
}

// waitText waits until the process has written every text, and fails if
// it exits first.
func (p *oduProc) waitText(t *testing.T, texts ...string) {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		all := true
		for _, s := range texts {
			all = all && strings.Contains(p.out.String(), s)
		}
		if all {
			return
		}
		select {
		case err := <-p.done:
			p.done <- err
			if out := p.out.String(); !strings.Contains(out, texts[len(texts)-1]) {
				t.Fatalf("odu %s exited (%v) without saying %q; it wrote:\n%s", strings.Join(p.cmd.Args[1:], " "), err, texts, out)
			}
		case <-deadline:
			t.Fatalf("odu %s did not say %q within %s; it wrote:\n%s", strings.Join(p.cmd.Args[1:], " "), texts, waitLimit, p.out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// runOdu runs odu to its end and returns its exit code.
func runOdu(t *testing.T, dir string, env []string, _ io.Reader, args ...string) int {
	t.Helper()
	return startOdu(t, dir, env, args...).exit(t)
}

// waitFile waits for a file to exist.
func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %s", path, waitLimit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mustBin(t *testing.T) string {
	t.Helper()
	bin, err := odutest.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}
