package mcp_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// runEntry is an entry of the runs tool's list, as odu runs -o json has it.
type runEntry struct {
	Ref     string         `json:"ref"`
	SHA     string         `json:"sha"`
	N       int            `json:"n"`
	Verdict string         `json:"verdict"`
	Counts  map[string]int `json:"counts"`
	NotOK   []string       `json:"not_ok"`
}

type runsOut struct {
	Runs []runEntry `json:"runs"`
	More int        `json:"more"`
}

// TestRunHistory: runs are named by their refs, as odu run prints them;
// the run argument of status, wait and logs takes a ref, or a commit's
// prefix; logs takes an attempt, which gives the bytes of that attempt's
// file; the runs tool lists a commit's two runs as odu runs does; a ref
// that names no run is the CLI's error, with the candidates.
func TestRunHistory(t *testing.T) {
	c := newCheckout(t, failing)
	s := c.serve()
	sha7 := strings.TrimSpace(c.git("rev-parse", "HEAD"))[:7]
	ref1, ref2 := sha7+"#1", sha7+"#2"

	// Run 1: bad fails; fixed, it is rerun, and the run passes.
	var run runOut
	s.call("run", map[string]any{"no_strict": true}, &run)
	c.started(run)
	if run.Run.Ref != ref1 || run.Run.Record != filepath.Join(".ci", run.Run.Commit, "runs", "1.json") {
		t.Fatalf("run = %+v, want ref %s and its record", run.Run, ref1)
	}
	var w waitOut
	s.call("wait", map[string]any{"run": ref1, "fail_fast": true}, &w)
	bad := find(w.Failed, "bad")
	if w.Outcome != "failed_early" || w.Run.Ref != ref1 || !w.Run.Live || bad == nil {
		t.Fatalf("wait run %s (fail_fast) = %+v, want bad's failure in the live run", ref1, w)
	}
	attempt1 := strings.TrimSuffix(bad.Log, ".log") + ".1.log" // README: Run history
	c.write("fixed", "")
	s.call("rerun", map[string]any{"node": "bad"}, nil)
	// The live run's earlier attempt is over: its file answers.
	s.untilLog("bad", "fixed now")
	first, err := os.ReadFile(filepath.Join(c.dir, attempt1))
	if err != nil {
		t.Fatalf("attempt 1 of bad was not kept: %v", err)
	}
	if !strings.Contains(string(first), "bad: cannot go on") || strings.Contains(string(first), "fixed now") {
		t.Fatalf("%s = %q, want attempt 1's failure", attempt1, lastLines(string(first), 2))
	}
	var lo struct {
		Attempt  int  `json:"attempt"`
		EOF      bool `json:"eof"`
		Finished bool `json:"finished"`
		Run      runID
	}
	if got := s.call("logs", map[string]any{"node": "bad", "attempt": 1, "limit": 1 << 20}, &lo); got != string(first) || lo.Attempt != 1 || !lo.EOF || !lo.Finished {
		t.Errorf("logs bad attempt 1 while the run is live = %d bytes (%+v), want %s's %d bytes", len(got), lo, attempt1, len(first))
	}
	var st statusOut
	s.call("status", map[string]any{"run": ref1}, &st)
	if st.Run.Ref != ref1 || !st.Run.Live || st.Verdict != "running" {
		t.Errorf("status run %s while it is live = %+v, want the live run", ref1, st.Run)
	}
	c.write("gate", "")
	s.call("wait", map[string]any{"run": ref1}, &w)
	if w.Outcome != "settled" || w.Verdict != "passed" || w.Run.Ref != ref1 {
		t.Fatalf("wait run %s = %+v, want it settled and passed", ref1, w)
	}
	waitGone(t, run.Run.PID, 30*time.Second)
	out, err := os.ReadFile(filepath.Join(c.dir, run.Output))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "run "+ref1) {
		t.Errorf("odu run's output does not name the ref %s the tool returned:\n%s", ref1, out)
	}

	// Run 2 of the same commit fails.
	if err := os.Remove(filepath.Join(c.dir, "fixed")); err != nil {
		t.Fatal(err)
	}
	s.call("run", map[string]any{"no_strict": true}, &run)
	c.started(run)
	if run.Run.Ref != ref2 {
		t.Fatalf("the second run = %+v, want ref %s", run.Run, ref2)
	}
	s.call("wait", nil, &w)
	if w.Outcome != "settled" || w.Verdict != "failed" || w.Run.Ref != ref2 {
		t.Fatalf("wait = %+v, want run %s settled and failed", w, ref2)
	}
	waitGone(t, run.Run.PID, 30*time.Second)

	// runs: both, newest first, as odu runs -o json lists them.
	var rs runsOut
	txt := s.call("runs", nil, &rs)
	cli, code := c.odu("runs", "-o", "json")
	if code != 0 {
		t.Fatalf("odu runs -o json: exit %d\n%s", code, cli)
	}
	if txt != cli {
		t.Errorf("runs =\n%s\nwant what odu runs -o json prints:\n%s", txt, cli)
	}
	var want []runEntry
	if err := json.Unmarshal([]byte(cli), &want); err != nil {
		t.Fatalf("odu runs -o json: %v", err)
	}
	if len(rs.Runs) != 2 || rs.More != 0 || rs.Runs[0].Ref != ref2 || rs.Runs[0].Verdict != "failed" ||
		rs.Runs[1].Ref != ref1 || rs.Runs[1].Verdict != "passed" || len(rs.Runs[0].NotOK) != 1 || rs.Runs[0].Counts["success"] != 2 {
		t.Errorf("runs = %+v, want %s failed (bad not ok, two successes), then %s passed", rs, ref2, ref1)
	}
	s.call("runs", map[string]any{"limit": 1}, &rs)
	if len(rs.Runs) != 1 || rs.Runs[0].Ref != ref2 || rs.More != 1 {
		t.Errorf("runs limit 1 = %+v, want %s, and one more not listed", rs, ref2)
	}

	// The run argument: a ref, a commit's prefix (its newest run), latest.
	for _, tc := range []struct{ arg, ref, verdict string }{
		{ref1, ref1, "passed"}, {ref2, ref2, "failed"}, {sha7[:5], ref2, "failed"}, {"latest", ref2, "failed"}, {"", ref2, "failed"},
	} {
		s.call("status", map[string]any{"run": tc.arg}, &st)
		if st.Run.Ref != tc.ref || st.Run.Live || st.Verdict != tc.verdict {
			t.Errorf("status run %q = %+v %s, want %s %s, not live", tc.arg, st.Run, st.Verdict, tc.ref, tc.verdict)
		}
	}
	s.call("wait", map[string]any{"run": ref1}, &w)
	if w.Outcome != "settled" || w.Verdict != "passed" || w.Run.Ref != ref1 || len(w.Failed) != 0 {
		t.Errorf("wait run %s, over = %+v, want its verdict at once: passed", ref1, w)
	}
	// Run 1's bad passed on attempt 2, and kept attempt 1; run 2's failed.
	if got := s.call("logs", map[string]any{"node": "bad", "run": ref1, "attempt": 1, "limit": 1 << 20}, nil); got != string(first) {
		t.Errorf("logs bad run %s attempt 1 = %q, want %s's bytes", ref1, lastLines(got, 2), attempt1)
	}
	if got := s.call("logs", map[string]any{"node": "bad", "run": ref1, "tail": 1}, nil); got != "fixed now\n" {
		t.Errorf("logs bad run %s tail 1 = %q, want attempt 2's last line", ref1, got)
	}
	if got := s.call("logs", map[string]any{"node": "bad", "tail": 2}, nil); !strings.HasPrefix(got, "bad: cannot go on\n") {
		t.Errorf("logs bad tail 2 (latest, run %s) = %q, want its failure", ref2, got)
	}
	if got := s.callErr("logs", map[string]any{"node": "bad", "run": ref1, "attempt": 3}); !strings.Contains(got, "has had 2 attempts") || !strings.Contains(got, "from 1 to 2") {
		t.Errorf("logs bad attempt 3 = %q, want that it had 2 attempts", got)
	}

	// A ref that names no run: the CLI's error, candidates and hint.
	for _, ref := range []string{sha7 + "#9", "ffff", "nope"} {
		cli, code := c.odu("status", "--run", ref)
		if code != 2 {
			t.Fatalf("odu status --run %s: exit %d, want 2\n%s", ref, code, cli)
		}
		got := s.callErr("status", map[string]any{"run": ref})
		if want := strings.TrimSpace(strings.TrimPrefix(cli, "odu: ")); got != want || !strings.Contains(got, ref2) || !strings.Contains(got, "hint:") {
			t.Errorf("status run %s = %q, want what odu status --run says, candidates and hint:\n%q", ref, got, want)
		}
		if got2 := s.callErr("logs", map[string]any{"node": "bad", "run": ref}); got2 != got {
			t.Errorf("logs run %s = %q, want the same error as status: %q", ref, got2, got)
		}
	}
}

// TestSupersede: the run tool with supersede replaces the live run, as
// odu run --supersede does: the live run is cancelled and recorded as
// superseded, and the new one starts once it has ended.
func TestSupersede(t *testing.T) {
	gate := filepath.Join(t.TempDir(), "gate")
	c := newCheckout(t, long(gate))
	s := c.serve()
	var run1, run2 runOut
	s.call("run", map[string]any{"no_strict": true}, &run1)
	c.started(run1)
	// Once long runs: the run to supersede is under way.
	s.untilLog("long", "started long")
	if got := s.callErr("run", map[string]any{"no_strict": true}); !strings.Contains(got, "--supersede") {
		t.Errorf("a second run without supersede = %q, want the refusal, whose hint names --supersede", got)
	}
	txt := s.call("run", map[string]any{"no_strict": true, "supersede": true}, &run2)
	c.started(run2)
	sha7 := run1.Run.Commit[:7]
	if run2.Run.Ref != sha7+"#2" || !run2.Run.Live || run2.Run.PID == run1.Run.PID || run2.Superseded != run1.Run.Ref {
		t.Fatalf("run with supersede = %+v\n%s\nwant run %s#2 live, superseding %s", run2, txt, sha7, run1.Run.Ref)
	}
	if !strings.Contains(txt, "cancelled run "+run1.Run.Ref) {
		t.Errorf("run with supersede says %q, want that it cancelled %s", txt, run1.Run.Ref)
	}
	waitGone(t, run1.Run.PID, 30*time.Second)
	var w waitOut
	var sup struct {
		Superseded string `json:"superseded"`
	}
	s.call("wait", map[string]any{"run": run1.Run.Ref}, &w)
	s.call("status", map[string]any{"run": run1.Run.Ref}, &sup)
	if w.Outcome != "settled" || w.Verdict != "cancelled" || !strings.Contains(sup.Superseded, fmt.Sprintf("odu run --supersede (pid %d", run2.Run.PID)) {
		t.Errorf("run %s after the supersede: wait %+v, superseded %q; want cancelled, superseded by pid %d", run1.Run.Ref, w, sup.Superseded, run2.Run.PID)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s.call("wait", nil, &w)
	if w.Outcome != "settled" || w.Verdict != "passed" || w.Run.Ref != run2.Run.Ref {
		t.Errorf("wait = %+v, want %s settled and passed", w, run2.Run.Ref)
	}
	waitGone(t, run2.Run.PID, 30*time.Second)
}

// TestRerunAfterTheRun: with no run live, rerun is odu rerun after the
// run: a new run of the last run's commit (strict, a snapshot of it) that
// runs the node and what depends on it (ci), and carries the others over
// from the last run (build), named by its ref. wait follows it to green.
func TestRerunAfterTheRun(t *testing.T) {
	fixed := filepath.Join(t.TempDir(), "fixed") // outside the checkout: the tree stays clean
	c := newCheckout(t, fmt.Sprintf(`[metadata("ci")]
ci: build bad

build:
    echo built

bad: build
    test -f %s
`, fixed))
	s := c.serve()
	sha7 := strings.TrimSpace(c.git("rev-parse", "HEAD"))[:7]
	var run runOut
	s.call("run", nil, &run)
	c.started(run)
	var w waitOut
	s.call("wait", nil, &w)
	if w.Outcome != "settled" || w.Verdict != "failed" || find(w.Failed, "bad") == nil {
		t.Fatalf("wait = %+v, want the run failed by bad", w)
	}
	waitGone(t, run.Run.PID, 30*time.Second)

	if err := os.WriteFile(fixed, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var rr struct {
		Reset  []string `json:"reset"`
		Run    runID    `json:"run"`
		Output string   `json:"output"`
	}
	txt := s.call("rerun", map[string]any{"node": "bad"}, &rr)
	c.started(runOut{Run: rr.Run, Output: rr.Output})
	if rr.Run.Ref != sha7+"#2" || !slices.ContainsFunc(rr.Reset, func(id string) bool { return strings.HasPrefix(id, "bad@") }) ||
		slices.ContainsFunc(rr.Reset, func(id string) bool { return strings.HasPrefix(id, "build@") }) {
		t.Fatalf("rerun bad with no run live = %+v\n%s\nwant run %s#2 that reruns bad (and ci, which needs it), not build", rr, txt, sha7)
	}
	if !strings.Contains(txt, sha7+"#1") {
		t.Errorf("rerun's text %q does not name the run it reruns after (%s#1)", txt, sha7)
	}
	s.call("wait", nil, &w)
	if w.Outcome != "settled" || w.Verdict != "passed" || w.Run.Ref != sha7+"#2" {
		t.Fatalf("wait after the rerun = %+v, want %s#2 passed", w, sha7)
	}
	var st struct {
		Nodes []struct {
			ID      string `json:"id"`
			Status  string `json:"status"`
			Carried string `json:"carried"`
		} `json:"nodes"`
	}
	s.call("status", nil, &st)
	for _, n := range st.Nodes {
		want := ""
		if strings.HasPrefix(n.ID, "build@") {
			want = sha7 + "#1"
		}
		if n.Status != "success" || n.Carried != want {
			t.Errorf("status after the rerun: %s %s carried from %q, want success carried from %q", n.ID, n.Status, n.Carried, want)
		}
	}
}
