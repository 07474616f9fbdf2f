package mcp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/odu-ci/odu/internal/face"
	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/surface"
)

// Bounds of a wait: an agent's tool call should come back within minutes
// even when the run takes hours; it calls wait again.
const (
	defaultWait = 10 * time.Minute
	maxWait     = time.Hour
)

// WaitIn asks to wait for the run.
type WaitIn struct {
	Run            string `json:"run,omitempty" jsonschema:"the run: latest (the default: the live run, or else the last recorded one), a ref <sha7>#<n> as run and runs give it, or at least 4 hex digits of a commit (its newest run); a run that is over answers at once"`
	TimeoutSeconds int    `json:"timeout_seconds,omitempty" jsonschema:"how long to wait at most, in seconds (default 600, at most 3600); then the answer is still_running"`
	FailFast       bool   `json:"fail_fast,omitempty" jsonschema:"return as soon as any node did not succeed, while the rest goes on"`
	TailLines      int    `json:"tail_lines,omitempty" jsonschema:"how many of the last lines of each failed node's log to return (default 30, at most 500)"`
}

// Outcomes of a wait.
const (
	Settled      = "settled"       // the run is over: verdict says how it went
	StillRunning = "still_running" // the deadline came first; the run goes on
	FailedEarly  = "failed_early"  // fail_fast: a node did not succeed; the run goes on
)

// FailedNode is a node that did not succeed, with the end of its log.
type FailedNode struct {
	NodeView
	Tail string `json:"tail,omitempty" jsonschema:"the last lines of its log, ANSI stripped"`
}

// WaitOut is the wait tool's answer.
type WaitOut struct {
	Outcome string `json:"outcome" jsonschema:"settled (the run is over), still_running (the deadline came first: the run goes on; this is not a failure), or failed_early (fail_fast: a node did not succeed while the run goes on)"`
	Verdict string `json:"verdict" jsonschema:"passed, failed, cancelled, unfinished (odu run was killed), or running"`
	// Superseded says what replaced a cancelled run.
	Superseded string       `json:"superseded,omitempty" jsonschema:"set on a run that odu run --supersede cancelled: what replaced it"`
	Run        RunID        `json:"run"`
	Counts     string       `json:"counts"`
	Failed     []FailedNode `json:"failed" jsonschema:"the nodes that did not succeed (failure, error, skipped, cancelled)"`
	Running    []string     `json:"running" jsonschema:"the nodes still running or pending"`
}

func (s *server) wait(ctx context.Context, req *sdk.CallToolRequest, in WaitIn) (*sdk.CallToolResult, WaitOut, error) {
	if in.TimeoutSeconds < 0 || in.TailLines < 0 {
		return nil, WaitOut{}, errors.New("timeout_seconds and tail_lines cannot be negative")
	}
	timeout := defaultWait
	if in.TimeoutSeconds > 0 {
		timeout = min(time.Duration(in.TimeoutSeconds)*time.Second, maxWait)
	}
	tail := 30
	if in.TailLines > 0 {
		tail = min(in.TailLines, 500)
	}
	f, err := s.findRef(ctx, in.Run, true)
	if err != nil {
		return nil, WaitOut{}, userError(err)
	}
	defer f.close()
	outcome := Settled
	if f.live() {
		if outcome, err = s.follow(ctx, req, f, timeout, in.FailFast); err != nil {
			return nil, WaitOut{}, userError(err)
		}
	}
	out := WaitOut{Outcome: outcome, Verdict: verdict(f.st, f.live()), Superseded: f.st.Run.Superseded, Run: f.id(), Counts: counts(f.st),
		Failed: []FailedNode{}, Running: []string{}}
	for _, n := range f.st.Nodes {
		switch {
		case !n.Status.Terminal():
			out.Running = append(out.Running, n.ID)
		case n.Status != surface.Success:
			fn := FailedNode{NodeView: nodeView(n)}
			if n.Status != surface.Skipped && n.Log != "" {
				if data, _, err := f.tail(ctx, n.ID, n.Log, tail); err == nil {
					fn.Tail = logText(data, false)
				}
			}
			out.Failed = append(out.Failed, fn)
		}
	}
	return text(waitText(out, f.st)), out, nil
}

// follow follows the live run's cell until it is over, the deadline, or
// (failFast) a node that did not succeed; f.st is the state it reached.
// When the connection is lost (the run ended as it was followed, or it
// was killed), the run's record answers. A client that asked for
// progress gets a notification for each node that finishes.
func (s *server) follow(ctx context.Context, req *sdk.CallToolRequest, f *found, timeout time.Duration, failFast bool) (string, error) {
	w, err := f.cl.Watch()
	if err != nil {
		// Lost as it was attached: the run ended meanwhile, or was killed.
		if !f.ended() {
			return "", fmt.Errorf("follow the run: %w", err)
		}
		return Settled, nil
	}
	defer w.Close()
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	token := req.Params.GetProgressToken()
	finished := map[string]int{} // node -> attempt seen finished
	progress := 0
	for {
		ev, err := w.Next(wctx)
		if err == nil {
			f.st = w.State()
			for n := range ev.Transitions() {
				if !n.Status.Terminal() || finished[n.ID] == n.Attempt {
					continue
				}
				finished[n.ID] = n.Attempt
				progress++
				if token != nil {
					_ = req.Session.NotifyProgress(ctx, &sdk.ProgressNotificationParams{ProgressToken: token,
						Progress: float64(progress), Total: float64(len(f.st.Nodes)),
						Message: fmt.Sprintf("%s %s (%s)", n.ID, n.Status, counts(f.st))})
				}
			}
			if failFast && anyFailed(f.st) {
				return FailedEarly, nil
			}
			continue
		}
		switch {
		case errors.Is(err, io.EOF):
			f.ended()
			return Settled, nil
		case wctx.Err() != nil && ctx.Err() == nil:
			return StillRunning, nil
		case ctx.Err() != nil:
			return "", ctx.Err()
		}
		// Lost: the record of this run, if it wrote its end, has the verdict.
		if !f.ended() {
			return "", fmt.Errorf("follow the run: %w", err)
		}
		return Settled, nil
	}
}

// ended leaves the run f followed, which is over: its record, once it
// has the run's end, answers from now on (the logs are whole in their
// files). It reports whether the record had it.
func (f *found) ended() bool {
	f.cl.Close()
	f.cl = nil
	last, err := runstate.ReadLast(f.root)
	if err != nil || !face.SameRun(last.State.Run, f.st.Run) || last.State.Run.Ended == nil {
		return false
	}
	f.st, f.last = last.State, last
	return true
}

func anyFailed(st surface.State) bool {
	for _, n := range st.Nodes {
		// A shard counts through its aggregate (as odu wait --fail-fast).
		if n.Status.Terminal() && n.Status != surface.Success && n.Shard == nil {
			return true
		}
	}
	return false
}

func waitText(out WaitOut, st surface.State) string {
	var b strings.Builder
	switch out.Outcome {
	case StillRunning:
		fmt.Fprintf(&b, "STILL RUNNING at the deadline (not a failure): %s goes on (%s). Call wait again to go on waiting.\n", out.Run, out.Counts)
	case FailedEarly:
		fmt.Fprintf(&b, "A node did not succeed; %s goes on (%s).\n", out.Run, out.Counts)
	default:
		fmt.Fprintf(&b, "%s is over: %s (%s).\n", capital(out.Run.String()), strings.ToUpper(out.Verdict), out.Counts)
		if out.Superseded != "" {
			fmt.Fprintf(&b, "It was superseded by %s.\n", out.Superseded)
		}
	}
	if len(out.Running) > 0 {
		fmt.Fprintf(&b, "still running or pending: %s\n", strings.Join(out.Running, ", "))
	}
	for _, n := range out.Failed {
		fmt.Fprintf(&b, "\n%s %s%s\n", n.ID, n.Status, face.Detail(*st.Node(n.ID)))
		if n.Tail != "" {
			fmt.Fprintf(&b, "--- last lines of its log (%s) ---\n%s", n.Log, n.Tail)
			if !strings.HasSuffix(n.Tail, "\n") {
				b.WriteString("\n")
			}
		}
	}
	return b.String()
}

// capital starts s with a capital letter: a sentence starts with it.
func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
