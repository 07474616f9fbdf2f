package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/odu-ci/odu/internal/say"
	"github.com/odu-ci/odu/lanes/sshlink"
	"github.com/odu-ci/odu/platform"
	"github.com/odu-ci/odu/repo"
	"github.com/odu-ci/odu/runner/hostside"
	"github.com/odu-ci/odu/surface"
)

// remoteLane is what provisioning needs from the coordinator.
type remoteLane struct {
	addr     string
	platform platform.Platform
	env      sshlink.Env
	run      *Run
	setup    io.Writer // the narrative
	say      say.Func  // a line of it
	// watchers close the runner's client when its link ends, one per
	// attach: the runner's end waits for them.
	watchers sync.WaitGroup
	phase    func(surface.Phase) // where it is
}

// Host is a build host connected and probed, odu's runner binary on it:
// a lane of a pool connects to each of its hosts, asks them who holds
// their slots ([Host.Slots]), and starts its runner on the one it leases
// a slot of ([Host.Start]); the others it closes.
type Host struct {
	r     *remoteLane
	l     *sshlink.Link
	p     *probe
	files localFiles
	bin   string
}

// Connect dials the build host at addr for platform, probes it and
// pushes odu's runner to it unless it has it: everything that comes
// before a lease (the runner binary, content-addressed, is what takes
// the lease on the host). setup is the lane's setup narrative; phase
// hears where it is.
func Connect(ctx context.Context, run *Run, addr string, plat platform.Platform, ssh sshlink.Env,
	setup io.Writer, phase func(surface.Phase)) (*Host, error) {
	r := &remoteLane{addr: addr, platform: plat, env: ssh, run: run, setup: setup, say: say.To(setup, "15:04:05.000"), phase: phase}
	return r.connect(ctx)
}

// Addr is the host's address, as the pool names it.
func (h *Host) Addr() string { return h.r.addr }

// HasWorkspace reports whether the host has the commit's workspace
// checked out already (an earlier run of the commit ran there, and left
// its outputs).
func (h *Host) HasWorkspace() bool { return h.p.wsReady }

// Close closes the link to a host the lane does not use.
func (h *Host) Close() { h.l.Close(errors.New("the lane runs on another host")) }

// Lease is what a lane's runner takes on its host before it starts: one
// of Slots slots, which Holder holds.
type Lease struct {
	Slots  int
	Holder hostside.Holder
	// Lane names the lane's directory in the workspace when it is not
	// the platform's: a shard's lane, beside its platform's own lane on
	// the same host (its runner, socket and logs are its own).
	Lane string
}

// Slots asks the host who holds its slots (of slots), and with du, how
// much disk odu's cache there uses.
func (h *Host) Slots(ctx context.Context, slots int, du bool) (hostside.Info, error) {
	cmd := sshlink.Quote(h.bin) + " runner --slots " + sshlink.Quote(h.p.cache) + " --count " + strconv.Itoa(max(slots, 1))
	if du {
		cmd += " --du"
	}
	var in hostside.Info
	// The command takes no context: when ctx ends, the lane is over, and
	// the link is closed under it.
	stop := context.AfterFunc(ctx, func() { h.l.Close(ctx.Err()) })
	defer stop()
	out, err := h.l.Run(cmd, nil)
	if err != nil {
		return in, &sshlink.HostError{Addr: h.r.addr, Err: fmt.Errorf("ask who holds its slots: %w", err)}
	}
	if err := json.Unmarshal([]byte(out), &in); err != nil {
		return in, &sshlink.HostError{Addr: h.r.addr, Err: fmt.Errorf("ask who holds its slots: unexpected answer %q", out)}
	}
	return in, nil
}

// start provisions the host and starts its runner (Remote).
func (r *remoteLane) start(ctx context.Context, runnerErr io.Writer) (*Runner, error) {
	h, err := r.connect(ctx)
	if err != nil {
		return nil, err
	}
	st, err := h.Start(ctx, nil, runnerErr)
	if err != nil {
		h.l.Close(errors.New("provisioning failed"))
	}
	return st, err
}

// connect dials the host, probes it and pushes the runner. A host that
// has everything (a warm start) costs the handshake and one probe: what
// odu would send is prepared while the link comes up, and the probe
// answers every question at once.
func (r *remoteLane) connect(ctx context.Context) (*Host, error) {
	r.phase(surface.PhaseConnecting)
	r.say("connecting to %s", r.addr)
	prepared := make(chan localFiles, 1)
	pctx, cancel := context.WithCancel(ctx)
	var preparing sync.WaitGroup
	defer func() {
		cancel()
		preparing.Wait()
	}()
	preparing.Go(func() { prepared <- r.prepare(pctx) })
	l, err := r.env.Dial(ctx, r.addr, func(note string) { r.say("note: %s", note) })
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			l.Close(errors.New("provisioning failed"))
		}
	}()
	r.say("connected to %s@%s:%d", l.Target.User, l.Target.HostName, l.Target.Port)
	var files localFiles
	select {
	case files = <-prepared:
	default:
		// Still preparing (cross-compiling a runner): first make sure the
		// host is of the lane's platform, rather than build for nothing.
		if err := r.checkPlatform(l); err != nil {
			return nil, err
		}
		files = <-prepared
	}
	if files.err != nil {
		return nil, &sshlink.HostError{Addr: r.addr, Err: files.err}
	}
	p, err := r.probe(l, files)
	if err != nil {
		return nil, err
	}
	if p.just == "" && r.platform != platform.Local() {
		return nil, errNoJust(r.addr) // before anything is pushed
	}
	r.phase(surface.PhasePushing)
	bin := hostside.BinPath(p.cache, files.runnerName)
	if p.hasRunner {
		r.say("the runner already on the host: %s", bin)
	} else if err := r.upload(l, files.runner, files.runnerSum, bin, "the runner"); err != nil {
		return nil, err
	}
	ok = true
	return &Host{r: r, l: l, p: p, files: files, bin: bin}, nil
}

// Start starts the lane's runner on the host (or re-attaches to the one
// that runs this commit's lane there), first taking lease, when not nil:
// when every slot is held, it returns an error that is
// hostside.ErrSlotsBusy and the link stays open, to try again. Then it
// provisions the rest: just, when the host has none, and the commit.
// runnerErr gets the runner session's stderr. On any other error, the
// link is the caller's to close.
func (h *Host) Start(ctx context.Context, lease *Lease, runnerErr io.Writer) (*Runner, error) {
	r, l, p, files, bin := h.r, h.l, h.p, h.files, h.bin
	ws := hostside.WorkspacePath(p.cache, files.repo, files.workspace)
	laneName := string(r.platform)
	if lease != nil && lease.Lane != "" {
		laneName = lease.Lane
	}
	laneDir := hostside.LaneDir(ws, laneName)
	att := &attachment{l: l}
	cl, err := r.attach(ctx, att, bin, laneDir, runnerErr, false, lease, p.cache)
	if err != nil {
		return nil, err
	}
	if lease != nil {
		r.say("leased a slot of %s (it has %d): its runner holds it for its life", r.addr, max(lease.Slots, 1))
	}
	started := false
	defer func() {
		if !started {
			// The runner holds the lease: told to exit, it lets go of it
			// now rather than after its idle bound.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = cl.Exit(ctx)
			cancel()
			cl.Close()
			att.wait(5 * time.Second)
		}
	}()
	// odu sends no Git LFS objects: the workspace on a host has the
	// pointer files, and the lane says so rather than leave a recipe to
	// find out.
	if files.lfs {
		r.say("note: the commit stores files with Git LFS; odu sends no LFS objects, so the workspace has their pointer files")
		if n := r.run.Notef; n != nil {
			n("the commit stores files with Git LFS: the %s lane's workspace on %s has their pointer files, not their content (odu sends no LFS objects to build hosts)", r.platform, r.addr)
		}
	}
	env := []string{}
	if p.just == "" {
		dir, err := r.pushJust(l, p)
		if err != nil {
			return nil, err
		}
		env = append(env, "PATH="+dir+":"+p.path)
	}
	r.phase(surface.PhaseSource)
	if p.wsReady {
		r.say("commit %s already on the host; workspace reused: %s", repo.Short(r.run.SHA), ws)
	} else if err := r.sendSource(ctx, l, p, files, ws); err != nil {
		return nil, err
	}
	started = true
	return &Runner{
		Client: cl, Workspace: ws, LogDir: laneDir, Env: env, Detached: true,
		lost: att.err,
		redial: func(ctx context.Context) (*surface.Client, error) {
			nl, err := r.env.Dial(ctx, r.addr, func(note string) { r.say("note: %s", note) })
			if err != nil {
				return nil, err
			}
			next := &attachment{l: nl}
			cl, err := r.attach(ctx, next, bin, laneDir, runnerErr, true, nil, p.cache)
			if err != nil {
				nl.Close(err)
				return nil, err
			}
			att.swap(next)
			return cl, nil
		},
		end: func(cl *surface.Client, exit bool, wait time.Duration) {
			// The run is over: the runner exits now rather than wait out
			// its idle bound. A runner that cannot be told (the link is
			// gone) exits by itself after that bound.
			if exit {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_ = cl.Exit(ctx) // a runner not told exits after its idle bound
				cancel()
			}
			cl.Close() // the bridge's stdin closes: it exits
			att.wait(wait)
			att.close(errors.New("the run is over"))
			r.watchers.Wait()
		},
	}, nil
}

// ErrRunnerGone reports a host whose runner is no longer there when the
// coordinator dials it again: it exited (its idle bound passed, or it was
// killed), so its nodes' state is lost with it.
var ErrRunnerGone = errors.New("the runner is no longer running on the host")

// attachment is the link to a host and the session that bridges to its
// runner; a reconnect replaces both.
type attachment struct {
	mu sync.Mutex
	l  *sshlink.Link
	s  *ssh.Session
}

func (a *attachment) swap(b *attachment) {
	a.mu.Lock()
	old := a.l
	a.l, a.s = b.l, b.s
	a.mu.Unlock()
	old.Close(errors.New("replaced by a new link"))
}

// err says why the current link ended, if it did.
func (a *attachment) err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.l.Err()
}

func (a *attachment) close(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.l.Close(err)
}

// wait waits at most d for the session to end.
func (a *attachment) wait(d time.Duration) {
	a.mu.Lock()
	s := a.s
	a.mu.Unlock()
	if s == nil {
		return
	}
	done := make(chan struct{})
	go func() {
		_ = s.Wait() // how the session ended is the link's to say (Lost)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// attach opens a session on a's link that runs `odu runner --attach`:
// the lane's detached runner (started if none runs, unless existing: a
// reconnect must find the runner it left), bridged to the session's
// stdio. It sets a.s, and returns a client of the runner.
func (r *remoteLane) attach(ctx context.Context, a *attachment, bin, laneDir string, stderr io.Writer, existing bool, lease *Lease, cache string) (*surface.Client, error) {
	l := a.l
	s, err := l.NewSession()
	if err != nil {
		return nil, &sshlink.HostError{Addr: r.addr, Err: fmt.Errorf("open a session for the runner: %w", err)}
	}
	stdin, err := s.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := s.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s.Stderr = &sweepLines{w: stderr, say: r.say}
	cmd := "exec " + sshlink.Quote(bin) + " runner --attach " + sshlink.Quote(laneDir)
	o := r.run
	switch {
	case existing:
		cmd += " --existing"
	case o.Fresh:
		cmd += " --fresh"
	}
	if o.RunnerIdle > 0 {
		cmd += " --idle " + o.RunnerIdle.String()
	}
	if o.RunnerFinishedIdle > 0 {
		cmd += " --finished-idle " + o.RunnerFinishedIdle.String()
	}
	if lease != nil {
		holder, err := json.Marshal(lease.Holder)
		if err != nil {
			return nil, err
		}
		cmd += " --lease " + sshlink.Quote(cache) + " --count " + strconv.Itoa(max(lease.Slots, 1)) + " --holder " + sshlink.Quote(string(holder))
	}
	if err := s.Start(cmd); err != nil {
		s.Close()
		return nil, &sshlink.HostError{Addr: r.addr, Err: fmt.Errorf("start the runner: %w", err)}
	}
	cl, err := surface.NewClient(ctx, struct {
		io.Reader
		io.WriteCloser
	}{stdout, stdin}, "coordinator", o.Version)
	if err != nil {
		// Did the bridge say there is no runner?
		done := make(chan error, 1)
		go func() { done <- s.Wait() }()
		var exit *ssh.ExitError
		select {
		case werr := <-done:
			if errors.As(werr, &exit) && exit.ExitStatus() == hostside.ExitNoRunner {
				s.Close()
				return nil, ErrRunnerGone
			}
			if errors.As(werr, &exit) && exit.ExitStatus() == hostside.ExitBusy {
				s.Close()
				return nil, &sshlink.HostError{Addr: r.addr, Err: hostside.ErrSlotsBusy}
			}
		case <-time.After(2 * time.Second):
		}
		s.Close()
		var verr *surface.VersionError
		if errors.As(err, &verr) {
			// The runner there was left by an odu run of another version
			// (odu was rebuilt or upgraded since): this one cannot take
			// it over. Its fix is not the version error's (use one
			// binary): this one is the binary the user means.
			return nil, &sshlink.HostError{Addr: r.addr, Err: fmt.Errorf(
				"a runner of another odu version still runs this commit's %s lane there (left by an earlier odu run): %w; `odu run --fresh` stops it and starts over",
				r.platform, err), Fix: "Run `odu run --fresh`: it stops that runner and runs the pipeline anew."}
		}
		return nil, &sshlink.HostError{Addr: r.addr, Err: fmt.Errorf("talk to the runner: %w", err)}
	}
	if existing {
		r.say("re-attached to the runner: %s runner --attach %s", bin, laneDir)
	} else {
		r.say("runner attached: %s runner --attach %s", bin, laneDir)
	}
	a.mu.Lock()
	a.s = s
	a.mu.Unlock()
	r.watchers.Go(func() {
		<-l.Done()
		cl.Close() // the link is gone: the lane's client with it
	})
	return cl, nil
}
