package surface_test

import (
	"testing"
	"time"

	"github.com/odu-ci/odu/surface"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func enode(id string, status surface.Status, expected time.Duration, deps ...string) surface.Node {
	n := surface.Node{ID: id, Status: status, ExpectedMS: expected.Milliseconds(), Deps: deps}
	if status == surface.Running {
		n.Started = &t0
	}
	return n
}

// The ETA is the longest path of what is left of the expectations:
// a running node's less what it ran, a pending one's whole, after its
// unfinished dependencies; finished nodes count nothing.
func TestETA(t *testing.T) {
	now := t0.Add(10 * time.Second)
	for _, tc := range []struct {
		name         string
		nodes        []surface.Node
		want         time.Duration
		known, someW bool
	}{
		{"chain after a running node", []surface.Node{
			enode("build", surface.Running, 30*time.Second),
			enode("test", surface.Pending, 20*time.Second, "build"),
			enode("lint", surface.Pending, 5*time.Second, "build"),
			enode("ci", surface.Pending, 1*time.Second, "test", "lint"),
		}, 41 * time.Second, true, true},
		{"a finished dependency counts nothing", []surface.Node{
			enode("build", surface.Success, 30*time.Second),
			enode("test", surface.Pending, 20*time.Second, "build"),
		}, 20 * time.Second, true, true},
		{"a node past its expectation has nothing left", []surface.Node{
			enode("build", surface.Running, 4*time.Second),
			enode("test", surface.Pending, 3*time.Second, "build"),
		}, 3 * time.Second, false, true},
		{"without an expectation: a lower bound", []surface.Node{
			enode("build", surface.Running, 0),
			enode("test", surface.Pending, 3*time.Second, "build"),
		}, 3 * time.Second, false, true},
		{"nothing expected", []surface.Node{enode("build", surface.Pending, 0)}, 0, false, false},
		{"nothing left", []surface.Node{enode("build", surface.Success, time.Second)}, 0, true, false},
	} {
		got, known, ok := surface.ETA(surface.State{Nodes: tc.nodes}, now)
		if got != tc.want || known != tc.known || ok != tc.someW {
			t.Errorf("%s: ETA = %v, %v, %v; want %v, %v, %v", tc.name, got, known, ok, tc.want, tc.known, tc.someW)
		}
	}
}

// A node is overdue at three times its expectation and a minute over it,
// not before either.
func TestOverdue(t *testing.T) {
	for _, tc := range []struct {
		expected, ran time.Duration
		want          bool
	}{
		{10 * time.Second, 69 * time.Second, false}, // 6.9×, 59 s over
		{10 * time.Second, 70 * time.Second, true},  // 7×, a minute over
		{time.Minute, 179 * time.Second, false},     // 2.98×
		{time.Minute, 3 * time.Minute, true},
		{0, time.Hour, false}, // nothing expected
	} {
		n := enode("build", surface.Running, tc.expected)
		if got := n.Overdue(t0.Add(tc.ran)); got != tc.want {
			t.Errorf("expected %v, ran %v: Overdue = %v, want %v", tc.expected, tc.ran, got, tc.want)
		}
	}
	if n := enode("build", surface.Success, time.Second); n.Overdue(t0.Add(time.Hour)) {
		t.Error("a finished node is overdue")
	}
}
