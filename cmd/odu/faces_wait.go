package main

import (
	"context"
	"fmt"
	"time"

	"github.com/odu-ci/odu/surface"
)

// WaitCmd waits for the run to settle.
type WaitCmd struct {
	FailFast bool `help:"Return as soon as any node does not succeed."`
	Next     bool `help:"When no run is live, wait for the next one to start, instead of answering with the last run of HEAD's commit."`
	// How long a wait that finds no run gives one to announce itself
	// before it answers from the record: odu run announces itself within
	// milliseconds of starting (before it reads the justfile), so a second
	// covers a loaded machine many times.
	Settle time.Duration `hidden:"" default:"1s" placeholder:"DURATION" help:"How long to give a run that is being started to announce itself; for tests."`
	RunRef string        `name:"run" placeholder:"REF" help:"${run_help}"`
}

// Help is the long description of `odu wait`.
func (*WaitCmd) Help() string {
	return `Wait until the run is over; exit 0 if every node succeeded, 1 if any did not.
The run is the live one, or the one being started, so that a script's
` + "`odu run & …; odu wait`" + ` gets that run's verdict however late wait starts. With
none, the last run of HEAD's commit answers from its record; with no such record
(or with --next), wait waits for a run to start. With --run, the run REF names:
its verdict from its record when it is over, or the live run's when it is that one.`
}

// Run follows the cell until the end.
func (c *WaitCmd) Run(ctx context.Context, env *Env) error {
	_, past, err := pastRun(ctx, env, c.RunRef)
	if err != nil {
		return err
	}
	if past != nil {
		return verdictOf(env, past.State, "run "+past.State.Run.Ref)
	}
	a, err := awaitRun(ctx, env, "odu wait", c.Settle, c.Next)
	if err != nil {
		return err
	}
	if a.last != nil {
		return recordVerdict(env, *a.last)
	}
	cl := a.cl
	defer cl.Close()
	w, err := cl.Watch()
	if err != nil {
		if rec, ok := a.recordOf(surface.State{}); ok && ctx.Err() == nil {
			return recordVerdict(env, rec)
		}
		return failed(ctx, fmt.Errorf("follow the run: %w", err))
	}
	defer w.Close()
	var stop func(surface.State) bool
	if c.FailFast {
		stop = func(st surface.State) bool {
			for _, n := range st.Nodes {
				// (A shard that found no slot never started: it failed
				// nothing.)
				if n.Status.Terminal() && n.Status != surface.Success && (n.Shard == nil || n.Status != surface.Skipped) {
					return true
				}
			}
			return false
		}
	}
	st, err := follow(ctx, w, quiet{}, stop)
	if err != nil && ctx.Err() == nil {
		// Lost: the run ended as wait attached, or was killed. Its record,
		// if it wrote one, has the verdict.
		rec, ok := a.recordOf(st)
		if !ok {
			return failed(ctx, fmt.Errorf("follow the run: %w", err))
		}
		st = rec
	} else if err != nil {
		return failed(ctx, err)
	}
	if !green(st) {
		for _, n := range st.Nodes {
			if n.Status.Terminal() && n.Status != surface.Success {
				fmt.Fprintf(env.Stderr, "odu: %s %s%s\n", n.ID, n.Status, detail(n))
			}
		}
		return &ExitError{Code: 1}
	}
	return nil
}

// quiet shows nothing.
type quiet struct{}

func (quiet) start(surface.State)  {}
func (quiet) change(surface.Node)  {}
func (quiet) tick(surface.State)   {}
func (quiet) end(st surface.State) {}

// MonitorCmd follows the run.
type MonitorCmd struct {
	Output       string `short:"o" enum:"auto,json" default:"auto" placeholder:"auto|json" help:"One JSON object per node transition (json); the live dashboard on a terminal (auto)."`
	ExitOnSettle bool   `help:"Leave the dashboard as soon as the run is over, instead of on q."`
	RunRef       string `name:"run" placeholder:"REF" help:"${run_help}"`
}

// Help is the long description of `odu monitor`.
func (*MonitorCmd) Help() string {
	return `Follow the live run from another terminal; wait for one to start if none is live.
On a terminal, a live dashboard: the nodes as a matrix (recipes × platforms), the
focused node's log, recent transitions; ? lists the keys (r reruns the focused node,
c cancels it, q leaves and the run goes on). Without a terminal (or TERM=dumb) or with
-o json, one line per node transition until the run is over: JSON with -o json or
when the output is not a terminal (the state it attaches to counts as a transition of
every node). With --run, the run REF names: a run that is over is shown from its
record, read-only (r and c are refused; the lines of -o json are its nodes' states).`
}

// Run follows the cell.
func (c *MonitorCmd) Run(ctx context.Context, env *Env, last *lastWords) error {
	root, past, err := pastRun(ctx, env, c.RunRef)
	if err != nil {
		return err
	}
	if c.Output == "auto" && dashboardOK(env) {
		return monitorDashboard(ctx, env, c.ExitOnSettle, root, past, last)
	}
	var w *surface.Watch
	var done func()
	if past != nil {
		w, done, err = recordWatch(ctx, root, *past)
	} else {
		w, root, done, err = watchRun(ctx, env, "odu monitor")
	}
	if err != nil {
		if ctx.Err() != nil {
			return &ExitError{Code: 130} // Ctrl-C while waiting for a run
		}
		return err
	}
	defer done()
	var p printer = newJSONPrinter(env.Stdout, root)
	if c.Output == "auto" && isTerminal(env) {
		p = &plainPrinter{w: env.Stdout}
	}
	_, err = follow(ctx, w, p, nil)
	if err != nil && ctx.Err() == nil {
		return failed(ctx, fmt.Errorf("follow the run: %w", err))
	}
	return nil
}
