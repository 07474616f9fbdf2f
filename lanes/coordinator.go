package lanes

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/odu-ci/odu/dag"
	"github.com/odu-ci/odu/internal/say"
	"github.com/odu-ci/odu/lanes/hosts"
	"github.com/odu-ci/odu/lanes/provision"
	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/platform"
	"github.com/odu-ci/odu/surface"
)

// Options describe a run for the coordinator.
type Options struct {
	Root     string        // the checkout
	Pipeline *dag.Pipeline // the nodes to run
	SHA      string        // the commit under test
	Branch   string        //
	Subject  string        // the commit's subject, for the record
	Dirty    bool          // the live tree has uncommitted changes (--no-snapshot)
	Snapshot bool          // HEAD is pinned in Workspace
	// Workspace is where the local lane's nodes run: a worktree of SHA,
	// or the checkout itself with --no-snapshot.
	Workspace string
	// WorkDir is the coordinator's scratch directory, outside the
	// checkout: the local runner keeps its own copy of the logs there.
	WorkDir string
	Jobs    int           // nodes at once on each lane; 0 is the host's CPU count
	Grace   time.Duration // from SIGTERM to SIGKILL when a node is stopped
	Exe     string        // the odu binary a local runner is started from
	Version string        // odu's version
	Env     []string      // the environment of a local runner (tokens are removed)
	// Secrets go to every lane's recipes, masked in their output; only
	// inside the runner's configuration (see [hosts.Secret]).
	Secrets []hosts.Secret
	// CopyLogs streams a local lane's log bytes to the coordinator, as a
	// remote lane's are, instead of having its runner write the
	// coordinator's log files: for comparing the two paths.
	CopyLogs bool
	// Pools maps a platform to the pool of build hosts its lane leases a
	// slot on (when Leased; see lease.go). Hosts maps a platform to the
	// one address of its lane, which takes no lease; a platform in
	// neither, or on "localhost", runs on this machine.
	Pools map[string]hosts.Host
	Hosts map[string]string
	// NoWait fails a lane at once when every slot of its pool is held,
	// instead of waiting in line; LeaseTimeout bounds the wait
	// (DefaultLeaseTimeout when 0).
	NoWait       bool
	LeaseTimeout time.Duration
	// Home is where ~/.ssh is, for SSH lanes; Getenv reads the
	// coordinator's environment (SSH_AUTH_SOCK).
	Home   string
	Getenv func(string) string
	// ReconnectTimeout bounds how long a remote lane whose link dropped
	// is dialled again before its unfinished nodes become errors;
	// DefaultReconnectTimeout when 0.
	ReconnectTimeout time.Duration
	// LaneMoves is how many times a lane of a pool may move to another
	// host of its pool when its host is not back within the reconnect
	// timeout (see move.go); 0 never.
	LaneMoves int
	// Fresh stops the runners still running this commit's lanes on the
	// hosts (left by a coordinator that died) and starts over, instead of
	// re-attaching to them.
	Fresh bool
	// RunnerIdle and RunnerFinishedIdle override a detached runner's
	// bounds with no coordinator attached (runner.DefaultIdle,
	// runner.DefaultFinishedIdle): for tests.
	RunnerIdle, RunnerFinishedIdle time.Duration
	// Notef tells the user something worth a line of its own: a lane
	// re-attached to a runner that was still running.
	Notef say.Func
	// Carry holds the nodes, by id, whose result this run carries over
	// from the run recorded at CarriedFrom instead of running them (a
	// rerun after the run): they are finished from the start, and their
	// logs are that run's.
	Carry       map[string]surface.Node
	CarriedFrom string
}

// DefaultReconnectTimeout is how long a dropped link is dialled again:
// long enough for a Wi-Fi hand-over, a VPN that reconnects or a router
// that reboots; a host still unreachable after it is likely down.
const DefaultReconnectTimeout = 2 * time.Minute

// Coordinator runs a pipeline on its lanes and holds the merged state: a
// client of every lane's surface, and the store its own surface serves.
type Coordinator struct {
	opts   Options
	num    int // the run's number among its commit's runs
	store  *surface.Store
	lanes  []*lane
	byNode map[string]*lane

	ctx    context.Context // the lanes' life
	stop   context.CancelFunc
	work   sync.WaitGroup // every lane's run, and what they start: joined by Finish
	ended  chan struct{}  // closed once the run is over
	cancel sync.Once      // run.cancel, once

	record       *runstate.Record
	recording    sync.WaitGroup // keepRecord
	recordStop   chan struct{}  // closed to end keepRecord
	recordFailed bool           // keepRecord said a write failed

	// Procedures forwarded to a lane's runner, in flight: the end of the
	// run waits for their replies before it closes the lanes' links.
	pmu   sync.Mutex
	procs int
	idle  chan struct{} // closed when procs is 0, for awaitForwarded
	// settled is set once every node has finished (Wait returns): from
	// then no rerun or cancel is taken, though the run ends only at
	// Finish, which may come much later (the posts to GitHub are flushed
	// first); a node rerun then would be recorded as never finishing.
	settled bool
	// cancelled is set as run.cancel comes: reruns are refused from then.
	cancelled atomic.Bool
	// runCancel is closed as run.cancel comes: a lane waiting in line
	// for a slot stops waiting.
	runCancel chan struct{}
}

// Start starts a run: a lane per platform, in parallel.
func Start(ctx context.Context, opts Options) (*Coordinator, error) {
	pl := opts.Pipeline
	var nodes []surface.Node
	sets := planShards(opts)
	for _, n := range pl.Nodes {
		if old, ok := opts.Carry[n.ID]; ok {
			// It keeps the run it first came from, when it was carried
			// over already.
			if old.Carried == "" {
				old.Carried = opts.CarriedFrom
			}
			old.Post, old.Slow = nil, false
			nodes = append(nodes, old)
			continue
		}
		nodes = append(nodes, surface.Node{
			ID: n.ID, Name: n.Name, Recipe: n.Recipe, Platform: string(n.Platform),
			Deps: n.Deps, Command: n.Command, Status: surface.Pending, Attempt: 1,
		})
		if s := sets[n.ID]; s != nil {
			nodes[len(nodes)-1].Shards = s.ids
			nodes = append(nodes, s.shardNodes(opts.SHA)...)
		}
	}
	// Read before this run's own record exists (runstate.Expectations
	// bounds what it reads).
	expected := runstate.Expectations(opts.Root, nodes)
	for i := range nodes {
		nodes[i].ExpectedMS = expected[nodes[i].ID].Milliseconds()
	}
	var plats []string
	for _, p := range pl.Platforms {
		plats = append(plats, string(p))
		// A platform with no host runs on this machine: only this
		// machine's may, or its nodes would be green untested.
		if slices.Contains(poolOf(opts, string(p)).Addrs(), hosts.Localhost) && p != platform.Local() {
			return nil, &hosts.LocalPlatformError{Platform: p}
		}
	}
	run := surface.Run{
		Repo: opts.Root, SHA: opts.SHA, Branch: opts.Branch, Dirty: opts.Dirty, Snapshot: opts.Snapshot,
		Root: pl.Root, Platforms: plats, Started: time.Now(), Version: opts.Version, PID: os.Getpid(),
		Subject: opts.Subject,
	}
	// The record exists from the start, so that a run that is killed
	// leaves one that says so (see [Record]). Its number among the
	// commit's runs names the run's own directory, where its logs go: no
	// later run or rerun overwrites them.
	num := 0
	record, st, err := runstate.NewRecordOf(opts.Root, opts.SHA, func(n int) surface.State {
		num, run.Ref = n, runstate.FormatRef(opts.SHA, n)
		for i, nd := range nodes {
			if nd.Carried == "" { // a carried node's log stays the earlier run's
				nodes[i].Log = runstate.RunLogRel(opts.SHA, n, nd.Platform, nd.Name)
			}
		}
		return surface.State{Run: run, Nodes: slices.Clone(nodes), Lanes: []surface.Lane{}}
	})
	if err != nil {
		return nil, err
	}
	// A run that could not start says so in its record.
	abandon := func(err error) error {
		end := time.Now()
		st.Run.Ended = &end
		for i := range st.Nodes {
			st.Nodes[i].Status, st.Nodes[i].Reason = surface.Errored, "the run could not start: "+err.Error()
		}
		_ = record.Final(st) // the error said is the start's
		return err
	}
	// A local runner writes the logs into the coordinator's files (one
	// write of every byte instead of two, and no copy through a pipe):
	// the coordinator's logs are views of them. A remote runner streams
	// them.
	// (A pool that mixes this machine and build hosts streams them, as
	// a remote lane: which host runs the lane is known only once it
	// leased a slot.)
	shared := func(plat string) bool {
		pool := poolOf(opts, plat)
		return len(pool) == 1 && pool[0].Addr == hosts.Localhost && !opts.CopyLogs
	}
	for _, p := range plats {
		if err := runstate.AdoptOldLogs(opts.Root, opts.SHA, num-1, p); err != nil {
			return nil, abandon(err)
		}
		// The run's own directory, and the one README documents, where
		// the newest run's logs are linked.
		for _, dir := range []string{filepath.Join(runstate.RunDirRel(opts.SHA, num), p), filepath.Join(runstate.StateDir, opts.SHA, p)} {
			if err := runstate.MkdirState(opts.Root, dir); err != nil {
				return nil, abandon(err)
			}
		}
	}
	run.RerunOf = opts.CarriedFrom
	store, err := surface.NewStore(run, nodes, func(n surface.Node) (*surface.Log, error) {
		if n.Carried != "" {
			// Its log is the earlier run's, finished.
			return surface.FinishedLog(filepath.Join(opts.Root, n.Log), n.Attempt, n.LogSize), nil
		}
		link := filepath.Join(opts.Root, runstate.LogRel(opts.SHA, n.Platform, n.Name))
		if shared(n.Platform) {
			// The runner keeps the attempts, and links the newest.
			l, err := surface.OpenLogView(filepath.Join(opts.Root, n.Log))
			if err == nil {
				err = surface.LinkInPlace(l.Path(), link)
			}
			return l, err
		}
		return surface.OpenLogKept(filepath.Join(opts.Root, n.Log), link)
	})
	if err != nil {
		return nil, abandon(err)
	}
	c := &Coordinator{opts: opts, num: num, store: store, record: record, byNode: map[string]*lane{}, ended: make(chan struct{}), recordStop: make(chan struct{}), runCancel: make(chan struct{})}
	c.ctx, c.stop = context.WithCancel(context.WithoutCancel(ctx))
	var shardLanes []*lane
	for _, p := range plats {
		l := &lane{c: c, platform: p, pool: poolOf(opts, p), leased: opts.Pools[p].Leased, shared: shared(p), ready: make(chan struct{}), mirrors: map[string]*mirror{},
			swapped: make(chan struct{})}
		l.host = l.pool.String() // until it leased a slot of one of them
		for _, n := range pl.Nodes {
			if _, carried := opts.Carry[n.ID]; carried {
				continue
			}
			if string(n.Platform) == p {
				if len(opts.Carry) > 0 {
					// A carried dependency is done: the runner waits
					// only for those it runs. (The run's state keeps
					// every dependency.)
					cp := *n
					cp.Deps = slices.DeleteFunc(slices.Clone(n.Deps), func(d string) bool { _, ok := opts.Carry[d]; return ok })
					n = &cp
				}
				l.nodes = append(l.nodes, n)
				l.mirrors[n.ID] = &mirror{attempt: 1, moved: make(chan struct{})}
				c.byNode[n.ID] = l
			}
		}
		if len(l.nodes) == 0 && len(opts.Carry) > 0 {
			continue // every node of the platform is carried over: no runner
		}
		c.lanes = append(c.lanes, l)
		setup, err := surface.OpenLogKept(filepath.Join(opts.Root, runstate.RunSetupLogRel(opts.SHA, num, p)),
			filepath.Join(opts.Root, runstate.SetupLogRel(opts.SHA, p)))
		if err != nil {
			store.CloseLogs()
			return nil, abandon(err)
		}
		l.setup = setup
		store.AddLog(surface.SetupID(p), setup)
		l.setLane(surface.PhaseStarting, "")
		extra, err := c.addShards(l, sets)
		if err != nil {
			store.CloseLogs()
			return nil, err
		}
		shardLanes = append(shardLanes, extra...)
	}
	for _, l := range shardLanes {
		c.lanes = append(c.lanes, l)
		l.setLane(surface.PhaseStarting, "")
	}
	for _, l := range c.lanes {
		c.work.Go(l.run)
	}
	for _, s := range sets {
		c.work.Go(func() { c.leaseShards(s) })
		c.work.Go(func() { c.settleShards(s) })
	}
	c.recording.Go(c.keepRecord)
	return c, nil
}

// recordEvery is how often a changed state is written to the run's
// record while the run goes on: what a killed run leaves is at most this
// old, and a run of thousands of transitions writes it once a second,
// not thousands of times (each write is fsynced).
const recordEvery = time.Second

// keepRecord rewrites the run's record while it changes, until Finish.
func (c *Coordinator) keepRecord() {
	t := time.NewTicker(recordEvery)
	defer t.Stop()
	var written uint64
	var logged int64 // the unfinished nodes' log sizes, summed, as written
	for {
		select {
		case <-t.C:
		case <-c.recordStop:
			return
		}
		c.markSlow(time.Now())
		st := c.store.Snapshot()
		// An unfinished node's log_size is how far its log had come: what
		// a run that is killed leaves says how much of the log is its own.
		var grown int64
		for i, n := range st.Nodes {
			if log := c.store.Log(n.ID); log != nil && !n.Status.Terminal() {
				st.Nodes[i].LogSize = log.Status().Size
				grown += st.Nodes[i].LogSize
			}
		}
		if st.Seq != written || grown != logged {
			written, logged = st.Seq, grown
			if err := c.record.Update(st); err != nil && !c.recordFailed && c.opts.Notef != nil {
				c.recordFailed = true // said once; the end tries again
				c.opts.Notef("%v", err)
			}
		}
	}
}

// markSlow marks the running nodes that are overdue at now as slow
// (see [surface.Node.Overdue]), once each attempt; they go on running.
func (c *Coordinator) markSlow(now time.Time) {
	for _, n := range c.store.Snapshot().Nodes {
		if n.Slow || !n.Overdue(now) {
			continue
		}
		c.store.UpdateNode(n.ID, func(x *surface.Node) {
			if x.Attempt == n.Attempt && x.Status == surface.Running {
				x.Slow = true
			}
		})
	}
}

// Store returns the merged state, which the coordinator's surface serves.
func (c *Coordinator) Store() *surface.Store { return c.store }

// poolOf returns the hosts a platform's lane may run on.
func poolOf(opts Options, plat string) hosts.Pool {
	if h, ok := opts.Pools[plat]; ok && len(h.Pool) > 0 {
		return h.Pool
	}
	if h := opts.Hosts[plat]; h != "" {
		return hosts.Pool{{Addr: h, Slots: 1}}
	}
	return hosts.Pool{{Addr: hosts.Localhost, Slots: 1}}
}

// provisionRun is what provisioning a lane needs of the run.
func (c *Coordinator) provisionRun() *provision.Run {
	o := &c.opts
	return &provision.Run{Root: o.Root, SHA: o.SHA, Dirty: o.Dirty, Snapshot: o.Snapshot, Exe: o.Exe, Version: o.Version,
		Fresh: o.Fresh, RunnerIdle: o.RunnerIdle, RunnerFinishedIdle: o.RunnerFinishedIdle, Notef: o.Notef}
}

// Wait waits until every node has finished. When ctx ends first, it
// cancels the run and waits for the nodes to stop (their grace period,
// and a few seconds more), then ends what is still unfinished as
// cancelled; except on a lane whose link is down, which it waits for
// while the lane dials its host again, so that the runner there gets the
// cancel.
func (c *Coordinator) Wait(ctx context.Context) {
	for {
		c.waitNodes(ctx)
		if c.settle() {
			return
		}
	}
}

// settle refuses reruns and cancels from now on, then waits (up to
// forwardTimeout) for those taken before to be answered, and reports
// whether every node is still finished; if one of them restarted a node,
// it takes them again and reports false: the run is not settled.
func (c *Coordinator) settle() bool {
	c.pmu.Lock()
	c.settled = true
	c.pmu.Unlock()
	c.awaitForwarded()
	for _, n := range c.store.Snapshot().Nodes {
		if !n.Status.Terminal() {
			c.pmu.Lock()
			c.settled = false
			c.pmu.Unlock()
			return false
		}
	}
	return true
}

// waitNodes is Wait, once.
func (c *Coordinator) waitNodes(ctx context.Context) {
	st := c.store.Snapshot()
	open := map[string]bool{} // nodes not finished
	for _, n := range st.Nodes {
		open[n.ID] = !n.Status.Terminal()
	}
	count := func() int {
		k := 0
		for _, o := range open {
			if o {
				k++
			}
		}
		return k
	}
	left, seq := count(), st.Seq
	cancelled, waited := false, false
	var deadline <-chan time.Time
	for left > 0 {
		deltas, reset, wait, _ := c.store.Since(seq)
		if reset != nil {
			for _, n := range reset.Nodes {
				open[n.ID] = !n.Status.Terminal()
			}
			left, seq = count(), reset.Seq
			continue
		}
		for _, d := range deltas {
			seq = d.Seq
			if d.Node != nil && open[d.Node.ID] != !d.Node.Status.Terminal() {
				open[d.Node.ID] = !d.Node.Status.Terminal()
				if open[d.Node.ID] {
					left++
				} else {
					left--
				}
			}
		}
		if len(deltas) > 0 {
			continue
		}
		select {
		case <-wait:
		case <-ctx.Done():
			// Not cancelled any more, for what follows: the cancel's own
			// goroutine gets this value, not the variable, which changes
			// here as it starts.
			ctx = context.WithoutCancel(ctx)
			if !cancelled {
				cancelled = true
				stop := ctx
				c.work.Go(func() { c.cancelRun(stop) })
				deadline = time.After(c.opts.Grace + 5*time.Second)
			}
		case <-deadline:
			const why = "the run was cancelled, and the node did not stop in time"
			// A lane whose link is down has not told its runner yet: its
			// nodes would run on on the host until the runner's idle
			// bound (10 minutes). Wait for the link as long as the lane
			// dials (then the runner is told, and its nodes stop within
			// their grace) or until the lane gives up; a second Ctrl-C
			// exits at once.
			if down := c.cancelNotTaken(); len(down) > 0 && !waited {
				waited = true
				c.abandon(why, func(l *lane) bool { return !slices.Contains(down, l) })
				for _, l := range down {
					if c.opts.Notef != nil {
						c.opts.Notef("the %s lane's runner on %s has not been told of the cancel (its link is down, or not answering): waiting for the link (up to %s) to stop its nodes there; Ctrl-C again to exit now, and its runner stops them by itself after its idle bound",
							l.platform, l.addr(), c.reconnectTimeout())
					}
				}
				// A lane gives up by itself when its reconnect timeout
				// passes; this bounds the wait all the same.
				deadline = time.After(c.reconnectTimeout() + c.opts.Grace + 5*time.Second)
				continue
			}
			c.abandon(why, nil)
			return
		}
	}
}

// cancelNotTaken returns the lanes whose runner has not taken the run's cancel
// yet, and may still: those whose link is down, being dialled again, or
// whose link died without a word, not noticed yet (keep-alives take
// longer than the grace period to notice).
func (c *Coordinator) cancelNotTaken() []*lane {
	var down []*lane
	for _, l := range c.lanes {
		l.mu.Lock()
		failed := l.failed
		l.mu.Unlock()
		l.cmu.Lock()
		if !failed && !l.over && l.detached && (l.down || !l.cancelTaken) {
			down = append(down, l)
		}
		l.cmu.Unlock()
	}
	return down
}

// reconnectTimeout is how long a lane whose link dropped dials again.
func (c *Coordinator) reconnectTimeout() time.Duration {
	if c.opts.ReconnectTimeout > 0 {
		return c.opts.ReconnectTimeout
	}
	return DefaultReconnectTimeout
}

// abandon ends every unfinished node as cancelled, on the lanes for
// which which is true (on every lane when which is nil).
func (c *Coordinator) abandon(reason string, which func(*lane) bool) {
	for _, l := range c.lanes {
		if which != nil && !which(l) {
			continue
		}
		l.mu.Lock()
		for _, n := range l.nodes {
			if cur, _ := c.store.Node(n.ID); !cur.Status.Terminal() {
				l.mirrors[n.ID].final = true
				c.endNode(n.ID, surface.Cancelled, reason, reason)
			}
		}
		l.mu.Unlock()
	}
}

// endNode ends a node that will not finish by itself with status and
// reason, with note as the last line of its log. A log that cannot take
// the note (the disk is full) is said to the user instead: the node's
// reason still says why it ended.
func (c *Coordinator) endNode(id string, status surface.Status, reason, note string) {
	log := c.store.Log(id)
	if err := log.Note("%s", note); err != nil {
		c.opts.Notef.Say("%s: %s, and its log could not say so: %v", id, reason, err)
	}
	log.Finish()
	size := log.Status().Size
	c.store.UpdateNode(id, func(x *surface.Node) {
		x.Status, x.Reason, x.LogSize = status, reason, size
		if x.Started != nil {
			x.DurationMS = time.Since(*x.Started).Milliseconds()
		}
	})
}

// Finish ends the run: it records the final state beside the logs,
// closes the cell (faces see the end), stops the lanes' runners, and
// returns the state and the record's path.
func (c *Coordinator) Finish() (surface.State, string, error) {
	now := time.Now()
	c.store.UpdateRun(func(r *surface.Run) { r.Ended = &now })
	for _, l := range c.lanes {
		l.mu.Lock()
		if !l.failed {
			l.setLane(surface.PhaseDone, "")
		}
		l.mu.Unlock()
	}
	st := c.store.Snapshot()
	close(c.recordStop)
	c.recording.Wait()
	err := c.record.Final(st)
	c.store.Close()
	close(c.ended)
	c.awaitForwarded()
	c.stop()
	c.work.Wait()
	return st, c.record.Rel(), err
}

// Abort records the run as it is, its unfinished nodes cancelled for
// reason, for a coordinator that exits at once (a second Ctrl-C): it
// does not wait for the lanes. It returns the record's path.
func (c *Coordinator) Abort(reason string) (string, error) {
	st := c.store.Snapshot()
	now := time.Now()
	st.Run.Ended, st.Run.Cancelled = &now, true
	st.Nodes = slices.Clone(st.Nodes)
	for i, n := range st.Nodes {
		if n.Status.Terminal() {
			continue
		}
		st.Nodes[i].Status, st.Nodes[i].Reason = surface.Cancelled, reason
		if log := c.store.Log(n.ID); log != nil {
			st.Nodes[i].LogSize = log.Status().Size
		}
		if n.Started != nil {
			st.Nodes[i].DurationMS = now.Sub(*n.Started).Milliseconds()
		}
	}
	return c.record.Rel(), c.record.Final(st)
}

// Ended is closed once the run is over.
func (c *Coordinator) Ended() <-chan struct{} { return c.ended }

// CloseLogs closes the log files, once no face reads them any more.
func (c *Coordinator) CloseLogs() { c.store.CloseLogs() }

// The coordinator's procedures, for its surface: each goes to the lane
// of the node it names.
