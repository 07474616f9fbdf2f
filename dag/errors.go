package dag

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Every error of this package describes bad input (a justfile, a flag, a
// selector) and has a Hint method that says what to do about it. The
// command line prints the error, then the hint.

// MinJustVersion is the oldest just that understands [metadata(...)] and
// dumps namepaths; measured: just 1.41.0 rejects the attribute, 1.42.2
// dumps it.
const MinJustVersion = "1.42.0"

const installJust = "Install just from https://just.systems, e.g. `npm install -g rust-just` or `cargo install just`."

// JustNotFoundError reports that no just binary is on PATH.
type JustNotFoundError struct{}

func (*JustNotFoundError) Error() string { return "just is not installed (not found on PATH)" }

// Hint says how to install just.
func (*JustNotFoundError) Hint() string { return installJust }

// JustVersionError reports a just too old for odu.
type JustVersionError struct {
	Path string
	Have string
}

func (e *JustVersionError) Error() string {
	return fmt.Sprintf("just %s (%s) is too old: odu needs just %s or newer for [metadata(\"ci\")]", e.Have, e.Path, MinJustVersion)
}

// Hint says how to upgrade.
func (*JustVersionError) Hint() string { return "Upgrade it. " + installJust }

// JustError reports that just itself rejected the justfile; Message is
// just's own message.
type JustError struct {
	Message string
}

func (e *JustError) Error() string {
	return "just rejected the justfile:\n" + strings.TrimRight(e.Message, "\n")
}

// Hint says what to do.
func (*JustError) Hint() string {
	return "Fix the justfile; `just --dump` shows the same error."
}

// NoJustfileError reports a repository without a justfile, or a
// --justfile that does not exist.
type NoJustfileError struct {
	Dir   string // the repository, or where a relative --justfile was read from
	Named string // --justfile, if given
}

func (e *NoJustfileError) Error() string {
	if e.Named != "" {
		path := e.Named
		if !filepath.IsAbs(path) {
			path = filepath.Join(e.Dir, path)
		}
		return "--justfile " + e.Named + ": no such file (" + path + ")"
	}
	return "no justfile in " + e.Dir
}

// Hint says what odu looks for.
func (e *NoJustfileError) Hint() string {
	if e.Named != "" {
		return "Give the justfile's path from the directory odu runs in (the current one, or -C DIR), or an absolute one."
	}
	return "odu runs the recipe marked [metadata(\"ci\")] in the repository's justfile: create one, or pass --justfile PATH."
}

// DumpError reports output of `just --dump` that odu cannot read.
type DumpError struct{ Err error }

func (e *DumpError) Error() string { return "read just's dump: " + e.Err.Error() }

func (e *DumpError) Unwrap() error { return e.Err }

// Hint says what to do.
func (*DumpError) Hint() string {
	return "This just may be newer than odu understands; check `just --version` and report it to odu."
}

// RootError reports that the CI root recipe cannot be chosen.
type RootError struct {
	Source string    // the root justfile
	Named  string    // --root, if given
	Found  []*Recipe // recipes carrying [metadata("ci")]
	Near   []string  // closest recipe names, for an unknown --root
}

func (e *RootError) Error() string {
	switch {
	case e.Named != "":
		return fmt.Sprintf("--root %s: no such recipe in %s", e.Named, e.Source)
	case len(e.Found) == 0:
		return fmt.Sprintf("no recipe carries [metadata(\"ci\")] in %s or its modules", e.Source)
	default:
		var b strings.Builder
		fmt.Fprintf(&b, "%d recipes carry [metadata(\"ci\")], odu needs exactly one:", len(e.Found))
		for _, r := range e.Found {
			fmt.Fprintf(&b, "\n  %s (%s)", r.Namepath, r.Where())
		}
		return b.String()
	}
}

// Hint says how to name a root.
func (e *RootError) Hint() string {
	switch {
	case e.Named != "" && len(e.Near) > 0:
		return "Did you mean " + quoteList(e.Near) + "?"
	case e.Named != "":
		return "Name a recipe of the justfile, as in `just --list`."
	case len(e.Found) == 0:
		return "Mark the recipe CI should run with [metadata(\"ci\")] on the line above it, or name one with --root RECIPE."
	default:
		return "Keep [metadata(\"ci\")] on one of them, or choose one for this command with --root RECIPE."
	}
}

// RecipeError reports a recipe odu cannot run as a CI node.
type RecipeError struct {
	Recipe  *Recipe
	Problem string
	Fix     string
}

func (e *RecipeError) Error() string {
	return fmt.Sprintf("recipe %s (%s) %s", e.Recipe.Namepath, e.Recipe.Where(), e.Problem)
}

// Hint says what to change.
func (e *RecipeError) Hint() string { return e.Fix }

// CycleError reports a cycle among the pipeline's nodes.
type CycleError struct{ Path []string }

func (e *CycleError) Error() string {
	return "the pipeline has a cycle: " + strings.Join(e.Path, " -> ")
}

// Hint says what to change.
func (*CycleError) Hint() string {
	return "A recipe that runs after another (`a: && b`) cannot also be needed before it; break the cycle in the justfile."
}

// SelectorError reports a node selector that matches nothing or too much.
type SelectorError struct {
	Selector   string
	Problem    string
	Candidates []string // what it could have meant
	Suggest    string   // the hint, when the candidates do not say enough
}

func (e *SelectorError) Error() string {
	sel := e.Selector
	switch {
	case sel == "" || strings.HasPrefix(e.Problem, fmt.Sprintf("%q ", sel)):
		return e.Problem // it names the selector itself, or there is none
	case strings.HasPrefix(sel, ":") || strings.HasSuffix(sel, ":") || strings.ContainsAny(sel, " \t"):
		// Bare, it would run into the colon that follows it (`odu: :: …`).
		sel = fmt.Sprintf("%q", sel)
	}
	return sel + ": " + e.Problem
}

// Hint lists the candidates.
func (e *SelectorError) Hint() string {
	if e.Suggest != "" {
		return e.Suggest
	}
	if len(e.Candidates) > 0 {
		return "Did you mean " + quoteList(e.Candidates) + "?"
	}
	return "Select nodes as RECIPE, RECIPE@PLATFORM or MODULE::RECIPE; `odu dump` lists them."
}

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = "`" + x + "`"
	}
	switch len(q) {
	case 1:
		return q[0]
	case 2:
		return q[0] + " or " + q[1]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// ShardError reports a bad [metadata("odu:shard=N")].
type ShardError struct {
	Recipe, Where, Value string
}

func (e *ShardError) Error() string {
	return fmt.Sprintf("%s: recipe %s: odu:shard=%s is not a number of shards from 1 to %d", e.Where, e.Recipe, e.Value, MaxShards)
}

// Hint says what is right.
func (*ShardError) Hint() string {
	return "Write the most shards the recipe may run as: [metadata(\"odu:shard=4\")]."
}
