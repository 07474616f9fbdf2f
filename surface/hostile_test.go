package surface_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odu-ci/odu/surface"
)

// hostileServer serves a store to every connection made with dial, with
// a write timeout, and says what it logs on said.
type hostileServer struct {
	srv  *surface.Server
	ctl  *ctl
	ctx  context.Context
	wg   sync.WaitGroup
	said chan string
}

func newHostileServer(t *testing.T, store *surface.Store, timeout time.Duration) *hostileServer {
	ctx, cancel := context.WithCancel(context.Background())
	h := &hostileServer{ctx: ctx, ctl: &ctl{store: store}, said: make(chan string, 16)}
	h.srv = &surface.Server{Name: "test", Version: version, Controller: h.ctl, WriteTimeout: timeout,
		Logf: func(format string, a ...any) {
			select {
			case h.said <- fmt.Sprintf(format, a...):
			default:
				t.Errorf("the server said more than the test reads: "+format, a...)
			}
		}}
	h.srv.SetStore(store)
	t.Cleanup(func() {
		cancel()
		h.wg.Wait()
	})
	return h
}

// dial connects a new peer to the server over a Unix socket pair.
func (h *hostileServer) dial(t *testing.T) net.Conn {
	c, _ := h.connect(t, true)
	return c
}

// connect connects a new peer to the server over a Unix socket pair, and
// returns what Serve returns for it. Without deadlines, the server sees
// a connection that takes none (as a pipe's): it cannot time out its
// writes, and so never takes that peer for stalled however slowly it
// reads.
func (h *hostileServer) connect(t *testing.T, deadlines bool) (net.Conn, <-chan error) {
	a, b := socketpair(t)
	var rwc io.ReadWriteCloser = a
	if !deadlines {
		rwc = noDeadlines{a}
	}
	served := make(chan error, 1)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		served <- h.srv.Serve(h.ctx, rwc)
	}()
	t.Cleanup(func() { b.Close() })
	return b, served
}

// noDeadlines hides a connection's deadlines.
type noDeadlines struct{ io.ReadWriteCloser }

// heard returns what the server logs next.
func (h *hostileServer) heard(t *testing.T, what string) string {
	t.Helper()
	return await(t, h.said, what)
}

const helloFrame = `{"jsonrpc":"2.0","id":1,"method":"hello","params":{"protocol":1,"version":"test-1","client":"%s"}}` + "\n"

// produce makes n transitions of the store's nodes and writes a log, then
// ends the run.
func produce(st *surface.Store, ids []string, n int) {
	statuses := []surface.Status{surface.Running, surface.Pending}
	for i := 0; i < n; i++ {
		id := ids[i%len(ids)]
		st.UpdateNode(id, func(x *surface.Node) { x.Status, x.Attempt = statuses[i%2], i })
		if i%10 == 0 {
			fmt.Fprintf(st.Log(id), "line %d of %s: %s\n", i, id, strings.Repeat("x", 4000))
		}
	}
	for _, id := range ids {
		st.UpdateNode(id, func(x *surface.Node) { x.Status = surface.Success })
		st.Log(id).Finish()
	}
	st.Close()
}

// watchAll follows the cell to its end and returns every delta's seq and
// the final state.
// It closes subscribed once it has the first snapshot.
func watchAll(t *testing.T, cl *surface.Client, subscribed chan struct{}) ([]uint64, surface.State) {
	t.Helper()
	w, err := cl.Watch()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var seqs []uint64
	c := ctx(t)
	for {
		ev, err := w.Next(c)
		if errors.Is(err, io.EOF) {
			return seqs, w.State()
		}
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
		if ev.Snapshot != nil && subscribed != nil {
			close(subscribed)
			subscribed = nil
		}
		if ev.Delta != nil {
			seqs = append(seqs, ev.Delta.Seq)
		}
	}
}

// watchProduce has cl follow the cell while the store goes through n
// transitions to the run's end, and returns what watchAll saw.
func watchProduce(t *testing.T, cl *surface.Client, st *surface.Store, ids []string, n int) ([]uint64, surface.State) {
	t.Helper()
	subscribed, failed := make(chan struct{}), make(chan struct{})
	defer close(failed) // if watchAll fails before the snapshot: no producer is left waiting
	go func() {
		select {
		case <-subscribed:
			produce(st, ids, n)
		case <-failed:
		}
	}()
	return watchAll(t, cl, subscribed)
}

// TestStalledClientDisconnected: a client that asks for a big log and the
// cell and then reads nothing holds up neither the run nor another
// client, which sees every change and the whole log; the stalled one is
// disconnected, and the server says so.
func TestStalledClientDisconnected(t *testing.T) {
	ids := []string{"a@p", "b@p"}
	st := newStore(t, ids...)
	// A log far larger than what a socket buffers.
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	for range 8 {
		write(t, st.Log("a@p"), big)
	}
	h := newHostileServer(t, st, time.Second)

	stalled := h.dial(t)
	fmt.Fprintf(stalled, helloFrame, "stalled")
	write(t, stalled, `{"jsonrpc":"2.0","id":2,"method":"nodeLog.get","params":{"id":"a@p"}}`+"\n")
	write(t, stalled, `{"jsonrpc":"2.0","id":3,"method":"nodes.get"}`+"\n")

	// The good client's connection takes no deadlines: busy on loaded
	// cores, it is never taken for a stalled one. It shares the server,
	// its store and its run with the stalled one.
	goodConn, _ := h.connect(t, false)
	good := client(t, goodConn)
	seqs, final := watchProduce(t, good, st, ids, 2000)
	if len(seqs) < 2000 {
		t.Errorf("the good client saw %d changes, want every one of 2000 and more", len(seqs))
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("the good client got delta %d after %d", seqs[i], seqs[i-1])
		}
	}
	if len(final.Nodes) != len(ids) {
		t.Errorf("the good client ended with %d nodes, want %d", len(final.Nodes), len(ids))
	}
	for _, n := range final.Nodes {
		if n.Status != surface.Success {
			t.Errorf("the good client ended with %s %s", n.ID, n.Status)
		}
	}
	ls, err := good.Log(surface.NodeLogParams{ID: "a@p"})
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, ls); !strings.HasPrefix(string(got), big) || len(got) < 8*len(big) {
		t.Errorf("the good client got %d bytes of a's log", len(got))
	}

	said := h.heard(t, "the server saying it disconnected the stalled client")
	if want := "disconnected a client (stalled) that read nothing for 1s"; said != want {
		t.Errorf("the server said %q, want %q", said, want)
	}
	// The stalled client finds its connection closed once it reads.
	if err := stalled.SetReadDeadline(deadline(t)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReaderSize(stalled, 1<<20)
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Errorf("reading the stalled connection: %v", err)
	}
}

// flood is what a flooding client did: the frames it wrote, and the
// write error that stopped it, if one did.
type flood struct {
	frames int
	err    error
}

// TestFloodingClient: a client that sends requests as fast as it can,
// whether it reads the answers or not, does not keep another client
// from seeing every change to the end; one that reads its answers is
// served throughout.
func TestFloodingClient(t *testing.T) {
	for _, reads := range []bool{true, false} {
		t.Run(fmt.Sprintf("reads=%v", reads), func(t *testing.T) {
			ids := []string{"a@p", "b@p", "c@p"}
			st := newStore(t, ids...)
			h := newHostileServer(t, st, 10*time.Second)
			// One that reads its answers needs no write timeout to be
			// served: it takes no deadlines, so that it cannot be cut
			// for reading slowly on loaded cores.
			floodConn, _ := h.connect(t, !reads)
			// The flood has begun once the server has answered that
			// many of its requests (reads), or it has written that
			// many (not reads).
			const begun = 1024
			flooding := make(chan struct{})
			var once sync.Once
			if reads {
				go func() {
					r := bufio.NewReader(floodConn)
					for n := 0; ; n++ {
						if _, err := r.ReadSlice('\n'); err != nil && !errors.Is(err, bufio.ErrBufferFull) {
							return
						}
						if n == begun {
							once.Do(func() { close(flooding) })
						}
					}
				}()
			}
			fmt.Fprintf(floodConn, helloFrame, "flood")
			stop := make(chan struct{})
			flooded := make(chan flood, 1)
			go func() {
				w := bufio.NewWriter(floodConn)
				n, sent := 0, 0
				var err error
				defer func() { flooded <- flood{sent, err} }()
				for i := 10; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					switch i % 4 {
					case 0:
						_, err = fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%d,"method":"nodes.get"}`+"\n", i)
					case 1:
						_, err = fmt.Fprintf(w, `{"jsonrpc":"2.0","method":"stream.cancel","params":{"id":%d}}`+"\n", i-1)
					case 2:
						_, err = fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%d,"method":"nodeLog.get","params":{"id":"a@p","no_follow":true}}`+"\n", i)
					case 3:
						_, err = fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%d,"method":"no.such"}`+"\n", i)
					}
					n++
					if err == nil && i%64 == 0 {
						if err = w.Flush(); err == nil {
							sent = n
						}
					}
					if err != nil {
						return // disconnected
					}
					if !reads && sent >= begun {
						once.Do(func() { close(flooding) })
					}
				}
			}()
			// The good client watches the run while the flood goes on.
			timer := time.NewTimer(time.Until(deadline(t)))
			defer timer.Stop()
			select {
			case <-flooding:
			case f := <-flooded:
				t.Fatalf("the flooding client stopped before its flood began, after %d frames: %v", f.frames, f.err)
			case <-timer.C:
				t.Fatal("the flood did not begin by the test's deadline")
			}

			goodConn, _ := h.connect(t, false)
			good := client(t, goodConn)
			seqs, final := watchProduce(t, good, st, ids, 1000)
			close(stop)
			if !reads {
				floodConn.Close() // its writes may wait on a server that stopped reading it
			}
			f := await(t, flooded, "the flooding client stopping")
			if reads && f.err != nil {
				t.Errorf("the flooding client, which reads its answers, was cut off after %d frames: %v", f.frames, f.err)
			}
			if len(seqs) < 1000 {
				t.Fatalf("the good client saw %d changes, want every one of 1000 and more", len(seqs))
			}
			for i := 1; i < len(seqs); i++ {
				if seqs[i] != seqs[i-1]+1 {
					t.Fatalf("the good client got delta %d after %d", seqs[i], seqs[i-1])
				}
			}
			if final.Seq != st.Snapshot().Seq {
				t.Errorf("the good client ended at seq %d, the store at %d", final.Seq, st.Snapshot().Seq)
			}
			if len(final.Nodes) != len(ids) {
				t.Errorf("the good client ended with %d nodes, want %d", len(final.Nodes), len(ids))
			}
			for _, n := range final.Nodes {
				if n.Status != surface.Success {
					t.Errorf("the good client ended with %s %s", n.ID, n.Status)
				}
			}
			floodConn.Close()
		})
	}
}

// TestClientToldWhyDisconnected: a client that the real server
// disconnects, here for a frame the server has no room for, is told why,
// and reports it as why its connection ended.
func TestClientToldWhyDisconnected(t *testing.T) {
	st := newStore(t, "a@p")
	h := newHostileServer(t, st, 0)

	// A peer holds most of the server's frame budget in an unfinished
	// frame of 30 MiB. Its write returns once the server has read all
	// but what the socket buffers (a few hundred KiB): past 16 MiB, so
	// the server holds a frame buffer of MaxFrame for it.
	hoarder, _ := h.connect(t, true)
	if err := hoarder.SetWriteDeadline(deadline(t)); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(hoarder, helloFrame, "hoarder")
	if _, err := hoarder.Write(bytes.Repeat([]byte("x"), 30<<20)); err != nil {
		t.Fatalf("the hoarder's frame: %v", err)
	}
	if held, _ := h.srv.FrameBytes(); held < surface.MaxFrame {
		t.Fatalf("the server holds %d bytes of frames, want the hoarder's %d", held, surface.MaxFrame)
	}

	// A client asks for a rerun of a node with a 20 MiB name: there is
	// no room left for the frame.
	conn, served := h.connect(t, true)
	cl := client(t, conn)
	_, err := cl.Rerun(ctx(t), strings.Repeat("n", 20<<20))
	want := fmt.Sprintf("bytes of frames, of the %d they may hold at once", surface.FrameBudget)
	var d *surface.DisconnectedError
	if !errors.As(err, &d) || !strings.HasPrefix(d.Reason, "refused a frame of over ") || !strings.HasSuffix(d.Reason, want) {
		t.Errorf("the client's rerun returned %v, want the server's reason: refused a frame of over ... %s", err, want)
	}
	if err := cl.Err(); !errors.As(err, &d) || !strings.HasSuffix(d.Reason, want) {
		t.Errorf("the client's Err() = %v, want the server's reason", err)
	}
	var busy *surface.BusyError
	if err := await(t, served, "Serve of the client returning"); !errors.As(err, &busy) {
		t.Errorf("Serve of the client returned %v, want a *BusyError", err)
	}
	if said := h.heard(t, "the server saying it disconnected the client"); !strings.HasPrefix(said, "disconnected a client (test client): refused a frame of over ") {
		t.Errorf("the server said %q, want that it disconnected the test client for its frame", said)
	}
	if got := h.ctl.Asked(); len(got) != 0 {
		t.Errorf("the refused rerun reached the controller: %q", got)
	}
}

// TestSilentPeerTakenForGone: a server with a read timeout (a detached
// runner) closes a connection whose peer says nothing for that long (a
// coordinator behind a link that died without a word), and keeps one
// whose peer pings.
func TestSilentPeerTakenForGone(t *testing.T) {
	store := newStore(t, "a@p")
	h := newHostileServer(t, store, 0)
	// Pings come every 10 ms: only a peer starved for 200 times as long
	// would be taken for gone.
	h.srv.ReadTimeout = 2 * time.Second

	connect := func(name string) (*surface.Client, <-chan error) {
		conn, served := h.connect(t, true)
		cl, err := surface.NewClient(ctx(t), conn, name, version)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Close() })
		return cl, served
	}
	silent, silentServed := connect("silent")
	pinging, _ := connect("pinging")
	stop, pinged := make(chan struct{}), make(chan error, 1)
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				pinged <- nil
				return
			case <-tick.C:
			}
			if err := pinging.Ping(); err != nil {
				pinged <- err
				return
			}
		}
	}()

	gone := func(cl *surface.Client, served <-chan error, name string) {
		t.Helper()
		await(t, cl.Done(), "the server closing the "+name+" client's connection")
		if err := await(t, served, "Serve of the "+name+" client returning"); err == nil || err.Error() != "the peer said nothing for 2s: taken for gone" {
			t.Errorf("Serve of the %s client returned %v, want it taken for gone", name, err)
		}
	}
	gone(silent, silentServed, "silent")
	// A second silent client, which connects once the pinging one has
	// outlived the first: when it is taken for gone, the pinging one has
	// been connected for more than a read timeout since, pinging.
	silent2, silent2Served := connect("second silent")
	gone(silent2, silent2Served, "second silent")
	close(stop)
	if err := await(t, pinged, "the pinging client stopping"); err != nil {
		t.Fatalf("ping: %v", err)
	}
	select {
	case <-pinging.Done():
		t.Fatalf("a client that pinged was disconnected: %v", pinging.Err())
	default:
	}
	if reset, err := pinging.Rerun(ctx(t), "a@p"); err != nil || len(reset) != 1 || reset[0] != "a@p" {
		t.Fatalf("the pinging client's rerun = %v, %v; want its connection served, [a@p]", reset, err)
	}
	if got := h.ctl.Asked(); len(got) != 1 || got[0] != "rerun a@p" {
		t.Errorf("the controller was asked %q, want the pinging client's rerun", got)
	}
}
