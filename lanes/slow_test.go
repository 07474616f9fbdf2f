package lanes_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/odu-ci/odu/lanes"
	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/platform"
	"github.com/odu-ci/odu/surface"
)

// waitNode waits, on the store's changes, until the node is as ok says.
func waitNode(t *testing.T, c *lanes.Coordinator, id string, ok func(surface.Node) bool) surface.Node {
	t.Helper()
	st := c.Store()
	deadline := time.After(60 * time.Second)
	for {
		_, _, wait, _ := st.Since(st.Snapshot().Seq)
		if n, found := st.Node(id); found && ok(n) {
			return n
		}
		select {
		case <-wait:
		case <-deadline:
			n, _ := st.Node(id)
			t.Fatalf("%s did not get there within a minute: %+v", id, n)
		}
	}
}

// A node's expectation comes from the checkout's records, and a node
// that runs three times beyond it, and a minute over, is marked slow and
// goes on running.
func TestSlowNodeMarkedNotStopped(t *testing.T) {
	id := "hold@" + string(platform.Local())
	c, root := startPrepared(t, "[metadata(\"ci\")]\nhold:\n    @while [ ! -e go ]; do sleep 0.02; done\n", "", false, func(root string) {
		started := time.Now()
		st := surface.State{Run: surface.Run{SHA: sha, Started: started, Ended: &started},
			Nodes: []surface.Node{{ID: id, Status: surface.Success, Attempt: 1, Started: &started, DurationMS: 1000}}}
		if _, err := runstate.WriteRecord(root, st); err != nil {
			t.Fatal(err)
		}
	})
	n := waitNode(t, c, id, func(n surface.Node) bool { return n.Status == surface.Running })
	if n.ExpectedMS != 1000 {
		t.Fatalf("%s expects %d ms, want 1000 (its record)", id, n.ExpectedMS)
	}
	// 60.9 s: 61 times its expectation, but not yet a minute over.
	c.MarkSlow(n.Started.Add(60900 * time.Millisecond))
	if n, _ := c.Store().Node(id); n.Slow {
		t.Fatalf("%s is slow 59.9 s over its expectation", id)
	}
	c.MarkSlow(n.Started.Add(61 * time.Second))
	if n, _ := c.Store().Node(id); !n.Slow || n.Status != surface.Running {
		t.Fatalf("a minute over its expectation, %s is %s, slow %v; want running, slow", id, n.Status, n.Slow)
	}
	if err := os.WriteFile(filepath.Join(root, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	n = waitNode(t, c, id, func(n surface.Node) bool { return n.Status.Terminal() })
	if n.Status != surface.Success || !n.Slow {
		t.Errorf("%s ended %s, slow %v; want success, and still marked slow", id, n.Status, n.Slow)
	}
}
