package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/repo"
	"github.com/odu-ci/odu/surface"
	"github.com/odu-ci/odu/tui"
)

// dashboardOK reports whether the dashboard can run: a terminal to draw
// on and to read keys from, that can do more than print lines.
func dashboardOK(env *Env) bool {
	in, ok := env.Stdin.(*os.File)
	return ok && isatty(in) && isTerminal(env) && env.Getenv("TERM") != "dumb"
}

// monitorDashboard is `odu monitor` on a terminal: the dashboard, until
// the user leaves (the run goes on) or, with exitOnSettle, the run is
// over; then a one-line recap.
// With past (--run of a run that is over), it shows that run's record,
// read-only; r there starts a run after that run, as on a run that ends.
func monitorDashboard(ctx context.Context, env *Env, exitOnSettle bool, root string, past *runstate.Last, last *lastWords) error {
	if past == nil {
		var err error
		if root, err = repo.Root(ctx, env.Dir); err != nil {
			return err
		}
	}
	attachTo := func(ctx context.Context) (tui.Client, error) {
		cl, _, err := attach(ctx, env, "odu monitor", true)
		if err != nil {
			return nil, err
		}
		return cl, nil
	}
	readLog, quit := recordLog(root), "leave (the run goes on)"
	if past != nil {
		var done func()
		defer func() {
			if done != nil {
				done()
			}
		}()
		attachTo = func(ctx context.Context) (tui.Client, error) {
			cl, stop, err := recordClient(ctx, root, *past)
			done = stop
			return cl, err
		}
		readLog, quit = recordLogOf(root, past.State), "leave"
	}
	res, err := tui.Run(ctx, tui.Options{
		Attach: attachTo,
		Dir:    root, Input: env.Stdin, Output: env.Stdout, Colour: useColor(env),
		ExitOnSettle: exitOnSettle, Quit: quit, ReadLog: readLog, RerunAfter: true,
	})
	if err != nil {
		return fmt.Errorf("show the dashboard: %w", err)
	}
	fmt.Fprintln(env.Stdout, recap(res))
	if res.Rerun != "" {
		// r on the run that was over: a new run (rerun_after.go).
		return (&RerunCmd{Nodes: []string{res.Rerun}, Progress: "auto", from: past}).Run(ctx, env, last)
	}
	return nil
}

// recordLog opens a node's log (or a lane's setup log) from the
// checkout's last record, as `odu logs` does once a run is over: what
// the dashboard shows once the connection to the run is closed. The
// record must be the run's the dashboard showed, not one since.
func recordLog(root string) func(run surface.Run, id string) (io.ReadCloser, error) {
	return func(run surface.Run, id string) (io.ReadCloser, error) {
		st, _, err := runstate.LastRecord(root)
		if err != nil {
			return nil, err
		}
		if st.Run.SHA != run.SHA || !st.Run.Started.Equal(run.Started) {
			return nil, errors.New("the run's record is not on disk (yet)")
		}
		return openRecordedLog(root, st, id)
	}
}

// recap says in one line how the run was when the dashboard ended.
func recap(res tui.Result) string {
	st := res.State
	switch {
	case st.Run.SHA == "" && res.Lost != nil:
		return "odu: no run: " + res.Lost.Error()
	case st.Run.SHA == "":
		return "odu: left before a run started"
	case res.Lost != nil:
		return fmt.Sprintf("odu: lost the %s (%v): %s", runWhat(st), res.Lost, counts(st))
	case st.Run.Ended != nil:
		return fmt.Sprintf("odu: %s %s in %s: %s", runWhat(st), verdict(st), duration(st.Run.Ended.Sub(st.Run.Started)), counts(st))
	}
	return fmt.Sprintf("odu: left the %s going (%s so far): %s", runWhat(st), duration(time.Since(st.Run.Started)), counts(st))
}

// face returns how `odu run` shows its progress, over its own surface:
// the dashboard on a terminal (q cancels the run, as Ctrl-C does, by
// calling stop), or a printer. When a node failed, the dashboard shows
// the end until q (unless --exit-on-settle), and calls hold first: the
// run waits for it then. The face's own ctx outlives an interrupt, so
// that the end of a stopped run is shown; interrupted (run ends), a held
// dashboard leaves.
func (c *RunCmd) face(run context.Context, env *Env, root string, stop, hold func()) func(ctx context.Context, conn net.Conn) (surface.State, error) {
	if c.Progress != "auto" || !dashboardOK(env) {
		p := c.printer(env)
		return func(ctx context.Context, conn net.Conn) (surface.State, error) { return show(ctx, conn, p) }
	}
	return func(ctx context.Context, conn net.Conn) (surface.State, error) {
		// What the run says on stderr meanwhile (a lane re-attached, a
		// status that could not be posted) would be drawn over the
		// dashboard: it is held, and said when the dashboard is gone.
		if h, ok := env.Stderr.(*heldWriter); ok {
			h.hold()
			defer h.release()
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var unhook func() bool
		defer func() {
			if unhook != nil {
				unhook()
			}
		}()
		onHold := func() {
			hold()
			unhook = context.AfterFunc(run, cancel) // OnHold is called once
		}
		res, err := tui.Run(ctx, tui.Options{
			Attach: func(ctx context.Context) (tui.Client, error) {
				cl, err := surface.NewClient(ctx, conn, "odu run", version())
				if err != nil {
					return nil, err
				}
				return cl, nil
			},
			Input: env.Stdin, Output: env.Stdout, Colour: useColor(env),
			// odu run returns when the run is over, with its summary;
			// a failure stays on the screen until q.
			ExitOnSettle: true, HoldFailure: !c.ExitOnSettle, OnHold: onHold,
			Quit: "cancel the run", ReadLog: recordLog(root), RerunAfter: true,
		})
		c.rerunNext.Store(res.Rerun)
		if res.Quit && !res.Ended {
			fmt.Fprintln(env.Stderr, "odu: stopping the run…")
			stop()
		}
		return res.State, err
	}
}

// heldWriter passes writes through, except while held: then it keeps
// them (up to heldMax bytes), and writes them out when released.
type heldWriter struct {
	mu      sync.Mutex
	w       io.Writer
	holding bool
	buf     bytes.Buffer
	dropped int
}

// heldMax bounds what a held writer keeps.
const heldMax = 1 << 20

func (h *heldWriter) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.holding {
		return h.w.Write(p)
	}
	if h.buf.Len()+len(p) > heldMax {
		h.dropped += len(p)
		return len(p), nil
	}
	return h.buf.Write(p)
}

func (h *heldWriter) hold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.holding = true
}

func (h *heldWriter) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.holding = false
	_, _ = h.w.Write(h.buf.Bytes()) // the messages are lost with their terminal
	if h.dropped > 0 {
		fmt.Fprintf(h.w, "odu: %d more bytes of messages were dropped while the dashboard showed\n", h.dropped)
	}
	h.buf.Reset()
	h.dropped = 0
}
