package lanes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/odu-ci/odu/dag"
	"github.com/odu-ci/odu/lanes/hosts"
	"github.com/odu-ci/odu/lanes/provision"
	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/lanes/sshlink"
	"github.com/odu-ci/odu/platform"
	"github.com/odu-ci/odu/surface"
)

// Options describe a run for the coordinator.
type Options struct {
	Root     string        // the checkout
	Pipeline *dag.Pipeline // the nodes to run
	SHA      string        // the commit under test
	Branch   string        //
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
	// inside the runner's configuration (see [Secret]).
	Secrets []hosts.Secret
	// CopyLogs streams a local lane's log bytes to the coordinator, as a
	// remote lane's are, instead of having its runner write the
	// coordinator's log files: for comparing the two paths.
	CopyLogs bool
	// Hosts maps a platform to the address of its lane; a platform not in
	// it, or on "localhost", runs on this machine.
	Hosts map[string]string
	// Home is where ~/.ssh is, for SSH lanes; Getenv reads the
	// coordinator's environment (SSH_AUTH_SOCK).
	Home   string
	Getenv func(string) string
	// ReconnectTimeout bounds how long a remote lane whose link dropped
	// is dialled again before its unfinished nodes become errors;
	// DefaultReconnectTimeout when 0.
	ReconnectTimeout time.Duration
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
	Notef func(format string, a ...any)
}

// DefaultReconnectTimeout is how long a dropped link is dialled again:
// long enough for a Wi-Fi hand-over, a VPN that reconnects or a router
// that reboots; a host still unreachable after it is likely down.
const DefaultReconnectTimeout = 2 * time.Minute

// Coordinator runs a pipeline on its lanes and holds the merged state: a
// client of every lane's surface, and the store its own surface serves.
type Coordinator struct {
	opts   Options
	store  *surface.Store
	lanes  []*lane
	byNode map[string]*lane

	ctx    context.Context // the lanes' life
	stop   context.CancelFunc
	work   sync.WaitGroup
	ended  chan struct{} // closed once the run is over
	cancel sync.Once     // run.cancel, once

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
}

// lane is one platform's runner, as the coordinator drives it.
type lane struct {
	c        *Coordinator
	platform string
	host     string
	nodes    []*dag.Node

	ready  chan struct{} // closed once the first client is set, or the lane failed
	failed bool          // set by fail

	// The client of the lane's runner: replaced when the lane reconnects
	// after its link dropped, nil once the lane is over.
	cmu      sync.Mutex
	client   *surface.Client
	swapped  chan struct{} // closed, and replaced, when client changes
	over     bool          // the lane will have no client again
	cancelOn bool          // the run was cancelled: tell every new client
	down     bool          // the link dropped: dialling the host again
	detached bool          // its runner is on a build host, detached: ping it, and tell it of a cancel
	told     bool          // its runner acknowledged the run's cancel
	// shared is set when the runner writes the coordinator's log files
	// itself (a local lane): the coordinator follows their growth, not
	// their bytes.
	shared bool

	setup *surface.Log // the setup narrative, .setup@<platform>

	mu      sync.Mutex
	mirrors map[string]*mirror
	// queue holds the runner's changes not yet published, in the
	// runner's order: a finished node whose log is not yet whole here
	// holds back the changes after it, so that faces see the lane's
	// changes in the order they happened (never a dependent skipped
	// before its dependency failed).
	queue []surface.Node
}

// mirror is the coordinator's view of one node of a lane.
type mirror struct {
	attempt int           // the runner's attempt, as last seen
	begun   bool          // the attempt has left pending: its log is followed
	moved   chan struct{} // closed, and replaced, when attempt or begun changes
	logged  int           // the attempt whose log the coordinator has whole
	final   bool          // published finished for its attempt
}

// Start starts a run: a lane per platform, in parallel.
func Start(ctx context.Context, opts Options) (*Coordinator, error) {
	pl := opts.Pipeline
	var nodes []surface.Node
	for _, n := range pl.Nodes {
		nodes = append(nodes, surface.Node{
			ID: n.ID, Name: n.Name, Recipe: n.Recipe, Platform: string(n.Platform),
			Deps: n.Deps, Command: n.Command, Status: surface.Pending, Attempt: 1,
			Log: runstate.LogRel(opts.SHA, string(n.Platform), n.Name),
		})
	}
	var plats []string
	for _, p := range pl.Platforms {
		plats = append(plats, string(p))
		// A platform with no host runs on this machine: only this
		// machine's may, or its nodes would be green untested.
		if hostOf(opts, string(p)) == hosts.Localhost && p != platform.Local() {
			return nil, &hosts.LocalPlatformError{Platform: p}
		}
	}
	run := surface.Run{
		Repo: opts.Root, SHA: opts.SHA, Branch: opts.Branch, Dirty: opts.Dirty, Snapshot: opts.Snapshot,
		Root: pl.Root, Platforms: plats, Started: time.Now(), Version: opts.Version, PID: os.Getpid(),
	}
	// A local runner writes the logs into the coordinator's files (one
	// write of every byte instead of two, and no copy through a pipe):
	// the coordinator's logs are views of them. A remote runner streams
	// them.
	shared := func(plat string) bool { return hostOf(opts, plat) == "localhost" && !opts.CopyLogs }
	for _, p := range plats {
		if err := runstate.MkdirState(opts.Root, filepath.Join(runstate.StateDir, opts.SHA, p)); err != nil {
			return nil, err
		}
	}
	store, err := surface.NewStore(run, nodes, func(n surface.Node) (*surface.Log, error) {
		if shared(n.Platform) {
			return surface.OpenLogView(filepath.Join(opts.Root, n.Log))
		}
		return surface.OpenLog(filepath.Join(opts.Root, n.Log))
	})
	if err != nil {
		return nil, err
	}
	c := &Coordinator{opts: opts, store: store, byNode: map[string]*lane{}, ended: make(chan struct{}), recordStop: make(chan struct{})}
	// The record exists from the start, so that a run that is killed
	// leaves one that says so (see [Record]).
	if c.record, err = runstate.NewRecord(opts.Root, store.Snapshot()); err != nil {
		store.CloseLogs()
		return nil, err
	}
	c.ctx, c.stop = context.WithCancel(context.WithoutCancel(ctx))
	for _, p := range plats {
		l := &lane{c: c, platform: p, host: hostOf(opts, p), shared: shared(p), ready: make(chan struct{}), mirrors: map[string]*mirror{},
			swapped: make(chan struct{})}
		for _, n := range pl.Nodes {
			if string(n.Platform) == p {
				l.nodes = append(l.nodes, n)
				l.mirrors[n.ID] = &mirror{attempt: 1, moved: make(chan struct{})}
				c.byNode[n.ID] = l
			}
		}
		c.lanes = append(c.lanes, l)
		setup, err := surface.OpenLog(filepath.Join(opts.Root, runstate.SetupLogRel(opts.SHA, p)))
		if err != nil {
			store.CloseLogs()
			return nil, err
		}
		l.setup = setup
		store.AddLog(surface.SetupID(p), setup)
		l.setLane(surface.PhaseStarting, "")
	}
	for _, l := range c.lanes {
		c.work.Add(1)
		go func() {
			defer c.work.Done()
			l.run()
		}()
	}
	c.recording.Add(1)
	go func() {
		defer c.recording.Done()
		c.keepRecord()
	}()
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

// Store returns the merged state, which the coordinator's surface serves.
func (c *Coordinator) Store() *surface.Store { return c.store }

// hostOf returns the address of a platform's lane.
func hostOf(opts Options, plat string) string {
	if h := opts.Hosts[plat]; h != "" {
		return h
	}
	return "localhost"
}

// setLane publishes the lane's phase.
func (l *lane) setLane(phase surface.Phase, errText string) {
	l.c.store.SetLane(surface.Lane{Platform: l.platform, Host: l.host, Phase: phase, Error: errText,
		Log: runstate.SetupLogRel(l.c.opts.SHA, l.platform)})
}

// run starts the lane's runner, configures it, and mirrors its state and
// logs until it goes away.
func (l *lane) run() {
	c := l.c
	defer l.setup.Finish()
	errf, err := runstate.OpenState(filepath.Join(c.opts.Root, runstate.RunnerLogRel(c.opts.SHA, l.platform)), os.O_CREATE|os.O_WRONLY|os.O_TRUNC)
	if err != nil {
		close(l.ready)
		l.fail(fmt.Errorf("create the runner's log: %w", err))
		return
	}
	defer errf.Close()
	var st *provision.Runner
	if l.host == hosts.Localhost {
		st, err = l.startLocal(errf)
	} else {
		st, err = provision.Remote(c.ctx, c.provisionRun(), l.host, platform.Platform(l.platform),
			sshlink.Env{Home: c.opts.Home, Getenv: c.opts.Getenv}, l.setup,
			func(p surface.Phase) { l.setLane(p, "") }, errf)
	}
	if err != nil {
		fmt.Fprintf(l.setup, "%s %v\n", time.Now().Format("15:04:05.000"), err)
		close(l.ready)
		l.fail(err)
		return
	}
	if got := st.Client.Server.Platform; got != l.platform {
		// A runner runs its nodes where it is: on another platform, their
		// success would be a false green for the lane's.
		if got == "" {
			got = "none"
		}
		err := fmt.Errorf("the runner on %s runs on %s, not on the lane's platform %s", l.host, got, l.platform)
		fmt.Fprintf(l.setup, "%s %v\n", time.Now().Format("15:04:05.000"), err)
		st.Leave(st.Client, c.opts.Grace+5*time.Second)
		close(l.ready)
		l.fail(err)
		return
	}
	l.detached = st.Detached
	l.swap(st.Client)
	close(l.ready)
	var follow sync.WaitGroup
	configured := false
	defer func() {
		cl, _ := l.current()
		l.end()
		follow.Wait()
		if configured {
			st.Exit(cl, c.opts.Grace+5*time.Second)
		} else {
			st.Leave(cl, c.opts.Grace+5*time.Second)
		}
	}()

	var specs []surface.NodeSpec
	for _, n := range l.nodes {
		specs = append(specs, surface.NodeSpec{ID: n.ID, Name: n.Name, Recipe: n.Recipe, Deps: n.Deps, Command: n.Command})
	}
	senv, snames := hosts.SecretEnv(c.opts.Secrets) // only ever in this message
	cfg := surface.Config{
		SHA: c.opts.SHA, Platform: l.platform, Workspace: st.Workspace,
		LogDir: st.LogDir, Nodes: specs, Env: append(slices.Clip(st.Env), senv...), Secrets: snames,
		Jobs: c.opts.Jobs, GraceMS: c.opts.Grace.Milliseconds(), Run: c.store.Run(),
	}
	for try := 1; ; try++ {
		cl, _ := l.current()
		err = cl.Configure(c.ctx, cfg)
		if err == nil {
			break
		}
		if cl.Err() == nil {
			l.fail(fmt.Errorf("configure the runner: %w", err))
			return
		}
		if try == configureTries {
			// The runner drops the link on every configuration: one it
			// cannot take (over the frame limit, say), not a link that
			// happened to drop.
			err := fmt.Errorf("configure the runner: the link dropped on each of %d tries (a configuration the runner cannot take?), the last time: %w", try, l.lostLink(st, err))
			l.sayf("%v", err)
			l.fail(err)
			return
		}
		// The link went while configuring. A detached runner may have
		// taken the configuration and started the nodes: dial it again
		// and configure it again, which it takes as a no-op for the same
		// lane, as after any dropped link.
		if !l.survive(st, err) {
			return
		}
	}
	configured = true
	nodes := "nodes"
	if len(l.nodes) == 1 {
		nodes = "node"
	}
	fmt.Fprintf(l.setup, "%s running %d %s\n", time.Now().Format("15:04:05.000"), len(l.nodes), nodes)
	l.setLane(surface.PhaseRunning, "")

	for _, n := range l.nodes {
		follow.Add(1)
		go func() {
			defer follow.Done()
			l.follow(n.ID)
		}()
	}
	first := true
	var seen uint64 // the runner's changes mirrored so far
	for {
		cl, _ := l.current()
		err = l.watch(cl, first, &seen)
		first = false
		if c.ctx.Err() != nil || err == nil {
			return
		}
		if !l.survive(st, err) {
			return
		}
	}
}

// configureTries bounds how many times a lane configures its runner when
// the link drops while it does: a link that drops by chance is back on
// the next try; one that drops every time is dropped by the runner,
// which cannot take the configuration, and dialling it again forever
// would never end the lane.
const configureTries = 3

// survive takes a lane's lost link: a lane with a detached runner dials
// it again (see reconnect); any other fails. It reports whether the lane
// is back.
func (l *lane) survive(st *provision.Runner, err error) bool {
	lost := l.lostLink(st, err)
	if !st.CanRedial() {
		l.fail(lost)
		return false
	}
	return l.reconnect(st, lost)
}

// reconnect dials a lane's host again after its link dropped, with
// backoff, until it re-attaches to the runner there or the reconnect
// timeout passes; then the lane fails. Its nodes run on meanwhile: the
// runner is detached from the link.
func (l *lane) reconnect(st *provision.Runner, lost *linkLostError) bool {
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
	l.sayf("%v; dialling again (for up to %s)", lost, timeout)
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
			l.sayf("re-attached to the runner after %s (try %d): its nodes ran on; their logs resume where they were", time.Since(cut).Round(time.Millisecond), try)
			l.setLane(surface.PhaseRunning, "")
			return true
		}
		if c.ctx.Err() != nil {
			return false
		}
		if errors.Is(err, provision.ErrRunnerGone) || !time.Now().Add(delay).Before(deadline) {
			why := fmt.Errorf("%v; not back within %s: %v", lost.err, timeout, err)
			if errors.Is(err, provision.ErrRunnerGone) {
				why = fmt.Errorf("%v; dialled again: %v", lost.err, err)
			}
			l.sayf("giving up: %v", why)
			l.fail(&linkLostError{host: l.host, err: why})
			return false
		}
		l.sayf("dial %d failed: %v; next in %s", try, err, delay)
		select {
		case <-time.After(delay):
		case <-c.ctx.Done():
			return false
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// sayf adds a line to the lane's setup log.
func (l *lane) sayf(format string, a ...any) {
	fmt.Fprintf(l.setup, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, a...))
}

// current returns the lane's client (nil once the lane is over) and a
// channel closed when it changes.
func (l *lane) current() (*surface.Client, <-chan struct{}) {
	l.cmu.Lock()
	defer l.cmu.Unlock()
	return l.client, l.swapped
}

// swap makes cl the lane's client.
func (l *lane) swap(cl *surface.Client) {
	l.cmu.Lock()
	defer l.cmu.Unlock()
	if l.over {
		cl.Close()
		return
	}
	l.client = cl
	l.down = false
	close(l.swapped)
	l.swapped = make(chan struct{})
	if l.detached {
		go l.ping(cl)
	}
	if l.cancelOn {
		l.sayf("telling the runner the run was cancelled")
		go l.tell(cl)
	}
}

// tell tells the lane's runner over cl that the run is cancelled, and
// records that it took it.
func (l *lane) tell(cl *surface.Client) {
	if cl.CancelRun(l.c.ctx) == nil {
		l.cmu.Lock()
		l.told = true
		l.cmu.Unlock()
	}
}

// ping tells a detached runner, every surface.PingEvery, that this
// coordinator is there, until cl is closed: a runner takes a coordinator
// silent for a few times as long for gone, as when the link died without
// a word and the SSH session to the runner stays open regardless.
func (l *lane) ping(cl *surface.Client) {
	t := time.NewTicker(surface.PingEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			cl.Ping()
		case <-cl.Done():
			return
		case <-l.c.ctx.Done():
			return
		}
	}
}

// end ends the lane: it has no client any more.
func (l *lane) end() {
	l.cmu.Lock()
	defer l.cmu.Unlock()
	if !l.over {
		l.over = true
		l.client = nil
		close(l.swapped)
	}
}

// waitSwap waits for the lane's client to change from the one swapped
// belongs to, and reports whether there is a new one.
func (l *lane) waitSwap(swapped <-chan struct{}) bool {
	select {
	case <-swapped:
	case <-l.c.ctx.Done():
		return false
	}
	cl, _ := l.current()
	return cl != nil
}

// lostLink explains a connection to a runner that ended: the link's own
// reason (an SSH connection that closed, keep-alives unanswered) when it
// has one, else what the client saw.
func (l *lane) lostLink(st *provision.Runner, err error) *linkLostError {
	if lerr := st.Lost(); lerr != nil {
		err = lerr
	}
	return &linkLostError{host: l.host, err: err}
}

// linkLostError ends a lane whose runner went away mid-run.
type linkLostError struct {
	host string
	err  error
}

func (e *linkLostError) Error() string { return "link to " + e.host + " lost: " + e.err.Error() }

// startLocal starts the lane's runner on this machine.
func (l *lane) startLocal(stderr *os.File) (*provision.Runner, error) {
	c := l.c
	r, err := provision.Local(c.ctx, c.provisionRun(), c.opts.Env, stderr)
	if err != nil {
		return nil, fmt.Errorf("start the runner: %w", err)
	}
	fmt.Fprintf(l.setup, "%s runner started on this machine: %s runner --stdio\n", time.Now().Format("15:04:05.000"), c.opts.Exe)
	r.Workspace = c.opts.Workspace
	r.LogDir = filepath.Join(c.opts.WorkDir, "logs", l.platform)
	if l.shared {
		r.LogDir = filepath.Join(c.opts.Root, runstate.StateDir, c.opts.SHA, l.platform)
	}
	return r, nil
}

// provisionRun is what provisioning a lane needs of the run.
func (c *Coordinator) provisionRun() *provision.Run {
	o := &c.opts
	return &provision.Run{Root: o.Root, SHA: o.SHA, Dirty: o.Dirty, Snapshot: o.Snapshot, Exe: o.Exe, Version: o.Version,
		Fresh: o.Fresh, RunnerIdle: o.RunnerIdle, RunnerFinishedIdle: o.RunnerFinishedIdle, Notef: o.Notef}
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
					l.platform, l.host, was.Started.Local().Format("15:04:05"), was.PID, done, len(ev.Snapshot.Nodes))
				l.sayf("%s", msg)
				if l.c.opts.Notef != nil {
					l.c.opts.Notef("%s", msg)
				}
			}
		}
		if ev.Snapshot != nil {
			for _, n := range ev.Missed { // the transitions before it, when behind
				l.mirror(n)
			}
			for _, n := range ev.Snapshot.Nodes {
				l.mirror(n)
			}
		}
		if ev.Delta != nil && ev.Delta.Node != nil {
			l.mirror(*ev.Delta.Node)
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
	n.Log = cur.Log
	if reflect.DeepEqual(cur, n) {
		return // nothing new: a snapshot repeats what was mirrored
	}
	l.c.store.UpdateNode(n.ID, func(x *surface.Node) { *x = n })
}

// follow copies a node's log from the runner into the coordinator's log
// file as it arrives (or, when the runner writes that file itself, follows
// its growth), attempt after attempt, until the lane is over. When the
// link drops, it waits for the lane to reconnect and resumes the attempt
// from the offset it has: the runner keeps the whole log on its disk, so
// no byte is lost and none is written twice.
func (l *lane) follow(id string) {
	log := l.c.store.Log(id)
	attempt := 1
	// awaitRerun waits for the node's next attempt and restarts its log.
	awaitRerun := func() bool {
		next, ok := l.nextAttempt(id, attempt)
		if ok {
			attempt = next
			log.RestartAt(attempt)
		}
		return ok
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
		ls, err := cl.Log(surface.NodeLogParams{ID: id, Attempt: attempt, From: from, SizeOnly: l.shared})
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
				log.RestartAt(attempt)
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
			log.RestartAt(attempt)
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
	// Its log is as whole as it will get: a finish the runner reports
	// later must not wait for more of it, holding up the lane's queue.
	m.final, m.logged = true, max(m.logged, attempt)
	// The log says where it stops being whole, as its last line.
	log := l.c.store.Log(id)
	if terr := log.EndTruncated(err.Error()); terr != nil && l.c.opts.Notef != nil {
		l.c.opts.Notef("%s: log truncated (%v), and the line that says so could not be written: %v", id, err, terr)
	}
	size := log.Status().Size
	l.c.store.UpdateNode(id, func(x *surface.Node) {
		x.Status, x.Attempt, x.LogSize = surface.Errored, attempt, size
		x.Reason = "log truncated: " + err.Error()
	})
	l.drainLocked()
}

// fail ends every unfinished node of the lane as an error, with the
// reason at the end of its log.
func (l *lane) fail(err error) {
	c := l.c
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failed = true
	l.setLane(surface.PhaseFailed, err.Error())
	// What the runner said before the link went is published, as far as
	// the logs arrived; the rest is lost with the link.
	l.drainLocked()
	l.queue = nil
	for _, n := range l.nodes {
		m := l.mirrors[n.ID]
		cur, _ := c.store.Node(n.ID)
		if m.final && cur.Status.Terminal() {
			continue
		}
		m.final = true
		log := c.store.Log(n.ID)
		var lost *linkLostError
		var host *sshlink.HostError
		switch {
		case errors.As(err, &lost):
			log.Note("%v", err)
		case errors.As(err, &host) && host.Addr == l.host:
			log.Note("lane %s: %v", l.platform, err) // err names the host
		default:
			log.Note("lane %s on %s: %v", l.platform, l.host, err)
		}
		log.Finish()
		size := log.Status().Size
		c.store.UpdateNode(n.ID, func(x *surface.Node) {
			x.Status = surface.Errored
			x.Reason = err.Error()
			x.LogSize = size
			if x.Started != nil {
				x.DurationMS = time.Since(*x.Started).Milliseconds()
			}
		})
	}
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
			if !cancelled {
				cancelled = true
				go c.cancelRun(context.WithoutCancel(ctx))
				deadline = time.After(c.opts.Grace + 5*time.Second)
			}
			ctx = context.WithoutCancel(ctx)
		case <-deadline:
			const why = "the run was cancelled, and the node did not stop in time"
			// A lane whose link is down has not told its runner yet: its
			// nodes would run on on the host until the runner's idle
			// bound (10 minutes). Wait for the link as long as the lane
			// dials (then the runner is told, and its nodes stop within
			// their grace) or until the lane gives up; a second Ctrl-C
			// exits at once.
			if down := c.untold(); len(down) > 0 && !waited {
				waited = true
				c.abandon(why, func(l *lane) bool { return !slices.Contains(down, l) })
				for _, l := range down {
					if c.opts.Notef != nil {
						c.opts.Notef("the %s lane's runner on %s has not been told of the cancel (its link is down, or not answering): waiting for the link (up to %s) to stop its nodes there; Ctrl-C again to exit now, and its runner stops them by itself after its idle bound",
							l.platform, l.host, c.reconnectTimeout())
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

// untold returns the lanes whose runner has not taken the run's cancel
// yet, and may still: those whose link is down, being dialled again, or
// whose link died without a word, not noticed yet (keep-alives take
// longer than the grace period to notice).
func (c *Coordinator) untold() []*lane {
	var down []*lane
	for _, l := range c.lanes {
		l.mu.Lock()
		failed := l.failed
		l.mu.Unlock()
		l.cmu.Lock()
		if !failed && !l.over && l.detached && (l.down || !l.told) {
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
				log := c.store.Log(n.ID)
				log.Note("%s", reason)
				log.Finish()
				size := log.Status().Size
				c.store.UpdateNode(n.ID, func(x *surface.Node) {
					x.Status, x.Reason, x.LogSize = surface.Cancelled, reason, size
					if x.Started != nil {
						x.DurationMS = time.Since(*x.Started).Milliseconds()
					}
				})
			}
		}
		l.mu.Unlock()
	}
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

// Configure is for runners.
func (c *Coordinator) Configure(context.Context, surface.Config) error {
	return &surface.Error{Code: surface.CodeMethodNotFound, Message: "the coordinator is not a runner"}
}

func (c *Coordinator) laneOf(ctx context.Context, id string) (*surface.Client, error) {
	if c.store.Closed() {
		return nil, &surface.Error{Code: surface.CodeNotReady, Message: "the run is over"}
	}
	l, ok := c.byNode[id]
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
	return c.cancelRun(ctx)
}

// cancelRun is CancelRun, taken whether or not the run settled.
func (c *Coordinator) cancelRun(ctx context.Context) error {
	c.cancelled.Store(true)
	c.cancel.Do(func() {
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
				l.cancelOn = true
				cl, down := l.client, l.down
				l.cmu.Unlock()
				if down {
					l.sayf("the run was cancelled while the link is down: the runner will be told once the lane is back")
					return
				}
				if cl != nil {
					l.tell(cl)
				}
			}()
		}
		wg.Wait()
	})
	return nil
}
