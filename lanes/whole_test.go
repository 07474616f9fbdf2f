package lanes_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odu-ci/odu/internal/odutest"
	"github.com/odu-ci/odu/platform"
	"github.com/odu-ci/odu/surface"
)

// A test binary started with ODU_LANES_TEST_RUNNER set is a runner odu
// cannot vouch for, which reports every node green: "short" says each
// log is longer than the one it serves; "elsewhere" says at hello that it
// runs on another platform than this machine's.
func init() {
	mode := os.Getenv("ODU_LANES_TEST_RUNNER")
	if mode == "" {
		return
	}
	srv := &surface.Server{Name: "runner", Version: os.Getenv("ODU_LANES_TEST_VERSION"), Platform: string(platform.Local())}
	r := &lyingRunner{srv: srv}
	switch mode {
	case "short":
		r.extra = 100
	case "elsewhere":
		srv.Platform = string(otherPlatform())
	}
	srv.Controller = r
	// How the link ended is for the coordinator under test to say.
	_ = srv.Serve(context.Background(), struct {
		io.Reader
		io.WriteCloser
	}{os.Stdin, os.Stdout})
	os.Exit(0)
}

type lyingRunner struct {
	srv   *surface.Server
	extra int64 // bytes it claims its logs have beyond those it serves
}

func (r *lyingRunner) Configure(_ context.Context, cfg surface.Config) error {
	var nodes []surface.Node
	for _, s := range cfg.Nodes {
		nodes = append(nodes, surface.Node{ID: s.ID, Name: s.Name, Recipe: s.Recipe, Platform: cfg.Platform,
			Deps: s.Deps, Command: s.Command, Status: surface.Pending, Attempt: 1})
	}
	if err := os.MkdirAll(cfg.LogDir, 0o700); err != nil {
		return err
	}
	store, err := surface.NewStore(cfg.Run, nodes, func(n surface.Node) (*surface.Log, error) {
		return surface.OpenLog(filepath.Join(cfg.LogDir, surface.LogName(n.Name)))
	})
	if err != nil {
		return err
	}
	r.srv.SetStore(store)
	go func() {
		for _, n := range nodes {
			log := store.Log(n.ID)
			if _, err := log.Write([]byte("the first line of two\n")); err != nil {
				// A runner whose log is short of what it means to lie
				// about tests nothing: it goes, and the test with it.
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			log.Finish()
			zero := 0
			store.UpdateNode(n.ID, func(x *surface.Node) {
				x.Status, x.ExitCode, x.LogSize = surface.Success, &zero, log.Status().Size+r.extra
			})
		}
	}()
	return nil
}

func (*lyingRunner) Rerun(context.Context, string) (surface.RerunResult, error) {
	return surface.RerunResult{}, nil
}
func (*lyingRunner) CancelNode(context.Context, string) (surface.CancelResult, error) {
	return surface.CancelResult{}, nil
}
func (*lyingRunner) CancelRun(context.Context) error { return nil }

// TestSuccessOnlyWithWholeLog: a node the runner reports green is
// published green only when its whole log (as long as the runner says it
// is) reached the coordinator; else it is an error that says so.
func TestSuccessOnlyWithWholeLog(t *testing.T) {
	version, err := odutest.Version()
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("ODU_LANES_TEST_RUNNER", "short")
	t.Setenv("ODU_LANES_TEST_VERSION", version)
	for _, copyLogs := range []bool{false, true} {
		c, root := startWith(t, "[metadata(\"ci\")]\nci:\n    @echo ci\n", exe, copyLogs)
		order := watch(t, c, root)
		st := c.Store().Snapshot()
		for _, n := range st.Nodes {
			if n.Status != surface.Errored || !strings.Contains(n.Reason, "log incomplete") {
				t.Errorf("copy logs %v: %s ended %s (%q), want error: log incomplete; published: %v", copyLogs, n.ID, n.Status, n.Reason, order)
			}
		}
	}
}

// TestRunnerOfAnotherPlatform: a runner that says at hello it runs on
// another platform than its lane's is not given the lane: its nodes are
// errors that say why, never green.
func TestRunnerOfAnotherPlatform(t *testing.T) {
	version, err := odutest.Version()
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("ODU_LANES_TEST_RUNNER", "elsewhere")
	t.Setenv("ODU_LANES_TEST_VERSION", version)
	c, root := startWith(t, "[metadata(\"ci\")]\nci:\n    @echo ci\n", exe, false)
	order := watch(t, c, root)
	want := "runs on " + string(otherPlatform()) + ", not on the lane's platform " + string(platform.Local())
	for _, n := range c.Store().Snapshot().Nodes {
		if n.Status != surface.Errored || !strings.Contains(n.Reason, want) {
			t.Errorf("%s ended %s (%q), want error: %s; published: %v", n.ID, n.Status, n.Reason, want, order)
		}
	}
}

// otherPlatform is a known platform that is not this machine's.
func otherPlatform() platform.Platform {
	for _, p := range platform.Known() {
		if p != platform.Local() {
			return p
		}
	}
	return "none-other"
}
