package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/odu-ci/odu/dag"
	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/platform"
	"github.com/odu-ci/odu/repo"
	"github.com/odu-ci/odu/surface"
)

// rerunUsage is an odu rerun command line that cannot be done as typed:
// exit 2.
func rerunUsage(msg string) error {
	return &usageError{msg: msg, hint: "See `odu rerun --help`."}
}

// rerunPlan is a run after the run: a new run of an earlier run's
// commit, of that run's nodes, that runs some and carries the others'
// results over.
type rerunPlan struct {
	sha, branch string
	pipeline    *dag.Pipeline           // the earlier run's nodes
	carry       map[string]surface.Node // by id: the nodes not run, as they ended
	from        string                  // the earlier run: its ref (its record's path when it has none)
}

// afterRun starts a new run of the last run's commit that reruns the
// nodes asked for and what depends on them (see [RerunCmd.Help]).
func (c *RerunCmd) afterRun(ctx context.Context, env *Env, root string, last *lastWords) error {
	var rec runstate.Last
	var err error
	if c.from != nil {
		rec = *c.from
	} else {
		rec, err = lastRecord(env, root)
	}
	if errors.Is(err, runstate.ErrNoRecord) {
		return &ExitError{Code: 1, Err: &hinted{msg: "no run is live in this checkout, and none has been recorded to rerun", hint: "Start one with `odu run`."}}
	}
	if err != nil {
		return err
	}
	plan, err := planRerun(rec.State, rec.Rel, c.Nodes, c.Failed)
	if err != nil {
		return err
	}
	run := &RunCmd{Progress: c.Progress, NoPost: c.NoPost, rerun: plan}
	run.Root = rec.State.Run.Root
	run.Platform = slices.Clone(rec.State.Run.Platforms)
	run.ClientTimeout = defaultClientTimeout
	var ids []string
	for _, n := range plan.pipeline.Nodes {
		if _, ok := plan.carry[n.ID]; !ok {
			ids = append(ids, n.ID)
		}
	}
	fmt.Fprintf(env.Stderr, "odu: no run is live: a new run of %s reruns %s, and carries %s over from %s\n",
		repo.Short(plan.sha), strings.Join(ids, ", "), plural(len(plan.carry), "node"), plan.from)
	// The new run's workspace is fresh: results are carried, not the
	// files the carried nodes made there.
	for _, n := range plan.pipeline.Nodes {
		if _, carried := plan.carry[n.ID]; carried {
			continue
		}
		var from []string
		for _, d := range n.Deps {
			if _, carried := plan.carry[d]; carried {
				from = append(from, d)
			}
		}
		if len(from) > 0 {
			fmt.Fprintf(env.Stderr, "odu: %s runs in a fresh workspace, without the files of %s (carried over: their results, not their outputs); if it needs them, rerun %s too\n",
				n.ID, strings.Join(from, ", "), strings.Join(from, " "))
		}
	}
	return run.Run(ctx, env, last)
}

// defaultClientTimeout is odu run's --client-timeout default.
const defaultClientTimeout = 30 * time.Second

// planRerun decides what a run after the run st (recorded at rel) runs:
// the nodes args name (or, with failed, every node that did not
// succeed) and everything downstream of them; the others are carried.
// A node to run whose dependency is carried must have that dependency
// green, or it would be skipped: the rerun is refused, saying which to
// rerun instead.
func planRerun(st surface.State, rel string, args []string, failed bool) (*rerunPlan, error) {
	if st.Run.SHA == "" || len(st.Nodes) == 0 {
		return nil, &ExitError{Code: 1, Err: fmt.Errorf("the last run (%s) has no nodes to rerun", rel)}
	}
	run := map[string]bool{}
	if failed {
		for _, n := range st.Nodes {
			// A shard counts through its aggregate (a shard that found
			// no free slot is skipped and failed nothing).
			if n.Status != surface.Success && n.Shard == nil {
				run[n.ID] = true
			}
		}
		if len(run) == 0 {
			return nil, &ExitError{Code: 1, Err: &hinted{msg: "every node of the last run (" + rel + ") succeeded: nothing to rerun",
				hint: "Name nodes to run them again: odu rerun NODE."}}
		}
	}
	for _, arg := range args {
		n, err := pick(st, arg)
		if err != nil {
			return nil, err
		}
		run[n.ID] = true
	}
	// Downstream: a node runs when a node it depends on runs. The
	// record is in topological order, so one pass takes the closure.
	for _, n := range st.Nodes {
		for _, d := range n.Deps {
			if run[d] {
				run[n.ID] = true
			}
		}
	}
	for _, n := range st.Nodes {
		if !run[n.ID] || n.Shard == nil && len(n.Shards) == 0 {
			continue
		}
		of := n.ID
		if n.Shard != nil {
			of = n.Shard.Of
		}
		return nil, &ExitError{Code: 1, Err: &hinted{
			msg:  fmt.Sprintf("%s runs as shards, and a run after the run does not rerun a sharded recipe (its shards lease slots anew)", of),
			hint: "Start a new run of the commit: odu run."}}
	}
	plan := &rerunPlan{sha: st.Run.SHA, branch: st.Run.Branch, carry: map[string]surface.Node{}, from: cmp.Or(st.Run.Ref, rel),
		pipeline: &dag.Pipeline{Root: st.Run.Root}}
	for _, p := range st.Run.Platforms {
		plan.pipeline.Platforms = append(plan.pipeline.Platforms, platform.Platform(p))
	}
	for _, n := range st.Nodes {
		plan.pipeline.Nodes = append(plan.pipeline.Nodes, &dag.Node{ID: n.ID, Name: n.Name, Recipe: n.Recipe,
			Platform: platform.Platform(n.Platform), Command: slices.Clone(n.Command), Deps: slices.Clone(n.Deps)})
		if !run[n.ID] {
			plan.carry[n.ID] = n
			continue
		}
		for _, d := range n.Deps {
			if dep := st.Node(d); !run[d] && dep != nil && dep.Status != surface.Success {
				return nil, &ExitError{Code: 1, Err: &hinted{
					msg:  fmt.Sprintf("%s depends on %s, which did not succeed in the last run (%s): it would be skipped", n.ID, d, dep.Status),
					hint: "Rerun " + d + " too (odu rerun " + d + "), or every node that did not succeed (odu rerun --failed)."}}
			}
		}
	}
	return plan, nil
}

// carried returns the nodes the plan carries over; none without a plan.
func (p *rerunPlan) carried() map[string]surface.Node {
	if p == nil {
		return nil
	}
	return p.carry
}

// record names the run the plan carries nodes over from.
func (p *rerunPlan) record() string {
	if p == nil {
		return ""
	}
	return p.from
}
