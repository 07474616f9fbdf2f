package runner_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odu-ci/odu/surface"
)

// Cancelling nodes keeps the last line just writes when its recipe is
// terminated: just exits without it when its child died of the same
// SIGTERM before just handled its own, which a signal to the whole group
// at once made happen about every other time. Eight nodes at once.
func TestCancelKeepsJustsLastLine(t *testing.T) {
	const n = 8
	var jf strings.Builder
	jf.WriteString("[metadata(\"ci\")]\nci:")
	for i := range n {
		fmt.Fprintf(&jf, " n%d", i)
	}
	jf.WriteString("\n\n")
	for i := range n {
		fmt.Fprintf(&jf, "n%d:\n    #!/bin/sh\n    echo started\n    touch started-n%d\n    sleep 300\n\n", i, i)
	}
	l := start(t, jf.String(), n)
	for i := range n {
		waitFile(t, filepath.Join(l.dir, fmt.Sprintf("started-n%d", i)))
	}
	if err := l.cl.CancelRun(tctx(t)); err != nil {
		t.Fatal(err)
	}
	st, _ := l.settle(t)
	for i := range n {
		name := fmt.Sprintf("n%d", i)
		if s := st.Node(id(name)).Status; s != surface.Cancelled {
			t.Errorf("%s = %s, want cancelled", name, s)
		}
		want := fmt.Sprintf("started\nerror: recipe `%s` was terminated by signal 15\n", name)
		if got, _ := l.log(t, id(name), 0); string(got) != want {
			t.Errorf("%s's log = %q, want %q", name, got, want)
		}
	}
}

// waitFile waits for a recipe to make a file.
func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s was not made within 20s", path)
}

// A process that escaped the node (a new session, an environment
// cleared of the node's token, no cgroup to find it) and keeps writing
// to the node's output after its recipe exited 0 (`yes`: it fills the
// pipe whenever it runs at all, so a loaded machine cannot make the pipe
// look empty at the cut): the runner stops
// reading, and the log misses what it still writes. The node is an
// error then, not green on an incomplete log.
func TestOutputCutWhileWrittenIsAnError(t *testing.T) {
	t.Setenv("ODU_NO_CGROUP", "1") // the token path, which env -i escapes
	l := start(t, `
[metadata("ci")]
ci:
    #!/bin/sh
    setsid env -i /bin/sh -c 'echo $$ > writer.pid; exec yes x' &
    while [ ! -s writer.pid ]; do sleep 0.01; done
    echo done
`, 1)
	pid := pidFile(t, filepath.Join(l.dir, "writer.pid"))
	t.Cleanup(func() {
		syscall.Kill(pid, syscall.SIGKILL)
		for deadline := time.Now().Add(10 * time.Second); !gone(pid); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Errorf("the writer %d outlived its SIGKILL by 10s", pid)
				return
			}
		}
	})
	st, _ := l.settle(t)
	n := st.Node(id("ci"))
	if n.Status != surface.Errored || !strings.Contains(n.Reason, "output cut") {
		t.Errorf("ci = %s (%q), want error: output cut while a process still wrote to it", n.Status, n.Reason)
	}
}

// One that escaped the node and holds its output without writing leaves
// the pipe empty at the cut: the log has everything, and the node keeps
// its recipe's verdict.
func TestOutputCutWhileSilentKeepsTheVerdict(t *testing.T) {
	t.Setenv("ODU_NO_CGROUP", "1")
	l := start(t, `
[metadata("ci")]
ci:
    #!/bin/sh
    setsid env -i /bin/sh -c 'echo $$ > holder.pid; exec sleep 60' &
    while [ ! -s holder.pid ]; do sleep 0.01; done
    echo done
`, 1)
	pid := pidFile(t, filepath.Join(l.dir, "holder.pid"))
	t.Cleanup(func() {
		syscall.Kill(pid, syscall.SIGKILL)
		for deadline := time.Now().Add(10 * time.Second); !gone(pid); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Errorf("the holder %d outlived its SIGKILL by 10s", pid)
				return
			}
		}
	})
	st, _ := l.settle(t)
	if n := st.Node(id("ci")); n.Status != surface.Success {
		t.Errorf("ci = %s (%q), want success: nothing was written after the cut", n.Status, n.Reason)
	}
	if got, _ := l.log(t, id("ci"), 0); !strings.HasPrefix(string(got), "done\n") || !strings.Contains(string(got), "stopped reading the output") {
		t.Errorf("ci's log = %q, want done, then odu's note of the cut", got)
	}
}
