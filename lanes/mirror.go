package lanes

import (
	"errors"
	"fmt"
	"io"
	"reflect"

	"github.com/odu-ci/odu/surface"
)

// mirror is the coordinator's view of one node of a lane.
type mirror struct {
	attempt int           // the runner's attempt, as last seen
	begun   bool          // the attempt has left pending: its log is followed
	moved   chan struct{} // closed, and replaced, when attempt or begun changes
	logged  int           // the attempt whose log the coordinator has whole
	final   bool          // published finished for its attempt
}

// watch mirrors the runner's cell over cl until the connection ends.
// Each connection starts with a snapshot: after a reconnect, it brings
// what changed while the link was down. On the lane's first connection,
// a runner that was configured by an earlier coordinator (one that was
// killed) says so by its run: the coordinator re-attached to it.
//
// It asks for every change after seen, the runner's changes mirrored so
// far (none, on the first connection): the runner starts its nodes when
// configured, before this subscribes, and a node that takes a few
// milliseconds would otherwise show only its end, never running.
func (l *lane) watch(cl *surface.Client, first bool, seen *uint64) error {
	w, err := cl.WatchFrom(surface.NodesGetParams{From: seen})
	if err != nil {
		return err
	}
	defer w.Close()
	for {
		ev, err := w.Next(l.c.ctx)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if ev.Snapshot != nil && first {
			first = false
			if was := ev.Snapshot.Run; !was.Started.Equal(l.c.store.Run().Started) {
				done := 0
				for _, n := range ev.Snapshot.Nodes {
					if n.Status.Terminal() {
						done++
					}
				}
				msg := fmt.Sprintf("re-attached to the %s lane's runner still running on %s (started %s by odu pid %d; %d of %d nodes finished)",
					l.platform, l.addr(), was.Started.Local().Format("15:04:05"), was.PID, done, len(ev.Snapshot.Nodes))
				l.say("%s", msg)
				l.c.opts.Notef.Say("%s", msg)
			}
		}
		for n := range ev.Transitions() {
			l.mirror(n)
		}
		*seen = w.Seq()
	}
}

// mirror takes the runner's view of a node into the merged state, in the
// runner's order. A finished node waits until its log is whole here.
func (l *lane) mirror(n surface.Node) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m, ok := l.mirrors[n.ID]
	if !ok {
		return // not a node of this lane
	}
	if l.recomputedLocked(n) {
		return // run again after a move, for its outputs only (move.go)
	}
	if n.Attempt > m.attempt {
		m.attempt, m.final, m.begun = n.Attempt, false, false
		close(m.moved)
		m.moved = make(chan struct{})
	}
	if n.Attempt < m.attempt {
		return // an older attempt's news
	}
	if !m.begun && n.Status != surface.Pending {
		m.begun = true
		close(m.moved)
		m.moved = make(chan struct{})
	}
	l.queue = append(l.queue, n)
	l.drainLocked()
}

// drainLocked publishes the queued changes that may be published.
func (l *lane) drainLocked() {
	for len(l.queue) > 0 {
		n := l.queue[0]
		m := l.mirrors[n.ID]
		switch {
		case n.Attempt < m.attempt:
			// A rerun superseded it and restarted its log: nobody can
			// read what it finished with, and its next attempt follows.
		case n.Status.Terminal() && m.logged < n.Attempt:
			return // its log is on its way
		default:
			l.publishLocked(m, l.vouch(n))
		}
		l.queue = l.queue[1:]
	}
}

// vouch returns n, unless it is a success whose log did not reach the
// coordinator whole (as long as the runner says it is): odu reports a
// node green only with its whole log, so that is an error.
func (l *lane) vouch(n surface.Node) surface.Node {
	if n.Status != surface.Success {
		return n
	}
	ls := l.c.store.Log(n.ID).Status()
	if ls.Attempt == n.Attempt && ls.Size == n.LogSize {
		return n
	}
	n.Status = surface.Errored
	n.Reason = fmt.Sprintf("log incomplete: %d of the %d bytes the runner logged reached odu", ls.Size, n.LogSize)
	n.LogSize = ls.Size
	return n
}

func (l *lane) publishLocked(m *mirror, n surface.Node) {
	if m.final && n.Attempt == m.attempt {
		return // already finished; only a rerun changes it now
	}
	m.final = n.Status.Terminal()
	cur, _ := l.c.store.Node(n.ID)
	// What the coordinator knows of the node and its runner does not:
	// its expectation, whether this attempt ran slow, the dependencies a
	// runner is not given (carried over: see Options.Carry), and its
	// shards.
	n.Log, n.ExpectedMS, n.Deps = cur.Log, cur.ExpectedMS, cur.Deps
	n.Shard, n.Shards = cur.Shard, cur.Shards
	n.Slow = cur.Slow && n.Attempt == cur.Attempt
	if reflect.DeepEqual(cur, n) {
		return // nothing new: a snapshot repeats what was mirrored
	}
	l.c.store.UpdateNode(n.ID, func(x *surface.Node) { *x = n })
}
