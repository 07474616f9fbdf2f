package termlog

import "unicode/utf8"

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
	pbuf   []byte // runs packed, before they become a line's string

	// The parser.
	state  state
	params [maxParams]int
	np     int  // parameters read, the one being read included
	priv   bool // a private marker or intermediate byte: not a sequence this model follows
	seqLen int  // bytes in the current sequence or string
	utf    [utf8.UTFMax]byte
	nutf   int
}

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
// empty line a newline added last does not, yet (whether the cursor
// waits on it or went up to redraw a progress display).
func (l *Log) End() int {
	n := l.Len()
	switch {
	case n-1 <= l.base:
	case l.y == n-1 && l.x == 0 && len(l.cur) == 0:
		return n - 1
	case l.y != n-1 && l.lines[l.off+n-1-l.base].text == "":
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
