package surface_test

import (
	"bufio"
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

// server serves store to every connection made with dial, with a write
// timeout, and records what it logs.
type hostileServer struct {
	srv  *surface.Server
	ctx  context.Context
	wg   sync.WaitGroup
	said chan string
}

func newHostileServer(t *testing.T, store *surface.Store, timeout time.Duration) *hostileServer {
	ctx, cancel := context.WithCancel(context.Background())
	h := &hostileServer{ctx: ctx, said: make(chan string, 16)}
	h.srv = &surface.Server{Name: "test", Version: version, Controller: &ctl{store: store}, WriteTimeout: timeout,
		Logf: func(format string, a ...any) {
			h.said <- fmt.Sprintf(format, a...)
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
	a, b := socketpair(t)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		_ = h.srv.Serve(h.ctx, a) // how it ended, the server says in said
	}()
	t.Cleanup(func() { b.Close() })
	return b
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
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
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
	subscribed := make(chan struct{})
	go func() {
		<-subscribed
		produce(st, ids, n)
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
	// Long enough that the good client, busy on loaded cores, is never
	// taken for a stalled one.
	h := newHostileServer(t, st, 2*time.Second)

	stalled := h.dial(t)
	fmt.Fprintf(stalled, helloFrame, "stalled")
	write(t, stalled, `{"jsonrpc":"2.0","id":2,"method":"nodeLog.get","params":{"id":"a@p"}}`+"\n")
	write(t, stalled, `{"jsonrpc":"2.0","id":3,"method":"nodes.get"}`+"\n")

	good := client(t, h.dial(t))
	seqs, final := watchProduce(t, good, st, ids, 2000)
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("the good client got delta %d after %d", seqs[i], seqs[i-1])
		}
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

	said := <-h.said
	if want := "disconnected a client (stalled) that read nothing for 2s"; said != want {
		t.Errorf("the server said %q, want %q", said, want)
	}
	// The stalled client finds its connection closed once it reads.
	r := bufio.NewReaderSize(stalled, 1<<20)
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Errorf("reading the stalled connection: %v", err)
	}
}

// TestFloodingClient: a client that sends requests as fast as it can,
// whether it reads the answers or not, does not keep another client
// from seeing every change to the end.
func TestFloodingClient(t *testing.T) {
	for _, reads := range []bool{true, false} {
		t.Run(fmt.Sprintf("reads=%v", reads), func(t *testing.T) {
			ids := []string{"a@p", "b@p", "c@p"}
			st := newStore(t, ids...)
			h := newHostileServer(t, st, 10*time.Second)
			flood := h.dial(t)
			if reads {
				go func() { _, _ = io.Copy(io.Discard, flood) }() // until the server closes
			}
			fmt.Fprintf(flood, helloFrame, "flood")
			stop := make(chan struct{})
			flooded := make(chan int)
			go func() {
				w := bufio.NewWriter(flood)
				n := 0
				defer func() { flooded <- n }()
				for i := 10; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					var err error
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
					if err == nil && i%64 == 0 {
						err = w.Flush()
					}
					if err != nil {
						return // disconnected
					}
					n++
				}
			}()

			good := client(t, h.dial(t))
			seqs, final := watchProduce(t, good, st, ids, 1000)
			close(stop)
			t.Logf("the flooding client sent %d frames", <-flooded)
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
			for _, n := range final.Nodes {
				if n.Status != surface.Success {
					t.Errorf("the good client ended with %s %s", n.ID, n.Status)
				}
			}
			flood.Close()
		})
	}
}

// TestClientToldWhyDisconnected: a client that gets the server's last
// word reports it as why its connection ended.
func TestClientToldWhyDisconnected(t *testing.T) {
	a, b := socketpair(t)
	defer a.Close()
	go func() {
		r := bufio.NewReader(a)
		if _, err := r.ReadString('\n'); err != nil {
			t.Errorf("read the client's hello: %v", err)
			return
		}
		write(t, a, `{"jsonrpc":"2.0","id":1,"result":{"protocol":1,"version":"test-1","server":"test"}}`+"\n")
		write(t, a, `{"jsonrpc":"2.0","method":"server.disconnect","params":{"reason":"the peer read nothing for 30s"}}`+"\n")
	}()
	cl := client(t, b)
	<-cl.Done()
	var d *surface.DisconnectedError
	if err := cl.Err(); !errors.As(err, &d) || d.Reason != "the peer read nothing for 30s" {
		t.Errorf("Err() = %v, want the server's reason", err)
	}
}

// TestSilentPeerTakenForGone: a server with a read timeout (a detached
// runner) closes a connection whose peer says nothing for that long (a
// coordinator behind a link that died without a word), and keeps one
// whose peer pings.
func TestSilentPeerTakenForGone(t *testing.T) {
	store := newStore(t, "a@p")
	h := newHostileServer(t, store, 0)
	h.srv.ReadTimeout = time.Second

	silent, err := surface.NewClient(context.Background(), h.dial(t), "silent", version)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	pinging, err := surface.NewClient(context.Background(), h.dial(t), "pinging", version)
	if err != nil {
		t.Fatal(err)
	}
	defer pinging.Close()
	stop, pinged := make(chan struct{}), make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				pinged <- nil
				return
			case <-time.After(100 * time.Millisecond):
			}
			if err := pinging.Ping(); err != nil {
				pinged <- err
				return
			}
		}
	}()

	select {
	case <-silent.Done():
	case <-time.After(time.Minute):
		t.Fatal("a client that said nothing is still connected after a minute")
	}
	// The pinging one outlives the silent one by several read timeouts.
	time.Sleep(3 * time.Second)
	close(stop)
	if err := <-pinged; err != nil {
		t.Fatalf("ping: %v", err)
	}
	select {
	case <-pinging.Done():
		t.Fatalf("a client that pinged was disconnected: %v", pinging.Err())
	default:
	}
	if _, err := pinging.Rerun(context.Background(), "a@p"); err != nil && pinging.Err() != nil {
		t.Fatalf("the pinging client's connection ended: %v", err)
	}
}
