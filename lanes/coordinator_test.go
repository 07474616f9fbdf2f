package lanes_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odu-ci/odu/dag"
	"github.com/odu-ci/odu/internal/odutest"
	"github.com/odu-ci/odu/lanes"
	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/platform"
	"github.com/odu-ci/odu/surface"
)

func TestMain(m *testing.M) { odutest.Main(m) }

const sha = "0123456789abcdef0123456789abcdef01234567"

// start runs a coordinator for the justfile with a real local runner
// (the built odu binary, or exe when given).
func start(t *testing.T, justfile, exe string) (*lanes.Coordinator, string) {
	return startWith(t, justfile, exe, false)
}

// startWith is start, copying the logs' bytes over the surface if copy.
func startWith(t *testing.T, justfile, exe string, copyLogs bool) (*lanes.Coordinator, string) {
	t.Helper()
	return startPrepared(t, justfile, exe, copyLogs, nil)
}

// startPrepared is startWith, calling prepare with the repository root
// before the coordinator starts.
func startPrepared(t *testing.T, justfile, exe string, copyLogs bool, prepare func(root string)) (*lanes.Coordinator, string) {
	t.Helper()
	bin, err := odutest.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	if exe == "" {
		exe = filepath.Join(bin, "odu")
	}
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "justfile"), []byte(justfile), 0o644); err != nil {
		t.Fatal(err)
	}
	_, jf, err := dag.Load(context.Background(), root, "")
	if err != nil {
		t.Fatal(err)
	}
	pl, err := dag.Resolve(jf, dag.Options{Platforms: []platform.Platform{platform.Local()}})
	if err != nil {
		t.Fatal(err)
	}
	version, err := odutest.Version()
	if err != nil {
		t.Fatal(err)
	}
	if prepare != nil {
		prepare(root)
	}
	c, err := lanes.Start(context.Background(), lanes.Options{
		Root: root, Pipeline: pl, SHA: sha, Workspace: root, WorkDir: t.TempDir(),
		Jobs: 4, Grace: 2 * time.Second, Exe: exe, Version: version, Env: os.Environ(), CopyLogs: copyLogs,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-c.Ended():
		default:
			finish(t, c)
		}
		c.CloseLogs()
	})
	return c, root
}

// finish ends the run, and fails the test when its record could not be
// written.
func finish(t *testing.T, c *lanes.Coordinator) surface.State {
	t.Helper()
	st, _, err := c.Finish()
	if err != nil {
		t.Errorf("finish the run: %v", err)
	}
	return st
}

// watch follows the merged store until every node finished, checking at
// each change that a finished node's log is whole on disk, and returns
// the node statuses in the order they were published.
func watch(t *testing.T, c *lanes.Coordinator, root string) []string {
	t.Helper()
	st := c.Store()
	snap := st.Snapshot()
	seq := snap.Seq
	status := map[string]surface.Status{}
	for _, n := range snap.Nodes {
		status[n.ID] = n.Status
	}
	var order []string
	deadline := time.After(60 * time.Second)
	for {
		deltas, reset, wait, _ := st.Since(seq)
		if reset != nil {
			t.Fatal("fell behind the store")
		}
		for _, d := range deltas {
			seq = d.Seq
			n := d.Node
			if n == nil {
				continue
			}
			status[n.ID] = n.Status
			order = append(order, strings.Split(n.ID, "@")[0]+" "+string(n.Status))
			if n.Status.Terminal() {
				fi, err := os.Stat(filepath.Join(root, n.Log))
				if err != nil || fi.Size() != n.LogSize {
					t.Errorf("%s published %s with log_size %d while its log holds %v", n.ID, n.Status, n.LogSize, fi.Size())
				}
			}
		}
		done := true // as far as the changes seen say
		for _, s := range status {
			done = done && s.Terminal()
		}
		if done {
			return order
		}
		select {
		case <-wait:
		case <-deadline:
			t.Fatalf("the run did not finish; published so far: %v", order)
		}
	}
}

func TestFinishedOnlyWithWholeLogsInOrder(t *testing.T) {
	for _, copyLogs := range []bool{false, true} {
		t.Run(map[bool]string{false: "shared", true: "copied"}[copyLogs], func(t *testing.T) {
			testWholeLogsInOrder(t, copyLogs)
		})
	}
}

func testWholeLogsInOrder(t *testing.T, copyLogs bool) {
	c, root := startWith(t, `
[metadata("ci")]
ci: big fail
    @echo ci

big:
    @seq 1 300000

fail:
    @seq 1 200000
    @exit 1
`, "", copyLogs)
	order := watch(t, c, root)
	// ci is skipped only after fail is published failed.
	failed, skipped := -1, -1
	for i, o := range order {
		switch o {
		case "fail failure":
			failed = i
		case "ci skipped":
			skipped = i
		}
	}
	if failed < 0 || skipped < failed {
		t.Errorf("published in the order %v: ci skipped before fail failed", order)
	}
	st, _, err := c.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if n := st.Node("big@" + string(platform.Local())); n.Status != surface.Success || n.LogSize != 1988895 {
		t.Errorf("big = %s with %d log bytes, want success with the 1988895 bytes of seq 1 300000", n.Status, n.LogSize)
	}
}

func TestRerunRestartsTheCoordinatorsLog(t *testing.T) {
	for _, copyLogs := range []bool{false, true} {
		t.Run(map[bool]string{false: "shared", true: "copied"}[copyLogs], func(t *testing.T) {
			testRerunRestartsLog(t, copyLogs)
		})
	}
}

func testRerunRestartsLog(t *testing.T, copyLogs bool) {
	c, root := startWith(t, `
[metadata("ci")]
ci:
    @echo run $(ls runs 2>/dev/null | wc -l); mkdir -p runs; touch runs/$$
`, "", copyLogs)
	watch(t, c, root)
	id := "ci@" + string(platform.Local())
	if _, err := c.Rerun(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	// Wait for the rerun to finish.
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, _ := c.Store().Node(id)
		if n.Attempt == 2 && n.Status.Terminal() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rerun did not finish: %+v", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	n, _ := c.Store().Node(id)
	data, _ := os.ReadFile(filepath.Join(root, n.Log))
	if string(data) != "run 1\n" || n.LogSize != int64(len(data)) {
		t.Errorf("after the rerun the coordinator's log holds %q (log_size %d), want only the second run's", data, n.LogSize)
	}
}

func TestLaneThatCannotStart(t *testing.T) {
	c, root := start(t, "[metadata(\"ci\")]\nci:\n    @echo ci\n", "/bin/false")
	watch(t, c, root)
	st := finish(t, c)
	n := st.Nodes[0]
	if n.Status != surface.Errored || !strings.Contains(n.Reason, "start the runner") {
		t.Errorf("node of a lane whose runner exits at once = %s (%q), want error", n.Status, n.Reason)
	}
	if data, _ := os.ReadFile(filepath.Join(root, n.Log)); !strings.Contains(string(data), "[odu] lane "+string(platform.Local())+" on localhost: start the runner") {
		t.Errorf("its log = %q, want the reason", data)
	}
	if l := st.Lanes[0]; l.Phase != surface.PhaseFailed || !strings.Contains(l.Error, "start the runner") {
		t.Errorf("lane = %+v, want failed, saying why", l)
	}
}

// TestLogWriteFailureHoldsUpNothing: when the coordinator cannot write a
// node's copy of its log (here the file is /dev/full, as a full disk
// would be), that node ends in error with its log truncated, and the
// lane's other nodes still finish and are published.
func TestLogWriteFailureHoldsUpNothing(t *testing.T) {
	jf := "[metadata(\"ci\")]\nall: a b\n\na:\n    @echo xxxxx; sleep 0.5\n\nb:\n    @sleep 1.5; echo done\n"
	c, _ := startPrepared(t, jf, "", true, func(root string) {
		p := filepath.Join(root, runstate.RunLogRel(sha, 1, string(platform.Local()), "a")) // the first run's
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		// /dev/full mounted on the log's file (odu follows no link to
		// it): every write fails with ENOSPC.
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mount("/dev/full", p, "", syscall.MS_BIND, ""); err != nil {
			t.Fatalf("bind-mount /dev/full on %s (needs root): %v", p, err)
		}
		t.Cleanup(func() {
			if err := syscall.Unmount(p, 0); err != nil {
				if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil {
					t.Errorf("unmount /dev/full from %s: %v", p, err)
				}
			}
		})
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c.Wait(ctx)
	if ctx.Err() != nil {
		t.Fatal("the run did not finish: a failed log held up the lane")
	}
	st := c.Store().Snapshot()
	// all has no body: it only groups a and b, and is no node.
	want := map[string]surface.Status{"a": surface.Errored, "b": surface.Success}
	if len(st.Nodes) != len(want) {
		t.Errorf("the run has %d nodes, want %d: %v", len(st.Nodes), len(want), st.Nodes)
	}
	for _, n := range st.Nodes {
		name := strings.Split(n.ID, "@")[0]
		w, ok := want[name]
		if !ok {
			t.Errorf("the run has a node %s it should not have", n.ID)
		}
		delete(want, name) // a node twice is reported as unwanted
		if n.Status != w {
			t.Errorf("%s ended %s (%s), want %s", n.ID, n.Status, n.Reason, w)
		}
		if name == "a" && !strings.HasPrefix(n.Reason, "log truncated: ") {
			t.Errorf("a's reason is %q, want log truncated: ...", n.Reason)
		}
	}
}
