package lanes

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/odu-ci/odu/surface"
)

// Configure is for runners.
func (c *Coordinator) Configure(context.Context, surface.Config) error {
	return &surface.Error{Code: surface.CodeMethodNotFound, Message: "the coordinator is not a runner"}
}

func (c *Coordinator) laneOf(ctx context.Context, id string) (*surface.Client, error) {
	if c.store.Closed() {
		return nil, &surface.Error{Code: surface.CodeNotReady, Message: "the run is over"}
	}
	l, ok := c.byNode[id]
	if n, found := c.store.Node(id); !ok && found && n.Carried != "" {
		return nil, &surface.Error{Code: surface.CodeRefused, Message: id + " is not run by this run: its result is carried over from " + n.Carried +
			"; rerun it once this run is over (odu rerun " + id + ")"}
	}
	if !ok {
		return nil, &surface.Error{Code: surface.CodeUnknownNode, Message: "no node " + id}
	}
	select {
	case <-l.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	cl, _ := l.current()
	if cl == nil {
		return nil, &surface.Error{Code: surface.CodeNotReady, Message: "the lane of " + id + " is not running"}
	}
	return cl, nil
}

// forwardTimeout bounds how long the end of the run waits for the replies
// of procedures forwarded to the lanes: the runner answers a cancel
// once the node stopped, which the run's end already saw.
const forwardTimeout = 5 * time.Second

// forward counts a procedure forwarded to a lane until done is called.
// The cancel of the run's last live node ends the run: its lane's link
// must stay open until the runner's reply came, or the face that asked
// is told `connection closed` of a cancel that was done. Once the run
// settled, it refuses the procedure with CodeRefused: ok is false and
// done does nothing.
func (c *Coordinator) forward() (done func(), ok bool) {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if c.settled {
		return func() {}, false
	}
	c.procs++
	return func() {
		c.pmu.Lock()
		defer c.pmu.Unlock()
		c.procs--
		if c.procs == 0 && c.idle != nil {
			close(c.idle)
			c.idle = nil
		}
	}, true
}

// refusedOver is the answer to a procedure that comes once the run
// settled: what refused is, said after "the run is over: ".
func refusedOver(what string) error {
	return &surface.Error{Code: surface.CodeRefused,
		Message: "the run is over (every node has finished): " + what + "; start a new run with `odu run`"}
}

// awaitForwarded waits, up to forwardTimeout, for the procedures
// forwarded to the lanes to be answered. Later ones are refused: the
// store is closed.
func (c *Coordinator) awaitForwarded() {
	c.pmu.Lock()
	if c.procs == 0 {
		c.pmu.Unlock()
		return
	}
	idle := make(chan struct{})
	c.idle = idle
	c.pmu.Unlock()
	t := time.NewTimer(forwardTimeout)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
	}
}

// Rerun reruns a node and its dependents on its lane. The lane's runner
// takes its procedures one at a time and says what each did; the
// coordinator passes its answer on as it is. After run.cancel nothing is
// rerun: a lane whose link is down would otherwise run it again unbeknown
// to the cancel it has not been told yet.
func (c *Coordinator) Rerun(ctx context.Context, id string) (surface.RerunResult, error) {
	done, ok := c.forward()
	defer done()
	if !ok {
		return surface.RerunResult{}, refusedOver(id + " is not rerun")
	}
	if c.cancelled.Load() {
		return surface.RerunResult{}, &surface.Error{Code: surface.CodeRefused,
			Message: "the run was cancelled: " + id + " is not rerun; start a new run with `odu run`"}
	}
	if err := c.shardRerun(id); err != nil {
		return surface.RerunResult{}, err
	}
	cl, err := c.laneOf(ctx, id)
	if err != nil {
		return surface.RerunResult{}, err
	}
	res, err := cl.RerunNode(ctx, id)
	if err != nil && c.isOver() {
		// The run ended while the rerun waited its turn at the lane's
		// runner, which then went away: nothing runs after the end, and
		// the record has the node as it ended.
		return res, &surface.Error{Code: surface.CodeRefused,
			Message: "the run ended before this request's turn came: " + id + " was not rerun"}
	}
	return res, err
}

// CancelNode stops a node on its lane.
func (c *Coordinator) CancelNode(ctx context.Context, id string) (surface.CancelResult, error) {
	done, ok := c.forward()
	defer done()
	if !ok {
		return surface.CancelResult{}, refusedOver(id + " is not cancelled")
	}
	cl, err := c.laneOf(ctx, id)
	if err != nil {
		return surface.CancelResult{}, err
	}
	res, err := cl.CancelNodeResult(ctx, id)
	if err != nil && c.isOver() {
		// A cancel of the last live node ends the run, which may close
		// the lane before its answer comes: the record says how it ended.
		n, _ := c.store.Node(id)
		if n.Status == surface.Cancelled {
			return surface.CancelResult{}, nil
		}
		return res, &surface.Error{Code: surface.CodeRefused,
			Message: fmt.Sprintf("the run ended before this request's turn came (%s: %s): nothing to cancel", id, n.Status)}
	}
	return res, err
}

// isCancelled reports whether run.cancel came.
func (c *Coordinator) isCancelled() bool {
	select {
	case <-c.runCancel:
		return true
	default:
		return false
	}
}

// isOver reports whether the run is over.
func (c *Coordinator) isOver() bool {
	select {
	case <-c.ended:
		return true
	default:
		return false
	}
}

// CancelRun stops every node on every lane, and marks the run cancelled;
// once the run settled, it refuses: the run completed.
func (c *Coordinator) CancelRun(ctx context.Context) error {
	done, ok := c.forward()
	defer done()
	if !ok {
		return refusedOver("it is not cancelled")
	}
	c.cancelRun(ctx)
	return nil
}

// Supersede is CancelRun for a run that another replaces (`odu run
// --supersede`): the run says so, and what by, in its state and record.
func (c *Coordinator) Supersede(ctx context.Context, by string) error {
	done, ok := c.forward()
	defer done()
	if !ok {
		return refusedOver("it is not cancelled")
	}
	if !c.store.Closed() {
		c.store.UpdateRun(func(r *surface.Run) { r.Superseded = by })
	}
	c.cancelRun(ctx)
	return nil
}

// cancelRun is CancelRun, taken whether or not the run settled.
func (c *Coordinator) cancelRun(ctx context.Context) {
	c.cancelled.Store(true)
	c.cancel.Do(func() {
		close(c.runCancel)
		if !c.store.Closed() {
			c.store.UpdateRun(func(r *surface.Run) { r.Cancelled = true })
		}
		var wg sync.WaitGroup
		for _, l := range c.lanes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case <-l.ready:
				case <-ctx.Done():
					return
				}
				// A lane that is reconnecting is told once it is back.
				l.cmu.Lock()
				l.runCancelled = true
				cl, down := l.client, l.down
				l.cmu.Unlock()
				if down {
					l.say("the run was cancelled while the link is down: the runner will be told once the lane is back")
					return
				}
				if cl != nil {
					l.tellCancel(cl)
				}
			}()
		}
		wg.Wait()
	})
}
