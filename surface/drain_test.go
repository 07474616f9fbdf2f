package surface_test

import (
	"context"
	"testing"

	"github.com/odu-ci/odu/surface"
)

// gatedCancel is a controller whose CancelNode says it was entered, then
// returns once its gate opens.
type gatedCancel struct {
	ctl
	entered, gate chan struct{}
}

func (g *gatedCancel) CancelNode(ctx context.Context, id string) (surface.CancelResult, error) {
	close(g.entered)
	<-g.gate
	return surface.CancelResult{}, nil
}

// TestStoppingServerAnswersProceduresInFlight: a procedure that is still
// running when the server stops (the cancel of the run's last node, which
// ends the run and so the server) is answered before the connection
// closes.
func TestStoppingServerAnswersProceduresInFlight(t *testing.T) {
	st := newStore(t, "a@p")
	a, b := socketpair(t)
	g := &gatedCancel{entered: make(chan struct{}), gate: make(chan struct{})}
	srv := &surface.Server{Name: "test", Version: version, Controller: g}
	srv.SetStore(st)
	draining := make(chan struct{})
	surface.SetTestHookDraining(func() { close(draining) })
	defer surface.SetTestHookDraining(nil)
	sctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, a) }()
	cl := client(t, b)

	replied := make(chan error, 1)
	go func() { replied <- cl.CancelNode(ctx(t), "a@p") }()
	await(t, g.entered, "the cancel reaching the controller")
	stop()
	// The server either drains (fixed) or closes the connection at once
	// (what lost the reply): the procedure returns only after either.
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		select {
		case <-draining:
		case <-cl.Done():
		}
	}()
	await(t, ended, "the server draining or closing the connection once stopped")
	close(g.gate)
	if err := await(t, replied, "the cancel's reply"); err != nil {
		t.Errorf("CancelNode in flight when the server stopped: %v, want its reply", err)
	}
	if err := await(t, served, "Serve returning"); err != nil {
		t.Errorf("Serve: %v", err)
	}
}
