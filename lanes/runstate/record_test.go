package runstate_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/surface"
)

// sha is the commit the records in these tests are for.
const sha = "0123456789abcdef0123456789abcdef01234567"

func recordState(status surface.Status) surface.State {
	return surface.State{
		Run:   surface.Run{SHA: sha, Started: time.Now(), PID: 4242},
		Nodes: []surface.Node{{ID: "build@x86_64-linux", Name: "build", Status: status, Attempt: 1}},
	}
}

// A record is replaced by a rename, never rewritten in place: a reader
// (or a power cut) sees the old record whole or the new one, never an
// empty or half-written file; and nothing is left beside it.
func TestRecordReplacedWhole(t *testing.T) {
	root := t.TempDir()
	rec, err := runstate.NewRecord(root, recordState(surface.Running))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(".ci", sha, "runs", "1.json"); rec.Rel() != want {
		t.Fatalf("NewRecord: %s, want %s", rec.Rel(), want)
	}
	old, err := os.Open(filepath.Join(root, rec.Rel()))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	before, _ := os.ReadFile(filepath.Join(root, rec.Rel()))
	if err := rec.Final(recordState(surface.Success)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(before)+100)
	n, _ := old.ReadAt(buf, 0)
	if string(buf[:n]) != string(before) {
		t.Errorf("the record was rewritten in place: the file that was open now holds\n%s", buf[:n])
	}
	// After the final state, a late update changes nothing.
	if err := rec.Update(recordState(surface.Running)); err != nil {
		t.Fatal(err)
	}
	st, rel, err := runstate.LastRecord(root)
	if err != nil || rel != rec.Rel() || st.Nodes[0].Status != surface.Success {
		t.Errorf("LastRecord = %v, %s, %v; want the final record %s", st.Nodes, rel, err, rec.Rel())
	}
	for _, dir := range []string{filepath.Join(root, ".ci"), filepath.Join(root, ".ci", sha, "runs")} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".tmp") {
				t.Errorf("left behind: %s", filepath.Join(dir, e.Name()))
			}
		}
	}
	// The next run of the commit gets the next number.
	next, err := runstate.NewRecord(root, recordState(surface.Pending))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(".ci", sha, "runs", "2.json"); next.Rel() != want {
		t.Errorf("second NewRecord: %s, want %s", next.Rel(), want)
	}
}

// A record without an end (its run was killed) does not say that its
// nodes are still pending or running.
func TestRecordUnfinished(t *testing.T) {
	root := t.TempDir()
	if _, err := runstate.NewRecord(root, recordState(surface.Running)); err != nil {
		t.Fatal(err)
	}
	st, _, err := runstate.LastRecord(root)
	if err != nil {
		t.Fatal(err)
	}
	if n := st.Nodes[0]; n.Status != surface.Errored || !strings.Contains(n.Reason, "without finishing") || !strings.Contains(n.Reason, "4242") {
		t.Errorf("node of a killed run: %s %q, want error, without finishing, pid 4242", n.Status, n.Reason)
	}
}

// A committed .ci/<sha> linked elsewhere is not written through.
func TestRecordRefusesLinkedDir(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	if err := os.Mkdir(filepath.Join(root, ".ci"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, ".ci", sha)); err != nil {
		t.Fatal(err)
	}
	_, err := runstate.NewRecord(root, recordState(surface.Pending))
	var se *runstate.StateError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("NewRecord through a link: %v, want a StateError about the link", err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("wrote through the link: %s holds %v", outside, entries)
	}
}
