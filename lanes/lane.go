package lanes

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/odu-ci/odu/dag"
	"github.com/odu-ci/odu/internal/say"
	"github.com/odu-ci/odu/lanes/hosts"
	"github.com/odu-ci/odu/lanes/provision"
	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/lanes/sshlink"
	"github.com/odu-ci/odu/platform"
	"github.com/odu-ci/odu/surface"
)

// lane is one platform's runner, as the coordinator drives it.
type lane struct {
	c        *Coordinator
	platform string
	pool     hosts.Pool // the hosts it may run on
	leased   bool       // it leases a slot of one (lease.go)
	nodes    []*dag.Node
	sets     []*shardSet // its sharded nodes (shards.go)
	shard    *shardLane  // set on a shard's own lane

	hmu  sync.Mutex
	host string // the host it runs on; the pool's addresses until it leased a slot

	ready  chan struct{} // closed once the first client is set, or the lane failed
	failed bool          // set by fail

	// The client of the lane's runner: replaced when the lane reconnects
	// after its link dropped, nil once the lane is over.
	cmu          sync.Mutex
	client       *surface.Client
	swapped      chan struct{} // closed, and replaced, when client changes
	over         bool          // the lane will have no client again
	runCancelled bool          // the run was cancelled: tell every new client
	down         bool          // the link dropped: dialling the host again
	detached     bool          // its runner is on a build host, detached: ping it, and tell it of a cancel
	cancelTaken  bool          // its runner acknowledged the run's cancel
	// shared is set when the runner writes the coordinator's log files
	// itself (a local lane): the coordinator follows their growth, not
	// their bytes.
	shared bool

	setup *surface.Log // the setup narrative, .setup@<platform>
	errf  *os.File     // the runner's stderr, .runner@<platform>

	// A lane whose host is lost for good moves to another host of its
	// pool (move.go): how many times it did, the hosts it lost, what it
	// says of it, and the finished nodes run again there only for their
	// outputs (by id, at the attempt whose result stands).
	moves     int
	lost      map[string]bool
	moved     string
	recompute map[string]int

	mu      sync.Mutex
	mirrors map[string]*mirror
	// queue holds the runner's changes not yet published, in the
	// runner's order: a finished node whose log is not yet whole here
	// holds back the changes after it, so that faces see the lane's
	// changes in the order they happened (never a dependent skipped
	// before its dependency failed).
	queue []surface.Node
}

// addr is the host the lane runs on (the pool's addresses until it
// leased a slot of one).
func (l *lane) addr() string {
	l.hmu.Lock()
	defer l.hmu.Unlock()
	return l.host
}

// setHost says which host the lane runs on.
func (l *lane) setHost(addr string) {
	l.hmu.Lock()
	defer l.hmu.Unlock()
	l.host = addr
}

// setLane publishes the lane's phase.
func (l *lane) setLane(phase surface.Phase, errText string) {
	l.hmu.Lock()
	moved := l.moved
	l.hmu.Unlock()
	l.c.store.SetLane(surface.Lane{Platform: l.name(), Host: l.addr(), Phase: phase, Error: errText,
		Log: l.setupRel(), Moved: moved})
}

// run starts the lane's runner, configures it, and mirrors its state and
// logs until it goes away.
func (l *lane) run() {
	c := l.c
	defer l.setup.Finish()
	runnerLog := filepath.Join(c.opts.Root, l.runnerRel())
	errf, err := runstate.OpenState(runnerLog, os.O_CREATE|os.O_WRONLY|os.O_TRUNC)
	if err == nil {
		err = surface.LinkInPlace(runnerLog, filepath.Join(c.opts.Root, l.runnerLink()))
	}
	if err != nil {
		close(l.ready)
		l.fail(fmt.Errorf("create the runner's log: %w", err))
		return
	}
	defer errf.Close()
	l.errf = errf
	var st *provision.Runner
	switch {
	case l.shard != nil:
		st, err = l.startShard(errf)
	case l.leased:
		st, err = l.leaseAndStart(errf, false)
	case l.pool[0].Addr == hosts.Localhost:
		l.setHost(hosts.Localhost)
		st, err = l.startLocal(errf, nil)
	default:
		l.setHost(l.pool[0].Addr)
		st, err = provision.Remote(c.ctx, c.provisionRun(), l.pool[0].Addr, platform.Platform(l.platform),
			sshlink.Env{Home: c.opts.Home, Getenv: c.opts.Getenv}, l.setup,
			func(p surface.Phase) { l.setLane(p, "") }, errf)
	}
	if errors.Is(err, errNotStarted) {
		close(l.ready)
		l.notStarted()
		return
	}
	if errors.Is(err, errCancelledUnleased) {
		close(l.ready)
		l.cancelUnleased(err)
		return
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
		err := fmt.Errorf("the runner on %s runs on %s, not on the lane's platform %s", l.addr(), got, l.platform)
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

	if !l.awaitShards() {
		return
	}
	var specs []surface.NodeSpec
	for _, n := range l.nodes {
		specs = append(specs, l.spec(n))
	}
	senv, snames := hosts.SecretEnv(c.opts.Secrets) // only ever in this message
	cfg := surface.Config{
		SHA: c.opts.SHA, Platform: l.platform, Workspace: st.Workspace,
		LogDir: st.LogDir, LinkDir: st.LinkDir, Nodes: specs, Env: append(slices.Clip(st.Env), senv...), Secrets: snames,
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
			l.say("%v", err)
			l.fail(err)
			return
		}
		// The link went while configuring. A detached runner may have
		// taken the configuration and started the nodes: dial it again
		// and configure it again, which it takes as a no-op for the same
		// lane, as after any dropped link. A host that is not back
		// moves the lane, as while it runs: the move configures the
		// runner on the new host.
		was := st
		if !l.survive(&st, err) {
			return
		}
		if st != was {
			break
		}
	}
	configured = true
	if l.moves == 0 {
		fmt.Fprintf(l.setup, "%s running %s\n", time.Now().Format("15:04:05.000"), count(len(l.nodes), "node"))
		l.setLane(surface.PhaseRunning, "")
	}

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
		was := st
		if !l.survive(&st, err) {
			return
		}
		if st != was {
			seen = 0 // a runner on another host: its changes from the start
		}
	}
}

// configureTries bounds how many times a lane configures its runner when
// the link drops while it does: a link that drops by chance is back on
// the next try; one that drops every time is dropped by the runner,
// which cannot take the configuration, and dialling it again forever
// would never end the lane.
const configureTries = 3

// say adds a line to the lane's setup log.
func (l *lane) say(format string, a ...any) { say.To(l.setup, "15:04:05.000")(format, a...) }

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
	// Both end with the coordinator's life at the latest (c.ctx), and
	// Finish waits for them.
	if l.detached {
		l.c.work.Go(func() { l.ping(cl) })
	}
	if l.runCancelled {
		l.say("telling the runner the run was cancelled")
		l.c.work.Go(func() { l.tellCancel(cl) })
	}
}

// tellCancel tells the lane's runner over cl that the run is cancelled, and
// records that it took it.
func (l *lane) tellCancel(cl *surface.Client) {
	if cl.CancelRun(l.c.ctx) == nil {
		l.cmu.Lock()
		l.cancelTaken = true
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
			_ = cl.Ping() // a ping that cannot be sent is a connection ending: the watch says why
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

// startLocal starts the lane's runner on this machine; it holds lease,
// if any, for its life.
func (l *lane) startLocal(stderr, lease *os.File) (*provision.Runner, error) {
	c := l.c
	r, err := provision.Local(c.ctx, c.provisionRun(), c.opts.Env, stderr, lease)
	if err != nil {
		return nil, fmt.Errorf("start the runner: %w", err)
	}
	fmt.Fprintf(l.setup, "%s runner started on this machine: %s runner --stdio\n", time.Now().Format("15:04:05.000"), c.opts.Exe)
	r.Workspace = c.opts.Workspace
	r.LogDir = filepath.Join(c.opts.WorkDir, "logs", l.platform)
	if l.shared {
		r.LogDir = filepath.Join(c.opts.Root, runstate.RunDirRel(c.opts.SHA, c.num), l.platform)
		r.LinkDir = filepath.Join(c.opts.Root, runstate.StateDir, c.opts.SHA, l.platform)
	}
	return r, nil
}

// cancelUnleased ends every node of a lane whose run was cancelled
// before it leased a slot: cancelled, none having run.
func (l *lane) cancelUnleased(err error) {
	l.say("%v: no runner started", err)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range l.nodes {
		if cur, _ := l.c.store.Node(n.ID); cur.Status.Terminal() {
			continue
		}
		l.mirrors[n.ID].final = true
		l.c.endNode(n.ID, surface.Cancelled, err.Error(), err.Error())
	}
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
		note := fmt.Sprintf("lane %s on %s: %v", l.platform, l.addr(), err)
		var lost *linkLostError
		var host *sshlink.HostError
		switch {
		case errors.As(err, &lost):
			note = err.Error()
		case errors.As(err, &host) && host.Addr == l.addr():
			note = fmt.Sprintf("lane %s: %v", l.platform, err) // err names the host
		}
		c.endNode(n.ID, surface.Errored, err.Error(), note)
	}
}
