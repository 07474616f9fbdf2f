package main

import (
	"context"
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
}

// Run serves the runner until the coordinator goes away.
func (c *RunnerCmd) Run(ctx context.Context, env *Env) error {
	switch {
	case c.Attach != "" && c.Serve == "" && !c.Stdio:
		return c.attach(ctx, env)
	case c.Serve != "" && c.Attach == "" && !c.Stdio:
		s := &hostside.Serve{Dir: c.Serve, Version: version(), Stderr: env.Stderr,
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
	err = a.Run(ctx)
	if errors.Is(err, hostside.ErrNoRunner) {
		return &ExitError{Code: hostside.ExitNoRunner} // it said so on stderr
	}
	return err
}
