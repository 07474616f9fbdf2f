package termlog

import (
	"unicode/utf8"

	"github.com/mattn/go-runewidth"
)

// The bounds of a Log (see the package doc).
const (
	// Window is how many lines, counting back from the last, the cursor
	// can reach: the lines above it are final.
	Window = 500
	// MaxLineCells is the longest line, in cells: a line that would be
	// longer goes on in a new line.
	MaxLineCells = 16384
	// MaxString is the longest OSC, DCS, APC, PM or SOS string (and CSI
	// sequence) the parser follows: past it the sequence is dropped and
	// what follows is text again.
	MaxString = 4096
	// maxCount is the most any count in a sequence is taken to be: no
	// movement goes further than a line's or the window's length.
	maxCount = MaxLineCells
	// maxParams is how many parameters of a CSI sequence are read.
	maxParams = 32
	// maxComb is the most bytes of zero-width characters one cell holds.
	maxComb = 32
	// cellSize is what a cell of the cursor's line costs.
	cellSize = 16

	// DefaultMaxLines and DefaultMaxBytes are the bounds of the kept
	// lines when [Options] gives none.
	DefaultMaxLines = 10000
	DefaultMaxBytes = 16 << 20
)

// Options bound a Log's memory.
type Options struct {
	// MaxLines is how many lines are kept; older ones are dropped.
	MaxLines int
	// MaxBytes bounds the bytes the kept lines hold (text, styles and a
	// fixed cost a line); older lines are dropped to stay under it.
	MaxBytes int
}

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

// Log is a log as a terminal would show it, line by line. Write it the
// bytes a program wrote; read its lines back by absolute number: line 0
// is the log's first, and numbers do not change when old lines are
// dropped. A Log is not safe for concurrent use.
type Log struct {
	opt Options

	lines []Line // lines[off:] are kept: line base, base+1, …
	off   int
	base  int
	size  int // bytes held by kept lines, the cursor's excepted

	// The cursor: line y (its text is in cur, not in lines), column x.
	// x may be past the line's end: writing there pads with blanks.
	y, x  int
	cur   []cell
	comb  map[int]string // zero-width characters after cell i of cur
	pen   Style
	saved struct {
		y, x int
		pen  Style
	}
	snap   Line // the cursor's line as a Line, when snapOK
	snapOK bool
	buf    []byte
	rbuf   []run

	// The parser.
	state  state
	params [maxParams]int
	np     int  // parameters read, the one being read included
	priv   bool // a private marker or intermediate byte: not a sequence this model follows
	seqLen int  // bytes in the current sequence or string
	utf    [utf8.UTFMax]byte
	nutf   int
}

type state uint8

const (
	ground state = iota
	escape
	escInter // ESC and intermediate bytes: waits for the final byte
	csi
	str    // OSC, DCS, APC, PM, SOS: until ST (or BEL)
	strEsc // ESC in a string: ST if a backslash follows
)

// New returns an empty log.
func New(opt Options) *Log {
	if opt.MaxLines <= 0 {
		opt.MaxLines = DefaultMaxLines
	}
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = DefaultMaxBytes
	}
	return &Log{opt: opt, lines: make([]Line, 1, 64)}
}

// First returns the number of the oldest line kept.
func (l *Log) First() int { return l.base }

// Len returns the number after the last line: the cursor's line is the
// last, even when it is empty.
func (l *Log) Len() int { return l.base + len(l.lines) - l.off }

// End returns the number after the last line that shows something: the
// empty line the cursor waits on after a newline does not, yet.
func (l *Log) End() int {
	n := l.Len()
	if l.y == n-1 && l.x == 0 && len(l.cur) == 0 && n-1 > l.base {
		return n - 1
	}
	return n
}

// Cursor returns the cursor's line and column.
func (l *Log) Cursor() (line, col int) { return l.y, l.x }

// Size returns the bytes the log holds in lines, the cursor's included:
// at most about MaxBytes, plus MaxLineCells cells for the cursor's line.
func (l *Log) Size() int {
	n := l.size + cap(l.cur)*cellSize
	for _, s := range l.comb {
		n += len(s) + 16
	}
	return n
}

// Line returns line i; an empty Line when it is not kept.
func (l *Log) Line(i int) Line {
	switch {
	case i < l.base || i >= l.Len():
		return Line{}
	case i == l.y:
		if !l.snapOK {
			l.snap, l.snapOK = l.freeze(), true
		}
		return l.snap
	}
	return l.lines[l.off+i-l.base]
}

// Cut forgets a sequence or character cut short: the next bytes are
// read from the ground state. For bytes that were skipped.
func (l *Log) Cut() { l.state, l.nutf = ground, 0 }

// Write feeds the log what a program wrote. It never fails.
func (l *Log) Write(p []byte) (int, error) {
	l.snapOK = false
	for i := 0; i < len(p); {
		c := p[i]
		if l.state != ground {
			l.seq(c)
			i++
			continue
		}
		if l.nutf > 0 {
			if c&0xc0 != 0x80 { // not a continuation: the sequence was cut
				for range l.nutf {
					l.print(utf8.RuneError) // a byte each, as utf8.DecodeRune reads them
				}
				l.nutf = 0
				continue
			}
			l.utf[l.nutf] = c
			l.nutf++
			i++
			if utf8.FullRune(l.utf[:l.nutf]) {
				r, n := utf8.DecodeRune(l.utf[:l.nutf])
				l.print(r)
				for range l.nutf - n {
					l.print(utf8.RuneError)
				}
				l.nutf = 0
			}
			continue
		}
		switch {
		case c >= 0x20 && c < 0x7f:
			j := i + 1
			for j < len(p) && p[j] >= 0x20 && p[j] < 0x7f {
				j++
			}
			l.ascii(p[i:j])
			i = j
		case c < 0x80:
			l.control(c)
			i++
		case utf8.FullRune(p[i:]):
			r, n := utf8.DecodeRune(p[i:])
			l.print(r)
			i += n
		default: // a character cut by the end of p
			l.nutf = copy(l.utf[:], p[i:])
			i = len(p)
		}
	}
	return len(p), nil
}

// control executes a C0 control character.
func (l *Log) control(c byte) {
	switch c {
	case '\n', '\v', '\f':
		l.newline()
	case '\r':
		l.x = 0
	case '\b':
		l.x = max(l.x-1, 0)
	case '\t':
		l.x = min((l.x/8+1)*8, MaxLineCells-1)
	case 0x1b:
		l.state = escape
		l.seqLen = 0
	}
}

// seq reads byte c of an escape sequence or string.
func (l *Log) seq(c byte) {
	l.seqLen++
	if c == 0x18 || c == 0x1a || l.seqLen > MaxString { // CAN, SUB, or too long: dropped
		l.state = ground
		return
	}
	switch l.state {
	case escape:
		l.state = ground
		switch {
		case c == '[':
			l.state, l.np, l.priv, l.params[0] = csi, 0, false, 0
		case c == ']' || c == 'P' || c == '_' || c == '^' || c == 'X':
			l.state = str
		case c >= 0x20 && c < 0x30:
			l.state = escInter
		case c == 0x1b:
			l.state = escape
		case c < 0x20:
			l.control(c)
			if l.state == ground {
				l.state = escape
			}
		case c == '7':
			l.saved.y, l.saved.x, l.saved.pen = l.y, l.x, l.pen
		case c == '8':
			l.restore()
		case c == 'c': // RIS: the style goes, the log stays
			l.pen = Style{}
			if len(l.cur) > 0 {
				l.newline()
			}
			l.x = 0
		case c == 'D': // IND
			x := l.x
			l.newline()
			l.x = x
		case c == 'E': // NEL
			l.newline()
		case c == 'M': // RI
			l.moveTo(l.y - 1)
		}
	case escInter:
		switch {
		case c >= 0x30 && c < 0x7f:
			l.state = ground
		case c == 0x1b:
			l.state = escape
		}
	case csi:
		switch {
		case c >= '0' && c <= '9':
			if l.np == 0 {
				l.np = 1
			}
			v := l.params[l.np-1]*10 + int(c-'0')
			l.params[l.np-1] = min(v, maxCount)
		case c == ';' || c == ':':
			if l.np == 0 {
				l.np = 1
			}
			if l.np < maxParams {
				l.params[l.np] = 0
				l.np++
			}
		case c >= 0x3c && c <= 0x3f, c >= 0x20 && c < 0x30:
			l.priv = true
		case c >= 0x40 && c < 0x7f:
			l.state = ground
			if !l.priv {
				l.dispatch(c)
			}
		case c == 0x1b:
			l.state = escape
			l.seqLen = 0
		case c < 0x20:
			l.control(c)
		}
	case str:
		switch {
		case c == 0x07:
			l.state = ground
		case c == 0x1b:
			l.state = strEsc
		}
	case strEsc:
		if c == '\\' {
			l.state = ground
			return
		}
		l.state = escape // another sequence begins: the string ends
		l.seqLen = 0
		l.seq(c)
	}
}

// arg returns CSI parameter i, or def when it is missing or zero.
func (l *Log) arg(i, def int) int {
	if i >= l.np || l.params[i] == 0 {
		return def
	}
	return l.params[i]
}

// dispatch executes a CSI sequence.
func (l *Log) dispatch(final byte) {
	n := l.arg(0, 1)
	switch final {
	case 'A': // CUU
		l.moveTo(l.y - n)
	case 'B', 'e': // CUD, VPR
		l.moveTo(l.y + n)
	case 'C', 'a': // CUF, HPR
		l.x = min(l.x+n, MaxLineCells-1)
	case 'D': // CUB
		l.x = max(l.x-n, 0)
	case 'E': // CNL
		l.moveTo(l.y + n)
		l.x = 0
	case 'F': // CPL
		l.moveTo(l.y - n)
		l.x = 0
	case 'G', '`': // CHA, HPA
		l.x = min(n, MaxLineCells) - 1
	case 'H', 'f': // CUP: the column; a log has no rows, so a new line
		if len(l.cur) > 0 || l.y != l.Len()-1 {
			l.moveTo(l.Len() - 1)
			if len(l.cur) > 0 {
				l.newline()
			}
		}
		l.x = min(l.arg(1, 1), MaxLineCells) - 1
	case 'I': // CHT
		for range min(n, MaxLineCells/8+1) {
			l.x = min((l.x/8+1)*8, MaxLineCells-1)
		}
	case 'Z': // CBT
		for range min(n, MaxLineCells/8+1) {
			l.x = max((l.x-1)/8*8, 0)
		}
	case 'J': // ED
		switch l.arg(0, 0) {
		case 0:
			l.eraseRight()
			l.dropBelow()
		case 1:
			l.eraseLeft()
		case 2, 3:
			l.cur, l.comb = l.cur[:0], nil
			l.dropBelow()
		}
	case 'K': // EL
		switch l.arg(0, 0) {
		case 0:
			l.eraseRight()
		case 1:
			l.eraseLeft()
		case 2:
			l.cur, l.comb = l.cur[:0], nil
		}
	case 'X': // ECH
		for i := l.x; i < min(l.x+n, len(l.cur)); i++ {
			l.blank(i)
		}
		l.trimRight()
	case '@': // ICH
		if l.x < len(l.cur) {
			l.splitWide(l.x)
			n = min(n, MaxLineCells-l.x)
			keep := min(len(l.cur), MaxLineCells-n)
			l.cur = append(l.cur[:keep], make([]cell, n)...)
			copy(l.cur[l.x+n:], l.cur[l.x:keep])
			for i := l.x; i < l.x+n; i++ {
				l.cur[i] = blankCell
			}
			l.shiftComb(l.x, n)
			l.trimRight()
		}
	case 'P': // DCH
		if l.x < len(l.cur) {
			l.splitWide(l.x)
			n = min(n, len(l.cur)-l.x)
			l.splitWide(l.x + n)
			l.cur = append(l.cur[:l.x], l.cur[l.x+n:]...)
			l.shiftComb(l.x, -n)
			l.trimRight()
		}
	case 'm':
		l.pen.sgr(l.params[:l.np])
	case 's':
		l.saved.y, l.saved.x, l.saved.pen = l.y, l.x, l.pen
	case 'u':
		l.restore()
	}
}

func (l *Log) restore() {
	l.moveTo(l.saved.y)
	l.x, l.pen = l.saved.x, l.saved.pen
}

// top is the first line the cursor can reach.
func (l *Log) top() int { return max(l.base, l.Len()-Window) }

// moveTo moves the cursor to line y, kept in the window.
func (l *Log) moveTo(y int) {
	y = min(max(y, l.top()), l.Len()-1)
	if y == l.y {
		return
	}
	l.store()
	l.y = y
	l.load()
	l.trim() // the line left may have grown
}

// store puts the cursor's line back in lines.
func (l *Log) store() {
	ln := l.freeze()
	l.lines[l.off+l.y-l.base] = ln
	l.size += ln.size()
	l.cur, l.comb = l.cur[:0], nil
}

// load takes the cursor's line out of lines into cells.
func (l *Log) load() {
	i := l.off + l.y - l.base
	ln := l.lines[i]
	l.lines[i] = Line{}
	l.size -= ln.size()
	l.cur = l.cur[:0]
	rs := ln.runs
	var st Style
	for at, r := range ln.text {
		for len(rs) > 0 && rs[0].at <= at {
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

// newline moves the cursor to the first column of the next line, which
// it adds after the last one; old lines are dropped to keep the bounds.
func (l *Log) newline() {
	l.x = 0
	if l.y < l.Len()-1 {
		l.moveTo(l.y + 1)
		return
	}
	l.store()
	l.lines = append(l.lines, Line{})
	l.y++
	l.trim()
}

// trim drops the oldest lines while the bounds are passed. The cursor's
// line stays.
func (l *Log) trim() {
	for l.base < l.y && (l.Len()-l.base > l.opt.MaxLines || l.size > l.opt.MaxBytes) {
		l.size -= l.lines[l.off].size()
		l.lines[l.off] = Line{}
		l.off++
		l.base++
	}
	if l.off > 256 && l.off > len(l.lines)/2 {
		n := copy(l.lines, l.lines[l.off:])
		clear(l.lines[n:])
		l.lines = l.lines[:n]
		l.off = 0
	}
}

// dropBelow drops the lines below the cursor's (ED): in a log, what a
// display erases below itself is gone, not blank.
func (l *Log) dropBelow() {
	keep := l.off + l.y - l.base + 1
	for _, ln := range l.lines[keep:] {
		l.size -= ln.size()
	}
	clear(l.lines[keep:])
	l.lines = l.lines[:keep]
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
			rs = append(rs, run{len(b), c.st})
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
		ln.runs = append([]run(nil), rs...)
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
