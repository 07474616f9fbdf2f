package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// linesJustfile is a pipeline whose logs have many lines, as a recipe
// writes them to a pipe (bare LFs): thirty numbered lines in colours and
// a progress line redrawn with \r; a node that fails with two lines; one
// more; and one that runs until the test says stop.
const linesJustfile = `[metadata("ci")]
ci: lines bad other slow

lines:
    @i=1; while [ $i -le 30 ]; do printf '\033[3%dmline %02d\033[0m of the log\n' $((i % 7 + 1)) $i; i=$((i+1)); done
    @printf 'progress  10%%\rprogress  50%%\rprogress 100%%\n'
    @echo lines-done

bad:
    @echo bad-output; echo 'bad, second line'; exit 3

other:
    @echo other-output

slow:
    @while [ ! -e "$DASH_STOP" ]; do sleep 0.1; done; echo slow-done
`

// logLines checks that the screen shows the lines of linesJustfile's
// `lines` that fit (all with all, the last ones without), each at the
// first column of the log pane: after the matrix's "│" when wide, at the
// screen's first column when narrow.
func logLines(t *testing.T, screen string, wide, all bool) {
	t.Helper()
	left := "^"
	if wide {
		left = "│"
	}
	want := []string{}
	for i := 1; i <= 30; i++ {
		want = append(want, fmt.Sprintf("line %02d of the log", i))
	}
	want = append(want, "progress 100%", "lines-done")
	seen := 0
	for i, w := range want {
		re := regexp.MustCompile(`(?m)` + left + regexp.QuoteMeta(w) + ` *$`)
		switch {
		case re.MatchString(screen):
			seen++
		case strings.Contains(screen, w):
			t.Errorf("%q is on the screen, but not at the log pane's first column:\n%s", w, screen)
		case all || i >= len(want)-5:
			t.Errorf("the screen lacks %q:\n%s", w, screen)
		}
	}
	if strings.Contains(screen, "progress  10%") || strings.Contains(screen, "progress  50%") {
		t.Errorf("the \\r progress did not collapse:\n%s", screen)
	}
	if seen < 5 {
		t.Errorf("only %d lines of the log are on the screen:\n%s", seen, screen)
	}
}

// TestDashboardRunLogLines: `odu run` on a terminal, with a node that
// fails: when the run is over the dashboard stays until q, saying so; a
// log of many lines reads as lines at 120×40 and at 80×24, coloured; f
// focuses the failed node, whose log title says its exit code; keys
// typed at once each move the focus; q leaves, with the summary and exit
// 1.
func TestDashboardRunLogLines(t *testing.T) {
	d := newDash(t, linesJustfile)
	touch(t, d.stop) // slow ends at once
	tm := d.terminal(120, 40, "run")
	s := tm.waitText("the run is over: 1 failed", "q leave")
	if strings.Contains(s, "odu exited") {
		t.Fatalf("the dashboard left a failed run:\n%s", s)
	}

	k, _ := rowOf(s, "lines")
	tm.key(k)
	s = tm.waitText("─ lines@", "lines-done")
	logLines(t, s, true, true)
	colour := tm.screen(true)
	if !regexp.MustCompile(`\x1b\[3\dm(\x1b\[\d+m)*line 07`).MatchString(colour) {
		t.Errorf("the log's colours did not come through:\n%q", colour)
	}

	// 80×24: the stacked layout, the log's last lines.
	tm.run("resize-window", "-t", "s", "-x", "80", "-y", "24")
	s = tm.waitFor("the stacked layout", false, func(s string) bool {
		return !strings.Contains(s, "│") && strings.Contains(s, "lines-done")
	})
	logLines(t, s, false, false)

	// f: the failed node, its exit code, its two lines.
	tm.key("f")
	s = tm.waitText("─ bad@", "bad, second line")
	if !regexp.MustCompile(`─ bad@\S+ · failure · exit 3 `).MatchString(s) {
		t.Errorf("the log title of the failed node does not say its exit code:\n%s", s)
	}
	if !regexp.MustCompile(`(?m)^bad-output *\n^bad, second line *$`).MatchString(s) {
		t.Errorf("the failed node's log does not read as two lines:\n%s", s)
	}

	// Three keys in one send: three rows down from the first recipe.
	tm.run("resize-window", "-t", "s", "-x", "120", "-y", "40")
	tm.key("1")
	s = tm.waitFor("the first recipe focused", false, func(s string) bool {
		first := recipeNumbered(s, "1")
		return first != "" && strings.Contains(s, "─ "+first+"@")
	})
	fourth := recipeNumbered(s, "4")
	tm.run("send-keys", "-t", "s", "jjj")
	tm.waitText("─ " + fourth + "@")

	tm.key("q")
	s = tm.waitText("odu exited")
	if !strings.Contains(s, "odu exited 1") {
		t.Errorf("odu run with a failed node did not exit 1:\n%s", s)
	}
	if !regexp.MustCompile(`odu: run [0-9a-f]{7}#\d+ failed in `).MatchString(s) ||
		!regexp.MustCompile(`failure\s+bad@\S+\s+exit 3`).MatchString(s) {
		t.Errorf("no per-node summary after the dashboard:\n%s", s)
	}
	if strings.Contains(s, "stopping the run") || strings.Contains(s, "? all keys") {
		t.Errorf("q after the run's end stopped it, or the dashboard is still on the screen:\n%s", s)
	}
}

// recipeNumbered returns the recipe of the matrix row numbered k.
func recipeNumbered(screen, k string) string {
	m := regexp.MustCompile(`(?m)^` + k + ` (\S+) `).FindStringSubmatch(screen)
	if m == nil {
		return ""
	}
	return m[1]
}

// TestDashboardRunExitOnSettle: `odu run --exit-on-settle` leaves the
// dashboard as soon as the run is over, a failure too.
func TestDashboardRunExitOnSettle(t *testing.T) {
	d := newDash(t, linesJustfile)
	touch(t, d.stop)
	tm := d.terminal(120, 40, "run --exit-on-settle")
	s := tm.waitText("odu exited")
	if !strings.Contains(s, "odu exited 1") || !regexp.MustCompile(`failure\s+bad@\S+\s+exit 3`).MatchString(s) {
		t.Errorf("odu run --exit-on-settle did not leave with the summary and exit 1:\n%s", s)
	}
}

// TestDashboardMonitorLogAfterEnd: once the run is over (its connection
// closed), `odu monitor` shows a log it had not loaded, from the run's
// record on disk, as lines.
func TestDashboardMonitorLogAfterEnd(t *testing.T) {
	d := newDash(t, linesJustfile)
	_, runDone := d.background()
	tm := d.terminal(120, 40, "monitor")
	s := tm.waitFor("slow running", false, func(s string) bool { _, slow := rowOf(s, "slow"); return strings.Contains(slow, "●") })
	k, _ := rowOf(s, "slow")
	tm.key(k)
	tm.waitText("─ slow@")
	touch(t, d.stop)
	if err := <-runDone; err == nil {
		t.Fatalf("odu run with a failed node exited 0:\n%s", d.runOutput())
	}
	runDone <- nil
	s = tm.waitText("the run is over")
	k, _ = rowOf(s, "lines")
	tm.key(k)
	s = tm.waitFor("the log of lines, or an error", false, func(s string) bool {
		return strings.Contains(s, "lines-done") || strings.Contains(s, "[odu: ")
	})
	if strings.Contains(s, "[odu: ") {
		t.Fatalf("the log of lines did not show after the run:\n%s", s)
	}
	logLines(t, s, true, true)
}

// holdJustfile fails at once and has a node that says where it runs and
// then runs until the test says stop.
const holdJustfile = `[metadata("ci")]
ci: bad slow

bad:
    @exit 3

slow:
    @pwd > "$DASH_MARK"; while [ ! -e "$DASH_STOP" ]; do sleep 0.1; done; echo slow-done
`

// TestDashboardHeldRunFreesTheCheckout: while `odu run`'s dashboard holds
// a failed run on screen, the checkout is free: a second run of the same
// commit starts, and leaving the first dashboard takes nothing of the
// second (its socket, its snapshot's worktree, its announcement).
func TestDashboardHeldRunFreesTheCheckout(t *testing.T) {
	d := newDash(t, holdJustfile)
	mark := filepath.Join(d.tmp, "mark")
	touch(t, d.stop) // the first run's slow ends at once
	tm := d.terminal(120, 40, "run")
	tm.waitText("the run is over: 1 failed")

	os.Remove(d.stop)
	os.Remove(mark)
	_, runDone := d.background()
	waitFile(t, mark) // the second run's slow runs, in its snapshot
	workspace, err := os.ReadFile(mark)
	if err != nil {
		t.Fatal(err)
	}

	tm.key("q")
	tm.waitText("odu exited")

	if _, err := os.Stat(strings.TrimSpace(string(workspace))); err != nil {
		t.Errorf("the second run's snapshot is gone after the first run's dashboard left: %v", err)
	}
	status := exec.Command(filepath.Join(d.bin, "odu"), "status")
	status.Dir, status.Env = d.dir, d.env
	out, err := status.CombinedOutput()
	if err != nil || !regexp.MustCompile(`running\s+slow@`).Match(out) {
		t.Errorf("odu status of the second run after the first run's dashboard left: %v\n%s", err, out)
	}
	touch(t, d.stop)
	if err := <-runDone; err == nil {
		t.Errorf("the second run, with a failed node, exited 0:\n%s", d.runOutput())
	}
	runDone <- nil
	if !regexp.MustCompile(`slow@\S+ success`).MatchString(d.runOutput()) {
		t.Errorf("the second run's slow did not succeed:\n%s", d.runOutput())
	}
}

// TestDashboardLogKeys: the log pane's keys, in a real terminal on a
// real log (linesJustfile's lines: 30 lines, a progress line, lines-done)
// at 80×24, where the pane shows a few of them: g its top, G and enter
// its tail followed, PgUp and space a page back and forth, / a search
// that goes back from the view's bottom and n the match before it, esc
// done with the search.
func TestDashboardLogKeys(t *testing.T) {
	d := newDash(t, linesJustfile)
	d.stopNodes() // slow ends at once
	tm := d.terminal(80, 24, "run")
	s := tm.waitText("the run is over: 1 failed")
	k, _ := rowOf(s, "lines")
	tm.key(k)
	// The tail, followed.
	tm.waitFor("the tail of lines, followed", false, func(s string) bool {
		return strings.Contains(s, "─ lines@") && strings.Contains(s, "lines-done") && strings.Contains(s, "· following")
	})
	// g: the top, pinned.
	tm.key("g")
	s = tm.waitFor("the top of the log, pinned", false, func(s string) bool {
		return regexp.MustCompile(`pinned at line 1 of 3\d`).MatchString(s) && strings.Contains(s, "line 01 of the log")
	})
	if strings.Contains(s, "lines-done") {
		t.Errorf("g shows the log's top and its tail at once: the pane is too tall for this test:\n%s", s)
	}
	// space: a page down, still pinned.
	tm.key("Space")
	tm.waitFor("a page down", false, func(s string) bool {
		return regexp.MustCompile(`pinned at line ([2-9]|1\d) of`).MatchString(s) && !strings.Contains(s, "line 01 of the log")
	})
	// G: the tail, followed.
	tm.key("G")
	tm.waitFor("the tail, followed", false, func(s string) bool {
		return strings.Contains(s, "· following") && strings.Contains(s, "lines-done") && !strings.Contains(s, "line 01 of")
	})
	// PgUp: a page up from the tail, pinned; enter: follow again.
	tm.key("PPage")
	tm.waitFor("a page up, pinned", false, func(s string) bool {
		return strings.Contains(s, "pinned at line") && !strings.Contains(s, "lines-done")
	})
	tm.key("Enter")
	tm.waitFor("following again", false, func(s string) bool {
		return strings.Contains(s, "· following") && strings.Contains(s, "lines-done")
	})
	// /: a search, backwards from the bottom of the view; n: the match
	// before; esc: done.
	tm.key("/")
	tm.waitText("/▏")
	tm.key("of the log")
	tm.waitText("/of the log▏")
	tm.key("Enter")
	s = tm.waitText("match at line 30 (n: next, esc: done)")
	if !regexp.MustCompile(`(?m)^line 30 of the log`).MatchString(s) {
		t.Errorf("the match is not on the screen:\n%s", s)
	}
	tm.key("n")
	tm.waitText("match at line 29 (n: next, esc: done)")
	tm.key("/")
	tm.waitText("/▏")
	tm.key("line 03 ")
	tm.key("Enter")
	s = tm.waitText("match at line 3 (n: next, esc: done)")
	if !regexp.MustCompile(`(?m)^line 03 of the log`).MatchString(s) {
		t.Errorf("the match of a search far up is not on the screen:\n%s", s)
	}
	tm.key("Escape")
	s = tm.waitFor("the search done", false, func(s string) bool { return strings.Contains(s, "pinned at line") })
	if strings.Contains(s, "match at") {
		t.Errorf("esc did not end the search:\n%s", s)
	}
	tm.key("q")
	tm.waitText("odu exited 1")
}
