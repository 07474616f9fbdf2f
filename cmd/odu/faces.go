package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/odu-ci/odu/dag"
	"github.com/odu-ci/odu/lanes"
	"github.com/odu-ci/odu/platform"
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
// for a run to start; without, it returns errNoRun when none is live.
func attach(ctx context.Context, env *Env, name string, wait bool) (*surface.Client, string, error) {
	root, err := repo.Root(ctx, env.Dir)
	if err != nil {
		return nil, "", err
	}
	var cl *surface.Client
	if wait {
		cl, err = lanes.DialWait(ctx, root, name, version())
	} else {
		cl, err = lanes.Dial(ctx, root, name, version())
	}
	if errors.Is(err, lanes.ErrNoRun) {
		return nil, root, errNoRun
	}
	if err != nil {
		return nil, root, fmt.Errorf("attach to the run: %w", err)
	}
	return cl, root, nil
}

// watchRun waits for a live run and follows its cell; done closes both.
func watchRun(ctx context.Context, env *Env, name string) (*surface.Watch, func(), error) {
	cl, _, err := attach(ctx, env, name, true)
	if err != nil {
		return nil, nil, err
	}
	w, err := cl.Watch()
	if err != nil {
		cl.Close()
		return nil, nil, err
	}
	return w, func() { w.Close(); cl.Close() }, nil
}

// current returns the state of a live run: the cell's first event.
func current(ctx context.Context, cl *surface.Client) (surface.State, error) {
	w, err := cl.Watch()
	if err != nil {
		return surface.State{}, err
	}
	defer w.Close()
	ev, err := w.Next(ctx)
	if err != nil {
		return surface.State{}, fmt.Errorf("read the run's state: %w", err)
	}
	return *ev.Snapshot, nil
}

// pick resolves a node argument against a run's nodes with the selectors
// of `odu run`: it must name exactly one node.
func pick(st surface.State, arg string) (surface.Node, error) {
	sel, err := dag.ParseSelector(arg)
	if err != nil {
		return surface.Node{}, err
	}
	pl := &dag.Pipeline{Root: st.Run.Root}
	for _, p := range st.Run.Platforms {
		pl.Platforms = append(pl.Platforms, platform.Platform(p))
	}
	for _, n := range st.Nodes {
		pl.Nodes = append(pl.Nodes, &dag.Node{ID: n.ID, Name: n.Name, Recipe: n.Recipe, Platform: platform.Platform(n.Platform), Deps: n.Deps})
	}
	got, err := pl.Select(nil, []dag.Selector{sel}, true)
	if err != nil {
		return surface.Node{}, err
	}
	if len(got.Nodes) != 1 {
		var ids []string
		for _, n := range got.Nodes {
			ids = append(ids, n.ID)
		}
		return surface.Node{}, &dag.SelectorError{Selector: arg,
			Problem: fmt.Sprintf("names %d nodes: %s", len(ids), strings.Join(ids, ", ")),
			Suggest: "Name one, e.g. " + ids[0] + "."}
	}
	return *st.Node(got.Nodes[0].ID), nil
}

// attachNode connects to the live run and resolves a node argument in it.
func attachNode(ctx context.Context, env *Env, name, arg string) (*surface.Client, surface.Node, error) {
	cl, _, err := attach(ctx, env, name, false)
	if errors.Is(err, errNoRun) {
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

// pickLog resolves the argument of `odu logs`: a node, or a lane's setup
// log, _setup@PLATFORM (or _setup when there is one lane). It returns the
// id the surface serves it under, and its file relative to the root.
func pickLog(st surface.State, arg string) (id, path string, err error) {
	plat, ok := strings.CutPrefix(arg, "_setup")
	if !ok || (plat != "" && !strings.HasPrefix(plat, "@")) {
		n, err := pick(st, arg)
		return n.ID, n.Log, err
	}
	plat = strings.TrimPrefix(plat, "@")
	var names []string
	for _, l := range st.Lanes {
		names = append(names, surface.SetupID(l.Platform))
		if l.Platform == plat || (plat == "" && len(st.Lanes) == 1) {
			return surface.SetupID(l.Platform), l.Log, nil
		}
	}
	return "", "", &dag.SelectorError{Selector: arg, Problem: "no lane of that platform in the run", Candidates: names}
}

// StatusCmd shows the run's nodes.
type StatusCmd struct {
	Output string `short:"o" enum:"text,json" default:"text" placeholder:"text|json" help:"Print a table, or the run's whole state as JSON."`
}

// Help is the long description of `odu status`.
func (*StatusCmd) Help() string {
	return `Show the nodes of the run live in this checkout, or, when none is, of the last run,
marked as finished. Exits 1 when there is neither.`
}

// Run prints the state.
func (c *StatusCmd) Run(ctx context.Context, env *Env) error {
	cl, root, err := attach(ctx, env, "odu status", false)
	var st surface.State
	live := err == nil
	switch {
	case live:
		defer cl.Close()
		if st, err = current(ctx, cl); err != nil {
			return failed(ctx, err)
		}
	case errors.Is(err, errNoRun):
		st, _, err = lastRecord(env, root)
		if errors.Is(err, lanes.ErrNoRecord) {
			return &ExitError{Code: 1, Err: &hinted{msg: "no run is live in this checkout, and none has been recorded", hint: "Start one with `odu run`."}}
		}
		if err != nil {
			return err
		}
	default:
		return err
	}
	if c.Output == "json" {
		data, _ := json.MarshalIndent(st, "", "  ")
		fmt.Fprintf(env.Stdout, "%s\n", data)
		return nil
	}
	printStatus(env.Stdout, st, live, useColor(env))
	return nil
}

func printStatus(w io.Writer, st surface.State, live bool, colour bool) {
	when := "running for " + duration(time.Since(st.Run.Started))
	switch {
	case st.Run.Ended != nil:
		when = "finished " + st.Run.Ended.Local().Format("2006-01-02 15:04:05") + ", took " + duration(st.Run.Ended.Sub(st.Run.Started))
	case !live:
		// Its record was never finished: odu run was killed.
		when = fmt.Sprintf("started %s, did not finish (odu run, pid %d, was killed or crashed)", st.Run.Started.Local().Format("2006-01-02 15:04:05"), st.Run.PID)
	}
	if !live {
		fmt.Fprintln(w, "No run is live in this checkout; the last one:")
	}
	fmt.Fprintf(w, "%s, %s\n", runLine(st), when)
	fmt.Fprintf(w, "%s\n", counts(st))
	for _, l := range st.Lanes {
		if l.Phase == surface.PhaseReconnecting || l.Phase == surface.PhaseFailed {
			fmt.Fprintf(w, "lane %s on %s: %s (%s)\n", l.Platform, l.Host, l.Phase, l.Error)
		}
	}
	fmt.Fprintln(w)
	width := 0
	for _, n := range st.Nodes {
		width = max(width, len(n.ID))
	}
	for _, n := range st.Nodes {
		fmt.Fprintf(w, "%s %-9s %-*s  %-6s%s\n", paint(colour, n.Status, glyphs[n.Status]), n.Status, width, n.ID, clock(n), reasonOf(n))
	}
	postStatus(w, st, live)
}

// LogsCmd prints a node's log.
type LogsCmd struct {
	Follow bool   `short:"f" help:"Follow the log as it grows, until the node finishes; wait for a run if none is live."`
	Node   string `arg:"" help:"The node: RECIPE, RECIPE@PLATFORM, MODULE::RECIPE."`
}

// Help is the long description of `odu logs`.
func (*LogsCmd) Help() string {
	return `Print a node's log, byte for byte as the recipe wrote it, from the live run or, when
none is, from the last run. With -f, follow it as it grows and return when the node
finishes; a rerun starts the log over.`
}

// Examples are shown by `odu logs --help`.
func (*LogsCmd) Examples() []string {
	return []string{"odu logs build", "odu logs -f e2e@x86_64-linux"}
}

// Run copies the log to stdout.
func (c *LogsCmd) Run(ctx context.Context, env *Env) error {
	cl, root, err := attach(ctx, env, "odu logs", c.Follow)
	if errors.Is(err, errNoRun) {
		return c.fromRecord(env, root, surface.NodeLogParams{})
	}
	if err != nil {
		if ctx.Err() != nil {
			return &ExitError{Code: 130} // Ctrl-C while waiting for a run
		}
		return err
	}
	defer func() { cl.Close() }()
	st, err := current(ctx, cl)
	if err != nil {
		return failed(ctx, err)
	}
	id, _, err := pickLog(st, c.Node)
	if err != nil {
		return err
	}
	p := surface.NodeLogParams{ID: id, NoFollow: !c.Follow}
	resumed := int64(-1) // the offset of the last resumption: once per progress
	for {
		ls, err := cl.Log(p)
		if err != nil {
			return err
		}
		for {
			chunk, err := ls.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil && ctx.Err() == nil && cl.Err() != nil && p.From > resumed {
				// The connection ended: the run cut this client off for
				// not reading (a pager left on one page), or the run is
				// over. Attach again and go on from the offset reached,
				// or read the rest from the record.
				resumed = p.From
				cl.Close()
				cl, _, err = attach(ctx, env, "odu logs", false)
				if errors.Is(err, errNoRun) {
					return c.fromRecord(env, root, p)
				}
				if err != nil {
					return &ExitError{Code: 1, Err: err}
				}
				break
			}
			if err != nil {
				return failed(ctx, fmt.Errorf("read the log of %s: %w", id, err))
			}
			_, err = env.Stdout.Write(chunk.Data)
			p.Attempt, p.From = chunk.Attempt, chunk.Offset+chunk.Len()
			chunk.Release()
			if err != nil {
				ls.Close()
				return nil // the reader went away (| head)
			}
		}
		end := ls.End()
		if end == nil {
			continue // attached again: resume at p
		}
		if !end.Restarted || !c.Follow {
			return nil
		}
		fmt.Fprintf(env.Stderr, "odu: %s was rerun; following attempt %d\n", id, end.Attempt+1)
		p.Attempt, p.From = end.Attempt+1, 0
	}
}

// fromRecord prints a node's log from the last run's record: from p.From
// when the record holds the attempt p was reading, else whole.
func (c *LogsCmd) fromRecord(env *Env, root string, p surface.NodeLogParams) error {
	st, _, err := lastRecord(env, root)
	if errors.Is(err, lanes.ErrNoRecord) {
		return noRun()
	}
	if err != nil {
		return err
	}
	id, path, err := pickLog(st, c.Node)
	if err != nil {
		return err
	}
	f, err := os.Open(filepath.Join(root, path))
	if err != nil {
		return fmt.Errorf("read the log of %s: %w", id, err)
	}
	defer f.Close()
	if n := st.Node(id); n != nil && p.Attempt == n.Attempt && p.From > 0 {
		if _, err := f.Seek(p.From, io.SeekStart); err != nil {
			return fmt.Errorf("read the log of %s: %w", id, err)
		}
	}
	io.Copy(env.Stdout, f)
	return nil
}

// RerunCmd reruns a node.
type RerunCmd struct {
	Node string `arg:"" help:"The node: RECIPE, RECIPE@PLATFORM, MODULE::RECIPE."`
}

// Help is the long description of `odu rerun`.
func (*RerunCmd) Help() string {
	return `Run a node of the live run again, and every node that depends on it on its platform:
they go back to pending (a running one is stopped first) and their logs start over.`
}

// Run asks the run for the rerun.
func (c *RerunCmd) Run(ctx context.Context, env *Env) error {
	cl, n, err := attachNode(ctx, env, "odu rerun", c.Node)
	if err != nil {
		return err
	}
	defer cl.Close()
	reset, err := cl.Rerun(ctx, n.ID)
	if err != nil {
		return failed(ctx, fmt.Errorf("rerun %s: %w", n.ID, err))
	}
	fmt.Fprintf(env.Stdout, "rerunning %s\n", strings.Join(reset, ", "))
	return nil
}

// CancelCmd stops a node, or the whole run.
type CancelCmd struct {
	Node string `arg:"" optional:"" help:"The node to stop; without one, the whole run."`
}

// Help is the long description of `odu cancel`.
func (*CancelCmd) Help() string {
	return `Stop a node of the live run (it becomes cancelled, and what depends on it skipped), or,
with no node, the whole run. A node's processes get SIGTERM, then SIGKILL after the
run's grace period.`
}

// Run asks the run to cancel.
func (c *CancelCmd) Run(ctx context.Context, env *Env) error {
	if c.Node == "" {
		cl, _, err := attach(ctx, env, "odu cancel", false)
		if errors.Is(err, errNoRun) {
			return noRun()
		}
		if err != nil {
			return err
		}
		defer cl.Close()
		if err := cl.CancelRun(ctx); err != nil {
			return failed(ctx, fmt.Errorf("cancel the run: %w", err))
		}
		fmt.Fprintln(env.Stdout, "cancelled the run")
		return nil
	}
	cl, n, err := attachNode(ctx, env, "odu cancel", c.Node)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.CancelNode(ctx, n.ID); err != nil {
		return failed(ctx, fmt.Errorf("cancel %s: %w", n.ID, err))
	}
	fmt.Fprintf(env.Stdout, "cancelled %s\n", n.ID)
	return nil
}

// WaitCmd waits for the run to settle.
type WaitCmd struct {
	FailFast bool `help:"Return as soon as any node does not succeed."`
}

// Help is the long description of `odu wait`.
func (*WaitCmd) Help() string {
	return `Wait until the live run is over (waiting for one to start if none is live); exit 0
if every node succeeded, 1 if any did not.`
}

// Run follows the cell until the end.
func (c *WaitCmd) Run(ctx context.Context, env *Env) error {
	w, done, err := watchRun(ctx, env, "odu wait")
	if err != nil {
		if ctx.Err() != nil {
			return &ExitError{Code: 130}
		}
		return err
	}
	defer done()
	var stop func(surface.State) bool
	if c.FailFast {
		stop = func(st surface.State) bool {
			for _, n := range st.Nodes {
				if n.Status.Terminal() && n.Status != surface.Success {
					return true
				}
			}
			return false
		}
	}
	st, err := follow(ctx, w, quiet{}, stop)
	if err != nil {
		return failed(ctx, fmt.Errorf("follow the run: %w", err))
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
}

// Help is the long description of `odu monitor`.
func (*MonitorCmd) Help() string {
	return `Follow the live run from another terminal; wait for one to start if none is live.
On a terminal, a live dashboard: the nodes as a matrix (recipes × platforms), the
focused node's log, recent transitions; ? lists the keys (r reruns the focused node,
c cancels it, q leaves and the run goes on). Without a terminal (or TERM=dumb) or with
-o json, one line per node transition until the run is over: JSON with -o json or
when the output is not a terminal (the state it attaches to counts as a transition of
every node).`
}

// Run follows the cell.
func (c *MonitorCmd) Run(ctx context.Context, env *Env) error {
	if c.Output == "auto" && dashboardOK(env) {
		return monitorDashboard(ctx, env, c.ExitOnSettle)
	}
	w, done, err := watchRun(ctx, env, "odu monitor")
	if err != nil {
		return err
	}
	defer done()
	var p printer = jsonPrinter{env.Stdout}
	if c.Output == "auto" && isTerminal(env) {
		p = plainPrinter{env.Stdout}
	}
	_, err = follow(ctx, w, p, nil)
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("follow the run: %w", err)
	}
	return nil
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
