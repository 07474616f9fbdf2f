package surface

import (
	"errors"
	"io"
	"sync"
	"time"
)

// conn is one end of a connection: it writes whole frames, one at a time,
// in the order they are sent, so that a stream's notifications reach the
// peer in order and before the response that ends the stream.
type conn struct {
	rwc io.ReadWriteCloser
	fr  *frameReader

	wmu     sync.Mutex
	wbuf    []byte
	rbuf    []byte        // the log chunks' buffer (see sendLog)
	timeout time.Duration // for a frame to be written; 0: no bound (see slow.go)
	peer    string        // the client's name, from hello (a server's conn)
	// hearOut: a client's conn, whose write failed, gives its read loop
	// a moment to read what the server said before it closed (see
	// writeLocked).
	hearOut bool
	// raw: the conn takes raw chunks (a client's: it asks for them).
	raw bool

	closeOnce sync.Once
	closed    chan struct{}
	err       error // why it closed; set before closed is closed
}

func newConn(rwc io.ReadWriteCloser) *conn {
	return &conn{rwc: rwc, fr: newFrameReader(rwc), closed: make(chan struct{})}
}

// ErrClosed reports a connection that is closed.
var ErrClosed = errors.New("connection closed")

// send writes one message. A write that fails closes the connection and
// records why, which its reader then returns: a caller that has nothing
// else to do about a failed send may drop its error.
func (c *conn) send(m *message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	buf, err := appendMessage(c.wbuf[:0], m)
	if err != nil {
		return err
	}
	return c.writeLocked(buf, nil)
}

// writeLocked writes buf, then data (a raw chunk's bytes, written from
// where they are rather than copied after buf; nil for a frame alone).
func (c *conn) writeLocked(buf, data []byte) error {
	c.wbuf = buf
	if cap(c.wbuf) > 4*MaxChunk {
		c.wbuf = nil // a large snapshot: do not keep its buffer
	}
	select {
	case <-c.closed:
		return c.err
	default:
	}
	if err := c.writeFrame(buf, data); err != nil {
		if c.hearOut {
			c.hearServerOut()
		}
		c.close(err)
		return c.err
	}
	return nil
}

// hearOutFor bounds how long a client whose write failed waits for its
// read loop to take what the server said last. When the server closed
// its end, the read loop ends as soon as it has read the rest; the bound
// is for a read loop held up handing a stream's message to a consumer
// that is not reading, or a link whose reading side stays open.
const hearOutFor = 5 * time.Second

// hearServerOut waits, up to hearOutFor, for the connection to be closed by
// its read loop. A server that disconnects a client says why
// ([NoteDisconnect]) and closes: a client writing a large frame then
// finds its write failed (a broken pipe) while the server's reason waits
// to be read, and the connection must end with that reason, not with the
// broken pipe.
func (c *conn) hearServerOut() {
	t := time.NewTimer(hearOutFor)
	defer t.Stop()
	select {
	case <-c.closed:
	case <-t.C:
	}
}

func (c *conn) read() (*message, error) {
	return c.fr.message(c.raw)
}

// close closes the connection once, recording why.
func (c *conn) close(err error) {
	c.closeOnce.Do(func() {
		if err == nil || errors.Is(err, io.EOF) {
			err = ErrClosed
		}
		c.err = err
		close(c.closed)
		c.rwc.Close()
	})
}
