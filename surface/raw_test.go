package surface_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/odu-ci/odu/surface"
)

// logOnTheWire asks a server for a finished log as a face would, speaking
// the protocol by hand, and returns every byte the server wrote until the
// stream's end.
func logOnTheWire(t *testing.T, params string) string {
	t.Helper()
	st := newStore(t, "a@p")
	l := st.Log("a@p")
	write(t, l, awkward)
	l.Finish()
	conn, _ := serve(t, st)
	if err := conn.SetDeadline(deadline(t)); err != nil {
		t.Fatal(err)
	}
	write(t, conn, `{"jsonrpc":"2.0","id":1,"method":"hello","params":{"protocol":1,"version":"test-1"}}`+"\n")
	write(t, conn, `{"jsonrpc":"2.0","id":2,"method":"nodeLog.get","params":`+params+"}\n")
	var got []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(got, []byte(`{"jsonrpc":"2.0","id":2,"result"`)) {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("%v, having read %q", err, got)
		}
		got = append(got, buf[:n]...)
	}
	return string(got)
}

// A face that does not ask for raw bytes gets the log as base64 in JSON;
// one that asks gets a header naming the length, then the bytes as they
// are.
func TestLogRawOnlyWhenAsked(t *testing.T) {
	got := logOnTheWire(t, `{"id":"a@p"}`)
	chunk := `{"jsonrpc":"2.0","method":"nodeLog.chunk","params":{"stream":2,"attempt":1,"offset":0,"data":"` +
		base64.StdEncoding.EncodeToString(awkward) + `"}}` + "\n"
	if !strings.Contains(got, chunk) || strings.Contains(got, surface.NoteRawChunk) {
		t.Errorf("without raw the server wrote %q; want the base64 chunk %q, no raw chunk", got, chunk)
	}

	got = logOnTheWire(t, `{"id":"a@p","raw":true}`)
	rawChunk := fmt.Sprintf(`{"jsonrpc":"2.0","method":"nodeLog.bytes","params":{"stream":2,"attempt":1,"offset":0,"length":%d}}`+"\n%s", len(awkward), awkward)
	if !strings.Contains(got, rawChunk+`{"jsonrpc":"2.0","id":2,"result"`) || strings.Contains(got, surface.NoteChunk) {
		t.Errorf("with raw the server wrote %q; want the raw chunk %q, then the stream's end", got, rawChunk)
	}
}

// fakeServer answers a client's hello and its first request, a log
// stream, with what reply writes after it (given the stream's id), then
// hangs up. It returns the client.
func fakeServer(t *testing.T, reply func(w io.Writer, stream int64)) *surface.Client {
	t.Helper()
	a, b := socketpair(t)
	if err := a.SetDeadline(deadline(t)); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { a.Close(); <-done })
	go func() {
		defer close(done)
		defer a.Close()
		r := bufio.NewReader(a)
		var req struct {
			ID int64 `json:"id"`
		}
		for i := range 2 {
			line, err := r.ReadBytes('\n')
			if err == nil {
				err = json.Unmarshal(line, &req)
			}
			if err != nil {
				t.Errorf("fake server: request %d: %v", i+1, err)
				return
			}
			if i == 0 {
				fmt.Fprintf(a, `{"jsonrpc":"2.0","id":%d,"result":{"protocol":%d,"version":%q,"server":"runner"}}`+"\n", req.ID, surface.Protocol, version)
			}
		}
		reply(a, req.ID)
		// Hang up only once the client is done reading.
		_ = a.(*net.UnixConn).CloseWrite()
		_, _ = io.Copy(io.Discard, r)
	}()
	return client(t, b)
}

// A raw chunk cut short ends the connection: its client sees the log
// stream fail, never a chunk shorter than its header said.
func TestLogRawTruncated(t *testing.T) {
	cl := fakeServer(t, func(w io.Writer, stream int64) {
		fmt.Fprintf(w, `{"jsonrpc":"2.0","method":"nodeLog.bytes","params":{"stream":%d,"attempt":1,"offset":0,"length":100}}`+"\n", stream)
		write(t, w, bytes.Repeat([]byte("x"), 10))
	})
	ls, err := cl.Log(surface.NodeLogParams{ID: "a@p", Raw: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := ls.Next(ctx(t))
	if err == nil {
		t.Fatalf("a raw chunk of 10 bytes that said 100 was taken: %d bytes", len(c.Data))
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(cl.Err(), io.ErrUnexpectedEOF) {
		t.Errorf("the stream ended with %v, the connection with %v; want both an unexpected EOF", err, cl.Err())
	}
}

// A raw chunk's length over MaxChunk is a protocol error that ends the
// connection: a peer cannot make a client allocate what it likes.
func TestLogRawTooLong(t *testing.T) {
	cl := fakeServer(t, func(w io.Writer, stream int64) {
		fmt.Fprintf(w, `{"jsonrpc":"2.0","method":"nodeLog.bytes","params":{"stream":%d,"attempt":1,"offset":0,"length":%d}}`+"\n", stream, surface.MaxChunk+1)
		_, _ = w.Write(make([]byte, surface.MaxChunk+1)) // the client may hang up after the header
	})
	ls, err := cl.Log(surface.NodeLogParams{ID: "a@p", Raw: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := ls.Next(ctx(t))
	if err == nil {
		t.Fatalf("a raw chunk over MaxChunk was taken: %d bytes", len(c.Data))
	}
	var pe *surface.ProtocolError
	if !errors.As(cl.Err(), &pe) || !strings.Contains(pe.Error(), fmt.Sprintf("a raw chunk of %d bytes, over %d", surface.MaxChunk+1, surface.MaxChunk)) {
		t.Errorf("the connection ended with %v; want a protocol error naming the length", cl.Err())
	}
	select {
	case <-cl.Done():
	default:
		t.Error("the connection is still open after a raw chunk over MaxChunk")
	}
}
