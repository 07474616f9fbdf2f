package provision

import (
	"context"
	"io"
	"time"

	"github.com/odu-ci/odu/internal/say"
	"github.com/odu-ci/odu/lanes/sshlink"
	"github.com/odu-ci/odu/platform"
	"github.com/odu-ci/odu/surface"
)

// Run is what provisioning needs to know of the run a lane is for.
type Run struct {
	Root     string // the checkout
	SHA      string // the commit under test
	Dirty    bool   // the live tree has uncommitted changes (--no-snapshot)
	Snapshot bool   // HEAD is pinned in the local workspace
	Exe      string // the odu binary a local runner is started from
	Version  string // odu's version
	// Fresh stops the runners still running this commit's lanes on the
	// hosts and starts over, instead of re-attaching to them.
	Fresh bool
	// RunnerIdle and RunnerFinishedIdle override a detached runner's
	// bounds with no coordinator attached; 0 for its defaults.
	RunnerIdle, RunnerFinishedIdle time.Duration
	// Notef tells the user something worth a line of their own.
	Notef say.Func
}

// Runner is a handle on a lane's runner, up: its client and where its
// nodes run, and how to get it back or end it.
type Runner struct {
	Client    *surface.Client
	Workspace string   // where its nodes run
	LogDir    string   // where it keeps their logs
	LinkDir   string   // where it links the newest attempts' logs, if it keeps every attempt (surface.Config)
	Env       []string // more environment for its nodes
	Detached  bool     // a detached runner on a build host, which outlives its link

	lost   func() error
	redial func(ctx context.Context) (*surface.Client, error)
	end    func(cl *surface.Client, exit bool, wait time.Duration)
}

// Lost says why the lane's link ended, if it did; nil while it lives (and
// always, for a local runner).
func (r *Runner) Lost() error {
	if r.lost == nil {
		return nil
	}
	return r.lost()
}

// CanRedial says whether the runner outlives its link, so that dialling
// the host again finds it: false for a local child runner, which ends
// with its pipe.
func (r *Runner) CanRedial() bool { return r.redial != nil }

// Redial dials the host again and re-attaches to its runner, after the
// link dropped; the runner must be still there.
func (r *Runner) Redial(ctx context.Context) (*surface.Client, error) { return r.redial(ctx) }

// Exit ends the run on the runner: it is told to exit (its nodes stopped)
// and waited for at most wait; cl is the client of it, the last one when
// the lane reconnected.
func (r *Runner) Exit(cl *surface.Client, wait time.Duration) { r.end(cl, true, wait) }

// Leave lets go of the runner without telling a detached one to exit (it
// refused this coordinator's configuration: it runs another's nodes),
// waiting at most wait for its session to end. A local runner ends
// anyway.
func (r *Runner) Leave(cl *surface.Client, wait time.Duration) { r.end(cl, false, wait) }

// Remote provisions a build host at addr for platform and starts (or
// re-attaches to) its runner. setup is the lane's setup narrative; phase
// hears where it is; runnerErr gets the runner session's stderr.
func Remote(ctx context.Context, run *Run, addr string, plat platform.Platform, ssh sshlink.Env,
	setup io.Writer, phase func(surface.Phase), runnerErr io.Writer) (*Runner, error) {
	r := &remoteLane{addr: addr, platform: plat, env: ssh, run: run, setup: setup, say: say.To(setup, "15:04:05.000"), phase: phase}
	return r.start(ctx, runnerErr)
}
