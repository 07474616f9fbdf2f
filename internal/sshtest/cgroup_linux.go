package sshtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cgroup is a server's cgroup (v2): every sshd -i is cloned into it, so
// it holds all that the server started, whatever they did since (setsid,
// double forks), until they exit.
type cgroup struct {
	dir string
	fd  *os.File // the directory, for clone3's CLONE_INTO_CGROUP
}

// newCgroup makes a cgroup for a server in the cgroup v2 hierarchy.
func newCgroup() (*cgroup, error) {
	parent, err := cgroupParent()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(parent, prefix)
	if err != nil {
		return nil, fmt.Errorf("make a cgroup for sshd (needs a writable cgroup v2 hierarchy; run `bash .ci/setup`): %w", err)
	}
	fd, err := os.Open(dir)
	if err != nil {
		os.Remove(dir)
		return nil, fmt.Errorf("open cgroup: %w", err)
	}
	return &cgroup{dir: dir, fd: fd}, nil
}

// cgroupParent is where a server's cgroup goes: in the test process's
// own cgroup.
func cgroupParent() (string, error) {
	mount, root, err := cgroup2Mount()
	if err != nil {
		return "", err
	}
	own, err := ownCgroup()
	if err != nil {
		return "", err
	}
	rel, ok := strings.CutPrefix(own, root)
	if !ok {
		rel = "" // our cgroup is not under the mount's root: use the root
	}
	return filepath.Join(mount, rel), nil
}

// sweepCgroups kills what is left in the cgroups that were made by test
// processes that are gone, and removes them.
func sweepCgroups() {
	parent, err := cgroupParent()
	if err != nil {
		return
	}
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		if e.IsDir() && orphaned(e.Name()) {
			c := &cgroup{dir: filepath.Join(parent, e.Name())}
			_ = c.killAll(stopWait) // best effort: the next sweep tries again
		}
	}
}

// cgroup2Mount finds where the cgroup v2 hierarchy is mounted
// (/sys/fs/cgroup, or /sys/fs/cgroup/unified next to v1 hierarchies), and
// which of its cgroups is the root of that mount.
func cgroup2Mount() (mount, root string, err error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", "", fmt.Errorf("find the cgroup v2 mount: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS...] - FSTYPE ...
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		f := strings.Fields(pre)
		if ok && len(f) >= 5 && strings.HasPrefix(post, "cgroup2 ") {
			return f[4], f[3], nil
		}
	}
	return "", "", errors.New("no cgroup v2 hierarchy is mounted (sshtest puts each server in a cgroup to stop all it started): run `bash .ci/setup`")
}

// ownCgroup is the test process's cgroup in the v2 hierarchy.
func ownCgroup() (string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", fmt.Errorf("read own cgroup: %w", err)
	}
	for line := range strings.Lines(string(data)) {
		if path, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			return path, nil
		}
	}
	return "/", nil
}

// procAttr starts a process as the leader of a new process group, in the
// cgroup.
func (c *cgroup) procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, UseCgroupFD: true, CgroupFD: int(c.fd.Fd())}
}

// pids lists the processes in the cgroup.
func (c *cgroup) pids() ([]int, error) {
	data, err := os.ReadFile(filepath.Join(c.dir, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// killAll sends SIGKILL to every process in the cgroup at once, waits at
// most d until none is left, and removes the cgroup.
func (c *cgroup) killAll(d time.Duration) error {
	if c.fd != nil {
		defer c.fd.Close()
	}
	if err := os.WriteFile(filepath.Join(c.dir, "cgroup.kill"), []byte("1"), 0); err != nil {
		return fmt.Errorf("kill cgroup %s: %w", c.dir, err)
	}
	deadline := time.Now().Add(d)
	for {
		// Zombies have left the cgroup already: only a process that still
		// runs keeps it populated, and rmdir fails with EBUSY.
		err := os.Remove(c.dir)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			pids, _ := c.pids()
			return fmt.Errorf("remove cgroup %s (processes left: %v): %w", c.dir, pids, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
