package lanes

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/odu-ci/odu/lanes/hosts"
	"github.com/odu-ci/odu/lanes/provision"
	"github.com/odu-ci/odu/lanes/sshlink"
	"github.com/odu-ci/odu/platform"
	"github.com/odu-ci/odu/repo"
	"github.com/odu-ci/odu/runner/hostside"
	"github.com/odu-ci/odu/surface"
)

// A lane of a pool leases a slot on one of its hosts before its runner
// starts and the host is provisioned (the lease is held on the host by
// the runner: see runner/hostside/lease.go). It connects to every host of
// the pool, asks each who holds its slots, and tries the hosts with a
// free slot in this order: the fewest slots held first (every host's
// first slot is filled before anyone's second), then the least recently
// leased, then the hosts file's order. When every slot is held, the lane
// waits in line (phase queued, saying who holds each slot) and asks again
// every [leasePoll], until --lease-timeout; with --no-wait it fails at
// once.

// leasePoll is how often a queued lane asks its pool again: a slot freed
// is taken within this (plus one round trip to each host), and a poll
// costs each host one SSH session on a link that is open anyway.
const leasePoll = 250 * time.Millisecond

// DefaultLeaseTimeout is how long a lane waits in line for a slot: an
// hour outlasts a long test suite ahead of it, and ends a wait on a pool
// that something holds for good.
const DefaultLeaseTimeout = time.Hour

// candidate is one host of a lane's pool.
type candidate struct {
	addr  string
	slots int
	order int
	host  *provision.Host // nil for this machine
	warm  bool            // it has the commit's workspace (provision.Host.HasWorkspace)
	info  hostside.Info
	err   error  // it cannot be used: not connected
	said  string // the last error of asking it, said in the setup log once
}

// held counts the candidate's slots held, and says when it was last
// leased.
func (cd *candidate) held() (n int, last time.Time) {
	for _, s := range cd.info.Slots {
		if s.Held {
			n++
		}
		if s.Used.After(last) {
			last = s.Used
		}
	}
	return n, last
}

// BusyError ends a lane whose pool has no free slot, with --no-wait or
// when --lease-timeout passed.
type BusyError struct {
	Platform string
	Holders  string        // who holds the slots
	Waited   time.Duration // 0 with --no-wait
}

func (e *BusyError) Error() string {
	if e.Waited == 0 {
		return fmt.Sprintf("every slot of the %s pool is held (--no-wait): %s", e.Platform, e.Holders)
	}
	return fmt.Sprintf("no slot of the %s pool came free within %s (--lease-timeout): %s", e.Platform, e.Waited, e.Holders)
}

// closeUnchosen closes the connection to every candidate host but the
// one a lane leased (nil: none).
func closeUnchosen(cands []*candidate, chosen *candidate) {
	for _, cd := range cands {
		if cd != chosen && cd.host != nil {
			cd.host.Close()
		}
	}
}

// leaseAndStart leases a slot of the lane's pool and starts its runner
// there. A host that fails to start it (for any reason but its slots
// being taken meanwhile) is out of the pool for this run: the lane tries
// the next. Moving (see move.go), the lane leaves out the hosts it lost,
// and does not wait in line: the hosts it may move to have a free slot,
// or it does not move.
func (l *lane) leaseAndStart(errf *os.File, moving bool) (*provision.Runner, error) {
	c := l.c
	cands := l.connectPool(moving)
	var chosen *candidate
	defer func() { closeUnchosen(cands, chosen) }()
	var usable []*candidate
	var errs []error
	for _, cd := range cands {
		if cd.err != nil {
			errs = append(errs, cd.err)
			if len(cands) > 1 {
				l.say("%s is out of the pool for this run: %v", cd.addr, cd.err)
			}
			continue
		}
		usable = append(usable, cd)
	}
	if len(usable) == 0 {
		if len(errs) == 1 {
			return nil, errs[0]
		}
		return nil, fmt.Errorf("no host of the %s pool could be used: %w", l.platform, errors.Join(errs...))
	}
	holder := hostside.Holder{Who: who(), Repo: c.opts.Root, Commit: c.opts.SHA, Platform: l.platform, Since: time.Now()}
	timeout := c.opts.LeaseTimeout
	if timeout <= 0 {
		timeout = DefaultLeaseTimeout
	}
	start := time.Now()
	queued := ""
	for {
		if !moving && c.isCancelled() {
			return nil, errCancelledUnleased
		}
		l.askSlots(usable)
		free := leaseOrder(usable, len(c.opts.Carry) > 0)
		// A runner of this very lane that holds a slot already (its
		// coordinator died and this one takes over, or --fresh starts it
		// over) is attached to first: it holds its own lease.
		for _, cd := range usable {
			if cd.host != nil && l.holdsOne(cd) && !slices.Contains(free, cd) {
				free = append([]*candidate{cd}, free...)
			}
		}
		for _, cd := range free {
			holder.Since = time.Now()
			st, err := l.tryLease(cd, holder, errf)
			if errors.Is(err, hostside.ErrSlotsBusy) {
				continue // taken since it was asked: the next host, or the next poll
			}
			if err != nil {
				if c.ctx.Err() != nil {
					return nil, err
				}
				// This host could not start the runner (a full disk, a
				// runner of another odu version holding this commit's
				// lane there): the others of the pool may.
				cd.err = err
				errs = append(errs, err)
				if len(cands) > 1 {
					l.say("%s is out of the pool for this run: %v", cd.addr, err)
				}
				continue
			}
			chosen = cd
			if queued != "" {
				l.say("leased a slot of %s after waiting %s in line", cd.addr, time.Since(start).Round(time.Millisecond))
			}
			return st, nil
		}
		usable = slices.DeleteFunc(usable, func(cd *candidate) bool { return cd.err != nil })
		if len(usable) == 0 {
			if len(errs) == 1 {
				return nil, errs[0]
			}
			return nil, fmt.Errorf("no host of the %s pool could be used: %w", l.platform, errors.Join(errs...))
		}
		who := holders(usable)
		if moving {
			return nil, fmt.Errorf("every slot of the other hosts of the %s pool is held: %s", l.platform, who)
		}
		if c.opts.NoWait {
			return nil, &BusyError{Platform: l.platform, Holders: who}
		}
		if waited := time.Since(start); waited >= timeout {
			return nil, &BusyError{Platform: l.platform, Holders: who, Waited: timeout}
		}
		if who != queued {
			queued = who
			l.say("waiting in line: every slot of the pool is held: %s", who)
			l.setLane(surface.PhaseQueued, "every slot is held: "+who)
		}
		select {
		case <-time.After(leasePoll):
		case <-c.runCancel:
		case <-c.ctx.Done():
			return nil, c.ctx.Err()
		}
	}
}

// errCancelledUnleased ends a lane whose run was cancelled before it
// leased a slot (while it waited in line): it starts no runner, and its
// nodes end cancelled at once, not once a slot comes free.
var errCancelledUnleased = errors.New("the run was cancelled before the lane leased a slot of its pool")

// connectPool connects to every host of the lane's pool, in parallel;
// moving, to those it did not lose.
func (l *lane) connectPool(moving bool) []*candidate {
	c := l.c
	var cands []*candidate
	var wg sync.WaitGroup
	for i, h := range l.pool {
		if l.lost[h.Addr] {
			continue
		}
		cd := &candidate{addr: h.Addr, slots: h.Slots, order: i}
		cands = append(cands, cd)
		if h.Addr == hosts.Localhost {
			continue
		}
		wg.Go(func() {
			cd.host, cd.err = provision.Connect(c.ctx, c.provisionRun(), h.Addr, platform.Platform(l.platform),
				sshlink.Env{Home: c.opts.Home, Getenv: c.opts.Getenv}, l.setup, func(p surface.Phase) {
					if len(l.pool) == 1 {
						l.setLane(p, "")
					}
				})
			cd.warm = cd.err == nil && cd.host.HasWorkspace()
		})
	}
	if len(l.pool) > 1 && !moving {
		l.setLane(surface.PhaseConnecting, "")
	}
	wg.Wait()
	return cands
}

// askSlots asks every candidate who holds its slots, in parallel.
func (l *lane) askSlots(cands []*candidate) {
	var wg sync.WaitGroup
	for _, cd := range cands {
		wg.Go(func() {
			if cd.host == nil {
				cd.info = hostside.HostInfo(l.c.localCache(), cd.slots, l.c.opts.Version, false, 0)
				return
			}
			info, err := cd.host.Slots(l.c.ctx, cd.slots, false)
			if err != nil {
				// Not this time: a host that does not answer has no slot
				// to give, and says why in the setup log (once, not at
				// every poll).
				if err.Error() != cd.said {
					cd.said = err.Error()
					l.say("%v", err)
				}
				info = hostside.Info{}
				for n := 1; n <= cd.slots; n++ {
					info.Slots = append(info.Slots, hostside.Slot{N: n, Held: true, By: &hostside.Holder{Who: "(not answering)"}})
				}
			}
			cd.info = info
		})
	}
	wg.Wait()
}

// order returns the candidates with a free slot, in the order to try
// them: the fewest slots held, then the least recently leased, then the
// pool's order. With warm (a rerun after the run: the nodes it carries
// over left their outputs in the workspace of the host they ran on), the
// hosts that have the commit's workspace come first.
func leaseOrder(cands []*candidate, warm bool) []*candidate {
	var free []*candidate
	for _, cd := range cands {
		if n, _ := cd.held(); n < len(cd.info.Slots) {
			free = append(free, cd)
		}
	}
	slices.SortStableFunc(free, func(a, b *candidate) int {
		na, la := a.held()
		nb, lb := b.held()
		w := 0
		if warm && a.warm != b.warm {
			w = 1
			if a.warm {
				w = -1
			}
		}
		return cmp.Or(w, cmp.Compare(na, nb), la.Compare(lb), cmp.Compare(a.order, b.order))
	})
	return free
}

// holdsOne reports whether a runner of this lane (its repository,
// commit and platform) holds a slot of cd.
func (l *lane) holdsOne(cd *candidate) bool {
	for _, s := range cd.info.Slots {
		if h := s.By; s.Held && h != nil && h.Repo == l.c.opts.Root && h.Commit == l.c.opts.SHA && h.Platform == l.platform {
			return true
		}
	}
	return false
}

// tryLease leases a slot of cd and starts the lane's runner there; an
// error that is hostside.ErrSlotsBusy says the slots went meanwhile.
func (l *lane) tryLease(cd *candidate, holder hostside.Holder, errf *os.File) (*provision.Runner, error) {
	c := l.c
	if cd.host == nil {
		f, n, err := hostside.TakeSlot(hostside.SlotsPath(c.localCache()), cd.slots)
		if err != nil {
			return nil, err
		}
		defer f.Close() // the runner has its own descriptor of it
		holder.PID = os.Getpid()
		holder.Version = c.opts.Version
		if err := hostside.WriteHolder(f, holder); err != nil {
			l.say("%v", err)
		}
		l.setHost(hosts.Localhost)
		l.say("leased slot %d of %d on this machine (%s)", n, cd.slots, f.Name())
		return l.startLocal(errf, f)
	}
	l.setHost(cd.addr)
	st, err := cd.host.Start(c.ctx, &provision.Lease{Slots: cd.slots, Holder: holder}, errf)
	return st, err
}

// holders says who holds the candidates' slots, for the queue.
func holders(cands []*candidate) string {
	var parts []string
	for _, cd := range cands {
		for _, s := range cd.info.Slots {
			if !s.Held {
				continue
			}
			by := "someone (not said yet)"
			if h := s.By; h != nil {
				by = h.Who
				var what []string
				if h.Repo != "" {
					what = append(what, h.Repo)
				}
				if h.Commit != "" {
					what = append(what, repo.Short(h.Commit))
				}
				if !h.Since.IsZero() {
					what = append(what, "since "+h.Since.Local().Format("15:04:05"))
				}
				if len(what) > 0 {
					by += " (" + strings.Join(what, ", ") + ")"
				}
			}
			parts = append(parts, fmt.Sprintf("%s slot %d by %s", cd.addr, s.N, by))
		}
	}
	return strings.Join(parts, "; ")
}

// who is user@machine, as a lease names its holder.
func who() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}

// localCache is this machine's cache directory: its slots are there.
func (c *Coordinator) localCache() string {
	getenv := c.opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	home := c.opts.Home
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return hostside.LocalCache(getenv, home)
}
