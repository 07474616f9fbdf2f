package tui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

func newPane(t *testing.T, w, h int) *LogPane {
	t.Helper()
	p := NewLogPane(NewCommon(true))
	p.SetSize(w, h)
	p.Reset("build@x86_64-linux", 1)
	return p
}

func TestLogPaneIsATerminal(t *testing.T) {
	p := newPane(t, 40, 8)
	// A progress line redrawn with \r, colours, a cursor movement, wide
	// characters and a UTF-8 sequence cut between two writes.
	p.Write([]byte("\x1b[1;31merror:\x1b[0m bad\r\n"))
	for i := 0; i <= 100; i += 25 {
		p.Write([]byte(fmt.Sprintf("\rdownloading %3d%%", i)))
	}
	p.Write([]byte("\r\nstep 1\r\nstep 2\x1b[1A\x1b[2K\rstep 1 done\x1b[1B\r\n"))
	w := []byte("世界|ok\r\n")
	p.Write(w[:2])
	p.Write(w[2:])
	v := p.View()
	golden(t, "logpane", v)
	plain := ansi.Strip(v)
	for _, want := range []string{"error: bad", "downloading 100%", "step 1 done", "step 2", "世界|ok"} {
		if !strings.Contains(plain, want) {
			t.Errorf("pane lacks %q:\n%s", want, plain)
		}
	}
	for _, bad := range []string{"downloading  25%", "\x1b[1A", "[2K"} {
		if strings.Contains(plain, bad) {
			t.Errorf("pane shows %q:\n%s", bad, plain)
		}
	}
	if !strings.Contains(v, "\x1b[0;1;91merror:") {
		t.Errorf("the error's colour did not come through:\n%q", v)
	}
	// Wide characters take two cells: the bar after them is in column 4.
	for _, l := range strings.Split(plain, "\n") {
		if i := strings.Index(l, "|ok"); i >= 0 && ansi.StringWidth(l[:i]) != 4 {
			t.Errorf("%q: the bar is at column %d, want 4", l, ansi.StringWidth(l[:i]))
		}
	}
}

func TestLogPaneScrollbackIsBounded(t *testing.T) {
	p := newPane(t, 40, 10)
	var b strings.Builder
	lines := 3 * Scrollback
	for i := range lines {
		fmt.Fprintf(&b, "line %d\r\n", i)
	}
	p.Write([]byte(b.String()))
	if p.n != Scrollback {
		t.Errorf("scrollback holds %d lines, want %d", p.n, Scrollback)
	}
	// Following: the last lines.
	if plain := ansi.Strip(p.View()); !strings.Contains(plain, fmt.Sprintf("line %d", lines-1)) {
		t.Errorf("following view lacks the last line:\n%s", plain)
	}
	// g: the oldest line kept.
	p.Home()
	// What is kept: the scrollback and the emulator's screen, less the
	// empty row under the cursor.
	oldest := lines - Scrollback - (emuRows - 1)
	plain := ansi.Strip(p.View())
	if first := strings.Split(plain, "\n")[1]; first != fmt.Sprintf("line %d", oldest) {
		t.Errorf("top line after g = %q, want line %d", first, oldest)
	}
	if p.Following() {
		t.Error("g leaves the pane following")
	}
	// New output does not move a pinned view.
	p.Write([]byte("more\r\n"))
	if got := ansi.Strip(p.View()); got != plain {
		// the title says the same line; the scrollback lost its oldest
		// line, so the view clamps to the new oldest: line oldest+1.
		if first := strings.Split(got, "\n")[1]; first != fmt.Sprintf("line %d", oldest+1) {
			t.Errorf("pinned view moved to %q", first)
		}
	}
	p.End()
	if !p.Following() || !strings.Contains(ansi.Strip(p.View()), "more") {
		t.Error("G does not follow the tail")
	}
}

func TestLogPaneScrollAndSearch(t *testing.T) {
	p := newPane(t, 40, 6)
	for i := range 100 {
		p.Write([]byte(fmt.Sprintf("line %03d %s\r\n", i, strings.Repeat("x", i%3))))
	}
	p.Scroll(-p.rows())
	if p.Following() {
		t.Error("page up leaves the pane following")
	}
	golden(t, "logpane-pinned", ansi.Strip(p.View()))
	p.StartSearch()
	for _, k := range []string{"l", "i", "n", "e", " ", "0", "4", "2"} {
		p.Type(k)
	}
	if !strings.Contains(ansi.Strip(p.View()), "/line 042") {
		t.Errorf("the title does not show the query being typed:\n%s", ansi.Strip(p.View()))
	}
	p.EndSearch(true)
	v := p.View()
	if p.match != 42 {
		t.Errorf("match at line %d, want 42", p.match)
	}
	if !strings.Contains(v, "\x1b[7mline 042\x1b[0m") {
		t.Errorf("the match is not highlighted:\n%q", v)
	}
	golden(t, "logpane-search", v)
	p.query = "line 0"
	p.match = -1
	p.Next()
	first := p.match
	p.Next()
	if p.match != first-1 {
		t.Errorf("n went from line %d to %d, want %d", first, p.match, first-1)
	}
	p.CancelSearch()
	if p.match != -1 || p.query != "" {
		t.Error("esc does not drop the search")
	}
	p.ToggleFollow()
	if !p.Following() {
		t.Error("f does not follow again")
	}
}

func TestLogPaneSkip(t *testing.T) {
	p := newPane(t, 80, 6)
	p.Write([]byte("first\r\n"))
	p.Skip(3 << 20)
	p.Write([]byte("last\r\n"))
	if plain := ansi.Strip(p.View()); !strings.Contains(plain, "[odu: 3.0 MB of the log skipped here to keep up") {
		t.Errorf("the pane does not say what it skipped:\n%s", plain)
	}
}

// BenchmarkLogPaneWrite feeds the pane coloured lines, as the flood
// benchmark's node writes them, in batches of maxBatch; its MB/s is the
// emulator's throughput on one core.
func BenchmarkLogPaneWrite(b *testing.B) {
	var line strings.Builder
	for i := 1; i <= 8; i++ {
		fmt.Fprintf(&line, "\x1b[3%dmword%d\x1b[0m ", i%7+1, i)
	}
	line.WriteString("\r\n")
	data := []byte(strings.Repeat(line.String(), maxBatch/line.Len()))
	p := NewLogPane(NewCommon(true))
	p.SetSize(80, 38)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		p.Write(data)
	}
}

// TestLogPaneSGRArguments: the arguments of CSI sequences, read from
// the bytes, reach the styles: 256 colours, true colour, a private mode
// between them.
func TestLogPaneSGRArguments(t *testing.T) {
	p := newPane(t, 40, 8)
	p.Write([]byte("\x1b[38;5;208mA\x1b[48;2;10;20;30mB\x1b[?25l\x1b[1mC\x1b[0m\r\n"))
	v := p.View()
	for _, want := range []string{"\x1b[0;38;5;208mA", "\x1b[0;38;5;208;48;2;10;20;30mB", "\x1b[0;1;38;5;208;48;2;10;20;30mC"} {
		if !strings.Contains(v, want) {
			t.Errorf("the view lacks %q:\n%q", want, v)
		}
	}
}
