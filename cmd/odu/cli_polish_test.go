package main

import (
	"testing"
	"time"

	"github.com/odu-ci/odu/surface"
)

// TestDetailSaysStatusOnce: a node cancelled with the reason "cancelled"
// does not say it twice, after its status, in the summary or the table.
func TestDetailSaysStatusOnce(t *testing.T) {
	code := 143
	started := time.Now()
	n := surface.Node{ID: "e2e@x86_64-linux", Status: surface.Cancelled, ExitCode: &code,
		Started: &started, DurationMS: 41600, Reason: "cancelled"}
	if got, want := detail(n), " (exit 143, 41.6s)"; got != want {
		t.Errorf("detail(cancelled node) = %q, want %q", got, want)
	}
	n.ExitCode = nil
	if got := reasonOf(n); got != "" {
		t.Errorf("reasonOf(cancelled node) = %q, want nothing", got)
	}
	n.Reason = "the lane was lost"
	if got, want := detail(n), " (41.6s, the lane was lost)"; got != want {
		t.Errorf("detail(cancelled node with a reason) = %q, want %q", got, want)
	}
}

func TestPlural(t *testing.T) {
	for _, c := range []struct {
		n    int
		what string
		want string
	}{{0, "node", "0 nodes"}, {1, "node", "1 node"}, {2, "recipe", "2 recipes"}, {1, "status", "1 status"}, {3, "status", "3 statuses"}} {
		if got := plural(c.n, c.what); got != c.want {
			t.Errorf("plural(%d, %q) = %q, want %q", c.n, c.what, got, c.want)
		}
	}
}
