package tui

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"

	"github.com/odu-ci/odu/surface"
	"github.com/odu-ci/odu/tui/internal/vt10x"
)

const (
	// Scrollback is how many lines the log pane keeps above its
	// emulator's screen: at ~100 bytes a rendered line, about 1 MB. Older
	// lines are on disk only.
	Scrollback = 10000
	// emuRows is the emulator's screen height, whatever the pane's: the
	// rows a recipe's cursor movements can reach back (a multi-line
	// progress display). A scroll costs a move of each row, so it stays
	// small.
	emuRows = 50
	// minLogHeight is the least the log pane gets on a narrow terminal,
	// its title included.
	minLogHeight = 8
)

// LogPane shows the focused node's log as a terminal would.
type LogPane struct {
	c             *Common
	width, height int

	id      string
	attempt int
	node    *surface.Node // for the title; nil for a lane's setup log
	label   string        // what the pane shows, when no node

	// Rows and lines: a row is what the screen shows on one line; a log
	// line longer than the pane wraps over several rows. Positions are
	// absolute row numbers (row 0 is the log's first); what the user
	// reads (a match, where the view is pinned) is told in log lines.
	term     vt10x.Terminal
	cols     int
	back     []backRow // ring of scrolled-off rows
	head     int       // index in back of the oldest row
	n        int       // rows in back
	scrolled int       // rows ever scrolled off: the absolute number of screen row 0
	lines    int       // log lines begun in the rows scrolled off
	wrapped  bool      // the last row scrolled off goes on in the next
	carry    []byte    // an incomplete UTF-8 sequence at the end of the last write
	bytes    int64     // bytes written since the last reset
	skipped  int64     // bytes skipped since the last reset

	follow bool
	top    int // when pinned: the absolute line at the top of the view

	searching bool   // typing a query
	query     string // the last query
	match     int    // absolute row of the current match, -1 for none
	matchAt   int    // byte offset of the match in that row's plain text
	notFound  bool
}

// backRow is a row of the scrollback: rendered, the log line it is part
// of (0-based), and whether the line goes on in the next row.
type backRow struct {
	text string
	line int
	wrap bool
}

// NewLogPane returns an empty pane.
func NewLogPane(c *Common) *LogPane {
	p := &LogPane{c: c, cols: 80, follow: true, match: -1}
	p.Reset("", 0)
	return p
}

// SetSize sets the pane's size, its title line included.
func (p *LogPane) SetSize(w, h int) {
	p.width, p.height = w, h
	if cols := max(w, 10); cols != p.cols {
		p.cols = cols
		p.term.Resize(cols, emuRows)
	}
}

// ID returns the log the pane shows.
func (p *LogPane) ID() string { return p.id }

// Attempt returns the attempt of the log the pane shows.
func (p *LogPane) Attempt() int { return p.attempt }

// Reset empties the pane for a log: a node's (or a lane's setup log) at
// an attempt.
func (p *LogPane) Reset(id string, attempt int) {
	p.id, p.attempt = id, attempt
	p.back = make([]backRow, 0, 256)
	p.head, p.n, p.scrolled, p.lines, p.wrapped = 0, 0, 0, 0, false
	p.carry = p.carry[:0]
	p.bytes, p.skipped = 0, 0
	p.follow, p.top = true, 0
	p.match, p.notFound = -1, false
	p.term = vt10x.New(vt10x.WithSize(p.cols, emuRows), vt10x.WithScrollback(p.scrollOut))
}

// SetNode gives the pane the node it shows, for its title.
func (p *LogPane) SetNode(n *surface.Node, label string) { p.node, p.label = n, label }

func (p *LogPane) scrollOut(row []vt10x.Glyph) {
	if !p.wrapped {
		p.lines++
	}
	p.wrapped = len(row) > 0 && row[len(row)-1].Mode&vt10x.AttrWrap != 0
	line := backRow{text: renderRow(row, p.c.Colour), line: p.lines - 1, wrap: p.wrapped}
	if p.n < Scrollback {
		if len(p.back) < Scrollback {
			p.back = append(p.back, line)
		} else {
			p.back[(p.head+p.n)%Scrollback] = line
		}
		p.n++
	} else {
		p.back[p.head] = line
		p.head = (p.head + 1) % Scrollback
	}
	p.scrolled++
}

// Write feeds log bytes to the emulator.
func (p *LogPane) Write(b []byte) {
	p.bytes += int64(len(b))
	if len(p.carry) > 0 {
		b = append(p.carry, b...)
		p.carry = nil
	}
	// Hold back a UTF-8 sequence cut at the end, for the next write.
	if cut := incomplete(b); cut > 0 {
		p.carry = append([]byte(nil), b[len(b)-cut:]...)
		b = b[:len(b)-cut]
	}
	p.term.Write(b)
}

// incomplete returns how many bytes at the end of b start a UTF-8
// sequence that b does not finish.
func incomplete(b []byte) int {
	for i := 1; i <= 3 && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < 0x80 {
			return 0
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return i
			}
			return 0
		}
	}
	return 0
}

// Skip notes that n bytes of the log were not shown here: the pane could
// not keep up with them.
func (p *LogPane) Skip(n int64) {
	p.skipped += n
	nl := "\r\n"
	if p.term.Cursor().X == 0 {
		nl = ""
	}
	p.carry = nil
	fmt.Fprintf(p.term, "\x1b[0m%s\x1b[2m[odu: %s of the log skipped here to keep up; `odu logs %s` has all of it]\x1b[0m\r\n", nl, sizeOf(n), p.id)
}

func sizeOf(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// screenRows is how many rows of the emulator's screen hold something:
// up to the cursor's, or the last row written below it.
func (p *LogPane) screenRows() int {
	last := p.term.Cursor().Y
	if p.term.Cursor().X == 0 && p.term.Cell(0, last).Char == ' ' && blankRow(p.term, last) {
		last-- // an empty line under the cursor is not shown yet
	}
	for y := emuRows - 1; y > last; y-- {
		if !blankRow(p.term, y) {
			last = y
			break
		}
	}
	return last + 1
}

func blankRow(t vt10x.Terminal, y int) bool {
	cols, _ := t.Size()
	for x := 0; x < cols; x++ {
		if !blank(t.Cell(x, y)) {
			return false
		}
	}
	return true
}

func blank(g vt10x.Glyph) bool {
	return (g.Char == ' ' || g.Char == 0) && g.BG == vt10x.DefaultBG && g.Mode&(vt10x.AttrReverse|vt10x.AttrUnderline) == 0
}

// total is the absolute number after the last row: scrollback and the
// used screen rows.
func (p *LogPane) total() int { return p.scrolled + p.screenRows() }

// first is the absolute number of the oldest row kept.
func (p *LogPane) first() int { return p.scrolled - p.n }

// line returns the rendered absolute row i; empty for a row not kept
// (or not yet written).
func (p *LogPane) line(i int) string {
	if i < p.first() {
		return ""
	}
	if i < p.scrolled {
		return p.back[(p.head+i-p.first())%Scrollback].text
	}
	cols, rows := p.term.Size()
	y := i - p.scrolled
	if y >= rows {
		return ""
	}
	row := make([]vt10x.Glyph, cols)
	for x := range row {
		row[x] = p.term.Cell(x, y)
	}
	return renderRow(row, p.c.Colour)
}

// wraps reports whether absolute row i goes on in the next: its log
// line was longer than the pane.
func (p *LogPane) wraps(i int) bool {
	switch {
	case i < p.first():
		return false
	case i < p.scrolled:
		return p.back[(p.head+i-p.first())%Scrollback].wrap
	}
	cols, rows := p.term.Size()
	y := i - p.scrolled
	return y < rows && p.term.Cell(cols-1, y).Mode&vt10x.AttrWrap != 0
}

// lineOf returns the log line (0-based) that absolute row i is part of.
func (p *LogPane) lineOf(i int) int {
	if i < p.scrolled {
		if i < p.first() {
			return 0
		}
		return p.back[(p.head+i-p.first())%Scrollback].line
	}
	ln, wrap := p.lines-1, p.wrapped
	for r := p.scrolled; r <= i; r++ {
		if !wrap {
			ln++
		}
		wrap = p.wraps(r)
	}
	return ln
}

func (p *LogPane) rows() int { return max(p.height-1, 1) }

// viewTop is the absolute line at the top of the view.
func (p *LogPane) viewTop() int {
	total := p.total()
	if p.follow {
		return max(total-p.rows(), p.first())
	}
	return min(max(p.top, p.first()), max(total-p.rows(), p.first()))
}

// Scroll moves the view by n lines (up when negative); scrolling pins
// it, and scrolling to the end follows again.
func (p *LogPane) Scroll(n int) {
	top := p.viewTop() + n
	p.follow = false
	p.top = max(top, p.first())
	if p.top >= p.total()-p.rows() {
		p.follow = true
	}
}

// ToggleFollow switches between following the tail and pinning the view
// where it is.
func (p *LogPane) ToggleFollow() {
	if p.follow {
		p.top, p.follow = p.viewTop(), false
		return
	}
	p.follow = true
}

// Home shows the oldest line kept; End follows the tail.
func (p *LogPane) Home() { p.follow, p.top = false, p.first() }

// End follows the tail.
func (p *LogPane) End() { p.follow = true }

// Following reports whether the pane follows the tail.
func (p *LogPane) Following() bool { return p.follow }

// StartSearch starts typing a query.
func (p *LogPane) StartSearch() { p.searching, p.query, p.notFound = true, "", false }

// Searching reports whether a query is being typed.
func (p *LogPane) Searching() bool { return p.searching }

// Type adds what was typed to the query; backspace removes.
func (p *LogPane) Type(s string) {
	if s == "backspace" {
		if r := []rune(p.query); len(r) > 0 {
			p.query = string(r[:len(r)-1])
		}
		return
	}
	p.query += s
}

// EndSearch stops typing: find the query, or drop it (esc).
func (p *LogPane) EndSearch(find bool) {
	p.searching = false
	if !find || p.query == "" {
		p.query, p.match, p.notFound = "", -1, false
		return
	}
	p.match = -1
	p.Next()
}

// CancelSearch forgets the query and the match.
func (p *LogPane) CancelSearch() { p.EndSearch(false) }

// Next finds the query's next match, going back from the current one (or
// from the bottom of the view) and wrapping round at the oldest line.
func (p *LogPane) Next() {
	if p.query == "" {
		return
	}
	total, first := p.total(), p.first()
	n := total - first
	if n <= 0 {
		p.match, p.notFound = -1, true
		return
	}
	// A match that has scrolled out of the scrollback counts as none.
	start := p.match - 1
	if p.match < first {
		start = p.viewTop() + p.rows() - 1
	}
	// The bottom of the view is past the last line when the log is
	// shorter than the pane; a match may be past it when the screen was
	// cleared. Before the oldest line, it wraps round to the last.
	start = min(start, total-1)
	if start < first {
		start = total - 1
	}
	for k := 0; k < n; k++ {
		i := start - k
		if i < first {
			i += n
		}
		if at, ok := p.find(i); ok {
			p.match, p.matchAt, p.notFound = i, at, false
			p.follow = false
			p.top = max(i-p.rows()/2, p.first())
			return
		}
	}
	p.match, p.notFound = -1, true
}

// find looks for the query starting in absolute row i: in its text and,
// when its log line wraps on, the rows after it, so that a match cut by
// the pane's edge is found. It returns the match's offset in the row.
func (p *LogPane) find(i int) (int, bool) {
	row := ansi.Strip(p.line(i))
	text := row
	for j := i; p.wraps(j) && len(text) < len(row)+len(p.query); j++ {
		text += ansi.Strip(p.line(j + 1))
	}
	at := strings.Index(text, p.query)
	if at < 0 || at >= len(row) {
		return 0, false
	}
	return at, true
}

// View renders the title line and the log lines.
func (p *LogPane) View() string {
	rows := p.rows()
	top := p.viewTop()
	total := p.total()
	var b strings.Builder
	b.WriteString(p.titleLine(top, total))
	for i := top; i < top+rows; i++ {
		b.WriteByte('\n')
		if i >= total {
			continue
		}
		l := p.line(i)
		if i == p.match {
			l = p.highlight(ansi.Strip(l))
		}
		b.WriteString(ansi.Truncate(l, p.width, ""))
	}
	return b.String()
}

// highlight marks the match in its row: the part of it there, when the
// row's end cuts it.
func (p *LogPane) highlight(plain string) string {
	i := p.matchAt
	if i >= len(plain) {
		return plain
	}
	j := min(i+len(p.query), len(plain))
	return plain[:i] + p.c.Styles.Match.Render(plain[i:j]) + plain[j:]
}

func (p *LogPane) titleLine(top, total int) string {
	s := p.c.Styles
	what := p.label
	if what == "" {
		what = p.id
	}
	if what == "" {
		what = "no node"
	}
	parts := []string{s.Title.Render(what)}
	if n := p.node; n != nil {
		parts = append(parts, s.Status[n.Status].Render(string(n.Status)))
		if n.ExitCode != nil {
			parts = append(parts, s.Status[n.Status].Render("exit "+strconv.Itoa(*n.ExitCode)))
		}
		if n.Attempt > 1 {
			parts = append(parts, "attempt "+strconv.Itoa(n.Attempt))
		}
		if n.Reason != "" && n.Status != surface.Failure {
			parts = append(parts, s.Dim.Render(n.Reason))
		}
	}
	switch {
	case p.searching:
		parts = append(parts, "/"+p.query+"▏")
	case p.notFound:
		parts = append(parts, s.Error.Render("not found: "+p.query))
	case p.match >= 0 && p.match < p.first():
		parts = append(parts, "the match scrolled out of memory (n: next, esc: done)")
	case p.match >= 0:
		parts = append(parts, fmt.Sprintf("match at line %d (n: next, esc: done)", p.lineOf(p.match)+1))
	case p.follow:
		parts = append(parts, s.Dim.Render("following"))
	default:
		parts = append(parts, s.Dim.Render(fmt.Sprintf("pinned at line %d of %d", p.lineOf(top)+1, p.lineOf(max(total-1, 0))+1)))
	}
	line := "─ " + strings.Join(parts, " · ") + " "
	if w := ansi.StringWidth(line); w < p.width {
		line += s.Dim.Render(strings.Repeat("─", p.width-w))
	}
	return ansi.Truncate(line, p.width, "…")
}

// renderRow turns a row of cells into text, with SGR sequences for its
// styles when colour is on; trailing blanks are dropped. It runs for
// every line a log scrolls by, so it appends to one buffer and allocates
// only the string it returns.
func renderRow(row []vt10x.Glyph, colour bool) string {
	end := len(row)
	for end > 0 && blank(row[end-1]) {
		end--
	}
	var arr [512]byte
	b := arr[:0]
	var cur vt10x.Glyph
	styled := false
	for i := 0; i < end; i++ {
		g := row[i]
		if g.Mode&vt10x.AttrWideDummy != 0 {
			continue
		}
		if colour && (i == 0 || g.FG != cur.FG || g.BG != cur.BG || style(g.Mode) != style(cur.Mode)) {
			n := len(b)
			b = append(b, "\x1b[0"...)
			b = appendSGR(b, g)
			switch {
			case len(b)-n > 3: // a style
				b = append(b, 'm')
				styled = true
			case styled: // back to none
				b = append(b, 'm')
				styled = false
			default:
				b = b[:n]
			}
			cur = g
		}
		c := g.Char
		if c == 0 {
			c = ' '
		}
		b = utf8.AppendRune(b, c)
	}
	if styled {
		b = append(b, "\x1b[0m"...)
	}
	return string(b)
}

func style(m int16) int16 {
	return m & (vt10x.AttrBold | vt10x.AttrItalic | vt10x.AttrUnderline)
}

// appendSGR appends the SGR parameters of a cell's style, each after a
// `;`.
func appendSGR(b []byte, g vt10x.Glyph) []byte {
	if g.Mode&vt10x.AttrBold != 0 {
		b = append(b, ";1"...)
	}
	if g.Mode&vt10x.AttrItalic != 0 {
		b = append(b, ";3"...)
	}
	if g.Mode&vt10x.AttrUnderline != 0 {
		b = append(b, ";4"...)
	}
	if g.FG == vt10x.DefaultBG && g.BG == vt10x.DefaultFG { // reversed defaults
		return append(b, ";7"...)
	}
	b = appendColour(b, g.FG, 30)
	return appendColour(b, g.BG, 40)
}

func appendColour(b []byte, c vt10x.Color, base int) []byte {
	num := func(b []byte, n int) []byte { return strconv.AppendInt(append(b, ';'), int64(n), 10) }
	switch {
	case c == vt10x.DefaultFG || c == vt10x.DefaultBG:
	case c < 8:
		b = num(b, base+int(c))
	case c < 16:
		b = num(b, base+60+int(c)-8)
	case c < 256:
		b = num(num(num(b, base+8), 5), int(c))
	case c < 1<<24:
		b = num(num(num(num(num(b, base+8), 2), int(c>>16&0xff)), int(c>>8&0xff)), int(c&0xff))
	}
	return b
}
