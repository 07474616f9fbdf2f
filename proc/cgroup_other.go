//go:build !linux

package proc

import "syscall"

// cgroup stands for a Linux cgroup; other systems track a group by its
// process group and its token. dir is never set (newCgroup makes none):
// it is there for the code that names a Linux cgroup's directory.
type cgroup struct{ dir string }

func newCgroup() *cgroup                      { return nil }
func (c *cgroup) attach(*syscall.SysProcAttr) {}
func (c *cgroup) populated() (alive, ok bool) { return false, false }
func (c *cgroup) signal(syscall.Signal, int)  {}
func (c *cgroup) release()                    {}

// LeaveCgroup does nothing without cgroups.
func LeaveCgroup() {}

func (c *cgroup) pids() []int { return nil }
func enterCgroup() string     { return "" }
func cgroupAt(string) *cgroup { return nil }
