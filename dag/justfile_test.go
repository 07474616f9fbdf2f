package dag_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odu-ci/odu/dag"
	"github.com/odu-ci/odu/platform"
)

func TestDecodeDumpMalformed(t *testing.T) {
	tests := []struct {
		name string
		json string
		want string
	}{
		{"not json", `{"recipes":`, "read just's dump: jsontext: unexpected EOF"},
		// go-json-experiment says "cannot" or "unable to", chosen at
		// random once per process so that nobody depends on either.
		{"wrong type", `{"recipes": []}`, "unmarshal JSON array into Go map"},
		{"null recipe", `{"recipes": {"a": null}}`, `recipe "a" is null`},
		{"bad name", `{"recipes": {"a b": {"name": "a b"}}}`, `recipe name "a b" is not a just identifier`},
		{"priors beyond dependencies", `{"recipes": {"a": {"name": "a", "priors": 2, "dependencies": [{"recipe": "b"}]}}}`, `recipe "a" has 2 priors but 1 dependencies`},
		{"dependency without recipe", `{"recipes": {"a": {"name": "a", "priors": 1, "dependencies": [{"arguments": []}]}}}`, "dependency without a recipe name"},
		{"metadata not strings", `{"recipes": {"a": {"name": "a", "attributes": [{"metadata": [1]}]}}}`, `recipe "a": metadata is not a list of strings`},
		{"attribute neither", `{"recipes": {"a": {"name": "a", "attributes": [7]}}}`, "neither a name nor an object"},
		{"namepath mismatch", `{"recipes": {"a": {"name": "a", "namepath": "b"}}}`, `recipe "a" has namepath "b"`},
		{"module path mismatch", `{"modules": {"m": {"module_path": "x"}}}`, `module "m" has module_path "x"`},
	}
	for _, tt := range tests {
		_, err := dag.DecodeDump([]byte(tt.json))
		var derr *dag.DumpError
		if !errors.As(err, &derr) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: DecodeDump error = %v, want a *DumpError containing %q", tt.name, err, tt.want)
		}
	}
}

func TestDecodeDumpDeepModules(t *testing.T) {
	// Nesting beyond the bound is refused, not followed down the stack.
	s := `{}`
	for range 100 {
		s = `{"modules": {"m": ` + s + `}}`
	}
	if _, err := dag.DecodeDump([]byte(s)); err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("DecodeDump(100 nested modules) error = %v, want one about nesting", err)
	}
}

// TestResolveCycle covers a cycle in a dump. just refuses circular
// dependencies itself, so only a dump it did not write has one.
func TestResolveCycle(t *testing.T) {
	jf, err := dag.DecodeDump([]byte(`{"source": "justfile", "recipes": {
		"ci": {"name": "ci", "attributes": [{"metadata": ["ci"]}], "priors": 1, "dependencies": [{"recipe": "a"}]},
		"a": {"name": "a", "body": [["x"]], "priors": 1, "dependencies": [{"recipe": "b"}]},
		"b": {"name": "b", "body": [["x"]], "priors": 1, "dependencies": [{"recipe": "a"}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = dag.Resolve(jf, dag.Options{Platforms: []platform.Platform{linux}})
	var cerr *dag.CycleError
	if !errors.As(err, &cerr) || err.Error() != "the pipeline has a cycle: a -> b -> a" {
		t.Errorf("Resolve error = %v, want the cycle a -> b -> a", err)
	}
}

func TestResolveStarDependency(t *testing.T) {
	jf, err := dag.DecodeDump([]byte(`{"source": "justfile", "recipes": {
		"ci": {"name": "ci", "attributes": [{"metadata": ["ci"]}], "priors": 1, "dependencies": [{"recipe": "a", "star": ["variable", "xs"]}]},
		"a": {"name": "a", "body": [["x"]], "parameters": [{"name": "x", "kind": "singular"}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = dag.Resolve(jf, dag.Options{Platforms: []platform.Platform{linux}})
	if err == nil || !strings.Contains(err.Error(), "maps the dependency a over a list") {
		t.Errorf("Resolve error = %v, want the refusal of a mapped dependency", err)
	}
}

func TestNodeName(t *testing.T) {
	tests := []struct {
		recipe string
		args   []string
		want   string
	}{
		{"build", nil, "build"},
		{"build", []string{"release"}, "build(release)"},
		{"ci::deploy", []string{"eu-west-1", "v1.2"}, "ci::deploy(eu-west-1,v1.2)"},
		{"greet", []string{"a b"}, `greet("a b")`},
		{"greet", []string{""}, `greet("")`},
		{"greet", []string{`say "hi"`}, `greet("say \"hi\"")`},
	}
	for _, tt := range tests {
		if got := dag.NodeName(tt.recipe, tt.args); got != tt.want {
			t.Errorf("NodeName(%q, %q) = %q, want %q", tt.recipe, tt.args, got, tt.want)
		}
	}
}

// FuzzDecodeDump feeds DecodeDump and Resolve arbitrary bytes, seeded with
// real dumps of the test justfiles: nothing may panic, and whatever
// resolves is a DAG in topological order.
func FuzzDecodeDump(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "dumps", "*.json"))
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		jf, err := dag.DecodeDump(data)
		if err != nil {
			return
		}
		for _, root := range []string{"", "ci", "a"} {
			pl, err := dag.Resolve(jf, dag.Options{Root: root, Platforms: []platform.Platform{linux, darwin}})
			if err != nil {
				continue
			}
			seen := map[string]bool{}
			for _, n := range pl.Nodes {
				for _, d := range n.Deps {
					if !seen[d] {
						t.Fatalf("node %s comes before its dependency %s", n.ID, d)
					}
				}
				seen[n.ID] = true
			}
		}
	})
}

func TestResolveEmpty(t *testing.T) {
	// A root without a body whose only dependency runs on Linux alone.
	jf, err := dag.DecodeDump([]byte(`{"source": "justfile", "recipes": {
		"ci": {"name": "ci", "attributes": [{"metadata": ["ci"]}], "priors": 1, "dependencies": [{"recipe": "a"}]},
		"a": {"name": "a", "attributes": ["linux"], "body": [["x"]]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dag.Resolve(jf, dag.Options{Platforms: []platform.Platform{linux}}); err != nil {
		t.Errorf("Resolve on Linux: %v", err)
	}
	_, err = dag.Resolve(jf, dag.Options{Platforms: []platform.Platform{darwin}})
	if err == nil || !strings.Contains(err.Error(), "recipe ci (justfile) runs nothing") {
		t.Errorf("Resolve on darwin error = %v, want the refusal of an empty pipeline", err)
	}
}
