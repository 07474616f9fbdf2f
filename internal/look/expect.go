package look

import (
	"time"

	"github.com/odu-ci/odu/surface"
)

// ETA says how much longer a live run is expected to take at now, "ETA
// ~1m20s", or "ETA ≥1m20s" when a node left has no expectation or ran
// past it (see [surface.ETA]), "ETA overdue" when nothing more is
// expected of those; "" when there is nothing to say.
func ETA(st surface.State, now time.Time) string {
	if st.Run.Ended != nil {
		return ""
	}
	eta, known, ok := surface.ETA(st, now)
	if !ok {
		return ""
	}
	if !known {
		if eta < 100*time.Millisecond {
			return "ETA overdue" // what is left ran past its expectation
		}
		return "ETA ≥" + Duration(eta)
	}
	return "ETA ~" + Duration(eta)
}

// Expected is a running node's clock against its expectation at now,
// "12.0s/~30.0s"; its clock alone when it has none, or is not running.
func Expected(n surface.Node, now time.Time) string {
	clock := Clock(n, now)
	if n.Status != surface.Running || n.ExpectedMS <= 0 || clock == "" {
		return clock
	}
	return clock + "/~" + Duration(time.Duration(n.ExpectedMS)*time.Millisecond)
}

// Notes are what a face says of a node beside its status: that it runs
// slow, that its result was carried over from an earlier run.
func Notes(n surface.Node) string {
	var s string
	if n.Slow {
		s += "  slow: expected ~" + Duration(time.Duration(n.ExpectedMS)*time.Millisecond)
	}
	if n.Carried != "" {
		s += "  carried over from " + n.Carried
	}
	return s
}
