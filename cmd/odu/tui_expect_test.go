package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// etaJustfile: test waits until $ETA_GO exists, then fails unless
// $ETA_FIXED does.
const etaJustfile = `[metadata("ci")]
ci: test lint
    @echo all green

build:
    @echo built

test: build
    @while [ ! -e "$ETA_GO" ]; do sleep 0.05; done
    @test -e "$ETA_FIXED" || { echo broken; exit 3; }

lint: build
    @echo linted
`

// TestDashboardETAAndRerunAfter: in a real terminal, `odu run`'s
// dashboard shows a running node's clock against its expected duration
// (from the runs before) and the run's ETA; when the run ends red it
// says r reruns in a new run, and r does: the new run carries the other
// nodes over (↺) and ends green.
func TestDashboardETAAndRerunAfter(t *testing.T) {
	d := newDash(t, etaJustfile)
	goFile, fixed := filepath.Join(d.tmp, "go"), filepath.Join(d.tmp, "fixed")
	d.env = append(d.env, "ETA_GO="+goFile, "ETA_FIXED="+fixed)
	touch(t, goFile)
	touch(t, fixed)
	for range 2 { // the history the expectations come from
		cmd := exec.Command(filepath.Join(d.bin, "odu"), "run", "--progress", "plain")
		cmd.Dir, cmd.Env = d.dir, d.env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("odu run: %v\n%s", err, out)
		}
	}
	for _, f := range []string{goFile, fixed} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	tm := d.terminal(120, 30, "run")
	// test runs (held until go exists): its clock against its expectation.
	s := tm.waitFor("test running against its expectation", false, func(s string) bool {
		_, row := rowOf(s, "test")
		return strings.Contains(row, "●") && strings.Contains(row, "/~")
	})
	if !strings.Contains(s, " · ETA ~") && !strings.Contains(s, " · ETA ≥") && !strings.Contains(s, " · ETA overdue") {
		t.Errorf("the header shows no ETA:\n%s", s)
	}
	touch(t, goFile)
	tm.waitText("the run is over: 1 failed", "r: rerun it in a new run")
	touch(t, fixed)
	tm.key("f")
	tm.key("r")
	s = tm.waitText("odu exited 0")
	for _, want := range []string{"a new run of", "reruns test@", "carries 2 nodes over", "passed"} {
		if !strings.Contains(s, want) {
			t.Errorf("after r, the terminal does not say %q:\n%s", want, s)
		}
	}
}
