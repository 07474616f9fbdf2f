package tui

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/odu-ci/odu/termlog"
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
	p.Write([]byte("\x1b[1;31merror:\x1b[0m bad\n"))
	for i := 0; i <= 100; i += 25 {
		p.Write([]byte(fmt.Sprintf("\rdownloading %3d%%", i)))
	}
	p.Write([]byte("\nstep 1\nstep 2\x1b[1A\x1b[2K\rstep 1 done\x1b[1B\n"))
	p.Write([]byte("\x1b[33mwarning:\x1b[0m two lines\n  the second, indented\n"))
	w := []byte("世界|ok\n")
	p.Write(w[:2])
	p.Write(w[2:])
	v := p.View()
	golden(t, "logpane", v)
	plain := ansi.Strip(v)
	// Each line on a row of its own, from the first column.
	want := []string{"error: bad", "downloading 100%", "step 1 done", "step 2", "warning: two lines", "  the second, indented", "世界|ok"}
	if got := strings.Split(plain, "\n")[1 : 1+len(want)]; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the pane shows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, bad := range []string{"downloading  25%", "\x1b[1A", "[2K"} {
		if strings.Contains(plain, bad) {
			t.Errorf("pane shows %q:\n%s", bad, plain)
		}
	}
	// Bold red is bold and red: which red is the user's terminal's to
	// choose (the old emulator made it bright red, 91).
	if !strings.Contains(v, "\x1b[0;1;31merror:") {
		t.Errorf("the error's colour did not come through:\n%q", v)
	}
	// Wide characters take two cells: the bar after them is in column 4.
	for _, l := range strings.Split(plain, "\n") {
		if i := strings.Index(l, "|ok"); i >= 0 && ansi.StringWidth(l[:i]) != 4 {
			t.Errorf("%q: the bar is at column %d, want 4", l, ansi.StringWidth(l[:i]))
		}
	}
}

// TestLogPaneLinesStartAtColumnZero: a log from a pipe has bare LFs;
// each of its lines is a row of the pane that starts at its first
// column, coloured or not, after a \r progress line too.
func TestLogPaneLinesStartAtColumnZero(t *testing.T) {
	p := newPane(t, 60, 12)
	var want []string
	for i := 1; i <= 30; i++ {
		switch {
		case i%10 == 0:
			p.Write([]byte(fmt.Sprintf("step %02d  0%%\rstep %02d 50%%\rstep %02d done\n", i, i, i)))
			want = append(want, fmt.Sprintf("step %02d done", i))
		case i%3 == 0:
			p.Write([]byte(fmt.Sprintf("\x1b[3%dmline %02d\x1b[0m coloured\n", i%7+1, i)))
			want = append(want, fmt.Sprintf("line %02d coloured", i))
		default:
			p.Write([]byte(fmt.Sprintf("line %02d\n", i)))
			want = append(want, fmt.Sprintf("line %02d", i))
		}
	}
	rows := func() []string { return strings.Split(ansi.Strip(p.View()), "\n")[1:] }
	if got := rows(); strings.Join(got, "\n") != strings.Join(want[30-11:], "\n") {
		t.Errorf("following, the pane shows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want[30-11:], "\n"))
	}
	p.Home()
	if got := rows(); strings.Join(got, "\n") != strings.Join(want[:11], "\n") {
		t.Errorf("at the top, the pane shows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want[:11], "\n"))
	}
	if title := strings.Split(ansi.Strip(p.View()), "\n")[0]; !strings.Contains(title, "pinned at line 1 of 30") {
		t.Errorf("title = %q, want pinned at line 1 of 30", title)
	}
}

// TestLogPaneSearchReportsLogLines: a log line longer than the pane
// wraps over several rows; search finds a match the pane's edge cuts,
// and says which log line it is on, not which row.
func TestLogPaneSearchReportsLogLines(t *testing.T) {
	p := newPane(t, 20, 4)
	// Line 2 takes three rows; in line 3, "needle" is cut at column 20.
	p.Write([]byte("first\n" + strings.Repeat("x", 45) + "\na long line whose needle is cut by the edge\nlast\n"))
	p.StartSearch()
	p.Type("needle")
	p.EndSearch(true)
	if p.notFound {
		t.Fatalf("needle, cut by the edge, not found:\n%s", ansi.Strip(p.View()))
	}
	v := p.View()
	if title := wideTitle(p); !strings.Contains(title, "match at line 3 ") {
		t.Errorf("title = %q, want the match at line 3", title)
	}
	if !regexp.MustCompile(`a long line whose \x1b\[7mne\x1b\[0?m`).MatchString(v) {
		t.Errorf("the part of the match in its row is not highlighted:\n%q", v)
	}
	p.CancelSearch()
	p.Home()
	p.Scroll(4) // the first row of line 3
	if title := wideTitle(p); !strings.Contains(title, "pinned at line 3 of 4") {
		t.Errorf("title = %q, want pinned at line 3 of 4", title)
	}
}

// wideTitle is the pane's title as a pane wide enough for it shows it.
func wideTitle(p *LogPane) string {
	w := p.width
	defer func() { p.width = w }()
	top := p.viewTop() // at the pane's width
	p.width = 200
	return ansi.Strip(p.titleLine(top))
}

func TestLogPaneScrollbackIsBounded(t *testing.T) {
	p := newPane(t, 40, 10)
	var b strings.Builder
	lines := 3 * Scrollback
	for i := range lines {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	p.Write([]byte(b.String()))
	if n := p.log.Len() - p.log.First(); n != Scrollback {
		t.Errorf("scrollback holds %d lines, want %d", n, Scrollback)
	}
	// Following: the last lines.
	if plain := ansi.Strip(p.View()); !strings.Contains(plain, fmt.Sprintf("line %d", lines-1)) {
		t.Errorf("following view lacks the last line:\n%s", plain)
	}
	// g: the oldest line kept.
	p.Home()
	// What is kept: Scrollback lines, the empty one under the cursor
	// included.
	oldest := lines - Scrollback + 1
	plain := ansi.Strip(p.View())
	if first := strings.Split(plain, "\n")[1]; first != fmt.Sprintf("line %d", oldest) {
		t.Errorf("top line after g = %q, want line %d", first, oldest)
	}
	if p.Following() {
		t.Error("g leaves the pane following")
	}
	// New output does not move a pinned view.
	p.Write([]byte("more\n"))
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
		p.Write([]byte(fmt.Sprintf("line %03d %s\n", i, strings.Repeat("x", i%3))))
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
	if !regexp.MustCompile(`\x1b\[7mline 042\x1b\[0?m`).MatchString(v) {
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
	// The skip cuts a character in two: its first half does not show.
	p.Write([]byte("first\n\xe4\xb8"))
	p.Skip(3 << 20)
	p.Write([]byte("last\n"))
	var lines []string
	for i := p.first(); i < p.total(); i++ {
		lines = append(lines, ansi.Strip(p.line(i)))
	}
	want := []string{"first", "[odu: 3.0 MB of the log skipped here to keep up; `odu logs build@x86_64-linux` has all of it]", "last"}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("the pane shows\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
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
	line.WriteString("\n")
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
	p.Write([]byte("\x1b[38;5;208mA\x1b[48;2;10;20;30mB\x1b[?25l\x1b[1mC\x1b[0m\n"))
	v := p.View()
	for _, want := range []string{"\x1b[0;38;5;208mA", "\x1b[0;38;5;208;48;2;10;20;30mB", "\x1b[0;1;38;5;208;48;2;10;20;30mC"} {
		if !strings.Contains(v, want) {
			t.Errorf("the view lacks %q:\n%q", want, v)
		}
	}
}

// TestLogPaneHugeCounts feeds the pane sequences whose counts are far
// past the log, or negative: each does what the log's bounds (or a count
// of 1) do, and nothing loops once per count. (A log has no screen: the
// scrolling and line-editing sequences SU, SD, IL and DL do nothing; CUP
// starts a new line at its column; RIS keeps the log.)
func TestLogPaneHugeCounts(t *testing.T) {
	const big = "999999999999999999999999"
	long := strings.Repeat(" ", termlog.MaxLineCells-2)
	for _, c := range []struct {
		name, in string
		want     []string // the lines the pane shows
	}{
		{"CHT", "x\x1b[" + big + "Iy", []string{"x" + long + "y"}},
		{"CBT", "abcdefghijkl\x1b[" + big + "Zy", []string{"ybcdefghijkl"}},
		{"CUF", "x\x1b[" + big + "Cy", []string{"x" + long + "y"}},
		{"CUB", "abc\x1b[" + big + "Dy", []string{"ybc"}},
		{"CUD", "abc\x1b[" + big + "By", []string{"abcy"}},
		{"CUU", "\n\nabc\x1b[" + big + "Ay", []string{"   y", "", "abc"}},
		{"CNL", "abc\x1b[" + big + "Ey", []string{"ybc"}},
		{"CPL", "\n\nabc\x1b[" + big + "Fy", []string{"y", "", "abc"}},
		{"ICH", "abc\r\x1b[" + big + "@y", []string{"y"}},
		// A minus is an intermediate byte: no count, a sequence of
		// another name, which the log (as xterm) ignores.
		{"ICH negative", "abc\r\x1b[-5@y", []string{"ybc"}},
		{"DCH", "abc\r\x1b[" + big + "Py", []string{"y"}},
		{"DCH negative", "abc\r\x1b[-2Py", []string{"ybc"}},
		{"DCH zero", "abc\r\x1b[0Py", []string{"yc"}},
		{"ECH", "abc\r\x1b[" + big + "Xy", []string{"y"}},
		{"ECH negative", "abc\x1b[-2Xy", []string{"abcy"}},
		{"IL", "abc\r\x1b[" + big + "Ly", []string{"ybc"}},
		{"DL", "abc\ndef\x1b[H\x1b[" + big + "My", []string{"abc", "def", "y"}},
		{"SU", "abc\x1b[" + big + "Sy", []string{"abcy"}},
		{"SD", "abc\x1b[" + big + "Ty", []string{"abcy"}},
		{"RIS", "\x1b[70Gx\x1bc", []string{strings.Repeat(" ", 69) + "x"}},
	} {
		p := newPane(t, 80, 20)
		p.Write([]byte(c.in))
		var got []string
		for i := p.first(); i < p.total(); i++ {
			got = append(got, ansi.Strip(p.line(i)))
		}
		if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%s: the log is %q, want %q", c.name, got, c.want)
		}
	}
}

// TestLogPaneSearchShortLog searches a log shorter than the pane: the
// bottom of the view is past its last line.
func TestLogPaneSearchShortLog(t *testing.T) {
	p := newPane(t, 80, 20)
	p.Write([]byte("error: one\nfine\nerror: two\n"))
	p.StartSearch()
	p.Type("error")
	p.EndSearch(true)
	if p.match != 2 || p.notFound {
		t.Fatalf("match at %d (not found: %v), want line 2", p.match, p.notFound)
	}
	if !strings.Contains(ansi.Strip(p.View()), "match at line 3") {
		t.Errorf("the title does not say the match:\n%s", ansi.Strip(p.View()))
	}
	p.Next()
	if p.match != 0 {
		t.Errorf("n went to line %d, want 0", p.match)
	}
	p.Next() // wraps round to the last line
	if p.match != 2 {
		t.Errorf("n from the oldest match went to line %d, want 2", p.match)
	}
}

// TestLogPaneSearchMatchScrolledOut searches again (n) after the match
// scrolled out of the scrollback: it counts as none.
func TestLogPaneSearchMatchScrolledOut(t *testing.T) {
	for _, again := range []bool{false, true} {
		p := newPane(t, 80, 20)
		p.Write([]byte("needle\n"))
		for range 100 {
			p.Write([]byte("filler\n"))
		}
		p.StartSearch()
		p.Type("needle")
		p.EndSearch(true)
		if p.match != 0 {
			t.Fatalf("match at %d, want 0", p.match)
		}
		var b strings.Builder
		for i := range 3 * Scrollback {
			if again && i == 2*Scrollback+Scrollback/2 {
				b.WriteString("needle again\n")
				continue
			}
			fmt.Fprintf(&b, "line %d\n", i)
		}
		p.Write([]byte(b.String()))
		if p.first() <= 0 {
			t.Fatalf("the first match is still kept (first line %d)", p.first())
		}
		if title := wideTitle(p); !again && !strings.Contains(title, "the match scrolled out of memory") {
			t.Errorf("title = %q, want it to say the match scrolled out", title)
		}
		p.Next()
		_ = p.View()
		switch {
		case !again && (p.match != -1 || !p.notFound):
			t.Errorf("match at %d (not found: %v), want none", p.match, p.notFound)
		case again && (p.match < p.first() || ansi.Strip(p.line(p.match)) != "needle again"):
			t.Errorf("match at %d (%q, first line %d), want the one kept", p.match, p.line(p.match), p.first())
		}
	}
}

// TestLogPaneRewrapsOnResize: lines wrap at the pane's width when it is
// drawn, so a narrow pane made wide shows each log line on one row again
// (the vt10x emulator it replaced cut them at its width for good once they scrolled off).
func TestLogPaneRewrapsOnResize(t *testing.T) {
	p := newPane(t, 20, 6)
	long := "a line of forty cells, made of some text"
	for i := range 30 {
		p.Write([]byte(fmt.Sprintf("%02d %s\n", i, long)))
	}
	rows := func() []string { return strings.Split(ansi.Strip(p.View()), "\n")[1:] }
	narrow := []string{"ells, made of some t", "ext", "29 a line of forty c", "ells, made of some t", "ext"}
	if got := rows(); strings.Join(got, "|") != strings.Join(narrow, "|") {
		t.Errorf("narrow, the pane shows %q, want %q", got, narrow)
	}
	// Pinned at line 27 (each line takes three rows), then widened: the
	// view stays full, its bottom at the last line.
	p.Home()
	p.Scroll(27 * 3)
	if p.Following() || !strings.HasPrefix(rows()[0], "27 a line") {
		t.Fatalf("pinned at %q (following: %v), want line 27", rows()[0], p.Following())
	}
	p.SetSize(60, 6)
	want := []string{"25 " + long, "26 " + long, "27 " + long, "28 " + long, "29 " + long}
	if got := rows(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("wide, the pane shows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestLogPaneWideCharacterAtTheEdge: a wide character that does not fit
// in a row's last cell goes to the next row whole.
func TestLogPaneWideCharacterAtTheEdge(t *testing.T) {
	p := newPane(t, 10, 4)
	p.Write([]byte("abcdefghi世界\n"))
	got := strings.Split(ansi.Strip(p.View()), "\n")[1:]
	if want := []string{"abcdefghi", "世界", ""}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("the pane shows %q, want %q", got, want)
	}
}

// TestLogPaneMatchAcrossRows: a match cut by the pane's edge is
// highlighted on both rows.
func TestLogPaneMatchAcrossRows(t *testing.T) {
	p := newPane(t, 20, 4)
	p.Write([]byte("a long line whose needle is cut by the edge\n"))
	p.StartSearch()
	p.Type("needle")
	p.EndSearch(true)
	v := p.View()
	// The style's reset is ESC[0m or ESC[m, as the style library writes it.
	for _, want := range []string{`a long line whose \x1b\[7mne\x1b\[0?m`, `\x1b\[7medle\x1b\[0?m is cut by the e`} {
		if !regexp.MustCompile(want).MatchString(v) {
			t.Errorf("the view lacks %q:\n%q", want, v)
		}
	}
}

// BenchmarkLogPaneView draws the pane (a frame) over a full scrollback
// of coloured lines, following its tail.
func BenchmarkLogPaneView(b *testing.B) {
	var line strings.Builder
	for i := 1; i <= 8; i++ {
		fmt.Fprintf(&line, "\x1b[3%dmword%d\x1b[0m ", i%7+1, i)
	}
	line.WriteString("\n")
	p := NewLogPane(NewCommon(true))
	p.SetSize(80, 38)
	p.Write([]byte(strings.Repeat(line.String(), Scrollback+100)))
	b.ReportAllocs()
	for b.Loop() {
		_ = p.View()
	}
}
