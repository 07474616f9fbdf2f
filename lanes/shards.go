package lanes

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/odu-ci/odu/dag"
	"github.com/odu-ci/odu/lanes/provision"
	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/runner/hostside"
	"github.com/odu-ci/odu/surface"
)

// Shards. A recipe tagged [metadata("odu:shard=N")] on a platform whose
// pool has more than one slot runs as up to N shards, each on a slot of
// its own: nodes e2e[1/N]@platform … e2e[N/N]@platform (N capped by the
// pool's slots), each with ODU_SHARD_INDEX (0-based) and ODU_SHARD_TOTAL
// (the shards actually started) in its environment.
//
//   - Shard 1 runs on the platform's own lane, after the recipe's
//     dependencies, like any node.
//   - Once that lane leased its slot and its runner started, the other
//     shards lease, one after another, a free slot each without waiting
//     (--no-wait, whatever the run's flag says): odu takes what it can
//     get at that moment. The first shard that finds none ends the
//     leasing: it and the shards after it end skipped, "not started", and
//     ODU_SHARD_TOTAL counts those that started. A shard takes a slot of
//     the lane's own host, or of a host no other shard of the recipe
//     uses: never two shards on another host.
//   - A shard starts once the recipe's dependencies succeeded on the
//     lane (if one did not, the shards end skipped, as the recipe would).
//     On the lane's own host it shares the lane's workspace, where they
//     ran, and runs only the recipe (`just --no-deps`); on another host it
//     runs `just RECIPE`, which runs the dependencies there first, in the
//     shard's own log.
//   - The recipe's own node (the aggregate, e2e@platform) is the one the
//     pipeline has: what comes after it waits for it, GitHub gets its
//     status and no shard's, so branch protection does not change with N.
//     The lane's runner holds it (surface.NodeSpec.Held) until every
//     shard finished; then the coordinator settles it: success when every
//     shard started succeeded, else as the first that did not (failure,
//     then error, cancelled, skipped), naming it.
//
// A shard is a node with a log of its own; its lane (the platform's, or
// one of its own, named after the shard) shows in the lanes' list.

// shardSet is a sharded recipe on one platform.
type shardSet struct {
	agg   *dag.Node
	ids   []string // the shards' ids, 1 to n
	main  *lane    // the platform's lane: it runs shard 1 and holds agg
	lanes []*lane  // the lanes of shards 2 to n
	known chan struct{}
	k     int // shards started; set before known is closed
}

// shardLane is what a shard's own lane knows of its shard.
type shardLane struct {
	set  *shardSet
	n    int       // 2 to len(set.ids)
	turn chan bool // the set says when to lease a slot: true to try, false: not started
	got  chan bool // the lane says whether it leased a slot and started its runner
	host string    // the host it leased a slot of
}

// errNotStarted ends a shard's lane that took no slot.
var errNotStarted = errors.New("shard not started")

// shardName is the name of shard n of total of the node named name.
func shardName(name string, n, total int) string {
	return fmt.Sprintf("%s[%d/%d]", name, n, total)
}

// planShards returns, for each node of the pipeline that is sharded on a
// platform whose pool has more than one slot, its set with the shards'
// ids: as many as the recipe asks, at most the pool's slots.
func planShards(opts Options) map[string]*shardSet {
	sets := map[string]*shardSet{}
	for _, n := range opts.Pipeline.Nodes {
		plat := string(n.Platform)
		if n.Shards < 2 || !opts.Pools[plat].Leased {
			continue
		}
		slots := 0
		for _, h := range poolOf(opts, plat) {
			slots += max(h.Slots, 1)
		}
		total := min(n.Shards, slots)
		if total < 2 {
			continue
		}
		s := &shardSet{agg: n, known: make(chan struct{})}
		for i := 1; i <= total; i++ {
			s.ids = append(s.ids, shardName(n.Name, i, total)+"@"+plat)
		}
		sets[n.ID] = s
	}
	return sets
}

// shardNodes returns the surface nodes of a set's shards.
func (s *shardSet) shardNodes(sha string) []surface.Node {
	var out []surface.Node
	n := s.agg
	for i, id := range s.ids {
		name := strings.TrimSuffix(id, "@"+string(n.Platform))
		out = append(out, surface.Node{
			ID: id, Name: name, Recipe: n.Recipe, Platform: string(n.Platform), Deps: []string{},
			Command: n.Command, Status: surface.Pending, Attempt: 1,
			Log:   runstate.LogRel(sha, string(n.Platform), name),
			Shard: &surface.Shard{Of: n.ID, N: i + 1, Total: len(s.ids)},
		})
	}
	return out
}

// shardNode is the dag node of shard i (0-based) of s.
func (s *shardSet) shardNode(i int) *dag.Node {
	n := *s.agg
	n.ID = s.ids[i]
	n.Name = strings.TrimSuffix(n.ID, "@"+string(n.Platform))
	n.Shards = 0
	if i > 0 {
		n.Deps = []string{} // on a lane of its own
	}
	return &n
}

// addShards gives the platform's lane l the sets of its sharded nodes:
// shard 1 goes on l, before its aggregate; each other shard gets a lane
// of its own, which it returns.
func (c *Coordinator) addShards(l *lane, sets map[string]*shardSet) ([]*lane, error) {
	var extra []*lane
	var nodes []*dag.Node
	for _, n := range l.nodes {
		s := sets[n.ID]
		if s == nil {
			nodes = append(nodes, n)
			continue
		}
		s.main = l
		l.sets = append(l.sets, s)
		first := s.shardNode(0)
		nodes = append(nodes, first, n)
		l.mirrors[first.ID] = &mirror{attempt: 1, moved: make(chan struct{})}
		c.byNode[first.ID] = l
		for i := 1; i < len(s.ids); i++ {
			node := s.shardNode(i)
			sl := &lane{c: c, platform: l.platform, pool: l.pool, leased: true, ready: make(chan struct{}), mirrors: map[string]*mirror{},
				swapped: make(chan struct{}), nodes: []*dag.Node{node},
				shard: &shardLane{set: s, n: i + 1, turn: make(chan bool, 1), got: make(chan bool, 1)}}
			sl.shared = l.shared
			sl.host = l.pool.String()
			sl.mirrors[node.ID] = &mirror{attempt: 1, moved: make(chan struct{})}
			c.byNode[node.ID] = sl
			setup, err := surface.OpenLog(filepath.Join(c.opts.Root, sl.setupRel()))
			if err != nil {
				return nil, err
			}
			sl.setup = setup
			c.store.AddLog(surface.SetupID(sl.name()), setup)
			s.lanes = append(s.lanes, sl)
			extra = append(extra, sl)
		}
	}
	l.nodes = nodes
	return extra, nil
}

// name is the lane's name in the lanes' list: its platform, or for a
// shard's own lane the shard's id.
func (l *lane) name() string {
	if l.shard == nil {
		return l.platform
	}
	return l.nodes[0].ID
}

// setupRel is where the lane's setup narrative is kept, in the run's
// own directory.
func (l *lane) setupRel() string {
	return l.logRel(runstate.RunSetupLogRel(l.c.opts.SHA, l.c.num, l.platform), ".setup.")
}

// runnerRel is where a local runner's diagnostics are kept, in the run's
// own directory; runnerLink is the path README documents, which links the
// newest run's.
func (l *lane) runnerRel() string {
	return l.logRel(runstate.RunRunnerLogRel(l.c.opts.SHA, l.c.num, l.platform), ".runner.")
}

func (l *lane) runnerLink() string {
	return l.logRel(runstate.RunnerLogRel(l.c.opts.SHA, l.platform), ".runner.")
}

// logRel is the platform lane's log at rel, or, for a shard's lane, the
// one named for the shard beside it.
func (l *lane) logRel(rel, prefix string) string {
	if l.shard == nil {
		return rel
	}
	return filepath.Join(filepath.Dir(rel), prefix+surface.LogName(l.nodes[0].Name))
}

// leaseShards gives the set's shards their turns to lease a slot, once
// the platform's lane started its runner, one after another until one
// finds none; then it says how many started.
func (c *Coordinator) leaseShards(s *shardSet) {
	k := 1
	defer func() {
		s.k = k
		close(s.known)
	}()
	try := false
	select {
	case <-s.main.ready:
		// Ready with a client: its runner started (a lane that failed
		// to start closes ready before it records why).
		cl, _ := s.main.current()
		try = cl != nil
	case <-c.ctx.Done():
	}
	for _, sl := range s.lanes {
		if !try {
			sl.shard.turn <- false
			continue
		}
		sl.shard.turn <- true
		select {
		case ok := <-sl.shard.got:
			if ok {
				k++
			} else {
				try = false
			}
		case <-c.ctx.Done():
			try = false
		}
	}
}

// startShard starts the runner of a shard's own lane, when its turn
// comes, on a free slot; errNotStarted when there is none.
func (l *lane) startShard(errf *os.File) (*provision.Runner, error) {
	sh := l.shard
	// Dial the pool's hosts once the platform's lane has its runner (it
	// pushed odu's runner to every host of the pool: the shards find it
	// there rather than push it again, four times over), all shards at
	// once, while the ones before take their slots.
	select {
	case <-sh.set.main.ready:
	case <-l.c.ctx.Done():
		return nil, l.c.ctx.Err()
	}
	cands := l.connectPool(false)
	var try bool
	select {
	case try = <-sh.turn:
	case <-l.c.ctx.Done():
	}
	if !try {
		for _, cd := range cands {
			if cd.host != nil {
				cd.host.Close()
			}
		}
		if err := l.c.ctx.Err(); err != nil {
			return nil, err
		}
		return nil, errNotStarted
	}
	st, err := l.leaseShard(cands, errf)
	sh.got <- err == nil
	if err != nil {
		l.say("not started: %v", err)
		return nil, errNotStarted
	}
	return st, nil
}

// errNoFreeSlot says a shard found no slot it may take.
var errNoFreeSlot = errors.New("no free slot in the pool for it (a shard takes a slot of the lane's own host, or of a host no other shard uses)")

// leaseShard leases a free slot for a shard on one of cands (the pool,
// connected), without waiting, and starts its runner there.
func (l *lane) leaseShard(cands []*candidate, errf *os.File) (*provision.Runner, error) {
	c, sh := l.c, l.shard
	var chosen *candidate
	defer func() { closeUnchosen(cands, chosen) }()
	var usable []*candidate
	for _, cd := range cands {
		if cd.err == nil {
			usable = append(usable, cd)
		}
	}
	l.askSlots(usable)
	mainHost := sh.set.main.addr()
	for _, cd := range leaseOrder(usable, false) {
		if cd.addr != mainHost && slices.ContainsFunc(sh.set.lanes, func(o *lane) bool { return o != l && o.shard.host == cd.addr }) {
			continue
		}
		holder := hostside.Holder{Who: who(), Repo: c.opts.Root, Commit: c.opts.SHA, Platform: l.platform, Since: time.Now()}
		var st *provision.Runner
		var err error
		if cd.host == nil {
			st, err = l.tryLease(cd, holder, errf)
		} else {
			l.setHost(cd.addr)
			st, err = cd.host.Start(c.ctx, &provision.Lease{Slots: cd.slots, Holder: holder, Lane: l.laneDir()}, errf)
		}
		if errors.Is(err, hostside.ErrSlotsBusy) {
			continue
		}
		if err != nil {
			return nil, err
		}
		chosen = cd
		sh.host = cd.addr
		return st, nil
	}
	return nil, errNoFreeSlot
}

// laneDir names a shard's lane directory on its host, beside its
// platform's.
func (l *lane) laneDir() string {
	return l.platform + ".shard-" + strconv.Itoa(l.shard.n)
}

// awaitShards waits, before the lane configures its runner, until its
// sets know how many shards started; a shard's own lane also waits for
// the recipe's dependencies on the platform's lane, and reports false
// (its node ended) when one did not succeed or the run ends.
func (l *lane) awaitShards() bool {
	c := l.c
	for _, s := range l.sets {
		select {
		case <-s.known:
		case <-c.ctx.Done():
			return false
		}
	}
	sh := l.shard
	if sh == nil {
		return true
	}
	select {
	case <-sh.set.known:
	case <-c.ctx.Done():
		return false
	}
	if why, ok := c.awaitNodes(sh.set.agg.Deps, false); !ok {
		if why != "" {
			l.say("not started: %s", why)
			l.endShard(surface.Skipped, why)
		}
		return false
	}
	return true
}

// endShard ends the lane's shard, which did not run, with status.
func (l *lane) endShard(status surface.Status, why string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range l.nodes {
		l.mirrors[n.ID].final = true
		if cur, _ := l.c.store.Node(n.ID); !cur.Status.Terminal() {
			l.c.endNode(n.ID, status, why, why)
		}
	}
}

// notStarted ends a shard that took no slot, once its set knows how
// many did.
func (l *lane) notStarted() {
	s := l.shard.set
	select {
	case <-s.known:
	case <-l.c.ctx.Done():
		return
	}
	why := fmt.Sprintf("not started: %d of %d shards found a free slot in the %s pool", s.k, len(s.ids), l.platform)
	l.mu.Lock()
	l.failed = true
	l.mu.Unlock()
	l.setLane(surface.PhaseDone, why)
	l.endShard(surface.Skipped, why)
}

// awaitNodes waits until every node of ids finished (with all, or only
// until one did not succeed), and reports whether all succeeded, or
// which did not.
func (c *Coordinator) awaitNodes(ids []string, all bool) (string, bool) {
	var seq uint64
	for first := true; ; first = false {
		if first {
			seq = c.store.Snapshot().Seq
		}
		bad, open := "", false
		for _, id := range ids {
			n, _ := c.store.Node(id)
			switch {
			case n.Status == surface.Success:
			case n.Status.Terminal():
				if bad == "" {
					bad = fmt.Sprintf("%s did not succeed (%s)", id, n.Status)
				}
			default:
				open = true
			}
		}
		if !open || (bad != "" && !all) {
			return bad, bad == ""
		}
		deltas, reset, wait, closed := c.store.Since(seq)
		if closed {
			return "", false
		}
		if reset != nil {
			seq = reset.Seq
			continue
		}
		if len(deltas) > 0 {
			seq = deltas[len(deltas)-1].Seq
			continue
		}
		select {
		case <-wait:
		case <-c.ctx.Done():
			return "", false
		}
	}
}

// settleShards settles the set's aggregate on the platform's lane once
// every shard finished.
func (c *Coordinator) settleShards(s *shardSet) {
	select {
	case <-s.known:
	case <-c.ctx.Done():
		return
	}
	c.awaitNodes(s.ids, true)
	status, reason := surface.Success, ""
	for _, want := range []surface.Status{surface.Failure, surface.Errored, surface.Cancelled, surface.Skipped} {
		for _, id := range s.ids[:s.k] {
			if n, _ := c.store.Node(id); n.Status == want && reason == "" {
				status, reason = want, fmt.Sprintf("shard %s: %s", id, want)
				if n.Reason != "" {
					reason += " (" + n.Reason + ")"
				}
			}
		}
	}
	if status == surface.Success {
		reason = fmt.Sprintf("%d of %d shards ran, every one succeeded: %s", s.k, len(s.ids), strings.Join(s.ids[:s.k], ", "))
	}
	for {
		cl, swapped := s.main.current()
		if cl == nil {
			return // the lane is over: it ended the aggregate, as it ended
		}
		err := cl.Settle(c.ctx, s.agg.ID, status, reason)
		var serr *surface.Error
		if err == nil || errors.As(err, &serr) {
			return // settled, or it had ended already (a dependency failed)
		}
		if !s.main.waitSwap(swapped) {
			return
		}
	}
}

// spec is node n as the lane's runner is given it.
func (l *lane) spec(n *dag.Node) surface.NodeSpec {
	sp := surface.NodeSpec{ID: n.ID, Name: n.Name, Recipe: n.Recipe, Deps: n.Deps, Command: n.Command}
	for _, s := range l.sets {
		if s.agg.ID == n.ID {
			sp.Held = true // its command is not run: the shards run it
			return sp
		}
		if s.ids[0] == n.ID {
			sp.Command = shardCommand(n.Command, 0, s.k, true)
			return sp
		}
	}
	if sh := l.shard; sh != nil {
		sp.Command = shardCommand(n.Command, sh.n-1, sh.set.k, sh.host == sh.set.main.addr())
		return sp
	}
	if n.Shards > 0 {
		// Sharded, on a platform with one slot: one shard.
		sp.Command = shardCommand(n.Command, 0, 1, true)
	}
	return sp
}

// shardCommand is a shard's command: the recipe's, with the shard's
// index and the shards' total in its environment, and without
// --no-deps on a host where the dependencies have not run.
func shardCommand(argv []string, index, total int, noDeps bool) []string {
	out := []string{"env", "ODU_SHARD_INDEX=" + strconv.Itoa(index), "ODU_SHARD_TOTAL=" + strconv.Itoa(total)}
	for _, a := range argv {
		if a == "--no-deps" && !noDeps {
			continue
		}
		out = append(out, a)
	}
	return out
}

// shardRerun refuses a rerun that would reach a sharded recipe: its
// shards run on lanes of their own, which a rerun on one lane cannot
// reset together.
func (c *Coordinator) shardRerun(id string) error {
	if n, ok := c.store.Node(id); ok && n.Shard != nil {
		return &surface.Error{Code: surface.CodeRefused, Message: id + " is a shard of " + n.Shard.Of + ": shards are not rerun one by one yet; start a new run with `odu run`"}
	}
	reach := map[string]bool{id: true}
	for _, n := range c.opts.Pipeline.Nodes {
		for _, d := range n.Deps {
			if reach[d] {
				reach[n.ID] = true
			}
		}
		if reach[n.ID] && len(c.shardSetOf(n.ID)) > 0 {
			return &surface.Error{Code: surface.CodeRefused, Message: "rerunning " + id + " would rerun " + n.ID + ", which runs as shards on several lanes: not supported yet; start a new run with `odu run`"}
		}
	}
	return nil
}

// shardSetOf returns the set whose aggregate is id, if any (as a slice:
// none or one).
func (c *Coordinator) shardSetOf(id string) []*shardSet {
	for _, l := range c.lanes {
		for _, s := range l.sets {
			if s.agg.ID == id {
				return []*shardSet{s}
			}
		}
	}
	return nil
}
