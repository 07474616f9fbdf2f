package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/surface"
)

// recordClient serves a recorded run, one that is over, as a surface
// over an in-memory connection: its state as the record keeps it, its
// logs from their files, and no procedure (a rerun or a cancel is
// refused: the run is over). `odu monitor --run` shows it so, read-only,
// with the faces it has for a live run. done closes it.
func recordClient(ctx context.Context, root string, last runstate.Last) (*surface.Client, func(), error) {
	st := last.State
	store, err := surface.NewStore(st.Run, st.Nodes, func(n surface.Node) (*surface.Log, error) {
		return surface.OpenLogFile(filepath.Join(root, n.Log), n.Attempt)
	})
	if err != nil {
		return nil, nil, err
	}
	for _, l := range st.Lanes {
		store.SetLane(l)
		if l.Log == "" {
			continue
		}
		if setup, err := surface.OpenLogFile(filepath.Join(root, l.Log), 1); err == nil {
			store.AddLog(surface.SetupID(l.Platform), setup)
		}
	}
	store.Close() // the run is over: a watch ends after its snapshot
	srv := &surface.Server{Name: "coordinator", Version: version(), Controller: readOnly{ref: st.Run.Ref}}
	srv.SetStore(store)
	ctx, cancel := context.WithCancel(ctx)
	a, b := net.Pipe()
	var serving sync.WaitGroup
	serving.Go(func() { _ = srv.Serve(ctx, struct{ io.ReadWriteCloser }{a}) })
	stop := func() {
		cancel()
		a.Close()
		b.Close()
		serving.Wait()
		store.CloseLogs()
	}
	cl, err := surface.NewClient(ctx, b, "odu monitor", version())
	if err != nil {
		stop()
		return nil, nil, err
	}
	return cl, func() { cl.Close(); stop() }, nil
}

// recordWatch follows a recorded run (see [recordClient]): its snapshot,
// then the end.
func recordWatch(ctx context.Context, root string, last runstate.Last) (*surface.Watch, func(), error) {
	cl, done, err := recordClient(ctx, root, last)
	if err != nil {
		return nil, nil, err
	}
	w, err := cl.Watch()
	if err != nil {
		done()
		return nil, nil, fmt.Errorf("show run %s: %w", last.State.Run.Ref, err)
	}
	return w, func() { w.Close(); done() }, nil
}

// readOnly refuses every procedure: the run it stands for is over.
type readOnly struct{ ref string }

func (r readOnly) refused() error {
	return &surface.Error{Code: surface.CodeRefused,
		Message: "run " + r.ref + " is over: it is shown from its record, read-only (start a new run with `odu run`)"}
}

func (r readOnly) Configure(context.Context, surface.Config) error { return r.refused() }

func (r readOnly) Rerun(context.Context, string) (surface.RerunResult, error) {
	return surface.RerunResult{}, r.refused()
}

func (r readOnly) CancelNode(context.Context, string) (surface.CancelResult, error) {
	return surface.CancelResult{}, r.refused()
}

func (r readOnly) CancelRun(context.Context) error { return r.refused() }

// recordLogOf opens a node's log (or a lane's setup log) from a recorded
// run's state, for the dashboard's log pane.
func recordLogOf(root string, st surface.State) func(run surface.Run, id string) (io.ReadCloser, error) {
	return func(run surface.Run, id string) (io.ReadCloser, error) {
		if !sameRun(st.Run, run) {
			return nil, errors.New("not the run shown")
		}
		return openRecordedLog(root, st, id)
	}
}

// openRecordedLog opens the log of node (or lane setup log) id of a
// recorded run's state.
func openRecordedLog(root string, st surface.State, id string) (io.ReadCloser, error) {
	_, path, err := pickLog(st, id)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(root, path))
	if err != nil {
		return nil, fmt.Errorf("read the log of %s: %w", id, err)
	}
	return f, nil
}
