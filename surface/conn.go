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
	return c.writeLocked(buf)
}

func (c *conn) writeLocked(buf []byte) error {
	c.wbuf = buf
	if cap(c.wbuf) > 4*MaxChunk {
		c.wbuf = nil // a large snapshot: do not keep its buffer
	}
	select {
	case <-c.closed:
		return c.err
	default:
	}
	if err := c.writeFrame(buf); err != nil {
		c.close(err)
		return c.err
	}
	return nil
}

func (c *conn) read() (*message, error) {
	frame, err := c.fr.next()
	if err != nil {
		return nil, err
	}
	return decodeMessage(frame)
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
