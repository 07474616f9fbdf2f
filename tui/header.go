package tui

import (
	"path/filepath"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/odu-ci/odu/internal/look"
	"github.com/odu-ci/odu/surface"
)

// Header says what runs: repository, branch, commit, whether the tree
// was pinned or dirty, the elapsed time, the counts per status and each
// lane's phase until it runs; and a line for what the dashboard has to
// say (waiting, the connection lost, an action's result).
type Header struct {
	c     *Common
	width int
	st    *surface.State
	// Note is the message line, when there is something to say; Alert
	// marks it as bad news.
	Note  string
	Alert bool
}

// SetSize sets the header's width.
func (h *Header) SetSize(w int) { h.width = w }

// Height is how many lines the header takes.
func (h *Header) Height() int {
	if h.Note != "" {
		return 3
	}
	return 2
}

// View renders the header.
func (h *Header) View() string {
	s := h.c.Styles
	var first, second string
	if st := h.st; st != nil && st.Run.SHA != "" {
		parts := []string{s.Bold.Render("odu"), filepath.Base(st.Run.Repo)}
		if st.Run.Branch != "" {
			parts = append(parts, st.Run.Branch)
		}
		sha := st.Run.SHA
		if len(sha) > 7 {
			sha = sha[:7]
		}
		if st.Run.Ref != "" {
			sha = st.Run.Ref // the run's ref, <sha7>#<n>, as --run takes it
		}
		parts = append(parts, sha)
		switch {
		case st.Run.Dirty:
			parts = append(parts, "dirty tree")
		case st.Run.Snapshot:
			parts = append(parts, "pinned")
		default:
			parts = append(parts, "working tree")
		}
		end := h.c.Now()
		verdict := ""
		if st.Run.Ended != nil {
			end = *st.Run.Ended
			verdict = "finished"
			if st.Run.Cancelled {
				verdict = "cancelled"
			}
		}
		if !st.Run.Started.IsZero() {
			el := Duration(end.Sub(st.Run.Started))
			if verdict != "" {
				el = verdict + " after " + el
			}
			parts = append(parts, el)
		}
		if eta := look.ETA(*st, end); eta != "" {
			parts = append(parts, eta)
		}
		if st.Run.RerunOf != "" {
			parts = append(parts, "rerun of "+st.Run.RerunOf+" (↺ carried over)")
		}
		first = strings.Join(parts, " · ")
		second = h.c.Counts(st)
		var lanes []string
		for _, l := range st.Lanes {
			switch l.Phase {
			case surface.PhaseRunning, surface.PhaseDone, "":
				if l.Moved != "" {
					// It runs on another host than it started on.
					lanes = append(lanes, s.Status[surface.Running].Render(l.Platform+": "+l.Moved))
				}
				continue
			case surface.PhaseMoving:
				lanes = append(lanes, s.Status[surface.Running].Render(l.Platform+": moving, "+l.Error))
			case surface.PhaseFailed:
				lanes = append(lanes, s.Error.Render(l.Platform+": failed"))
			case surface.PhaseQueued:
				// Waiting for a slot of its pool: who holds them.
				lanes = append(lanes, s.Status[surface.Pending].Render(l.Platform+": queued, "+l.Error))
			default:
				lanes = append(lanes, s.Status[surface.Running].Render(l.Platform+": "+string(l.Phase)))
			}
		}
		if len(lanes) > 0 {
			second += "   " + strings.Join(lanes, "  ")
		}
	} else {
		first = s.Bold.Render("odu")
	}
	out := ansi.Truncate(first, h.width, "…") + "\n" + ansi.Truncate(second, h.width, "…")
	if h.Note != "" {
		note := h.Note
		if h.Alert {
			note = s.Error.Render(note)
		}
		out += "\n" + ansi.Truncate(note, h.width, "…")
	}
	return out
}
