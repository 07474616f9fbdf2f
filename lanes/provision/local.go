package provision

import (
	"context"
	"io"
	"os"
	"os/exec"
	"time"

	"github.com/odu-ci/odu/proc"
	"github.com/odu-ci/odu/runner"
	"github.com/odu-ci/odu/surface"
)

// local is a runner started on this machine as a child process: the
// same binary and protocol a remote lane uses, without SSH.
type local struct {
	group  *proc.Group
	stderr *os.File
}

// startLocal starts `odu runner --stdio` from exe, as its own process
// group so that a terminal's Ctrl-C reaches only the coordinator, which
// then stops the lane through the surface. Its diagnostics go to stderr.
func startLocal(ctx context.Context, exe, version string, env []string, stderr, lease *os.File) (*surface.Client, *local, error) {
	cmd := exec.Command(exe, "runner", "--stdio")
	if lease != nil {
		// The runner holds the lane's lease for its life (see
		// runner/hostside/lease.go): it ends with it.
		cmd.ExtraFiles = []*os.File{lease}
		cmd.Args = append(cmd.Args, "--lease-fd", "3")
	}
	cmd.Env = runner.WithoutTokens(env) // a token stays with the coordinator
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	g, err := proc.Start(cmd)
	if err != nil {
		return nil, nil, err
	}
	l := &local{group: g, stderr: stderr}
	cl, err := surface.NewClient(ctx, struct {
		io.Reader
		io.WriteCloser
	}{stdout, stdin}, "coordinator", version)
	if err != nil {
		l.stop(time.Second)
		return nil, nil, err
	}
	return cl, l, nil
}

// stop waits for a runner whose stdin was closed to stop its nodes and
// exit, and stops it if it has not within wait. Its group holds its nodes'
// groups (see proc): a runner that died without stopping them (kill -9,
// the OOM killer) has them stopped here.
func (l *local) stop(wait time.Duration) {
	select {
	case <-l.group.Done():
		l.group.Cleanup(time.Second)
	case <-time.After(wait):
		l.group.Stop(time.Second)
	}
}

// Local starts a lane's runner on this machine: `odu runner --stdio` from
// run.Exe, with env less the variables that must not reach a lane. Its
// Workspace and LogDir are the caller's to fill in. lease, when not nil,
// is the slot the lane leased on this machine: the runner inherits it and
// holds it for its life (the caller may close its own descriptor).
func Local(ctx context.Context, run *Run, env []string, stderr, lease *os.File) (*Runner, error) {
	client, l, err := startLocal(ctx, run.Exe, run.Version, env, stderr, lease)
	if err != nil {
		return nil, err
	}
	return &Runner{Client: client, end: func(_ *surface.Client, _ bool, wait time.Duration) {
		client.Close() // the runner stops its nodes and exits
		l.stop(wait)
	}}, nil
}
