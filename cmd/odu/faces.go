package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/odu-ci/odu/internal/face"
	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/repo"
	"github.com/odu-ci/odu/surface"
)

// noRun reports a command that needs a live run when there is none.
func noRun() error {
	return &ExitError{Code: 1, Err: &hinted{msg: "no run is live in this checkout", hint: "Start one with `odu run`."}}
}

type hinted struct{ msg, hint string }

func (h *hinted) Error() string { return h.msg }
func (h *hinted) Hint() string  { return h.hint }

// attach connects a face to the checkout's live run. With wait, it waits
// for a run to start; without, it returns [runstate.ErrNoRun] when none is live.
func attach(ctx context.Context, env *Env, name string, wait bool) (*surface.Client, string, error) {
	root, err := repo.Root(ctx, env.Dir)
	if err != nil {
		return nil, "", err
	}
	if err := checkStateDir(root); err != nil {
		return nil, "", err
	}
	var cl *surface.Client
	if wait {
		cl, err = runstate.DialWait(ctx, root, name, version())
	} else {
		cl, err = runstate.Dial(ctx, root, name, version())
	}
	if errors.Is(err, runstate.ErrNoRun) {
		return nil, root, err
	}
	var serr *runstate.SocketError // another user's run, or one that does not answer
	if errors.As(err, &serr) {
		return nil, root, &ExitError{Code: 1, Err: err}
	}
	if err != nil && lostConn(err) {
		return nil, root, failed(ctx, fmt.Errorf("attach to the run: %w", err))
	}
	if err != nil {
		return nil, root, fmt.Errorf("attach to the run: %w", err)
	}
	return cl, root, nil
}

// lostConn reports an error of a connection to the run that was cut (the
// run died while a face said hello, or disconnected it, saying why):
// exit 1, as README's table says of a lost connection, not 2, which is
// for what the user typed.
func lostConn(err error) bool {
	var d *surface.DisconnectedError
	return errors.Is(err, surface.ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.As(err, &d)
}

// watchRun waits for a live run and follows its cell; done closes both.
func watchRun(ctx context.Context, env *Env, name string) (*surface.Watch, string, func(), error) {
	cl, root, err := attach(ctx, env, name, true)
	if err != nil {
		return nil, root, nil, err
	}
	w, err := cl.Watch()
	if err != nil {
		cl.Close()
		return nil, root, nil, failed(ctx, fmt.Errorf("follow the run: %w", err)) // the connection ended: exit 1
	}
	return w, root, func() { w.Close(); cl.Close() }, nil
}

// What every face does alike with a run's surface (internal/face).
var (
	current = face.Current
	pick    = face.Pick
	pickLog = face.PickLog
	sameRun = face.SameRun
	green   = face.Green
	counts  = face.Counts
	detail  = face.Detail
)

// attachNode connects to the live run and resolves a node argument in it.
func attachNode(ctx context.Context, env *Env, name, arg string) (*surface.Client, surface.Node, error) {
	cl, _, err := attach(ctx, env, name, false)
	if errors.Is(err, runstate.ErrNoRun) {
		return nil, surface.Node{}, noRun()
	}
	if err != nil {
		return nil, surface.Node{}, err
	}
	st, err := current(ctx, cl)
	if err != nil {
		cl.Close()
		return nil, surface.Node{}, failed(ctx, err)
	}
	n, err := pick(st, arg)
	if err == nil {
		return cl, n, nil
	}
	cl.Close()
	return nil, surface.Node{}, err
}

func isTerminal(env *Env) bool {
	f, ok := env.Stdout.(*os.File)
	return ok && isatty(f)
}

// failed is how a face ends when the run failed it (a procedure refused,
// the connection lost): exit 1 with why, or 130 without a word when the
// user interrupted it (Ctrl-C). Exit 2 is for what the user typed.
func failed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return &ExitError{Code: 130}
	}
	return &ExitError{Code: 1, Err: err}
}
