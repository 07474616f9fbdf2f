package lanes

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/odu-ci/odu/surface"
)

// follow copies a node's log from the runner into the coordinator's log
// file as it arrives (or, when the runner writes that file itself, follows
// its growth), attempt after attempt, until the lane is over. When the
// link drops, it waits for the lane to reconnect and resumes the attempt
// from the offset it has: the runner keeps the whole log on its disk, so
// no byte is lost and none is written twice.
func (l *lane) follow(id string) {
	log := l.c.store.Log(id)
	attempt := 1
	// awaitRerun waits for the node's next attempt whose log restarts.
	awaitRerun := func() bool {
		for {
			next, ok := l.nextAttempt(id, attempt)
			if !ok {
				return false
			}
			attempt = next
			if l.restart(id, attempt) {
				return true
			}
		}
	}
attempts:
	for {
		// A node's log is followed once it leaves pending: a stream per
		// pending node would cost the runner's connection a request each,
		// and a pipeline of thousands of nodes more than it allows.
		if !l.awaitBegun(id, attempt) {
			return
		}
		cl, swapped := l.current()
		if cl == nil {
			return
		}
		from := int64(0)
		if ls := log.Status(); ls.Attempt == attempt {
			from = ls.Size
		}
		// The coordinator's own copy comes raw: its bytes as they are,
		// not base64 in JSON (a third less CPU per GiB, runner and
		// coordinator together: BENCHMARKS.md); faces keep the JSON
		// stream.
		ls, err := cl.Log(surface.NodeLogParams{ID: id, Attempt: attempt, From: from, SizeOnly: l.shared, Raw: !l.shared})
		if err != nil {
			if !l.waitSwap(swapped) {
				return
			}
			continue
		}
		broken := false
		for {
			c, err := ls.Next(l.c.ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				ls.Close()
				broken = true // the connection ended; the watch reports why
				break
			}
			if c.Attempt != attempt {
				// Rerun since we asked: the runner sends the new attempt.
				attempt = c.Attempt
				if !l.restart(id, attempt) {
					c.Release()
					ls.Close()
					if !awaitRerun() {
						return
					}
					continue attempts
				}
			}
			if l.shared {
				log.Grow(attempt, c.Offset+c.Len())
				continue
			}
			data := c.Data
			if have := log.Status().Size; c.Offset != have {
				// Never happens with a runner that honours from; were it
				// to, the log would get a gap or a repeat: refuse both.
				err = fmt.Errorf("the runner sent bytes at %d when the log holds %d", c.Offset, have)
			} else {
				_, err = log.Write(data)
			}
			c.Release()
			if err != nil {
				// This attempt's log stops here; a rerun is followed.
				ls.Close()
				l.logFailed(id, attempt, err)
				if !awaitRerun() {
					return
				}
				continue attempts
			}
		}
		if broken {
			if !l.waitSwap(swapped) {
				return
			}
			continue
		}
		end := ls.End()
		if end.Attempt != attempt {
			attempt = end.Attempt
			if !l.restart(id, attempt) {
				if !awaitRerun() {
					return
				}
				continue
			}
		}
		if end.Finished {
			log.Finish()
			l.logged(id, attempt)
		}
		// Wait for the next attempt (a rerun), then follow it from 0.
		if !awaitRerun() {
			return
		}
	}
}

// restart begins attempt of a node's log. A log that cannot be emptied
// would show the attempt before under this one's name: the attempt ends
// as one whose log could not be written (logFailed), and restart returns
// false.
//
// A log at attempt already is left as it is: a lane that moved restarted
// it (move.go), and the follower that asks the runner there for the
// attempt before is sent this one; restarting it again would keep its
// own attempt aside, an empty <recipe>.<attempt>.log beside the newest.
func (l *lane) restart(id string, attempt int) bool {
	log := l.c.store.Log(id)
	if ls := log.Status(); ls.Attempt == attempt && ls.Size == 0 && !l.shared {
		return true
	}
	if err := log.RestartAt(attempt); err != nil {
		l.logFailed(id, attempt, err)
		return false
	}
	return true
}

// awaitBegun waits until the runner reports the node's attempt (or a
// later one) out of pending; false when the lane is over first.
func (l *lane) awaitBegun(id string, attempt int) bool {
	for {
		l.mu.Lock()
		m := l.mirrors[id]
		ok, moved := m.attempt > attempt || m.begun, m.moved
		l.mu.Unlock()
		if ok {
			return true
		}
		_, swapped := l.current()
		select {
		case <-moved:
		case <-swapped:
			if cl, _ := l.current(); cl == nil {
				return false
			}
		case <-l.c.ctx.Done():
			return false
		}
	}
}

// nextAttempt waits until the runner reports an attempt after attempt.
func (l *lane) nextAttempt(id string, attempt int) (int, bool) {
	for {
		l.mu.Lock()
		m := l.mirrors[id]
		cur, moved := m.attempt, m.moved
		l.mu.Unlock()
		if cur > attempt {
			return cur, true
		}
		_, swapped := l.current()
		select {
		case <-moved:
		case <-swapped:
			if cl, _ := l.current(); cl == nil {
				return 0, false
			}
		case <-l.c.ctx.Done():
			return 0, false
		}
	}
}

// logged records that a node's log is whole here, and publishes what
// waited for it.
func (l *lane) logged(id string, attempt int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if m := l.mirrors[id]; attempt > m.logged {
		m.logged = attempt
	}
	l.drainLocked()
}

// logFailed ends a node whose log the coordinator could not write (the
// disk is full): it is not reported green on an incomplete log.
func (l *lane) logFailed(id string, attempt int, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.mirrors[id]
	// Its own changes stop here; the others' go on.
	l.queue = slices.DeleteFunc(l.queue, func(n surface.Node) bool { return n.ID == id })
	// The log stream may bring an attempt before the watch does: the
	// mirror takes it now, so that the runner's news of this attempt,
	// when it comes, is not taken for a new one and published over the
	// error (a success whose log stopped here is never green).
	if attempt > m.attempt {
		m.attempt, m.begun = attempt, false
		close(m.moved)
		m.moved = make(chan struct{})
	}
	// Its log is as whole as it will get: a finish the runner reports
	// later must not wait for more of it, holding up the lane's queue.
	m.final, m.logged = true, max(m.logged, attempt)
	// The log says where it stops being whole, as its last line.
	log := l.c.store.Log(id)
	if terr := log.EndTruncated(err.Error()); terr != nil {
		l.c.opts.Notef.Say("%s: log truncated (%v), and the line that says so could not be written: %v", id, err, terr)
	}
	size := log.Status().Size
	l.c.store.UpdateNode(id, func(x *surface.Node) {
		x.Status, x.Attempt, x.LogSize = surface.Errored, attempt, size
		x.Reason = "log truncated: " + err.Error()
	})
	l.drainLocked()
}
