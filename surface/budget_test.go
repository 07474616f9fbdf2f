package surface_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/odu-ci/odu/surface"
)

// TestFramesShareOneBudget: 8 peers each sending a 32 MiB line at once
// (which took a coordinator from 14 MB to 668 MB, kept) make the server
// hold at most its budget of frame bytes in total, not 8 times MaxFrame;
// every byte is given back once they are gone; and a face attached
// meanwhile is served throughout.
func TestFramesShareOneBudget(t *testing.T) {
	st := newStore(t, "a@p")
	srv := &surface.Server{Name: "test", Version: version, Controller: &ctl{store: st}}
	srv.SetStore(st)
	sctx, stop := context.WithCancel(context.Background())
	var serving sync.WaitGroup
	defer func() { stop(); serving.Wait() }()
	serveConn := func(c net.Conn) {
		serving.Add(1)
		go func() {
			defer serving.Done()
			_ = srv.Serve(sctx, c) // the test asserts on what the peers see
		}()
	}
	a, b := socketpair(t)
	serveConn(a)
	face := client(t, b)

	pad := strings.Repeat("A", surface.MaxFrame-200)
	line := []byte(`{"jsonrpc":"2.0","id":1,"method":"hello","params":{"protocol":1,"version":"` + version + `","x":"` + pad + `"}}` + "\n")
	var peers sync.WaitGroup
	for range 8 {
		a, b := socketpair(t)
		serveConn(a)
		peers.Add(1)
		go func() {
			defer peers.Done()
			defer b.Close()
			go func() { _, _ = io.Copy(io.Discard, b) }() // whatever it is told, until closed
			_, _ = b.Write(line)                          // fails once the server refused it
		}()
	}
	peers.Wait()

	// The face is served, hostile peers or not.
	w, err := face.Watch()
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := w.Next(ctx(t)); err != nil || ev.Snapshot == nil {
		t.Fatalf("the face's state: %+v, %v", ev, err)
	}
	w.Close()
	face.Close()
	stop()
	serving.Wait()

	held, peak := srv.FrameBytes()
	if peak > surface.FrameBudget {
		t.Errorf("the connections held %d bytes of frames at once, over the budget of %d", peak, surface.FrameBudget)
	}
	if peak < surface.MaxFrame {
		t.Errorf("the connections held at most %d bytes of frames: no 32 MiB frame was read, the test tested nothing", peak)
	}
	if held != 0 {
		t.Errorf("%d bytes of frames still held after every connection ended", held)
	}
}

// TestLargeFrameNotKept: a connection that sent one 32 MiB request and
// stays does not keep its buffer: once the next request is read, the
// server holds no frame bytes.
func TestLargeFrameNotKept(t *testing.T) {
	st := newStore(t, "a@p")
	srv := &surface.Server{Name: "test", Version: version, Controller: &ctl{store: st}}
	srv.SetStore(st)
	a, b := socketpair(t)
	sctx, stop := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { _ = srv.Serve(sctx, a); close(served) }() // the test reads its answers
	defer func() { stop(); <-served }()

	pad := strings.Repeat("A", surface.MaxFrame-200)
	// What the server answers, read below, says whether it read this.
	go func() {
		_, _ = b.Write([]byte(`{"jsonrpc":"2.0","id":1,"method":"hello","params":{"protocol":1,"version":"` + version + `","x":"` + pad + `"}}` + "\n" +
			`{"jsonrpc":"2.0","id":2,"method":"nosuch"}` + "\n"))
	}()
	r := bufio.NewReader(b)
	for _, want := range []string{`"id":1,"result"`, `"id":2,"error"`} {
		l, err := r.ReadString('\n')
		if err != nil || !strings.Contains(l, want) {
			t.Fatalf("the server said %q, %v; want %s", l, err, want)
		}
	}
	if held, peak := srv.FrameBytes(); held != 0 || peak < surface.MaxFrame {
		t.Errorf("after a 32 MiB request and a small one, the connection holds %d bytes of frames (the most: %d), want 0", held, peak)
	}
}
