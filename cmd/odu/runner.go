package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/odu-ci/odu/proc"
	"github.com/odu-ci/odu/runner"
	"github.com/odu-ci/odu/runner/hostside"
)

// RunnerCmd is the host side of a lane, started by the coordinator: it is
// not for users, so it is hidden from help.
type RunnerCmd struct {
	Stdio bool `help:"Serve the lane's surface on stdin and stdout; stop everything when stdin closes."`
	// A build host's runner is detached from the SSH session that
	// starts it (see runner/hostside).
	Attach       string        `placeholder:"DIR" help:"Bridge stdin and stdout to the detached runner of the lane directory DIR, starting it if none runs."`
	Existing     bool          `help:"With --attach: only attach to a runner that runs; exit 3 if none does."`
	Fresh        bool          `help:"With --attach: stop the runner that runs, if any, and start a new one."`
	Serve        string        `placeholder:"DIR" help:"Be the detached runner of the lane directory DIR (started by --attach)."`
	Idle         time.Duration `placeholder:"DURATION" help:"With --attach or --serve: exit after this long with no coordinator attached (default 10m)."`
	FinishedIdle time.Duration `placeholder:"DURATION" help:"The same, once every node is finished (default 1m)."`
	PruneAfter   time.Duration `placeholder:"DURATION" help:"With --attach: remove workspaces on the host unused for this long (default 7 days)."`
	// Leases (runner/hostside/lease.go).
	Lease   string `placeholder:"CACHE" help:"With --attach: a runner started takes a slot of the host whose odu cache is CACHE first, and holds it for its life; exit 4 when every slot is held."`
	Count   int    `placeholder:"N" help:"With --lease or --slots: the host's slots."`
	Holder  string `placeholder:"JSON" help:"With --lease: who holds the slot."`
	LeaseFD int    `placeholder:"FD" help:"With --serve or --stdio: the descriptor of the slot the runner holds for its life."`
	Slots   string `placeholder:"CACHE" help:"Print the host's slots (of --count) and who holds them, as JSON."`
	DU      bool   `name:"du" help:"With --slots: and the disk odu's cache uses."`
}

// Run serves the runner until the coordinator goes away.
func (c *RunnerCmd) Run(ctx context.Context, env *Env) error {
	switch {
	case c.Slots != "":
		info := hostside.HostInfo(c.Slots, max(c.Count, 1), version(), c.DU, 5*time.Second)
		return json.NewEncoder(env.Stdout).Encode(info)
	case c.Attach != "" && c.Serve == "" && !c.Stdio:
		return c.attach(ctx, env)
	case c.Serve != "" && c.Attach == "" && !c.Stdio:
		s := &hostside.Serve{Dir: c.Serve, Version: version(), Stderr: env.Stderr, LeaseFD: c.LeaseFD,
			Bounds: runner.Bounds{Idle: c.Idle, Finished: c.FinishedIdle}}
		return s.Run(ctx)
	case !c.Stdio || c.Attach != "" || c.Serve != "":
		return &ExitError{Code: 2, Err: errors.New("odu runner takes one of --stdio, --attach DIR, --serve DIR")}
	}
	// When the coordinator dies, writing to stdout meets a broken pipe; a
	// Go program dies of SIGPIPE there unless it asked for the signal, and
	// the runner must live on to stop its nodes. Asking (rather than
	// ignoring it) keeps the recipes' own SIGPIPE as it was: a disposition
	// of "ignore" would be inherited by every process the runner starts.
	sigpipe := make(chan os.Signal, 1)
	signal.Notify(sigpipe, syscall.SIGPIPE)
	defer signal.Stop(sigpipe)

	r := &runner.Runner{
		Version: version(),
		Logf: func(format string, a ...any) {
			fmt.Fprintf(env.Stderr, "odu runner: "+format+"\n", a...)
		},
	}
	// The coordinator made a cgroup for this runner (see proc); it removes
	// it once the runner exited, unless it was killed: leave it, empty,
	// and remove it here.
	defer proc.LeaveCgroup()
	if c.LeaseFD > 2 {
		// A local lane's lease, taken by its coordinator: held while the
		// runner lives (see runner/hostside/lease.go).
		lease, err := hostside.KeepLease(c.LeaseFD)
		if err != nil {
			return err
		}
		defer lease.Close()
	}
	return r.Serve(ctx, stdio{env.Stdin, env.Stdout})
}

// stdio joins stdin and stdout into one connection.
type stdio struct {
	io.Reader
	io.Writer
}

// Close closes both ends, when they can be closed.
func (s stdio) Close() error {
	if c, ok := s.Reader.(io.Closer); ok {
		c.Close()
	}
	if c, ok := s.Writer.(io.Closer); ok {
		c.Close()
	}
	return nil
}

// attach is `odu runner --attach DIR`: stdio bridged to the lane's
// detached runner, which `odu runner --serve DIR` starts if none runs.
func (c *RunnerCmd) attach(ctx context.Context, env *Env) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	serve := []string{exe, "runner", "--serve", c.Attach}
	if c.Idle > 0 {
		serve = append(serve, "--idle", c.Idle.String())
	}
	if c.FinishedIdle > 0 {
		serve = append(serve, "--finished-idle", c.FinishedIdle.String())
	}
	a := &hostside.Attach{Dir: c.Attach, Existing: c.Existing, Fresh: c.Fresh, Serve: serve,
		PruneAfter: c.PruneAfter, Stdin: env.Stdin, Stdout: env.Stdout, Stderr: env.Stderr}
	if c.Lease != "" {
		a.Lease, a.Slots = hostside.SlotsPath(c.Lease), c.Count
		if c.Holder != "" {
			if err := json.Unmarshal([]byte(c.Holder), &a.Holder); err != nil {
				return &ExitError{Code: 2, Err: fmt.Errorf("--holder: %w", err)}
			}
		}
		a.Holder.Version = version()
	}
	err = a.Run(ctx)
	switch {
	case errors.Is(err, hostside.ErrNoRunner):
		return &ExitError{Code: hostside.ExitNoRunner} // it said so on stderr
	case errors.Is(err, hostside.ErrSlotsBusy):
		return &ExitError{Code: hostside.ExitBusy} // it said so on stderr
	}
	return err
}
