package termlog

import (
	"strings"
	"testing"
)

// FuzzLog feeds a log hostile bytes, in two writes cut anywhere: it
// never panics, keeps its bounds (lines, bytes, line length, cursor in
// the window), and its lines read back and wrap without panicking.
func FuzzLog(f *testing.F) {
	for _, s := range []string{
		"\x1b[1;31merror\x1b[0m\r\n", "a\x1b[999999999A\x1b[2J\x1b[K", "\x1b]8;;http://x\x07t\x1b]8;;\x07",
		"世界\x1b[2G中\u0301", "\x1b[38;2;1;2;3;48;5;9m\x1b[4@\x1b[3P\x1b[9X", "\x1bP" + strings.Repeat("x", 5000),
		"\x1b[s\n\n\x1b[u\x1b7\x1b8\x1bM\x1bc", strings.Repeat("x", 300) + "\n", "\x1b]0;" + strings.Repeat("x", 5000), "\t\x1b[99I\x1b[99Z\b\b", "\xe4\xb8", "\x1b[H\x1b[5;5f",
	} {
		f.Add([]byte(s), uint(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, b []byte, cut uint) {
		const maxLines, maxBytes = 50, 4096
		l := New(Options{MaxLines: maxLines, MaxBytes: maxBytes})
		k := int(cut % uint(len(b)+1))
		// Written many times, so that the bounds are reached.
		for range 20 {
			l.Write(b[:k])
			l.Write(b[k:])
		}
		if n := l.Len() - l.First(); n > maxLines {
			t.Fatalf("%d lines kept, bound %d", n, maxLines)
		}
		// The lines under the bound, and the cursor's line too.
		if l.size > maxBytes {
			t.Fatalf("the lines hold %d bytes, bound %d", l.size, maxBytes)
		}
		if s := l.Size(); s > maxBytes+MaxLineCells*(2*cellSize+maxComb+16) {
			t.Fatalf("the log holds %d bytes", s)
		}
		if y, x := l.Cursor(); y < l.First() || y >= l.Len() || x < 0 || x >= MaxLineCells+1 {
			t.Fatalf("cursor at %d,%d; lines %d–%d", y, x, l.First(), l.Len())
		}
		for i := l.First(); i < l.Len(); i++ {
			ln := l.Line(i)
			if ln.Width() > MaxLineCells {
				t.Fatalf("line %d is %d cells", i, ln.Width())
			}
			rows, at := 0, 0
			for off, row := range ln.Wrap(64) {
				if off != at {
					t.Fatalf("line %d: a row at %d, want %d", i, off, at)
				}
				at += len(row.Text())
				rows++
				row.AppendANSI(nil, true)
				row.AppendHTML(nil)
			}
			if at != len(ln.Text()) || rows != ln.Rows(64) {
				t.Fatalf("line %d: rows cover %d of %d bytes, %d rows, Rows says %d", i, at, len(ln.Text()), rows, ln.Rows(64))
			}
		}
	})
}
