package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/odu-ci/odu/runner"
)

// RunnerCmd is the host side of a lane, started by the coordinator: it is
// not for users, so it is hidden from help.
type RunnerCmd struct {
	Stdio bool `required:"" help:"Serve the lane's surface on stdin and stdout."`
}

// Run serves the runner until the coordinator goes away.
func (c *RunnerCmd) Run(ctx context.Context, env *Env) error {
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
