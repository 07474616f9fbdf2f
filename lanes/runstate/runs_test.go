package runstate_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/surface"
)

// finished records a finished run of commit, started at start, whose
// nodes ended as statuses; it returns its ref.
func finished(t *testing.T, root, commit string, start time.Time, statuses ...surface.Status) string {
	t.Helper()
	st := surface.State{Run: surface.Run{SHA: commit, Started: start, PID: 4242, Branch: "main", Subject: "subject of " + commit[:4]}}
	for i, s := range statuses {
		st.Nodes = append(st.Nodes, surface.Node{ID: fmt.Sprintf("n%d@x86_64-linux", i), Status: s, Attempt: 1})
	}
	rec, err := runstate.NewRecord(root, st)
	if err != nil {
		t.Fatal(err)
	}
	end := start.Add(3 * time.Second)
	st.Run.Ended = &end
	st.Run.Ref = runstate.FormatRef(commit, rec.N())
	if err := rec.Final(st); err != nil {
		t.Fatal(err)
	}
	return st.Run.Ref
}

func refs(runs []runstate.RunEntry) []string {
	var out []string
	for _, e := range runs {
		out = append(out, e.Ref)
	}
	return out
}

const other = "fedcba9876543210fedcba9876543210fedcba98"

// The runs are listed newest first, each summed up as `odu runs` shows
// it; the list is the same from the index and, with the index gone or
// stale, from the records.
func TestListRuns(t *testing.T) {
	root := t.TempDir()
	t0 := time.Now().Add(-time.Hour)
	a1 := finished(t, root, sha, t0, surface.Success, surface.Failure)
	b1 := finished(t, root, other, t0.Add(time.Minute), surface.Success)
	a2 := finished(t, root, sha, t0.Add(2*time.Minute), surface.Success, surface.Success)
	if a1 != "0123456#1" || a2 != "0123456#2" || b1 != "fedcba9#1" {
		t.Fatalf("refs %s %s %s, want 0123456#1 0123456#2 fedcba9#1", a1, a2, b1)
	}
	want := []string{a2, b1, a1}
	runs, err := runstate.ListRuns(root)
	if err != nil || !slices.Equal(refs(runs), want) {
		t.Fatalf("ListRuns = %v, %v; want %v", refs(runs), err, want)
	}
	red := runs[2]
	if red.Verdict != runstate.VerdictFailed || red.Counts["failure"] != 1 || red.Counts["success"] != 1 ||
		!slices.Equal(red.NotOK, []string{"n1@x86_64-linux"}) || red.DurationMS != 3000 || red.Subject != "subject of 0123" {
		t.Errorf("run %s listed as %+v, want failed, 1 success and 1 failure, n1 not ok, 3 s", a1, red)
	}
	if runs[0].Verdict != runstate.VerdictPassed {
		t.Errorf("run %s listed as %s, want passed", a2, runs[0].Verdict)
	}

	// Gone: rebuilt from the records, and written again.
	index := filepath.Join(root, ".ci", "odu.runs.json")
	if err := os.Remove(index); err != nil {
		t.Fatal(err)
	}
	if runs, err := runstate.ListRuns(root); err != nil || !slices.Equal(refs(runs), want) {
		t.Errorf("ListRuns without an index = %v, %v; want %v", refs(runs), err, want)
	}
	if _, err := os.Stat(index); err != nil {
		t.Errorf("the index was not written again: %v", err)
	}

	// Stale: a record the index does not list (an odu that kept none
	// wrote it) is the last run; the list has it.
	data, _ := os.ReadFile(index)
	b2 := finished(t, root, other, t0.Add(3*time.Minute), surface.Cancelled)
	if err := os.WriteFile(index, data, 0o600); err != nil {
		t.Fatal(err)
	}
	want = append([]string{b2}, want...)
	if runs, err := runstate.ListRuns(root); err != nil || !slices.Equal(refs(runs), want) {
		t.Errorf("ListRuns with a stale index = %v, %v; want %v", refs(runs), err, want)
	}
}

// A run's start adds its entry to the index without reading the other
// records. (It named itself in odu.last first, which made the index look
// stale: every run's start read every record of the checkout.) Seen here
// by a record spoiled after the index listed it: a rebuild would drop it
// from the list.
func TestNewRunKeepsIndex(t *testing.T) {
	root := t.TempDir()
	t0 := time.Now().Add(-time.Hour)
	a1 := finished(t, root, sha, t0, surface.Success)
	e, err := runstate.ResolveRun(root, a1)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, e.Record), []byte("spoiled"), 0o600); err != nil {
		t.Fatal(err)
	}
	a2 := finished(t, root, sha, t0.Add(time.Minute), surface.Success)
	want := []string{a2, a1}
	if runs, err := runstate.ListRuns(root); err != nil || !slices.Equal(refs(runs), want) {
		t.Errorf("ListRuns = %v, %v; want %v (the index as it was, plus the new run)", refs(runs), err, want)
	}
}

// Writers in one checkout (runs and prunes) take turns on the index's
// lock: none loses another's change. Here many runs end at once; the
// index must have each one's end (the list would mend a lost one by
// reading its record again, which is what the index is there to avoid).
func TestIndexConcurrentWriters(t *testing.T) {
	root := t.TempDir()
	const n = 24
	var recs []*runstate.Record
	var states []surface.State
	for i := range n {
		st := surface.State{Run: surface.Run{SHA: fmt.Sprintf("%040x", i+1), Started: time.Now(), PID: 4242},
			Nodes: []surface.Node{{ID: "build@x86_64-linux", Status: surface.Running, Attempt: 1}}}
		rec, err := runstate.NewRecord(root, st)
		if err != nil {
			t.Fatal(err)
		}
		end := time.Now()
		st.Run.Ended, st.Nodes[0].Status = &end, surface.Success
		recs, states = append(recs, rec), append(states, st)
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := recs[i].Final(states[i]); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	data, err := os.ReadFile(filepath.Join(root, ".ci", "odu.runs.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got, ended := strings.Count(string(data), `"ref":`), strings.Count(string(data), `"ended":`); got != n || ended != n {
		t.Errorf("the index lists %d runs, %d of them ended; want %d, all ended:\n%s", got, ended, n, data)
	}
}

// A ref is latest, <sha>#<n>, or a prefix of one commit (its newest
// run); one that names no run, or several commits, lists candidates.
func TestResolveRun(t *testing.T) {
	root := t.TempDir()
	if _, err := runstate.ResolveRun(root, "latest"); !errors.Is(err, runstate.ErrNoRecord) {
		t.Errorf("ResolveRun with no runs = %v, want ErrNoRecord", err)
	}
	t0 := time.Now().Add(-time.Hour)
	twin := "0123aaaa" + sha[8:] // shares 0123 with sha
	finished(t, root, sha, t0, surface.Success)
	finished(t, root, sha, t0.Add(time.Minute), surface.Failure)
	finished(t, root, twin, t0.Add(2*time.Minute), surface.Success)
	for _, c := range []struct{ ref, want string }{
		{"", "0123aaa#1"},
		{"latest", "0123aaa#1"},
		{"0123456#1", "0123456#1"},
		{sha + "#2", "0123456#2"},
		{"012345", "0123456#2"},
		{"0123AAAA", "0123aaa#1"},
	} {
		e, err := runstate.ResolveRun(root, c.ref)
		if err != nil || e.Ref != c.want {
			t.Errorf("ResolveRun(%q) = %s, %v; want %s", c.ref, e.Ref, err, c.want)
		}
	}
	for _, c := range []struct{ ref, problem, candidates string }{
		{"0123", "2 recorded commits begin 0123", "0123aaaa89ab, 0123456789ab"},
		{"0123456#3", "commit 0123456 has no run #3", "0123456#2, 0123456#1"},
		{"9999", "no recorded run is of a commit beginning 9999", "0123aaa#1, 0123456#2, 0123456#1"},
		{"0123456#x", "#x is not a run number", ""},
		{"12", "not a run: give latest, or at least 4 hex digits of a commit", "0123aaa#1, 0123456#2, 0123456#1"},
	} {
		_, err := runstate.ResolveRun(root, c.ref)
		var re *runstate.RefError
		if !errors.As(err, &re) || re.Problem != c.problem || strings.Join(re.Candidates, ", ") != c.candidates {
			t.Errorf("ResolveRun(%q) = %v, want a RefError %q with candidates %q", c.ref, err, c.problem, c.candidates)
		}
	}
}

// Pruning removes the records and logs of runs older than the cutoff,
// except the newest run of each commit and a live run.
func TestPruneRuns(t *testing.T) {
	root := t.TempDir()
	t0 := time.Now().Add(-48 * time.Hour)
	old1 := finished(t, root, sha, t0, surface.Success)
	// A live run of sha, started before the newest: held by this process.
	ln, err := runstate.Listen(root, runstate.RunningError{PID: os.Getpid(), SHA: sha, Started: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	live, err := runstate.NewRecord(root, surface.State{Run: surface.Run{SHA: sha, Started: t0.Add(time.Minute), PID: os.Getpid()}})
	if err != nil {
		t.Fatal(err)
	}
	old3 := finished(t, root, sha, t0.Add(2*time.Minute), surface.Failure)
	newest := finished(t, root, sha, t0.Add(3*time.Minute), surface.Success)
	onlyB := finished(t, root, other, t0, surface.Success)
	// The old runs have logs in their directories.
	for _, n := range []int{1, 3} {
		dir := filepath.Join(root, runstate.RunDirRel(sha, n), "x86_64-linux")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "build.log"), make([]byte, 1000), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	p, err := runstate.PruneRuns(root, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{old3, old1}; !slices.Equal(p.Runs, want) || p.Bytes < 2000 {
		t.Errorf("PruneRuns = %v, %d bytes; want %v, over 2000 bytes", p.Runs, p.Bytes, want)
	}
	runs, err := runstate.ListRuns(root)
	want := []string{newest, runstate.FormatRef(sha, live.N()), onlyB}
	if err != nil || !slices.Equal(refs(runs), want) {
		t.Errorf("after pruning, ListRuns = %v, %v; want %v", refs(runs), err, want)
	}
	for _, gone := range []string{"1.json", "1", "3.json", "3"} {
		if _, err := os.Stat(filepath.Join(root, ".ci", sha, "runs", gone)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there after pruning (%v)", gone, err)
		}
	}
	if runs[1].Verdict != runstate.VerdictLive {
		t.Errorf("the live run is listed as %s, want live", runs[1].Verdict)
	}
}

// A run's attempts: the newest is the log itself, an earlier one beside it.
func TestAttemptLog(t *testing.T) {
	log := runstate.RunLogRel(sha, 2, "x86_64-linux", "test")
	if want := filepath.Join(".ci", sha, "runs", "2", "x86_64-linux", "test.log"); log != want {
		t.Errorf("RunLogRel = %s, want %s", log, want)
	}
	for _, c := range []struct {
		newest, k int
		want      string
	}{{3, 3, log}, {3, 0, log}, {3, 1, strings.TrimSuffix(log, ".log") + ".1.log"}} {
		if got := runstate.AttemptLog(log, c.newest, c.k); got != c.want {
			t.Errorf("AttemptLog(%s, %d, %d) = %s, want %s", log, c.newest, c.k, got, c.want)
		}
	}
}
