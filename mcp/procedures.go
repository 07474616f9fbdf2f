package mcp

import (
	"context"
	"errors"
	"fmt"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/odu-ci/odu/internal/face"
	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/surface"
)

// RerunIn names the node to rerun.
type RerunIn struct {
	Node string `json:"node" jsonschema:"the node: RECIPE, RECIPE@PLATFORM or MODULE::RECIPE"`
}

// RerunOut says what was reset.
type RerunOut struct {
	Reset   []string `json:"reset" jsonschema:"the nodes that went back to pending (with no run live: the nodes the new run runs): the node and what depends on it on its platform"`
	Joined  bool     `json:"joined,omitempty" jsonschema:"another request reran the node while this one waited: not restarted again"`
	Attempt int      `json:"attempt,omitempty"`
	Run     RunID    `json:"run"`
	// With no run live: the run after the run.
	After  string `json:"after,omitempty" jsonschema:"with no run live: the ref of the run this new run reruns after (the last one), whose other nodes it carries over"`
	Output string `json:"output,omitempty" jsonschema:"with no run live: the file the new run writes its output to, relative to the repository"`
}

func (s *server) rerun(ctx context.Context, _ *sdk.CallToolRequest, in RerunIn) (*sdk.CallToolResult, RerunOut, error) {
	f, err := s.findLive(ctx)
	if errors.Is(err, runstate.ErrNoRun) {
		return s.rerunAfter(ctx, in)
	}
	if err != nil {
		return nil, RerunOut{}, userError(err)
	}
	defer f.close()
	n, err := face.Pick(f.st, in.Node)
	if err != nil {
		return nil, RerunOut{}, userError(err)
	}
	res, err := f.cl.RerunNode(ctx, n.ID)
	if err != nil {
		return nil, RerunOut{}, userError(face.ProcedureError("rerun", n.ID, err))
	}
	out := RerunOut{Reset: res.Reset, Joined: res.Joined, Attempt: res.Attempt, Run: f.id()}
	if out.Reset == nil {
		out.Reset = []string{}
	}
	if res.Joined {
		return text(fmt.Sprintf("%s was rerun by another request while this one waited (attempt %d, %s): not restarted again", n.ID, res.Attempt, res.Status)), out, nil
	}
	return text("rerunning " + strings.Join(res.Reset, ", ") + "; wait follows the run"), out, nil
}

// rerunAfter is rerun with no run live: odu rerun after the run, a new
// run of the last run's commit that runs the node and what depends on
// it, and carries the other nodes over from the last run.
func (s *server) rerunAfter(ctx context.Context, in RerunIn) (*sdk.CallToolResult, RerunOut, error) {
	root, err := s.root(ctx)
	if err != nil {
		return nil, RerunOut{}, userError(err)
	}
	last, err := runstate.ReadLast(root)
	if err != nil {
		return nil, RerunOut{}, userError(errNoRecord())
	}
	res, err := s.start(ctx, root, last.State.Run.SHA, startTimeout, "rerun", "--progress=plain", "--", in.Node)
	if err != nil {
		return nil, RerunOut{}, err
	}
	after := identify(last.State.Run, last.Rel, false).Ref
	out := RerunOut{Reset: []string{}, Run: res.Run, After: after, Output: res.Output}
	if f, err := s.findRef(ctx, res.Run.Ref, false); err == nil {
		for _, n := range f.st.Nodes {
			if n.Carried == "" {
				out.Reset = append(out.Reset, n.ID)
			}
		}
		f.close()
	}
	return text(fmt.Sprintf("no run was live: started %s after %s, rerunning %s and carrying the other nodes over (odu rerun, pid %d; its output: %s). It goes on by itself: call wait to follow it.",
		res.Run, after, strings.Join(out.Reset, ", "), res.Run.PID, res.Output)), out, nil
}

// CancelIn names the node to stop, or none for the whole run.
type CancelIn struct {
	Node string `json:"node,omitempty" jsonschema:"the node to stop (RECIPE, RECIPE@PLATFORM or MODULE::RECIPE); without one, the whole run"`
}

// CancelOut says what was stopped.
type CancelOut struct {
	Cancelled string `json:"cancelled" jsonschema:"the node's id, or run"`
	Was       string `json:"was,omitempty" jsonschema:"the node's status when it was stopped: running or pending"`
	Joined    bool   `json:"joined,omitempty" jsonschema:"another request cancelled it while this one waited"`
	Run       RunID  `json:"run"`
}

func (s *server) cancel(ctx context.Context, _ *sdk.CallToolRequest, in CancelIn) (*sdk.CallToolResult, CancelOut, error) {
	f, err := s.findLive(ctx)
	if err != nil {
		return nil, CancelOut{}, userError(err)
	}
	defer f.close()
	if in.Node == "" {
		if err := f.cl.CancelRun(ctx); err != nil {
			return nil, CancelOut{}, userError(fmt.Errorf("cancel the run: %w", err))
		}
		return text("cancelled " + f.id().String()), CancelOut{Cancelled: "run", Run: f.id()}, nil
	}
	n, err := face.Pick(f.st, in.Node)
	if err != nil {
		return nil, CancelOut{}, userError(err)
	}
	res, err := f.cl.CancelNodeResult(ctx, n.ID)
	if err != nil {
		return nil, CancelOut{}, userError(face.ProcedureError("cancel", n.ID, err))
	}
	out := CancelOut{Cancelled: n.ID, Was: string(res.Was), Joined: res.Joined, Run: f.id()}
	switch {
	case res.Joined:
		return text(n.ID + " was cancelled by another request while this one waited"), out, nil
	case res.Was == surface.Pending:
		return text("cancelled " + n.ID + " (it had not started)"), out, nil
	}
	return text("cancelled " + n.ID), out, nil
}
