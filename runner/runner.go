// Package runner is the host side of a lane: it runs the lane's nodes in
// a workspace and serves their state and logs as a surface.
//
// `odu runner --stdio` serves one coordinator over its stdin and stdout
// (diagnostics go to stderr only). The coordinator configures it once
// ([surface.Config]): the commit, the workspace, the nodes with their
// dependencies and commands, extra environment, how many nodes run at once.
//
// Scheduling: a node starts once every dependency succeeded and a slot is
// free; independent nodes run in parallel up to Jobs. A node whose
// dependency did not succeed becomes skipped and never starts: no false
// greens.
//
// Each node runs as its command (`just --no-deps RECIPE`) in the
// workspace, as the leader of its own process group ([proc]), with stdin
// from /dev/null and stdout and stderr on one pipe, so its log holds both
// in the order they were written (a recipe may reopen /dev/stdout). The
// log is a file in the runner's log directory, read by subscribers at
// their pace. A node's terminal status is published only after its last
// log byte is in the log.
//
// Stopping a node (cancel, rerun, the end of the run) sends SIGTERM to its
// group, waits the grace period, then sends SIGKILL: no process of the
// node survives, grandchildren included, nor those that left the group
// (proc tracks them by cgroup or token). When the leader exits by itself,
// whatever it left running is stopped the same way.
//
// Two ways to serve, for the two kinds of lane:
//
//   - [Runner.Serve]: one coordinator over stdin and stdout (`odu runner
//     --stdio`, the local lane's child runner). When stdin closes (the
//     coordinator is gone), the runner stops every node and exits.
//   - [Runner.ServeDetached]: any number of coordinators, one after
//     another, on a Unix socket (a build host's runner, detached from the
//     SSH session; see detached.go). A dropped link costs nothing: the
//     nodes run on, their logs stay on the host's disk, and the next
//     coordinator resumes each from its offset. It stops everything and
//     exits when told the run is over (runner.exit), on a signal, or after
//     an idle bound with no coordinator attached.
package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/odu-ci/odu/internal/say"
	"github.com/odu-ci/odu/platform"
	"github.com/odu-ci/odu/repo"
	"github.com/odu-ci/odu/surface"
)

// DefaultGrace is how long a stopping node gets between SIGTERM and
// SIGKILL when the coordinator does not say: long enough for a test
// runner to write its report, short enough that Ctrl-C feels prompt.
const DefaultGrace = 10 * time.Second

// Runner runs one lane's nodes.
type Runner struct {
	Version string   // odu's version, checked at hello
	Logf    say.Func // diagnostics; never stdout
	// Configured, if set, is called once the runner took its
	// configuration (a detached runner records the grace period), with
	// the runner's lock held: it must not call the runner.
	Configured func(surface.Config)

	srv  *surface.Server
	ctx  context.Context // the runner's life; set by Serve
	exit chan string     // runner.exit, with why; read by ServeDetached

	mu         sync.Mutex
	configured bool
	cfg        surface.Config
	store      *surface.Store
	nodes      map[string]*node
	order      []string            // ids, in the order configured (topological)
	dependents map[string][]string // id -> ids that depend on it
	jobs       int
	running    int
	grace      time.Duration
	env        []string
	mask       *automaton // the secrets to mask in the nodes' output; nil for none
	wake       chan struct{}
	stopping   bool
	work       sync.WaitGroup // node goroutines and the scheduler

	// procs takes the procedures on nodes (rerun, cancel, run.cancel)
	// one at a time, in the order they came (see procedures.go).
	procs     fifo
	cancelled bool // run.cancel came (before Configure too): nothing is rerun any more
}

// node is the runner's record of one node; its status lives in the store.
type node struct {
	spec    surface.NodeSpec
	status  surface.Status
	held    bool           // being reset by a rerun: not to be started
	stopped surface.Status // set when the runner stops it: cancelled, or "" for a rerun
	reason  string         // why it was stopped
	stop    func()         // stops its process group; set while it runs
	exited  chan struct{}  // closed when its goroutine is done; set while it runs
	// touched counts the procedures that changed the node, and byRerun
	// says whether the last was a rerun: a procedure that finds either
	// changed since it came knows another one did its work meanwhile.
	touched int
	byRerun bool
}

// Serve serves the runner's surface over rwc until the coordinator goes
// away or ctx ends; then it stops every node and returns.
func (r *Runner) Serve(ctx context.Context, rwc io.ReadWriteCloser) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.init(ctx)
	err := r.srv.Serve(ctx, rwc)
	cancel() // the scheduler stops with the runner's context
	r.shutdown("the coordinator went away")
	return err
}

// init prepares the runner to serve until ctx ends.
func (r *Runner) init(ctx context.Context) {
	if r.Logf == nil {
		r.Logf = func(string, ...any) {}
	}
	r.ctx = ctx
	r.exit = make(chan string, 1)
	r.srv = &surface.Server{Name: "runner", Version: r.Version, Platform: string(platform.Local()), Controller: r}
}

// Configure takes the lane's configuration, once, and starts scheduling.
// A runner already configured for the same lane (commit, platform,
// workspace and nodes) takes it again as a no-op: a coordinator that
// re-attaches to a detached runner configures it as it would a new one,
// and follows what it runs. Its cell tells it the runner was already
// running: the run there is the one the first coordinator configured.
func (r *Runner) Configure(_ context.Context, cfg surface.Config) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.configured {
		if sameLane(r.cfg, cfg) {
			return nil
		}
		return &surface.Error{Code: surface.CodeNotReady, Message: fmt.Sprintf(
			"the runner there already runs other nodes of commit %s on %s (left by an earlier odu run); `odu run --fresh` stops it and starts over", repo.Short(r.cfg.SHA), r.cfg.Platform)}
	}
	if err := validate(cfg); err != nil {
		return err
	}
	r.cfg = cfg
	r.nodes = map[string]*node{}
	r.dependents = map[string][]string{}
	var nodes []surface.Node
	for _, spec := range cfg.Nodes {
		r.nodes[spec.ID] = &node{spec: spec, status: surface.Pending}
		r.order = append(r.order, spec.ID)
		for _, d := range spec.Deps {
			r.dependents[d] = append(r.dependents[d], spec.ID)
		}
		nodes = append(nodes, surface.Node{
			ID: spec.ID, Name: spec.Name, Recipe: spec.Recipe, Platform: cfg.Platform,
			Deps: spec.Deps, Command: spec.Command, Status: surface.Pending, Attempt: max(spec.Attempt, 1),
		})
	}
	run := cfg.Run
	run.PID = os.Getpid()
	run.Version = r.Version
	store, err := surface.NewStore(run, nodes, func(n surface.Node) (*surface.Log, error) {
		if cfg.LinkDir != "" {
			return surface.OpenLogKept(filepath.Join(cfg.LogDir, surface.LogName(n.Name)), filepath.Join(cfg.LinkDir, surface.LogName(n.Name)))
		}
		return surface.OpenLog(filepath.Join(cfg.LogDir, surface.LogName(n.Name)))
	})
	if err != nil {
		return &surface.Error{Code: surface.CodeInternal, Message: err.Error()}
	}
	// A node that starts at a later attempt (its lane moved here from a
	// host that was lost) has its log at that attempt.
	for _, spec := range cfg.Nodes {
		if spec.Attempt > 1 {
			if err := store.Log(spec.ID).RestartAt(spec.Attempt); err != nil {
				store.CloseLogs()
				return &surface.Error{Code: surface.CodeInternal, Message: err.Error()}
			}
		}
	}
	r.store = store
	r.jobs = cfg.Jobs
	if r.jobs <= 0 {
		r.jobs = runtime.NumCPU()
	}
	r.grace = time.Duration(cfg.GraceMS) * time.Millisecond
	if r.grace <= 0 {
		r.grace = DefaultGrace
	}
	r.mask = newAutomaton(maskPatterns(secretValues(cfg)))
	r.env = append(WithoutTokens(os.Environ()), cfg.Env...)
	r.env = append(r.env, "CI=true", "ODU=1", "ODU_PLATFORM="+cfg.Platform, "ODU_SHA="+cfg.SHA)
	r.wake = make(chan struct{}, 1)
	r.configured = true
	if r.Configured != nil {
		r.Configured(cfg)
	}
	r.srv.SetStore(store)
	if r.cancelled {
		for _, id := range r.order {
			r.cancelLocked(r.nodes[id], "the run was cancelled")
		}
	}
	r.work.Add(1)
	go r.schedule()
	r.kick()
	return nil
}

// sameLane reports whether two configurations are of the same lane.
func sameLane(a, b surface.Config) bool {
	if a.SHA != b.SHA || a.Platform != b.Platform || a.Workspace != b.Workspace || a.LogDir != b.LogDir || len(a.Nodes) != len(b.Nodes) {
		return false
	}
	for i := range a.Nodes {
		if a.Nodes[i].ID != b.Nodes[i].ID || !slices.Equal(a.Nodes[i].Command, b.Nodes[i].Command) {
			return false
		}
	}
	return true
}

func validate(cfg surface.Config) error {
	bad := func(format string, a ...any) error {
		return &surface.Error{Code: surface.CodeInvalidParams, Message: fmt.Sprintf(format, a...)}
	}
	if cfg.Workspace == "" || cfg.LogDir == "" {
		return bad("a workspace and a log directory are required")
	}
	if fi, err := os.Stat(cfg.Workspace); err != nil || !fi.IsDir() {
		return bad("workspace %s is not a directory", cfg.Workspace)
	}
	ids := map[string]bool{}
	for _, n := range cfg.Nodes {
		if n.ID == "" || ids[n.ID] {
			return bad("node id %q is empty or repeated", n.ID)
		}
		if len(n.Command) == 0 && !n.Held {
			return bad("node %s has no command", n.ID)
		}
		ids[n.ID] = true
	}
	for _, n := range cfg.Nodes {
		for _, d := range n.Deps {
			if !ids[d] {
				return bad("node %s depends on %s, which is not in the lane", n.ID, d)
			}
		}
	}
	if err := validateSecrets(cfg); err != nil {
		return bad("%v", err)
	}
	// A runner runs its nodes where it is: on another platform than the
	// lane's, their success would be a false green for the lane's.
	if local := platform.Local(); cfg.Platform != string(local) {
		return bad("this runner runs on %s, not on the lane's platform %q", local, cfg.Platform)
	}
	return nil
}

func (r *Runner) kick() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// schedule starts what can start and skips what never will, whenever
// something changes, until the runner stops.
func (r *Runner) schedule() {
	defer r.work.Done()
	for {
		select {
		case <-r.wake:
		case <-r.ctx.Done():
			return
		}
		r.mu.Lock()
		if !r.stopping {
			r.stepLocked()
		}
		r.mu.Unlock()
	}
}

// stepLocked makes one scheduling pass over the nodes in topological
// order, so that a skip reaches every dependent in the same pass.
func (r *Runner) stepLocked() {
	for _, id := range r.order {
		n := r.nodes[id]
		if n.status != surface.Pending || n.held {
			continue
		}
		ready := true
		for _, d := range n.spec.Deps {
			switch dep := r.nodes[d]; {
			case dep.status == surface.Success:
			case dep.status.Terminal():
				r.setLocked(n, surface.Skipped, func(sn *surface.Node) {
					sn.Reason = d + " did not succeed"
				})
				ready = false
			default:
				ready = false
			}
			if n.status != surface.Pending {
				break
			}
		}
		// A held node is its coordinator's to settle (Settle): once its
		// dependencies succeeded it is running, elsewhere (its shards),
		// and takes no slot here.
		if ready && n.spec.Held {
			now := time.Now()
			r.setLocked(n, surface.Running, func(sn *surface.Node) { sn.Started = &now })
			continue
		}
		if ready && r.running < r.jobs {
			r.startLocked(n)
		}
	}
}

// Settle ends a held node with the status its coordinator gives: a
// sharded recipe's aggregate, whose shards ran on other lanes. A node
// that already ended (skipped, as a dependency failed; cancelled) keeps
// how it ended, and says so.
func (r *Runner) Settle(_ context.Context, p surface.SettleParams) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, ok := r.nodes[p.ID]
	switch {
	case !ok:
		return &surface.Error{Code: surface.CodeInvalidParams, Message: "no node " + p.ID}
	case !n.spec.Held:
		return &surface.Error{Code: surface.CodeRefused, Message: p.ID + " is not held: the runner runs it"}
	case !p.Status.Terminal():
		return &surface.Error{Code: surface.CodeInvalidParams, Message: fmt.Sprintf("%s: %s is not how a node ends", p.ID, p.Status)}
	case n.status.Terminal():
		return &surface.Error{Code: surface.CodeRefused, Message: fmt.Sprintf("%s already ended: %s", p.ID, n.status)}
	}
	log := r.store.Log(p.ID)
	if p.Reason != "" {
		if err := log.Note("%s", p.Reason); err != nil {
			r.Logf("settle %s: %v", p.ID, err)
		}
	}
	now := time.Now()
	r.setLocked(n, p.Status, func(sn *surface.Node) {
		sn.Reason = p.Reason
		sn.LogSize = log.Status().Size // finished by setLocked
		if sn.Started == nil {
			sn.Started = &now
		}
		sn.DurationMS = now.Sub(*sn.Started).Milliseconds()
	})
	r.kick()
	return nil
}

// setLocked records a node's status and publishes it. A node that ends
// without running (skipped, cancelled while pending) has its log finished
// first, as a node that ran does: whoever sees it finished can read its
// whole log, empty as it is.
func (r *Runner) setLocked(n *node, status surface.Status, fn func(*surface.Node)) {
	if status.Terminal() {
		r.store.Log(n.spec.ID).Finish()
	}
	n.status = status
	r.store.UpdateNode(n.spec.ID, func(sn *surface.Node) {
		sn.Status = status
		if fn != nil {
			fn(sn)
		}
	})
}

func (r *Runner) startLocked(n *node) {
	r.running++
	now := time.Now()
	n.stopped, n.reason = "", ""
	stopCh := make(chan struct{})
	var once sync.Once
	n.stop = func() { once.Do(func() { close(stopCh) }) }
	n.exited = make(chan struct{})
	r.setLocked(n, surface.Running, func(sn *surface.Node) {
		sn.Started = &now
		sn.ExitCode, sn.DurationMS, sn.Reason, sn.LogSize = nil, 0, "", 0
	})
	r.work.Add(1)
	go r.run(n, now, stopCh, n.exited)
}

// finish records how a node ended and frees its slot.
func (r *Runner) finish(n *node, started time.Time, res result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running--
	n.stop = nil
	status, reason := res.status, res.reason
	if n.stopped != "" {
		status, reason = n.stopped, n.reason
	}
	if n.held {
		// A rerun stopped it: the rerun resets it, it never finished.
		r.kick()
		return
	}
	r.setLocked(n, status, func(sn *surface.Node) {
		sn.ExitCode = res.exitCode
		sn.DurationMS = time.Since(started).Milliseconds()
		sn.Reason = reason
		sn.LogSize = res.logSize
	})
	r.kick()
}

// shutdown stops every running node and waits for the runner's
// goroutines.
func (r *Runner) shutdown(why string) {
	r.mu.Lock()
	r.stopping = true
	for _, id := range r.order {
		if n := r.nodes[id]; n.stop != nil {
			n.stopped, n.reason = surface.Cancelled, why
			n.stop()
		}
	}
	r.mu.Unlock()
	r.work.Wait()
	if r.store != nil {
		r.store.CloseLogs()
	}
}

// Nodes returns the ids configured, in order; for tests and diagnostics.
func (r *Runner) Nodes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.order)
}
