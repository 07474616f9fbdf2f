package surface_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/odu-ci/odu/internal/odutest"
	"github.com/odu-ci/odu/surface"
)

func TestMain(m *testing.M) { odutest.Main(m) }

const version = "test-1"

// write writes p to w, and fails the test when it cannot: a log or a
// peer that takes less than it was given makes every later check wrong.
// It may be called from any goroutine.
func write[T string | []byte](t testing.TB, w io.Writer, p T) {
	t.Helper()
	if _, err := w.Write([]byte(p)); err != nil {
		t.Errorf("write %.40q: %v", p, err)
	}
}

// ctl is a controller that records what it is asked. The server calls
// it from each request's goroutine.
type ctl struct {
	store *surface.Store
	mu    sync.Mutex
	asked []string
}

func (c *ctl) ask(what string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked = append(c.asked, what)
}

// Asked returns what the controller was asked, in order.
func (c *ctl) Asked() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.asked)
}

func (c *ctl) Configure(context.Context, surface.Config) error {
	c.ask("configure")
	return &surface.Error{Code: surface.CodeNotReady, Message: "not a runner"}
}
func (c *ctl) Rerun(_ context.Context, id string) (surface.RerunResult, error) {
	c.ask("rerun " + id)
	return surface.RerunResult{Reset: []string{id}}, nil
}
func (c *ctl) CancelNode(_ context.Context, id string) (surface.CancelResult, error) {
	c.ask("cancel " + id)
	return surface.CancelResult{}, nil
}
func (c *ctl) CancelRun(context.Context) error { c.ask("cancel run"); return nil }

// serve starts a server on one end of a pipe and returns the other end,
// and a function that stops the server and returns what Serve returned.
func serve(t *testing.T, store *surface.Store) (net.Conn, func() error) {
	t.Helper()
	return serveTo(t, store, &ctl{store: store})
}

// serveTo is serve with the server's controller.
func serveTo(t *testing.T, store *surface.Store, c *ctl) (net.Conn, func() error) {
	t.Helper()
	a, b := socketpair(t)
	srv := &surface.Server{Name: "test", Version: version, Controller: c}
	srv.SetStore(store)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, a) }()
	var result error
	var stopped bool
	stop := func() error {
		if !stopped {
			cancel()
			result, stopped = <-done, true
		}
		return result
	}
	t.Cleanup(func() { _ = stop() }) // a test that asserts how it ended calls stop itself
	return b, stop
}

// socketpair returns the two ends of a connected Unix socket pair: real
// connections, with kernel buffers, as a runner's stdio and the
// coordinator's socket have.
func socketpair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	var conns [2]net.Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	return conns[0], conns[1]
}

func newStore(t *testing.T, ids ...string) *surface.Store {
	t.Helper()
	var nodes []surface.Node
	for _, id := range ids {
		nodes = append(nodes, surface.Node{ID: id, Name: id, Status: surface.Pending, Attempt: 1})
	}
	dir := t.TempDir()
	st, err := surface.NewStore(surface.Run{SHA: "abc"}, nodes, func(n surface.Node) (*surface.Log, error) {
		return surface.OpenLog(filepath.Join(dir, surface.LogName(n.Name)))
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.CloseLogs)
	return st
}

func client(t *testing.T, conn net.Conn) *surface.Client {
	t.Helper()
	cl, err := surface.NewClient(context.Background(), conn, "test client", version)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// deadline is when every wait of t gives up: the test's deadline (go
// test -timeout), less a margin to report which wait it was and clean
// up, or ten minutes from now without one. No wait is bounded by a
// guess of how fast the machine is.
func deadline(t *testing.T) time.Time {
	d, ok := t.Deadline()
	if !ok {
		return time.Now().Add(10 * time.Minute)
	}
	margin := min(time.Until(d)/10, 10*time.Second)
	return d.Add(-margin)
}

// ctx is a context that ends at t's deadline.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithDeadline(context.Background(), deadline(t))
	t.Cleanup(cancel)
	return c
}

// await receives from ch, or fails t at its deadline saying what it was
// waiting for.
func await[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(time.Until(deadline(t)))
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("%s: not by the test's deadline", what)
		var zero T
		return zero
	}
}

func TestCellSnapshotThenDeltas(t *testing.T) {
	st := newStore(t, "a@p", "b@p")
	st.UpdateNode("a@p", func(n *surface.Node) { n.Status = surface.Running })
	conn, _ := serve(t, st)
	w, err := client(t, conn).Watch()
	if err != nil {
		t.Fatal(err)
	}
	ev, err := w.Next(ctx(t))
	if err != nil || ev.Snapshot == nil {
		t.Fatalf("first event = %+v, %v; want a snapshot", ev, err)
	}
	if ev.Snapshot.Seq != 1 || ev.Snapshot.Node("a@p").Status != surface.Running {
		t.Errorf("snapshot = seq %d, a@p %s; want the change made before subscribing (seq 1, running)", ev.Snapshot.Seq, ev.Snapshot.Node("a@p").Status)
	}
	st.UpdateNode("b@p", func(n *surface.Node) { n.Status = surface.Running })
	st.UpdateNode("a@p", func(n *surface.Node) { n.Status = surface.Success })
	st.Close()
	var got []string
	for {
		ev, err := w.Next(ctx(t))
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(rune('0'+ev.Delta.Seq))+" "+ev.Delta.Node.ID+" "+string(ev.Delta.Node.Status))
	}
	want := []string{"2 b@p running", "3 a@p success"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("deltas = %q, want %q", got, want)
	}
	if s := w.State(); s.Node("a@p").Status != surface.Success || s.Node("b@p").Status != surface.Running {
		t.Errorf("state after deltas = %+v", s.Nodes)
	}
}

func TestSinceFarBehindGivesSnapshot(t *testing.T) {
	st := newStore(t, "a@p")
	for range 5000 {
		st.UpdateNode("a@p", func(n *surface.Node) { n.DurationMS++ })
	}
	deltas, reset, _, _ := st.Since(1)
	if reset == nil || deltas != nil || reset.Seq != 5000 || reset.Nodes[0].DurationMS != 5000 {
		t.Fatalf("Since(1) after 5000 changes = %d deltas, reset %+v; want a snapshot at 5000", len(deltas), reset)
	}
	deltas, reset, _, _ = st.Since(4990)
	if reset != nil || len(deltas) != 10 || deltas[0].Seq != 4991 || deltas[9].Seq != 5000 {
		t.Fatalf("Since(4990) = %d deltas (first %d), reset %v; want 4991..5000", len(deltas), deltas[0].Seq, reset)
	}
}

// every byte value, ANSI colours, a carriage-return progress line, and
// invalid UTF-8.
var awkward = []byte("\x1b[32mgreen\x1b[0m\r50%\r100%\n\xff\xfe\x00tail")

func readAll(t *testing.T, ls *surface.LogStream) []byte {
	t.Helper()
	var b bytes.Buffer
	for {
		c, err := ls.Next(ctx(t))
		if errors.Is(err, io.EOF) {
			return b.Bytes()
		}
		if err != nil {
			t.Fatal(err)
		}
		b.Write(c.Data)
	}
}

// A log is followed byte-exact across chunks, and from an offset, as
// base64 in JSON and as a raw stream (NodeLogParams.Raw) alike; after
// raw chunks the connection still speaks JSON-RPC.
func TestLogReplayFollowAndOffsets(t *testing.T) {
	for _, raw := range []bool{false, true} {
		t.Run(fmt.Sprintf("raw=%t", raw), func(t *testing.T) {
			st := newStore(t, "a@p")
			l := st.Log("a@p")
			write(t, l, awkward)
			conn, _ := serve(t, st)
			cl := client(t, conn)

			ls, err := cl.Log(surface.NodeLogParams{ID: "a@p", Raw: raw})
			if err != nil {
				t.Fatal(err)
			}
			// Follow: more bytes arrive (newlines, quotes, braces: what
			// a frame reader could mistake for frames), then the node
			// finishes.
			big := bytes.Repeat([]byte{'\n', 0, 1, 255, '"', '}'}, surface.MaxChunk) // several chunks
			go func() {
				write(t, l, big)
				l.Finish()
			}()
			got := readAll(t, ls)
			want := append(append([]byte{}, awkward...), big...)
			if !bytes.Equal(got, want) {
				t.Fatalf("followed %d bytes, want %d, byte-exact", len(got), len(want))
			}
			if end := ls.End(); !end.Finished || end.End != int64(len(want)) {
				t.Errorf("end = %+v, want finished at %d", end, len(want))
			}

			// A late subscriber from an offset gets the rest, exactly.
			ls, _ = cl.Log(surface.NodeLogParams{ID: "a@p", From: 7, Raw: raw})
			if got := readAll(t, ls); !bytes.Equal(got, want[7:]) {
				t.Errorf("from 7: got %d bytes, want %d", len(got), len(want)-7)
			}
			if _, err := cl.Rerun(ctx(t), "a@p"); err != nil {
				t.Errorf("a procedure after the streams: %v", err)
			}
		})
	}
}

func TestLogNoFollowAndRestart(t *testing.T) {
	st := newStore(t, "a@p")
	l := st.Log("a@p")
	write(t, l, []byte("first attempt"))
	conn, _ := serve(t, st)
	cl := client(t, conn)

	ls, err := cl.Log(surface.NodeLogParams{ID: "a@p", NoFollow: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, ls); string(got) != "first attempt" || ls.End().Finished {
		t.Errorf("no-follow = %q, %+v; want what is there, unfinished", got, ls.End())
	}

	// A follower of attempt 1 from its last byte: once that byte has
	// reached the client, the server's stream is on attempt 1 at its
	// end, where it waits for more.
	ls, err = cl.Log(surface.NodeLogParams{ID: "a@p", From: 12})
	if err != nil {
		t.Fatal(err)
	}
	c, err := ls.Next(ctx(t))
	if err != nil || string(c.Data) != "t" || c.Attempt != 1 || c.Offset != 12 {
		t.Fatalf("the last byte of attempt 1 = %+v, %v; want \"t\" at 12 of attempt 1", c, err)
	}
	if a, err := l.Restart(); a != 2 || err != nil {
		t.Fatalf("Restart = %d, %v", a, err)
	}
	// The restart ends the stream, saying so.
	if c, err := ls.Next(ctx(t)); !errors.Is(err, io.EOF) {
		t.Fatalf("after a restart the follower got %+v, %v; want the end of its stream", c, err)
	}
	if end := ls.End(); !end.Restarted || end.Attempt != 1 || end.End != 13 || end.Finished {
		t.Errorf("end after a restart = %+v, want attempt 1 restarted at 13", end)
	}
	write(t, l, []byte("second"))
	l.Finish()
	// Asking for attempt 1 now starts attempt 2 from 0.
	ls, err = cl.Log(surface.NodeLogParams{ID: "a@p", From: 13, Attempt: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, ls); string(got) != "second" || ls.End().Attempt != 2 {
		t.Errorf("after restart = %q, %+v; want attempt 2 from 0", got, ls.End())
	}
}

// TestProcedures: a client's procedures reach the server's controller,
// as asked, and its answers reach the client; a procedure for a node the
// run does not have is answered by the server and reaches nothing.
func TestProcedures(t *testing.T) {
	st := newStore(t, "a@p")
	c := &ctl{store: st}
	conn, _ := serveTo(t, st, c)
	cl := client(t, conn)
	if reset, err := cl.Rerun(ctx(t), "a@p"); err != nil || !slices.Equal(reset, []string{"a@p"}) {
		t.Errorf("Rerun = %v, %v; want the controller's answer, [a@p]", reset, err)
	}
	var e *surface.Error
	if _, err := cl.Rerun(ctx(t), "nope@p"); !errors.As(err, &e) || e.Code != surface.CodeUnknownNode {
		t.Errorf("Rerun(unknown) error = %v, want code %d", err, surface.CodeUnknownNode)
	}
	if err := cl.CancelNode(ctx(t), "nope@p"); !errors.As(err, &e) || e.Code != surface.CodeUnknownNode {
		t.Errorf("CancelNode(unknown) error = %v, want code %d", err, surface.CodeUnknownNode)
	}
	// A log of no node: the stream ends at once, saying so.
	ls, err := cl.Log(surface.NodeLogParams{ID: "nope@p"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ls.Next(ctx(t)); !errors.As(err, &e) || e.Code != surface.CodeUnknownNode || e.Message != "no node nope@p" {
		t.Errorf("log of an unknown node = %+v, %v; want error code %d, no node nope@p", got, err, surface.CodeUnknownNode)
	}
	if err := cl.CancelNode(ctx(t), "a@p"); err != nil {
		t.Errorf("CancelNode: %v", err)
	}
	if err := cl.CancelRun(ctx(t)); err != nil {
		t.Errorf("CancelRun: %v", err)
	}
	if err := cl.Configure(ctx(t), surface.Config{}); !errors.As(err, &e) || e.Code != surface.CodeNotReady {
		t.Errorf("Configure error = %v, want the controller's refusal", err)
	}
	// Each call returned only once answered: the controller has heard
	// them all, in order.
	want := []string{"rerun a@p", "cancel a@p", "cancel run", "configure"}
	if got := c.Asked(); !slices.Equal(got, want) {
		t.Errorf("the controller was asked %q, want %q", got, want)
	}
}

func TestHelloVersionMismatch(t *testing.T) {
	conn, stop := serve(t, newStore(t, "a@p"))
	_, err := surface.NewClient(context.Background(), conn, "odu status", "other-2")
	var verr *surface.VersionError
	if !errors.As(err, &verr) {
		t.Fatalf("NewClient error = %v, want a *VersionError", err)
	}
	for _, want := range []string{"the test is odu test-1 (protocol 1)", "odu status is odu other-2 (protocol 1)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if err := stop(); !errors.As(err, &verr) {
		t.Errorf("Serve returned %v, want the version error", err)
	}
}

// raw writes frames to a server and returns what Serve returned and what
// it answered. With hangup, the client hangs up after writing.
func raw(t *testing.T, hangup bool, frames ...string) (string, error) {
	t.Helper()
	conn, stop := serve(t, newStore(t, "a@p"))
	if err := conn.SetDeadline(deadline(t)); err != nil { // a server that never closes fails the test, in time
		t.Fatal(err)
	}
	var answer bytes.Buffer
	read := make(chan error, 1)
	go func() { _, err := io.Copy(&answer, conn); read <- err }()
	for _, f := range frames {
		if _, err := io.WriteString(conn, f); err != nil {
			break
		}
	}
	if hangup {
		if err := conn.(*net.UnixConn).CloseWrite(); err != nil {
			t.Fatalf("hang up: %v", err)
		}
	}
	if err := <-read; errors.Is(err, os.ErrDeadlineExceeded) { // else the server closed the connection
		t.Fatalf("the server did not close the connection by the test's deadline; it said %q", answer.String())
	}
	return answer.String(), stop()
}

func TestMalformedFramesEndTheConnection(t *testing.T) {
	hello := `{"jsonrpc":"2.0","id":1,"method":"hello","params":{"protocol":1,"version":"test-1"}}` + "\n"
	tests := []struct {
		name   string
		hangup bool
		frames []string
		want   string
	}{
		{"not json", false, []string{hello, "{nope\n"}, "malformed frame"},
		{"not json-rpc", false, []string{hello, `{"id":2,"method":"nodes.get"}` + "\n"}, `no "jsonrpc": "2.0"`},
		{"no hello", false, []string{`{"jsonrpc":"2.0","id":1,"method":"nodes.get"}` + "\n"}, "not hello"},
		{"too long", false, []string{hello, strings.Repeat("x", surface.MaxFrame+10) + "\n"}, "frame longer than"},
		{"cut short", true, []string{hello, `{"jsonrpc":"2.0"`}, "unexpected EOF"},
		{"raw chunk to a server", false, []string{hello, `{"jsonrpc":"2.0","method":"nodeLog.bytes","params":{"stream":1,"attempt":1,"offset":0,"length":2}}` + "\nhi"}, "a raw chunk sent to a server"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := raw(t, tt.hangup, tt.frames...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Serve returned %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestStreamNeedsIntegerID(t *testing.T) {
	hello := `{"jsonrpc":"2.0","id":1,"method":"hello","params":{"protocol":1,"version":"test-1"}}` + "\n"
	conn, _ := serve(t, newStore(t, "a@p"))
	if err := conn.SetDeadline(deadline(t)); err != nil {
		t.Fatal(err)
	}
	write(t, conn, hello)
	write(t, conn, `{"jsonrpc":"2.0","id":"s","method":"nodes.get"}`+"\n")
	buf := make([]byte, 4096)
	var got string
	for !strings.Contains(got, `"id":"s"`) {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got += string(buf[:n])
	}
	if !strings.Contains(got, "its request id must be an integer") {
		t.Errorf("answer = %s", got)
	}
	conn.Close()
}

func TestLogSizeOnly(t *testing.T) {
	st := newStore(t, "a@p")
	l := st.Log("a@p")
	write(t, l, awkward)
	conn, _ := serve(t, st)
	ls, err := client(t, conn).Log(surface.NodeLogParams{ID: "a@p", SizeOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		write(t, l, bytes.Repeat([]byte("x"), 3*surface.MaxChunk))
		l.Finish()
	}()
	var total int64
	for {
		c, err := ls.Next(ctx(t))
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Data) != 0 || c.Offset != total {
			t.Fatalf("size-only chunk at %d with %d bytes of data, want at %d with none", c.Offset, len(c.Data), total)
		}
		total += c.Len()
	}
	if want := int64(len(awkward) + 3*surface.MaxChunk); total != want || ls.End().End != want || !ls.End().Finished {
		t.Errorf("size-only stream covered %d bytes, ended %+v; want %d, finished", total, ls.End(), want)
	}
}
