//go:build linux

package proc

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperVar makes the test binary the process that tracks itself, starts
// a group with an escaper, and dies of SIGKILL (TestStopTracked).
const helperVar = "ODU_PROC_TRACKER_HELPER"

// A process that tracked itself and was killed (kill -9: its groups were
// never stopped) left an escaper running; StopTracked, from what it
// printed, stops it and removes its cgroup.
func TestStopTracked(t *testing.T) {
	for _, tracking := range []string{"cgroup", "token"} {
		t.Run(tracking, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "escaper.pid")
			cmd := exec.Command(os.Args[0], "-test.run=^TestTrackerHelper$")
			cmd.Env = append(os.Environ(), helperVar+"="+pidFile)
			if tracking == "token" {
				cmd.Env = append(cmd.Env, NoCgroupVar+"=1")
			}
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(out)
			var token, cg string
			for sc.Scan() {
				if f, ok := strings.CutPrefix(sc.Text(), "tracked "); ok {
					token, cg, _ = strings.Cut(f, " ")
				}
			}
			if err := cmd.Wait(); err == nil || cmd.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("the helper did not die of SIGKILL: %v", err)
			}
			if token == "" || (tracking == "cgroup") != (cg != "") {
				t.Fatalf("the helper tracked itself with token %q, cgroup %q; want %s tracking (a cgroup needs root or a delegated cgroup v2)", token, cg, tracking)
			}
			pid := waitPid(t, pidFile)
			if gone(pid) {
				t.Fatalf("the escaper %d died with the helper: nothing to sweep", pid)
			}
			start := time.Now()
			if n := StopTracked(token, cg, time.Second); n < 1 {
				t.Errorf("StopTracked found %d processes, want the escaper at least", n)
			}
			if !gone(pid) {
				syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("the escaper %d outlived StopTracked", pid)
			}
			t.Logf("stopped in %s", time.Since(start).Round(time.Millisecond))
			if cg != "" {
				if _, err := os.Stat(cg); !os.IsNotExist(err) {
					t.Errorf("the tracked cgroup %s is left: %v", cg, err)
				}
			}
			if n := StopTracked(token, cg, time.Second); n != 0 {
				t.Errorf("a second StopTracked found %d processes, want 0", n)
			}
		})
	}
}

// TestTrackerHelper is TestStopTracked's tracking process; it does nothing
// unless run by it.
func TestTrackerHelper(t *testing.T) {
	pidFile := os.Getenv(helperVar)
	if pidFile == "" {
		t.Skip("run by TestStopTracked")
	}
	token, cg := TrackSelf()
	g, err := Start(exec.Command("/bin/sh", "-c", escaper, "sh", pidFile, "wait"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(g.token, token+".") {
		t.Fatalf("the group's token %s is not below the tracker's %s", g.token, token)
	}
	if g.cg != nil && filepath.Dir(g.cg.dir) != cg {
		t.Fatalf("the group's cgroup %s is not below the tracker's %s", g.cg.dir, cg)
	}
	waitPid(t, pidFile)
	os.Stdout.WriteString("tracked " + token + " " + cg + "\n")
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
}

// cgroupAt takes only a cgroup that odu makes, in the cgroup v2 hierarchy.
func TestCgroupAtRefusesOtherDirectories(t *testing.T) {
	for _, dir := range []string{"/tmp/odu-123", "/etc", "/sys/fs/cgroup/../../tmp/odu-1", "/sys/fs/cgroup/user.slice"} {
		if cgroupAt(dir) != nil {
			t.Errorf("cgroupAt(%q) took it", dir)
		}
	}
}
