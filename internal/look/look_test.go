package look

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"charm.land/lipgloss/v2"

	"github.com/odu-ci/odu/surface"
)

// TestPlainIsText: without colour, what is painted is the text, byte for
// byte: no escape, no tab turned into spaces, no line padded to the
// widest (the plain outputs that testscripts compare stay as they were).
func TestPlainIsText(t *testing.T) {
	p := New(false)
	for _, s := range Order {
		if got := p.Mark(s); got != Glyph(s) || got == "" {
			t.Errorf("Mark(%s) without colour = %q, want %q", s, got, Glyph(s))
		}
	}
	for _, text := range []string{"fix: run\tthis", "fix: a long first line\n  short", "x\n\ny", ""} {
		for name, st := range map[string]lipgloss.Style{"hint": p.Hint, "error": p.Error, "grey": p.Status(surface.Skipped)} {
			if got := Paint(st, text); got != text {
				t.Errorf("Paint(%s, %q) without colour = %q", name, text, got)
			}
		}
	}
}

// TestColours: with colour, each status is its ANSI colour (SGR 3x or
// 9x), and a block of lines is painted line by line.
func TestColours(t *testing.T) {
	p := New(true)
	for s, want := range map[surface.Status]string{
		surface.Success: "\x1b[32m✓\x1b[m", surface.Failure: "\x1b[31m✗\x1b[m", surface.Errored: "\x1b[31m!\x1b[m",
		surface.Running: "\x1b[33m●\x1b[m", surface.Pending: "\x1b[90m·\x1b[m", surface.Skipped: "\x1b[90m-\x1b[m",
		surface.Cancelled: "\x1b[90m⊘\x1b[m",
	} {
		if got := p.Mark(s); got != want {
			t.Errorf("Mark(%s) = %q, want %q", s, got, want)
		}
	}
	if got, want := Paint(p.Hint, "fix: a\tb\n  c"), "\x1b[33mfix: a\tb\x1b[m\n\x1b[33m  c\x1b[m"; got != want {
		t.Errorf("Paint(hint) = %q, want %q", got, want)
	}
}

func TestCountsAndClock(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	nodes := []surface.Node{
		{ID: "a", Status: surface.Failure, Started: &t0, DurationMS: 65_400},
		{ID: "b", Status: surface.Success, Started: &t0, DurationMS: 400},
		{ID: "c", Status: surface.Running, Started: &t0},
		{ID: "d", Status: surface.Success},
		{ID: "e", Status: surface.Pending},
	}
	var got []string
	for _, c := range Counts(nodes) {
		got = append(got, string(c.Status)+"="+string(rune('0'+c.N)))
	}
	if s := strings.Join(got, " "); s != "success=2 running=1 pending=1 failure=1" {
		t.Errorf("Counts = %s", s)
	}
	now := t0.Add(2*time.Hour + 29*time.Minute)
	for i, want := range []string{"1m5s", "0.4s", "2h29m", "", ""} {
		if got := Clock(nodes[i], now); got != want {
			t.Errorf("Clock(%s) = %q, want %q", nodes[i].ID, got, want)
		}
	}
}

// TestNoBubbleTea: the vocabulary is for every command; it must not
// bring Bubble Tea (a terminal program) into those that print a line.
func TestNoBubbleTea(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "charm.land/bubbletea") || strings.HasPrefix(dep, "charm.land/bubbles") ||
			strings.HasPrefix(dep, "github.com/odu-ci/odu/tui") {
			t.Errorf("internal/look depends on %s", dep)
		}
	}
}
