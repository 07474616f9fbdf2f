package runner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/odu-ci/odu/dag"
	"github.com/odu-ci/odu/internal/odutest"
	"github.com/odu-ci/odu/platform"
	"github.com/odu-ci/odu/proc"
	"github.com/odu-ci/odu/runner"
	"github.com/odu-ci/odu/surface"
)

func TestMain(m *testing.M) { odutest.Main(m) }

// recorder keeps every byte the runner wrote, to check the frames after.
type recorder struct {
	r  io.Reader
	mu sync.Mutex
	b  bytes.Buffer
}

func (rec *recorder) Read(p []byte) (int, error) {
	n, err := rec.r.Read(p)
	rec.mu.Lock()
	rec.b.Write(p[:n])
	rec.mu.Unlock()
	return n, err
}

// frames returns the messages the runner wrote so far, decoded.
func (rec *recorder) frames(t *testing.T) []map[string]json.RawMessage {
	t.Helper()
	rec.mu.Lock()
	data := bytes.Clone(rec.b.Bytes())
	rec.mu.Unlock()
	var out []map[string]json.RawMessage
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("the runner wrote a frame that is not JSON: %.80q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

type pipeConn struct {
	io.Reader
	io.WriteCloser
}

// lane is a real odu runner, started from the built binary, and a client
// of its surface over its stdin and stdout.
type lane struct {
	cl     *surface.Client
	cmd    *exec.Cmd
	rec    *recorder
	dir    string // the workspace
	logDir string // where the runner keeps the logs
	nodes  []surface.NodeSpec
}

// start resolves the justfile in a new workspace and starts a runner for
// its pipeline.
func start(t *testing.T, justfile string, jobs int) *lane {
	t.Helper()
	return startWith(t, justfile, jobs, nil)
}

// startWith is start with a configuration that tweak changes.
func startWith(t *testing.T, justfile string, jobs int, tweak func(*surface.Config)) *lane {
	t.Helper()
	l := launch(t, justfile)
	l.configure(t, jobs, tweak)
	return l
}

// launch starts a runner for justfile, not configured yet.
func launch(t *testing.T, justfile string) *lane {
	t.Helper()
	bin, err := odutest.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "justfile"), []byte(justfile), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	ctx := context.Background()
	_, jf, err := dag.Load(ctx, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	plat := platform.Local()
	pl, err := dag.Resolve(jf, dag.Options{Platforms: []platform.Platform{plat}})
	if err != nil {
		t.Fatal(err)
	}
	var specs []surface.NodeSpec
	for _, n := range pl.Nodes {
		specs = append(specs, surface.NodeSpec{ID: n.ID, Name: n.Name, Recipe: n.Recipe, Deps: n.Deps, Command: n.Command})
	}

	cmd := exec.Command(filepath.Join(bin, "odu"), "runner", "--stdio")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{r: stdout}
	version, err := odutest.Version()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := surface.NewClient(ctx, pipeConn{rec, stdin}, "runner test", version)
	if err != nil {
		t.Fatalf("hello: %v (stderr: %s)", err, stderr.String())
	}
	l := &lane{cl: cl, cmd: cmd, rec: rec, dir: dir, nodes: specs}
	t.Cleanup(func() {
		cl.Close()
		done := make(chan error)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			var exit *exec.ExitError
			if errors.As(err, &exit) && exit.ExitCode() == 66 {
				t.Errorf("the race detector found a race in the runner")
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Errorf("the runner did not exit after its stdin closed")
		}
		if t.Failed() {
			t.Logf("runner stderr:\n%s", stderr.String())
		}
	})
	return l
}

// configure gives the runner its lane, as tweak changes it.
func (l *lane) configure(t *testing.T, jobs int, tweak func(*surface.Config)) {
	t.Helper()
	cfg := surface.Config{
		SHA: "0123456789abcdef0123456789abcdef01234567", Platform: string(platform.Local()),
		Workspace: l.dir, LogDir: filepath.Join(t.TempDir(), "logs"),
		Nodes: l.nodes, Jobs: jobs, GraceMS: 2000,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	l.logDir = cfg.LogDir
	if err := l.cl.Configure(context.Background(), cfg); err != nil {
		t.Fatalf("configure: %v", err)
	}
}

// field decodes a frame's field, the zero value when the frame has none.
func field[T any](t *testing.T, f map[string]json.RawMessage, name string) T {
	t.Helper()
	var v T
	if raw, ok := f[name]; ok {
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("frame's %s %s: %v", name, raw, err)
		}
	}
	return v
}

func id(name string) string { return name + "@" + string(platform.Local()) }

func tctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// settle follows the cell until every node is finished and returns the
// state and the statuses each node went through, in order.
func (l *lane) settle(t *testing.T) (surface.State, map[string][]surface.Status) {
	t.Helper()
	w, err := l.cl.Watch()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	seen := map[string][]surface.Status{}
	for {
		ev, err := w.Next(tctx(t))
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
		if ev.Snapshot != nil {
			for _, n := range ev.Snapshot.Nodes {
				seen[n.ID] = append(seen[n.ID], n.Status)
			}
		}
		if ev.Delta != nil && ev.Delta.Node != nil {
			n := ev.Delta.Node
			if s := seen[n.ID]; len(s) == 0 || s[len(s)-1] != n.Status {
				seen[n.ID] = append(seen[n.ID], n.Status)
			}
		}
		st := w.State()
		done := len(st.Nodes) > 0
		for _, n := range st.Nodes {
			done = done && n.Status.Terminal()
		}
		if done {
			return st, seen
		}
	}
}

func (l *lane) log(t *testing.T, nodeID string, from int64) ([]byte, *surface.LogEnd) {
	t.Helper()
	ls, err := l.cl.Log(surface.NodeLogParams{ID: nodeID, From: from})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for {
		c, err := ls.Next(tctx(t))
		if errors.Is(err, io.EOF) {
			return b.Bytes(), ls.End()
		}
		if err != nil {
			t.Fatalf("log of %s: %v", nodeID, err)
		}
		b.Write(c.Data)
	}
}

const pipeline = `
[metadata("ci")]
ci: test lint
    @echo ci ran

build:
    @echo building
    @sleep 0.2
    @echo built >&2

test: build
    @echo testing

lint: build
    @echo linting
    @exit 3

after-lint: lint
    @echo never
`

func TestRunnerFrames(t *testing.T) {
	l := start(t, pipeline, 4)
	st, seen := l.settle(t)

	want := map[string][]surface.Status{
		"build": {surface.Pending, surface.Running, surface.Success},
		"test":  {surface.Pending, surface.Running, surface.Success},
		"lint":  {surface.Pending, surface.Running, surface.Failure},
		"ci":    {surface.Pending, surface.Skipped}, // lint failed: ci never starts
	}
	// The cell is watched from after configure: a node may already have
	// moved on, so what is seen is the end of the expected sequence.
	for name, statuses := range want {
		if got := seen[id(name)]; len(got) == 0 || !equalStatuses(got, statuses[len(statuses)-min(len(got), len(statuses)):]) {
			t.Errorf("%s went through %v, want the end of %v", name, got, statuses)
		}
	}
	if n := st.Node(id("lint")); n.ExitCode == nil || *n.ExitCode != 3 {
		t.Errorf("lint exit code = %v, want 3", n.ExitCode)
	}
	if n := st.Node(id("ci")); n.Reason != id("lint")+" did not succeed" {
		t.Errorf("ci's reason = %q", n.Reason)
	}

	// Every frame, in order: hello's answer, then the cell's snapshot,
	// then deltas numbered one after another, and no node running before
	// all its dependencies succeeded.
	frames := l.rec.frames(t)
	if len(frames) < 3 {
		t.Fatalf("%d frames", len(frames))
	}
	if _, ok := frames[0]["result"]; !ok {
		t.Errorf("first frame is not hello's answer: %s", frames[0])
	}
	var state surface.State
	snapshots := 0
	for _, f := range frames[1:] {
		method := field[string](t, f, "method")
		switch method {
		case surface.NoteSnapshot:
			n := field[surface.SnapshotNote](t, f, "params")
			if snapshots == 0 && state.Seq != 0 {
				t.Errorf("a delta came before the first snapshot")
			}
			snapshots++
			state = n.State
		case surface.NoteDelta:
			n := field[surface.DeltaNote](t, f, "params")
			if snapshots == 0 {
				t.Fatalf("delta %d before any snapshot", n.Delta.Seq)
			}
			if n.Delta.Seq != state.Seq+1 {
				t.Errorf("delta %d follows %d", n.Delta.Seq, state.Seq)
			}
			if node := n.Delta.Node; node != nil && node.Status == surface.Running {
				for _, d := range node.Deps {
					if dep := state.Node(d); dep == nil || dep.Status != surface.Success {
						t.Errorf("%s started while its dependency %s was %v", node.ID, d, dep)
					}
				}
			}
			state.Apply(n.Delta)
		}
	}
	if snapshots != 1 {
		t.Errorf("%d snapshots on one stream, want 1", snapshots)
	}

	// A late subscriber gets the whole state and the whole log, with the
	// end mark at the size the node reported.
	build := st.Node(id("build"))
	got, end := l.log(t, id("build"), 0)
	if string(got) != "building\nbuilt\n" {
		t.Errorf("build's log = %q", got)
	}
	if !end.Finished || end.End != build.LogSize {
		t.Errorf("end of build's log = %+v, want finished at %d", end, build.LogSize)
	}
	if got, _ := l.log(t, id("build"), 9); string(got) != "built\n" {
		t.Errorf("build's log from 9 = %q", got)
	}
	// A node that never ran has an empty, finished log: a follower of
	// it gets to its end.
	if got, end := l.log(t, id("ci"), 0); len(got) != 0 || !end.Finished {
		t.Errorf("skipped ci's log = %q, %+v; want empty and finished", got, end)
	}
	if _, err := l.cl.Rerun(tctx(t), "nope@x"); err == nil || !strings.Contains(err.Error(), "no node nope@x") {
		t.Errorf("rerun of an unknown node: %v", err)
	}
	// A log of an unknown node: the stream ends at once, saying so.
	ls, err := l.cl.Log(surface.NodeLogParams{ID: "nope@x"})
	if err != nil {
		t.Fatal(err)
	}
	var e *surface.Error
	if c, err := ls.Next(tctx(t)); !errors.As(err, &e) || e.Code != surface.CodeUnknownNode || e.Message != "no node nope@x" {
		t.Errorf("log of an unknown node = %+v, %v; want error code %d, no node nope@x", c, err, surface.CodeUnknownNode)
	}
}

func equalStatuses(a, b []surface.Status) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRerunResetsDependentsAndLog(t *testing.T) {
	l := start(t, `
[metadata("ci")]
ci: test
    @echo ci

build:
    @echo build run $(cat count 2>/dev/null || echo 0)
    @echo $(( $(cat count 2>/dev/null || echo 0) + 1 )) > count

test: build
    @echo test

other:
    @echo other
`, 2)
	l.settle(t)
	reset, err := l.cl.Rerun(tctx(t), id("build"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(reset, " ") != strings.Join([]string{id("build"), id("test"), id("ci")}, " ") {
		t.Errorf("rerun reset %v", reset)
	}
	st, _ := l.settle(t)
	for _, name := range []string{"build", "test", "ci"} {
		if n := st.Node(id(name)); n.Status != surface.Success || n.Attempt != 2 {
			t.Errorf("%s after rerun: %s, attempt %d; want success, attempt 2", name, n.Status, n.Attempt)
		}
	}
	if got, end := l.log(t, id("build"), 0); string(got) != "build run 1\n" || end.Attempt != 2 {
		t.Errorf("build's log after rerun = %q (attempt %d), want only the second run's", got, end.Attempt)
	}
}

// pidFile waits for a recipe to write a pid into a file and returns it.
func pidFile(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		data, err := os.ReadFile(path)
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && perr == nil {
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no pid in %s", path)
	return 0
}

// gone reports whether a process has exited: it no longer exists, or is
// a zombie waiting for init to reap it.
func gone(pid int) bool {
	state, _, ok := proc.Stat(strconv.Itoa(pid))
	return !ok || state == "Z"
}

// A recipe that starts a grandchild in the background and waits: cancel
// kills the whole tree. It prints before it writes the pid file the test
// waits for, so that its output is in the pipe when the cancel comes.
const tree = `
[metadata("ci")]
ci: slow
    @echo ci

slow:
    #!/bin/sh
    sleep 300 &
    echo started
    echo $! > grandchild.pid
    wait
`

func TestCancelKillsTheProcessTree(t *testing.T) {
	l := start(t, tree, 2)
	pid := pidFile(t, filepath.Join(l.dir, "grandchild.pid"))
	if err := l.cl.CancelNode(tctx(t), id("slow")); err != nil {
		t.Fatal(err)
	}
	st, _ := l.settle(t)
	if n := st.Node(id("slow")); n.Status != surface.Cancelled {
		t.Errorf("slow = %s, want cancelled", n.Status)
	}
	if n := st.Node(id("ci")); n.Status != surface.Skipped {
		t.Errorf("ci = %s, want skipped", n.Status)
	}
	if !gone(pid) {
		t.Errorf("the recipe's grandchild %d survived the cancel", pid)
		syscall.Kill(pid, syscall.SIGKILL)
	}
	// just may add a line about the signal, if it is quick enough.
	if got, _ := l.log(t, id("slow"), 0); !strings.HasPrefix(string(got), "started\n") {
		t.Errorf("slow's log = %q", got)
	}
}

// TestCancelBeforeConfigure: a cancel of the run that reaches the runner
// before its nodes (the coordinator's cancel races the lane's start) is
// kept: once configured, nothing runs and every node says it was
// cancelled. It was answered and forgotten, and the run went on.
func TestCancelBeforeConfigure(t *testing.T) {
	l := launch(t, `
[metadata("ci")]
ci: a
    @echo ci > ran-ci

a:
    @echo a > ran-a
`)
	if err := l.cl.CancelRun(tctx(t)); err != nil {
		t.Fatal(err)
	}
	l.configure(t, 2, nil)
	st, _ := l.settle(t)
	for _, n := range st.Nodes {
		if n.Status != surface.Cancelled {
			t.Errorf("%s = %s, want cancelled: the run was cancelled before it was configured", n.ID, n.Status)
		}
	}
	for _, f := range []string{"ran-a", "ran-ci"} {
		if _, err := os.Stat(filepath.Join(l.dir, f)); err == nil {
			t.Errorf("%s exists: a recipe ran after the run was cancelled", f)
		}
	}
}

// TestKilledJustLeavesNoTempDir: a shebang recipe's script is written by
// just into a temporary directory that just removes as it exits; a node
// cancelled past its grace has just killed, and the directory stays. The
// runner gives just one of the node's own, removed once the node's
// processes are gone.
func TestKilledJustLeavesNoTempDir(t *testing.T) {
	l := startWith(t, `
[metadata("ci")]
ci: stuck

stuck:
    #!/bin/sh
    trap '' TERM
    echo "$JUST_TEMPDIR" > tempdir.txt
    echo started
    while true; do sleep 0.05; done
`, 1, func(c *surface.Config) { c.GraceMS = 200 })
	for {
		if data, err := os.ReadFile(filepath.Join(l.dir, "tempdir.txt")); err == nil && len(data) > 0 {
			break
		}
		if tctx(t).Err() != nil {
			t.Fatal("the recipe never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := l.cl.CancelNode(tctx(t), id("stuck")); err != nil {
		t.Fatal(err)
	}
	st, _ := l.settle(t)
	if n := st.Node(id("stuck")); n.Status != surface.Cancelled {
		t.Errorf("stuck = %s, want cancelled", n.Status)
	}
	data, err := os.ReadFile(filepath.Join(l.dir, "tempdir.txt"))
	if err != nil {
		t.Fatal(err)
	}
	dir := strings.TrimSpace(string(data))
	if dir == "" {
		t.Fatal("the recipe ran with no JUST_TEMPDIR: just's script went to the system's temporary directory, where a killed just leaves it")
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		entries, _ := os.ReadDir(dir)
		os.RemoveAll(dir)
		t.Errorf("the node's temporary directory %s is left after the node ended (%v, holding %d entries)", dir, err, len(entries))
	}
}

func TestCoordinatorGoneStopsEverything(t *testing.T) {
	l := start(t, tree, 2)
	pid := pidFile(t, filepath.Join(l.dir, "grandchild.pid"))
	l.cl.Close() // the coordinator's end of stdin and stdout
	done := make(chan struct{})
	go func() { l.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the runner did not exit when its stdin closed")
	}
	if !gone(pid) {
		t.Errorf("the recipe's grandchild %d survived the runner", pid)
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

func TestLeftoversOfAFinishedRecipeAreStopped(t *testing.T) {
	l := start(t, `
[metadata("ci")]
ci:
    #!/bin/sh
    sleep 300 > /dev/null 2>&1 &
    echo $! > leftover.pid
`, 1)
	st, _ := l.settle(t)
	if n := st.Node(id("ci")); n.Status != surface.Success {
		t.Errorf("ci = %s, want success", n.Status)
	}
	if pid := pidFile(t, filepath.Join(l.dir, "leftover.pid")); !gone(pid) {
		t.Errorf("the background process %d outlived its recipe", pid)
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

func TestJobsBoundParallelism(t *testing.T) {
	// Three independent nodes with one slot: never two running at once.
	l := start(t, `
[metadata("ci")]
ci: a b c

a:
    @sleep 0.1
b:
    @sleep 0.1
c:
    @sleep 0.1
`, 1)
	l.settle(t)
	var state surface.State
	for _, f := range l.rec.frames(t) {
		method := field[string](t, f, "method")
		var n surface.DeltaNote
		switch method {
		case surface.NoteSnapshot:
			s := field[surface.SnapshotNote](t, f, "params")
			state = s.State
			continue
		case surface.NoteDelta:
			n = field[surface.DeltaNote](t, f, "params")
		default:
			continue
		}
		state.Apply(n.Delta)
		running := 0
		for _, node := range state.Nodes {
			if node.Status == surface.Running {
				running++
			}
		}
		if running > 1 {
			t.Fatalf("%d nodes running at once with --jobs 1", running)
		}
	}
}

// A node that could not be started has odu's line as its log's first
// line, not after a blank one: there is no output to set it apart from.
func TestUnstartableNodeLogStartsWithOdusLine(t *testing.T) {
	l := startWith(t, "[metadata(\"ci\")]\nci:\n    @echo never\n", 1, func(cfg *surface.Config) {
		cfg.Nodes[0].Command = []string{filepath.Join(t.TempDir(), "no-such-program")}
	})
	st, _ := l.settle(t)
	n := st.Node(id("ci"))
	if n.Status != surface.Errored {
		t.Fatalf("ci = %s, want error: its command does not exist", n.Status)
	}
	data, _ := l.log(t, id("ci"), 0)
	if want := "[odu] " + n.Reason + "\n"; string(data) != want {
		t.Errorf("ci's log = %q, want %q", data, want)
	}
	if strings.Count(n.Reason, "no-such-program") != 1 {
		t.Errorf("ci's reason %q names the program more than once", n.Reason)
	}
}

// A GitHub token in the runner's own environment (a build host's, where
// the user exported one) does not reach a recipe either.
func TestRecipesSeeNoTokenOfTheRunnersEnvironment(t *testing.T) {
	for _, name := range runner.TokenVars {
		t.Setenv(name, "ghp_hostToken_"+name)
	}
	t.Setenv("ODU_TEST_KEPT", "kept")
	l := start(t, "[metadata(\"ci\")]\nci:\n    @env\n", 1)
	st, _ := l.settle(t)
	if n := st.Node(id("ci")); n.Status != surface.Success {
		t.Fatalf("ci = %s, want success", n.Status)
	}
	data, _ := l.log(t, id("ci"), 0)
	if !bytes.Contains(data, []byte("ODU_TEST_KEPT=kept\n")) {
		t.Fatalf("ci's log lacks the runner's other variables: %q", data)
	}
	if bytes.Contains(data, []byte("ghp_hostToken_")) {
		t.Errorf("a recipe saw a token of the runner's environment: %q", data)
	}
}
