package dag

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/odu-ci/odu/platform"
)

// A Pipeline is the resolved DAG: one node per recipe invocation per
// platform, in topological order.
type Pipeline struct {
	Root      string              `json:"root"`               // namepath of the root recipe
	Justfile  string              `json:"justfile,omitempty"` // --justfile as given, "" when just found it
	Platforms []platform.Platform `json:"platforms"`          // in the order given
	Nodes     []*Node             `json:"nodes"`              // topological; alphabetical by id within a rank
}

// A Node is one recipe invocation on one platform.
type Node struct {
	ID       string            `json:"id"`       // Name@Platform: "ci::test@x86_64-linux"
	Name     string            `json:"name"`     // the recipe with its arguments: "build", "build(release)"
	Recipe   string            `json:"recipe"`   // namepath: "ci::test"
	Args     []string          `json:"args"`     // literal arguments from the dependency that invokes it
	Platform platform.Platform `json:"platform"` //
	Command  []string          `json:"command"`  // argv, run in the repository root
	Deps     []string          `json:"deps"`     // ids of the nodes it waits for, sorted
	Source   string            `json:"source"`   // "file:line" of the recipe
	// Shards is the most shards the recipe runs as, from
	// [metadata("odu:shard=N")]; 0 for a recipe that is not sharded.
	Shards int `json:"shards,omitempty"`
	Rank   int `json:"-"` // length of the longest dependency chain below it
}

// Options say how to resolve a pipeline.
type Options struct {
	// Root names the root recipe; "" means the one carrying
	// [metadata("ci")].
	Root string
	// Platforms the pipeline fans out to; at least one.
	Platforms []platform.Platform
	// Justfile is the --justfile the user gave, relative to the
	// repository root, passed on to every node's command.
	Justfile string
	// Yes runs recipes marked [confirm] with `just --yes`; without it
	// such a recipe in the pipeline is an error, since a CI run cannot
	// answer a prompt.
	Yes bool
}

// Resolve turns a justfile into the pipeline of its CI root.
//
// A recipe with a body is a node; a recipe without one (`default: build
// test`) only groups its dependencies, which take its place. Dependencies
// after `&&` become nodes that wait for the recipe, unless they already
// run before it, as just would have it. A recipe restricted to other
// operating systems ([macos] on a Linux platform) is left out of that
// platform and its dependencies take its place.
func Resolve(jf *Justfile, opts Options) (*Pipeline, error) {
	root, err := findRoot(jf, opts.Root)
	if err != nil {
		return nil, err
	}
	if p := firstRequired(root, 0); p != "" {
		return nil, &RecipeError{Recipe: root,
			Problem: "is the CI root but needs an argument for parameter " + p,
			Fix: "Give the parameter a default, or move [metadata(\"ci\")] to a recipe that passes it: " +
				callerName(jf, root) + ": (" + root.Namepath + " \"value\")."}
	}
	pl := &Pipeline{Root: root.Namepath, Justfile: opts.Justfile, Platforms: slices.Clone(opts.Platforms)}
	for _, p := range opts.Platforms {
		r := &resolver{jf: jf, opts: opts, plat: p,
			after: map[string][]string{}, busy: map[string]bool{}, nodes: map[string]*Node{}}
		if _, err := r.expand(invocation{root, nil}); err != nil {
			return nil, err
		}
		r.order()
		for _, n := range r.nodes {
			pl.Nodes = append(pl.Nodes, n)
		}
	}
	if len(pl.Nodes) == 0 {
		// An empty pipeline would pass every run without testing anything.
		return nil, &RecipeError{Recipe: root,
			Problem: "runs nothing: it has no body, and none of what it depends on has one on " + joinPlatforms(opts.Platforms),
			Fix:     "Give the CI root a body or dependencies with bodies."}
	}
	if err := pl.sort(); err != nil {
		return nil, err
	}
	return pl, nil
}

func findRoot(jf *Justfile, name string) (*Recipe, error) {
	if name != "" {
		if r, ok := jf.Recipes[name]; ok {
			return r, nil
		}
		return nil, &RootError{Source: jf.Source, Named: name, Near: closest(name, sortedKeys(jf.Recipes))}
	}
	var found []*Recipe
	for _, r := range jf.Recipes {
		if r.IsCIRoot() {
			found = append(found, r)
		}
	}
	// Only the roots are sorted (for the error that lists them), not
	// every recipe.
	slices.SortFunc(found, func(a, b *Recipe) int { return strings.Compare(a.Namepath, b.Namepath) })
	if len(found) != 1 {
		return nil, &RootError{Source: jf.Source, Found: found}
	}
	return found[0], nil
}

// firstRequired returns the first required parameter that given
// arguments leave unset, or "".
func firstRequired(r *Recipe, given int) string {
	for i, p := range r.Params {
		if i >= given && p.Required {
			return p.Name
		}
	}
	return ""
}

type invocation struct {
	recipe *Recipe
	args   []string
}

func (v invocation) name() string { return NodeName(v.recipe.Namepath, v.args) }

// resolver resolves the pipeline for one platform.
type resolver struct {
	jf   *Justfile
	opts Options
	plat platform.Platform

	// after maps an invocation to the node ids a dependent of it must
	// wait for: its own node, or for a grouping the nodes it groups, and
	// in both cases whatever runs after it (`&&`).
	after map[string][]string
	busy  map[string]bool // invocations being expanded, to catch cycles
	stack []string        // the same, in order, for the cycle's message
	nodes map[string]*Node
	// orderings are the `&&` edges, applied once every node exists.
	orderings []ordering
}

// ordering says that the nodes of inv run after the nodes in prereqs.
type ordering struct {
	inv     invocation
	prereqs []string
}

func (r *resolver) expand(v invocation) ([]string, error) {
	key := v.name()
	if ids, ok := r.after[key]; ok {
		return ids, nil
	}
	if r.busy[key] {
		i := slices.Index(r.stack, key)
		return nil, &CycleError{Path: append(slices.Clone(r.stack[i:]), key)}
	}
	r.busy[key] = true
	r.stack = append(r.stack, key)
	defer func() {
		delete(r.busy, key)
		r.stack = r.stack[:len(r.stack)-1]
	}()

	rec := v.recipe
	var before []string
	for _, d := range rec.Priors {
		_, ids, err := r.expandDep(rec, d)
		if err != nil {
			return nil, err
		}
		before = union(before, ids)
	}

	var after []string
	if rec.HasBody && r.plat.Enables(rec.OS) {
		if err := r.runnable(v); err != nil {
			return nil, err
		}
		id := key + "@" + string(r.plat)
		shards, err := rec.Shards()
		if err != nil {
			return nil, err
		}
		r.nodes[id] = &Node{Shards: shards,
			ID: id, Name: key, Recipe: rec.Namepath, Args: nonNil(v.args), Platform: r.plat,
			Command: r.command(v), Deps: nonNil(before), Source: rec.Where(),
		}
		after = []string{id}
	} else {
		after = before
	}
	// What runs after the recipe waits for the recipe (or, for a
	// grouping, for what it groups).
	for _, d := range rec.After {
		dv, ids, err := r.expandDep(rec, d)
		if err != nil {
			return nil, err
		}
		r.orderings = append(r.orderings, ordering{inv: dv, prereqs: after})
		after = union(after, ids)
	}
	r.after[key] = after
	return after, nil
}

// expandDep resolves one dependency of rec and expands it: the invocation
// it makes, and the nodes a dependent must wait for.
func (r *resolver) expandDep(rec *Recipe, d Dep) (invocation, []string, error) {
	dv, err := r.dependency(rec, d)
	if err != nil {
		return invocation{}, nil, err
	}
	ids, err := r.expand(dv)
	return dv, ids, err
}

// dependency resolves one dependency of rec to the invocation it makes.
func (r *resolver) dependency(rec *Recipe, d Dep) (invocation, error) {
	target, ok := r.jf.Recipes[d.Recipe]
	if !ok {
		return invocation{}, &RecipeError{Recipe: rec,
			Problem: "depends on " + d.Recipe + ", which just's dump does not contain",
			Fix:     "Check that `just --dump` lists it; a recipe for another operating system is left out of the dump."}
	}
	switch {
	case d.Star:
		return invocation{}, &RecipeError{Recipe: rec,
			Problem: "maps the dependency " + d.Recipe + " over a list (*" + d.Recipe + ")",
			Fix:     "odu runs each invocation as its own node and needs its arguments written out: list them as separate dependencies."}
	case d.Expr:
		return invocation{}, &RecipeError{Recipe: rec,
			Problem: "passes an expression as an argument to " + d.Recipe,
			Fix:     "odu can run only dependencies with literal arguments, like (" + d.Recipe + " \"release\"): its value would depend on where it is evaluated."}
	}
	if p := firstRequired(target, len(d.Args)); p != "" {
		return invocation{}, &RecipeError{Recipe: rec,
			Problem: "depends on " + d.Recipe + " without a value for its parameter " + p,
			Fix:     "Pass it, as in (" + d.Recipe + " \"value\")."}
	}
	return invocation{target, d.Args}, nil
}

// runnable refuses what cannot run unattended.
func (r *resolver) runnable(v invocation) error {
	if v.recipe.Confirm && !r.opts.Yes {
		return &RecipeError{Recipe: v.recipe,
			Problem: "asks for confirmation ([confirm]), which a CI run cannot give",
			Fix:     "Pass --yes to confirm it (odu runs it with `just --yes`), or leave it out of the CI pipeline."}
	}
	return nil
}

func (r *resolver) command(v invocation) []string {
	argv := []string{"just"}
	if r.opts.Justfile != "" {
		argv = append(argv, "--justfile", r.opts.Justfile)
	}
	if v.recipe.Confirm {
		argv = append(argv, "--yes")
	}
	argv = append(argv, "--no-deps", v.recipe.Namepath)
	return append(argv, v.args...)
}

// order applies the `&&` edges. A node that already runs before the
// recipe it follows (it is among the recipe's own dependencies) keeps its
// place, as just runs each invocation once; adding the edge would make a
// cycle.
func (r *resolver) order() {
	for _, o := range r.orderings {
		for _, t := range r.entries(o.inv, map[string]bool{}) {
			n := r.nodes[t]
			for _, q := range o.prereqs {
				if q == t || slices.Contains(n.Deps, q) || r.reaches(q, t) {
					continue
				}
				n.Deps = union(n.Deps, []string{q})
			}
		}
	}
}

// entries returns the nodes an invocation starts with: its own node, or
// for a grouping the entries of what it groups.
func (r *resolver) entries(v invocation, seen map[string]bool) []string {
	key := v.name()
	if seen[key] {
		return nil
	}
	seen[key] = true
	id := key + "@" + string(r.plat)
	if _, ok := r.nodes[id]; ok {
		return []string{id}
	}
	var out []string
	for _, deps := range [][]Dep{v.recipe.Priors, v.recipe.After} {
		for _, d := range deps {
			if t, ok := r.jf.Recipes[d.Recipe]; ok {
				out = union(out, r.entries(invocation{t, d.Args}, seen))
			}
		}
	}
	return out
}

// reaches reports whether node from depends, transitively, on node to.
func (r *resolver) reaches(from, to string) bool {
	seen := map[string]bool{}
	stack := []string{from}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if id == to {
			return true
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		if n, ok := r.nodes[id]; ok {
			stack = append(stack, n.Deps...)
		}
	}
	return false
}

// sort orders the nodes topologically, by rank (the longest chain of
// dependencies below a node) and then by id, and fails on a cycle.
func (pl *Pipeline) sort() error {
	byID := make(map[string]*Node, len(pl.Nodes))
	for _, n := range pl.Nodes {
		byID[n.ID] = n
	}
	const (
		unvisited = iota
		visiting
		done
	)
	state := make(map[string]int, len(pl.Nodes))
	var path []string
	var visit func(n *Node) error
	visit = func(n *Node) error {
		switch state[n.ID] {
		case done:
			return nil
		case visiting:
			i := slices.Index(path, n.ID)
			return &CycleError{Path: append(slices.Clone(path[i:]), n.ID)}
		}
		state[n.ID] = visiting
		path = append(path, n.ID)
		n.Rank = 0
		for _, d := range n.Deps {
			dn, ok := byID[d]
			if !ok {
				continue
			}
			if err := visit(dn); err != nil {
				return err
			}
			n.Rank = max(n.Rank, dn.Rank+1)
		}
		path = path[:len(path)-1]
		state[n.ID] = done
		return nil
	}
	// Visit in id order so that the cycle reported is deterministic.
	slices.SortFunc(pl.Nodes, func(a, b *Node) int { return strings.Compare(a.ID, b.ID) })
	for _, n := range pl.Nodes {
		if err := visit(n); err != nil {
			return err
		}
	}
	slices.SortStableFunc(pl.Nodes, func(a, b *Node) int { return cmp.Compare(a.Rank, b.Rank) })
	return nil
}

// union returns the union of two sorted sets, sorted.
func union(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			out = append(out, a[i])
			i++
		case a[i] > b[j]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// callerName is a name for a new recipe that calls root, for a hint: ci,
// unless root or another recipe already has that name.
func callerName(jf *Justfile, root *Recipe) string {
	name := "ci"
	for i := 2; jf.Recipes[name] != nil || name == root.Namepath; i++ {
		name = "ci" + strconv.Itoa(i)
	}
	return name
}

// NodeName is the name of a recipe invocation: the namepath, and when the
// invoking dependency passes arguments, the arguments in parentheses,
// separated by commas. An argument that is not a plain word (letters,
// digits, `.`, `_`, `/`, `+`, `=`, `-`) is written as a quoted string:
// (build "release") is `build(release)`, (greet "a b") is `greet("a b")`.
func NodeName(recipe string, args []string) string {
	if len(args) == 0 {
		return recipe
	}
	parts := make([]string, len(args))
	for i, a := range args {
		if plainWord(a) {
			parts[i] = a
		} else {
			parts[i] = strconv.Quote(a)
		}
	}
	return recipe + "(" + strings.Join(parts, ",") + ")"
}

func plainWord(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.ContainsRune("._/+=-", c):
		default:
			return false
		}
	}
	return true
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
