package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/odu-ci/odu/internal/odutest"
	"github.com/odu-ci/odu/proc"
)

func TestMain(m *testing.M) { odutest.Main(m) }

// TestScripts runs the user sessions in testdata/script: the real odu
// binary, the real just and git, in throwaway repositories.
func TestScripts(t *testing.T) {
	testscript.Run(t, scriptParams(t, "../../testdata/script"))
}

func scriptParams(t *testing.T, dir string) testscript.Params {
	bin, err := odutest.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	oldJust, err := odutest.OldJust()
	if err != nil {
		t.Fatal(err)
	}
	// Runner binaries cross-compiled for other platforms are cached per
	// version: the scripts share one cache, so one compiles them.
	runners := t.TempDir()
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	return testscript.Params{
		Dir:                 dir,
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			if err := setupScriptT(env); err != nil {
				return err
			}
			// HOME lives outside $WORK, so that the repositories scripts
			// make in $WORK stay clean.
			home, err := os.MkdirTemp("", "odu-home-")
			if err != nil {
				return err
			}
			env.Defer(func() { os.RemoveAll(home) })
			env.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
			for _, kv := range odutest.GitEnv(home) {
				k, v, _ := strings.Cut(kv, "=")
				env.Setenv(k, v)
			}
			env.Setenv("OLD_JUST_DIR", filepath.Dir(oldJust))
			env.Setenv("GIT", gitPath)
			env.Setenv("XDG_CACHE_HOME", runners)
			env.Setenv("ODU", filepath.Join(bin, "odu"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":       cmdExits,
			"otherodu":    cmdOtherOdu,
			"commit":      cmdCommit,
			"start":       cmdStart,
			"signal":      cmdSignal,
			"await":       cmdAwait,
			"waitfor":     cmdWaitfor,
			"gone":        cmdGone,
			"allgone":     cmdAllGone,
			"sshd":        cmdSSHD,
			"sshd-kill":   cmdSSHDKill,
			"sshd-refuse": cmdSSHDRefuse,
			"sshd-lose":   cmdSSHDLose,
			"sshd-link":   cmdSSHDLink,
			"nolinger":    cmdNoLinger,
			"lingers":     cmdLingers,
			"waitsize":    cmdWaitSize,
			"waitlines":   cmdWaitLines,
			"nosecret":    cmdNoSecret,
			"tmpfs":       cmdTmpfs,
			"headsha":     cmdHeadSHA,
			"killchild":   cmdKillChild,
			"attached":    cmdAttached,
			"watching":    cmdWatching,
		},
	}
}

// cmdExits runs a program and checks its exit code:
//
//	exits 2 odu dump nosuch
//
// Its stdout and stderr are kept for the stdout and stderr commands.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: %q is not an exit code", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			ts.Fatalf("exits: run %s: %v", args[1], err)
		}
		got = exit.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", strings.Join(args[1:], " "), got, want)
	}
}

// cmdCommit makes the current directory a git repository (if it is not
// one) and commits everything in it:
//
//	commit [MESSAGE]
func cmdCommit(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("usage: commit [MESSAGE]")
	}
	msg := "commit"
	if len(args) > 0 {
		msg = strings.Join(args, " ")
	}
	if _, err := os.Stat(ts.MkAbs(".git")); err != nil {
		ts.Check(ts.Exec("git", "init", "-q", "-b", "main"))
	}
	ts.Check(ts.Exec("git", "add", "-A"))
	ts.Check(ts.Exec("git", "commit", "-q", "-m", msg))
}

// background processes started by `start`, by name, per script.
var (
	bgMu sync.Mutex
	bg   = map[*testscript.TestScript]map[string]*background{}
)

type background struct {
	cmd  *exec.Cmd
	done chan struct{}
	code int
}

// cmdStart starts a program in the background, with its output in the
// files $WORK/NAME.stdout and $WORK/NAME.stderr (outside the repository a
// script works in, say $WORK/repo, so as not to dirty it):
//
//	start run odu run
//
// It is killed when the script ends, if it is still running.
func cmdStart(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: start NAME PROGRAM [ARGS...]")
	}
	name := args[0]
	// The script's PATH first, as exec does: the test process's own may
	// hold another odu (an installed one, not the one under test).
	path, err := "", error(nil)
	for _, dir := range filepath.SplitList(ts.Getenv("PATH")) {
		if p := filepath.Join(dir, args[1]); isExec(p) {
			path = p
			break
		}
	}
	if path == "" {
		path, err = exec.LookPath(args[1])
	}
	ts.Check(err)
	cmd := exec.Command(path, args[2:]...)
	cmd.Dir = ts.MkAbs(".")
	for _, kv := range []string{"PATH", "HOME", "GIT_CONFIG_NOSYSTEM", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL",
		"GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE", "GORACE", "TMPDIR", "WORK",
		"XDG_CACHE_HOME", "ODU_HOSTS", "ODU_NO_CGROUP"} {
		cmd.Env = append(cmd.Env, kv+"="+ts.Getenv(kv))
	}
	out, err := os.Create(filepath.Join(ts.Getenv("WORK"), name+".stdout"))
	ts.Check(err)
	errf, err := os.Create(filepath.Join(ts.Getenv("WORK"), name+".stderr"))
	ts.Check(err)
	cmd.Stdout, cmd.Stderr = out, errf
	ts.Check(cmd.Start())
	b := &background{cmd: cmd, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		out.Close()
		errf.Close()
		var exit *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &exit):
			b.code = exit.ExitCode()
			if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				b.code = 128 + int(ws.Signal())
			}
		default:
			b.code = -1
		}
		close(b.done)
	}()
	bgMu.Lock()
	if bg[ts] == nil {
		bg[ts] = map[string]*background{}
		ts.Defer(func() {
			bgMu.Lock()
			defer bgMu.Unlock()
			for _, b := range bg[ts] {
				b.cmd.Process.Kill()
				<-b.done
			}
			delete(bg, ts)
		})
	}
	bg[ts][name] = b
	bgMu.Unlock()
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode()&0o111 != 0
}

func started(ts *testscript.TestScript, name string) *background {
	bgMu.Lock()
	defer bgMu.Unlock()
	b := bg[ts][name]
	if b == nil {
		ts.Fatalf("nothing was started as %s", name)
	}
	return b
}

// cmdSignal sends a signal (INT, TERM, KILL, STOP, CONT) to a background
// program:
//
//	signal run INT
func cmdSignal(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: signal NAME INT|TERM|KILL|HUP|STOP|CONT")
	}
	sig := map[string]syscall.Signal{"INT": syscall.SIGINT, "TERM": syscall.SIGTERM, "KILL": syscall.SIGKILL,
		"HUP": syscall.SIGHUP, "STOP": syscall.SIGSTOP, "CONT": syscall.SIGCONT}[args[1]]
	if sig == 0 {
		ts.Fatalf("signal: unknown signal %s", args[1])
	}
	ts.Check(started(ts, args[0]).cmd.Process.Signal(sig))
	ts.Logf("sent %s at %s", args[1], time.Now().Format("15:04:05.000"))
}

// awaitLimit bounds how long a script waits for anything: far beyond
// what a passing run needs (the slowest: a lane's first start, which
// cross-compiles a runner, ~30 s on 2 loaded cores), so that a hang
// fails instead of stalling CI.
const awaitLimit = 3 * time.Minute

// cmdAwait waits for a background program to exit and checks its code:
//
//	await run 130
func cmdAwait(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: await NAME CODE")
	}
	b := started(ts, args[0])
	select {
	case <-b.done:
	case <-time.After(awaitLimit):
		ts.Fatalf("%s did not exit within %s", args[0], awaitLimit)
	}
	if want := args[1]; fmt.Sprint(b.code) != want {
		stderr, _ := os.ReadFile(filepath.Join(ts.Getenv("WORK"), args[0]+".stderr"))
		ts.Fatalf("%s exited %d, want %s; its stderr:\n%s", args[0], b.code, want, stderr)
	}
}

// cmdWaitfor waits for a file to exist (a recipe touches it to say how
// far it got), and, given a regular expression, to hold a match:
//
//	waitfor $WORK/held
//	waitfor $WORK/follow.stdout '^holding'
func cmdWaitfor(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: waitfor FILE [REGEXP]")
	}
	var re *regexp.Regexp
	if len(args) == 2 {
		re = regexp.MustCompile("(?m)" + args[1])
	}
	deadline := time.Now().Add(awaitLimit)
	var data []byte
	for time.Now().Before(deadline) {
		var err error
		data, err = os.ReadFile(ts.MkAbs(args[0]))
		if err == nil && (re == nil || re.Match(data)) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	// What it held says what happened instead.
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	ts.Fatalf("%s did not appear (or match) within %s; it ends:\n%s", args[0], awaitLimit, data)
}

// cmdGone checks that the process whose pid a file holds exits within
// goneLimit (a zombie waiting for init counts as exited), and kills it if
// it does not:
//
//	gone grandchild.pid
func cmdGone(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: gone PIDFILE")
	}
	data, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	pid := strings.TrimSpace(string(data))
	if _, err := strconv.Atoi(pid); err != nil {
		ts.Fatalf("%s holds %q, not a pid", args[0], pid)
	}
	deadline := time.Now().Add(goneLimit)
	for {
		state, _, ok := proc.Stat(pid)
		if !ok || state == "Z" {
			return
		}
		if time.Now().After(deadline) {
			syscall.Kill(mustAtoi(pid), syscall.SIGKILL)
			ts.Fatalf("process %s (from %s) is still running %s later, in state %s", pid, args[0], goneLimit, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// goneLimit is how long a process that was signalled gets to exit: the
// kernel delivers a signal to a whole group at once, but a process dies
// only when it is next scheduled.
const goneLimit = 5 * time.Second

func mustAtoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
