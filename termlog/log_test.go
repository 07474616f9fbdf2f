package termlog

import (
	"fmt"
	"strings"
	"testing"
)

// lines feeds in to a new log, in one write, and returns its lines as
// plain text, one a line.
func lines(in string) string {
	l := New(Options{})
	l.Write([]byte(in))
	return text(l)
}

func text(l *Log) string {
	var s []string
	for i := l.First(); i < l.End(); i++ {
		s = append(s, l.Line(i).Text())
	}
	return strings.Join(s, "\n")
}

// styled returns the log's lines with SGR sequences.
func styled(l *Log) string {
	var s []string
	for i := l.First(); i < l.End(); i++ {
		s = append(s, string(l.Line(i).AppendANSI(nil, true)))
	}
	return strings.Join(s, "\n")
}

const big = "999999999999999999999999"

// TestControls: each control sequence a log uses, what a terminal would
// show of it.
func TestControls(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"LF returns to the first column", "ab\ncd", "ab\ncd"},
		{"CR rewrites the line", "50%\r100%", "100%"},
		{"CR keeps the rest", "abcdef\rxy", "xycdef"},
		{"BS", "abc\b\bX", "aXc"},
		{"BS at column 0", "\b\bab", "ab"},
		{"TAB", "a\tb", "a       b"},
		{"TAB huge", "a" + strings.Repeat("\t", 3000) + "b", "a" + strings.Repeat(" ", MaxLineCells-2) + "b"},
		{"VT and FF are LF", "a\vb\fc", "a\nb\nc"},
		{"BEL and NUL show nothing", "a\a\x00b", "ab"},
		{"DEL shows nothing", "a\x7fb", "ab"},
		{"CUU", "a\nb\nc\x1b[2AX", "aX\nb\nc"},
		{"CUU keeps the column", "abc\nd\x1b[AX", "aXc\nd"},
		{"CUU huge stops at the first line", "a\nb\n\x1b[" + big + "AX", "X\nb"},
		{"CUD", "a\nb\nc\x1b[2A\x1b[BX", "a\nbX\nc"},
		{"CUD stops at the last line", "a\nb\x1b[" + big + "BX", "a\nbX"},
		{"CUF", "a\x1b[3Cb", "a   b"},
		{"CUF huge stops at the longest line", "a\x1b[" + big + "Cb", "a" + strings.Repeat(" ", MaxLineCells-2) + "b"},
		{"CUF with a count past int64", "a\x1b[9223372036854775808Cb", "a" + strings.Repeat(" ", MaxLineCells-2) + "b"},
		{"CUB", "abcd\x1b[2DX", "abXd"},
		{"CUB huge", "abcd\x1b[" + big + "DX", "Xbcd"},
		{"CNL", "a\nb\x1b[A\x1b[EX", "a\nX"},
		{"CPL", "a\nb\nc\x1b[2FX", "X\nb\nc"},
		{"CPL huge", "a\nb\nc\x1b[" + big + "FX", "X\nb\nc"},
		{"CHA", "abcdef\x1b[3GX", "abXdef"},
		{"CHA default", "abc\x1b[GX", "Xbc"},
		{"CHA huge", "a\x1b[" + big + "GX", "a" + strings.Repeat(" ", MaxLineCells-2) + "X"},
		{"CHT", "a\x1b[2Ib", "a               b"},
		{"CHT huge", "x\x1b[" + big + "Iy", "x" + strings.Repeat(" ", MaxLineCells-2) + "y"},
		{"CBT", "abcdefghijkl\x1b[Zy", "abcdefghyjkl"},
		{"CBT huge", "abcdefghijkl\x1b[" + big + "Zy", "ybcdefghijkl"},
		{"EL 0", "abcdef\x1b[3D\x1b[K", "abc"},
		{"EL 1", "abcdef\x1b[3D\x1b[1K", "    ef"},
		{"EL 2", "abcdef\x1b[2KX", "      X"},
		{"EL 2 with CR", "abcdef\x1b[2K\rX", "X"},
		{"ECH", "abcdef\r\x1b[2X", "  cdef"},
		{"ECH huge", "abc\r\x1b[" + big + "Xy", "y"},
		{"ICH", "abc\r\x1b[2@", "  abc"},
		{"ICH huge", "abc\r\x1b[" + big + "@y", "y"},
		{"DCH", "abcdef\r\x1b[2P", "cdef"},
		{"DCH huge", "abc\r\x1b[" + big + "Py", "y"},
		{"DCH zero is one", "abc\r\x1b[0Py", "yc"},
		{"ED 0 drops the lines below", "a\nb\nc\nd\x1b[2A\x1b[JX", "a\nbX"},
		{"ED 0 in the line", "a\nbcd\x1b[2D\x1b[J", "a\nb"},
		{"ED 2 keeps the lines above", "a\nb\nc\x1b[A\x1b[2JX", "a\n X"},
		{"CUP starts a new line", "abc\x1b[HX", "abc\nX"},
		{"CUP column", "abc\x1b[5;3HX", "abc\n  X"},
		{"clear screen", "abc\n\x1b[H\x1b[2Jdef", "abc\ndef"},
		{"save and restore, CSI", "a\x1b[s\nb\nc\x1b[uX", "aX\nb\nc"},
		{"save and restore, ESC", "a\x1b7\nb\x1b8X", "aX\nb"},
		{"RI", "a\nb\x1bMX", "aX\nb"},
		{"NEL", "a\x1bEb", "a\nb"},
		{"IND keeps the column", "a\x1bDb", "a\n b"},
		{"RIS keeps the log", "\x1b[31mabc\x1bcdef", "abc\ndef"},
		{"scroll, insert and delete line do nothing", "abc\x1b[5S\x1b[5T\x1b[2L\x1b[2M!", "abc!"},
		{"private modes do nothing", "a\x1b[?25l\x1b[?1049hb\x1b[?25h", "ab"},
		{"charset designation", "a\x1b(Bb\x1b)0c", "abc"},
		{"keypad modes", "a\x1b=b\x1b>c", "abc"},
		{"OSC 8 hyperlink keeps the text", "see \x1b]8;;https://x.test/\x1b\\the docs\x1b]8;;\x1b\\.", "see the docs."},
		// `]0;` and 4093 x make MaxString bytes after ESC; the next is
		// dropped, and the rest is text again.
		{"an endless OSC is cut at MaxString", "a\x1b]0;" + strings.Repeat("x", MaxString+10) + "b", "a" + strings.Repeat("x", 12) + "b"},
		{"an endless CSI too", "a\x1b[" + strings.Repeat("1", MaxString+10) + "b", "a" + strings.Repeat("1", 10) + "b"},
		{"OSC ended by BEL", "a\x1b]0;title\ab", "ab"},
		{"DCS", "a\x1bPq#0;2;0;0;0#1!6~\x1b\\b", "ab"},
		{"APC", "a\x1b_bk;t=123\x1b\\b", "ab"},
		{"PM and SOS", "a\x1b^pm\x1b\\b\x1bXsos\x1b\\c", "abc"},
		{"a sequence in a string ends it", "a\x1b]0;t\x1b[31mb", "ab"},
		{"CAN aborts", "a\x1b[31\x18b", "ab"},
		{"C0 in CSI is executed", "ab\x1b[\r1CX", "aX"},
		{"C1 controls as characters show nothing", "a\u0085\u009bb", "ab"},
		{"invalid UTF-8", "a\xffb\xc3", "a\ufffdb"},
		{"cut UTF-8", "a\xe4\xb8b", "a\ufffd\ufffdb"},
		{"wide characters take two cells", "世界\rX", "X 界"},
		{"a line of wide characters, gone back to", "世界\nx\x1b[AX", " X界\nx"},
		{"half a wide character overwritten", "世界\x1b[2GX", " X界"},
		{"a wide character over two halves", "世界\x1b[2G中", " 中"},
		{"zero-width characters join the one before", "e\u0301x\rE", "Ex"},
		{"zero-width at column 0", "\u0301a", "a"},
		{"emoji", "🎉|\r\x1b[2C|", "🎉|"},
		{"trailing blanks are not kept", "abc   \n", "abc"},
		{"an empty last line is not shown", "a\n", "a"},
		{"nor when the cursor went up", "a\nb\n\x1b[2A", "a\nb"},
		{"a cursor past the end of an empty last line shows it", "a\n\x1b[3C", "a\n"},
		{"empty lines are", "a\n\n\nb", "a\n\n\nb"},
	} {
		if got := lines(c.in); got != c.want {
			t.Errorf("%s: %q\n got %q\nwant %q", c.name, c.in, got, c.want)
		}
	}
}

// TestSplitWrites: every byte in a write of its own, and the same bytes
// at once, give the same log.
func TestSplitWrites(t *testing.T) {
	in := "\x1b[1;38;5;208mé世🎉\x1b[0m \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\\r\x1b[2C\x1b[Knext\x1bPdcs\x1b\\\n"
	all := New(Options{})
	all.Write([]byte(in))
	one := New(Options{})
	for i := range len(in) {
		one.Write([]byte{in[i]})
	}
	if a, b := styled(all), styled(one); a != b || a == "" {
		t.Errorf("byte by byte:\n%q\nat once:\n%q", b, a)
	}
	if got := text(one); got != "é next" {
		t.Errorf("text %q", got)
	}
}

func TestSGR(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"\x1b[31mred\x1b[0m plain", "\x1b[0;31mred\x1b[0m plain"},
		{"\x1b[1;31mbold red\x1b[m", "\x1b[0;1;31mbold red\x1b[0m"},
		{"\x1b[91;104mbright", "\x1b[0;91;104mbright\x1b[0m"},
		{"\x1b[38;5;208mA\x1b[48;2;10;20;30mB\x1b[?25l\x1b[1mC", "\x1b[0;38;5;208mA\x1b[0;38;5;208;48;2;10;20;30mB\x1b[0;1;38;5;208;48;2;10;20;30mC\x1b[0m"},
		{"\x1b[38:5:208mA", "\x1b[0;38;5;208mA\x1b[0m"},
		{"\x1b[1;2;3;4;5;7;9mall\x1b[22;23;24;25;27;29mnone", "\x1b[0;1;2;3;4;5;7;9mall\x1b[0mnone"},
		{"\x1b[31;42mx\x1b[39mx\x1b[49mx", "\x1b[0;31;42mx\x1b[0;42mx\x1b[0mx"},
		{"\x1b[38;5;999mbad\x1b[38;2;300;1mbad", "badbad"},
		{"\x1b[58;5;3munderline colour", "underline colour"},
		{"\x1b[" + big + "mhuge", "huge"},
		{"\x1b[" + strings.Repeat("1;", 100) + "31mmany", "\x1b[0;1mmany\x1b[0m"}, // parameters past 32 are not read,
		{"\x1b[7m \x1b[0m", "\x1b[0;7m \x1b[0m"},
		{"\x1b[41m  \x1b[0m  ", "\x1b[0;41m  \x1b[0m"},
	} {
		l := New(Options{})
		l.Write([]byte(c.in))
		if got := styled(l); got != c.want {
			t.Errorf("%q\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

// TestWindow: the cursor reaches Window lines back, no further; the
// lines above are final.
func TestWindow(t *testing.T) {
	l := New(Options{})
	for i := range Window + 10 {
		fmt.Fprintf(l, "line %d\n", i)
	}
	fmt.Fprintf(l, "\x1b[%dAX", Window+5)
	y, _ := l.Cursor()
	if top := l.Len() - Window; y != top {
		t.Errorf("cursor on line %d, want %d (the window's top)", y, top)
	}
	if got := l.Line(11).Text(); got != "Xine 11" {
		t.Errorf("line 11 = %q, want the window's top rewritten", got)
	}
	if got := l.Line(10).Text(); got != "line 10" {
		t.Errorf("line 10 = %q: above the window is final", got)
	}
}

// TestBounds: lines, bytes and line length stay bounded; old lines go
// and keep their numbers.
func TestBounds(t *testing.T) {
	l := New(Options{MaxLines: 100})
	for i := range 1000 {
		fmt.Fprintf(l, "line %d\n", i)
	}
	if l.First() != 901 || l.End() != 1000 || l.Line(901).Text() != "line 901" || l.Line(900).Text() != "" {
		t.Errorf("first %d end %d, line 901 %q", l.First(), l.End(), l.Line(901).Text())
	}
	l = New(Options{MaxBytes: 10000})
	for i := range 1000 {
		fmt.Fprintf(l, "%s %d\n", strings.Repeat("x", 100), i)
	}
	if l.Size() > 10000+cap(l.cur)*cellSize || l.End()-l.First() < 50 {
		t.Errorf("size %d, %d lines kept", l.Size(), l.End()-l.First())
	}
	l = New(Options{})
	l.Write([]byte(strings.Repeat("ab", MaxLineCells) + "c"))
	if l.End() != 3 || l.Line(0).Width() != MaxLineCells || l.Line(2).Text() != "c" {
		t.Errorf("a line of %d cells: %d lines, the first %d cells", 2*MaxLineCells+1, l.End(), l.Line(0).Width())
	}
}

func TestWrap(t *testing.T) {
	l := New(Options{})
	l.Write([]byte("abc\x1b[31mdefgh\x1b[0mij\n世界世界x\n\n"))
	for _, c := range []struct {
		line, cols int
		want       []string
	}{
		{0, 4, []string{"abc\x1b[0;31md\x1b[0m", "\x1b[0;31mefgh\x1b[0m", "ij"}},
		{0, 10, []string{"abc\x1b[0;31mdefgh\x1b[0mij"}},
		{1, 3, []string{"世", "界", "世", "界x"}},
		{2, 5, []string{""}},
	} {
		ln := l.Line(c.line)
		var got []string
		at := 0
		for off, row := range ln.Wrap(c.cols) {
			if off != at {
				t.Errorf("line %d, %d cols: row at byte %d, want %d", c.line, c.cols, off, at)
			}
			at += len(row.Text())
			got = append(got, string(row.AppendANSI(nil, true)))
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") || ln.Rows(c.cols) != len(c.want) {
			t.Errorf("line %d, %d cols: %q (%d rows), want %q", c.line, c.cols, got, ln.Rows(c.cols), c.want)
		}
	}
}

func TestHTML(t *testing.T) {
	l := New(Options{})
	l.Write([]byte("<a href=\"x\">&'\x1b[1;31mbold red\x1b[0m \x1b[38;5;208;48;2;1;2;255mx\x1b[0m \x1b[3;4;7;9;2;5;92;103my\x1b[0m ok"))
	want := `&lt;a href=&#34;x&#34;&gt;&amp;&#39;<span class="term-bold term-fg31">bold red</span> <span class="term-fgx208" style="background-color:#0102ff;">x</span> <span class="term-faint term-italic term-underline term-blink term-reverse term-strike term-fg92 term-bg103">y</span> ok`
	if got := string(l.Line(0).AppendHTML(nil)); got != want {
		t.Errorf("HTML\n got %s\nwant %s", got, want)
	}
}
