package mcp

import (
	"context"
	"fmt"
	"strings"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/odu-ci/odu/internal/face"
	"github.com/odu-ci/odu/surface"
)

// NodeView is one node as the tools show it: compact.
type NodeView struct {
	ID         string `json:"id"`
	Status     string `json:"status" jsonschema:"pending, running, success, failure, error, skipped or cancelled"`
	Attempt    int    `json:"attempt" jsonschema:"1, and one more for each rerun"`
	DurationMS int64  `json:"duration_ms,omitempty" jsonschema:"how long it ran (so far, while it runs)"`
	ExitCode   *int   `json:"exit_code,omitempty"`
	Reason     string `json:"reason,omitempty" jsonschema:"why error, skipped or cancelled"`
	Log        string `json:"log,omitempty" jsonschema:"its log file, relative to the repository"`
	Carried    string `json:"carried,omitempty" jsonschema:"set on a node a rerun after the run did not run: the ref of the run its result (and log) comes from"`
}

// LaneView is one platform's lane.
type LaneView struct {
	Platform string `json:"platform"`
	Host     string `json:"host"`
	Phase    string `json:"phase"`
	Error    string `json:"error,omitempty"`
}

// StatusOut is the status tool's answer.
type StatusOut struct {
	Run     RunID  `json:"run"`
	Verdict string `json:"verdict" jsonschema:"running, passed, failed, cancelled, or unfinished (odu run was killed)"`
	// Superseded says what replaced a cancelled run.
	Superseded string     `json:"superseded,omitempty" jsonschema:"set on a run that odu run --supersede cancelled: what replaced it"`
	Counts     string     `json:"counts" jsonschema:"how many nodes are in each status"`
	Nodes      []NodeView `json:"nodes"`
	Lanes      []LaneView `json:"lanes"`
}

// StatusIn names the run, the live one or the last by default.
type StatusIn struct {
	Run string `json:"run,omitempty" jsonschema:"the run: latest (the default: the live run, or else the last recorded one), a ref <sha7>#<n> as run and runs give it, or at least 4 hex digits of a commit (its newest run)"`
}

func (s *server) status(ctx context.Context, _ *sdk.CallToolRequest, in StatusIn) (*sdk.CallToolResult, StatusOut, error) {
	f, err := s.findRef(ctx, in.Run, false)
	if err != nil {
		return nil, StatusOut{}, userError(err)
	}
	defer f.close()
	out := statusOf(f)
	return text(statusText(out, f.st)), out, nil
}

func statusOf(f *found) StatusOut {
	out := StatusOut{Run: f.id(), Verdict: verdict(f.st, f.live()), Superseded: f.st.Run.Superseded, Counts: counts(f.st), Nodes: []NodeView{}, Lanes: []LaneView{}}
	for _, n := range f.st.Nodes {
		out.Nodes = append(out.Nodes, nodeView(n))
	}
	for _, l := range f.st.Lanes {
		out.Lanes = append(out.Lanes, LaneView{Platform: l.Platform, Host: l.Host, Phase: string(l.Phase), Error: l.Error})
	}
	return out
}

func nodeView(n surface.Node) NodeView {
	v := NodeView{ID: n.ID, Status: string(n.Status), Attempt: n.Attempt, DurationMS: n.DurationMS, ExitCode: n.ExitCode, Log: n.Log, Carried: n.Carried}
	if n.Reason != string(n.Status) {
		v.Reason = n.Reason
	}
	if n.Status == surface.Running && n.Started != nil {
		v.DurationMS = time.Since(*n.Started).Milliseconds()
	}
	return v
}

// verdict says how a run went, or that it goes on.
func verdict(st surface.State, live bool) string {
	switch {
	case st.Run.Ended == nil && live:
		return "running"
	case st.Run.Ended == nil:
		return "unfinished"
	case st.Run.Cancelled:
		return "cancelled"
	case face.Green(st):
		return "passed"
	}
	return "failed"
}

var counts = face.Counts

func statusText(out StatusOut, st surface.State) string {
	var b strings.Builder
	live := "live"
	if !out.Run.Live {
		live = "not live (the last run recorded)"
	}
	fmt.Fprintf(&b, "%s, %s: %s (%s)\n", out.Run, live, out.Verdict, out.Counts)
	if out.Superseded != "" {
		fmt.Fprintf(&b, "superseded by %s\n", out.Superseded)
	}
	for _, l := range out.Lanes {
		if l.Error != "" {
			fmt.Fprintf(&b, "lane %s on %s: %s (%s)\n", l.Platform, l.Host, l.Phase, l.Error)
		}
	}
	for _, n := range st.Nodes {
		fmt.Fprintf(&b, "%-9s %s%s\n", n.Status, n.ID, face.Detail(n))
	}
	return b.String()
}

// text is a tool result whose content is s.
func text(s string) *sdk.CallToolResult {
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: s}}}
}
