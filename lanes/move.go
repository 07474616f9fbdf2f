package lanes

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/odu-ci/odu/dag"
	"github.com/odu-ci/odu/lanes/hosts"
	"github.com/odu-ci/odu/lanes/provision"
	"github.com/odu-ci/odu/surface"
)

// A lane of a pool whose build host is lost for good (its link dropped,
// and the host did not answer within --reconnect-timeout) moves to
// another host of its pool that has a free slot, at most
// [Options.LaneMoves] times: it leases a slot there, provisions the host,
// and runs there again what had not finished, with the nodes those need
// (the new host has none of the lost workspace's outputs).
//
// What had finished keeps its result: a node the faces saw finished is
// never reported again. Those that the unfinished ones need are run again
// on the new host for their outputs only: the setup log says so, and how
// each ended there (when one fails there, the nodes that need it are
// skipped, saying which failed), but their status, their log and their
// GitHub status stay those of their first run. An unfinished node that
// had started runs there as its next attempt (its log starts over); one
// that had not, as the attempt it was.
//
// A host that answers but whose runner is gone (killed) does not move the
// lane: it ends in error, as without a pool.

// canMove reports whether the lane may move off its host: it leases a
// slot of a pool that has a host it did not lose, and it has moves left.
func (l *lane) canMove() bool {
	if !l.leased || l.moves >= l.c.opts.LaneMoves {
		return false
	}
	if l.shard != nil || len(l.sets) > 0 {
		// Shards are leased once, against the lane's host and each
		// other's (see shards.go): a lane with shards, or a shard's,
		// does not move; it ends in error, as without a pool.
		return false
	}
	for _, h := range l.pool {
		if h.Addr != l.addr() && !l.lost[h.Addr] {
			return true
		}
	}
	return false
}

// move moves the lane off its lost host: old is its runner there, gone
// why the host is lost. It returns the runner on the new host, configured
// and running the nodes that had not finished; or it fails the lane and
// returns false.
func (l *lane) move(old *provision.Runner, gone *linkLostError) (*provision.Runner, bool) {
	c := l.c
	from := l.addr()
	l.moves++
	if l.lost == nil {
		l.lost = map[string]bool{}
	}
	l.lost[from] = true
	l.cmu.Lock()
	l.down = true // a cancel meanwhile is told to the runner on the new host
	cl := l.client
	l.cmu.Unlock()
	l.say("%s is lost: %v; moving the lane to another host of its pool (move %d of at most %d, --lane-moves)", from, gone.err, l.moves, c.opts.LaneMoves)
	l.setLane(surface.PhaseMoving, gone.Error())
	if cl != nil {
		old.Leave(cl, time.Second) // its link is gone: nothing to tell it
	}

	// What had not finished, and what it needs.
	rerun, needed := l.toRunAgain()
	fail := func(err error) (*provision.Runner, bool) {
		l.setHost(from)
		err = fmt.Errorf("%w; the lane could not move to another host of its pool: %w", gone, err)
		l.say("%v", err)
		l.fail(err)
		return nil, false
	}
	st, err := l.leaseAndStart(l.errf, true)
	if err != nil {
		return fail(err)
	}
	if got := st.Client.Server.Platform; got != l.platform {
		st.Leave(st.Client, c.opts.Grace+5*time.Second)
		return fail(fmt.Errorf("the runner on %s runs on %s, not on the lane's platform %s", l.addr(), got, l.platform))
	}
	to := l.addr()

	// The unfinished nodes start over, as the faces will see them run
	// there; the finished ones keep their result.
	var specs []surface.NodeSpec
	l.mu.Lock()
	l.queue = nil // the lost runner's changes not yet published are lost with it
	if l.recompute == nil {
		l.recompute = map[string]int{}
	}
	for _, n := range l.nodes {
		m := l.mirrors[n.ID]
		spec := surface.NodeSpec{ID: n.ID, Name: n.Name, Recipe: n.Recipe, Deps: n.Deps, Command: n.Command}
		switch {
		case rerun[n.ID]:
			cur, _ := c.store.Node(n.ID)
			attempt := m.attempt
			if m.begun || cur.Status != surface.Pending {
				attempt++
				if err := c.store.Log(n.ID).RestartAt(attempt); err != nil {
					l.say("%s: %v", n.ID, err)
				}
			}
			m.attempt, m.begun, m.final = attempt, false, false
			close(m.moved)
			m.moved = make(chan struct{})
			delete(l.recompute, n.ID)
			c.store.UpdateNode(n.ID, func(x *surface.Node) {
				x.Status, x.Attempt, x.Reason = surface.Pending, attempt, ""
				x.ExitCode, x.Started, x.DurationMS, x.LogSize = nil, nil, 0, 0
			})
			spec.Attempt = attempt
		case needed[n.ID]:
			// Run again at the attempt whose result stands: the runner's
			// news of it is not published (it is final), and a rerun of
			// it asked for later is the next attempt, as anywhere.
			l.recompute[n.ID] = m.attempt
			spec.Attempt = m.attempt
		default:
			continue
		}
		specs = append(specs, spec)
	}
	l.mu.Unlock()

	l.cmu.Lock()
	l.detached = st.Detached
	l.cmu.Unlock()
	l.swap(st.Client)
	senv, snames := hosts.SecretEnv(c.opts.Secrets)
	cfg := surface.Config{
		SHA: c.opts.SHA, Platform: l.platform, Workspace: st.Workspace,
		LogDir: st.LogDir, Nodes: specs, Env: append(slices.Clip(st.Env), senv...), Secrets: snames,
		Jobs: c.opts.Jobs, GraceMS: c.opts.Grace.Milliseconds(), Run: c.store.Run(),
	}
	if cl, _ := l.current(); cl == nil {
		return nil, false // the run ended meanwhile
	} else if err := cl.Configure(c.ctx, cfg); err != nil {
		st.Exit(cl, c.opts.Grace+5*time.Second)
		return fail(fmt.Errorf("configure the runner on %s: %w", to, err))
	}
	l.hmu.Lock()
	l.moved = fmt.Sprintf("moved from %s (lost) to %s", from, to)
	l.hmu.Unlock()
	l.say("moved from %s to %s: running there again %s that had not finished%s", from, to, count(len(rerun), "node"), neededText(needed, l))
	l.setLane(surface.PhaseRunning, "")
	return st, true
}

// toRunAgain returns the lane's nodes that had not finished, and the
// finished ones they need (runAgain).
func (l *lane) toRunAgain() (rerun, needed map[string]bool) {
	return runAgain(l.nodes, func(id string) bool {
		cur, _ := l.c.store.Node(id)
		return cur.Status.Terminal()
	})
}

// runAgain returns the nodes that had not finished, and the finished
// ones they need, directly or not (on the lane: a node's dependencies
// are on its lane).
func runAgain(nodes []*dag.Node, finished func(id string) bool) (rerun, needed map[string]bool) {
	rerun, needed = map[string]bool{}, map[string]bool{}
	byID := map[string][]string{}
	for _, n := range nodes {
		byID[n.ID] = n.Deps
		if !finished(n.ID) {
			rerun[n.ID] = true
		}
	}
	var need func(id string)
	need = func(id string) {
		for _, d := range byID[id] {
			if !rerun[d] && !needed[d] {
				needed[d] = true
				need(d)
			}
		}
	}
	for id := range rerun {
		need(id)
	}
	return rerun, needed
}

// neededText says which finished nodes run again for their outputs.
func neededText(needed map[string]bool, l *lane) string {
	var ids []string
	for _, n := range l.nodes {
		if needed[n.ID] {
			ids = append(ids, n.ID)
		}
	}
	if len(ids) == 0 {
		return ""
	}
	return fmt.Sprintf(", and %s that had finished, for the outputs those need (%s; their results stand)", count(len(ids), "node"), strings.Join(ids, ", "))
}

// count says n things.
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// recomputed says in the setup log how a finished node, run again on the
// host the lane moved to for its outputs, ended there; it reports whether
// n is such a run, which is not published. Called with l.mu held.
func (l *lane) recomputedLocked(n surface.Node) bool {
	a, ok := l.recompute[n.ID]
	if !ok || n.Attempt != a {
		return false
	}
	if n.Status.Terminal() {
		delete(l.recompute, n.ID)
		how := string(n.Status)
		if n.Reason != "" {
			how += ": " + n.Reason
		}
		l.say("%s, run again on %s for the outputs of the nodes that need it: %s (its result stands)", n.ID, l.addr(), how)
	}
	return true
}
