package provision

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// start provisions the host and starts its runner. A host that has
// everything (a warm start) costs the handshake, one probe and the
// runner's session: what odu would send is prepared while the link comes
// up, and the probe answers every question at once.
func (r *remoteLane) start(ctx context.Context, runnerErr io.Writer) (*Runner, error) {
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
	// odu sends no Git LFS objects: the workspace on a host has the
	// pointer files, and the lane says so rather than leave a recipe to
	// find out.
	if files.lfs {
		r.say("note: the commit stores files with Git LFS; odu sends no LFS objects, so the workspace has their pointer files")
		if n := r.run.Notef; n != nil {
			n("the commit stores files with Git LFS: the %s lane's workspace on %s has their pointer files, not their content (odu sends no LFS objects to build hosts)", r.platform, r.addr)
		}
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
	env := []string{}
	if p.just == "" {
		dir, err := r.pushJust(l, p)
		if err != nil {
			return nil, err
		}
		env = append(env, "PATH="+dir+":"+p.path)
	}
	r.phase(surface.PhaseSource)
	ws := hostside.WorkspacePath(p.cache, files.repo, files.workspace)
	if p.wsReady {
		r.say("commit %s already on the host; workspace reused: %s", repo.Short(r.run.SHA), ws)
	} else if err := r.sendSource(ctx, l, p, files, ws); err != nil {
		return nil, err
	}

	laneDir := hostside.LaneDir(ws, string(r.platform))
	att := &attachment{l: l}
	cl, err := r.attach(ctx, att, bin, laneDir, runnerErr, false)
	if err != nil {
		return nil, err
	}
	ok = true
	return &Runner{
		Client: cl, Workspace: ws, LogDir: laneDir, Env: env, Detached: true,
		lost: att.err,
		redial: func(ctx context.Context) (*surface.Client, error) {
			nl, err := r.env.Dial(ctx, r.addr, func(note string) { r.say("note: %s", note) })
			if err != nil {
				return nil, err
			}
			next := &attachment{l: nl}
			cl, err := r.attach(ctx, next, bin, laneDir, runnerErr, true)
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
func (r *remoteLane) attach(ctx context.Context, a *attachment, bin, laneDir string, stderr io.Writer, existing bool) (*surface.Client, error) {
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
