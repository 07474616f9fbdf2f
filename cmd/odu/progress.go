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
	Run  string    `json:"run,omitempty"` // the run's ref, <sha7>#<n>
	ID   string    `json:"id"`            // the node's id, named as in status -o json and dump
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
	// Carried names the record of the run a node's result was carried
	// over from; ExpectedMS and Slow are as in status -o json.
	Carried    string `json:"carried,omitempty"`
	ExpectedMS int64  `json:"expected_ms,omitempty"`
	Slow       bool   `json:"slow,omitempty"`
}

func transitionOf(n surface.Node) transition {
	t := transition{Time: time.Now().UTC(), ID: n.ID, Node: n.ID, Recipe: n.Recipe, Platform: n.Platform,
		Status: n.Status, Attempt: n.Attempt, ExitCode: n.ExitCode, Reason: n.Reason, Log: n.Log, GitHub: n.Post,
		Carried: n.Carried, ExpectedMS: n.ExpectedMS, Slow: n.Slow}
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
	run  *string // the run's ref, once start has seen it
}

// newJSONPrinter returns a jsonPrinter of logs under root.
func newJSONPrinter(w io.Writer, root string) jsonPrinter {
	return jsonPrinter{w: w, root: root, run: new(string)}
}

// transition is n's transition line, with the run's ref.
func (p jsonPrinter) transition(n surface.Node) transition {
	t := transitionOf(p.abs(n))
	if p.run != nil {
		t.Run = *p.run
	}
	return t
}

// abs gives a node its log's absolute path.
func (p jsonPrinter) abs(n surface.Node) surface.Node {
	if n.Log != "" && p.root != "" && !filepath.IsAbs(n.Log) {
		n.Log = filepath.Join(p.root, n.Log)
	}
	return n
}

func (p jsonPrinter) start(st surface.State) {
	if p.run != nil {
		*p.run = st.Run.Ref
	}
	for _, n := range st.Nodes {
		p.change(n)
	}
}

func (p jsonPrinter) change(n surface.Node) {
	data, _ := json.Marshal(p.transition(n))
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
	t := p.transition(n)
	t.Event = "github"
	data, _ := json.Marshal(t)
	fmt.Fprintf(p.w, "%s\n", data)
}

func (jsonPrinter) tick(surface.State) {}
func (jsonPrinter) end(surface.State)  {}

// plainPrinter writes one line per transition, for a pipe or a log file,
// and, while nodes run, a line every `every` with the counts and the
// run's ETA, so that a log of a long run says how far it is.
type plainPrinter struct {
	w     io.Writer
	every time.Duration
	last  time.Time // of the last line
}

// plainEvery is how often the plain progress says how far the run is,
// when no transition did: often enough for a CI log read as it grows,
// rarely enough not to bury the transitions.
const plainEvery = 30 * time.Second

func (p *plainPrinter) start(st surface.State) {
	p.last = time.Now()
	fmt.Fprintf(p.w, "%s %s\n", stamp(time.Now()), runLine(st))
	for _, n := range st.Nodes {
		if n.Status != surface.Pending {
			p.change(n)
		}
	}
}

func (p *plainPrinter) change(n surface.Node) {
	p.last = time.Now()
	fmt.Fprintf(p.w, "%s %s %s%s\n", stamp(p.last), n.ID, n.Status, detail(n))
}

// tick writes the periodic line: "12:00:30 3 success, 1 running; ETA ~40s".
func (p *plainPrinter) tick(st surface.State) {
	every := p.every
	if every <= 0 {
		every = plainEvery
	}
	now := time.Now()
	if now.Sub(p.last) < every || st.Run.Ended != nil {
		return
	}
	p.last = now
	line := counts(st)
	if eta := look.ETA(st, now); eta != "" {
		line += "; " + eta
	}
	fmt.Fprintf(p.w, "%s %s\n", stamp(now), line)
}

func (*plainPrinter) end(surface.State) {}

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
	if st.Run.Ref != "" {
		what += ", run " + st.Run.Ref
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
	top := runLine(st) + "  " + counts(st)
	if eta := look.ETA(st, time.Now()); eta != "" {
		top += "; " + eta
	}
	rows := []string{top}
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
		rows = append(rows, fmt.Sprintf("%s %-9s %-6s %s%s%s", pal.Mark(n.Status),
			n.Status, look.Expected(n, time.Now()), n.ID, reasonOf(n), look.Notes(n)))
	}
	for _, r := range rows {
		b.WriteString(r + "\x1b[K\n")
	}
	p.lines = len(rows)
	_, _ = io.WriteString(p.w, b.String()) // a closed terminal loses only the view
}

func reasonOf(n surface.Node) string {
	switch {
	case n.ExitCode != nil && *n.ExitCode != 0:
		return fmt.Sprintf("  exit %d", *n.ExitCode)
	case n.Reason != "" && n.Reason != string(n.Status):
		return "  " + n.Reason
	}
	return ""
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
	if st.Run.Ref != "" {
		return "run " + st.Run.Ref
	}
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
	case st.Run.Superseded != "":
		return "was superseded by " + st.Run.Superseded
	case st.Run.Cancelled:
		return "was cancelled"
	case !green(st):
		return "failed"
	}
	return "passed"
}
