package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/odu-ci/odu/ghstatus"
)

// ProtectCmd makes a branch's protection require exactly the nodes.
type ProtectCmd struct {
	JustfileFlags
	Platform []string `placeholder:"PLATFORM" predictor:"platform" help:"The pipeline of this platform (default: the configured ones)."`
	Branch   string   `placeholder:"BRANCH" help:"The branch to protect (default: the repository's default branch)."`
	DryRun   bool     `help:"Print the difference and change nothing."`
	Create   bool     `help:"When nothing requires status checks for the branch, create a repository ruleset that does."`
	Remote   string   `placeholder:"NAME" help:"The git remote whose GitHub repository to protect (default: origin)."`
}

// Help is the long description of `odu protect`.
func (*ProtectCmd) Help() string {
	return `Make a branch's protection on GitHub require exactly the commit statuses odu posts:
the node ids (RECIPE@PLATFORM) of the pipeline, as odu dump lists them. It prints the
difference first (+ added, - removed, unchanged counted), then writes it where the
branch's required checks live: the repository ruleset that requires checks for the
branch (only that rule's checks change), or classic branch protection (its "up to date"
setting is kept). When neither requires checks, it says how to set one up, or with
--create makes a repository ruleset holding only that rule. Checks required by two
rulesets, or by the organization, are refused: GitHub would require their union.

Needs a token that may administer the repository (GH_TOKEN, GITHUB_TOKEN or gh's).
Exits 0 when the branch is (now) in sync, 1 when GitHub refused or the protection
cannot be made exact, 2 for a usage or configuration error.`
}

// adminToken is what a token needs to change a branch's protection.
const adminToken = `A token needs "Administration: read and write" (fine-grained) or the repo scope (classic), from an admin of the repository.`

// Examples are shown by `odu protect --help`.
func (*ProtectCmd) Examples() []string {
	return []string{
		"odu protect --dry-run",
		"odu protect",
		"odu protect --branch release --platform x86_64-linux --platform aarch64-darwin",
		"odu protect --create                # no protection yet: a ruleset requiring the nodes",
	}
}

// Run prints the difference and applies it.
func (c *ProtectCmd) Run(ctx context.Context, env *Env) error {
	pf := PipelineFlags{JustfileFlags: c.JustfileFlags, Platform: c.Platform}
	l, pl, err := pf.pipeline(ctx, env)
	if err != nil {
		return err
	}
	var want []string
	for _, n := range pl.Nodes {
		want = append(want, n.ID)
	}
	t, err := ghstatus.Detect(ctx, l.root, c.Remote, env.Getenv)
	var off *ghstatus.OffError
	if errors.As(err, &off) && off.Kind == ghstatus.NoToken {
		// Detect's hint is for posting statuses; protect changes settings.
		return &hinted{msg: off.Why, hint: adminToken}
	}
	if err != nil {
		return err
	}
	cl, err := ghstatus.NewClient(t)
	if err != nil {
		return err
	}
	plan, err := ghstatus.NewPlan(ctx, cl, t, c.Branch, want)
	var conflict *ghstatus.ConflictError
	var api *ghstatus.APIError
	switch {
	case errors.As(err, &conflict):
		return &ExitError{Code: 1, Err: err}
	case errors.As(err, &api):
		return &ExitError{Code: 1, Err: err}
	case err != nil:
		return err
	}
	where := "nothing requires status checks"
	switch plan.Where {
	case ghstatus.InRuleset:
		where = fmt.Sprintf("ruleset %q (id %d)", plan.RulesetName, plan.RulesetID)
	case ghstatus.InClassic:
		where = "classic branch protection"
	}
	fmt.Fprintf(env.Stdout, "%s, branch %s: %s\n", t.FullName(), plan.Branch, where)
	for _, a := range plan.Added {
		fmt.Fprintf(env.Stdout, "+ %s\n", a)
	}
	for _, r := range plan.Removed {
		fmt.Fprintf(env.Stdout, "- %s\n", r)
	}
	fmt.Fprintf(env.Stdout, "%d unchanged\n", plan.Unchanged)
	switch {
	case plan.InSync():
		fmt.Fprintln(env.Stdout, "In sync: nothing to change.")
		return nil
	case c.DryRun:
		fmt.Fprintln(env.Stdout, "Dry run: nothing changed.")
		return nil
	}
	err = plan.Apply(ctx, c.Create)
	switch {
	case errors.Is(err, ghstatus.ErrNowhere):
		return &ExitError{Code: 1, Err: &hinted{
			msg: fmt.Sprintf("neither a ruleset nor classic protection requires status checks for branch %s", plan.Branch),
			hint: "Run `odu protect --create` to create a repository ruleset that requires the nodes, " +
				"or add a \"Require status checks to pass\" rule in the repository's Settings → Rules → Rulesets.",
		}}
	case err != nil:
		return &ExitError{Code: 1, Err: err}
	}
	if plan.Where == ghstatus.Nowhere {
		fmt.Fprintf(env.Stdout, "Created ruleset %q requiring %s on branch %s.\n", ghstatus.RulesetName, plural(len(want), "status"), plan.Branch)
	} else {
		fmt.Fprintf(env.Stdout, "Synced: branch %s requires the %s.\n", plan.Branch, plural(len(want), "node"))
	}
	return nil
}
