// Package proc starts commands as process groups and stops them whole:
// every process odu starts (a node's recipe, a local runner) goes through
// it, so that nothing a command starts outlives it.
//
// A [Group] is a command started as the leader of its own process group;
// whatever it starts joins the group unless it leaves on purpose (setsid,
// a double-forking daemon). So that those are stopped too, a group is
// also tracked by what a process cannot leave by itself:
//
//   - on Linux, where the host lets the process make one (root, or a
//     delegated cgroup), a cgroup v2 of its own, which the leader is
//     cloned into: every descendant is in it, whatever it did since;
//   - otherwise (no cgroup v2, not delegated, macOS, or [NoCgroupVar]
//     set), an environment token ([TokenVar]) given to the leader and
//     inherited by every descendant, found in /proc/PID/environ (Linux)
//     or `ps -E` (macOS). A process that clears its environment (env -i)
//     escapes that one.
//
// Stopping a group sends SIGTERM to all of it, gives it a grace period,
// then sends SIGKILL to what is left. When the leader exits by itself, its
// leftovers (a server started in the background and never stopped) are
// stopped the same way. Groups nest: a group started by a process of
// another group is inside it (its cgroup below, its token extended), so
// stopping a local runner's group stops its nodes too. A process that
// may die without stopping its groups (a build host's detached runner)
// tracks itself ([TrackSelf]) and records what it got, so that whoever
// finds it dead stops what it left ([StopTracked]).
//
// The group's id is the leader's pid. While the leader is an unreaped
// zombie the group counts as alive, so the leader is reaped first; after
// that, the kernel keeps the id from being reused while any member lives,
// so signalling it reaches only the group's own processes.
//
// Commands are started with exec.Cmd rather than exec.CommandContext: its
// Cancel would signal the leader alone, and the group must also be
// stopped when nobody cancels anything.
package proc

import (
	"errors"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Group is a running command and the processes it started.
type Group struct {
	cmd   *exec.Cmd
	pgid  int
	token string        // in every process's environment
	cg    *cgroup       // nil where the host allows none: the token tracks
	done  chan struct{} // closed once the leader exited and was reaped
	state *os.ProcessState
	err   error
	once  sync.Once // releases the cgroup
}

// Start starts cmd as the leader of a new process group, in a cgroup of
// its own where the host allows, and with a token in its environment
// (cmd.Env, or the process's own when that is nil).
func Start(cmd *exec.Cmd) (*Group, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	tok := newToken(tokenOf(env))
	cmd.Env = withToken(env, tok)
	cg := newCgroup()
	if cg != nil {
		cg.attach(cmd.SysProcAttr)
		cmd.Env = withVar(cmd.Env, CgroupVar, cg.dir)
	}
	if err := cmd.Start(); err != nil {
		if cg != nil {
			cg.release()
		}
		return nil, err
	}
	g := &Group{cmd: cmd, pgid: cmd.Process.Pid, token: tok, cg: cg, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		g.state = cmd.ProcessState
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			g.err = err
		}
		close(g.done)
	}()
	return g, nil
}

// Pid returns the leader's pid, which is the group's id.
func (g *Group) Pid() int { return g.pgid }

// Done is closed once the leader has exited.
func (g *Group) Done() <-chan struct{} { return g.done }

// Wait waits for the leader to exit and returns its state. The error is
// for a failure to wait, not for a non-zero exit.
func (g *Group) Wait() (*os.ProcessState, error) {
	<-g.done
	return g.state, g.err
}

// Tracking says how the group is tracked beyond its process group:
// "cgroup" or "token".
func (g *Group) Tracking() string {
	if g.cg != nil {
		return "cgroup"
	}
	return "token"
}

// Signal sends sig to every process of the group, and to those that left
// it but are tracked with it. A group that is gone is not an error.
func (g *Group) Signal(sig syscall.Signal) error {
	err := syscall.Kill(-g.pgid, sig)
	if g.cg != nil {
		g.cg.signal(sig, g.pgid)
	} else {
		signalOutside(tokenPids(g.token), sig, g.pgid)
	}
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// Alive reports whether any process of the group, or tracked with it, is
// left, once the leader has been reaped (before that, the leader
// counts). A zombie does not count: it has exited, and only waits for its
// parent (init, for an orphan) to reap it, which some inits in containers
// do late or never.
func (g *Group) Alive() bool {
	if g.cg != nil {
		if alive, ok := g.cg.populated(); ok {
			return alive
		}
	}
	if g.groupAlive() {
		return true
	}
	return len(tokenPids(g.token)) > 0
}

// signalOutside sends sig to those of pids that are not in process group
// pgid, which had it already: a second SIGTERM or SIGINT means "now" to
// many programs (just exits at once, without its last line).
func signalOutside(pids []int, sig syscall.Signal, pgid int) {
	for _, pid := range pids {
		if pg, err := syscall.Getpgid(pid); err == nil && pg != pgid {
			syscall.Kill(pid, sig)
		}
	}
}

// groupAlive reports whether the process group has a live member.
func (g *Group) groupAlive() bool {
	if syscall.Kill(-g.pgid, 0) != nil {
		return false
	}
	if n, ok := liveMembers(g.pgid); ok {
		return n > 0
	}
	return true
}

// release removes the group's cgroup, once.
func (g *Group) release() {
	g.once.Do(func() {
		if g.cg != nil {
			g.cg.release()
		}
	})
}

// poll is how often a stopping group is checked for being gone: small
// against a grace period, and reading a cgroup file costs microseconds.
// Where the token tracks, each check reads every process's environment
// (a few milliseconds): tokenPoll.
const (
	poll      = 10 * time.Millisecond
	tokenPoll = 50 * time.Millisecond
)

// killWait bounds the wait for SIGKILL to take effect; a process in
// uninterruptible sleep (a hung NFS read) can outlast it.
const killWait = 5 * time.Second

// leaderFirst bounds how long the rest of a stopping group waits for its
// SIGTERM while the leader, told first, has not exited.
const leaderFirst = time.Second

// Stop stops the whole group: SIGTERM, then, after grace if anything is
// left, SIGKILL. It returns once the leader has exited and nothing of the
// group is left, or the SIGKILL had killWait to act.
//
// SIGTERM goes to the leader first, and to the rest once the leader has
// exited (or after leaderFirst): the leader is just, which forwards it to
// the recipe and then writes its last line ("error: recipe … was
// terminated"), but exits at once without it when its child died of the
// same signal before just handled its own, as a signal to the whole
// group at once sometimes made happen.
func (g *Group) Stop(grace time.Duration) {
	defer g.release()
	start := time.Now()
	select {
	case <-g.done: // reaped: its pid may be another process's by now
	default:
		syscall.Kill(g.pgid, syscall.SIGTERM)
	}
	lead := time.NewTimer(min(leaderFirst, grace))
	select {
	case <-g.done:
	case <-lead.C:
	}
	lead.Stop()
	g.Signal(syscall.SIGTERM)
	if !g.waitGone(grace-time.Since(start), 0) {
		g.Signal(syscall.SIGKILL)
		g.waitGone(killWait, syscall.SIGKILL)
	}
}

// Cleanup stops what is left of the group once the leader has exited by
// itself: nothing, usually, at the cost of reading one cgroup file (or
// scanning /proc, where the token tracks).
func (g *Group) Cleanup(grace time.Duration) {
	<-g.done
	if g.Alive() {
		g.Stop(grace)
	}
	g.release()
}

// waitGone waits up to d for the leader to exit and the group to empty.
// With again, it sends that signal again at every poll: a process being
// killed one pid at a time (the token) may have forked meanwhile.
func (g *Group) waitGone(d time.Duration, again syscall.Signal) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	select {
	case <-g.done:
	case <-deadline.C:
		return false
	}
	every := poll
	if g.cg == nil {
		every = tokenPoll
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for g.Alive() {
		if again != 0 {
			g.Signal(again)
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			return false
		}
	}
	return true
}
