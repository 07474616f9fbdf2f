package surface

import (
	"sync"
	"time"
)

// Procedures in flight when a server stops.
//
// The server stops when the run is over, and a procedure can be what
// ended it: the cancel of the run's last live node. So a connection whose
// server stops takes no new procedure (it answers them that the server
// stops), waits up to drainTimeout for those in flight to be answered,
// and only then closes; its streams end at once.

// drainTimeout bounds how long a connection whose server stops waits for
// the procedures in flight to be answered: they normally are within
// milliseconds (the node they stopped has stopped); a runner that does
// not answer must not hold up the end of the run.
const drainTimeout = 5 * time.Second

// testHookDraining, when set by a test, is called when a connection's
// server stops and starts answering the procedures in flight.
var testHookDraining func()

// inflight counts a connection's procedures in flight; once drained is
// asked for, it takes no more.
type inflight struct {
	mu       sync.Mutex
	n        int
	stopping bool
	idle     chan struct{} // closed when n is 0 and stopping
}

func (f *inflight) add() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopping {
		return false
	}
	f.n++
	return true
}

func (f *inflight) done() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.n == 0 && f.idle != nil {
		close(f.idle)
		f.idle = nil
	}
}

// drained stops taking procedures and returns a channel closed once
// those in flight are done.
func (f *inflight) drained() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopping = true
	ch := make(chan struct{})
	if f.n == 0 {
		close(ch)
	} else {
		f.idle = ch
	}
	return ch
}

func isStream(method string) bool { return method == MethodNodesGet || method == MethodNodeLog }
