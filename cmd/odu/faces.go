package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mattn/go-runewidth"

	"github.com/odu-ci/odu/dag"
	"github.com/odu-ci/odu/lanes/runstate"
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
	if err != nil {
		return nil, root, fmt.Errorf("attach to the run: %w", err)
	}
	return cl, root, nil
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
		return nil, root, nil, err
	}
	return w, root, func() { w.Close(); cl.Close() }, nil
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
	if sel.Platform != "" && !slices.Contains(st.Run.Platforms, string(sel.Platform)) {
		// The run's platforms are fixed: --platform is for odu run.
		return surface.Node{}, &dag.SelectorError{Selector: arg,
			Problem: fmt.Sprintf("the run has no lane for %s (it runs %s)", sel.Platform, strings.Join(st.Run.Platforms, ", ")),
			Suggest: "Name a node of the run; `odu status` lists them."}
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

// pickLog resolves the argument of `odu logs`: a node, or a lane's setup
// log, .setup@PLATFORM (or .setup when there is one lane). It returns the
// id the surface serves it under, and its file relative to the root.
func pickLog(st surface.State, arg string) (id, path string, err error) {
	plat, ok := surface.ParseSetupID(arg)
	if !ok {
		n, err := pick(st, arg)
		// _setup was the setup log's name until recipes could have it:
		// still understood when no node has that name.
		legacy, old := strings.CutPrefix(arg, "_")
		if err == nil || !old {
			return n.ID, n.Log, err
		}
		if plat, ok = surface.ParseSetupID("." + legacy); !ok {
			return n.ID, n.Log, err
		}
	}
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
	case errors.Is(err, runstate.ErrNoRun):
		var last runstate.Last
		last, err = lastRecord(env, root)
		st = last.State
		if errors.Is(err, runstate.ErrNoRecord) {
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
	// Columns line up by display width, as on the dashboard: a node's
	// argument in CJK (build("構築")) takes two columns a character.
	width := 0
	for _, n := range st.Nodes {
		width = max(width, runewidth.StringWidth(n.ID))
	}
	for _, n := range st.Nodes {
		id := n.ID + strings.Repeat(" ", width-runewidth.StringWidth(n.ID))
		row := fmt.Sprintf("%-9s %s  %-6s%s", n.Status, id, clock(n), reasonOf(n))
		fmt.Fprintf(w, "%s %s\n", paint(colour, n.Status, glyphs[n.Status]), strings.TrimRight(row, " "))
	}
	postStatus(w, st, live)
}

// LogsCmd prints a node's log.
type LogsCmd struct {
	Follow bool   `short:"f" help:"Follow the log as it grows, until the node finishes; with no run live or starting, print the last run's if it is of HEAD's commit, else wait for a run."`
	Node   string `arg:"" help:"The node: RECIPE, RECIPE@PLATFORM, MODULE::RECIPE; or a lane's setup log."`
}

// Help is the long description of `odu logs`.
func (*LogsCmd) Help() string {
	return `Print a node's log, byte for byte as the recipe wrote it, from the live run or, when
none is, from the last run. With -f, follow it as it grows and return when the node
finishes; a rerun starts the log over.

A lane's setup log, how its runner was brought up (on a build host: the connection,
the source sent, the runner started), is .setup@PLATFORM, or .setup when the run
has one lane.`
}

// Examples are shown by `odu logs --help`.
func (*LogsCmd) Examples() []string {
	return []string{"odu logs build", "odu logs -f e2e@x86_64-linux", "odu logs .setup@aarch64-linux"}
}

// Run copies the log to stdout.
func (c *LogsCmd) Run(ctx context.Context, env *Env) error {
	var cl *surface.Client
	var root string
	var err error
	if c.Follow {
		// Like odu wait: the live or starting run, else the last of HEAD's
		// commit, else the next.
		a, err := awaitRun(ctx, env, "odu logs", time.Second, false)
		if err != nil {
			return err
		}
		if a.last != nil {
			return c.fromRecord(env, a.root, nil, surface.NodeLogParams{})
		}
		cl, root = a.cl, a.root
	} else {
		cl, root, err = attach(ctx, env, "odu logs", false)
		if errors.Is(err, runstate.ErrNoRun) {
			return c.fromRecord(env, root, nil, surface.NodeLogParams{})
		}
		if err != nil {
			return err
		}
	}
	// cl changes when the loop attaches again, and is nil if that failed.
	defer func() {
		if cl != nil {
			cl.Close()
		}
	}()
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
	wrote := false       // whether this attempt had any bytes
	for {
		ls, err := cl.Log(p)
		if err != nil {
			return failed(ctx, fmt.Errorf("read the log of %s: %w", id, err))
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
				// or read the rest from the run's record.
				resumed = p.From
				cl.Close()
				cl, err = reattach(ctx, env, st.Run)
				if err != nil {
					return failed(ctx, err)
				}
				if cl == nil {
					return c.fromRecord(env, root, &st, p)
				}
				break
			}
			if err != nil {
				return failed(ctx, fmt.Errorf("read the log of %s: %w", id, err))
			}
			_, err = env.Stdout.Write(chunk.Data)
			p.Attempt, p.From = chunk.Attempt, chunk.Offset+chunk.Len()
			wrote = wrote || chunk.Len() > 0
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
			if !wrote && end.Finished {
				if now, err := current(ctx, cl); err == nil {
					if n := now.Node(id); n != nil && n.Status == surface.Skipped {
						return skipped(*n)
					}
				}
			}
			return nil
		}
		fmt.Fprintf(env.Stderr, "odu: %s was rerun; following attempt %d\n", id, end.Attempt+1)
		p.Attempt, p.From, wrote = end.Attempt+1, 0, false
	}
}

// fromRecord prints a node's log from the last run's record. Following
// a live run that went away (live is its state when attached), it prints
// the rest of the attempt it was reading, from p.From, and only from that
// run's own record: another run's log, of this commit or another, is not
// the rest of this one. A run killed before it recorded the node finished
// ends the log with an error.
func (c *LogsCmd) fromRecord(env *Env, root string, live *surface.State, p surface.NodeLogParams) error {
	last, err := lastRecord(env, root)
	st := last.State
	if live != nil && (err != nil || !sameRun(st.Run, live.Run)) {
		return lostRun(env, root, *live, p.ID)
	}
	if errors.Is(err, runstate.ErrNoRecord) {
		return noRun()
	}
	if err != nil {
		return err
	}
	id, path, err := pickLog(st, c.Node)
	if err != nil {
		return err
	}
	n := st.Node(id)
	if live == nil && n != nil && n.Status == surface.Skipped {
		return skipped(*n)
	}
	f, err := os.Open(filepath.Join(root, path))
	if err != nil {
		return fmt.Errorf("read the log of %s: %w", id, err)
	}
	defer f.Close()
	if live != nil {
		switch {
		case n != nil && p.Attempt != 0 && n.Attempt != p.Attempt:
			fmt.Fprintf(env.Stderr, "odu: %s was rerun; following attempt %d\n", id, n.Attempt)
		case p.From > 0:
			if _, err := f.Seek(p.From, io.SeekStart); err != nil {
				return fmt.Errorf("read the log of %s: %w", id, err)
			}
		}
	}
	io.Copy(env.Stdout, f)
	if live != nil && n != nil && (!n.Status.Terminal() || last.Unfinished[id]) {
		return lostRun(env, root, *live, id) // the record of a run that was killed
	}
	return nil
}

// reattach connects again to the run that `odu logs` follows. It returns
// no client when that run is over, or another took its place.
func reattach(ctx context.Context, env *Env, run surface.Run) (*surface.Client, error) {
	cl, _, err := attach(ctx, env, "odu logs", false)
	if err != nil && !errors.Is(err, runstate.ErrNoRun) && ctx.Err() == nil {
		// A run that is being killed may still take a connection as it
		// dies, and reset it; once it did, its socket refuses: look again.
		cl, _, err = attach(ctx, env, "odu logs", false)
	}
	if errors.Is(err, runstate.ErrNoRun) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	now, err := current(ctx, cl)
	if err != nil {
		cl.Close()
		return nil, err
	}
	if !sameRun(now.Run, run) {
		cl.Close()
		return nil, nil
	}
	return cl, nil
}

// sameRun reports whether two states are of one run.
func sameRun(a, b surface.Run) bool {
	return a.SHA == b.SHA && a.PID == b.PID && a.Started.Equal(b.Started)
}

// lostRun is how `odu logs -f` ends when the run it follows ended before
// the node finished and left no record of it finishing: odu run was killed.
func lostRun(env *Env, root string, live surface.State, id string) error {
	h := &hinted{msg: "the run ended before " + id + " finished (was odu run killed?)",
		hint: "`odu status` shows the last recorded run."}
	if n := live.Node(id); n != nil && n.Log != "" {
		h.hint = "What it wrote is in " + here(env, root, n.Log) + "; `odu status` shows the last recorded run."
	}
	return &ExitError{Code: 1, Err: h}
}

// skipped is what `odu logs` says of a node that never ran.
func skipped(n surface.Node) error {
	why := ""
	if n.Reason != "" {
		why = " (" + n.Reason + ")"
	}
	return &ExitError{Code: 1, Err: fmt.Errorf("%s was skipped%s: it never ran, so it has no log", n.ID, why)}
}

// RerunCmd reruns a node.
type RerunCmd struct {
	Node string `arg:"" help:"The node: RECIPE, RECIPE@PLATFORM, MODULE::RECIPE."`
}

// Help is the long description of `odu rerun`.
func (*RerunCmd) Help() string {
	return `Run a node of the live run again, and every node that depends on it on its platform:
they go back to pending (a running one is stopped first) and their logs start over.
Reruns and cancels are taken one at a time; a rerun that another rerun overtook says so
and does not restart the node again. A node skipped because a dependency did not
succeed is not rerun (exit 1): rerun that dependency, which reruns the node after it.`
}

// Run asks the run for the rerun.
func (c *RerunCmd) Run(ctx context.Context, env *Env) error {
	cl, n, err := attachNode(ctx, env, "odu rerun", c.Node)
	if err != nil {
		return err
	}
	defer cl.Close()
	res, err := cl.RerunNode(ctx, n.ID)
	if err != nil {
		return failed(ctx, procedureError("rerun", n.ID, err))
	}
	if res.Joined {
		fmt.Fprintf(env.Stdout, "%s was rerun by another request while this one waited (attempt %d, %s): not restarted again\n", n.ID, res.Attempt, res.Status)
		return nil
	}
	fmt.Fprintf(env.Stdout, "rerunning %s\n", strings.Join(res.Reset, ", "))
	return nil
}

// procedureError is a procedure's failure as the user reads it: a refusal
// is the run's own sentence (it names the node), anything else says which
// procedure on which node failed.
func procedureError(verb, id string, err error) error {
	var e *surface.Error
	if errors.As(err, &e) && e.Code == surface.CodeRefused {
		return err
	}
	return fmt.Errorf("%s %s: %w", verb, id, err)
}

// CancelCmd stops a node, or the whole run.
type CancelCmd struct {
	Node string `arg:"" optional:"" help:"The node to stop; without one, the whole run."`
}

// Help is the long description of `odu cancel`.
func (*CancelCmd) Help() string {
	return `Stop a node of the live run (it becomes cancelled, and what depends on it skipped), or,
with no node, the whole run. A node's processes get SIGTERM, then SIGKILL after the
run's grace period. A node that already finished is left as it is: the cancel says how
it finished, and exits 1.`
}

// Run asks the run to cancel.
func (c *CancelCmd) Run(ctx context.Context, env *Env) error {
	if c.Node == "" {
		cl, _, err := attach(ctx, env, "odu cancel", false)
		if errors.Is(err, runstate.ErrNoRun) {
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
	res, err := cl.CancelNodeResult(ctx, n.ID)
	if err != nil {
		return failed(ctx, procedureError("cancel", n.ID, err))
	}
	switch {
	case res.Joined:
		fmt.Fprintf(env.Stdout, "%s was cancelled by another request while this one waited\n", n.ID)
	case res.Was == surface.Pending:
		fmt.Fprintf(env.Stdout, "cancelled %s (it had not started)\n", n.ID)
	default:
		fmt.Fprintf(env.Stdout, "cancelled %s\n", n.ID)
	}
	return nil
}

// WaitCmd waits for the run to settle.
type WaitCmd struct {
	FailFast bool `help:"Return as soon as any node does not succeed."`
	Next     bool `help:"When no run is live, wait for the next one to start, instead of answering with the last run of HEAD's commit."`
	// How long a wait that finds no run gives one to announce itself
	// before it answers from the record: odu run announces itself within
	// milliseconds of starting (before it reads the justfile), so a second
	// covers a loaded machine many times.
	Settle time.Duration `hidden:"" default:"1s" placeholder:"DURATION" help:"How long to give a run that is being started to announce itself; for tests."`
}

// Help is the long description of `odu wait`.
func (*WaitCmd) Help() string {
	return `Wait until the run is over; exit 0 if every node succeeded, 1 if any did not.
The run is the live one, or the one being started, so that a script's
` + "`odu run & …; odu wait`" + ` gets that run's verdict however late wait starts. With
none, the last run of HEAD's commit answers from its record; with no such record
(or with --next), wait waits for a run to start.`
}

// Run follows the cell until the end.
func (c *WaitCmd) Run(ctx context.Context, env *Env) error {
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
				if n.Status.Terminal() && n.Status != surface.Success {
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
	w, root, done, err := watchRun(ctx, env, "odu monitor")
	if err != nil {
		if ctx.Err() != nil {
			return &ExitError{Code: 130} // Ctrl-C while waiting for a run
		}
		return err
	}
	defer done()
	var p printer = jsonPrinter{w: env.Stdout, root: root}
	if c.Output == "auto" && isTerminal(env) {
		p = plainPrinter{env.Stdout}
	}
	_, err = follow(ctx, w, p, nil)
	if err != nil && ctx.Err() == nil {
		return failed(ctx, fmt.Errorf("follow the run: %w", err))
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
