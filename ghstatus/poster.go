package ghstatus

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/url"
	"sort"
	"sync"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/odu-ci/odu/surface"
)

// workers is how many statuses are posted at once. GitHub's secondary
// rate limit counts concurrent requests and asks clients to keep writes
// few; four keep a wide pipeline's statuses current without coming near
// it.
const workers = 4

// requestTimeout bounds one request: GitHub answers a status in well
// under a second; one that takes this long is retried.
const requestTimeout = 20 * time.Second

// Backoff after failures that may pass (5xx, timeouts): doubling from
// backoffBase up to backoffMax, with jitter so that several odu runs do
// not retry in step.
const (
	backoffBase = time.Second
	backoffMax  = 30 * time.Second
)

// Options configure a [Poster].
type Options struct {
	Client *github.Client
	Target Target
	SHA    string
	// Logf says something to the user, once per event worth saying (the
	// poster stopping for the run); nil says nothing.
	Logf func(format string, args ...any)
	// OnChange is told every change of a context's posting state, in
	// order, for the surface (store.SetPost). It must not block.
	OnChange func(id string, p surface.PostState)
}

// Owed is a status that never reached GitHub.
type Owed struct {
	ID       string // the context: the node id
	Status   Status
	Attempts int
	Error    string
}

// statusContext is what the poster knows of one status context.
type statusContext struct {
	want     Status // the status the context should have now
	wantSet  bool
	have     Status // what GitHub has: read at start, or last posted
	haveSet  bool
	inflight bool
	queued   bool
	attempts int    // failed requests since the last status GitHub took
	err      string // why the last one failed
	dropped  bool   // GitHub refused want: not tried again until it changes
}

// satisfied reports whether GitHub has what the context should have. A
// node still waiting posts "Waiting" only on a context GitHub shows
// nothing for: one it shows (a run of the same commit before) is left as
// it is until the node starts.
func (c *statusContext) satisfied() bool {
	return !c.wantSet || c.haveSet && (c.want == c.have || c.want == Waiting)
}

// Poster posts a run's commit statuses; see the package doc. Make one
// with [NewPoster], start it with [Poster.Start], end it with
// [Poster.Flush].
type Poster struct {
	opts Options

	mu         sync.Mutex
	ctxs       map[string]*statusContext
	order      []string // contexts by first appearance, for reports
	queue      []string // contexts to post, oldest first
	changed    chan struct{}
	ready      bool      // the SHA's statuses were read
	pauseUntil time.Time // no request before
	failures   int       // transient failures in a row
	stopped    string    // why posting stopped for the run; "" while it goes on
	final      bool      // Flush has the run's final nodes: no later Update
	interrupt  bool      // the run was interrupted: what it cancels is "Interrupted"

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewPoster makes a poster.
func NewPoster(opts Options) *Poster {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if opts.OnChange == nil {
		opts.OnChange = func(string, surface.PostState) {}
	}
	return &Poster{opts: opts, ctxs: map[string]*statusContext{}, changed: make(chan struct{})}
}

// Start reads the SHA's statuses and starts posting, until ctx ends or
// [Poster.Flush] returns.
func (p *Poster) Start(ctx context.Context) {
	ctx, p.cancel = context.WithCancel(ctx)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.readExisting(ctx)
		for range workers {
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.work(ctx)
			}()
		}
	}()
}

// readExisting learns the latest status of every context of the SHA, so
// that none is posted again. It tries a few times; without them, the
// poster posts every status, which is correct, only less quiet.
func (p *Poster) readExisting(ctx context.Context) {
	defer func() {
		p.mu.Lock()
		p.ready = true
		p.broadcastLocked()
		p.mu.Unlock()
	}()
	for try := 0; try < 3; try++ {
		have, err := p.latest(ctx)
		if err == nil {
			p.mu.Lock()
			for id, st := range have {
				c := p.ctxLocked(id)
				c.have, c.haveSet = st, true
			}
			for _, id := range p.order {
				p.enqueueLocked(id)
				p.publishLocked(id)
			}
			p.mu.Unlock()
			return
		}
		out := classify(err, p.opts.Target, p.opts.SHA)
		if out.v == stop {
			p.mu.Lock()
			p.stopLocked(out.reason)
			p.mu.Unlock()
			return
		}
		switch out.v {
		case wait:
			// A rate limit: nothing may be posted before it ends either,
			// and what GitHub has must be known before posting over it.
			p.mu.Lock()
			if out.until.After(p.pauseUntil) {
				p.pauseUntil = out.until
			}
			p.mu.Unlock()
			if !sleep(ctx, time.Until(out.until)) {
				return
			}
		case retry:
			if !sleep(ctx, backoff(try)) {
				return
			}
		default:
			return
		}
	}
}

// latest reads the combined status of the SHA, page by page: the latest
// status of each context.
func (p *Poster) latest(ctx context.Context) (map[string]Status, error) {
	t := p.opts.Target
	out := map[string]Status{}
	opts := &github.ListOptions{PerPage: 100}
	for {
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		cs, resp, err := p.opts.Client.Repositories.GetCombinedStatus(rctx, t.Owner, t.Repo, p.opts.SHA, opts)
		cancel()
		if err != nil {
			var er *github.ErrorResponse
			if errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == 422 {
				// An unpushed commit: every post will say so, and stop.
				return out, nil
			}
			return nil, err
		}
		for _, s := range cs.Statuses {
			out[s.GetContext()] = Status{s.GetState(), s.GetDescription()}
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// Update records a node's state: the status its context should have.
// It never blocks on GitHub.
func (p *Poster) Update(n surface.Node) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.final {
		// A follower that lags behind the run's end brings news older
		// than the final nodes Flush took: posting it would take a
		// verdict back on GitHub ("Running" after "Succeeded").
		return
	}
	p.updateLocked(n)
}

func (p *Poster) updateLocked(n surface.Node) {
	if n.Carried != "" || n.Shard != nil {
		// Carried over from an earlier run, which posted it: GitHub's
		// status is left as it is. A shard is part of its aggregate,
		// which has the one status GitHub gets: branch protection does
		// not change with the number of shards.
		return
	}
	st, ok := Describe(n)
	if !ok {
		if n.Status != surface.Pending {
			return
		}
		st = Waiting
	}
	if n.Status == surface.Cancelled && p.interrupt {
		// The interrupt stopped a node the run had not finished
		// (running or waiting): not one cancelled before it.
		if c := p.ctxs[n.ID]; c == nil || !c.wantSet || c.want.State == "pending" || c.want == Interrupted {
			if c != nil && c.want == Waiting && c.haveSet && c.have.State != "pending" {
				return // GitHub shows an earlier run's verdict: leave it
			}
			st = Interrupted
		}
	}
	p.wantLocked(n.ID, st)
}

// Interrupt says the run was interrupted (Ctrl-C): from now on a node
// it stops, which ends cancelled, is posted "Interrupted", as
// [Poster.Flush] posts one still pending.
func (p *Poster) Interrupt() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.interrupt = true
}

func (p *Poster) wantLocked(id string, st Status) {
	c := p.ctxLocked(id)
	if c.wantSet && c.want == st {
		return
	}
	c.want, c.wantSet = st, true
	c.dropped = false // attempts and err go on: they say how GitHub answers
	p.enqueueLocked(id)
	p.publishLocked(id)
	p.broadcastLocked()
}

func (p *Poster) ctxLocked(id string) *statusContext {
	c := p.ctxs[id]
	if c == nil {
		c = &statusContext{}
		p.ctxs[id] = c
		p.order = append(p.order, id)
	}
	return c
}

func (p *Poster) enqueueLocked(id string) {
	c := p.ctxs[id]
	if !c.queued && !c.inflight && !c.satisfied() {
		c.queued = true
		p.queue = append(p.queue, id)
	}
}

// publishLocked tells OnChange a context's posting state.
func (p *Poster) publishLocked(id string) {
	c := p.ctxs[id]
	if !c.wantSet {
		return
	}
	ps := surface.PostState{State: c.want.State, Description: c.want.Description, Attempts: c.attempts, Error: c.err}
	if c.satisfied() {
		ps = surface.PostState{State: c.have.State, Description: c.have.Description, Posted: true}
	}
	p.opts.OnChange(id, ps)
}

func (p *Poster) broadcastLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *Poster) stopLocked(reason string) {
	if p.stopped != "" {
		return
	}
	p.stopped = reason
	p.opts.Logf("odu: statuses are off for the rest of the run: %s", reason)
	for _, id := range p.order {
		if c := p.ctxs[id]; !c.satisfied() {
			c.err = reason
			p.publishLocked(id)
		}
	}
	p.broadcastLocked()
}

// Follow feeds the poster from a surface cell until the run ends.
func (p *Poster) Follow(ctx context.Context, w *surface.Watch) error {
	for {
		ev, err := w.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		for n := range ev.Nodes() {
			p.Update(n)
		}
	}
}

// work posts statuses until ctx ends.
func (p *Poster) work(ctx context.Context) {
	for {
		p.mu.Lock()
		id, st, wake, delay := p.nextLocked()
		p.mu.Unlock()
		if id == "" {
			if !waitFor(ctx, wake, delay) {
				return
			}
			continue
		}
		p.post(ctx, id, st)
	}
}

// nextLocked takes the next context to post and marks it in flight; with
// none, it returns what to wait for.
func (p *Poster) nextLocked() (id string, st Status, wake <-chan struct{}, delay time.Duration) {
	wake = p.changed
	if !p.ready || p.stopped != "" {
		return "", Status{}, wake, 0
	}
	if d := time.Until(p.pauseUntil); d > 0 {
		return "", Status{}, wake, d
	}
	for len(p.queue) > 0 {
		id, p.queue = p.queue[0], p.queue[1:]
		c := p.ctxs[id]
		c.queued = false
		if c.satisfied() || c.dropped || c.inflight {
			continue
		}
		c.inflight = true
		return id, c.want, nil, 0
	}
	return "", Status{}, wake, 0
}

// post sends one status and records how it went.
func (p *Poster) post(ctx context.Context, id string, st Status) {
	t := p.opts.Target
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	_, _, err := p.opts.Client.Repositories.CreateStatus(rctx, t.Owner, t.Repo, p.opts.SHA, &github.RepoStatus{
		State: github.String(st.State), Description: github.String(st.Description), Context: github.String(id),
	})
	cancel()

	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.broadcastLocked()
	c := p.ctxs[id]
	c.inflight = false
	if err == nil {
		p.failures = 0
		c.have, c.haveSet = st, true
		c.attempts, c.err = 0, ""
		p.enqueueLocked(id) // a newer state came meanwhile
		p.publishLocked(id)
		return
	}
	if ctx.Err() != nil {
		c.attempts++
		c.err = "no answer before the deadline to post"
		p.publishLocked(id)
		return
	}
	out := classify(err, t, p.opts.SHA)
	c.attempts++
	c.err = out.reason
	switch out.v {
	case stop:
		p.stopLocked(out.reason)
		return
	case drop:
		if c.want == st {
			c.dropped = true
		}
	case wait:
		if out.until.After(p.pauseUntil) {
			p.pauseUntil = out.until
		}
	case retry:
		if until := time.Now().Add(backoff(p.failures)); until.After(p.pauseUntil) {
			p.pauseUntil = until
		}
		p.failures++
	}
	p.enqueueLocked(id)
	p.publishLocked(id)
}

// backoff is the pause after n failures in a row.
func backoff(n int) time.Duration {
	d := backoffBase << min(n, 5)
	d = min(d, backoffMax)
	return d/2 + rand.N(d/2+1)
}

// Flush ends the poster: it takes the run's final nodes, on interrupted
// turns every status still pending, and every node the interrupt
// cancelled (see [Poster.Interrupt]), into "Interrupted", waits until
// GitHub has every status or ctx ends, stops posting, and returns what
// never reached GitHub, in the order the contexts first appeared.
func (p *Poster) Flush(ctx context.Context, final []surface.Node, interrupted bool) []Owed {
	p.mu.Lock()
	p.final = true
	p.interrupt = p.interrupt || interrupted
	for _, n := range final {
		p.updateLocked(n)
	}
	if interrupted {
		for _, id := range p.order {
			if c := p.ctxs[id]; c.wantSet && c.want.State == "pending" {
				if c.want == Waiting && c.haveSet && c.have.State != "pending" {
					continue // GitHub shows an earlier run's verdict: leave it
				}
				p.wantLocked(id, Interrupted)
			}
		}
	}
	p.mu.Unlock()
	for {
		p.mu.Lock()
		done := p.stopped != ""
		if !done {
			done = true
			for _, c := range p.ctxs {
				if !c.satisfied() && !c.dropped {
					done = false
				}
			}
		}
		wake := p.changed
		p.mu.Unlock()
		if done || !waitFor(ctx, wake, 0) {
			break
		}
	}
	if p.cancel != nil {
		p.cancel()
	}
	p.wg.Wait()

	p.mu.Lock()
	defer p.mu.Unlock()
	var owed []Owed
	for _, id := range p.order {
		c := p.ctxs[id]
		if c.satisfied() {
			continue
		}
		if c.err == "" {
			c.err = "not posted before the deadline"
			if p.stopped != "" {
				c.err = p.stopped
			}
			p.publishLocked(id)
		}
		owed = append(owed, Owed{ID: id, Status: c.want, Attempts: c.attempts, Error: c.err})
	}
	return owed
}

// Stopped returns why posting stopped for the run, or "".
func (p *Poster) Stopped() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopped
}

// Posted returns the contexts GitHub has the wanted status of, sorted.
func (p *Poster) Posted() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for id, c := range p.ctxs {
		if c.wantSet && c.satisfied() {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// waitFor waits for wake or delay (0: no limit); false when ctx ended.
func waitFor(ctx context.Context, wake <-chan struct{}, delay time.Duration) bool {
	var timer <-chan time.Time
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-wake:
	case <-timer:
	case <-ctx.Done():
		return false
	}
	return true
}

func sleep(ctx context.Context, d time.Duration) bool { return waitFor(ctx, nil, d) }

// urlError unwraps a transport error to what went wrong, without the
// request's URL.
func urlError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
