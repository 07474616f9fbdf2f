package surface_test

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"

	"github.com/odu-ci/odu/surface"
)

// TestSnapshotAtReplaysEveryChange: a subscriber that asks for the changes
// since seq 0 after a node already went pending → running → success (a
// node of 14 ms, finished before the coordinator subscribed to its runner)
// gets the first state and each transition, not the end alone; and after
// the history was trimmed many times, the state at the oldest seq kept
// plus the changes since is the current state.
func TestSnapshotAtReplaysEveryChange(t *testing.T) {
	st := newStore(t, "a@p", "b@p")
	st.UpdateNode("a@p", func(n *surface.Node) { n.Status = surface.Running })
	st.SetLane(surface.Lane{Platform: "p", Phase: surface.PhaseRunning})
	st.UpdateNode("a@p", func(n *surface.Node) { n.Status = surface.Success })

	snap, ok := st.SnapshotAt(0)
	if !ok {
		t.Fatal("SnapshotAt(0) of a new store: not ok")
	}
	if got := snap.Node("a@p").Status; got != surface.Pending || snap.Seq != 0 || len(snap.Lanes) != 0 {
		t.Fatalf("SnapshotAt(0) = seq %d, a@p %s, %d lanes; want seq 0, pending, no lane", snap.Seq, got, len(snap.Lanes))
	}
	deltas, reset, _, _ := st.Since(0)
	if reset != nil {
		t.Fatal("Since(0) gave a snapshot")
	}
	var got []surface.Status
	for _, d := range deltas {
		if d.Node != nil && d.Node.ID == "a@p" {
			got = append(got, d.Node.Status)
		}
	}
	if want := []surface.Status{surface.Running, surface.Success}; !reflect.DeepEqual(got, want) {
		t.Errorf("a@p's changes since 0 = %v, want %v", got, want)
	}

	// Many more changes than the history holds: the oldest state kept,
	// with the changes since, is the state now.
	for i := range 10_000 {
		st.UpdateNode("b@p", func(n *surface.Node) { n.Attempt = i })
		if i%7 == 0 {
			st.SetLane(surface.Lane{Platform: fmt.Sprint("q", i%3), Phase: surface.PhaseRunning})
		}
	}
	if _, ok := st.SnapshotAt(0); ok {
		t.Error("SnapshotAt(0) after 10,000 changes: ok, but the history holds fewer")
	}
	now := st.Snapshot()
	oldest := now.Seq
	for oldest > 0 {
		if _, ok := st.SnapshotAt(oldest - 1); !ok {
			break
		}
		oldest--
	}
	if now.Seq-oldest < 3000 {
		t.Fatalf("the history holds %d changes, want thousands", now.Seq-oldest)
	}
	base, _ := st.SnapshotAt(oldest)
	deltas, reset, _, _ = st.Since(oldest)
	if reset != nil {
		t.Fatalf("Since(%d) gave a snapshot, though SnapshotAt(%d) is ok", oldest, oldest)
	}
	for _, d := range deltas {
		base.Apply(d)
	}
	if !reflect.DeepEqual(base, now) {
		t.Errorf("SnapshotAt(%d) and the changes since = %+v\nwant the state now %+v", oldest, base, now)
	}
}

// TestWatchFromStartSeesEveryTransition: over the wire, a face that
// subscribes from seq 0 after a node finished gets the first state, then
// running, then success, as `odu run --progress json` must show them.
func TestWatchFromStartSeesEveryTransition(t *testing.T) {
	st := newStore(t, "a@p")
	st.UpdateNode("a@p", func(n *surface.Node) { n.Status = surface.Running })
	st.UpdateNode("a@p", func(n *surface.Node) { n.Status = surface.Success })
	st.Close()
	conn, _ := serve(t, st)
	var from uint64
	w, err := client(t, conn).WatchFrom(surface.NodesGetParams{From: &from})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var got []surface.Status
	for {
		ev, err := w.Next(ctx(t))
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case ev.Snapshot != nil:
			got = append(got, ev.Snapshot.Node("a@p").Status)
		case ev.Delta != nil && ev.Delta.Node != nil:
			got = append(got, ev.Delta.Node.Status)
		}
	}
	if want := []surface.Status{surface.Pending, surface.Running, surface.Success}; !reflect.DeepEqual(got, want) {
		t.Errorf("a face watching from 0 saw %v, want %v", got, want)
	}
}

// TestMissedKeepsEveryTransition: a subscriber that fell behind the
// history is sent a fresh state, and with it every transition (a node's
// new status or attempt) it did not get, in order; other changes
// (durations, log sizes, posts) are what is coalesced.
func TestMissedKeepsEveryTransition(t *testing.T) {
	st := newStore(t, "a@p", "b@p")
	st.UpdateNode("a@p", func(n *surface.Node) { n.Status = surface.Running })
	for i := range 10_000 {
		if i == 5_000 {
			st.UpdateNode("b@p", func(n *surface.Node) { n.Status = surface.Running })
		}
		st.UpdateNode("b@p", func(n *surface.Node) { n.DurationMS = int64(i) })
	}
	st.UpdateNode("b@p", func(n *surface.Node) { n.Status = surface.Success })
	st.UpdateNode("a@p", func(n *surface.Node) { n.Status, n.Attempt = surface.Pending, 2 })
	_, reset, _, _ := st.Since(1)
	if reset == nil {
		t.Fatal("Since(1) after 10,000 changes: no fresh state")
	}
	var got []string
	for _, n := range st.Missed(1, reset.Seq) {
		got = append(got, fmt.Sprintf("%s %s %d", n.ID, n.Status, n.Attempt))
	}
	want := []string{"b@p running 1", "b@p success 1", "a@p pending 2"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Missed(1, %d) = %q, want %q", reset.Seq, got, want)
	}
}
