package ghstatus

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/odu-ci/odu/surface"
)

// maxDescription is GitHub's limit on a status description, in
// characters; a longer one is refused with 422.
const maxDescription = 140

// Status is a commit status: the GitHub state and its description.
type Status struct {
	State       string // pending, success, failure, error
	Description string
}

// Describe returns the commit status a node in its current state should
// have. ok is false for a node that is pending: whether that is posted
// is the [Poster]'s choice.
func Describe(n surface.Node) (st Status, ok bool) {
	d := time.Duration(n.DurationMS) * time.Millisecond
	switch n.Status {
	case surface.Running:
		return Status{"pending", "Running"}, true
	case surface.Success:
		return Status{"success", "Succeeded in " + took(d)}, true
	case surface.Failure:
		desc := "Failed in " + took(d)
		if n.ExitCode != nil {
			desc += fmt.Sprintf(" (exit %d)", *n.ExitCode)
		}
		return Status{"failure", desc}, true
	case surface.Errored:
		return Status{"error", clip("Errored: " + oneLine(n.Reason, "it could not run"))}, true
	case surface.Skipped:
		return Status{"error", clip("Skipped: " + oneLine(n.Reason, "a dependency did not succeed"))}, true
	case surface.Cancelled:
		return Status{"error", "Cancelled"}, true
	}
	return Status{}, false
}

// Waiting is the status of a node that waits for its dependencies or a
// slot, posted once at the start of a run.
var Waiting = Status{"pending", "Waiting"}

// Interrupted is the status of a node the run left unfinished when it
// was interrupted.
var Interrupted = Status{"error", "Interrupted"}

// took rounds a duration as the descriptions show it: 0.4s, 12s, 1m2s.
func took(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// oneLine makes a reason fit a description's single line.
func oneLine(s, otherwise string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return otherwise
	}
	return s
}

// clip cuts s to GitHub's limit, marking the cut.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= maxDescription {
		return s
	}
	r := []rune(s)
	return string(r[:maxDescription-1]) + "…"
}
