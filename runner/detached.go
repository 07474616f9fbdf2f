package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/odu-ci/odu/surface"
)

// A detached runner (`odu runner --attach` on a build host) outlives the
// SSH link that started it: it serves its surface on a Unix socket, and
// each SSH session only bridges its stdio to that socket. Coordinators
// connect one after another (a link that dropped and was dialled again, a
// coordinator that was killed and started again), or several at once;
// every one gets the same cell and logs, from any offset.
//
// Nothing lingers: when no coordinator has been attached for a bound, the
// runner stops every node's process tree and exits, and says why in its
// log. The bound is long while nodes are unfinished (a coordinator may be
// on its way back: a laptop that was closed), short once everything is
// finished (only the logs are left to fetch, and they are on disk).

// Bounds are how long a detached runner waits with no coordinator
// attached before it stops everything and exits.
type Bounds struct {
	// Idle applies while a node is unfinished.
	Idle time.Duration
	// Finished applies once every node is finished, or before the runner
	// was configured at all.
	Finished time.Duration
}

// The default bounds. Ten minutes covers a laptop lid closed for a
// coffee, or a coordinator restarted after a crash; a finished runner
// only waits for a coordinator that lost its link at the very end and
// comes back for the logs' last bytes.
const (
	DefaultIdle         = 10 * time.Minute
	DefaultFinishedIdle = time.Minute
)

// ServeDetached serves every coordinator that connects on ln until the
// runner is told to exit (runner.exit, once the run is over), ctx ends (a
// signal: SIGTERM from `odu run --fresh`), or no coordinator was attached
// for the bound. Then it stops every node and returns.
func (r *Runner) ServeDetached(ctx context.Context, ln net.Listener, b Bounds) error {
	if b.Idle <= 0 {
		b.Idle = DefaultIdle
	}
	if b.Finished <= 0 {
		b.Finished = DefaultFinishedIdle
	}
	// The scheduler lives with runCtx, the connections with ctx.
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.init(runCtx)
	// A coordinator pings every PingEvery: one silent for four times as
	// long is behind a link that died without a word, and counts as gone
	// (its connection closed), so that the idle bounds start.
	r.srv.ReadTimeout = 4 * surface.PingEvery

	var work sync.WaitGroup // the accept loop and one server per connection
	accepted := make(chan net.Conn)
	work.Add(1)
	go func() {
		defer work.Done()
		defer close(accepted)
		for {
			c, err := surface.Accept(ln, r.Logf) // EMFILE passes: retried
			if err != nil {
				return
			}
			select {
			case accepted <- c:
			case <-ctx.Done():
				c.Close()
				return
			}
		}
	}()

	var mu sync.Mutex
	attached, since := 0, time.Now()
	// The bounds are checked a few times per bound: a second is plenty
	// against minutes, and tests shorten the bounds to seconds.
	tick := time.NewTicker(min(time.Second, b.Finished/4, b.Idle/4))
	defer tick.Stop()
	why := ""
	for why == "" {
		select {
		case c, ok := <-accepted:
			if !ok {
				why = "its socket was closed"
				break
			}
			mu.Lock()
			attached++
			n := attached
			mu.Unlock()
			r.Logf("a coordinator attached (%d attached)", n)
			work.Add(1)
			go func() {
				defer work.Done()
				err := r.srv.Serve(ctx, c)
				mu.Lock()
				attached--
				since = time.Now()
				n := attached
				mu.Unlock()
				if err != nil && !errors.Is(err, context.Canceled) {
					r.Logf("a coordinator detached (%d attached): %v", n, err)
				} else {
					r.Logf("a coordinator detached (%d attached)", n)
				}
			}()
		case why = <-r.exit:
		case <-ctx.Done():
			why = "it was told to stop (a signal)"
		case <-tick.C:
			mu.Lock()
			idle, gone := attached == 0, time.Since(since)
			mu.Unlock()
			if !idle {
				continue
			}
			bound, what := b.Idle, "with nodes unfinished"
			if r.finished() {
				bound, what = b.Finished, "with every node finished"
			}
			if gone >= bound {
				why = fmt.Sprintf("no coordinator was attached for %s, %s", bound, what)
			}
		}
	}
	r.Logf("stopping every node and exiting: %s", why)
	// The nodes first, while attached coordinators can still see them
	// end; then the connections and the listener.
	stopRun()
	r.shutdown(why)
	ln.Close()
	cancel()
	work.Wait()
	return nil
}

// finished reports whether there is nothing left to run: every node is
// finished, or the runner was never configured.
func (r *Runner) finished() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.configured {
		return true
	}
	if r.running > 0 {
		return false
	}
	for _, n := range r.nodes {
		if !n.status.Terminal() || n.held {
			return false
		}
	}
	return true
}

// Exit asks a detached runner to stop and exit once the coordinator is
// done with it: the run is over and its logs fetched. A runner on stdio
// exits when its stdin closes, and ignores it.
func (r *Runner) Exit(context.Context) error {
	select {
	case r.exit <- "the coordinator said the run is over":
	default:
	}
	return nil
}
