//go:build linux

package proc

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// escaper is a shell that starts a process that leaves its session
// (setsid) and writes that process's pid to $1, then waits, or exits
// when $2 is "exit".
const escaper = `setsid sh -c 'echo $$ > "$0"; exec sleep 300' "$1" &
while [ ! -s "$1" ]; do sleep 0.01; done
[ "$2" = exit ] || sleep 300`

// Both ways of tracking stop what left the group: on Stop, and on
// Cleanup after the leader exited by itself.
func TestEscapersAreStopped(t *testing.T) {
	for _, tracking := range []string{"cgroup", "token"} {
		for _, end := range []string{"stop", "exit"} {
			t.Run(tracking+"/"+end, func(t *testing.T) {
				if tracking == "token" {
					t.Setenv(NoCgroupVar, "1")
				}
				pidFile := filepath.Join(t.TempDir(), "escaper.pid")
				g, err := Start(exec.Command("/bin/sh", "-c", escaper, "sh", pidFile, end))
				if err != nil {
					t.Fatal(err)
				}
				if got := g.Tracking(); got != tracking {
					t.Fatalf("Tracking() = %s, want %s (a cgroup needs root or a delegated cgroup v2)", got, tracking)
				}
				pid := waitPid(t, pidFile)
				if end == "stop" {
					g.Stop(time.Second)
				} else {
					g.Cleanup(time.Second)
				}
				if !gone(pid) {
					syscall.Kill(pid, syscall.SIGKILL)
					t.Fatalf("the escaper %d outlived its group (%s)", pid, tracking)
				}
				if g.cg != nil {
					if _, err := os.Stat(g.cg.dir); !os.IsNotExist(err) {
						t.Errorf("the group's cgroup %s is left: %v", g.cg.dir, err)
					}
				}
			})
		}
	}
}

// A group started by a process of another group carries a token below
// the outer one's: stopping the outer group stops the inner one's
// escaper too (a runner killed with its nodes running, stopped by its
// coordinator). procs_setsid.txtar does the same with cgroups, for real.
func TestNestedTokensAreStoppedWithTheOuter(t *testing.T) {
	t.Setenv(NoCgroupVar, "1")
	outer, err := Start(exec.Command("/bin/sh", "-c", "sleep 300"))
	if err != nil {
		t.Fatal(err)
	}
	defer outer.Stop(time.Second)
	// The inner group is started as the outer's process would: from its
	// environment.
	pidFile := filepath.Join(t.TempDir(), "escaper.pid")
	cmd := exec.Command("/bin/sh", "-c", escaper, "sh", pidFile, "wait")
	cmd.Env = readEnv(t, outer.Pid())
	inner, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Stop(time.Second)
	if !strings.HasPrefix(inner.token, outer.token+".") {
		t.Errorf("inner token %s is not below the outer's %s", inner.token, outer.token)
	}
	pid := waitPid(t, pidFile)
	outer.Stop(time.Second)
	if !gone(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("the inner group's escaper %d outlived the outer group", pid)
	}
}

func TestTokens(t *testing.T) {
	for _, c := range []struct {
		value, tok string
		want       bool
	}{
		{"a1", "a1", true}, {"a1.b2", "a1", true}, {"a1.b2.c3", "a1", true},
		{"a12", "a1", false}, {"a1", "a1.b2", false}, {"", "a1", false},
	} {
		if got := carries(c.value, c.tok); got != c.want {
			t.Errorf("carries(%q, %q) = %v, want %v", c.value, c.tok, got, c.want)
		}
	}
	env := withToken([]string{"A=1", TokenVar + "=x", "B=2", TokenVar + "=y"}, "z")
	if want := []string{"A=1", "B=2", TokenVar + "=z"}; !slices.Equal(env, want) {
		t.Errorf("withToken = %q, want %q", env, want)
	}
	if got := tokenOf([]string{TokenVar + "=x", TokenVar + "=y"}); got != "y" {
		t.Errorf("tokenOf = %q, want the last one, y", got)
	}
	for name, want := range map[string]bool{"odu-123": true, "odu-": false, "odu-sshtest-1-2": false, "user.slice": false} {
		if got := madeByStart(name); got != want {
			t.Errorf("madeByStart(%q) = %v, want %v", name, got, want)
		}
	}
}

func waitPid(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		data, _ := os.ReadFile(path)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no pid in %s within 20s", path)
	return 0
}

// gone reports whether a process has exited (a zombie has).
func gone(pid int) bool {
	state, _, ok := Stat(strconv.Itoa(pid))
	return !ok || state == "Z"
}

func readEnv(t *testing.T, pid int) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
}
