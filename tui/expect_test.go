package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/odu-ci/odu/surface"
)

// r on a run that is over, with RerunAfter, leaves the dashboard with
// the focused node to rerun in a new run, and asks the run nothing;
// while the run is live, r asks the run, as before.
func TestRerunAfterTheRun(t *testing.T) {
	st := fixture(1)
	st.Nodes[1].Status = surface.Failure
	live, _ := newModel(t, 120, 30, false, st)
	live.RerunAfter = true
	if _, cmd := live.Update(runes("r")); cmd == nil || live.Rerun() != "" {
		t.Fatalf("r on a live run does not ask the run (a command), or asks for a new run of %q", live.Rerun())
	}
	m, rec := newModel(t, 120, 30, false, st)
	m.RerunAfter, m.HoldFailure, m.ExitOnSettle = true, true, true
	focused := m.matrix.Focused().ID
	m.Update(EndMsg{})
	if v := ansi.Strip(m.Screen()); !strings.Contains(v, "r: rerun it in a new run") {
		t.Errorf("the held dashboard does not say what r does:\n%s", v)
	}
	_, cmd := m.Update(runes("r"))
	if cmd == nil || fmt.Sprint(cmd()) != fmt.Sprint(tea.Quit()) {
		t.Error("r on a run that is over does not leave the dashboard")
	}
	if m.Rerun() != focused || m.Quit() {
		t.Errorf("r on a run that is over: Rerun() = %q, Quit() = %v; want %q, false", m.Rerun(), m.Quit(), focused)
	}
	if len(rec.reruns) != 0 {
		// The live run's procedure runs in a command the test does not run.
		t.Errorf("the run was asked to rerun %v", rec.reruns)
	}
}

// A running node shows its clock against its expectation, and the header
// the run's ETA; a slow node is marked, a carried one too.
func TestExpectationsShown(t *testing.T) {
	st := fixture(1)
	for i := range st.Nodes {
		st.Nodes[i].ExpectedMS = (2 * time.Minute).Milliseconds()
	}
	m, _ := newModel(t, 160, 30, false, st)
	v := ansi.Strip(m.Screen())
	// The clock is fixed 90 s after t0: the running nodes have 30 s left.
	if !strings.Contains(v, "ETA ~30.0s") || !strings.Contains(v, "/~2m0s") {
		t.Errorf("the dashboard shows no ETA or expectation:\n%s", v)
	}
	st.Nodes[1].Slow, st.Nodes[0].Carried = true, ".ci/x/runs/1.json"
	m, _ = newModel(t, 160, 30, false, st)
	v = ansi.Strip(m.Screen())
	if !strings.Contains(v, "/~2m0s!") || !strings.Contains(v, "↺") {
		t.Errorf("the dashboard does not mark a slow node (!) or a carried one (↺):\n%s", v)
	}
}
