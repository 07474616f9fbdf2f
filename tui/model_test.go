package tui

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	tea "charm.land/bubbletea/v2"
	"github.com/odu-ci/odu/surface"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/NAME.golden, or rewrites it with
// -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("view differs from %s (-update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// recorder is a Source that records what the model asks.
type recorder struct {
	follows []string
	reruns  []string
	cancels []string
}

func (r *recorder) Follow(id string, attempt int) int {
	r.follows = append(r.follows, fmt.Sprintf("%s#%d", id, attempt))
	return len(r.follows)
}
func (r *recorder) Rerun(id string) ([]string, error) {
	r.reruns = append(r.reruns, id)
	return []string{id}, nil
}
func (r *recorder) CancelNode(id string) error { r.cancels = append(r.cancels, id); return nil }

func at(d time.Duration) *time.Time { t := t0.Add(d); return &t }

// fixture is a run of recipes on two platforms, in every status.
func fixture(recipes int) surface.State {
	st := surface.State{Run: surface.Run{Repo: "/home/me/proj", SHA: "0123456789abcdef", Branch: "main",
		Snapshot: true, Root: "ci", Platforms: []string{"x86_64-linux", "aarch64-linux"}, Started: t0}}
	statuses := []surface.Status{surface.Success, surface.Running, surface.Failure, surface.Pending,
		surface.Skipped, surface.Cancelled, surface.Errored}
	for i := range recipes {
		name := fmt.Sprintf("recipe%02d", i)
		if i == 0 {
			name = "build(release)"
		}
		for j, plat := range st.Run.Platforms {
			s := statuses[(i+j)%len(statuses)]
			n := surface.Node{ID: name + "@" + plat, Name: name, Recipe: name, Platform: plat, Status: s, Attempt: 1}
			if s != surface.Pending && s != surface.Skipped {
				n.Started = at(time.Duration(i) * time.Second)
				n.DurationMS = int64(1500 + 100*i)
			}
			switch s {
			case surface.Success:
				n.ExitCode = new(int)
			case surface.Failure:
				n.ExitCode = new(int)
				*n.ExitCode = 2
			case surface.Skipped:
				n.Reason = "dependency recipe01@" + plat + " failed"
			}
			st.Nodes = append(st.Nodes, n)
		}
	}
	st.Lanes = []surface.Lane{{Platform: "x86_64-linux", Host: "localhost", Phase: surface.PhaseRunning},
		{Platform: "aarch64-linux", Host: "builder", Phase: surface.PhaseRunning}}
	return st
}

// buildLog is a recipe's output as odu gets it, from a pipe: lines end
// in a bare LF, colours, a progress line redrawn with \r.
const buildLog = "\x1b[1;34m==>\x1b[0m go build ./...\n" +
	"compiling odu/surface\n" +
	"compiling odu/runner\n" +
	"fetch  10%\rfetch  60%\rfetch 100%\n" +
	"\x1b[32mok\x1b[0m   odu/surface  0.41s\n" +
	"\x1b[31mFAIL\x1b[0m odu/runner   1.02s\n" +
	"    runner_test.go:42: got 2 nodes, want 3\n" +
	"error: recipe `build` failed on line 3 with exit code 1\n"

// buildLines is buildLog as a terminal shows it, line by line.
var buildLines = []string{
	"==> go build ./...",
	"compiling odu/surface",
	"compiling odu/runner",
	"fetch 100%",
	"ok   odu/surface  0.41s",
	"FAIL odu/runner   1.02s",
	"    runner_test.go:42: got 2 nodes, want 3",
	"error: recipe `build` failed on line 3 with exit code 1",
}

// logRows returns the log pane's rows of a plain view: the lines under
// its title, up to the first empty one, each cut to the pane's columns
// (from col, its first column on the screen).
func logRows(t *testing.T, plain, title string, col int) []string {
	t.Helper()
	lines := strings.Split(plain, "\n")
	for i, l := range lines {
		if j := strings.Index(l, title); j >= 0 {
			var out []string
			for _, r := range lines[i+1:] {
				r = ansi.Cut(r, col, 1<<20)
				if strings.TrimSpace(r) == "" {
					break
				}
				out = append(out, strings.TrimRight(r, " "))
			}
			return out
		}
	}
	t.Fatalf("no log pane titled %q:\n%s", title, plain)
	return nil
}

func newModel(t *testing.T, w, h int, colour bool, st surface.State) (*Model, *recorder) {
	t.Helper()
	c := NewCommon(colour)
	c.Now = func() time.Time { return t0.Add(90 * time.Second) }
	r := &recorder{}
	m := NewModel(c, r, "leave")
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	m.Update(StateMsg{Events: []surface.Event{{Snapshot: &st}}})
	return m, r
}

func keys(m *Model, ks ...string) {
	for _, k := range ks {
		var msg tea.KeyPressMsg
		switch k {
		case "enter":
			msg = tea.KeyPressMsg{Code: tea.KeyEnter}
		case "esc":
			msg = tea.KeyPressMsg{Code: tea.KeyEscape}
		case "pgup":
			msg = tea.KeyPressMsg{Code: tea.KeyPgUp}
		case "down":
			msg = tea.KeyPressMsg{Code: tea.KeyDown}
		default:
			msg = runes(k)
		}
		m.Update(msg)
	}
}

// runes is the key message of text typed: one key, or several typed
// faster than the program reads them.
func runes(text string) tea.KeyPressMsg {
	r := []rune(text)
	return tea.KeyPressMsg{Code: r[0], Text: text}
}

// checkSize fails unless the view is exactly the terminal's size.
func checkSize(t *testing.T, view string, w, h int) {
	t.Helper()
	lines := strings.Split(view, "\n")
	if len(lines) != h {
		t.Errorf("view has %d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if got := ansi.StringWidth(l); got > w {
			t.Errorf("line %d is %d cells wide, want at most %d: %q", i, got, w, ansi.Strip(l))
		}
	}
}

func TestWideLayout(t *testing.T) {
	m, r := newModel(t, 120, 30, true, fixture(6))
	m.Update(LogMsg{Gen: 1, Data: []byte(buildLog)})
	m.Update(frameMsg{})
	v := m.Screen()
	checkSize(t, v, 120, 30)
	golden(t, "wide", v)
	// Each line of the log is a row of the pane, from its first column.
	if got := logRows(t, ansi.Strip(v), "─ build(release)@x86_64-linux", m.matrix.width+1); !slices.Equal(got, buildLines) {
		t.Errorf("the log pane shows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(buildLines, "\n"))
	}
	if want := []string{"build(release)@x86_64-linux#1"}; fmt.Sprint(r.follows) != fmt.Sprint(want) {
		t.Errorf("follows = %v, want %v", r.follows, want)
	}
	// The log sits beside the matrix: the header row of the matrix and
	// the log's title share a line.
	line := strings.Split(ansi.Strip(v), "\n")[2]
	if !strings.Contains(line, "recipe") || !strings.Contains(line, "build(release)@x86_64-linux") {
		t.Errorf("wide layout: line 3 = %q, want the matrix header beside the log title", line)
	}
}

func TestNarrowLayoutStacksAndWindows(t *testing.T) {
	m, _ := newModel(t, 80, 24, true, fixture(30))
	m.Update(LogMsg{Gen: 1, Data: []byte(buildLog)})
	m.Update(frameMsg{})
	v := m.Screen()
	checkSize(t, v, 80, 24)
	golden(t, "narrow", v)
	plain := ansi.Strip(v)
	if !strings.Contains(plain, "of 30 rows: 0 above") {
		t.Errorf("narrow view does not say how many rows it holds back:\n%s", plain)
	}
	// The focus moves down past the window, which follows it.
	for range 20 {
		keys(m, "j")
	}
	v = m.Screen()
	golden(t, "narrow-scrolled", v)
	if f := m.matrix.Focused(); f == nil || f.Name != "recipe20" {
		t.Errorf("focus after 20 × j = %v, want recipe20", f)
	}
	if !strings.Contains(ansi.Strip(v), "recipe20") {
		t.Errorf("the window does not follow the focus to recipe20:\n%s", ansi.Strip(v))
	}
	if h := m.log.height; h < minLogHeight {
		t.Errorf("log pane is %d rows, want at least %d", h, minLogHeight)
	}
}

func TestResizeRelayouts(t *testing.T) {
	m, _ := newModel(t, 120, 30, false, fixture(4))
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	v := m.Screen()
	checkSize(t, v, 80, 24)
	golden(t, "resized-narrow", v)
	if m.wide {
		t.Error("still the wide layout at 80 columns")
	}
	m.Update(tea.WindowSizeMsg{Width: 140, Height: 40})
	checkSize(t, m.Screen(), 140, 40)
	if !m.wide {
		t.Error("not the wide layout at 140 columns")
	}
}

func TestNoColour(t *testing.T) {
	m, _ := newModel(t, 80, 24, false, fixture(3))
	m.Update(LogMsg{Gen: 1, Data: []byte(buildLog)})
	m.Update(frameMsg{})
	v := m.Screen()
	golden(t, "nocolour", v)
	if got := logRows(t, ansi.Strip(v), "─ build(release)@x86_64-linux", 0); !slices.Equal(got, buildLines) {
		t.Errorf("the log pane shows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(buildLines, "\n"))
	}
	// Without colour only reverse video (the focus) and bold remain.
	for _, sgr := range []string{"\x1b[31", "\x1b[32", "\x1b[33", "38;5"} {
		if strings.Contains(v, sgr) {
			t.Errorf("NO_COLOR view has colour %q", sgr)
		}
	}
}

func TestKeys(t *testing.T) {
	m, r := newModel(t, 120, 30, true, fixture(4))
	keys(m, "j", "l")
	if f := m.matrix.Focused(); f == nil || f.ID != "recipe01@aarch64-linux" {
		t.Fatalf("focus after j l = %v, want recipe01@aarch64-linux", f)
	}
	keys(m, "3")
	if f := m.matrix.Focused(); f == nil || f.ID != "recipe02@aarch64-linux" {
		t.Fatalf("focus after 3 = %v, want recipe02@aarch64-linux", f)
	}
	keys(m, "k", "h", "h", "k", "k") // stops at the edges
	if f := m.matrix.Focused(); f == nil || f.ID != "build(release)@x86_64-linux" {
		t.Fatalf("focus after k h h k k = %v, want build(release)@x86_64-linux", f)
	}
	// Each focus follows the node's log.
	want := "[build(release)@x86_64-linux#1 recipe01@x86_64-linux#1 recipe01@aarch64-linux#1 recipe02@aarch64-linux#1 recipe01@aarch64-linux#1 recipe01@x86_64-linux#1 build(release)@x86_64-linux#1]"
	if got := fmt.Sprint(r.follows); got != want {
		t.Errorf("follows = %s\nwant      %s", got, want)
	}
	// r and c act on the focused node, through a command.
	_, cmd := m.Update(runes("r"))
	if cmd == nil {
		t.Fatal("r gave no command")
	}
	m.Update(cmd())
	_, cmd = m.Update(runes("c"))
	m.Update(cmd())
	if fmt.Sprint(r.reruns, r.cancels) != "[build(release)@x86_64-linux] [build(release)@x86_64-linux]" {
		t.Errorf("reruns, cancels = %v %v, want the focused node", r.reruns, r.cancels)
	}
	if !strings.Contains(ansi.Strip(m.Screen()), "cancelled build(release)@x86_64-linux") {
		t.Errorf("the view does not say what c did:\n%s", ansi.Strip(m.Screen()))
	}
	// ? shows every key.
	keys(m, "?")
	v := m.Screen()
	golden(t, "help", v)
	for _, k := range []string{"pgup", "search log", "next match", "cancel search", "rerun node", "log top"} {
		if !strings.Contains(ansi.Strip(v), k) {
			t.Errorf("full help lacks %q", k)
		}
	}
	// q leaves.
	_, cmd = m.Update(runes("q"))
	if cmd == nil || !m.Quit() {
		t.Error("q does not quit")
	}
}

func TestMouse(t *testing.T) {
	m, _ := newModel(t, 120, 30, true, fixture(4))
	// The matrix starts under the 2-line header: its header row, then a
	// row per recipe. Column 2 of row 3 is recipe02@aarch64-linux.
	_, name, cell := m.matrix.layout()
	m.Update(tea.MouseClickMsg{X: 2 + name + 1 + cell + 1, Y: 2 + 1 + 2, Button: tea.MouseLeft})
	if f := m.matrix.Focused(); f == nil || f.ID != "recipe02@aarch64-linux" {
		t.Errorf("focus after a click = %v, want recipe02@aarch64-linux", f)
	}
}

func TestStateChangesBecomeEvents(t *testing.T) {
	st := fixture(2)
	m, _ := newModel(t, 80, 24, true, st)
	n := st.Nodes[3] // recipe01@aarch64-linux, failure
	n.Status, n.Attempt = surface.Running, 2
	m.Update(StateMsg{Events: []surface.Event{{Delta: &surface.Delta{Seq: 1, Node: &n}}}})
	if got := m.st.Node(n.ID).Status; got != surface.Running {
		t.Errorf("status after the delta = %s, want running", got)
	}
	v := ansi.Strip(m.Screen())
	if !strings.Contains(v, "recipe01@aarch64-linux failure → running") {
		t.Errorf("events lane lacks the transition:\n%s", v)
	}
}

// TestMissedTransitionsBecomeEvents: a snapshot sent after the dashboard
// fell behind comes with the transitions it missed; each is an event, not
// only where the node ended.
func TestMissedTransitionsBecomeEvents(t *testing.T) {
	st := fixture(2)
	m, _ := newModel(t, 80, 24, true, st)
	later := fixture(2)
	later.Seq = 9
	running := later.Nodes[3] // recipe01@aarch64-linux, failure
	running.Status, running.Attempt = surface.Running, 2
	later.Nodes[3].Status, later.Nodes[3].Attempt = surface.Success, 2
	m.Update(StateMsg{Events: []surface.Event{{Snapshot: &later, Missed: []surface.Node{running}}}})
	v := ansi.Strip(m.Screen())
	for _, want := range []string{"recipe01@aarch64-linux failure → running", "recipe01@aarch64-linux running → success"} {
		if !strings.Contains(v, want) {
			t.Errorf("events lane lacks %q:\n%s", want, v)
		}
	}
}

func TestConnectionLost(t *testing.T) {
	m, _ := newModel(t, 80, 24, false, fixture(2))
	_, cmd := m.Update(EndMsg{Err: fmt.Errorf("connection lost: EOF")})
	if cmd != nil {
		t.Error("a lost connection quits the dashboard; it should say so and stay")
	}
	if v := ansi.Strip(m.Screen()); !strings.Contains(v, "connection to the run lost: connection lost: EOF") {
		t.Errorf("view does not say the connection is lost:\n%s", v)
	}
}

func TestWaiting(t *testing.T) {
	c := NewCommon(false)
	m := NewModel(c, nil, "leave")
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	m.Update(WaitingMsg{Dir: "/home/me/proj"})
	if v := ansi.Strip(m.Screen()); !strings.Contains(v, "waiting for a run in /home/me/proj") {
		t.Errorf("view does not say it waits:\n%s", v)
	}
}

// TestLogDrawnOncePerFrame: log bytes go to the log pane at once, but the
// view is made again only at the next frame, however many batches came;
// a key is drawn at once.
func TestLogDrawnOncePerFrame(t *testing.T) {
	m, _ := newModel(t, 120, 30, false, fixture(3))
	before := m.Screen()
	_, cmd := m.Update(LogMsg{Gen: 1, Data: []byte("first-batch\n")})
	if cmd == nil {
		t.Fatal("log bytes asked for no frame")
	}
	if _, again := m.Update(LogMsg{Gen: 1, Data: []byte("second-batch\n")}); again != nil {
		t.Error("a second batch asked for a second frame")
	}
	if m.Screen() != before {
		t.Errorf("the view changed before the frame:\n%s", ansi.Strip(m.Screen()))
	}
	m.Update(cmd())
	if v := ansi.Strip(m.Screen()); !strings.Contains(v, "first-batch") || !strings.Contains(v, "second-batch") {
		t.Errorf("the frame does not show the log:\n%s", v)
	}
	_, cmd = m.Update(LogMsg{Gen: 1, Data: []byte("third-batch\n")})
	if cmd == nil {
		t.Fatal("log bytes after the frame asked for no frame")
	}
	keys(m, "?")
	if v := ansi.Strip(m.Screen()); !strings.Contains(v, "all keys") || !strings.Contains(v, "third-batch") {
		t.Errorf("a key was not drawn at once, with the log as it is:\n%s", v)
	}
}

// TestSnapshotKeepsFocusByID: a new snapshot may order the nodes
// differently, or hold fewer: the focus stays on the node it was on,
// found by its ID, not by its index in the old list.
func TestSnapshotKeepsFocusByID(t *testing.T) {
	m, r := newModel(t, 120, 40, true, fixture(10))
	keys(m, "down", "down", "down", "down", "down", "l")
	const want = "recipe05@aarch64-linux"
	if f := m.matrix.Focused(); f == nil || f.ID != want {
		t.Fatalf("focus = %v, want %s", f, want)
	}
	follows := len(r.follows)

	// The same nodes, the other way round.
	st := fixture(10)
	slices.Reverse(st.Nodes)
	m.Update(StateMsg{Events: []surface.Event{{Snapshot: &st}}})
	if f := m.matrix.Focused(); f == nil || f.ID != want {
		t.Errorf("focus after a reordered snapshot = %v, want %s", f, want)
	}
	if m.log.ID() != want || len(r.follows) != follows {
		t.Errorf("the log pane shows %s (follows %v), want %s still", m.log.ID(), r.follows, want)
	}

	// Fewer nodes: the focused one is gone.
	small := fixture(2)
	m.Update(StateMsg{Events: []surface.Event{{Snapshot: &small}}})
	f := m.matrix.Focused()
	if f == nil || small.Node(f.ID) == nil {
		t.Errorf("focus after a smaller snapshot = %v, want one of its nodes", f)
	}
	checkSize(t, m.Screen(), 120, 40)

	// And back: the focus is on a node of the new state.
	big := fixture(10)
	m.Update(StateMsg{Events: []surface.Event{{Snapshot: &big}}})
	if g := m.matrix.Focused(); g == nil || f == nil || g.ID != f.ID {
		t.Errorf("focus after a larger snapshot = %v, want %v", g, f)
	}
}

// TestKeysInOneRead: keys that came in one read reach the model as one
// message of several runes; each is a key.
func TestKeysInOneRead(t *testing.T) {
	m, _ := newModel(t, 120, 30, true, fixture(6))
	m.Update(runes("jjj"))
	if f := m.matrix.Focused(); f == nil || f.Name != "recipe03" {
		t.Errorf("focus after jjj in one message = %v, want recipe03", f)
	}
	m.Update(runes("kl"))
	if f := m.matrix.Focused(); f == nil || f.ID != "recipe02@aarch64-linux" {
		t.Errorf("focus after kl in one message = %v, want recipe02@aarch64-linux", f)
	}
	// A search typed at once: / starts it, the rest is its query.
	m.Update(LogMsg{Gen: m.gen, Data: []byte(buildLog)})
	m.Update(runes("/FAIL"))
	m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	if m.log.match < 0 || !strings.Contains(ansi.Strip(m.log.line(m.log.match)), "FAIL odu/runner") {
		t.Errorf("/FAIL typed at once found row %d, want the FAIL line", m.log.match)
	}
	// A paste is not keys.
	m.Update(tea.PasteMsg{Content: "qqq"})
	if m.Quit() {
		t.Error("a pasted qqq quit the dashboard")
	}
	_, cmd := m.Update(runes("jq"))
	if !m.Quit() || cmd == nil {
		t.Error("q after j in one message did not quit")
	}
}

// TestRowNumbersStick: the numbers 1–9 belong to the first nine
// recipes, whatever the window shows; a number focuses its recipe.
func TestRowNumbersStick(t *testing.T) {
	m, _ := newModel(t, 80, 24, false, fixture(30))
	for range 20 {
		keys(m, "j")
	}
	plain := ansi.Strip(m.Screen())
	if k, row := rowOf(plain, "recipe20"); k != "" {
		t.Errorf("recipe20 is numbered %s when the window scrolled: %q", k, row)
	}
	if regexp.MustCompile(`(?m)^[1-9] recipe`).MatchString(plain) {
		t.Errorf("rows past the ninth are numbered:\n%s", plain)
	}
	keys(m, "3")
	if f := m.matrix.Focused(); f == nil || f.Name != "recipe02" {
		t.Errorf("focus after 3 = %v, want recipe02, the third recipe", f)
	}
	if k, _ := rowOf(ansi.Strip(m.Screen()), "recipe02"); k != "3" {
		t.Errorf("recipe02 is numbered %q, want 3:\n%s", k, ansi.Strip(m.Screen()))
	}
}

// rowOf returns the number and the line of the matrix row of recipe.
func rowOf(plain, recipe string) (string, string) {
	m := regexp.MustCompile(`(?m)^([1-9 ]) ` + regexp.QuoteMeta(recipe) + ` .*$`).FindStringSubmatch(plain)
	if m == nil {
		return "", ""
	}
	return strings.TrimSpace(m[1]), m[0]
}

// TestNextFailed: f focuses the next node that failed or errored, F the
// previous one, round the matrix.
func TestNextFailed(t *testing.T) {
	m, _ := newModel(t, 120, 30, false, fixture(7))
	var got []string
	for range 5 {
		keys(m, "f")
		got = append(got, m.matrix.Focused().ID)
	}
	want := "[recipe01@aarch64-linux recipe02@x86_64-linux recipe05@aarch64-linux recipe06@x86_64-linux recipe01@aarch64-linux]"
	if fmt.Sprint(got) != want {
		t.Errorf("f × 5 = %v, want %s", got, want)
	}
	keys(m, "F")
	if f := m.matrix.Focused(); f.ID != "recipe06@x86_64-linux" {
		t.Errorf("F = %s, want recipe06@x86_64-linux", f.ID)
	}
	if title := strings.Split(ansi.Strip(m.Screen()), "\n")[2]; !strings.Contains(title, "recipe06@x86_64-linux · error") {
		t.Errorf("the log title of an errored node = %q", title)
	}
	keys(m, "F", "F")
	if title := strings.Split(ansi.Strip(m.Screen()), "\n")[2]; !strings.Contains(title, "recipe02@x86_64-linux · failure · exit 2 ·") {
		t.Errorf("the log title of a failed node does not say its exit code: %q", title)
	}
	green := fixture(1)
	green.Nodes = green.Nodes[:1]
	m, _ = newModel(t, 120, 30, false, green)
	keys(m, "f")
	if v := ansi.Strip(m.Screen()); !strings.Contains(v, "no node failed") {
		t.Errorf("f with no failed node does not say so:\n%s", v)
	}
}

// TestEventsUseTheWidth: on a wide terminal the events lane is as wide
// as its lines, not cut at the matrix's width.
func TestEventsUseTheWidth(t *testing.T) {
	st := fixture(3)
	for i := range st.Nodes {
		n := &st.Nodes[i]
		n.Name = "integration-tests-" + n.Name
		n.ID = n.Name + "@" + n.Platform
	}
	m, _ := newModel(t, 200, 40, false, st)
	n := st.Nodes[3]
	n.Status = surface.Cancelled
	m.Update(StateMsg{Events: []surface.Event{{Delta: &surface.Delta{Seq: 1, Node: &n}}}})
	v := ansi.Strip(m.Screen())
	if !strings.Contains(v, "integration-tests-recipe01@aarch64-linux failure → cancelled") {
		t.Errorf("the event line is cut at 200 columns:\n%s", v)
	}
	checkSize(t, m.Screen(), 200, 40)
}

// TestHoldFailure: `odu run`'s dashboard leaves when the run is over,
// unless a node failed: then it stays until q, and says so.
func TestHoldFailure(t *testing.T) {
	for _, failed := range []bool{false, true} {
		st := fixture(1) // a success and a running node
		st.Nodes[1].Status = surface.Success
		if failed {
			st.Nodes[1].Status = surface.Failure
		}
		m, _ := newModel(t, 120, 30, false, st)
		m.ExitOnSettle, m.HoldFailure = true, true
		holds := 0
		m.OnHold = func() { holds++ }
		_, cmd := m.Update(EndMsg{})
		quits := cmd != nil && fmt.Sprint(cmd()) == fmt.Sprint(tea.Quit())
		if quits == failed || (holds == 1) != failed {
			t.Errorf("failed %v: the run's end quits %v, holds %d times", failed, quits, holds)
		}
		if v := ansi.Strip(m.Screen()); failed && !strings.Contains(v, "the run is over: 1 failed") {
			t.Errorf("a held dashboard does not say why:\n%s", v)
		}
		if failed {
			keys(m, "q")
			if !m.Quit() || !m.Ended() {
				t.Error("q does not leave a held dashboard")
			}
		}
	}
}
