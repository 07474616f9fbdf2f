package runstate_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/surface"
)

// ranFor is a finished node of a record: status, after running ms.
func ranFor(id string, status surface.Status, ms int64) surface.Node {
	started := time.Now()
	return surface.Node{ID: id, Name: id, Status: status, Attempt: 1, Started: &started, DurationMS: ms}
}

func writeRun(t *testing.T, root string, nodes ...surface.Node) {
	t.Helper()
	now := time.Now()
	st := surface.State{Run: surface.Run{SHA: sha, Started: now, Ended: &now}, Nodes: nodes}
	if _, err := runstate.WriteRecord(root, st); err != nil {
		t.Fatal(err)
	}
}

// A node's expectation is the median of its last 10 successful
// attempts, newest records first; failures and results carried over from
// another run say nothing of how long it takes.
func TestExpectationsMedianOfLastSuccesses(t *testing.T) {
	root := t.TempDir()
	for i := int64(1); i <= 12; i++ {
		writeRun(t, root, ranFor("build@x86_64-linux", surface.Success, i*100))
	}
	carried := ranFor("build@x86_64-linux", surface.Success, 1_000_000)
	carried.Carried = filepath.Join(".ci", sha, "runs", "1.json")
	writeRun(t, root, ranFor("build@x86_64-linux", surface.Failure, 99_999), ranFor("test@x86_64-linux", surface.Success, 40))
	writeRun(t, root, carried, ranFor("test@x86_64-linux", surface.Success, 20))
	// A record that cannot be read is passed over.
	if err := os.WriteFile(filepath.Join(root, ".ci", sha, "runs", "99.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := runstate.Expectations(root, []surface.Node{{ID: "build@x86_64-linux"}, {ID: "test@x86_64-linux"}, {ID: "new@x86_64-linux"}})
	// build: 300..1200 ms, the last ten; the median is (700+800)/2.
	want := map[string]time.Duration{"build@x86_64-linux": 750 * time.Millisecond, "test@x86_64-linux": 30 * time.Millisecond}
	if len(got) != len(want) {
		t.Errorf("Expectations = %v, want %v", got, want)
	}
	for id, d := range want {
		if got[id] != d {
			t.Errorf("Expectations[%s] = %v, want %v", id, got[id], d)
		}
	}
}

// Reading the history is bounded: only the newest ExpectRecords records
// are read, however many there are.
func TestExpectationsReadsBoundedRecords(t *testing.T) {
	root := t.TempDir()
	writeRun(t, root, ranFor("old@x86_64-linux", surface.Success, 500))
	for range runstate.ExpectRecords {
		writeRun(t, root, ranFor("build@x86_64-linux", surface.Failure, 10))
	}
	if got := runstate.Expectations(root, []surface.Node{{ID: "old@x86_64-linux"}}); len(got) != 0 {
		t.Errorf("Expectations read a record older than the newest %d: %v", runstate.ExpectRecords, got)
	}
	// One record fewer, and it is read.
	root = t.TempDir()
	writeRun(t, root, ranFor("old@x86_64-linux", surface.Success, 500))
	for range runstate.ExpectRecords - 1 {
		writeRun(t, root, ranFor("build@x86_64-linux", surface.Failure, 10))
	}
	if got := runstate.Expectations(root, []surface.Node{{ID: "old@x86_64-linux"}}); got["old@x86_64-linux"] != 500*time.Millisecond {
		t.Errorf("Expectations = %v, want old@x86_64-linux at 500ms", got)
	}
}
