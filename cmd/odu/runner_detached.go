package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/odu-ci/odu/lanes"
	"github.com/odu-ci/odu/proc"
	"github.com/odu-ci/odu/runner"
	"github.com/odu-ci/odu/surface"
)

// A build host's runner is detached from the SSH session that starts it,
// so that it outlives the link. Its lane directory on the host
// (<workspace>.logs/<platform>, beside the nodes' logs) holds:
//
//	runner.sock  the runner's surface, a Unix socket (0600, in a 0700 directory)
//	runner.lock  flock'ed by the runner while it lives: one runner per lane
//	runner.pid   its pid, for `odu run --fresh`
//	runner.track how its nodes are tracked: for a sweep if it dies (runner_sweep.go)
//	.runner.log  what it says: when coordinators attach and detach, why it exits
//	used         touched at every attach: when the workspace was last used
//
// `odu runner --attach DIR` is what the coordinator's SSH session runs: it
// starts the runner if none serves DIR (in its own session and process
// group, stdio to .runner.log, so that nothing ties it to the session),
// then bridges its stdin and stdout to the socket until either ends. A
// dropped link ends the bridge, never the runner.
const (
	runnerSock = "runner.sock"
	runnerLock = "runner.lock"
	runnerPID  = "runner.pid"
	runnerLog  = ".runner.log" // a dot: no recipe's log (NAME.log) can be it
	runnerUsed = "used"
)

// exitNoRunner is --attach --existing's exit code when no runner serves
// the directory: the coordinator that dials a host again after a dropped
// link does not start the lane over behind the user's back.
const exitNoRunner = 3

// defaultPruneAfter is how long a workspace on a host may go unused
// before the next runner started on that host removes it (see
// lanes.PruneAfter, which `odu doctor` reports).
const defaultPruneAfter = lanes.PruneAfter

// attach bridges stdio to the lane's detached runner, starting it if
// none runs.
func (c *RunnerCmd) attach(ctx context.Context, env *Env) error {
	dir := c.Attach
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create the lane directory: %w", err)
	}
	// A socket's path must fit in a sockaddr (108 bytes), and a lane
	// directory deep in a cache may not: work from inside it.
	if err := os.Chdir(dir); err != nil {
		return err
	}
	now := time.Now()
	if err := os.WriteFile(runnerUsed, nil, 0o600); err == nil {
		os.Chtimes(runnerUsed, now, now)
	}
	if c.Fresh {
		if err := stopRunner(ctx, env); err != nil {
			return err
		}
	}
	conn, err := net.DialTimeout("unix", runnerSock, 5*time.Second)
	if err != nil {
		// No runner answers: if none lives, one that died may have left
		// its nodes running. Stop them before the lane goes on, whether
		// it is started over or reported gone.
		sweepIfDead(stderrSay(env.Stderr))
		if c.Existing {
			fmt.Fprintf(env.Stderr, "odu runner: no runner serves %s (%v)\n", dir, err)
			return &ExitError{Code: exitNoRunner}
		}
		c.prune(env, dir)
		if err := c.startDetached(dir); err != nil {
			return err
		}
		conn, err = dialWait(ctx, 10*time.Second)
		if err != nil {
			log, _ := os.ReadFile(runnerLog)
			return fmt.Errorf("the runner did not come up: %w\n%s", err, tail(log, 2000))
		}
	}
	return bridge(conn, env.Stdin, env.Stdout)
}

// startDetached starts `odu runner --serve DIR` in a session of its own.
func (c *RunnerCmd) startDetached(dir string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{"runner", "--serve", dir}
	if c.Idle > 0 {
		args = append(args, "--idle", c.Idle.String())
	}
	if c.FinishedIdle > 0 {
		args = append(args, "--finished-idle", c.FinishedIdle.String())
	}
	logf, err := os.OpenFile(runnerLog, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("open the runner's log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = logf, logf // stdin: /dev/null
	// Its own session: no terminal, no SIGHUP, nothing of the SSH
	// session's; and its own stdio, so that the session can end.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the runner: %w", err)
	}
	return cmd.Process.Release()
}

// dialWait dials the runner's socket until it answers.
func dialWait(ctx context.Context, d time.Duration) (net.Conn, error) {
	deadline := time.Now().Add(d)
	for {
		conn, err := net.DialTimeout("unix", runnerSock, time.Second)
		if err == nil || time.Now().After(deadline) {
			return conn, err
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// stopRunner stops the lane's runner, if one runs (--fresh): SIGTERM,
// then it stops its nodes (their grace period) and exits, releasing its
// lock.
func stopRunner(ctx context.Context, env *Env) error {
	lock, err := os.OpenFile(runnerLock, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
		return syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) // none runs
	}
	data, _ := os.ReadFile(runnerPID)
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("a runner holds %s, but %s does not name it", runnerLock, runnerPID)
	}
	fmt.Fprintf(env.Stderr, "odu runner: stopping the runner that runs (pid %d): --fresh\n", pid)
	syscall.Kill(pid, syscall.SIGTERM)
	// Its nodes get their grace period; two minutes is far beyond any
	// that a run would set.
	deadline := time.Now().Add(2 * time.Minute)
	for syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("the runner (pid %d) did not stop within 2 minutes", pid)
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
}

// bridge copies stdin to conn and conn to stdout until either ends.
func bridge(conn net.Conn, in io.Reader, out io.Writer) error {
	defer conn.Close()
	out = pollable(out)
	done := make(chan struct{}, 2)
	go func() {
		io.Copy(conn, in)
		done <- struct{}{}
	}()
	go func() {
		io.Copy(out, conn)
		done <- struct{}{}
	}()
	<-done
	return nil
}

// pollable returns stdout, when it is a pipe or a socket (sshd's), as a
// non-blocking file that Go's poller waits on. io.Copy from the socket to
// a file moves the bytes with splice(2), in the kernel; into a blocking
// file that the poller does not know, Go's splice loop retries EAGAIN
// without waiting (internal/poll.splicePump), and while sshd was behind
// it spun a whole core: 8.5 s of CPU for a 1 GiB log, on a host of two
// cores that sshd and the runner need. The descriptor is a duplicate of
// stdout's, and O_NONBLOCK is set on a pipe or socket only, whose other
// end is sshd's: never on a terminal that a shell shares.
func pollable(w io.Writer) io.Writer {
	f, ok := w.(*os.File)
	if !ok {
		return w
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&(os.ModeNamedPipe|os.ModeSocket) == 0 {
		return w
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return w
	}
	fd := -1
	rc.Control(func(s uintptr) { fd, _ = syscall.Dup(int(s)) })
	if fd < 0 {
		return w
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return w
	}
	return os.NewFile(uintptr(fd), f.Name())
}

// serve is the detached runner itself.
func (c *RunnerCmd) serve(ctx context.Context, env *Env) error {
	dir := c.Serve
	if err := os.Chdir(dir); err != nil {
		return err
	}
	logf := func(format string, a ...any) {
		fmt.Fprintf(env.Stderr, "%s odu runner: %s\n", time.Now().Format("2006-01-02 15:04:05.000"), fmt.Sprintf(format, a...))
	}
	lock, err := os.OpenFile(runnerLock, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		logf("another runner serves %s already (pid in %s): exiting", dir, runnerPID)
		return nil
	}
	// A runner that died (kill -9) left its record, and maybe its nodes.
	sweepDead(nil)
	os.Remove(runnerSock) // left by a runner that was killed
	ln, err := net.Listen("unix", runnerSock)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", filepath.Join(dir, runnerSock), err)
	}
	defer ln.Close()
	if err := os.Chmod(runnerSock, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(runnerPID, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(runnerPID)

	// A coordinator's connection that breaks must not kill the runner
	// (see RunnerCmd.Run).
	sigpipe := make(chan os.Signal, 1)
	signal.Notify(sigpipe, syscall.SIGPIPE)
	defer signal.Stop(sigpipe)

	b := runner.Bounds{Idle: c.Idle, Finished: c.FinishedIdle}
	if b.Idle <= 0 {
		b.Idle = runner.DefaultIdle
	}
	if b.Finished <= 0 {
		b.Finished = runner.DefaultFinishedIdle
	}
	// Tracked, so that what it starts can be stopped if it dies without
	// stopping it (see runner_sweep.go); the record goes when it exits in
	// order, after its nodes were stopped.
	tok, cg := proc.TrackSelf()
	if err := writeTrack(track{token: tok, cgroup: cg}); err != nil {
		return err
	}
	defer os.Remove(runnerTrack)
	defer proc.LeaveCgroup()
	tracking := "its nodes' tokens nest in " + tok
	if cg != "" {
		tracking += ", their cgroups are below " + cg
	}
	logf("serving %s (pid %d); exits after %s with no coordinator attached, %s once every node is finished; %s", dir, os.Getpid(), b.Idle, b.Finished, tracking)
	r := &runner.Runner{Version: version(), Logf: logf}
	r.Configured = func(cfg surface.Config) {
		// A sweep gives what is left the grace the run asked for.
		t := track{token: tok, cgroup: cg, grace: time.Duration(cfg.GraceMS) * time.Millisecond}
		if err := writeTrack(t); err != nil {
			logf("%v", err)
		}
	}
	err = r.ServeDetached(ctx, ln, b)
	logf("exited")
	return err
}

// prune removes the workspaces on this host that no runner uses and that
// were not used for PruneAfter: DIR is <cache>/odu/work/<repo>/<ws>.logs/<platform>.
func (c *RunnerCmd) prune(env *Env, dir string) {
	after := c.PruneAfter
	if after <= 0 {
		after = defaultPruneAfter
	}
	abs, err := filepath.Abs(".") // we are in dir
	if err != nil {
		return
	}
	work := filepath.Dir(filepath.Dir(filepath.Dir(abs)))
	if filepath.Base(work) != "work" {
		return // not in odu's cache layout: touch nothing
	}
	cache := filepath.Dir(work)
	repos, _ := os.ReadDir(work)
	for _, repo := range repos {
		if !repo.IsDir() {
			continue
		}
		rdir := filepath.Join(work, repo.Name())
		entries, _ := os.ReadDir(rdir)
		removed := false
		for _, e := range entries {
			name := e.Name()
			if !e.IsDir() || strings.HasSuffix(name, ".logs") {
				continue
			}
			ws := filepath.Join(rdir, name)
			if used, busy := lastUse(ws); busy || time.Since(used) < after {
				continue
			}
			if os.RemoveAll(ws) == nil && os.RemoveAll(ws+".logs") == nil {
				fmt.Fprintf(env.Stderr, "odu runner: removed workspace %s, unused for more than %s\n", ws, after)
				removed = true
			}
		}
		if removed {
			exec.Command("git", "--git-dir", filepath.Join(cache, "repos", repo.Name()+".git"), "worktree", "prune").Run()
		}
	}
}

// lastUse returns when a workspace was last used, and whether a runner
// holds one of its lanes now.
func lastUse(ws string) (time.Time, bool) {
	var used time.Time
	if fi, err := os.Stat(filepath.Join(ws, ".odu-ready")); err == nil {
		used = fi.ModTime()
	} else if fi, err := os.Stat(ws); err == nil {
		used = fi.ModTime()
	}
	lanes, _ := filepath.Glob(filepath.Join(ws+".logs", "*"))
	for _, l := range lanes {
		if fi, err := os.Stat(filepath.Join(l, runnerUsed)); err == nil && fi.ModTime().After(used) {
			used = fi.ModTime()
		}
		if f, err := os.Open(filepath.Join(l, runnerLock)); err == nil {
			busy := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB) != nil
			f.Close()
			if busy {
				return used, true
			}
		}
	}
	return used, false
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
