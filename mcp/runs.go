package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/odu-ci/odu/lanes/runstate"
)

// Bounds of the runs tool's list: what `odu runs` shows by default, and
// at most what a model's context takes in comfortably (an entry is a few
// hundred bytes).
const (
	defaultRuns = 20
	maxRuns     = 500
)

// RunsIn asks for the history of runs.
type RunsIn struct {
	Limit int `json:"limit,omitempty" jsonschema:"the newest this many runs (default 20, at most 500)"`
}

// RunsOut is the history, newest first: the entries of `odu runs -o json`.
type RunsOut struct {
	Runs []runstate.RunEntry `json:"runs" jsonschema:"the recorded runs, newest first, as odu runs -o json lists them: ref (what the run argument of status, wait and logs takes), verdict (passed, failed, cancelled, live, or unfinished: killed before it ended), counts of nodes by status, not_ok (the nodes that did not succeed)"`
	More int                 `json:"more" jsonschema:"how many older runs are not listed: ask with a greater limit"`
}

func (s *server) runs(ctx context.Context, _ *sdk.CallToolRequest, in RunsIn) (*sdk.CallToolResult, RunsOut, error) {
	if in.Limit < 0 {
		return nil, RunsOut{}, errors.New("limit cannot be negative")
	}
	limit := defaultRuns
	if in.Limit > 0 {
		limit = min(in.Limit, maxRuns)
	}
	root, err := s.root(ctx)
	if err != nil {
		return nil, RunsOut{}, userError(err)
	}
	runs, err := runstate.ListRuns(root)
	if err != nil {
		return nil, RunsOut{}, userError(err)
	}
	out := RunsOut{Runs: runs}
	if len(runs) > limit {
		out.More, out.Runs = len(runs)-limit, runs[:limit]
	}
	if out.Runs == nil {
		out.Runs = []runstate.RunEntry{}
	}
	// The text is what odu runs -o json prints, and a line on what is left out.
	data, err := json.MarshalIndent(out.Runs, "", "  ")
	if err != nil {
		return nil, RunsOut{}, err
	}
	txt := string(data) + "\n"
	if out.More > 0 {
		txt += fmt.Sprintf("(%d older runs not listed: ask with a greater limit)\n", out.More)
	}
	return text(txt), out, nil
}
