package proc

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// cgroup is a group's cgroup (v2): its leader is cloned into it
// (CLONE_INTO_CGROUP), so everything the leader starts is in it or in a
// cgroup below it, setsid or not, and only a privileged process can move
// out. It is made below the starting process's own cgroup: where the host
// delegated one to the user, or for root.
type cgroup struct {
	dir string
	fd  *os.File // the directory, for clone3
}

// newCgroup makes a cgroup for a new group, or returns nil when this host
// does not let the process make one (no cgroup v2, not delegated, a
// kernel without CLONE_INTO_CGROUP), or the environment said not to.
func newCgroup() *cgroup {
	if cgroupsOff() || !cloneIntoCgroupWorks() {
		return nil
	}
	c, err := makeCgroup()
	if err != nil {
		return nil
	}
	return c
}

func makeCgroup() (*cgroup, error) {
	parent, err := ownCgroupDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(parent, "odu-")
	if err != nil {
		return nil, err
	}
	fd, err := os.Open(dir)
	if err != nil {
		os.Remove(dir)
		return nil, err
	}
	return &cgroup{dir: dir, fd: fd}, nil
}

// cloneIntoCgroupWorks tries, once per process, to start a shell in a new
// cgroup: whether the cgroup can be made and a process cloned into it
// depends on the kernel, the mount and the delegation, and a failure
// inside exec.Cmd.Start cannot be retried with the same command.
var cloneIntoCgroupWorks = sync.OnceValue(func() bool {
	c, err := makeCgroup()
	if err != nil {
		return false
	}
	defer c.release()
	attr := &syscall.ProcAttr{Sys: &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(c.fd.Fd())}}
	pid, err := syscall.ForkExec("/bin/sh", []string{"sh", "-c", ":"}, attr)
	if err != nil {
		return false
	}
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	return true
})

// cgroup2Mount finds where the cgroup v2 hierarchy is mounted
// (/sys/fs/cgroup, or /sys/fs/cgroup/unified next to v1 hierarchies), and
// which of its cgroups is the root of that mount: {mount, root}.
var cgroup2Mount = sync.OnceValues(func() ([2]string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return [2]string{}, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS...] - FSTYPE ...
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		f := strings.Fields(pre)
		if ok && len(f) >= 5 && strings.HasPrefix(post, "cgroup2 ") {
			return [2]string{f[4], f[3]}, nil
		}
	}
	return [2]string{}, errors.New("no cgroup v2 hierarchy is mounted")
})

// ownCgroupDir is the directory of the process's own cgroup (v2).
func ownCgroupDir() (string, error) {
	m, err := cgroup2Mount()
	if err != nil {
		return "", err
	}
	mount, root := m[0], m[1]
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(string(data)) {
		if path, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			rel, ok := strings.CutPrefix(path, root)
			if !ok {
				return "", errors.New("own cgroup is outside the cgroup v2 mount")
			}
			return filepath.Join(mount, rel), nil
		}
	}
	return "", errors.New("no cgroup v2 line in /proc/self/cgroup")
}

// attach makes cmd's leader start in the cgroup.
func (c *cgroup) attach(attr *syscall.SysProcAttr) {
	attr.UseCgroupFD = true
	attr.CgroupFD = int(c.fd.Fd())
}

// dirs lists the cgroup and every cgroup below it, parents first.
func (c *cgroup) dirs() []string {
	var out []string
	// Best effort: a cgroup that goes while it is walked is one less to stop.
	_ = filepath.WalkDir(c.dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// pids lists the processes in the cgroup and below it.
func (c *cgroup) pids() []int {
	var pids []int
	for _, d := range c.dirs() {
		data, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		for f := range strings.FieldsSeq(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// populated reports whether a live process is in the cgroup or below it;
// ok is false when that cannot be read.
func (c *cgroup) populated() (alive, ok bool) { return populated(c.dir) }

func populated(dir string) (alive, ok bool) {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
	if err != nil {
		return false, false
	}
	for line := range strings.Lines(string(data)) {
		if v, found := strings.CutPrefix(strings.TrimSpace(line), "populated "); found {
			return v == "1", true
		}
	}
	return false, false
}

// signal sends sig to every process in the cgroup and below, but those
// of process group pgid, which had it already. SIGKILL goes to all,
// through cgroup.kill where the kernel has it (5.14), which no fork can
// race; elsewhere the cgroup is frozen while its processes are signalled
// one by one (a frozen process still dies of SIGKILL).
func (c *cgroup) signal(sig syscall.Signal, pgid int) {
	if sig == syscall.SIGKILL {
		if os.WriteFile(filepath.Join(c.dir, "cgroup.kill"), []byte("1"), 0) == nil {
			return
		}
		freeze := filepath.Join(c.dir, "cgroup.freeze")
		if os.WriteFile(freeze, []byte("1"), 0) == nil {
			defer func() { _ = os.WriteFile(freeze, []byte("0"), 0) }() // a killed cgroup needs no thaw
		}
		pgid = 0
	}
	signalOutside(c.pids(), sig, pgid)
}

// release removes the cgroup and those below it, deepest first; one that
// still holds a process stays (rmdir fails with EBUSY).
func (c *cgroup) release() {
	c.fd.Close()
	dirs := c.dirs()
	for i := len(dirs) - 1; i >= 0; i-- {
		removeCgroup(dirs[i])
	}
}

// removeCgroup removes an empty cgroup. rmdir can fail with EBUSY for a
// moment after the last process was reaped, while the kernel lets go of
// it: try again for a little while, as long as nothing lives there.
func removeCgroup(dir string) {
	for try := 0; ; try++ {
		err := os.Remove(dir)
		if err == nil || !errors.Is(err, syscall.EBUSY) || try == 50 {
			return
		}
		if alive, ok := populated(dir); !ok || alive {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// madeByStart reports whether a cgroup's name is one that makeCgroup
// gives (os.MkdirTemp's "odu-" and digits).
func madeByStart(name string) bool {
	digits, ok := strings.CutPrefix(name, "odu-")
	if !ok || digits == "" {
		return false
	}
	_, err := strconv.ParseUint(digits, 10, 64)
	return err == nil
}

// LeaveCgroup moves the process out of the cgroup a [Group] made for it,
// into the parent, and removes that cgroup: a local runner does so as it
// exits, since the coordinator that would remove it may be gone (kill -9).
// Anything else it does nothing: a runner that was not started so (by a
// test, or by a recipe of an odu run that runs odu's own tests) is in its
// starter's cgroup, which holds other processes' cgroups (a test's sshd),
// and must leave it alone. So the cgroup must be the one [Start] named in
// the process's environment ([CgroupVar]), and the process its group's
// leader, as Start made it.
func LeaveCgroup() {
	own, err := ownCgroupDir()
	if err != nil || !madeByStart(filepath.Base(own)) || os.Getenv(CgroupVar) != own || syscall.Getpgrp() != os.Getpid() {
		return
	}
	procs := filepath.Join(filepath.Dir(own), "cgroup.procs")
	if os.WriteFile(procs, []byte(strconv.Itoa(os.Getpid())), 0) != nil {
		return
	}
	(&cgroup{dir: own, fd: nil}).release()
}

// enterCgroup moves the process into a new cgroup below its own, where
// the host lets it make one, and returns its directory ("" otherwise).
// The groups it starts then get their cgroups below that one, which holds
// nothing else: a sweep of it reaches them and nothing of its siblings'.
func enterCgroup() string {
	if cgroupsOff() || !cloneIntoCgroupWorks() {
		return ""
	}
	c, err := makeCgroup()
	if err != nil {
		return ""
	}
	c.fd.Close()
	// cgroup.procs moves every thread of the process at once.
	if os.WriteFile(filepath.Join(c.dir, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0) != nil {
		removeCgroup(c.dir)
		return ""
	}
	return c.dir
}

// cgroupAt is the cgroup a process recorded, for a sweep; nil for "" or
// for a directory that is not one that [Start] or [TrackSelf] make, in
// the cgroup v2 hierarchy: a record is never taken for a licence to
// write elsewhere.
func cgroupAt(dir string) *cgroup {
	if dir == "" || !madeByStart(filepath.Base(dir)) {
		return nil
	}
	m, err := cgroup2Mount()
	if err != nil {
		return nil
	}
	if rel, err := filepath.Rel(m[0], dir); err != nil || !filepath.IsLocal(rel) {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err != nil {
		return nil
	}
	return &cgroup{dir: dir}
}
