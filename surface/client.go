package surface

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Client is a connection to a surface: a runner's over its stdio, or the
// coordinator's over its socket. Its methods may be used from several
// goroutines.
//
// A stream's notifications are handed over as they are read: the
// connection reads on only once the consumer of a stream has taken what
// it was given (a few messages are buffered). So every stream must be
// read, or closed, promptly; a consumer that blocks holds up the other
// streams of its connection, never the server.
type Client struct {
	c      *conn
	Server HelloResult // what the server said at hello

	mu      sync.Mutex
	nextID  int64
	calls   map[int64]chan *message
	streams map[int64]chan *message
}

// streamBuffer is how many messages a stream holds for its consumer
// before the connection waits for it: log chunks are up to 256 KiB, so a
// consumer that lags costs at most 4 MiB.
const streamBuffer = 16

// rawBuffer is streamBuffer for a raw log stream (NodeLogParams.Raw), the
// coordinator's copy of a remote log, which writes each chunk to a file
// as it comes: a chunk is 256 KiB, and the fewer are held, the smaller
// the heap while a log streams at full speed (measured: 3 MB less peak
// RSS at 1 GiB than with streamBuffer, the speed the same).
const rawBuffer = 1

// Dial connects to the surface served on a Unix socket and says hello.
// client names the caller for the server's messages ("odu status").
func Dial(ctx context.Context, path, client, version string) (*Client, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	return NewClient(ctx, nc, client, version)
}

// NewClient speaks the surface over rwc, which it closes with the client,
// and says hello.
func NewClient(ctx context.Context, rwc io.ReadWriteCloser, client, version string) (*Client, error) {
	cl := &Client{
		c:       newConn(rwc),
		calls:   map[int64]chan *message{},
		streams: map[int64]chan *message{},
	}
	cl.c.hearOut = true
	cl.c.raw = true // it takes the raw chunks it asks for (NodeLogParams.Raw)
	go cl.readLoop()
	err := cl.call(ctx, MethodHello, HelloParams{Protocol: Protocol, Version: version, Client: client}, &cl.Server)
	if err != nil {
		cl.Close()
		var e *Error
		if errors.As(err, &e) && e.Code == CodeVersion {
			return nil, &VersionError{msg: e.Message}
		}
		return nil, fmt.Errorf("hello: %w", err)
	}
	if cl.Server.Protocol != Protocol || cl.Server.Version != version {
		cl.Close()
		return nil, versionError(cl.Server.Server, cl.Server.Version, cl.Server.Protocol, client, version, Protocol)
	}
	return cl, nil
}

// Close closes the connection; streams and calls in flight fail.
func (cl *Client) Close() error {
	cl.c.close(ErrClosed)
	return nil
}

// Done is closed when the connection is closed, by either end.
func (cl *Client) Done() <-chan struct{} { return cl.c.closed }

// Err says why the connection closed; nil while it is open.
func (cl *Client) Err() error {
	select {
	case <-cl.c.closed:
		return cl.c.err
	default:
		return nil
	}
}

func (cl *Client) readLoop() {
	for {
		m, err := cl.c.read()
		if err != nil {
			cl.c.close(err)
			return
		}
		switch {
		case isResponse(m):
			id, err := strconv.ParseInt(string(m.ID), 10, 64)
			if err != nil {
				continue // not an id this client used
			}
			cl.mu.Lock()
			call, isCall := cl.calls[id]
			stream, isStream := cl.streams[id]
			delete(cl.calls, id)
			delete(cl.streams, id)
			cl.mu.Unlock()
			switch {
			case isCall:
				call <- m // buffered
			case isStream:
				cl.deliver(stream, m)
			}
		case isNotification(m) && m.Method == NoteDisconnect:
			var p struct {
				Reason string `json:"reason"`
			}
			_ = json.Unmarshal(m.Params, &p) // without a readable reason, still a disconnect
			cl.c.close(&DisconnectedError{Reason: p.Reason})
			return
		case isNotification(m):
			stream, ok := streamOf(m)
			if !ok {
				cl.c.close(&ProtocolError{Frame: []byte(m.Method), Err: errors.New("a notification without a stream id")})
				return
			}
			cl.mu.Lock()
			ch := cl.streams[stream]
			cl.mu.Unlock()
			if ch != nil {
				cl.deliver(ch, m)
			}
		}
		// A server asks nothing of a client: requests are ignored.
	}
}

// deliver hands a stream its message, waiting for the consumer unless
// the connection closes.
func (cl *Client) deliver(ch chan *message, m *message) {
	select {
	case ch <- m:
	case <-cl.c.closed:
	}
}

// streamOf decodes a stream notification's params and returns its stream.
func streamOf(m *message) (int64, bool) {
	if m.chunk != nil {
		return m.chunk.Stream, true
	}
	var p struct {
		Stream *int64 `json:"stream"`
	}
	if json.Unmarshal(m.Params, &p) != nil || p.Stream == nil {
		return 0, false
	}
	return *p.Stream, true
}

// register takes the next request id, for a call (buffer 0) or for a
// stream whose consumer is given buffer messages ahead.
func (cl *Client) register(buffer int) (int64, chan *message) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.nextID++
	id := cl.nextID
	if buffer > 0 {
		ch := make(chan *message, buffer)
		cl.streams[id] = ch
		return id, ch
	}
	ch := make(chan *message, 1)
	cl.calls[id] = ch
	return id, ch
}

func (cl *Client) forget(id int64) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	delete(cl.calls, id)
	delete(cl.streams, id)
}

func request(id int64, method string, params any) (*message, error) {
	data, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	return &message{ID: idOf(id), Method: method, Params: data}, nil
}

// call makes a request and decodes its result into result.
func (cl *Client) call(ctx context.Context, method string, params, result any) error {
	id, ch := cl.register(0)
	m, err := request(id, method, params)
	if err != nil {
		cl.forget(id)
		return err
	}
	if err := cl.c.send(m); err != nil {
		cl.forget(id)
		return err
	}
	var r *message
	select {
	case r = <-ch:
	case <-ctx.Done():
		cl.forget(id)
		return ctx.Err()
	case <-cl.c.closed:
		select {
		case r = <-ch: // answered before the connection closed
		default:
			return cl.c.err
		}
	}
	if r.Error != nil {
		return r.Error
	}
	if result == nil {
		return nil
	}
	if err := json.Unmarshal(r.Result, result); err != nil {
		return fmt.Errorf("decode the result of %s: %w", method, err)
	}
	return nil
}

// Configure gives a runner its lane.
func (cl *Client) Configure(ctx context.Context, cfg Config) error {
	return cl.call(ctx, MethodConfigure, cfg, nil)
}

// Rerun resets a node and its dependents and runs them again.
func (cl *Client) Rerun(ctx context.Context, id string) ([]string, error) {
	r, err := cl.RerunNode(ctx, id)
	return r.Reset, err
}

// RerunNode is Rerun with the server's whole answer: what it did.
func (cl *Client) RerunNode(ctx context.Context, id string) (RerunResult, error) {
	var r RerunResult
	err := cl.call(ctx, MethodRerun, IDParams{ID: id}, &r)
	return r, err
}

// CancelNode stops one node.
func (cl *Client) CancelNode(ctx context.Context, id string) error {
	_, err := cl.CancelNodeResult(ctx, id)
	return err
}

// CancelNodeResult is CancelNode with the server's whole answer: what it
// did.
func (cl *Client) CancelNodeResult(ctx context.Context, id string) (CancelResult, error) {
	var r CancelResult
	err := cl.call(ctx, MethodCancel, IDParams{ID: id}, &r)
	return r, err
}

// CancelRun stops every node.
func (cl *Client) CancelRun(ctx context.Context) error {
	return cl.call(ctx, MethodRunCancel, struct{}{}, nil)
}

// SupersedeRun stops every node, as CancelRun, and has the run record
// that by replaces it.
func (cl *Client) SupersedeRun(ctx context.Context, by string) error {
	return cl.call(ctx, MethodRunCancel, RunCancelParams{Superseded: by}, nil)
}

// Settle ends a runner's held node with status (see MethodSettle).
func (cl *Client) Settle(ctx context.Context, id string, status Status, reason string) error {
	return cl.call(ctx, MethodSettle, SettleParams{ID: id, Status: status, Reason: reason}, nil)
}

// Exit tells a detached runner that the run is over: it exits.
func (cl *Client) Exit(ctx context.Context) error {
	return cl.call(ctx, MethodRunnerExit, struct{}{}, nil)
}

// stream is the client's end of a stream.
type stream struct {
	cl   *Client
	id   int64
	ch   chan *message
	done bool
}

func (cl *Client) openStream(method string, params any, buffer int) (*stream, error) {
	id, ch := cl.register(buffer)
	m, err := request(id, method, params)
	if err == nil {
		err = cl.c.send(m)
	}
	if err != nil {
		cl.forget(id)
		return nil, err
	}
	return &stream{cl: cl, id: id, ch: ch}, nil
}

// next returns the stream's next message; the final one is the response.
func (s *stream) next(ctx context.Context) (*message, error) {
	select {
	case m := <-s.ch:
		return m, nil
	default:
	}
	select {
	case m := <-s.ch:
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.cl.c.closed:
		select {
		case m := <-s.ch: // what arrived before the end
			return m, nil
		default:
		}
		return nil, fmt.Errorf("connection lost: %w", s.cl.c.err)
	}
}

// PingEvery is how often a coordinator pings a detached runner, which
// takes a coordinator silent for a few times as long for gone.
const PingEvery = 10 * time.Second

// Ping tells the server the client is still there: a notification
// (MethodPing), which a server takes and answers nothing to.
func (cl *Client) Ping() error {
	return cl.c.send(&message{Method: MethodPing})
}

// close ends the stream; the server is told to stop sending it.
func (s *stream) close() {
	if s.done {
		return
	}
	s.done = true
	s.cl.forget(s.id)
	data, _ := json.Marshal(map[string]int64{"id": s.id})
	s.cl.c.send(&message{Method: MethodStreamCancel, Params: data})
}

// An Event is what a cell stream brings: a whole state, or one change.
type Event struct {
	Snapshot *State // the first event, and again after falling behind
	// Missed, with a snapshot after falling behind, are the transitions
	// that were not sent as changes, in order (see SnapshotNote).
	Missed []Node
	Delta  *Delta
}

// Nodes yields the nodes the event sets, in order: every node of a
// snapshot, or the node a change sets (none when it changes the run or a
// lane). A face that keeps the latest status of each node needs no more.
func (ev Event) Nodes() iter.Seq[Node] {
	return func(yield func(Node) bool) {
		if ev.Snapshot != nil {
			for _, n := range ev.Snapshot.Nodes {
				if !yield(n) {
					return
				}
			}
		}
		if ev.Delta != nil && ev.Delta.Node != nil {
			yield(*ev.Delta.Node)
		}
	}
}

// Transitions yields what a face that shows every transition must see, in
// order: with a snapshot after falling behind, the transitions it missed
// ([Event.Missed]) first, then what [Event.Nodes] yields. A node may come
// more than once, each time as it was then.
func (ev Event) Transitions() iter.Seq[Node] {
	return func(yield func(Node) bool) {
		if ev.Snapshot != nil {
			for _, n := range ev.Missed {
				if !yield(n) {
					return
				}
			}
		}
		for n := range ev.Nodes() {
			if !yield(n) {
				return
			}
		}
	}
}

// Lanes yields the lanes the event sets: every lane of a snapshot, or the
// lane a change sets.
func (ev Event) Lanes() iter.Seq[Lane] {
	return func(yield func(Lane) bool) {
		if ev.Snapshot != nil {
			for _, l := range ev.Snapshot.Lanes {
				if !yield(l) {
					return
				}
			}
		}
		if ev.Delta != nil && ev.Delta.Lane != nil {
			yield(*ev.Delta.Lane)
		}
	}
}

// Watch follows the cell: the run's state, then its changes.
type Watch struct {
	s     *stream
	state State
	end   *StreamEnd
}

// Watch subscribes to the cell.
func (cl *Client) Watch() (*Watch, error) {
	return cl.WatchFrom(NodesGetParams{})
}

// WatchFrom subscribes to the cell from an earlier state (p.From): its
// first snapshot is that state, when the server still has it, and every
// change since follows.
func (cl *Client) WatchFrom(p NodesGetParams) (*Watch, error) {
	s, err := cl.openStream(MethodNodesGet, p, streamBuffer)
	if err != nil {
		return nil, err
	}
	return &Watch{s: s}, nil
}

// Next returns the next event: first a snapshot, then each change. It
// returns io.EOF after the last change of a run that is over.
func (w *Watch) Next(ctx context.Context) (Event, error) {
	if w.end != nil {
		return Event{}, io.EOF
	}
	m, err := w.s.next(ctx)
	if err != nil {
		return Event{}, err
	}
	switch {
	case isResponse(m):
		w.s.done = true
		if m.Error != nil {
			return Event{}, m.Error
		}
		var end StreamEnd
		if err := json.Unmarshal(m.Result, &end); err != nil {
			return Event{}, fmt.Errorf("decode the end of the cell: %w", err)
		}
		w.end = &end
		return Event{}, io.EOF
	case m.Method == NoteSnapshot:
		var n SnapshotNote
		if err := json.Unmarshal(m.Params, &n); err != nil {
			return Event{}, fmt.Errorf("decode a snapshot: %w", err)
		}
		w.state = n.State
		st := n.State
		// The event's own slices: later deltas change w.state's in place
		// while a face may still read the snapshot in another goroutine.
		st.Nodes, st.Lanes = slices.Clone(st.Nodes), slices.Clone(st.Lanes)
		return Event{Snapshot: &st, Missed: n.Missed}, nil
	case m.Method == NoteDelta:
		var n DeltaNote
		if err := json.Unmarshal(m.Params, &n); err != nil {
			return Event{}, fmt.Errorf("decode a delta: %w", err)
		}
		if n.Delta.Seq != w.state.Seq+1 {
			return Event{}, fmt.Errorf("cell: change %d after change %d: the server skipped some", n.Delta.Seq, w.state.Seq)
		}
		w.state.Apply(n.Delta)
		return Event{Delta: &n.Delta}, nil
	}
	return Event{}, fmt.Errorf("cell: unexpected %s", m.Method)
}

// State returns a copy of the state as of the last event; it must not be
// called while Next runs in another goroutine.
func (w *Watch) State() State {
	st := w.state
	st.Nodes = slices.Clone(st.Nodes)
	st.Lanes = slices.Clone(st.Lanes)
	return st
}

// Seq returns the seq of the state as of the last event.
func (w *Watch) Seq() uint64 { return w.state.Seq }

// Close stops following the cell.
func (w *Watch) Close() { w.s.close() }

// LogStream follows a node's log.
type LogStream struct {
	s       *stream
	attempt int
	off     int64
	end     *LogEnd
}

// Log subscribes to a node's log.
func (cl *Client) Log(p NodeLogParams) (*LogStream, error) {
	buffer := streamBuffer
	if p.Raw {
		buffer = rawBuffer
	}
	s, err := cl.openStream(MethodNodeLog, p, buffer)
	if err != nil {
		return nil, err
	}
	return &LogStream{s: s, off: -1}, nil
}

// Next returns the next chunk of the log. It returns io.EOF when the
// stream ended: End says how.
func (ls *LogStream) Next(ctx context.Context) (*ChunkNote, error) {
	if ls.end != nil {
		return nil, io.EOF
	}
	m, err := ls.s.next(ctx)
	if err != nil {
		return nil, err
	}
	if isResponse(m) {
		ls.s.done = true
		if m.Error != nil {
			return nil, m.Error
		}
		var end LogEnd
		if err := json.Unmarshal(m.Result, &end); err != nil {
			return nil, fmt.Errorf("decode the end of a log: %w", err)
		}
		ls.end = &end
		return nil, io.EOF
	}
	c := m.chunk
	if c == nil {
		var n ChunkNote
		if m.Method != NoteChunk || json.Unmarshal(m.Params, &n) != nil {
			return nil, fmt.Errorf("log: unexpected %s", m.Method)
		}
		c = &n
	}
	if ls.off >= 0 && (c.Attempt != ls.attempt || c.Offset != ls.off) {
		return nil, fmt.Errorf("log: chunk at %d of attempt %d after %d of attempt %d: the server skipped some", c.Offset, c.Attempt, ls.off, ls.attempt)
	}
	ls.attempt, ls.off = c.Attempt, c.Offset+c.Len()
	return c, nil
}

// End returns how the stream ended, once Next returned io.EOF.
func (ls *LogStream) End() *LogEnd { return ls.end }

// Close stops following the log.
func (ls *LogStream) Close() { ls.s.close() }
