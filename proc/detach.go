package proc

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// Detached is a process started to outlive whoever started it: a run that
// `odu mcp` starts for an agent goes on when the agent disconnects, and
// stops only as any run does (`odu cancel`, a signal, its end). It is
// not a [Group]: nothing here stops it.
//
// It leads a session of its own (setsid), so a signal to its starter's
// process group or the starter's terminal closing does not reach it; its
// stdin is /dev/null and its stdout and stderr go to a file, so it holds
// none of its starter's pipes open (an MCP client waits for the server's
// stdout to close).
type Detached struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// StartDetached starts name with args in dir, its output to out. Until
// the process ends, one goroutine waits for it, to reap it and tell
// [Detached.Done]; if the starter exits first, the process is reparented
// and goes on.
func StartDetached(dir string, out *os.File, name string, args ...string) (*Detached, error) {
	null, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer null.Close()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	d := &Detached{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // the exit code is what ExitCode says
		close(d.done)
	}()
	return d, nil
}

// Pid returns the process's id.
func (d *Detached) Pid() int { return d.cmd.Process.Pid }

// Done is closed once the process exited and was reaped.
func (d *Detached) Done() <-chan struct{} { return d.done }

// ExitCode returns the process's exit code once [Detached.Done] is
// closed: -1 when a signal ended it.
func (d *Detached) ExitCode() int {
	<-d.done
	return d.cmd.ProcessState.ExitCode()
}
