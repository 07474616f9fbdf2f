package tui

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/odu-ci/odu/internal/look"
	"github.com/odu-ci/odu/surface"
)

// Matrix shows the nodes as a grid: a row per recipe (with its
// arguments), a column per platform, each cell the node's status glyph in
// its colour and its elapsed time. One cell has the focus. When the rows
// do not fit, it shows a window that follows the focus and says how many
// rows it holds back.
type Matrix struct {
	c             *Common
	width, height int
	x, y          int // where it is drawn, for the mouse

	names     []string // rows
	platforms []string // columns
	grid      [][]int  // node index per row and column, -1 for none
	ids       []string // the IDs of the nodes the grid was built from
	st        *surface.State

	row, col int
	top      int // the first row shown
}

// NewMatrix returns an empty matrix.
func NewMatrix(c *Common) *Matrix { return &Matrix{c: c, st: &surface.State{}} }

// SetSize sets the size the matrix may take.
func (m *Matrix) SetSize(w, h int) { m.width, m.height = w, h; m.scrollToFocus() }

// SetOrigin says where the matrix is drawn on the screen.
func (m *Matrix) SetOrigin(x, y int) { m.x, m.y = x, y }

// SetState rebuilds the grid from the run's nodes, in their order (the
// pipeline's topological order), keeping the focus on the same node.
func (m *Matrix) SetState(st *surface.State) {
	// The focused node's ID, from the grid and the nodes it was built
	// from: st may be the state the grid was built from, replaced since,
	// whose node indices are not the grid's.
	focused := ""
	if m.row < len(m.grid) && m.col < len(m.grid[m.row]) {
		if i := m.grid[m.row][m.col]; i >= 0 && i < len(m.ids) {
			focused = m.ids[i]
		}
	}
	m.st = st
	rows := map[string]int{}
	cols := map[string]int{}
	m.names, m.platforms, m.grid, m.ids = m.names[:0], m.platforms[:0], m.grid[:0], m.ids[:0]
	found := false
	var frow, fcol int
	for _, p := range st.Run.Platforms {
		if _, ok := cols[p]; !ok {
			cols[p] = len(m.platforms)
			m.platforms = append(m.platforms, p)
		}
	}
	for _, n := range st.Nodes {
		if _, ok := cols[n.Platform]; !ok {
			cols[n.Platform] = len(m.platforms)
			m.platforms = append(m.platforms, n.Platform)
		}
	}
	for i, n := range st.Nodes {
		r, ok := rows[n.Name]
		if !ok {
			r = len(m.names)
			rows[n.Name] = r
			m.names = append(m.names, n.Name)
			line := make([]int, len(m.platforms))
			for j := range line {
				line[j] = -1
			}
			m.grid = append(m.grid, line)
		}
		m.grid[r][cols[n.Platform]] = i
		m.ids = append(m.ids, n.ID)
		if focused != "" && n.ID == focused {
			found, frow, fcol = true, r, cols[n.Platform]
		}
	}
	m.row, m.col = min(m.row, max(len(m.names)-1, 0)), min(m.col, max(len(m.platforms)-1, 0))
	if found {
		m.row, m.col = frow, fcol
	}
	m.scrollToFocus()
}

// Focused returns the focused node, or nil.
func (m *Matrix) Focused() *surface.Node {
	if m.row >= len(m.grid) || m.col >= len(m.platforms) {
		return nil
	}
	if i := m.grid[m.row][m.col]; i >= 0 && i < len(m.st.Nodes) {
		return &m.st.Nodes[i]
	}
	return nil
}

// FocusedPlatform returns the platform of the focused column.
func (m *Matrix) FocusedPlatform() string {
	if m.col < len(m.platforms) {
		return m.platforms[m.col]
	}
	return ""
}

// Move moves the focus by rows and columns.
func (m *Matrix) Move(dr, dc int) {
	if len(m.names) == 0 {
		return
	}
	m.row = min(max(m.row+dr, 0), len(m.names)-1)
	m.col = min(max(m.col+dc, 0), len(m.platforms)-1)
	m.scrollToFocus()
}

// Jump focuses the n-th recipe (1-based): the first nine rows are
// numbered, and keep their numbers when the window scrolls, so that a
// number always means the same recipe.
func (m *Matrix) Jump(n int) {
	if r := n - 1; r < len(m.names) && r >= 0 {
		m.row = r
		m.scrollToFocus()
	}
}

// NextWhere moves the focus to the next node (dir 1) or the previous one
// (dir -1) for which ok holds, row by row from the focus and round; it
// reports whether there was one.
func (m *Matrix) NextWhere(dir int, ok func(*surface.Node) bool) bool {
	cols := len(m.platforms)
	cells := len(m.names) * cols
	if cells == 0 {
		return false
	}
	at := m.row*cols + m.col
	for k := 1; k <= cells; k++ {
		c := ((at+dir*k)%cells + cells) % cells
		r, col := c/cols, c%cols
		if i := m.grid[r][col]; i >= 0 && i < len(m.st.Nodes) && ok(&m.st.Nodes[i]) {
			m.row, m.col = r, col
			m.scrollToFocus()
			return true
		}
	}
	return false
}

// visible is how many rows fit.
func (m *Matrix) visible() int {
	h := m.height - 1 // the column header
	if len(m.names) > h {
		h-- // the line that says what is held back
	}
	return max(h, 1)
}

func (m *Matrix) scrollToFocus() {
	v := m.visible()
	if m.row < m.top {
		m.top = m.row
	}
	if m.row >= m.top+v {
		m.top = m.row - v + 1
	}
	m.top = max(min(m.top, len(m.names)-v), 0)
}

// layout returns the widths of the row number, the name column and a
// cell.
func (m *Matrix) layout() (num, name, cell int) { return m.layoutIn(m.width) }

// layoutIn is layout for a width.
func (m *Matrix) layoutIn(width int) (num, name, cell int) {
	num = 2
	name = 6
	for _, n := range m.names {
		name = max(name, ansi.StringWidth(n))
	}
	cell = 8 // "● 12.3s" and a space
	for _, p := range m.platforms {
		cell = max(cell, ansi.StringWidth(p)+1)
	}
	cell = min(cell, 15)
	// The name column gives way first on a narrow terminal.
	if over := num + name + 1 + len(m.platforms)*cell - width; over > 0 {
		name = max(name-over, 8)
	}
	return num, name, cell
}

// Width is how wide the matrix would like to be.
func (m *Matrix) Width() int {
	num, name, cell := m.layoutIn(1 << 20)
	return num + name + 1 + len(m.platforms)*cell
}

// Click focuses the cell at screen position (x, y); it reports whether
// there was one.
func (m *Matrix) Click(x, y int) bool {
	r := y - m.y - 1 + m.top
	if y-m.y < 1 || y-m.y > m.visible() || r >= len(m.names) {
		return false
	}
	num, name, cell := m.layout()
	c := (x - m.x - num - name - 1) / cell
	if x-m.x < num+name+1 || c >= len(m.platforms) {
		return false
	}
	m.row, m.col = r, c
	return true
}

// View renders the header row and the window of rows.
func (m *Matrix) View() string {
	s := m.c.Styles
	num, name, cell := m.layout()
	var b strings.Builder
	head := strings.Repeat(" ", num) + pad("recipe", name) + " "
	for _, p := range m.platforms {
		head += pad(ansi.Truncate(p, cell-1, "…"), cell)
	}
	b.WriteString(s.Dim.Render(ansi.Truncate(head, m.width, "")))
	v := m.visible()
	for r := m.top; r < min(m.top+v, len(m.names)); r++ {
		b.WriteByte('\n')
		label := "  "
		if r < 9 {
			label = s.Dim.Render(strconv.Itoa(r+1)) + " "
		}
		nm := pad(ansi.Truncate(m.names[r], name, "…"), name)
		if r == m.row {
			nm = s.Bold.Render(nm)
		}
		line := label + nm + " "
		for c := range m.platforms {
			line += m.cell(r, c, cell)
		}
		b.WriteString(ansi.Truncate(line, m.width, ""))
	}
	if len(m.names) > v {
		above, below := m.top, len(m.names)-m.top-v
		b.WriteByte('\n')
		b.WriteString(s.Dim.Render(ansi.Truncate(fmt.Sprintf("%d of %d rows: %d above, %d below", v, len(m.names), above, below), m.width, "")))
	}
	return b.String()
}

func (m *Matrix) cell(r, c, width int) string {
	s := m.c.Styles
	i := m.grid[r][c]
	if i < 0 {
		return strings.Repeat(" ", width)
	}
	n := &m.st.Nodes[i]
	text := s.Status[n.Status].Render(look.Glyph(n.Status))
	// A running node's clock goes against its expectation; one running
	// far beyond it is marked slow (!), one carried over from an
	// earlier run (a rerun after the run) with ↺.
	if clock := look.Expected(*n, m.c.Now()); clock != "" {
		if n.Slow {
			clock = s.Error.Render(clock + "!")
		}
		text += " " + clock
	}
	if n.Carried != "" {
		text += " " + s.Dim.Render("↺")
	}
	text = pad(text, width-1)
	if r == m.row && c == m.col {
		text = s.Focus.Render(ansi.Strip(text))
	}
	return text + " "
}

// pad pads s with spaces to width cells.
func pad(s string, width int) string {
	if w := ansi.StringWidth(s); w < width {
		return s + strings.Repeat(" ", width-w)
	}
	return s
}
