package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/odu-ci/odu/surface"
)

// gatedPrinter records the changes it is shown; the first one waits for
// gate, so that the face falls behind the run.
type gatedPrinter struct {
	started chan struct{} // closed at start
	entered chan struct{} // closed when the first change waits
	gate    chan struct{}
	once    sync.Once
	mu      sync.Mutex
	changes []string
}

func (g *gatedPrinter) start(surface.State) { close(g.started) }
func (g *gatedPrinter) tick(surface.State)  {}
func (g *gatedPrinter) end(surface.State)   {}
func (g *gatedPrinter) change(n surface.Node) {
	g.once.Do(func() { close(g.entered); <-g.gate })
	g.mu.Lock()
	defer g.mu.Unlock()
	g.changes = append(g.changes, fmt.Sprintf("%s %s %d", n.ID, n.Status, n.Attempt))
}

// noControl refuses every procedure: the test only follows the cell.
type noControl struct{}

var errNoControl = errors.New("no procedures here")

func (noControl) Configure(context.Context, surface.Config) error { return errNoControl }
func (noControl) Rerun(context.Context, string) (surface.RerunResult, error) {
	return surface.RerunResult{}, errNoControl
}
func (noControl) CancelNode(context.Context, string) (surface.CancelResult, error) {
	return surface.CancelResult{}, errNoControl
}
func (noControl) CancelRun(context.Context) error { return errNoControl }

// servedStore serves a store of two pending nodes, a@p and b@p, to the
// connection it returns, until the test ends.
func servedStore(t *testing.T) (*surface.Store, net.Conn, context.Context) {
	t.Helper()
	dir := t.TempDir()
	nodes := []surface.Node{{ID: "a@p", Name: "a", Status: surface.Pending, Attempt: 1}, {ID: "b@p", Name: "b", Status: surface.Pending, Attempt: 1}}
	store, err := surface.NewStore(surface.Run{SHA: "abc"}, nodes, func(n surface.Node) (*surface.Log, error) {
		return surface.OpenLog(filepath.Join(dir, surface.LogName(n.Name)))
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := &surface.Server{Name: "coordinator", Version: version(), Controller: noControl{}}
	srv.SetStore(store)
	a, b := net.Pipe()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ctx, a) // until the test's cleanup cancels ctx
	}()
	t.Cleanup(func() {
		cancel()
		<-served
		store.CloseLogs()
	})
	return store, b, ctx
}

// TestFollowShowsChangesAfterASnapshot: a face that falls so far behind
// that the server sends it a fresh snapshot instead of the changes it
// missed (odu monitor -o json into a slow consumer) still shows the
// transitions of the nodes that changed meanwhile.
func TestFollowShowsChangesAfterASnapshot(t *testing.T) {
	store, b, ctx := servedStore(t)

	p := &gatedPrinter{started: make(chan struct{}), entered: make(chan struct{}), gate: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := show(ctx, b, p)
		done <- err
	}()
	// a starts; the face is shown it and waits there. Then b goes
	// through many more changes than the server keeps for a face.
	<-p.started
	store.UpdateNode("a@p", func(n *surface.Node) { n.Status = surface.Running })
	<-p.entered
	for i := range 6000 {
		store.UpdateNode("b@p", func(n *surface.Node) { n.DurationMS = int64(i) })
	}
	store.UpdateNode("b@p", func(n *surface.Node) { n.Status = surface.Success })
	store.UpdateNode("a@p", func(n *surface.Node) { n.Status = surface.Failure })
	store.Close()
	close(p.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"a@p running 1", "b@p success 1", "a@p failure 1"} {
		if !slices.Contains(p.changes, want) {
			t.Errorf("the face never showed %q; it showed %q", want, p.changes)
		}
	}
}
