package dag_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/odu-ci/odu/dag"
	"github.com/odu-ci/odu/platform"
)

func TestParseSelector(t *testing.T) {
	tests := []struct {
		in   string
		want dag.Selector // Raw is filled in from in
		err  string
	}{
		{in: "build", want: dag.Selector{Recipe: "build"}},
		{in: "ci::test", want: dag.Selector{Recipe: "ci::test"}},
		{in: "e2e@x86_64-linux", want: dag.Selector{Recipe: "e2e", Platform: "x86_64-linux"}},
		{in: "build(release)", want: dag.Selector{Recipe: "build", Args: "(release)"}},
		{in: `greet("a@b")@aarch64-darwin`, want: dag.Selector{Recipe: "greet", Args: `("a@b")`, Platform: "aarch64-darwin"}},
		{in: `greet("a@b")`, want: dag.Selector{Recipe: "greet", Args: `("a@b")`}},
		{in: "", err: "empty selector"},
		{in: "build@", err: `unknown platform ""`},
		{in: "build@x86_64-windows", err: `unknown platform "x86_64-windows"`},
		{in: "build(release", err: "arguments must end with `)`"},
		{in: "ci::", err: `"ci::" is not a recipe name`},
		{in: "9lives", err: `"9lives" is not a recipe name`},
		{in: "a b", err: `"a b" is not a recipe name`},
	}
	for _, tt := range tests {
		got, err := dag.ParseSelector(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseSelector(%q) error = %v, want one containing %q", tt.in, err, tt.err)
			}
			continue
		}
		tt.want.Raw = tt.in
		if err != nil || got != tt.want {
			t.Errorf("ParseSelector(%q) = %+v, %v, want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestSelect(t *testing.T) {
	jf := load(t, "modules")
	pl, err := dag.Resolve(jf, dag.Options{Platforms: []platform.Platform{linux, darwin}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		sels   []string
		noDeps bool
		want   []string // ids, in order
		err    []string // substrings of message and hint
	}{
		{sels: []string{"ci::test@x86_64-linux"}, want: []string{"ci::prep@x86_64-linux", "ci::sub::deep@x86_64-linux", "ci::test@x86_64-linux"}},
		{sels: []string{"ci::test@x86_64-linux"}, noDeps: true, want: []string{"ci::test@x86_64-linux"}},
		// A bare leaf or a trailing part of a namepath, when unambiguous.
		{sels: []string{"deep"}, want: []string{"ci::sub::deep@aarch64-darwin", "ci::sub::deep@x86_64-linux"}},
		{sels: []string{"sub::deep@aarch64-darwin", "prep@aarch64-darwin"}, want: []string{"ci::prep@aarch64-darwin", "ci::sub::deep@aarch64-darwin"}},
		// --no-deps keeps the order between selected nodes.
		{sels: []string{"prep@x86_64-linux", "ci::test@x86_64-linux"}, noDeps: true, want: []string{"ci::prep@x86_64-linux", "ci::test@x86_64-linux"}},
		{sels: []string{"test"}, err: []string{"test: ambiguous", "`ci::test` or `tools::test`"}},
		{sels: []string{"prpe"}, err: []string{"prpe: no recipe of that name in the pipeline of all", "Did you mean `ci::prep`?"}},
		{sels: []string{"e2e"}, err: []string{"recipe ci::e2e is not part of the pipeline of all", "--root ci::e2e"}},
		{sels: []string{"build"}, err: []string{"recipe build is not part of the pipeline of all"}},
		{sels: []string{"deep@x86_64-darwin"}, err: []string{"platform x86_64-darwin is not in this pipeline (x86_64-linux, aarch64-darwin)", "--platform x86_64-darwin"}},
		{sels: []string{"deep(fast)"}, err: []string{"the pipeline runs ci::sub::deep with other arguments", "`ci::sub::deep`"}},
	}
	for _, tt := range tests {
		var sels []dag.Selector
		for _, s := range tt.sels {
			sel, err := dag.ParseSelector(s)
			if err != nil {
				t.Fatalf("ParseSelector(%q): %v", s, err)
			}
			sels = append(sels, sel)
		}
		got, err := pl.Select(jf, sels, tt.noDeps)
		if tt.err != nil {
			var serr *dag.SelectorError
			if !errors.As(err, &serr) {
				t.Errorf("Select(%q) error = %v, want a *SelectorError", tt.sels, err)
				continue
			}
			msg := err.Error() + "\n" + serr.Hint()
			for _, w := range tt.err {
				if !strings.Contains(msg, w) {
					t.Errorf("Select(%q) message %q\ndoes not contain %q", tt.sels, msg, w)
				}
			}
			continue
		}
		if err != nil {
			t.Errorf("Select(%q): %v", tt.sels, err)
			continue
		}
		var ids []string
		for _, n := range got.Nodes {
			ids = append(ids, n.ID)
			for _, d := range n.Deps {
				if !slices.ContainsFunc(got.Nodes, func(m *dag.Node) bool { return m.ID == d }) {
					t.Errorf("Select(%q): %s keeps a dependency on %s, which was not selected", tt.sels, n.ID, d)
				}
			}
		}
		if !slices.Equal(ids, tt.want) {
			t.Errorf("Select(%q, noDeps=%v) = %q, want %q", tt.sels, tt.noDeps, ids, tt.want)
		}
	}
}

func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{"build", "ci::test@x86_64-linux", `greet("a@b")@aarch64-darwin`, "b(", "@", "::", "a::b::c(x,y)@i686-linux"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := dag.ParseSelector(s)
		if err != nil {
			return
		}
		if sel.Raw != s || sel.Recipe == "" {
			t.Fatalf("ParseSelector(%q) = %+v", s, sel)
		}
		// What parses names a recipe path, arguments (written the one way
		// odu writes them: `build('release')` is `build(release)`) and a
		// platform that, put together, parse as the same selector.
		back := sel.Recipe + sel.Args
		if sel.Platform != "" {
			back += "@" + string(sel.Platform)
		}
		again, err := dag.ParseSelector(back)
		if err != nil {
			t.Fatalf("ParseSelector(%q) = %+v, which reads back as %q: %v", s, sel, back, err)
		}
		if again.Recipe != sel.Recipe || again.Args != sel.Args || again.Platform != sel.Platform {
			t.Fatalf("ParseSelector(%q) = %+v, which reads back as %q = %+v", s, sel, back, again)
		}
	})
}
