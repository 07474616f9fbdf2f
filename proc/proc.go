// Package proc starts commands as process groups and stops them whole:
// every process odu starts (a node's recipe, a local runner) goes through
// it, so that nothing a command starts outlives it.
//
// A [Group] is a command started as the leader of its own process group;
// whatever it starts joins the group unless it leaves on purpose (setsid).
// Stopping a group sends SIGTERM to all of it, gives it a grace period,
// then sends SIGKILL to what is left. When the leader exits by itself, its
// leftovers (a server started in the background and never stopped) are
// stopped the same way.
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
	"syscall"
	"time"
)

// Group is a running command and the processes it started.
type Group struct {
	cmd   *exec.Cmd
	pgid  int
	done  chan struct{} // closed once the leader exited and was reaped
	state *os.ProcessState
	err   error
}

// Start starts cmd as the leader of a new process group.
func Start(cmd *exec.Cmd) (*Group, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	g := &Group{cmd: cmd, pgid: cmd.Process.Pid, done: make(chan struct{})}
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

// Signal sends sig to every process of the group. A group that is gone
// is not an error.
func (g *Group) Signal(sig syscall.Signal) error {
	err := syscall.Kill(-g.pgid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// Alive reports whether any process of the group is left, once the
// leader has been reaped (before that, the leader counts). A zombie does
// not count: it has exited, and only waits for its parent (init, for an
// orphan) to reap it, which some inits in containers do late or never.
func (g *Group) Alive() bool {
	if syscall.Kill(-g.pgid, 0) != nil {
		return false
	}
	if n, ok := liveMembers(g.pgid); ok {
		return n > 0
	}
	return true
}

// poll is how often a stopping group is checked for being gone: small
// against a grace period, and a syscall costs a microsecond.
const poll = 10 * time.Millisecond

// killWait bounds the wait for SIGKILL to take effect; a process in
// uninterruptible sleep (a hung NFS read) can outlast it.
const killWait = 5 * time.Second

// Stop stops the whole group: SIGTERM, then, after grace if anything is
// left, SIGKILL. It returns once the leader has exited and nothing of the
// group is left, or the SIGKILL had killWait to act.
func (g *Group) Stop(grace time.Duration) {
	g.Signal(syscall.SIGTERM)
	if !g.waitGone(grace) {
		g.Signal(syscall.SIGKILL)
		g.waitGone(killWait)
	}
}

// Cleanup stops what is left of the group once the leader has exited by
// itself: nothing, usually, at the cost of one syscall.
func (g *Group) Cleanup(grace time.Duration) {
	<-g.done
	if g.Alive() {
		g.Stop(grace)
	}
}

// waitGone waits up to d for the leader to exit and the group to empty.
func (g *Group) waitGone(d time.Duration) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	select {
	case <-g.done:
	case <-deadline.C:
		return false
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for g.Alive() {
		select {
		case <-tick.C:
		case <-deadline.C:
			return false
		}
	}
	return true
}
