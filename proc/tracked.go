package proc

import (
	"os"
	"slices"
	"syscall"
	"time"
)

// A process that starts groups and may die without stopping them (a
// build host's detached runner, which the OOM killer may kill -9) tracks
// itself ([TrackSelf]) and records what it got, so that whoever finds it
// dead can stop what it left ([StopTracked]): its groups' tokens nest in
// its own, and their cgroups are made below its own.

// TrackSelf gives the process a fresh token of its own (nested in the one
// it inherited, if any), so that every group it starts from now on
// carries a token nested in it; and, where the host lets it make a cgroup,
// moves the process into a new cgroup, below which its groups' cgroups
// are made. It returns the token and that cgroup's directory ("" where
// the token alone tracks). [LeaveCgroup] undoes the move when the process
// exits in order.
func TrackSelf() (token, cgroupDir string) {
	token = newToken(os.Getenv(TokenVar))
	os.Setenv(TokenVar, token)
	cgroupDir = enterCgroup()
	if cgroupDir != "" {
		os.Setenv(CgroupVar, cgroupDir) // LeaveCgroup's to leave
	}
	return token, cgroupDir
}

// StopTracked stops what a process that tracked itself ([TrackSelf]) and
// died left running: every process carrying token (or one nested in it),
// and every process in cgroupDir and below it ("" for none). SIGTERM,
// then SIGKILL to what is left after grace, as [Group.Stop] does; then
// the cgroups are removed. It returns how many processes it found.
func StopTracked(token, cgroupDir string, grace time.Duration) int {
	t := tracked{token: token, cg: cgroupAt(cgroupDir)}
	defer t.release()
	found := len(t.pids())
	if found == 0 {
		return 0
	}
	t.signal(syscall.SIGTERM)
	if !t.waitGone(grace, 0) {
		t.signal(syscall.SIGKILL)
		t.waitGone(killWait, syscall.SIGKILL)
	}
	return found
}

// tracked is what a dead process left: no leader, no process group of
// its own, only a token and maybe a cgroup.
type tracked struct {
	token string
	cg    *cgroup // nil for none
}

func (t tracked) pids() []int {
	var pids []int
	if t.token != "" {
		pids = tokenPids(t.token)
	}
	if t.cg != nil {
		for _, p := range t.cg.pids() {
			if !slices.Contains(pids, p) && p != os.Getpid() {
				pids = append(pids, p)
			}
		}
	}
	return pids
}

// signal sends sig to every process found, through the cgroup first,
// where SIGKILL reaches all of it at once.
func (t tracked) signal(sig syscall.Signal) {
	if t.cg != nil {
		t.cg.signal(sig, 0)
	}
	if t.token != "" {
		for _, pid := range tokenPids(t.token) {
			syscall.Kill(pid, sig)
		}
	}
}

func (t tracked) alive() bool {
	if t.cg != nil {
		if alive, ok := t.cg.populated(); ok && alive {
			return true
		}
	}
	return t.token != "" && len(tokenPids(t.token)) > 0
}

// waitGone waits up to d for nothing to be left, sending again (if not
// 0) at every poll: a process killed one pid at a time may have forked.
func (t tracked) waitGone(d time.Duration, again syscall.Signal) bool {
	deadline := time.Now().Add(d)
	for t.alive() {
		if time.Now().After(deadline) {
			return false
		}
		if again != 0 {
			t.signal(again)
		}
		time.Sleep(tokenPoll)
	}
	return true
}

func (t tracked) release() {
	if t.cg != nil {
		t.cg.release()
	}
}
