// Package look is how odu shows the state of a run to a person: a node's
// status as a glyph and a colour, its clock, and the counts of a run, the
// same in every face that draws on a terminal — the dashboard (tui), the
// compact progress and `odu status` (cmd/odu), and `odu doctor`'s report.
//
// Colours are the terminal's own ANSI colours (the user's theme decides
// what green looks like, right on any background), written as lipgloss
// v2 styles. A [Palette] without colour (NO_COLOR, TERM=dumb, not a
// terminal: the caller decides) writes its colours as nothing at all, so
// that plain output is byte for byte the text; its attributes (bold,
// faint, reverse) are the dashboard's, which keeps them without colour,
// as NO_COLOR asks.
//
// It draws nothing and asks the terminal nothing; it imports neither
// Bubble Tea nor any face. (lipgloss v2, which it uses for styles, looks
// at stdout when any odu process starts: see the tui package's doc.)
package look

import (
	"fmt"
	"image/color"
	"strings"
	"time"

	"charm.land/lipgloss/v2"

	"github.com/odu-ci/odu/surface"
)

// Order is the order in which statuses are counted.
var Order = []surface.Status{surface.Success, surface.Running, surface.Pending, surface.Failure,
	surface.Errored, surface.Skipped, surface.Cancelled}

// glyphs mark statuses.
var glyphs = map[surface.Status]string{
	surface.Pending: "·", surface.Running: "●", surface.Success: "✓", surface.Failure: "✗",
	surface.Errored: "!", surface.Skipped: "-", surface.Cancelled: "⊘",
}

// Glyph is the mark of a status: ✓ success, ✗ failure, ● running….
func Glyph(s surface.Status) string { return glyphs[s] }

// colours are the ANSI colours of statuses: what is over and did not run
// (or waits) is grey.
var colours = map[surface.Status]color.Color{
	surface.Pending: lipgloss.BrightBlack, surface.Running: lipgloss.Yellow, surface.Success: lipgloss.Green,
	surface.Failure: lipgloss.Red, surface.Errored: lipgloss.Red, surface.Skipped: lipgloss.BrightBlack,
	surface.Cancelled: lipgloss.BrightBlack,
}

// Palette is the styles of one output: with colour or without.
type Palette struct {
	Colour bool
	// Attributes, kept without colour.
	Bold, Dim, Reverse lipgloss.Style
	// Colours, nothing without colour: Error is bad news (red, bold),
	// Hint what to do about it (yellow).
	Error, Hint lipgloss.Style
	status      map[surface.Status]lipgloss.Style
}

// New returns the palette of an output that has colours, or not.
func New(colour bool) Palette {
	plain := lipgloss.NewStyle().TabWidth(lipgloss.NoTabConversion)
	fg := func(c color.Color) lipgloss.Style {
		if !colour {
			return plain
		}
		return plain.Foreground(c)
	}
	p := Palette{
		Colour:  colour,
		Bold:    plain.Bold(true),
		Dim:     plain.Faint(true),
		Reverse: plain.Reverse(true),
		Error:   fg(lipgloss.Red),
		Hint:    fg(lipgloss.Yellow),
		status:  map[surface.Status]lipgloss.Style{},
	}
	if colour {
		p.Error = p.Error.Bold(true)
	}
	for st, c := range colours {
		p.status[st] = fg(c)
	}
	return p
}

// Status is the style of a status: its colour, or nothing.
func (p Palette) Status(s surface.Status) lipgloss.Style {
	if st, ok := p.status[s]; ok {
		return st
	}
	return lipgloss.NewStyle().TabWidth(lipgloss.NoTabConversion)
}

// Mark is a status's glyph in its colour.
func (p Palette) Mark(s surface.Status) string { return Paint(p.Status(s), Glyph(s)) }

// Paint writes text in a style, line by line (a block of lines is not
// padded to its widest, as lipgloss would), and text untouched by a style
// that has nothing to say.
func Paint(st lipgloss.Style, text string) string {
	if text == "" {
		return ""
	}
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = st.Render(l)
		}
	}
	return strings.Join(lines, "\n")
}

// Duration rounds a duration for people: 0.4s, 12.3s, 4m5s, 1h2m.
func Duration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return d.Round(time.Second).String()
	default:
		return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	}
}

// Clock is how long a node has run, at now: live while it runs, its
// duration once finished, nothing before it started.
func Clock(n surface.Node, now time.Time) string {
	switch {
	case n.Status == surface.Running && n.Started != nil:
		return Duration(now.Sub(*n.Started))
	case n.Status.Terminal() && n.Started != nil:
		return Duration(time.Duration(n.DurationMS) * time.Millisecond)
	}
	return ""
}

// Count is how many nodes have a status.
type Count struct {
	Status surface.Status
	N      int
}

// Counts counts nodes by status, in [Order], leaving out the statuses no
// node has.
func Counts(nodes []surface.Node) []Count {
	n := map[surface.Status]int{}
	for _, nd := range nodes {
		n[nd.Status]++
	}
	var out []Count
	for _, s := range Order {
		if n[s] > 0 {
			out = append(out, Count{s, n[s]})
		}
	}
	return out
}
