package surface

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// Slow and stalled peers.
//
// A server writes a connection's frames one at a time; a peer that stops
// reading fills the socket's buffer and the write waits. That holds up
// that connection only (every connection has its own goroutines, and the
// store is read at each one's pace), but it would hold it forever, with
// its streams' goroutines. So a server with a [Server.WriteTimeout]
// gives each frame that long to be written, on a connection that takes
// deadlines (a socket, a pipe): a peer that read nothing for that long
// is disconnected. It is told why if it reads at all — the rest of the
// frame and a [NoteDisconnect] notification get one more short deadline
// — and the server says so through [Server.Logf]. What it missed is a
// snapshot away when it connects again.
//
// Memory per connection is bounded whatever the peer does: frames are
// read up to MaxFrame, at most maxInflight requests run at once, and log
// streams read the log into the connection's one chunk buffer under its
// write lock, so a connection holds one chunk (256 KiB) however many
// streams wait on it. Memory in total, over every connection, is bounded
// too: see budget.go.

// NoteDisconnect is the last word of a server that disconnects a peer
// (params: {"reason": "..."}); it carries no stream id.
const NoteDisconnect = "server.disconnect"

// lastWord bounds the extra time given to a stalled peer to take the note
// that says why it is disconnected.
const lastWord = time.Second

// SlowPeerError reports a peer that read nothing for the write timeout.
type SlowPeerError struct {
	Timeout time.Duration
}

func (e *SlowPeerError) Error() string {
	return fmt.Sprintf("the peer read nothing for %s: disconnected so that it holds nothing up", e.Timeout)
}

// DisconnectedError is what a client reports when the server
// disconnected it, with the server's reason.
type DisconnectedError struct {
	Reason string
}

func (e *DisconnectedError) Error() string { return "the server disconnected this client: " + e.Reason }

// deadliner is a connection that takes write deadlines.
type deadliner interface {
	SetWriteDeadline(time.Time) error
}

// writeFrame writes a frame, and data after it (see writeLocked), within
// the connection's timeout if it has one; a peer that let it time out
// gets the rest of the frame and a note if it takes them within
// lastWord, and the connection closes.
func (c *conn) writeFrame(buf, data []byte) error {
	dl, ok := c.rwc.(deadliner)
	if c.timeout <= 0 || !ok {
		_, err := c.write(buf, data)
		return err
	}
	if err := dl.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		_, err := c.write(buf, data)
		return err
	}
	n, err := c.write(buf, data)
	if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	slow := &SlowPeerError{Timeout: c.timeout}
	params, _ := json.Marshal(struct {
		Reason string `json:"reason"`
	}{slow.Error()})
	note, _ := appendMessage(nil, &message{Method: NoteDisconnect, Params: params})
	// A last word, best effort: the peer is slow, and may not take it.
	_ = dl.SetWriteDeadline(time.Now().Add(lastWord))
	var rest []byte
	if n < len(buf) {
		rest = append(append(rest, buf[n:]...), data...)
	} else {
		rest = append(rest, data[n-len(buf):]...)
	}
	_, _ = c.rwc.Write(append(rest, note...))
	return slow
}

// write writes buf then data: in one system call (writev) on a socket.
func (c *conn) write(buf, data []byte) (int, error) {
	if data == nil {
		return c.rwc.Write(buf)
	}
	v := net.Buffers{buf, data}
	n, err := v.WriteTo(c.rwc)
	return int(n), err
}

// sendLog reads up to MaxChunk bytes of a log's attempt at off into the
// connection's chunk buffer and sends them as a chunk of stream, raw
// (NodeLogParams.Raw) or base64 in JSON. It
// returns how many bytes it sent; rerr is the read's error when it read
// nothing, werr the write's.
func (c *conn) sendLog(l *Log, stream int64, attempt int, off int64, raw bool) (n int, rerr, werr error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.rbuf == nil {
		c.rbuf = make([]byte, MaxChunk)
	}
	n, rerr = l.ReadAt(c.rbuf, attempt, off)
	if n == 0 {
		return 0, rerr, nil
	}
	if raw {
		werr = c.writeLocked(appendRawHeader(c.wbuf[:0], stream, attempt, off, n), c.rbuf[:n])
	} else {
		werr = c.writeLocked(appendChunk(c.wbuf[:0], &ChunkNote{Stream: stream, Attempt: attempt, Offset: off, Data: c.rbuf[:n]}), nil)
	}
	return n, nil, werr
}
