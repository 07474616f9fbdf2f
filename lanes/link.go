package lanes

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/odu-ci/odu/lanes/provision"
	"github.com/odu-ci/odu/surface"
)

// survive takes a lane's lost link: a lane with a detached runner dials
// it again (see reconnect); any other fails. A lane whose host is not
// back within the reconnect timeout moves to another host of its pool
// when it may (see move.go): *st is then its runner there. It reports
// whether the lane is back.
func (l *lane) survive(st **provision.Runner, err error) bool {
	lost := l.lostLink(*st, err)
	if !(*st).CanRedial() {
		l.fail(lost)
		return false
	}
	back, gone, down := l.reconnect(*st, lost)
	if back || gone == nil {
		return back
	}
	if !down || !l.canMove() {
		l.fail(gone)
		return false
	}
	next, ok := l.move(*st, gone)
	if ok {
		*st = next
	}
	return ok
}

// reconnect dials a lane's host again after its link dropped, with
// backoff, until it re-attaches to the runner there (back) or gives up:
// gone says why, and down whether it is because the host did not answer
// within the reconnect timeout (rather than that its runner is no longer
// there). Its nodes run on meanwhile: the runner is detached from the
// link. When the run ends first, it returns neither back nor gone.
func (l *lane) reconnect(st *provision.Runner, lost *linkLostError) (back bool, gone *linkLostError, down bool) {
	c := l.c
	timeout := c.reconnectTimeout()
	cut := time.Now()
	deadline := cut.Add(timeout)
	l.cmu.Lock()
	l.down = true
	l.cmu.Unlock()
	defer func() {
		l.cmu.Lock()
		l.down = false
		l.cmu.Unlock()
	}()
	l.setLane(surface.PhaseReconnecting, lost.Error())
	l.say("%v; dialling again (for up to %s)", lost, timeout)
	// Backoff: the first redial at once (a connection that was killed
	// comes back at once), then 250 ms doubling to 5 s between tries, so
	// that a link back after a while is found within seconds without
	// hammering a host that is down.
	delay := 250 * time.Millisecond
	for try := 1; ; try++ {
		ctx, cancel := context.WithDeadline(c.ctx, deadline)
		cl, err := st.Redial(ctx)
		cancel()
		if err == nil {
			l.swap(cl)
			l.say("re-attached to the runner after %s (try %d): its nodes ran on; their logs resume where they were", time.Since(cut).Round(time.Millisecond), try)
			l.setLane(surface.PhaseRunning, "")
			return true, nil, false
		}
		if c.ctx.Err() != nil {
			return false, nil, false
		}
		if errors.Is(err, provision.ErrRunnerGone) || !time.Now().Add(delay).Before(deadline) {
			why := fmt.Errorf("%w; not back within %s: %w", lost.err, timeout, err)
			if errors.Is(err, provision.ErrRunnerGone) {
				why = fmt.Errorf("%w; dialled again: %w", lost.err, err)
			}
			l.say("giving up: %v", why)
			return false, &linkLostError{host: l.addr(), err: why}, !errors.Is(err, provision.ErrRunnerGone)
		}
		l.say("dial %d failed: %v; next in %s", try, err, delay)
		select {
		case <-time.After(delay):
		case <-c.ctx.Done():
			return false, nil, false
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// lostLink explains a connection to a runner that ended: the link's own
// reason (an SSH connection that closed, keep-alives unanswered) when it
// has one, else what the client saw.
func (l *lane) lostLink(st *provision.Runner, err error) *linkLostError {
	if lerr := st.Lost(); lerr != nil {
		err = lerr
	}
	return &linkLostError{host: l.addr(), err: err}
}

// linkLostError ends a lane whose runner went away mid-run.
type linkLostError struct {
	host string
	err  error
}

func (e *linkLostError) Error() string { return "link to " + e.host + " lost: " + e.err.Error() }
