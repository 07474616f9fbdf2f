package termlog

// The parser: the states of ECMA-48's escape sequences and strings,
// and what each sequence does to the log.

// state is where the parser is in a sequence.
type state uint8

const (
	ground state = iota
	escape
	escInter // ESC and intermediate bytes: waits for the final byte
	csi
	str    // OSC, DCS, APC, PM, SOS: until ST (or BEL)
	strEsc // ESC in a string: ST if a backslash follows
)

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
		switch c {
		case 0x07:
			l.state = ground
		case 0x1b:
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
