package surface

import (
	"slices"
	"sort"
	"sync"
)

// historyLen is how many deltas a store keeps for subscribers that are
// behind, and for those that ask for every change since an earlier seq
// ([Store.SnapshotAt]: the coordinator, which subscribes to a runner
// after configuring it, and the run's own progress face). A subscriber
// further behind gets a fresh snapshot instead, with the transitions it
// missed ([Store.Missed]): it loses no state and no transition, only the
// changes between (durations, log sizes, posts). A run of 1,000 nodes
// makes about 4,000 transitions, so a subscriber normally never needs
// one.
const historyLen = 4096

// Store holds a run's live state: what a surface serves. Changes go
// through its methods, which number them; subscribers read with
// [Store.Since] at their own pace, so a slow subscriber never holds up
// the run or another subscriber.
//
// Slices and pointers in the values a store holds are never changed in
// place: an update assigns new ones. So snapshots and deltas share them
// safely.
type Store struct {
	mu      sync.Mutex
	state   State
	index   map[string]int // node id -> index in state.Nodes
	history []Delta        // the last historyLen deltas, oldest first
	base    State          // the state history[0] applies to (seq history[0].Seq-1)
	changed chan struct{}  // closed, and replaced, at every change
	closed  bool           // the run is over: no more changes
	logs    map[string]*Log

	// transitions are the deltas that changed a node's status or
	// attempt, for the run's life (a few per node): what a subscriber
	// that fell behind the history is sent with its fresh snapshot, so
	// that states are never coalesced, only other changes.
	transitions []Delta
}

// NewStore makes a store for a run and its nodes, with the log openLog
// opens for each: [OpenLog] for a log the store's owner writes,
// [OpenLogView] for one another process writes.
func NewStore(run Run, nodes []Node, openLog func(Node) (*Log, error)) (*Store, error) {
	s := &Store{
		state:   State{Run: run, Nodes: slices.Clone(nodes), Lanes: []Lane{}},
		index:   make(map[string]int, len(nodes)),
		changed: make(chan struct{}),
		logs:    make(map[string]*Log, len(nodes)),
	}
	s.base = s.snapshotLocked()
	for i, n := range s.state.Nodes {
		s.index[n.ID] = i
		l, err := openLog(n)
		if err != nil {
			s.CloseLogs()
			return nil, err
		}
		s.logs[n.ID] = l
	}
	return s, nil
}

// Snapshot returns the whole state.
func (s *Store) Snapshot() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshotLocked()
}

func (s *Store) snapshotLocked() State {
	st := s.state
	st.Nodes = slices.Clone(s.state.Nodes)
	st.Lanes = slices.Clone(s.state.Lanes)
	return st
}

// Since returns what changed after seq: the deltas in order, or, when seq
// is older than the history kept, a snapshot to start over from. wait is
// closed at the next change; closed reports that the run is over and
// nothing more will change.
func (s *Store) Since(seq uint64) (deltas []Delta, reset *State, wait <-chan struct{}, closed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq < s.state.Seq {
		oldest := s.state.Seq - uint64(len(s.history)) // the seq before history[0]
		if seq < oldest {
			st := s.snapshotLocked()
			reset = &st
		} else {
			deltas = slices.Clone(s.history[seq-oldest:])
		}
	}
	return deltas, reset, s.changed, s.closed
}

// Missed returns the nodes' transitions after seq, up to and with upto,
// in order: what a subscriber at seq that is sent the state at upto
// missed.
func (s *Store) Missed(seq, upto uint64) []Node {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := sort.Search(len(s.transitions), func(i int) bool { return s.transitions[i].Seq > seq })
	var missed []Node
	for _, d := range s.transitions[i:] {
		if d.Seq > upto {
			break
		}
		missed = append(missed, *d.Node)
	}
	return missed
}

// SnapshotAt returns the state as it was at seq, for a subscriber that
// must see every change after it (one that subscribes after the run
// started, but must show every transition): ok is false when seq is older
// than the history kept, or newer than the state.
func (s *Store) SnapshotAt(seq uint64) (st State, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq < s.base.Seq || seq > s.state.Seq {
		return State{}, false
	}
	st = s.base
	st.Nodes = slices.Clone(s.base.Nodes)
	st.Lanes = slices.Clone(s.base.Lanes)
	for _, d := range s.history[:seq-s.base.Seq] {
		s.applyLocked(&st, d)
	}
	return st, true
}

// applyLocked applies a delta of this store to one of its states, whose
// nodes are in the store's order.
func (s *Store) applyLocked(st *State, d Delta) {
	if d.Node != nil {
		n := *d.Node
		d.Node = nil
		st.Nodes[s.index[n.ID]] = n
	}
	st.Apply(d)
}

// Node returns the node with id.
func (s *Store) Node(id string) (Node, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.index[id]
	if !ok {
		return Node{}, false
	}
	return s.state.Nodes[i], true
}

// UpdateNode changes the node with id with fn and publishes the change.
// It reports false for an unknown id.
func (s *Store) UpdateNode(id string, fn func(*Node)) (Node, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.index[id]
	if !ok {
		return Node{}, false
	}
	n := s.state.Nodes[i]
	if s.closed {
		return n, true
	}
	old, post := n, n.Post
	fn(&n)
	n.ID, n.Post = id, post // only SetPost changes Post
	s.state.Nodes[i] = n
	s.publishLocked(Delta{Node: &n})
	if n.Status != old.Status || n.Attempt != old.Attempt {
		s.transitions = append(s.transitions, s.history[len(s.history)-1])
	}
	return n, true
}

// SetPost publishes how far the node with id's commit status got to
// GitHub. It reports false for an unknown id.
func (s *Store) SetPost(id string, p PostState) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.index[id]
	if !ok {
		return false
	}
	if s.closed {
		return true
	}
	n := s.state.Nodes[i]
	n.Post = &p
	s.state.Nodes[i] = n
	s.publishLocked(Delta{Node: &n})
	return true
}

// UpdateRun changes the run with fn and publishes the change.
func (s *Store) UpdateRun(fn func(*Run)) Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.state.Run
	if s.closed {
		return r
	}
	fn(&r)
	s.state.Run = r
	s.publishLocked(Delta{Run: &r})
	return r
}

// Run returns the run.
func (s *Store) Run() Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.Run
}

// SetLane publishes a lane's state, by platform.
func (s *Store) SetLane(l Lane) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	found := false
	for i := range s.state.Lanes {
		if s.state.Lanes[i].Platform == l.Platform {
			lanes := slices.Clone(s.state.Lanes)
			lanes[i] = l
			s.state.Lanes, found = lanes, true
		}
	}
	if !found {
		s.state.Lanes = append(slices.Clone(s.state.Lanes), l)
	}
	s.publishLocked(Delta{Lane: &l})
}

func (s *Store) publishLocked(d Delta) {
	if s.closed {
		// The run is over and its record written: a late change (a
		// cancel that crossed the end) changes nothing.
		return
	}
	s.state.Seq++
	d.Seq = s.state.Seq
	if len(s.history) == historyLen {
		// The base gives up its own slices before they change: snapshots
		// taken from it share them.
		s.base.Nodes, s.base.Lanes = slices.Clone(s.base.Nodes), slices.Clone(s.base.Lanes)
		for _, old := range s.history[:historyLen/4] {
			s.applyLocked(&s.base, old)
		}
		s.history = slices.Delete(s.history, 0, historyLen/4)
	}
	s.history = append(s.history, d)
	close(s.changed)
	s.changed = make(chan struct{})
}

// Close marks the run as over: cell streams end once they have sent every
// change, and later changes are ignored. It does not close the logs,
// which can still be read.
func (s *Store) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.changed)
		s.changed = make(chan struct{})
	}
}

// Closed reports whether the run is over.
func (s *Store) Closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// AddLog serves a log that is not a node's under id: a lane's setup log.
func (s *Store) AddLog(id string, l *Log) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logs[id] = l
}

// Log returns the log of the node with id, or nil.
func (s *Store) Log(id string) *Log {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs[id]
}

// CloseLogs closes every log file; reads after it fail.
func (s *Store) CloseLogs() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.logs {
		l.Close()
	}
}
