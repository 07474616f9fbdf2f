package dag_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/odu-ci/odu/dag"
	"github.com/odu-ci/odu/internal/odutest"
	"github.com/odu-ci/odu/platform"
)

const (
	linux  = platform.Platform("x86_64-linux")
	darwin = platform.Platform("aarch64-darwin")
)

// TestMain puts the fast static just first on PATH, as a user's install
// would have it.
func TestMain(m *testing.M) {
	just, err := odutest.FastJust()
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	os.Setenv("PATH", filepath.Dir(just)+string(os.PathListSeparator)+os.Getenv("PATH"))
	os.Exit(m.Run())
}

// load reads one of the justfiles in testdata/justfiles with the real just.
func load(t *testing.T, name string) *dag.Justfile {
	t.Helper()
	ctx := context.Background()
	just, err := dag.FindJust(ctx)
	if err != nil {
		t.Fatalf("FindJust: %v", err)
	}
	dir, err := filepath.Abs(filepath.Join("..", "testdata", "justfiles", name))
	if err != nil {
		t.Fatal(err)
	}
	jf, err := just.Load(ctx, dir, "")
	if err != nil {
		t.Fatalf("Load(%s): %v", name, err)
	}
	return jf
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name      string
		opts      dag.Options
		wantOrder []string            // node ids, in the pipeline's order
		wantDeps  map[string][]string // node id -> deps, for the nodes listed
		wantCmd   map[string][]string // node id -> command, for the nodes listed
	}{
		{
			name:      "basic",
			opts:      dag.Options{Platforms: []platform.Platform{linux}},
			wantOrder: []string{"build@x86_64-linux", "lint@x86_64-linux", "test@x86_64-linux", "ci@x86_64-linux"},
			wantDeps: map[string][]string{
				"build@x86_64-linux": {},
				"test@x86_64-linux":  {"build@x86_64-linux"},
				"ci@x86_64-linux":    {"lint@x86_64-linux", "test@x86_64-linux"},
			},
			wantCmd: map[string][]string{"ci@x86_64-linux": {"just", "--no-deps", "ci"}},
		},
		{
			name:      "basic with --root and two platforms",
			opts:      dag.Options{Root: "test", Platforms: []platform.Platform{linux, darwin}},
			wantOrder: []string{"build@aarch64-darwin", "build@x86_64-linux", "test@aarch64-darwin", "test@x86_64-linux"},
			wantDeps: map[string][]string{
				"test@aarch64-darwin": {"build@aarch64-darwin"},
				"test@x86_64-linux":   {"build@x86_64-linux"},
			},
		},
		{
			name: "modules",
			opts: dag.Options{Platforms: []platform.Platform{linux}},
			// all has no body: it is not a node.
			wantOrder: []string{"ci::prep@x86_64-linux", "ci::sub::deep@x86_64-linux", "tools::test@x86_64-linux", "ci::test@x86_64-linux"},
			wantDeps: map[string][]string{
				"ci::test@x86_64-linux": {"ci::prep@x86_64-linux", "ci::sub::deep@x86_64-linux"},
			},
			wantCmd: map[string][]string{"ci::sub::deep@x86_64-linux": {"just", "--no-deps", "ci::sub::deep"}},
		},
		{
			name:      "groupings",
			opts:      dag.Options{Platforms: []platform.Platform{linux}},
			wantOrder: []string{"fmt@x86_64-linux", "slow@x86_64-linux", "vet@x86_64-linux", "package@x86_64-linux"},
			wantDeps: map[string][]string{
				// package: checks, and checks groups fast (fmt, vet) and slow.
				"package@x86_64-linux": {"fmt@x86_64-linux", "slow@x86_64-linux", "vet@x86_64-linux"},
			},
		},
		{
			name: "arguments",
			opts: dag.Options{Platforms: []platform.Platform{linux}},
			wantOrder: []string{
				"build(debug)@x86_64-linux", "build(release)@x86_64-linux", "build@x86_64-linux",
				`greet("a b")@x86_64-linux`, "greet@x86_64-linux", "ci@x86_64-linux",
			},
			wantCmd: map[string][]string{
				"build(release)@x86_64-linux": {"just", "--no-deps", "build", "release"},
				`greet("a b")@x86_64-linux`:   {"just", "--no-deps", "greet", "a b"},
				"build@x86_64-linux":          {"just", "--no-deps", "build"},
			},
		},
		{
			name: "subsequents",
			opts: dag.Options{Platforms: []platform.Platform{linux}},
			wantOrder: []string{
				"build@x86_64-linux", "z@x86_64-linux", "lint@x86_64-linux", "y@x86_64-linux",
				"notify@x86_64-linux", "x@x86_64-linux", "ci@x86_64-linux",
			},
			wantDeps: map[string][]string{
				"notify@x86_64-linux": {"lint@x86_64-linux"},
				// ci waits for lint and what runs after it.
				"ci@x86_64-linux": {"lint@x86_64-linux", "notify@x86_64-linux", "x@x86_64-linux", "z@x86_64-linux"},
				// z already runs before x, so it does not wait for x.
				"z@x86_64-linux": {},
			},
		},
		{
			name: "attributes on linux",
			opts: dag.Options{Platforms: []platform.Platform{linux}},
			wantOrder: []string{
				"_helper@x86_64-linux", "hidden@x86_64-linux", "nocd@x86_64-linux", "onlylinux@x86_64-linux",
				"onlyunix@x86_64-linux", "script@x86_64-linux", "wd@x86_64-linux", "ci@x86_64-linux",
			},
			wantDeps: map[string][]string{
				// par has no body: its dependencies take its place.
				"ci@x86_64-linux": {"_helper@x86_64-linux", "hidden@x86_64-linux", "nocd@x86_64-linux",
					"onlylinux@x86_64-linux", "onlyunix@x86_64-linux", "script@x86_64-linux", "wd@x86_64-linux"},
			},
		},
		{
			name: "attributes on darwin",
			opts: dag.Options{Platforms: []platform.Platform{darwin}},
			// [linux] leaves onlylinux out; [unix] keeps onlyunix.
			wantOrder: []string{
				"_helper@aarch64-darwin", "hidden@aarch64-darwin", "nocd@aarch64-darwin",
				"onlyunix@aarch64-darwin", "script@aarch64-darwin", "wd@aarch64-darwin", "ci@aarch64-darwin",
			},
		},
		{
			name:      "confirm with --yes",
			opts:      dag.Options{Platforms: []platform.Platform{linux}, Yes: true},
			wantOrder: []string{"deploy@x86_64-linux", "ci@x86_64-linux"},
			wantCmd: map[string][]string{
				"deploy@x86_64-linux": {"just", "--yes", "--no-deps", "deploy"},
				"ci@x86_64-linux":     {"just", "--no-deps", "ci"},
			},
		},
		{
			name:      "basic with a --justfile passed on",
			opts:      dag.Options{Platforms: []platform.Platform{linux}, Justfile: "ci/justfile", Root: "build"},
			wantOrder: []string{"build@x86_64-linux"},
			wantCmd:   map[string][]string{"build@x86_64-linux": {"just", "--justfile", "ci/justfile", "--no-deps", "build"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fixture, _, _ := strings.Cut(tt.name, " ")
			pl, err := dag.Resolve(load(t, fixture), tt.opts)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			var order []string
			byID := map[string]*dag.Node{}
			for _, n := range pl.Nodes {
				order = append(order, n.ID)
				byID[n.ID] = n
			}
			if !slices.Equal(order, tt.wantOrder) {
				t.Errorf("order = %q\nwant    %q", order, tt.wantOrder)
			}
			for id, want := range tt.wantDeps {
				if n := byID[id]; n == nil || !slices.Equal(n.Deps, want) {
					t.Errorf("deps of %s = %v, want %v", id, deps(n), want)
				}
			}
			for id, want := range tt.wantCmd {
				if n := byID[id]; n == nil || !slices.Equal(n.Command, want) {
					t.Errorf("command of %s = %q, want %q", id, cmd(n), want)
				}
			}
		})
	}
}

func deps(n *dag.Node) []string {
	if n == nil {
		return []string{"<no such node>"}
	}
	return n.Deps
}

func cmd(n *dag.Node) []string {
	if n == nil {
		return []string{"<no such node>"}
	}
	return n.Command
}

func TestResolveErrors(t *testing.T) {
	tests := []struct {
		fixture string
		opts    dag.Options
		want    []string // substrings of the message, hint included
		as      any      // pointer to the error type
	}{
		{"noroot", dag.Options{}, []string{`no recipe carries [metadata("ci")] in justfile`, "--root RECIPE"}, new(*dag.RootError)},
		{"tworoots", dag.Options{}, []string{"2 recipes carry", "ci::pipeline (ci/mod.just:2)", "main (justfile:4)"}, new(*dag.RootError)},
		{"basic", dag.Options{Root: "tets"}, []string{"--root tets: no such recipe", "Did you mean `test`?"}, new(*dag.RootError)},
		{"exprarg", dag.Options{}, []string{"recipe ci (justfile:4) passes an expression as an argument to build", "literal arguments"}, new(*dag.RecipeError)},
		{"rootparams", dag.Options{}, []string{"recipe release (justfile:2) is the CI root but needs an argument for parameter version"}, new(*dag.RecipeError)},
		{"confirm", dag.Options{}, []string{"recipe deploy (justfile:6) asks for confirmation", "Pass --yes"}, new(*dag.RecipeError)},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			if tt.opts.Platforms == nil {
				tt.opts.Platforms = []platform.Platform{linux}
			}
			_, err := dag.Resolve(load(t, tt.fixture), tt.opts)
			if err == nil {
				t.Fatal("Resolve succeeded, want an error")
			}
			if !errors.As(err, tt.as) {
				t.Errorf("error is %T, want %T", err, tt.as)
			}
			msg := err.Error() + "\n" + err.(interface{ Hint() string }).Hint()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q\ndoes not contain %q", msg, w)
				}
			}
		})
	}
}
