package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/odu-ci/odu/internal/odutest"
	"github.com/odu-ci/odu/surface"
)

// TestProgressShowsEveryTransition: `odu run --progress json` shows each
// node's every transition, pending → running → success, however fast the
// node: nodes that run `true` take a few milliseconds, and finished
// before the coordinator subscribed to its runner, which then showed
// them going from pending to success. Many runs, since it was a race.
func TestProgressShowsEveryTransition(t *testing.T) {
	bin, err := odutest.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	const width = 8
	var jf strings.Builder
	jf.WriteString("[metadata(\"ci\")]\nci:")
	for i := range width {
		fmt.Fprintf(&jf, " n%d", i)
	}
	jf.WriteString("\n    @true\n")
	for i := range width {
		fmt.Fprintf(&jf, "n%d:\n    @true\n", i)
	}
	if err := os.WriteFile(filepath.Join(dir, "justfile"), []byte(jf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "XDG_CACHE_HOME="+t.TempDir())
	env = append(env, odutest.GitEnv(t.TempDir())...)
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-q", "-m", "c"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	want := []string{"pending", "running", "success"}
	for run := range 15 {
		cmd := exec.Command(filepath.Join(bin, "odu"), "run", "--no-strict", "--progress", "json")
		cmd.Dir, cmd.Env = dir, env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("run %d: odu run: %v\n%s", run, err, stderr.Bytes())
		}
		seen := map[string][]string{}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			var tr struct{ Node, Status, Event string }
			if err := json.Unmarshal(sc.Bytes(), &tr); err != nil {
				t.Fatalf("run %d: a line that is not JSON: %q", run, sc.Text())
			}
			if tr.Event == "" {
				seen[tr.Node] = append(seen[tr.Node], tr.Status)
			}
		}
		if len(seen) != width+1 {
			t.Fatalf("run %d: transitions of %d nodes, want %d:\n%s", run, len(seen), width+1, out)
		}
		for node, got := range seen {
			if !slices.Equal(got, want) {
				t.Errorf("run %d: %s went %v, want %v", run, node, got, want)
			}
		}
	}
}

// TestFollowShowsEveryTransitionAfterFallingBehind: a face that falls so
// far behind that it is sent a fresh state instead of the changes it
// missed still shows every transition, in order, not only each node's
// latest: b's running, between thousands of other changes, too.
func TestFollowShowsEveryTransitionAfterFallingBehind(t *testing.T) {
	store, b, ctx := servedStore(t)

	p := &gatedPrinter{started: make(chan struct{}), entered: make(chan struct{}), gate: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := show(ctx, b, p)
		done <- err
	}()
	<-p.started
	store.UpdateNode("a@p", func(n *surface.Node) { n.Status = surface.Running })
	<-p.entered
	// b's running comes between many more changes than the server keeps
	// for a face, and than the connection buffers.
	for i := range 20_000 {
		if i == 10_000 {
			store.UpdateNode("b@p", func(n *surface.Node) { n.Status = surface.Running })
		}
		store.UpdateNode("b@p", func(n *surface.Node) { n.DurationMS = int64(i) })
	}
	store.UpdateNode("b@p", func(n *surface.Node) { n.Status = surface.Success })
	store.UpdateNode("a@p", func(n *surface.Node) { n.Status = surface.Failure })
	store.Close()
	close(p.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := []string{"a@p running 1", "b@p running 1", "b@p success 1", "a@p failure 1"}
	if !slices.Equal(p.changes, want) {
		t.Errorf("the face showed %q, want %q", p.changes, want)
	}
}
