package web

import (
	"bytes"
	"strconv"
	"unicode/utf8"

	"github.com/odu-ci/odu/termlog"
)

// The bounds of a renderer's log. A page keeps every line it was sent;
// the server keeps only the last ones, where a progress display can
// still redraw (termlog.Window lines), and more, so that no line leaves
// before the page has it as it finally is.
const (
	renderLines = 16384
	renderBytes = 64 << 20
	// piece is how much is written to the log at a time: a piece adds at
	// most that many lines, so checking after each one keeps unsent lines
	// from being dropped (see renderer.write).
	piece = 4096
)

// renderer turns a log's bytes into the lines a page shows, with
// termlog, and says which lines changed since it last said: a page
// resumes at a byte offset by being sent only those.
//
// Which lines can have changed: text, CR, LF, BS and TAB change only the
// cursor's line and the ones after it. A sequence (ESC) can move the
// cursor up, at most termlog.Window lines from the last, and an erase
// (ED, `CSI J`) drops the lines below the cursor, which lets the next
// move reach Window lines further up: a piece with k bytes 'J' reaches at
// most (k+1)·Window lines up from where the log ended before it. Those
// lines are compared with what the page was sent, and only the changed
// ones go.
type renderer struct {
	log *termlog.Log
	fed int64 // bytes written
	// floor is the lowest line that may have changed since the last
	// diff; a line below it is as the page has it.
	floor int
	sent  int // lines the page has (the log's End at the last diff)
	prev  []termlog.Line
	base  int // the line prev[0] is
	buf   []byte
}

func newRenderer() *renderer {
	return &renderer{log: termlog.New(termlog.Options{MaxLines: renderLines, MaxBytes: renderBytes})}
}

// reach is how far up from the last line a piece of the log can change
// lines (see renderer).
func reach(p []byte) int {
	if bytes.IndexByte(p, 0x1b) < 0 {
		return 0
	}
	return (bytes.Count(p, []byte{'J'}) + 1) * termlog.Window
}

// write feeds p to the log, calling flush whenever a line not yet diffed
// could otherwise be dropped from the log's bounds before the next diff.
func (r *renderer) write(p []byte, flush func()) {
	for len(p) > 0 {
		n := min(len(p), piece)
		y, _ := r.log.Cursor()
		r.floor = min(r.floor, y, r.log.Len()-1-reach(p[:n]))
		r.log.Write(p[:n])
		r.fed += int64(n)
		p = p[n:]
		if r.log.Len()-max(r.floor, r.log.First()) > renderLines-piece-1 || r.log.Size() > renderBytes/2 {
			flush()
		}
	}
}

// keep is how many lines before the end a renderer remembers as sent, to
// tell which of them a redraw changed.
const keep = 2 * termlog.Window

// diff appends, as JSON, the lines that changed since the last diff:
// {"a":attempt,"o":offset,"n":lines,"l":[[i,"html"],…]}. The page sets
// its line count to n and each line i listed.
func (r *renderer) diff(b []byte, attempt int) []byte {
	first, end := r.log.First(), r.log.End()
	b = append(b, `{"a":`...)
	b = strconv.AppendInt(b, int64(attempt), 10)
	b = append(b, `,"o":`...)
	b = strconv.AppendInt(b, r.fed, 10)
	b = append(b, `,"n":`...)
	b = strconv.AppendInt(b, int64(end), 10)
	b = append(b, `,"l":[`...)
	comma := false
	for i := max(first, r.floor); i < end; i++ {
		ln := r.log.Line(i)
		if j := i - r.base; j >= 0 && j < len(r.prev) && r.prev[j] == ln && i < r.sent {
			continue
		}
		if comma {
			b = append(b, ',')
		}
		comma = true
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, ',')
		r.buf = ln.AppendHTML(r.buf[:0])
		b = appendJSONString(b, r.buf)
		b = append(b, ']')
	}
	b = append(b, "]}"...)
	r.prev = r.prev[:0]
	r.base = max(first, end-keep)
	for i := r.base; i < end; i++ {
		r.prev = append(r.prev, r.log.Line(i))
	}
	r.sent, r.floor = end, end
	return b
}

// appendJSONString appends s, valid UTF-8 (termlog's HTML is), as a JSON
// string.
func appendJSONString(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		case c < utf8.RuneSelf:
			b = append(b, c)
		default:
			r, n := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
			continue
		}
		i++
	}
	return append(b, '"')
}
