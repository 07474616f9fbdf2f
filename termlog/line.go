package termlog

import (
	"iter"
	"unicode/utf8"
)

// Line is a log line as it stands: its text and the styles of its runs.
// It is a value; a Line taken from a [Log] does not change when the log
// does.
type Line struct {
	text  string
	runs  string // style changes, by byte offset in text, packed (runs.go); none when all default
	width int    // in cells
	wide  bool   // some rune takes two cells
}

// run is where a style starts.
type run struct {
	at int32 // lines hold at most MaxLineCells characters: the offset fits
	st Style
}

// lineOverhead is what a kept line costs beyond its text and runs, for
// the bound on bytes.
const lineOverhead = 64

// size is the bytes the line holds, for the bound on memory.
func (l *Line) size() int { return len(l.text) + len(l.runs) + lineOverhead }

// Text returns the line's plain text.
func (l Line) Text() string { return l.text }

// Width returns the cells the line takes.
func (l Line) Width() int { return l.width }

// Span is a piece of a line in one style.
type Span struct {
	Text  string
	Style Style
}

// Spans yields the line's text in pieces of one style each.
func (l Line) Spans() iter.Seq[Span] {
	return func(yield func(Span) bool) {
		if len(l.runs) == 0 {
			if l.text != "" {
				yield(Span{Text: l.text})
			}
			return
		}
		var buf [16]run
		runs := unpackRuns(buf[:0], l.runs)
		if runs[0].at > 0 && !yield(Span{Text: l.text[:runs[0].at]}) {
			return
		}
		for i, r := range runs {
			end := len(l.text)
			if i+1 < len(runs) {
				end = int(runs[i+1].at)
			}
			if end > int(r.at) && !yield(Span{Text: l.text[r.at:end], Style: r.st}) {
				return
			}
		}
	}
}

// Rows returns how many rows the line takes on a screen cols wide: at
// least one, for an empty line too.
func (l Line) Rows(cols int) int {
	cols = max(cols, 2)
	if !l.wide {
		return max(1, (l.width+cols-1)/cols)
	}
	n := 0
	for range l.cuts(cols) {
		n++
	}
	return n
}

// cuts yields the byte offsets where the line's rows start on a screen
// cols wide: a wide character that does not fit at a row's end goes to
// the next, and a zero-width one stays with the character before it.
func (l Line) cuts(cols int) iter.Seq[int] {
	return func(yield func(int) bool) {
		if !yield(0) {
			return
		}
		if l.width <= cols {
			return
		}
		col := 0
		for i, r := range l.text {
			w := runeWidth(r)
			if w > 0 && col+w > cols {
				if !yield(i) {
					return
				}
				col = 0
			}
			col += w
		}
	}
}

// Wrap yields the rows of the line on a screen cols wide, each a Line,
// with the byte offset in the line's text where it starts. An empty line
// is one empty row.
func (l Line) Wrap(cols int) iter.Seq2[int, Line] {
	cols = max(cols, 2)
	return func(yield func(int, Line) bool) {
		var buf [16]run
		runs := unpackRuns(buf[:0], l.runs)
		prev, k := -1, 0
		for at := range l.cuts(cols) {
			if prev >= 0 && !yield(prev, l.slice(runs, prev, at, &k)) {
				return
			}
			prev = at
		}
		yield(prev, l.slice(runs, prev, len(l.text), &k))
	}
}

// slice returns the part of the line from byte i to byte j, which are
// rune boundaries; runs are the line's, unpacked, and *k is the index of
// a run at or before i, moved on for the next slice.
func (l Line) slice(runs []run, i, j int, k *int) Line {
	s := Line{text: l.text[i:j], wide: l.wide}
	for _, r := range s.text {
		s.width += runeWidth(r)
	}
	var st Style
	if *k > 0 {
		st = runs[*k-1].st
	}
	for ; *k < len(runs) && int(runs[*k].at) <= i; *k++ {
		st = runs[*k].st
	}
	var rs []run
	if st != (Style{}) {
		rs = append(rs, run{0, st})
	}
	for n := *k; n < len(runs) && int(runs[n].at) < j; n++ {
		rs = append(rs, run{runs[n].at - int32(i), runs[n].st})
	}
	if len(rs) > 0 {
		s.runs = string(packRuns(nil, rs))
	}
	return s
}

// AppendANSI appends the line as text with SGR sequences: each change
// of style is `ESC[0;…m` (`ESC[0m` back to the default), and a line that
// ends styled ends with `ESC[0m`. Without colour, it appends the plain
// text.
func (l Line) AppendANSI(b []byte, colour bool) []byte {
	if !colour || len(l.runs) == 0 {
		return append(b, l.text...)
	}
	styled := false
	for sp := range l.Spans() {
		switch {
		case sp.Style != (Style{}):
			b = sp.Style.AppendSGR(b)
			styled = true
		case styled:
			b = append(b, "\x1b[0m"...)
			styled = false
		}
		b = append(b, sp.Text...)
	}
	if styled {
		b = append(b, "\x1b[0m"...)
	}
	return b
}

// AppendHTML appends the line as HTML: its text escaped, each styled
// piece in a span with classes for its attributes and indexed colours
// and an inline style for 24-bit colours (see [Style]). No newline.
func (l Line) AppendHTML(b []byte) []byte {
	for sp := range l.Spans() {
		if sp.Style == (Style{}) {
			b = appendEscaped(b, sp.Text)
			continue
		}
		b = append(b, "<span"...)
		b = sp.Style.appendHTMLAttrs(b)
		b = append(b, '>')
		b = appendEscaped(b, sp.Text)
		b = append(b, "</span>"...)
	}
	return b
}

func appendEscaped(b []byte, s string) []byte {
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		switch r {
		case '&':
			b = append(b, "&amp;"...)
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '"':
			b = append(b, "&#34;"...)
		case '\'':
			b = append(b, "&#39;"...)
		default:
			b = append(b, s[:n]...)
		}
		s = s[n:]
	}
	return b
}
