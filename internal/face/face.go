// Package face is what every face of a run (the commands of cmd/odu, the
// MCP server) does alike with a client of the run's surface: read the
// run's state, resolve a node argument against it with the selectors of
// `odu run`, tell two runs apart, and word a procedure's failure. Each
// face says what it finds in its own way; what it finds is the same.
//
// It reads the surface and nothing else: no lanes, no SSH, no files.
package face

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/odu-ci/odu/dag"
	"github.com/odu-ci/odu/internal/look"
	"github.com/odu-ci/odu/platform"
	"github.com/odu-ci/odu/surface"
)

// Current returns the state of a live run: the cell's first event.
func Current(ctx context.Context, cl *surface.Client) (surface.State, error) {
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

// Pick resolves a node argument against a run's nodes with the selectors
// of `odu run`: it must name exactly one node. An argument that names
// none is a [*dag.SelectorError] with the closest names.
func Pick(st surface.State, arg string) (surface.Node, error) {
	// A shard (e2e[2/4]@x86_64-linux, or e2e[2/4] on a run of one
	// platform) is named as it is: selectors pick its aggregate.
	if n := pickShard(st, arg); n != nil {
		return *n, nil
	}
	sel, err := dag.ParseSelector(arg)
	if err != nil {
		return surface.Node{}, err
	}
	pl := &dag.Pipeline{Root: st.Run.Root}
	for _, p := range st.Run.Platforms {
		pl.Platforms = append(pl.Platforms, platform.Platform(p))
	}
	for _, n := range st.Nodes {
		if n.Shard != nil {
			continue
		}
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

// pickShard returns the shard arg names by its id, or by its name when
// one shard of the run has it.
func pickShard(st surface.State, arg string) *surface.Node {
	var found *surface.Node
	for i, n := range st.Nodes {
		if n.Shard == nil {
			continue
		}
		if n.ID == arg {
			return &st.Nodes[i]
		}
		if n.Name == arg {
			if found != nil {
				return nil // one per platform: the selector's error says which
			}
			found = &st.Nodes[i]
		}
	}
	return found
}

// PickLog resolves the argument of a face that reads a log: a node, or a
// lane's setup log, .setup@PLATFORM (or .setup when there is one lane).
// It returns the id the surface serves it under, and its file relative
// to the repository root.
func PickLog(st surface.State, arg string) (id, path string, err error) {
	plat, ok := surface.ParseSetupID(arg)
	if !ok {
		n, err := Pick(st, arg)
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

// SameRun reports whether two states are of one run.
func SameRun(a, b surface.Run) bool {
	return a.SHA == b.SHA && a.PID == b.PID && a.Started.Equal(b.Started)
}

// ProcedureError is a procedure's failure as the user reads it: a
// refusal is the run's own sentence (it names the node), anything else
// says which procedure on which node failed.
func ProcedureError(verb, id string, err error) error {
	var e *surface.Error
	if errors.As(err, &e) && e.Code == surface.CodeRefused {
		return err
	}
	return fmt.Errorf("%s %s: %w", verb, id, err)
}

// Green reports whether every node of a run succeeded.
func Green(st surface.State) bool {
	for _, n := range st.Nodes {
		// A shard counts through its aggregate, which succeeded only if
		// every shard that started did: a shard that found no free slot
		// never started, and fails nothing.
		if n.Status != surface.Success && n.Shard == nil {
			return false
		}
	}
	return len(st.Nodes) > 0
}

// Counts summarises a run's statuses: "3 success, 1 running, 2 pending".
func Counts(st surface.State) string {
	var parts []string
	for _, c := range look.Counts(st.Nodes) {
		parts = append(parts, fmt.Sprintf("%d %s", c.N, c.Status))
	}
	return strings.Join(parts, ", ")
}

// Detail says how a finished node ended, after its status: " (exit 3,
// 1.2s, attempt 2)", or "" when there is nothing to say.
func Detail(n surface.Node) string {
	var parts []string
	if n.ExitCode != nil && *n.ExitCode != 0 {
		parts = append(parts, fmt.Sprintf("exit %d", *n.ExitCode))
	}
	if n.Status.Terminal() && n.Started != nil {
		parts = append(parts, look.Duration(time.Duration(n.DurationMS)*time.Millisecond))
	}
	if n.Reason != "" && n.Reason != string(n.Status) {
		parts = append(parts, n.Reason)
	}
	if n.Attempt > 1 {
		parts = append(parts, fmt.Sprintf("attempt %d", n.Attempt))
	}
	if n.Carried != "" {
		parts = append(parts, "carried over from "+n.Carried)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
