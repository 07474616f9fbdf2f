//go:build !linux

package sshtest

import (
	"errors"
	"syscall"
	"time"
)

// cgroup stands for the Linux cgroup a server's processes are put in;
// there is none elsewhere, and sshtest refuses to start.
type cgroup struct{ dir string }

func newCgroup() (*cgroup, error) {
	return nil, errors.New("sshtest needs Linux (cgroup v2 holds what a server starts)")
}

func sweepCgroups()                              {}
func (c *cgroup) procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
func (c *cgroup) pids() ([]int, error)           { return nil, nil }
func (c *cgroup) killAll(time.Duration) error    { return nil }
