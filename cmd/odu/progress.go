package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/odu-ci/odu/internal/look"
	"github.com/odu-ci/odu/repo"
	"github.com/odu-ci/odu/surface"
)

// transition is one line of `odu run --progress json` and `odu monitor
// -o json`: a node's new status.
type transition struct {
	Time time.Time `json:"time"`
	ID   string    `json:"id"` // the node's id, named as in status -o json and dump
	// Node is ID under its first name, kept for scripts written against
	// it until the next release (README).
	Node       string         `json:"node"`
	Recipe     string         `json:"recipe"`
	Platform   string         `json:"platform"`
	Status     surface.Status `json:"status"`
	Attempt    int            `json:"attempt"`
	ExitCode   *int           `json:"exit_code,omitempty"`
	DurationMS *int64         `json:"duration_ms,omitempty"`
	Reason     string         `json:"reason,omitempty"`
	Log        string         `json:"log,omitempty"`
	// GitHub is the node's commit status, in a run that posts them; a
	// line with Event "github" says it changed (posted, or owed).
	GitHub *surface.PostState `json:"github,omitempty"`
	Event  string             `json:"event,omitempty"`
}

func transitionOf(n surface.Node) transition {
	t := transition{Time: time.Now().UTC(), ID: n.ID, Node: n.ID, Recipe: n.Recipe, Platform: n.Platform,
		Status: n.Status, Attempt: n.Attempt, ExitCode: n.ExitCode, Reason: n.Reason, Log: n.Log, GitHub: n.Post}
	if n.Status.Terminal() && n.Started != nil {
		d := n.DurationMS
		t.DurationMS = &d
	}
	return t
}

// printer shows a run as it moves.
type printer interface {
	// start shows the state when the face attached.
	start(st surface.State)
	// change shows a node whose status changed.
	change(n surface.Node)
	// tick is called a few times a second while the run is live.
	tick(st surface.State)
	// end shows the state when the run is over.
	end(st surface.State)
}

// follow feeds a printer from a cell until the run ends, and returns the
// final state. It returns early, with the state so far, when stop says so.
func follow(ctx context.Context, w *surface.Watch, p printer, stop func(surface.State) bool) (surface.State, error) {
	// The watch is read in its own goroutine, so that the printer ticks
	// while nothing changes; each event comes with the state after it.
	type update struct {
		ev surface.Event
		st surface.State
	}
	updates := make(chan update)
	errs := make(chan error, 1)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			ev, err := w.Next(ctx)
			if err != nil {
				errs <- err
				return
			}
			select {
			case updates <- update{ev, w.State()}:
			case <-done:
				return
			case <-ctx.Done():
				errs <- ctx.Err()
				return
			}
		}
	}()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	status := map[string]surface.Status{}
	attempt := map[string]int{}
	post := map[string]surface.PostState{}
	pp, _ := p.(postPrinter)
	phases := map[string]surface.Phase{} // lane -> phase
	var st surface.State
	started := false
	for {
		select {
		case u := <-updates:
			st = u.st
			// Every transition is shown, never only the latest: a
			// later snapshot (this face fell behind) comes with the
			// transitions it missed, and brings what changed meanwhile.
			// The first snapshot is shown whole by start.
			for n := range u.ev.Transitions() {
				moved := status[n.ID] != n.Status || attempt[n.ID] != n.Attempt
				status[n.ID], attempt[n.ID] = n.Status, n.Attempt
				if moved && started {
					p.change(n)
				} else if u.ev.Delta != nil && pp != nil && n.Post != nil && postNews(post[n.ID], *n.Post) {
					pp.postChange(n)
				}
				if u.ev.Delta != nil && n.Post != nil {
					post[n.ID] = *n.Post
				}
			}
			if u.ev.Snapshot != nil && !started {
				started = true
				p.start(*u.ev.Snapshot)
			}
			for l := range u.ev.Lanes() {
				showLane(p, phases, l)
			}
			if stop != nil && stop(st) {
				return st, nil
			}
		case <-tick.C:
			if started {
				p.tick(st)
			}
		case err := <-errs:
			if errors.Is(err, io.EOF) {
				p.end(st)
				return st, nil
			}
			return st, err
		}
	}
}

// jsonPrinter writes one transition per line; the state a face attaches
// to counts as a transition of every node. Logs are given as absolute
// paths (under root, the repository's), which work wherever the reader is.
type jsonPrinter struct {
	w    io.Writer
	root string
}

// abs gives a node its log's absolute path.
func (p jsonPrinter) abs(n surface.Node) surface.Node {
	if n.Log != "" && p.root != "" && !filepath.IsAbs(n.Log) {
		n.Log = filepath.Join(p.root, n.Log)
	}
	return n
}

func (p jsonPrinter) start(st surface.State) {
	for _, n := range st.Nodes {
		p.change(n)
	}
}

func (p jsonPrinter) change(n surface.Node) {
	data, _ := json.Marshal(transitionOf(p.abs(n)))
	fmt.Fprintf(p.w, "%s\n", data)
}

// postPrinter is a printer that also shows a node's commit status
// changing while its status does not.
type postPrinter interface{ postChange(n surface.Node) }

// postNews reports whether a commit status change is worth a line: it
// reached GitHub, or failed to once more. (That a status is owed at all
// shows on the transition that made it so.)
func postNews(old, cur surface.PostState) bool {
	if cur.Posted {
		return !old.Posted || old.State != cur.State || old.Description != cur.Description
	}
	return cur.Error != "" && (cur.Error != old.Error || cur.Attempts != old.Attempts)
}

func (p jsonPrinter) postChange(n surface.Node) {
	t := transitionOf(p.abs(n))
	t.Event = "github"
	data, _ := json.Marshal(t)
	fmt.Fprintf(p.w, "%s\n", data)
}

func (jsonPrinter) tick(surface.State) {}
func (jsonPrinter) end(surface.State)  {}

// plainPrinter writes one line per transition, for a pipe or a log file.
type plainPrinter struct{ w io.Writer }

func (p plainPrinter) start(st surface.State) {
	fmt.Fprintf(p.w, "%s %s\n", stamp(time.Now()), runLine(st))
	for _, n := range st.Nodes {
		if n.Status != surface.Pending {
			p.change(n)
		}
	}
}

func (p plainPrinter) change(n surface.Node) {
	fmt.Fprintf(p.w, "%s %s %s%s\n", stamp(time.Now()), n.ID, n.Status, detail(n))
}

func (plainPrinter) tick(surface.State) {}
func (plainPrinter) end(surface.State)  {}

func stamp(t time.Time) string { return t.Format("15:04:05") }

// runLine describes a run in one line.
func runLine(st surface.State) string {
	what := "commit " + repo.Short(st.Run.SHA)
	if st.Run.Branch != "" {
		what += " (" + st.Run.Branch + ")"
	}
	switch {
	case st.Run.Dirty:
		what += ", working tree with uncommitted changes"
	case !st.Run.Snapshot:
		what += ", working tree"
	}
	return fmt.Sprintf("%s: %s on %s", what, plural(len(st.Nodes), "node"), strings.Join(st.Run.Platforms, ", "))
}

// plural says how many things there are: "1 node", "2 nodes".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	if strings.HasSuffix(thing, "s") {
		return fmt.Sprintf("%d %ses", n, thing)
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// detail says how a finished node ended, after its status.
func detail(n surface.Node) string {
	var parts []string
	if n.ExitCode != nil && *n.ExitCode != 0 {
		parts = append(parts, fmt.Sprintf("exit %d", *n.ExitCode))
	}
	if n.Status.Terminal() && n.Started != nil {
		parts = append(parts, duration(time.Duration(n.DurationMS)*time.Millisecond))
	}
	if n.Reason != "" && n.Reason != string(n.Status) {
		parts = append(parts, n.Reason)
	}
	if n.Attempt > 1 {
		parts = append(parts, fmt.Sprintf("attempt %d", n.Attempt))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// duration rounds a duration for people, as the dashboard does.
var duration = look.Duration

// ttyPrinter keeps a compact live view on a terminal: a line per node,
// redrawn in place, and elapsed time while nodes run. When the nodes do
// not fit the terminal, it shows the counts and the nodes that are
// running or did not succeed. (The full dashboard is `odu monitor`.)
type ttyPrinter struct {
	w      io.Writer
	colour bool
	height int // terminal rows
	lines  int // lines drawn last time
}

func (p *ttyPrinter) start(st surface.State) { p.draw(st) }
func (p *ttyPrinter) change(surface.Node)    {}
func (p *ttyPrinter) tick(st surface.State)  { p.draw(st) }

func (p *ttyPrinter) end(st surface.State) {
	p.draw(st)
	fmt.Fprint(p.w, "\x1b[?25h") // the cursor back
}

func (p *ttyPrinter) draw(st surface.State) {
	var b strings.Builder
	if p.lines > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.lines)
	}
	b.WriteString("\x1b[?25l\x1b[J") // hide the cursor, clear what was drawn
	rows := []string{runLine(st) + "  " + counts(st)}
	show := st.Nodes
	if len(show)+1 > p.height-1 {
		show = nil
		for _, n := range st.Nodes {
			if n.Status == surface.Running || (n.Status.Terminal() && n.Status != surface.Success) {
				show = append(show, n)
			}
		}
		if len(show) > p.height-2 {
			show = show[len(show)-(p.height-2):]
		}
	}
	pal := look.New(p.colour)
	for _, n := range show {
		rows = append(rows, fmt.Sprintf("%s %-9s %-6s %s%s", pal.Mark(n.Status),
			n.Status, clock(n), n.ID, reasonOf(n)))
	}
	for _, r := range rows {
		b.WriteString(r + "\x1b[K\n")
	}
	p.lines = len(rows)
	_, _ = io.WriteString(p.w, b.String()) // a closed terminal loses only the view
}

// clock is how long a node has run: live while it runs, its duration once
// it finished, nothing before it started.
func clock(n surface.Node) string { return look.Clock(n, time.Now()) }

func reasonOf(n surface.Node) string {
	switch {
	case n.ExitCode != nil && *n.ExitCode != 0:
		return fmt.Sprintf("  exit %d", *n.ExitCode)
	case n.Reason != "" && n.Reason != string(n.Status):
		return "  " + n.Reason
	}
	return ""
}

// counts summarises statuses: "3 success, 1 running, 2 pending".
func counts(st surface.State) string {
	var parts []string
	for _, c := range look.Counts(st.Nodes) {
		parts = append(parts, fmt.Sprintf("%d %s", c.N, c.Status))
	}
	return strings.Join(parts, ", ")
}

// green reports whether every node succeeded. A shard counts through
// its aggregate, which succeeded only if every shard that started did: a
// shard that found no free slot never started, and fails nothing.
func green(st surface.State) bool {
	for _, n := range st.Nodes {
		if n.Status != surface.Success && n.Shard == nil {
			return false
		}
	}
	return len(st.Nodes) > 0
}

// summary says how a run ended, and for every node that did not succeed,
// why and where its log is.
func summary(w io.Writer, st surface.State, record string) {
	elapsed := ""
	if st.Run.Ended != nil {
		elapsed = " in " + duration(st.Run.Ended.Sub(st.Run.Started))
	}
	fmt.Fprintf(w, "odu: %s %s%s: %s\n", runWhat(st), verdict(st), elapsed, counts(st))
	var bad []surface.Node
	for _, n := range st.Nodes {
		if n.Status != surface.Success {
			bad = append(bad, n)
		}
	}
	sort.SliceStable(bad, func(i, j int) bool { return rank(bad[i].Status) < rank(bad[j].Status) })
	width := 0
	for _, n := range bad {
		width = max(width, len(n.ID))
	}
	for _, n := range bad {
		fmt.Fprintf(w, "  %-9s %-*s  %s\n", n.Status, width, n.ID, strings.TrimSpace(why(n)))
	}
	if record != "" {
		fmt.Fprintf(w, "  record: %s\n", record)
	}
}

func runWhat(st surface.State) string {
	return "run of " + repo.Short(st.Run.SHA)
}

// why says what a node that did not succeed left: its exit code or
// reason, and its log when it has one worth reading.
func why(n surface.Node) string {
	var parts []string
	if n.ExitCode != nil && *n.ExitCode != 0 {
		parts = append(parts, fmt.Sprintf("exit %d", *n.ExitCode))
	}
	if n.Reason != "" {
		parts = append(parts, n.Reason)
	}
	s := strings.Join(parts, ", ")
	if n.Started != nil && n.Log != "" { // a node that never ran has nothing to read
		s += "  log: " + n.Log
	}
	return s
}

// rank orders the summary: what failed first, what never ran last.
func rank(s surface.Status) int {
	switch s {
	case surface.Failure:
		return 0
	case surface.Errored:
		return 1
	case surface.Cancelled:
		return 2
	case surface.Skipped:
		return 3
	}
	return 4
}

// verdict says how a run that is over went.
func verdict(st surface.State) string {
	switch {
	case st.Run.Cancelled:
		return "was cancelled"
	case !green(st):
		return "failed"
	}
	return "passed"
}
