package dag

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/odu-ci/odu/internal/near"
	"github.com/odu-ci/odu/platform"
)

// A Selector picks nodes of a pipeline by recipe, and optionally by
// arguments and platform:
//
//	build                  every node of recipe build
//	e2e                    ci::e2e, when no other recipe's name ends in e2e
//	ci::test@x86_64-linux  one node
//	param(release)         the invocation of param with "release"
type Selector struct {
	Raw      string
	Recipe   string            // a namepath, or its trailing part ("e2e", "sub::deep")
	Args     string            // "(release)", or "" for any arguments
	Platform platform.Platform // "" for every platform
}

// maxSelector bounds what a selector may be; node ids are short.
const maxSelector = 1024

// ParseSelector parses RECIPE[(ARGS)][@PLATFORM].
func ParseSelector(s string) (Selector, error) {
	sel := Selector{Raw: s}
	bad := func(problem string) (Selector, error) {
		return Selector{}, &SelectorError{Selector: s, Problem: problem}
	}
	if s == "" {
		return bad("empty selector")
	}
	if len(s) > maxSelector {
		return bad(fmt.Sprintf("longer than %d bytes", maxSelector))
	}
	name := s
	// The platform follows the last `@` that is not inside the
	// arguments, which may quote anything.
	tail := strings.LastIndexByte(s, ')') + 1
	if at := strings.LastIndexByte(s[tail:], '@'); at >= 0 {
		plat := s[tail+at+1:]
		p, err := platform.Parse(plat)
		if err != nil {
			return Selector{}, &SelectorError{Selector: s, Problem: err.Error(),
				Suggest: (&platform.UnknownError{Name: plat}).Hint()}
		}
		sel.Platform = p
		name = s[:tail+at]
	}
	if open := strings.IndexByte(name, '('); open >= 0 {
		if !strings.HasSuffix(name, ")") {
			return bad("arguments must end with `)`")
		}
		args, err := parseArgs(name[open+1 : len(name)-1])
		if err != nil {
			return bad(err.Error())
		}
		sel.Args = args
		name = name[:open]
	}
	for _, part := range strings.Split(name, "::") {
		if !validRecipeName(part) {
			return bad(fmt.Sprintf("%q is not a recipe name", name))
		}
	}
	sel.Recipe = name
	return sel, nil
}

// parseArgs reads the arguments of a selector, `release`, `"a b",x` or
// `'release' "debug"`, separated by commas or spaces, double-quoted with
// escapes or single-quoted without (as in a justfile), and writes them as
// node names do, so that build("release"), build('release') and
// build(release) are one selector.
func parseArgs(s string) (string, error) {
	var args []string
	for i := 0; i < len(s); {
		switch s[i] {
		case ',', ' ', '\t':
			i++
		case '"':
			end := i + 1
			for end < len(s) && s[end] != '"' {
				if s[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(s) {
				return "", fmt.Errorf("argument %s has no closing `\"`", s[i:])
			}
			a, err := strconv.Unquote(s[i : end+1])
			if err != nil {
				return "", fmt.Errorf("argument %s is not a string odu can read", s[i:end+1])
			}
			args = append(args, a)
			i = end + 1
		case '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return "", fmt.Errorf("argument %s has no closing `'`", s[i:])
			}
			args = append(args, s[i+1:i+1+end])
			i += end + 2
		default:
			end := i
			for end < len(s) && !strings.ContainsRune(", \t\"'", rune(s[end])) {
				end++
			}
			args = append(args, s[i:end])
			i = end
		}
	}
	if len(args) == 0 {
		return "()", nil
	}
	return NodeName("", args), nil
}

// Select returns the nodes the selectors pick and, unless noDeps, every
// node they depend on. With no selectors it returns the whole pipeline.
// jf is used to tell a recipe that is not in the pipeline from one that
// does not exist.
func (pl *Pipeline) Select(jf *Justfile, sels []Selector, noDeps bool) (*Pipeline, error) {
	if len(sels) == 0 {
		return pl, nil
	}
	byID := map[string]*Node{}
	var recipes []string
	for _, n := range pl.Nodes {
		byID[n.ID] = n
		if !slices.Contains(recipes, n.Recipe) {
			recipes = append(recipes, n.Recipe)
		}
	}
	picked := map[string]bool{}
	for _, sel := range sels {
		ids, err := pl.match(jf, sel, recipes)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			picked[id] = true
		}
	}
	if !noDeps {
		var add func(id string)
		add = func(id string) {
			for _, d := range byID[id].Deps {
				if !picked[d] {
					picked[d] = true
					add(d)
				}
			}
		}
		for id := range picked {
			add(id)
		}
	}
	out := &Pipeline{Root: pl.Root, Justfile: pl.Justfile, Platforms: pl.Platforms}
	for _, n := range pl.Nodes {
		if !picked[n.ID] {
			continue
		}
		c := *n
		c.Deps = slices.DeleteFunc(slices.Clone(n.Deps), func(d string) bool { return !picked[d] })
		out.Nodes = append(out.Nodes, &c)
	}
	return out, nil
}

// match returns the ids of the nodes one selector picks.
func (pl *Pipeline) match(jf *Justfile, sel Selector, recipes []string) ([]string, error) {
	if sel.Platform != "" && !slices.Contains(pl.Platforms, sel.Platform) {
		return nil, &SelectorError{Selector: sel.Raw,
			Problem: fmt.Sprintf("platform %s is not in this pipeline (%s)", sel.Platform, joinPlatforms(pl.Platforms)),
			Suggest: "Add it with --platform " + string(sel.Platform) + "."}
	}
	recipe, err := matchRecipe(sel, recipes)
	if err != nil {
		return nil, pl.explainUnknown(jf, sel, err)
	}
	var ids, variants []string
	for _, n := range pl.Nodes {
		if n.Recipe != recipe {
			continue
		}
		if !slices.Contains(variants, n.Name) {
			variants = append(variants, n.Name)
		}
		if sel.Args != "" && n.Name != recipe+sel.Args {
			continue
		}
		if sel.Platform != "" && n.Platform != sel.Platform {
			continue
		}
		ids = append(ids, n.ID)
	}
	if len(ids) == 0 {
		if sel.Args != "" {
			return nil, &SelectorError{Selector: sel.Raw, Problem: "the pipeline runs " + recipe + " with other arguments",
				Candidates: variants}
		}
		return nil, &SelectorError{Selector: sel.Raw,
			Problem: fmt.Sprintf("%s does not run on %s (an operating-system attribute leaves it out)", recipe, sel.Platform)}
	}
	return ids, nil
}

// matchRecipe finds the namepath a selector's recipe names: itself, or
// the one namepath that ends in `::` and it.
func matchRecipe(sel Selector, recipes []string) (string, error) {
	if slices.Contains(recipes, sel.Recipe) {
		return sel.Recipe, nil
	}
	var found []string
	for _, r := range recipes {
		if strings.HasSuffix(r, "::"+sel.Recipe) {
			found = append(found, r)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", errNoRecipe
	}
	slices.Sort(found)
	return "", &SelectorError{Selector: sel.Raw, Problem: "ambiguous: more than one recipe is named " + sel.Recipe,
		Candidates: found}
}

var errNoRecipe = fmt.Errorf("no such recipe")

// explainUnknown turns a failed match into the error a user needs: the
// recipe is ambiguous, exists but is outside the pipeline, or does not
// exist (with the closest names).
func (pl *Pipeline) explainUnknown(jf *Justfile, sel Selector, err error) error {
	if !errors.Is(err, errNoRecipe) {
		return err
	}
	if jf != nil {
		all := sortedKeys(jf.Recipes)
		if r, err := matchRecipe(sel, all); err == nil {
			return &SelectorError{Selector: sel.Raw,
				Problem: fmt.Sprintf("recipe %s is not part of the pipeline of %s", r, pl.Root),
				Suggest: "Run its own pipeline with --root " + r + ", or add it to " + pl.Root + "'s dependencies."}
		}
	}
	var names []string
	for _, n := range pl.Nodes {
		if !slices.Contains(names, n.Recipe) {
			names = append(names, n.Recipe)
		}
	}
	return &SelectorError{Selector: sel.Raw, Problem: "no recipe of that name in the pipeline of " + pl.Root,
		Candidates: closest(sel.Recipe, names)}
}

func joinPlatforms(ps []platform.Platform) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return strings.Join(s, ", ")
}

// closest returns up to three of names nearest to s by edit distance,
// comparing both the whole namepath and its last part, and only those
// near enough to be a plausible typo.
func closest(s string, names []string) []string {
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	for _, n := range names {
		leaf := n[strings.LastIndex(n, ":")+1:]
		d := min(near.Distance(s, n), near.Distance(s, leaf))
		if d <= max(2, len(s)/3) {
			cs = append(cs, cand{n, d})
		}
	}
	slices.SortFunc(cs, func(a, b cand) int {
		if a.d != b.d {
			return a.d - b.d
		}
		return strings.Compare(a.name, b.name)
	})
	var out []string
	for i := 0; i < len(cs) && i < 3; i++ {
		out = append(out, cs[i].name)
	}
	return out
}
