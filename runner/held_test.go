package runner_test

import (
	"testing"

	"github.com/odu-ci/odu/surface"
)

// TestHeldNodeWaitsForItsCoordinator: a held node (a sharded recipe's
// aggregate) runs nothing: once its dependencies succeeded it is running
// until its coordinator settles it, and what depends on it waits until
// then; a settle of a node that is not held is refused.
func TestHeldNodeWaitsForItsCoordinator(t *testing.T) {
	l := startWith(t, `
[metadata("ci")]
ci: e2e
    @echo after

build:
    @echo build

e2e: build
    @echo never run here
`, 2, func(cfg *surface.Config) {
		for i, n := range cfg.Nodes {
			if n.ID == id("e2e") {
				cfg.Nodes[i].Held, cfg.Nodes[i].Command = true, nil
			}
		}
	})
	w, err := l.cl.Watch()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for {
		ev, err := w.Next(tctx(t))
		if err != nil {
			t.Fatalf("waiting for e2e to run (held): %v", err)
		}
		_ = ev
		if st := w.State(); st.Node(id("e2e")) != nil && st.Node(id("e2e")).Status == surface.Running {
			break
		}
	}
	if st := w.State(); st.Node(id("ci")).Status != surface.Pending {
		n := st.Node(id("ci"))
		t.Errorf("ci while e2e is held: %s, want pending", n.Status)
	}
	if err := l.cl.Settle(tctx(t), id("build"), surface.Failure, "no"); err == nil {
		t.Errorf("settle of build (not held) was taken")
	}
	if err := l.cl.Settle(tctx(t), id("e2e"), surface.Success, "4 of 4 shards ran"); err != nil {
		t.Fatal(err)
	}
	st, _ := l.settle(t)
	for _, name := range []string{"build", "e2e", "ci"} {
		if n := st.Node(id(name)); n.Status != surface.Success {
			t.Errorf("%s: %s, want success", name, n.Status)
		}
	}
	if got, _ := l.log(t, id("e2e"), 0); string(got) != "[odu] 4 of 4 shards ran\n" {
		t.Errorf("e2e's log = %q, want the reason it was settled with", got)
	}
	if got, _ := l.log(t, id("ci"), 0); string(got) != "after\n" {
		t.Errorf("ci's log = %q, want it ran after e2e was settled", got)
	}
	if err := l.cl.Settle(tctx(t), id("e2e"), surface.Failure, "again"); err == nil {
		t.Errorf("a second settle of e2e was taken")
	}
}
