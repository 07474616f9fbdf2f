package runner_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odu-ci/odu/dag"
	"github.com/odu-ci/odu/internal/odutest"
	"github.com/odu-ci/odu/platform"
	"github.com/odu-ci/odu/surface"
)

// attachRunner runs `odu runner --attach DIR` (what a coordinator's SSH
// session runs) and returns a client of the detached runner through it.
func attachRunner(t *testing.T, dir string, args ...string) (*surface.Client, *exec.Cmd) {
	t.Helper()
	bin, err := odutest.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(bin, "odu"), append([]string{"runner", "--attach", dir}, args...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	version, err := odutest.Version()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := surface.NewClient(tctx(t), pipeConn{stdout, stdin}, "runner test", version)
	if err != nil {
		t.Fatalf("hello through the bridge: %v", err)
	}
	return cl, cmd
}

// A detached runner outlives the connection that configured it: a second
// connection configures it again (a no-op), sees the node still running
// and its whole log; with nobody attached for the idle bound it stops the
// node's process tree and exits, saying why.
func TestDetachedRunnerOutlivesItsConnections(t *testing.T) {
	bin, err := odutest.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	ws := t.TempDir()
	if err := os.WriteFile(filepath.Join(ws, "justfile"), []byte(tree), 0o644); err != nil {
		t.Fatal(err)
	}
	_, jf, err := dag.Load(context.Background(), ws, "")
	if err != nil {
		t.Fatal(err)
	}
	pl, err := dag.Resolve(jf, dag.Options{Platforms: []platform.Platform{platform.Local()}})
	if err != nil {
		t.Fatal(err)
	}
	var specs []surface.NodeSpec
	for _, n := range pl.Nodes {
		specs = append(specs, surface.NodeSpec{ID: n.ID, Name: n.Name, Recipe: n.Recipe, Deps: n.Deps, Command: n.Command})
	}
	laneDir := filepath.Join(t.TempDir(), "lane")
	cfg := surface.Config{
		SHA: "0123456789abcdef0123456789abcdef01234567", Platform: string(platform.Local()),
		Workspace: ws, LogDir: laneDir, Nodes: specs, Jobs: 2, GraceMS: 2000,
		Run: surface.Run{Started: time.Now()},
	}

	cl, bridge := attachRunner(t, laneDir, "--idle", "2s", "--finished-idle", "1s")
	if err := cl.Configure(tctx(t), cfg); err != nil {
		t.Fatalf("configure: %v", err)
	}
	pid := pidFile(t, filepath.Join(ws, "grandchild.pid"))
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	cl.Close()
	if err := bridge.Wait(); err != nil {
		t.Errorf("the bridge ended with %v", err)
	}
	runnerPID, err := os.ReadFile(filepath.Join(laneDir, "runner.pid"))
	if err != nil {
		t.Fatalf("the runner left no pid file: %v", err)
	}
	rpid, _ := strconv.Atoi(strings.TrimSpace(string(runnerPID)))
	if gone(rpid) || gone(pid) {
		t.Fatalf("the runner (%v gone) or its node (%v gone) ended with the first connection", gone(rpid), gone(pid))
	}
	if fi, err := os.Stat(filepath.Join(laneDir, "runner.sock")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("runner.sock: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}

	cl2, bridge2 := attachRunner(t, laneDir, "--existing")
	cfg2 := cfg
	cfg2.Run.Started = time.Now() // another coordinator
	if err := cl2.Configure(tctx(t), cfg2); err != nil {
		t.Fatalf("configure again: %v", err)
	}
	w, err := cl2.Watch()
	if err != nil {
		t.Fatal(err)
	}
	ev, err := w.Next(tctx(t))
	if err != nil || ev.Snapshot == nil {
		t.Fatalf("first event: %v, %v", ev, err)
	}
	w.Close()
	if got := ev.Snapshot.Run.Started; !got.Equal(cfg.Run.Started) {
		t.Errorf("the runner's run started %v, want the first coordinator's %v", got, cfg.Run.Started)
	}
	if n := ev.Snapshot.Node(id("slow")); n == nil || n.Status != surface.Running {
		t.Errorf("slow = %v, want running", n)
	}
	ls, err := cl2.Log(surface.NodeLogParams{ID: id("slow"), NoFollow: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	for {
		c, err := ls.Next(tctx(t))
		if err != nil {
			break
		}
		got = append(got, c.Data...)
	}
	if string(got) != "started\n" {
		t.Errorf("slow's log through the second connection = %q, want %q", got, "started\n")
	}
	cl2.Close()
	bridge2.Wait()

	// Nobody attached: after 2 s the runner stops the tree and exits.
	deadline := time.Now().Add(30 * time.Second)
	for !gone(rpid) || !gone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("30 s later, runner gone: %v, grandchild gone: %v", gone(rpid), gone(pid))
		}
		time.Sleep(50 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(laneDir, ".runner.log"))
	if !strings.Contains(string(log), "stopping every node and exiting: no coordinator was attached for 2s, with nodes unfinished") {
		t.Errorf(".runner.log does not say why it exited:\n%s", log)
	}

	// --existing finds none now, and says so with its exit code.
	cmd := exec.Command(filepath.Join(bin, "odu"), "runner", "--attach", laneDir, "--existing")
	err = cmd.Run()
	if exit := (*exec.ExitError)(nil); !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Errorf("odu runner --attach --existing with no runner: %v, want exit 3", err)
	}
}

// Starting a runner on a host removes the workspaces there that nobody
// used for the pruning bound, and only those.
func TestAttachPrunesStaleWorkspaces(t *testing.T) {
	bin, err := odutest.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(t.TempDir(), "odu", "work", "repo-0123abcd")
	old, fresh := filepath.Join(repo, "old"), filepath.Join(repo, "fresh")
	for _, d := range []string{old, old + ".logs/x86_64-linux", fresh, fresh + ".logs/x86_64-linux"} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, ws := range []string{old, fresh} {
		if err := os.WriteFile(filepath.Join(ws, ".odu-ready"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-8 * 24 * time.Hour)
	if err := os.Chtimes(filepath.Join(old, ".odu-ready"), long, long); err != nil {
		t.Fatal(err)
	}
	laneDir := filepath.Join(repo, "current.logs", "x86_64-linux")
	cmd := exec.Command(filepath.Join(bin, "odu"), "runner", "--attach", laneDir, "--finished-idle", "1s")
	var stderr strings.Builder
	cmd.Stderr = &stderr // stdin: /dev/null, so the bridge ends at once
	if err := cmd.Run(); err != nil {
		t.Fatalf("odu runner --attach: %v: %s", err, stderr.String())
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("the workspace unused for 8 days is still there (%v); stderr: %s", err, stderr.String())
	}
	if _, err := os.Stat(old + ".logs"); !os.IsNotExist(err) {
		t.Errorf("its logs are still there: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("the workspace used just now was removed: %v", err)
	}
	if !strings.Contains(stderr.String(), "removed workspace "+old+", unused for more than 168h0m0s") {
		t.Errorf("attach did not say what it removed: %s", stderr.String())
	}
	// The runner it started, never configured, exits after 1 s.
	deadline := time.Now().Add(30 * time.Second)
	for {
		log, _ := os.ReadFile(filepath.Join(laneDir, ".runner.log"))
		if strings.Contains(string(log), "odu runner: exited") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the runner did not exit:\n%s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
