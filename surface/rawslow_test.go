package surface

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"
)

// stallingConn takes budget bytes, then times out its writes until its
// deadline is set a second time (the last word's).
type stallingConn struct {
	budget    int
	deadlines int
	again     bool
	out       bytes.Buffer
}

func (s *stallingConn) Write(p []byte) (int, error) {
	if s.again {
		return s.out.Write(p)
	}
	n := min(len(p), s.budget)
	s.budget -= n
	s.out.Write(p[:n])
	if n < len(p) {
		return n, os.ErrDeadlineExceeded
	}
	return n, nil
}

func (s *stallingConn) SetWriteDeadline(time.Time) error {
	s.deadlines++
	s.again = s.deadlines > 1
	return nil
}
func (s *stallingConn) Read([]byte) (int, error) { return 0, errors.New("not read") }
func (s *stallingConn) Close() error             { return nil }

// A peer that stalls in the middle of a raw chunk, header or bytes, is
// given the rest of the chunk, then the note that says why it is
// disconnected: what it reads stays frames, never a chunk cut short
// followed by a frame.
func TestRawChunkStalledPeerGetsTheRest(t *testing.T) {
	data := bytes.Repeat([]byte("raw\n"), 1000)
	header := appendRawHeader(nil, 2, 1, 0, len(data))
	for _, budget := range []int{0, 5, len(header), len(header) + 1000, len(header) + len(data) - 1} {
		sc := &stallingConn{budget: budget}
		c := newConn(sc)
		c.timeout = time.Second
		err := c.writeLocked(bytes.Clone(header), data)
		var slow *SlowPeerError
		if !errors.As(err, &slow) {
			t.Fatalf("stalled after %d bytes: the write returned %v, want a SlowPeerError", budget, err)
		}
		out := sc.out.Bytes()
		m, err := newFrameReader(bytes.NewReader(out)).message(true)
		if err != nil || m.chunk == nil || !bytes.Equal(m.chunk.Data, data) {
			t.Fatalf("stalled after %d bytes: the peer read %v, %v; want the whole chunk", budget, m, err)
		}
		m, err = newFrameReader(bytes.NewReader(out[len(header)+len(data):])).message(true)
		if err != nil || m.Method != NoteDisconnect {
			t.Errorf("stalled after %d bytes: after the chunk the peer read %+v, %v; want the disconnect note", budget, m, err)
		}
	}
}
