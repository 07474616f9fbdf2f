package hostside

import (
	"context"
	"errors"
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

	"github.com/odu-ci/odu/proc"
	"github.com/odu-ci/odu/runner"
	"github.com/odu-ci/odu/surface"
)

// Attach is `odu runner --attach DIR`, what the coordinator's SSH
// session runs: it bridges stdio to the lane's detached runner, starting
// it if none runs.
type Attach struct {
	Dir      string // the lane directory
	Existing bool   // only attach to a runner that runs: ErrNoRunner if none does
	Fresh    bool   // stop the runner that runs, if any, and start a new one
	// Serve is the command that starts the detached runner: `odu runner
	// --serve DIR` and its bounds. It is started in a session of its own.
	Serve []string
	// Lease, when set, is the host's slots directory ([SlotsPath]): a
	// runner started here first takes one of Slots slots there, and
	// holds it for its life; when every slot is held, Run returns
	// [ErrSlotsBusy] and starts nothing. Holder says who holds it. A
	// runner that runs already holds its own.
	Lease  string
	Slots  int
	Holder Holder
	// PruneAfter bounds how long a workspace on the host may go unused;
	// [PruneAfter] when 0.
	PruneAfter time.Duration
	Stdin      io.Reader
	Stdout     io.Writer
	Stderr     io.Writer
}

// ErrNoRunner is [Attach.Run]'s error when Existing is set and no runner
// serves the lane; the command exits [ExitNoRunner].
var ErrNoRunner = errors.New("no runner serves the lane")

// Run bridges stdio to the runner until either ends.
func (c *Attach) Run(ctx context.Context) error {
	dir := c.Dir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create the lane directory: %w", err)
	}
	// A socket's path must fit in a sockaddr (108 bytes), and a lane
	// directory deep in a cache may not: work from inside it.
	if err := os.Chdir(dir); err != nil {
		return err
	}
	now := time.Now()
	if err := os.WriteFile(Used, nil, 0o600); err == nil {
		_ = os.Chtimes(Used, now, now) // best effort, as the write: a use not marked makes a prune sooner, never while a runner holds the lane
	}
	if c.Fresh {
		if err := stopRunner(ctx, c.Stderr); err != nil {
			return err
		}
	}
	conn, err := net.DialTimeout("unix", Sock, 5*time.Second)
	if err != nil {
		// No runner answers: if none lives, one that died may have left
		// its nodes running. Stop them before the lane goes on, whether
		// it is started over or reported gone.
		sweepIfDead(stderrSay(c.Stderr))
		if c.Existing {
			fmt.Fprintf(c.Stderr, "odu runner: no runner serves %s (%v)\n", dir, err)
			return ErrNoRunner
		}
		var lease *os.File
		if c.Lease != "" {
			f, n, err := TakeSlot(c.Lease, max(c.Slots, 1))
			if errors.Is(err, ErrSlotsBusy) {
				fmt.Fprintf(c.Stderr, "odu runner: every slot of the host is held (%d in %s)\n", max(c.Slots, 1), c.Lease)
				return err
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(c.Stderr, "odu runner: leased slot %d of %d (%s)\n", n, max(c.Slots, 1), f.Name())
			// Who holds it is said at once (with this pid), and again
			// with the runner's once it started.
			h := c.Holder
			h.PID = os.Getpid()
			if h.Since.IsZero() {
				h.Since = time.Now()
			}
			_ = WriteHolder(f, h) // said again below
			lease = f
		}
		c.prune()
		err := c.startDetached(lease)
		if lease != nil {
			// The runner holds the lease now, with a descriptor of its
			// own: this bridge does not (it ends with the link).
			lease.Close()
		}
		if err != nil {
			return err
		}
		conn, err = dialWait(ctx, 10*time.Second)
		if err != nil {
			log, _ := os.ReadFile(Log)
			return fmt.Errorf("the runner did not come up: %w\n%s", err, tail(log, 2000))
		}
	}
	return bridge(conn, c.Stdin, c.Stdout)
}

// startDetached starts the Serve command in a session of its own; it
// inherits the lease, if any, as descriptor 3 (--lease-fd 3), and holds
// it for its life.
func (c *Attach) startDetached(lease *os.File) error {
	if len(c.Serve) == 0 {
		return errors.New("no command starts the runner")
	}
	logf, err := os.OpenFile(Log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("open the runner's log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(c.Serve[0], c.Serve[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf // stdin: /dev/null
	if lease != nil {
		cmd.ExtraFiles = []*os.File{lease}
		cmd.Args = append(cmd.Args, "--lease-fd", "3")
	}
	// Its own session: no terminal, no SIGHUP, nothing of the SSH
	// session's; and its own stdio, so that the session can end.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the runner: %w", err)
	}
	if lease != nil {
		h := c.Holder
		h.PID = cmd.Process.Pid
		if h.Since.IsZero() {
			h.Since = time.Now()
		}
		if err := WriteHolder(lease, h); err != nil {
			fmt.Fprintf(c.Stderr, "odu runner: %v\n", err) // the lease holds regardless; only who holds it is unsaid
		}
	}
	return cmd.Process.Release()
}

// dialWait dials the runner's socket until it answers.
func dialWait(ctx context.Context, d time.Duration) (net.Conn, error) {
	deadline := time.Now().Add(d)
	for {
		conn, err := net.DialTimeout("unix", Sock, time.Second)
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
func stopRunner(ctx context.Context, stderr io.Writer) error {
	lock, err := os.OpenFile(Lock, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
		return syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) // none runs
	}
	data, _ := os.ReadFile(PID)
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("a runner holds %s, but %s does not name it", Lock, PID)
	}
	fmt.Fprintf(stderr, "odu runner: stopping the runner that runs (pid %d): --fresh\n", pid)
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
		_, _ = io.Copy(conn, in) // until stdin ends or the runner goes: either ends the bridge
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(out, conn) // until the runner goes or stdout does: either ends the bridge
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
	_ = rc.Control(func(s uintptr) { fd, _ = syscall.Dup(int(s)) }) // else fd stays -1: w as it is
	if fd < 0 {
		return w
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return w
	}
	return os.NewFile(uintptr(fd), f.Name())
}

// Serve is `odu runner --serve DIR`: the detached runner itself.
type Serve struct {
	Dir     string        // the lane directory
	Version string        // odu's version, which a coordinator must say at hello
	Bounds  runner.Bounds // its bounds with no coordinator attached; the defaults for 0
	Stderr  io.Writer     // its log (.runner.log)
	// LeaseFD, when above 2, is the descriptor of the slot it leased,
	// inherited from the attach that started it: held until it exits.
	LeaseFD int
}

// Run serves the lane until the runner's bounds end it.
func (c *Serve) Run(ctx context.Context) error {
	dir := c.Dir
	if err := os.Chdir(dir); err != nil {
		return err
	}
	logf := func(format string, a ...any) {
		fmt.Fprintf(c.Stderr, "%s odu runner: %s\n", time.Now().Format("2006-01-02 15:04:05.000"), fmt.Sprintf(format, a...))
	}
	lock, err := os.OpenFile(Lock, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		logf("another runner serves %s already (pid in %s): exiting", dir, PID)
		return nil
	}
	if c.LeaseFD > 2 {
		lease, err := KeepLease(c.LeaseFD)
		if err != nil {
			return err
		}
		defer lease.Close()
		logf("holds the lease %s", leaseName(lease))
	}
	// A runner that died (kill -9) left its record, and maybe its nodes.
	sweepDead(nil)
	os.Remove(Sock) // left by a runner that was killed
	ln, err := net.Listen("unix", Sock)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", filepath.Join(dir, Sock), err)
	}
	defer ln.Close()
	if err := os.Chmod(Sock, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(PID, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(PID)

	// A coordinator's connection that breaks must not kill the runner
	// (see `odu runner --stdio`).
	sigpipe := make(chan os.Signal, 1)
	signal.Notify(sigpipe, syscall.SIGPIPE)
	defer signal.Stop(sigpipe)

	b := c.Bounds
	if b.Idle <= 0 {
		b.Idle = runner.DefaultIdle
	}
	if b.Finished <= 0 {
		b.Finished = runner.DefaultFinishedIdle
	}
	// Tracked, so that what it starts can be stopped if it dies without
	// stopping it (see sweep.go); the record goes when it exits in
	// order, after its nodes were stopped.
	tok, cg := proc.TrackSelf()
	if err := writeTrack(track{token: tok, cgroup: cg}); err != nil {
		return err
	}
	defer os.Remove(Track)
	defer proc.LeaveCgroup()
	tracking := "its nodes' tokens nest in " + tok
	if cg != "" {
		tracking += ", their cgroups are below " + cg
	}
	logf("serving %s (pid %d); exits after %s with no coordinator attached, %s once every node is finished; %s", dir, os.Getpid(), b.Idle, b.Finished, tracking)
	r := &runner.Runner{Version: c.Version, Logf: logf}
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
func (c *Attach) prune() {
	after := c.PruneAfter
	if after <= 0 {
		after = PruneAfter
	}
	abs, err := filepath.Abs(".") // we are in dir
	if err != nil {
		return
	}
	work := filepath.Dir(filepath.Dir(filepath.Dir(abs)))
	if filepath.Base(work) != "work" {
		return // not in odu's cache layout: touch nothing
	}
	cache := filepath.Dir(filepath.Dir(work))
	if WorkPath(cache) != work {
		return // not in odu's cache layout: touch nothing
	}
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
				fmt.Fprintf(c.Stderr, "odu runner: removed workspace %s, unused for more than %s\n", ws, after)
				removed = true
			}
		}
		if removed {
			// The bare repository's records of the removed worktrees: a
			// prune that fails leaves them for the next one.
			_ = exec.Command("git", "--git-dir", RepoPath(cache, repo.Name()), "worktree", "prune").Run()
		}
	}
}

// lastUse returns when a workspace was last used, and whether a runner
// holds one of its lanes now.
func lastUse(ws string) (time.Time, bool) {
	var used time.Time
	if fi, err := os.Stat(filepath.Join(ws, Ready)); err == nil {
		used = fi.ModTime()
	} else if fi, err := os.Stat(ws); err == nil {
		used = fi.ModTime()
	}
	lanes, _ := filepath.Glob(filepath.Join(ws+".logs", "*"))
	for _, l := range lanes {
		if fi, err := os.Stat(filepath.Join(l, Used)); err == nil && fi.ModTime().After(used) {
			used = fi.ModTime()
		}
		if f, err := os.Open(filepath.Join(l, Lock)); err == nil {
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

// leaseName names the slot file a lease descriptor has open, for the log.
func leaseName(f *os.File) string {
	if p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd()))); err == nil {
		return p
	}
	return "(descriptor " + strconv.Itoa(int(f.Fd())) + ")"
}
