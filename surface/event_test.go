package surface_test

import (
	"slices"
	"testing"

	"github.com/odu-ci/odu/surface"
)

func node(id string, s surface.Status) surface.Node {
	return surface.Node{ID: id, Status: s}
}

func ids(nodes []surface.Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.ID+":"+string(n.Status))
	}
	return out
}

// TestEventNodes: each kind of event yields the nodes it sets, the
// transitions a snapshot missed come first and only from Transitions, and
// a consumer that stops early is not called again.
func TestEventNodes(t *testing.T) {
	snap := surface.Event{
		Snapshot: &surface.State{
			Nodes: []surface.Node{node("a@p", surface.Success), node("b@p", surface.Running)},
			Lanes: []surface.Lane{{Platform: "p", Phase: surface.PhaseRunning}},
		},
		Missed: []surface.Node{node("a@p", surface.Running)},
	}
	change := surface.Event{Delta: &surface.Delta{Seq: 3, Node: &surface.Node{ID: "b@p", Status: surface.Failure}}}
	lane := surface.Event{Delta: &surface.Delta{Seq: 4, Lane: &surface.Lane{Platform: "q", Phase: surface.PhaseDone}}}
	for _, tc := range []struct {
		name              string
		ev                surface.Event
		nodes, transition []string
		lanes             []string
	}{
		{"snapshot", snap, []string{"a@p:success", "b@p:running"}, []string{"a@p:running", "a@p:success", "b@p:running"}, []string{"p"}},
		{"node change", change, []string{"b@p:failure"}, []string{"b@p:failure"}, nil},
		{"lane change", lane, nil, nil, []string{"q"}},
		{"nothing", surface.Event{}, nil, nil, nil},
	} {
		if got := ids(slices.Collect(tc.ev.Nodes())); !slices.Equal(got, tc.nodes) {
			t.Errorf("%s: Nodes() = %q, want %q", tc.name, got, tc.nodes)
		}
		if got := ids(slices.Collect(tc.ev.Transitions())); !slices.Equal(got, tc.transition) {
			t.Errorf("%s: Transitions() = %q, want %q", tc.name, got, tc.transition)
		}
		var lanes []string
		for l := range tc.ev.Lanes() {
			lanes = append(lanes, l.Platform)
		}
		if !slices.Equal(lanes, tc.lanes) {
			t.Errorf("%s: Lanes() = %q, want %q", tc.name, lanes, tc.lanes)
		}
	}
	for range snap.Transitions() {
		break // the iterator must not call yield again: range panics if it does
	}
	for range snap.Nodes() {
		break
	}
}
