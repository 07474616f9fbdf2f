package runner

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/odu-ci/odu/surface"
)

// The procedures on nodes (node.rerun, node.cancel, run.cancel) are taken
// one at a time, in the order they came ([fifo]), and each sees the nodes
// as the one before left them. A rerun stops what it resets and waits for
// it to exit before it makes it pending again: were two reruns of a node
// to overlap, the second would reset the node the first had just started
// again, and the scheduler would start a second copy of it in the same
// workspace, over the same log, with the first one's handle lost. One at
// a time, a node has at most one process tree at any moment.
//
// Each says what it did. Requests that pile up on a node while one is
// under way are answered by what that one did when it did what they ask
// for: a rerun that finds the node rerun by another request since it came
// does not restart it again (the attempt it asked for started after it
// asked), and a cancel that finds it cancelled since it came was done.
// A procedure with nothing to do, or that would not do what was asked,
// is refused ([surface.CodeRefused]) with what is true and what to do.

// Rerun resets a node and every node that depends on it, transitively,
// stopping those that run, and schedules them again.
func (r *Runner) Rerun(ctx context.Context, id string) (surface.RerunResult, error) {
	seen, err := r.arrive(id)
	if err != nil {
		return surface.RerunResult{}, err
	}
	if err := r.procs.lock(ctx); err != nil {
		return surface.RerunResult{}, err
	}
	defer r.procs.unlock()

	r.mu.Lock()
	n := r.nodes[id]
	if n.touched != seen && n.byRerun {
		defer r.mu.Unlock()
		return surface.RerunResult{Reset: []string{}, Joined: true, Attempt: r.attemptLocked(id), Status: n.status}, nil
	}
	if err := r.rerunnableLocked(n); err != nil {
		r.mu.Unlock()
		return surface.RerunResult{}, err
	}
	set := r.closureLocked(id)
	var waits []chan struct{}
	for _, m := range set {
		n := r.nodes[m]
		n.held = true
		if n.stop != nil {
			n.stop()
			waits = append(waits, n.exited)
		}
	}
	r.mu.Unlock()
	// Not bounded by ctx: a reset half done would leave nodes held.
	// Stopping is bounded by the grace period.
	for _, w := range waits {
		<-w
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range set {
		n := r.nodes[m]
		attempt, err := r.store.Log(m).Restart()
		if err != nil {
			r.Logf("rerun %s: %v", m, err)
		}
		n.held = false
		n.touched++
		n.byRerun = true
		r.setLocked(n, surface.Pending, func(sn *surface.Node) {
			sn.Attempt = attempt
			sn.ExitCode, sn.Started, sn.DurationMS, sn.Reason, sn.LogSize = nil, nil, 0, "", 0
		})
	}
	r.kick()
	return surface.RerunResult{Reset: set, Attempt: r.attemptLocked(id), Status: n.status}, nil
}

// arrive checks that a procedure may name id, and returns how many
// procedures had changed the node when it came.
func (r *Runner) arrive(id string) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.readyLocked(id); err != nil {
		return 0, err
	}
	return r.nodes[id].touched, nil
}

func (r *Runner) attemptLocked(id string) int {
	sn, _ := r.store.Node(id)
	return sn.Attempt
}

func refused(format string, a ...any) error {
	return &surface.Error{Code: surface.CodeRefused, Message: fmt.Sprintf(format, a...)}
}

// rerunnableLocked refuses a rerun that would not run the node again.
func (r *Runner) rerunnableLocked(n *node) error {
	id := n.spec.ID
	switch {
	case r.cancelled:
		return refused("the run was cancelled: %s is not rerun; start a new run with `odu run`", id)
	case n.status == surface.Pending:
		return refused("%s has not started yet (pending): nothing to rerun", id)
	case n.status == surface.Skipped:
		var names, hints []string
		for _, b := range r.blockersLocked(n) {
			names = append(names, fmt.Sprintf("%s (%s)", b.spec.ID, b.status))
			hints = append(hints, "`odu rerun "+b.spec.ID+"`")
		}
		if len(names) == 0 {
			return refused("%s was skipped: a dependency did not succeed; rerun that dependency", id)
		}
		dep, it := "dependency "+names[0]+" did", "it"
		if len(names) > 1 {
			dep, it = "dependencies "+strings.Join(names, ", ")+" did", "them"
		}
		return refused("%s was skipped: its %s not succeed, so it would be skipped again; rerun %s (%s): %s runs after", id, dep, it, strings.Join(hints, ", "), id)
	}
	return nil
}

// blockersLocked returns why n was skipped: its dependencies that did not
// succeed, followed through the skipped ones to those that failed, were
// cancelled or could not run, in order.
func (r *Runner) blockersLocked(n *node) []*node {
	var out []*node
	seen := map[string]bool{}
	var walk func(*node)
	walk = func(n *node) {
		for _, d := range n.spec.Deps {
			dep := r.nodes[d]
			if seen[d] || dep.status == surface.Success {
				continue
			}
			seen[d] = true
			if dep.status == surface.Skipped {
				walk(dep)
			} else if dep.status.Terminal() {
				out = append(out, dep)
			}
		}
	}
	walk(n)
	return out
}

// closureLocked returns id and every node that depends on it, in order.
func (r *Runner) closureLocked(id string) []string {
	in := map[string]bool{id: true}
	for _, m := range r.order { // topological: dependencies come first
		for _, d := range r.nodes[m].spec.Deps {
			if in[d] {
				in[m] = true
			}
		}
	}
	var out []string
	for _, m := range r.order {
		if in[m] {
			out = append(out, m)
		}
	}
	return out
}

func (r *Runner) readyLocked(id string) error {
	if !r.configured {
		return &surface.Error{Code: surface.CodeNotReady, Message: "the runner is not configured"}
	}
	if _, ok := r.nodes[id]; !ok {
		return &surface.Error{Code: surface.CodeUnknownNode, Message: "no node " + id}
	}
	return nil
}

// CancelNode stops one node: it becomes cancelled, its dependents skipped.
// A node that has finished is not changed: the cancel is refused, with
// how it finished.
func (r *Runner) CancelNode(ctx context.Context, id string) (surface.CancelResult, error) {
	seen, err := r.arrive(id)
	if err != nil {
		return surface.CancelResult{}, err
	}
	if err := r.procs.lock(ctx); err != nil {
		return surface.CancelResult{}, err
	}
	defer r.procs.unlock()

	r.mu.Lock()
	n := r.nodes[id]
	if n.touched != seen && !n.byRerun && n.status == surface.Cancelled {
		r.mu.Unlock()
		return surface.CancelResult{Joined: true}, nil
	}
	if n.status.Terminal() {
		defer r.mu.Unlock()
		return surface.CancelResult{}, r.finishedLocked(n)
	}
	was := n.status
	wait := r.cancelLocked(n, "cancelled")
	r.mu.Unlock()
	if wait != nil {
		<-wait
	}
	return surface.CancelResult{Was: was}, nil
}

// finishedLocked is the refusal of a cancel of a node that has finished.
func (r *Runner) finishedLocked(n *node) error {
	id := n.spec.ID
	sn, _ := r.store.Node(id)
	switch n.status {
	case surface.Cancelled:
		return refused("%s was already cancelled: nothing to cancel", id)
	case surface.Skipped:
		why := ""
		if sn.Reason != "" {
			why = " (" + sn.Reason + ")"
		}
		return refused("%s was skipped%s: nothing to cancel", id, why)
	}
	return refused("%s already finished: %s; nothing to cancel", id, n.status)
}

// cancelLocked cancels a node that has not finished and returns what to
// wait for, if it runs.
func (r *Runner) cancelLocked(n *node, reason string) chan struct{} {
	switch {
	case n.status == surface.Pending || (n.spec.Held && n.status == surface.Running):
		// (A held node runs elsewhere: its coordinator cancels that.)
		n.touched++
		n.byRerun = false
		r.setLocked(n, surface.Cancelled, func(sn *surface.Node) { sn.Reason = reason })
		r.kick()
	case n.stop != nil:
		n.touched++
		n.byRerun = false
		n.stopped, n.reason = surface.Cancelled, reason
		n.stop()
		return n.exited
	}
	return nil
}

// CancelRun stops every node that has not finished, and returns once
// they all have. Nothing is rerun after it.
func (r *Runner) CancelRun(ctx context.Context) error {
	if err := r.procs.lock(ctx); err != nil {
		return err
	}
	defer r.procs.unlock()
	r.mu.Lock()
	r.cancelled = true
	if !r.configured {
		// The cancel raced the lane's start: Configure cancels the
		// nodes as it is given them, so that none of them runs.
		r.mu.Unlock()
		r.Logf("the run was cancelled before its nodes were given")
		return nil
	}
	r.Logf("the run was cancelled: stopping every node")
	var waits []chan struct{}
	for _, id := range r.order {
		if w := r.cancelLocked(r.nodes[id], "the run was cancelled"); w != nil {
			waits = append(waits, w)
		}
	}
	r.mu.Unlock()
	for _, w := range waits {
		<-w
	}
	return nil
}

// fifo is a lock taken in the order it was asked for (sync.Mutex is not:
// a cancel that came before a rerun could be done after it, and its
// reply, "cancelled", would not be what the node is left as).
type fifo struct {
	mu    sync.Mutex
	held  bool
	queue []chan struct{} // the waiters' turns, in order
}

// lock takes the lock, or returns ctx's error if ctx ends first.
func (f *fifo) lock(ctx context.Context) error {
	f.mu.Lock()
	if !f.held {
		f.held = true
		f.mu.Unlock()
		return nil
	}
	turn := make(chan struct{})
	f.queue = append(f.queue, turn)
	f.mu.Unlock()
	select {
	case <-turn:
		return nil
	case <-ctx.Done():
		f.mu.Lock()
		defer f.mu.Unlock()
		if i := slices.Index(f.queue, turn); i >= 0 {
			f.queue = slices.Delete(f.queue, i, i+1)
		} else {
			f.passLocked() // the turn came as ctx ended: hand it on
		}
		return ctx.Err()
	}
}

func (f *fifo) unlock() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.passLocked()
}

// passLocked gives the lock to the first waiter, if any.
func (f *fifo) passLocked() {
	if len(f.queue) == 0 {
		f.held = false
		return
	}
	next := f.queue[0]
	f.queue = f.queue[1:]
	close(next)
}
