package surface

import "time"

// Slowness: a node is overdue once it has run SlowFactor times its
// expected duration and at least SlowMargin more than it. Both bounds,
// so that a node expected to take a second is not slow at its third,
// and one expected to take an hour is not slow at a minute over.
const (
	SlowFactor = 3
	SlowMargin = time.Minute
)

// Overdue reports whether a running node has run far beyond its
// expectation at now (see [SlowFactor]).
func (n Node) Overdue(now time.Time) bool {
	if n.Status != Running || n.Started == nil || n.ExpectedMS <= 0 {
		return false
	}
	el, exp := now.Sub(*n.Started), time.Duration(n.ExpectedMS)*time.Millisecond
	return el >= SlowFactor*exp && el-exp >= SlowMargin
}

// ETA returns how much longer the run is expected to take at now: the
// longest path, through the dependencies, of what is left of each
// unfinished node's expected duration (a running node's expectation
// less what it has run, never below zero; a pending one's whole). It
// does not count slots: nodes that wait for one finish later. known
// reports whether every unfinished node has an expectation, and every
// running one is within it; when one has none, or has run past it, it
// counts as taking no more time, and the ETA is a lower bound.
// ok is false when nothing is left to wait for, or nothing is expected.
func ETA(st State, now time.Time) (eta time.Duration, known, ok bool) {
	left := map[string]time.Duration{}
	open := map[string]bool{}
	deps := map[string][]string{}
	known = true
	any := false
	for _, n := range st.Nodes {
		if n.Status.Terminal() {
			continue
		}
		open[n.ID], deps[n.ID] = true, n.Deps
		exp := time.Duration(n.ExpectedMS) * time.Millisecond
		if n.ExpectedMS <= 0 {
			known = false
		} else {
			any = true
		}
		if n.Status == Running && n.Started != nil {
			exp -= now.Sub(*n.Started)
			if exp < 0 {
				known = false // past its expectation: how long it has left, nobody knows
			}
		}
		left[n.ID] = max(exp, 0)
	}
	if len(open) == 0 || !any {
		return 0, known, false
	}
	// finish is when a node is expected to end from now: its own time
	// after the last of its unfinished dependencies. Dependencies form
	// no cycle (the pipeline is a DAG); done guards all the same.
	finish := map[string]time.Duration{}
	done := map[string]bool{}
	var at func(id string) time.Duration
	at = func(id string) time.Duration {
		if !open[id] {
			return 0
		}
		if done[id] {
			return finish[id]
		}
		done[id] = true
		var after time.Duration
		for _, d := range deps[id] {
			after = max(after, at(d))
		}
		finish[id] = after + left[id]
		return finish[id]
	}
	for id := range open {
		eta = max(eta, at(id))
	}
	return eta, known, true
}
