package tui

import (
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/lipgloss/v2"

	"github.com/odu-ci/odu/internal/look"
	"github.com/odu-ci/odu/surface"
)

// Common is what every component shares: the terminal's size, the
// styles, the keys and the clock.
type Common struct {
	Width, Height int
	Colour        bool // colours on: not NO_COLOR, not TERM=dumb
	Styles        Styles
	Keys          KeyMap
	// Now is the clock of the elapsed times; tests fix it.
	Now func() time.Time
}

// NewCommon returns the shared state for a terminal, with colours or
// without.
func NewCommon(colour bool) *Common {
	return &Common{Colour: colour, Styles: newStyles(look.New(colour)), Keys: DefaultKeys(), Now: time.Now}
}

// Styles are the dashboard's lipgloss styles: odu's status vocabulary
// (internal/look), and what only the dashboard draws. Without colour,
// only bold, faint and reverse video remain: NO_COLOR is about colours.
type Styles struct {
	look.Palette
	Title, Focus, Match lipgloss.Style
	Status              map[surface.Status]lipgloss.Style
}

func newStyles(p look.Palette) Styles {
	s := Styles{Palette: p, Title: p.Bold, Focus: p.Reverse, Match: p.Reverse, Status: map[surface.Status]lipgloss.Style{}}
	s.Error = p.Error.Bold(true) // bad news stands out without colour too
	for _, st := range look.Order {
		s.Status[st] = p.Status(st)
	}
	return s
}

// KeyMap is every key of the dashboard, shown by the help footer.
type KeyMap struct {
	Up, Down, Left, Right key.Binding
	Jump                  key.Binding // 1–9
	Failed, PrevFailed    key.Binding // the next (previous) red node
	Follow                key.Binding // follow the tail, or pin
	PageUp, PageDown      key.Binding
	Top, Bottom           key.Binding
	Search, Next, Escape  key.Binding
	Rerun, Cancel         key.Binding
	Help, Quit            key.Binding
}

// DefaultKeys are the keys of the issue and the README.
func DefaultKeys() KeyMap {
	return KeyMap{
		Up:         key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:       key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		Left:       key.NewBinding(key.WithKeys("left", "h"), key.WithHelp("←/h", "left")),
		Right:      key.NewBinding(key.WithKeys("right", "l"), key.WithHelp("→/l", "right")),
		Jump:       key.NewBinding(key.WithKeys("1", "2", "3", "4", "5", "6", "7", "8", "9"), key.WithHelp("1-9", "recipe 1–9")),
		Failed:     key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "next failed")),
		PrevFailed: key.NewBinding(key.WithKeys("F"), key.WithHelp("F", "previous failed")),
		Follow:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "follow/pin log")),
		PageUp:     key.NewBinding(key.WithKeys("pgup", "b"), key.WithHelp("pgup", "log page up")),
		PageDown:   key.NewBinding(key.WithKeys("pgdown", "space"), key.WithHelp("pgdn", "log page down")),
		Top:        key.NewBinding(key.WithKeys("g", "home"), key.WithHelp("g", "log top")),
		Bottom:     key.NewBinding(key.WithKeys("G", "end"), key.WithHelp("G", "log tail")),
		Search:     key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "search log")),
		Next:       key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "next match")),
		Escape:     key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel search")),
		Rerun:      key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "rerun node")),
		Cancel:     key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "cancel node")),
		Help:       key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "all keys")),
		Quit:       key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}

// ShortHelp is the footer's one line: what a narrow terminal cuts off
// comes last, so that ? and q stay in sight at 80 columns.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Up, k.Failed, k.Search, k.Help, k.Quit, k.Rerun, k.Cancel, k.Follow}
}

// FullHelp is every key, for `?`.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.Left, k.Right, k.Jump, k.Failed, k.PrevFailed},
		{k.Follow, k.PageUp, k.PageDown, k.Top, k.Bottom},
		{k.Search, k.Next, k.Escape},
		{k.Rerun, k.Cancel, k.Help, k.Quit},
	}
}

// Duration rounds a duration for people: 0.4s, 12.3s, 4m5s, 1h2m.
func Duration(d time.Duration) string { return look.Duration(d) }

// Clock is how long a node has run: live while it runs, its duration
// once finished, nothing before it started.
func (c *Common) Clock(n *surface.Node) string { return look.Clock(*n, c.Now()) }

// Counts summarises statuses: "3 ✓ success · 1 ● running".
func (c *Common) Counts(st *surface.State) string {
	var parts []string
	for _, n := range look.Counts(st.Nodes) {
		parts = append(parts, c.Styles.Status[n.Status].Render(strconv.Itoa(n.N)+" "+look.Glyph(n.Status)+" "+string(n.Status)))
	}
	return strings.Join(parts, "  ")
}
