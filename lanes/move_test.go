package lanes

import (
	"maps"
	"slices"
	"testing"

	"github.com/odu-ci/odu/dag"
)

// TestRunAgain: a lane that moves runs again what had not finished, and
// the finished nodes those need, directly or through other finished
// ones; a finished node nothing unfinished needs stays as it was.
func TestRunAgain(t *testing.T) {
	// gen <- build <- test <- package;  lint;  docs <- site
	nodes := []*dag.Node{
		{ID: "gen"}, {ID: "build", Deps: []string{"gen"}}, {ID: "test", Deps: []string{"build"}},
		{ID: "package", Deps: []string{"test"}}, {ID: "lint"},
		{ID: "docs"}, {ID: "site", Deps: []string{"docs"}},
	}
	done := map[string]bool{"gen": true, "build": true, "lint": true, "docs": true, "site": true}
	rerun, needed := runAgain(nodes, func(id string) bool { return done[id] })
	if got := slices.Sorted(maps.Keys(rerun)); !slices.Equal(got, []string{"package", "test"}) {
		t.Errorf("run again as unfinished: %v, want [package test]", got)
	}
	if got := slices.Sorted(maps.Keys(needed)); !slices.Equal(got, []string{"build", "gen"}) {
		t.Errorf("run again for their outputs: %v, want [build gen] (build directly, gen through build; not lint, docs, site)", got)
	}
}
