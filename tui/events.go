package tui

import (
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/odu-ci/odu/surface"
)

// maxEvents is how many transitions the events lane remembers: more than
// any layout shows.
const maxEvents = 50

// Event is one transition of a node.
type Event struct {
	When     time.Time
	Node     string
	From, To surface.Status
	Attempt  int
}

// Events is the lane of recent transitions, newest first.
type Events struct {
	c             *Common
	width, height int
	list          []Event // oldest first
}

// SetSize sets the lane's size.
func (e *Events) SetSize(w, h int) { e.width, e.height = w, h }

// Add records a transition.
func (e *Events) Add(ev Event) {
	e.list = append(e.list, ev)
	if len(e.list) > maxEvents {
		e.list = append(e.list[:0], e.list[len(e.list)-maxEvents:]...)
	}
}

// Want is how wide the lane would like to be for transitions of these
// nodes: the time, the longest node ID, and the longest "from → to".
func (e *Events) Want(nodes []surface.Node) int {
	id := 0
	for _, n := range nodes {
		id = max(id, ansi.StringWidth(n.ID))
	}
	return len("15:04:05 ") + id + len(" cancelled → cancelled") - 2 // → is one cell
}

// View renders the newest transitions that fit.
func (e *Events) View() string {
	s := e.c.Styles
	lines := []string{s.Dim.Render(ansi.Truncate("─ events "+strings.Repeat("─", max(e.width-9, 0)), e.width, ""))}
	for i := len(e.list) - 1; i >= 0 && len(lines) < e.height; i-- {
		ev := e.list[i]
		from := string(ev.From)
		if from == "" {
			from = "new"
		}
		line := s.Dim.Render(ev.When.Format("15:04:05")) + " " + ev.Node + " " +
			s.Status[ev.From].Render(from) + " → " + s.Status[ev.To].Render(string(ev.To))
		lines = append(lines, ansi.Truncate(line, e.width, "…"))
	}
	for len(lines) < e.height {
		lines = append(lines, "")
	}
	return strings.Join(lines[:e.height], "\n")
}
