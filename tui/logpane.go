package tui

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/odu-ci/odu/surface"
	"github.com/odu-ci/odu/termlog"
)

const (
	// Scrollback is how many log lines the pane keeps (the log's
	// [termlog.Window] the cursor can reach included): 1.2 MB of plain
	// 60-character lines, 3.5 MB of 120-character lines that change
	// colour 16 times each (and never more than termlog's
	// DefaultMaxBytes). Older lines are on disk only.
	Scrollback = 10000
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

	// The log, in lines (termlog numbers them from the log's first);
	// the pane wraps a line longer than itself over rows. What the user
	// reads (a match, where the view is pinned) is told in log lines.
	log *termlog.Log

	follow bool
	top    pos // when pinned: the row at the top of the view

	searching bool   // typing a query
	query     string // the last query
	match     int    // log line of the current match, -1 for none
	matchAt   int    // byte offset of the match in that line's text
	notFound  bool
}

// pos is a row of the view: row r of log line i, wrapped.
type pos struct{ i, r int }

func (a pos) before(b pos) bool { return a.i < b.i || a.i == b.i && a.r < b.r }

// NewLogPane returns an empty pane.
func NewLogPane(c *Common) *LogPane {
	p := &LogPane{c: c, follow: true, match: -1}
	p.Reset("", 0)
	return p
}

// SetSize sets the pane's size, its title line included.
func (p *LogPane) SetSize(w, h int) { p.width, p.height = w, h }

// cols is the width lines wrap at.
func (p *LogPane) cols() int { return max(p.width, 2) }

// ID returns the log the pane shows.
func (p *LogPane) ID() string { return p.id }

// Attempt returns the attempt of the log the pane shows.
func (p *LogPane) Attempt() int { return p.attempt }

// Reset empties the pane for a log: a node's (or a lane's setup log) at
// an attempt.
func (p *LogPane) Reset(id string, attempt int) {
	p.id, p.attempt = id, attempt
	p.log = termlog.New(termlog.Options{MaxLines: Scrollback})
	p.follow, p.top = true, pos{}
	p.match, p.notFound = -1, false
}

// SetNode gives the pane the node it shows, for its title.
func (p *LogPane) SetNode(n *surface.Node, label string) { p.node, p.label = n, label }

// Write feeds log bytes to the pane.
func (p *LogPane) Write(b []byte) { p.log.Write(b) }

// Skip notes that n bytes of the log were not shown here: the pane could
// not keep up with them.
func (p *LogPane) Skip(n int64) {
	p.log.Cut()
	nl := "\n"
	if _, x := p.log.Cursor(); x == 0 {
		nl = ""
	}
	fmt.Fprintf(p.log, "\x1b[0m%s\x1b[2m[odu: %s of the log skipped here to keep up; `odu logs %s` has all of it]\x1b[0m\n", nl, sizeOf(n), p.id)
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

// first is the oldest log line kept.
func (p *LogPane) first() int { return p.log.First() }

// total is the number after the last log line shown.
func (p *LogPane) total() int { return p.log.End() }

// line returns log line i, rendered; empty for a line not kept.
func (p *LogPane) line(i int) string { return string(p.log.Line(i).AppendANSI(nil, p.c.Colour)) }

// move returns the row n rows after (before, when negative) at, kept
// between the first row and the last.
func (p *LogPane) move(at pos, n int) pos {
	first, total, cols := p.first(), p.total(), p.cols()
	if at.i < first {
		at = pos{first, 0}
	}
	if total <= first {
		return pos{first, 0}
	}
	if at.i >= total {
		at = pos{total - 1, p.log.Line(total-1).Rows(cols) - 1}
	}
	at.r = min(at.r, p.log.Line(at.i).Rows(cols)-1)
	for ; n > 0; n-- {
		switch {
		case at.r+1 < p.log.Line(at.i).Rows(cols):
			at.r++
		case at.i+1 < total:
			at = pos{at.i + 1, 0}
		default:
			return at
		}
	}
	for ; n < 0; n++ {
		switch {
		case at.r > 0:
			at.r--
		case at.i > first:
			at.i--
			at.r = p.log.Line(at.i).Rows(cols) - 1
		default:
			return at
		}
	}
	return at
}

// tail is the top of the view that shows the last row at its bottom.
func (p *LogPane) tail() pos { return p.move(pos{p.total(), 0}, -(p.rows() - 1)) }

func (p *LogPane) rows() int { return max(p.height-1, 1) }

// viewTop is the row at the top of the view.
func (p *LogPane) viewTop() pos {
	tail := p.tail()
	if p.follow || tail.before(p.top) {
		return tail
	}
	return p.move(p.top, 0)
}

// Scroll moves the view by n rows (up when negative); scrolling pins
// it, and scrolling to the end follows again.
func (p *LogPane) Scroll(n int) {
	p.top = p.move(p.viewTop(), n)
	p.follow = !p.top.before(p.tail())
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

// Home shows the oldest line kept.
func (p *LogPane) Home() { p.follow, p.top = false, pos{p.first(), 0} }

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
		start = p.move(p.viewTop(), p.rows()-1).i
	}
	// A match may be past the last line when the log's end was erased.
	// Before the oldest line, it wraps round to the last.
	start = min(start, total-1)
	if start < first {
		start = total - 1
	}
	for k := range n {
		i := start - k
		if i < first {
			i += n
		}
		if at := strings.Index(p.log.Line(i).Text(), p.query); at >= 0 {
			p.match, p.matchAt, p.notFound = i, at, false
			p.follow = false
			p.top = p.move(pos{i, p.rowOf(i, at)}, -(p.rows() / 2))
			return
		}
	}
	p.match, p.notFound = -1, true
}

// rowOf returns the row of line i, wrapped, that byte at of its text is
// on.
func (p *LogPane) rowOf(i, at int) int {
	r := -1
	for off := range p.log.Line(i).Wrap(p.cols()) {
		if off > at {
			break
		}
		r++
	}
	return max(r, 0)
}

// View renders the title line and the log's rows.
func (p *LogPane) View() string {
	top := p.viewTop()
	var b []byte
	b = append(b, p.titleLine(top)...)
	n, total := 0, p.total()
	for i := top.i; i < total && n < p.rows(); i++ {
		ln := p.log.Line(i)
		r := 0
		for off, row := range ln.Wrap(p.cols()) {
			if i == top.i && r < top.r {
				r++
				continue
			}
			if n == p.rows() {
				break
			}
			b = append(b, '\n')
			if i == p.match {
				b = append(b, p.highlight(row.Text(), off)...)
			} else {
				b = row.AppendANSI(b, p.c.Colour)
			}
			n++
		}
	}
	for ; n < p.rows(); n++ {
		b = append(b, '\n')
	}
	return string(b)
}

// highlight marks the part of the match in a row of its line, which
// starts at byte off of the line; the row is plain.
func (p *LogPane) highlight(row string, off int) string {
	i, j := p.matchAt-off, p.matchAt+len(p.query)-off
	if j <= 0 || i >= len(row) {
		return row
	}
	i, j = max(i, 0), min(j, len(row))
	return row[:i] + p.c.Styles.Match.Render(row[i:j]) + row[j:]
}

func (p *LogPane) titleLine(top pos) string {
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
		parts = append(parts, fmt.Sprintf("match at line %d (n: next, esc: done)", p.match+1))
	case p.follow:
		parts = append(parts, s.Dim.Render("following"))
	default:
		parts = append(parts, s.Dim.Render(fmt.Sprintf("pinned at line %d of %d", top.i+1, max(p.total(), 1))))
	}
	line := "─ " + strings.Join(parts, " · ") + " "
	if w := ansi.StringWidth(line); w < p.width {
		line += s.Dim.Render(strings.Repeat("─", p.width-w))
	}
	return ansi.Truncate(line, p.width, "…")
}
