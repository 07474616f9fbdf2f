package termlog

import (
	"unicode/utf8"

	"github.com/mattn/go-runewidth"
)

// The cursor's line, as cells: writing, erasing, and turning it into a
// Line and back.

// cell is a cell of the cursor's line: a character and its style. The
// right half of a wide character is a cell of its own, [wideTail].
type cell struct {
	r  rune
	st Style
}

const wideTail rune = -1

var blankCell = cell{r: ' '}

var widths = func() *runewidth.Condition {
	c := runewidth.NewCondition()
	c.EastAsianWidth = false // ambiguous characters are narrow, whatever the locale
	return c
}()

// runeWidth is the cells r takes: 0, 1 or 2.
func runeWidth(r rune) int {
	if r < 0x300 {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			return 0
		}
		return 1
	}
	return widths.RuneWidth(r)
}

// load takes the cursor's line out of lines into cells.
func (l *Log) load() {
	i := l.off + l.y - l.base
	ln := l.lines[i]
	l.lines[i] = Line{}
	l.size -= ln.size()
	l.cur = l.cur[:0]
	rs := unpackRuns(l.rbuf[:0], ln.runs)
	l.rbuf = rs
	var st Style
	for at, r := range ln.text {
		for len(rs) > 0 && int(rs[0].at) <= at {
			st, rs = rs[0].st, rs[1:]
		}
		switch runeWidth(r) {
		case 0:
			if len(l.cur) > 0 {
				l.addComb(len(l.cur)-1, r)
			}
		case 1:
			l.cur = append(l.cur, cell{r, st})
		case 2:
			l.cur = append(l.cur, cell{r, st}, cell{wideTail, st})
		}
	}
}

// freeze returns the cursor's line as a Line. Trailing blanks are not
// kept.
func (l *Log) freeze() Line {
	cur := l.cur
	for len(cur) > 0 && cur[len(cur)-1] == blankCell && l.comb[len(cur)-1] == "" {
		cur = cur[:len(cur)-1]
	}
	if len(cur) == 0 {
		return Line{}
	}
	b, rs := l.buf[:0], l.rbuf[:0]
	var st Style
	wide := false
	comb := len(l.comb) > 0
	for i, c := range cur {
		if c.st != st {
			rs = append(rs, run{int32(len(b)), c.st})
			st = c.st
		}
		switch {
		case c.r < utf8.RuneSelf && c.r >= 0:
			b = append(b, byte(c.r))
		case c.r == wideTail:
			wide = true
		default:
			b = utf8.AppendRune(b, c.r)
		}
		if comb {
			b = append(b, l.comb[i]...)
		}
	}
	ln := Line{text: string(b), width: len(cur), wide: wide}
	if len(rs) > 0 {
		l.pbuf = packRuns(l.pbuf[:0], rs)
		ln.runs = string(l.pbuf)
	}
	l.buf, l.rbuf = b, rs
	return ln
}

// ascii writes printable ASCII at the cursor.
func (l *Log) ascii(s []byte) {
	st := l.pen
	for len(s) > 0 {
		if l.x >= MaxLineCells {
			l.newline()
		}
		n := min(len(s), MaxLineCells-l.x)
		if l.x == len(l.cur) { // at the end: append
			for _, c := range s[:n] {
				l.cur = append(l.cur, cell{rune(c), st})
			}
		} else {
			for k, c := range s[:n] {
				l.put(l.x+k, cell{rune(c), st})
			}
		}
		l.x += n
		s = s[n:]
	}
}

// print writes a character at the cursor.
func (l *Log) print(r rune) {
	if r >= 0x80 && r < 0xa0 { // C1 controls, as characters: not shown
		return
	}
	switch runeWidth(r) {
	case 0:
		if l.x > 0 && l.x-1 < len(l.cur) {
			i := l.x - 1
			if l.cur[i].r == wideTail && i > 0 {
				i--
			}
			l.addComb(i, r)
		}
	case 1:
		if l.x >= MaxLineCells {
			l.newline()
		}
		l.put(l.x, cell{r, l.pen})
		l.x++
	case 2:
		if l.x >= MaxLineCells-1 {
			l.newline()
		}
		l.put(l.x, cell{r, l.pen})
		l.put(l.x+1, cell{wideTail, l.pen})
		l.x += 2
	}
}

// put sets cell i of the cursor's line, padding it with blanks, and
// blanks what is left of a wide character it overwrites half of.
func (l *Log) put(i int, c cell) {
	if i >= len(l.cur) {
		for len(l.cur) < i {
			l.cur = append(l.cur, blankCell)
		}
		l.cur = append(l.cur, c)
		return
	}
	if c.r != wideTail {
		l.splitWide(i) // the right half of a wide character: its left goes
	}
	if i+1 < len(l.cur) && l.cur[i+1].r == wideTail && l.cur[i].r != wideTail {
		l.cur[i+1] = blankCell // the left half: its right goes
	}
	if l.comb != nil {
		delete(l.comb, i)
	}
	l.cur[i] = c
}

// splitWide blanks the left half of a wide character whose right half
// is cell i.
func (l *Log) splitWide(i int) {
	if i > 0 && i < len(l.cur) && l.cur[i].r == wideTail {
		l.cur[i-1] = blankCell
		l.cur[i] = blankCell
	}
}

// blank blanks cell i, and the other half of a wide character.
func (l *Log) blank(i int) {
	l.splitWide(i)
	if i+1 < len(l.cur) && l.cur[i+1].r == wideTail {
		l.cur[i+1] = blankCell
	}
	l.cur[i] = blankCell
	if l.comb != nil {
		delete(l.comb, i)
	}
}

func (l *Log) eraseRight() {
	if l.x < len(l.cur) {
		l.splitWide(l.x)
		l.cur = l.cur[:l.x]
		for i := range l.comb {
			if i >= l.x {
				delete(l.comb, i)
			}
		}
	}
}

func (l *Log) eraseLeft() {
	for i := 0; i <= l.x && i < len(l.cur); i++ {
		l.blank(i)
	}
	l.trimRight()
}

// trimRight drops trailing blanks of the cursor's line.
func (l *Log) trimRight() {
	for len(l.cur) > 0 && l.cur[len(l.cur)-1] == blankCell && l.comb[len(l.cur)-1] == "" {
		l.cur = l.cur[:len(l.cur)-1]
	}
}

func (l *Log) addComb(i int, r rune) {
	if l.comb == nil {
		l.comb = map[int]string{}
	}
	if s := l.comb[i]; len(s)+utf8.RuneLen(r) <= maxComb {
		l.comb[i] = string(utf8.AppendRune([]byte(s), r))
	}
}

// shiftComb moves the zero-width characters at or after cell at by n
// cells (dropping those that fall before at or off the line).
func (l *Log) shiftComb(at, n int) {
	if len(l.comb) == 0 {
		return
	}
	m := map[int]string{}
	for i, s := range l.comb {
		switch {
		case i < at:
			m[i] = s
		case i+n >= at && i+n < len(l.cur):
			m[i+n] = s
		}
	}
	l.comb = m
}
