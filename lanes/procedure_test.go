package lanes_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odu-ci/odu/lanes"
	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/surface"
)

// serveRun serves the coordinator's surface on the checkout's socket and
// ends as `odu run` does: once every node finished, it finishes the run,
// then stops serving. It returns a channel that gets Finish's error when
// all that is done.
func serveRun(t *testing.T, c *lanes.Coordinator, root string) <-chan error {
	t.Helper()
	ln, err := runstate.Listen(root, runstate.RunningError{PID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	srv := &surface.Server{Name: "coordinator", Version: c.Store().Run().Version, Controller: c}
	srv.SetStore(c.Store())
	ctx, stopServing := context.WithCancel(context.Background())
	var serving sync.WaitGroup
	serving.Add(1)
	go func() {
		defer serving.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			serving.Add(1)
			go func() {
				defer serving.Done()
				_ = srv.Serve(ctx, conn) // the test asserts on what the face sees
			}()
		}
	}()
	done := make(chan error, 1)
	go func() {
		c.Wait(context.Background())
		_, _, err := c.Finish()
		ln.Close()
		stopServing()
		serving.Wait()
		done <- err
	}()
	return done
}

// TestCancelOfTheLastNodeIsAnswered: `odu cancel NODE` of the run's last
// live node ends the run; its reply must reach the face all the same,
// not `connection closed` (the run stopped its runner, and its socket,
// while the reply was on its way). Many runs, since it is a race: the
// deterministic half is surface's TestStoppingServerAnswersProceduresInFlight.
func TestCancelOfTheLastNodeIsAnswered(t *testing.T) {
	const justfile = "[metadata(\"ci\")]\nhold:\n    @echo holding\n    @sleep 30\n"
	for run := range 12 {
		c, root := start(t, justfile, "")
		version := c.Store().Run().Version
		done := serveRun(t, c, root)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cl, err := runstate.Dial(ctx, root, "test", version)
		if err != nil {
			t.Fatal(err)
		}
		id := c.Store().Snapshot().Nodes[0].ID
		waitStatus(t, c.Store(), id, surface.Running)
		if err := cl.CancelNode(ctx, id); err != nil {
			t.Errorf("run %d: cancel %s: %v, though the node was cancelled", run, id, err)
		}
		cl.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run %d: finish the run: %v", run, err)
			}
		case <-ctx.Done():
			t.Fatalf("run %d: the run did not end", run)
		}
		if n, _ := c.Store().Node(id); n.Status != surface.Cancelled {
			t.Errorf("run %d: %s ended %s, want cancelled", run, id, n.Status)
		}
		cancel()
	}
}

// waitStatus waits until the store's node id has status.
func waitStatus(t *testing.T, st *surface.Store, id string, status surface.Status) {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		n, _ := st.Node(id)
		if n.Status == status {
			return
		}
		_, _, wait, _ := st.Since(st.Snapshot().Seq)
		select {
		case <-wait:
		case <-deadline:
			t.Fatalf("%s did not become %s; it is %s", id, status, n.Status)
		}
	}
}

// TestRunEndWaitsForForwardedReplies: the run ending while a procedure
// it forwarded to a lane's runner is in flight (a cancel the runner
// answers once the node stopped, here after its grace, for it ignores
// SIGTERM) keeps the lane's link until the reply came, and the procedure
// is answered, not failed with `connection closed`.
func TestRunEndWaitsForForwardedReplies(t *testing.T) {
	const justfile = "[metadata(\"ci\")]\nhold:\n    #!/bin/sh\n    trap 'echo got TERM' TERM\n    echo holding\n    while true; do sleep 0.05; done\n"
	c, root := start(t, justfile, "")
	n := c.Store().Snapshot().Nodes[0]
	log := filepath.Join(root, n.Log)
	waitLog(t, log, "holding") // its trap is set
	replied := make(chan error, 1)
	go func() {
		_, err := c.CancelNode(context.Background(), n.ID)
		replied <- err
	}()
	waitLog(t, log, "got TERM") // the runner has the cancel
	finish(t, c)
	if err := <-replied; err != nil {
		t.Errorf("cancel %s, in flight when the run ended: %v", n.ID, err)
	}
}

// waitLog waits until the log file holds s.
func waitLog(t *testing.T, log, s string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		data, _ := os.ReadFile(log)
		if strings.Contains(string(data), s) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not say %q within a minute; it holds:\n%s", log, s, data)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSettledRunRefusesRerunAndCancel: once every node finished (Wait
// returned) the run ends only at Finish, which `odu run` calls after
// flushing its posts to GitHub (up to --post-timeout). A rerun in that
// window would restart a node the record then has as never finishing,
// and a cancel would make a completed run exit 130: both are refused,
// and the run ends as it settled.
func TestSettledRunRefusesRerunAndCancel(t *testing.T) {
	const justfile = "[metadata(\"ci\")]\nquick:\n    @echo done\n"
	c, _ := start(t, justfile, "")
	id := c.Store().Snapshot().Nodes[0].ID
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	waited := make(chan struct{})
	go func() {
		defer close(waited)
		c.Wait(ctx)
	}()
	select {
	case <-waited:
	case <-ctx.Done():
		t.Fatal("the run did not settle")
	}
	refused := func(what string, err error) {
		t.Helper()
		var se *surface.Error
		if !errors.As(err, &se) || se.Code != surface.CodeRefused || !strings.Contains(se.Message, "the run is over") {
			t.Errorf("%s of a settled run = %v, want refused: the run is over", what, err)
		}
	}
	_, err := c.Rerun(ctx, id)
	refused("rerun "+id, err)
	_, err = c.CancelNode(ctx, id)
	refused("cancel "+id, err)
	refused("cancel of the run", c.CancelRun(ctx))
	st, _, err := c.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if n := st.Nodes[0]; n.Status != surface.Success {
		t.Errorf("%s ended %s (%s), want success: it finished before the rerun", id, n.Status, n.Reason)
	}
	if st.Run.Cancelled {
		t.Errorf("the run was recorded cancelled, though it completed before the cancel")
	}
}
