package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/odu-ci/odu/internal/face"
	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/surface"
)

// RerunCmd reruns nodes: in the live run, or, with none live, in a new
// run of the last run's commit (rerun_after.go).
type RerunCmd struct {
	Nodes  []string `arg:"" optional:"" name:"node" predictor:"node" help:"The nodes: RECIPE, RECIPE@PLATFORM, MODULE::RECIPE."`
	Failed bool     `help:"Every node of the last run that did not succeed (with no run live)."`
	// A run after the run is a run: these are odu run's.
	Progress string `enum:"auto,plain,json" default:"auto" placeholder:"auto|plain|json" help:"With no run live: how the new run shows progress, as odu run --progress."`
	NoPost   bool   `help:"With no run live: post no commit statuses for the new run."`

	from *runstate.Last // the run to rerun after (r in monitor --run), else the last one
}

// Help is the long description of `odu rerun`.
func (*RerunCmd) Help() string {
	return `Run a node of the live run again, and every node that depends on it on its platform:
they go back to pending (a running one is stopped first) and their logs start over.
Reruns and cancels are taken one at a time; a rerun that another rerun overtook says so
and does not restart the node again. A node skipped because a dependency did not
succeed is not rerun (exit 1): rerun that dependency, which reruns the node after it.

With no run live, it starts a new run of the last run's commit (strict, as odu run:
a clean tree, a snapshot of the commit in a worktree) that runs the nodes named, or
with --failed every node that did not succeed, and everything downstream of them; every
other node's result is carried over from the last run (shown as carried, and its
GitHub status left as it is). It exits as odu run does.`
}

// Run asks the live run for the reruns, or starts a run after the run.
func (c *RerunCmd) Run(ctx context.Context, env *Env, last *lastWords) error {
	if len(c.Nodes) == 0 && !c.Failed {
		return rerunUsage("name the nodes to rerun, or --failed for every node of the last run that did not succeed")
	}
	if len(c.Nodes) > 0 && c.Failed {
		return rerunUsage("name nodes or give --failed, not both")
	}
	cl, root, err := attach(ctx, env, "odu rerun", false)
	if errors.Is(err, runstate.ErrNoRun) {
		return c.afterRun(ctx, env, root, last)
	}
	if err != nil {
		return err
	}
	if c.Failed {
		cl.Close()
		return rerunUsage("--failed starts a new run once the live one is over: rerun the live run's nodes by name")
	}
	st, err := current(ctx, cl)
	cl.Close()
	if err != nil {
		return failed(ctx, err)
	}
	for _, arg := range c.Nodes {
		if _, err := pick(st, arg); err != nil {
			return err
		}
	}
	for _, arg := range c.Nodes {
		if err := rerunLive(ctx, env, arg); err != nil {
			return err
		}
	}
	return nil
}

// rerunLive asks the live run to rerun one node.
func rerunLive(ctx context.Context, env *Env, arg string) error {
	cl, n, err := attachNode(ctx, env, "odu rerun", arg)
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

// procedureError words a procedure's failure (internal/face).
var procedureError = face.ProcedureError

// CancelCmd stops a node, or the whole run.
type CancelCmd struct {
	Node string `arg:"" optional:"" predictor:"node" help:"The node to stop; without one, the whole run."`
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
