package surface

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Controller carries out the procedures a server is asked for. A runner
// and the coordinator implement it; an error that is an *Error reaches
// the client as it is, any other as an internal error.
type Controller interface {
	// Configure gives a runner its lane, once.
	Configure(ctx context.Context, cfg Config) error
	// Rerun resets a node and its transitive dependents to pending and
	// schedules them again; it says what it did.
	Rerun(ctx context.Context, id string) (RerunResult, error)
	// CancelNode stops one node; it says what it did.
	CancelNode(ctx context.Context, id string) (CancelResult, error)
	// CancelRun stops every node.
	CancelRun(ctx context.Context) error
}

// Superseder is a controller whose run can be cancelled as superseded
// by another (run.cancel with [RunCancelParams.Superseded]): the
// coordinator.
type Superseder interface {
	Supersede(ctx context.Context, by string) error
}

// Exiter is a controller that can be told to exit (runner.exit): a
// detached runner, which outlives its connections.
type Exiter interface {
	Exit(ctx context.Context) error
}

// Settler is a controller that settles held nodes (node.settle): a
// runner.
type Settler interface {
	Settle(ctx context.Context, p SettleParams) error
}

// Server serves a store's surface, and a controller's procedures, to one
// peer at a time per [Server.Serve].
type Server struct {
	Name       string // "runner" or "coordinator", told to clients at hello
	Version    string // odu's version; a client of another version is refused
	Platform   string // where a runner runs its nodes, told at hello: its coordinator checks it is the lane's
	Controller Controller
	// WriteTimeout, when set, is how long a frame may take to be
	// written before the peer is disconnected as stalled (see slow.go):
	// for the coordinator's socket, whose clients are faces. A runner
	// serving its coordinator sets none.
	WriteTimeout time.Duration
	// ReadTimeout, when set, is how long a peer may say nothing before
	// it is taken for gone: for a detached runner, whose coordinator
	// pings ([Client.Ping]) every [PingEvery]. A link that died without
	// a word (a laptop closed, a cable pulled) leaves sshd's session, and
	// the runner's connection to it, open for hours; without this, the
	// runner would count the dead coordinator as attached all that time.
	ReadTimeout time.Duration
	// Logf, when set, is told of peers disconnected as stalled.
	Logf func(format string, a ...any)

	mu     sync.Mutex
	store  *Store // nil until the first store is set
	ready  chan struct{}
	frames *budget // for the frames its connections gather (see budget.go)
}

// maxInflight bounds the requests one connection may have running at
// once (streams included), so that a peer cannot start goroutines
// without limit.
const maxInflight = 4096

// SetStore gives the server the store to serve. A runner gets its store
// when configured; requests that need it wait until then.
func (s *Server) SetStore(st *Store) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	if s.store == nil {
		s.store = st
		close(s.ready)
	}
}

func (s *Server) initLocked() {
	if s.ready == nil {
		s.ready = make(chan struct{})
	}
	if s.frames == nil {
		s.frames = &budget{}
	}
}

// budget returns the frame budget the server's connections share.
func (s *Server) budget() *budget {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	return s.frames
}

// storeOf waits for the store.
func (s *Server) storeOf(ctx context.Context) (*Store, error) {
	s.mu.Lock()
	s.initLocked()
	ready := s.ready
	s.mu.Unlock()
	select {
	case <-ready:
		return s.store, nil
	case <-ctx.Done():
		return nil, &Error{Code: CodeCancelled, Message: "the server is stopping"}
	}
}

// Serve speaks the surface over rwc until the peer goes away, a frame is
// malformed, or ctx ends; it closes rwc. A peer that hangs up returns nil.
func (s *Server) Serve(ctx context.Context, rwc io.ReadWriteCloser) error {
	c := newConn(rwc)
	c.timeout = s.WriteTimeout
	c.fr.budget = s.budget()
	// Procedures run on when ctx ends (the run is over), so that their
	// replies still reach the peer: they end with the connection.
	pctx, pcancel := context.WithCancel(context.WithoutCancel(ctx))
	ctx, cancel := context.WithCancel(ctx)
	var handlers sync.WaitGroup
	var procs inflight
	defer func() {
		cancel()
		c.close(nil)
		pcancel()
		handlers.Wait()
		c.fr.release()
		var slow *SlowPeerError
		if errors.As(c.err, &slow) && s.Logf != nil {
			s.Logf("disconnected a client (%s) that read nothing for %s", orUnnamed(c.peer), slow.Timeout)
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			// Answer every procedure asked before closing: a cancel of
			// the run's last node ends the run, and its reply must not
			// be lost with it. Streams end with ctx.
			if testHookDraining != nil {
				testHookDraining()
			}
			t := time.NewTimer(drainTimeout)
			defer t.Stop()
			select {
			case <-procs.drained():
			case <-t.C:
			case <-c.closed:
			}
			c.close(ErrClosed)
		case <-c.closed:
		}
	}()

	if err := s.hello(c); err != nil {
		return s.refused(c, err)
	}

	var mu sync.Mutex
	streams := map[string]context.CancelFunc{} // request id -> its cancel
	rd, _ := rwc.(interface{ SetReadDeadline(time.Time) error })
	for {
		if rd != nil && s.ReadTimeout > 0 {
			_ = rd.SetReadDeadline(time.Now().Add(s.ReadTimeout)) // rd takes deadlines: it said so
		}
		m, err := c.read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("the peer said nothing for %s: taken for gone", s.ReadTimeout)
		}
		if err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			select {
			case <-c.closed:
				return nil
			default:
			}
			return s.refused(c, err)
		}
		switch {
		case isNotification(m) && m.Method == MethodStreamCancel:
			var p struct {
				ID json.RawMessage `json:"id"`
			}
			if m.params(&p) == nil {
				mu.Lock()
				if stop, ok := streams[string(p.ID)]; ok {
					stop()
				}
				mu.Unlock()
			}
		case isRequest(m):
			id := string(m.ID)
			mu.Lock()
			_, dup := streams[id]
			full := len(streams) >= maxInflight
			mu.Unlock()
			if dup || full {
				msg := "too many requests at once"
				if dup {
					msg = "request id " + id + " is already in use"
				}
				c.send(&message{ID: m.ID, Error: &Error{Code: CodeInvalidRequest, Message: msg}})
				continue
			}
			parent := ctx
			if !isStream(m.Method) {
				if !procs.add() {
					c.send(&message{ID: m.ID, Error: &Error{Code: CodeCancelled, Message: "the server is stopping: the run is over"}})
					continue
				}
				parent = pctx
			}
			rctx, stop := context.WithCancel(parent)
			mu.Lock()
			streams[id] = stop
			mu.Unlock()
			handlers.Add(1)
			go func() {
				defer handlers.Done()
				defer func() {
					stop()
					mu.Lock()
					delete(streams, id)
					mu.Unlock()
					if !isStream(m.Method) {
						procs.done()
					}
				}()
				s.handle(rctx, c, m)
			}()
		}
		// Other notifications, and responses (a server asks nothing),
		// are ignored, as JSON-RPC has it.
	}
}

// refused tells a peer whose frame was refused for the server's memory
// why its connection ends, as far as it reads, and returns err.
func (s *Server) refused(c *conn, err error) error {
	var busy *BusyError
	if errors.As(err, &busy) {
		data, _ := json.Marshal(map[string]string{"reason": err.Error()})
		c.send(&message{Method: NoteDisconnect, Params: data})
		if s.Logf != nil {
			s.Logf("disconnected a client (%s): %v", orUnnamed(c.peer), err)
		}
	}
	return err
}

// hello reads the first message, which must be a hello of the same
// protocol and version.
func (s *Server) hello(c *conn) error {
	m, err := c.read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
	if !isRequest(m) || m.Method != MethodHello {
		c.send(&message{ID: m.ID, Error: &Error{Code: CodeInvalidRequest, Message: "the first message must be hello"}})
		return &ProtocolError{Frame: []byte(m.Method), Err: errors.New("the first message is not hello")}
	}
	var p HelloParams
	if err := m.params(&p); err != nil {
		s.fail(c, m.ID, err)
		return err
	}
	if p.Protocol != Protocol || p.Version != s.Version {
		verr := versionError(s.Name, s.Version, Protocol, p.Client, p.Version, p.Protocol)
		c.send(&message{ID: m.ID, Error: &Error{Code: CodeVersion, Message: verr.Error()}})
		return verr
	}
	c.peer = p.Client
	return s.reply(c, m.ID, HelloResult{Protocol: Protocol, Version: s.Version, Server: s.Name, Platform: s.Platform})
}

// VersionError reports peers of different odu versions or protocols.
type VersionError struct{ msg string }

func versionError(server, serverVersion string, serverProtocol int, client, clientVersion string, clientProtocol int) *VersionError {
	if client == "" {
		client = "the client"
	}
	return &VersionError{msg: fmt.Sprintf("odu versions differ: the %s is odu %s (protocol %d), %s is odu %s (protocol %d)",
		server, serverVersion, serverProtocol, client, clientVersion, clientProtocol)}
}

func (e *VersionError) Error() string { return e.msg }

// Hint says what to do.
func (e *VersionError) Hint() string {
	return "Use the same odu binary for both: rebuild or reinstall it, and start the run again."
}

func (s *Server) reply(c *conn, id json.RawMessage, result any) error {
	data, err := json.Marshal(result)
	if err != nil {
		return c.send(&message{ID: id, Error: &Error{Code: CodeInternal, Message: err.Error()}})
	}
	return c.send(&message{ID: id, Result: data})
}

func (s *Server) fail(c *conn, id json.RawMessage, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: CodeInternal, Message: err.Error()}
	}
	c.send(&message{ID: id, Error: e})
}

func (s *Server) handle(ctx context.Context, c *conn, m *message) {
	var err error
	switch m.Method {
	case MethodNodesGet, MethodNodeLog:
		if _, ok := streamID(m.ID); !ok {
			err = &Error{Code: CodeInvalidRequest, Message: m.Method + " is a stream: its request id must be an integer, which its notifications carry"}
		} else if m.Method == MethodNodesGet {
			err = s.cell(ctx, c, m)
		} else {
			err = s.log(ctx, c, m)
		}
	case MethodConfigure:
		var cfg Config
		if err = m.params(&cfg); err == nil {
			if err = s.Controller.Configure(ctx, cfg); err == nil {
				err = s.reply(c, m.ID, struct{}{})
			}
		}
	case MethodRerun, MethodCancel:
		var p IDParams
		if err = m.params(&p); err != nil {
			break
		}
		if err = s.known(ctx, p.ID); err != nil {
			break
		}
		var res any
		if m.Method == MethodRerun {
			res, err = s.Controller.Rerun(ctx, p.ID)
		} else {
			res, err = s.Controller.CancelNode(ctx, p.ID)
		}
		if err == nil {
			err = s.reply(c, m.ID, res)
		}
	case MethodRunCancel:
		var p RunCancelParams
		if err = m.params(&p); err != nil {
			break
		}
		if sup, ok := s.Controller.(Superseder); ok && p.Superseded != "" {
			err = sup.Supersede(ctx, p.Superseded)
		} else {
			err = s.Controller.CancelRun(ctx)
		}
		if err == nil {
			err = s.reply(c, m.ID, struct{}{})
		}
	case MethodRunnerExit:
		x, ok := s.Controller.(Exiter)
		if !ok {
			err = &Error{Code: CodeMethodNotFound, Message: "no method " + m.Method + ": the server is not a detached runner"}
		} else if err = x.Exit(ctx); err == nil {
			err = s.reply(c, m.ID, struct{}{})
		}
	case MethodSettle:
		var p SettleParams
		x, ok := s.Controller.(Settler)
		switch {
		case !ok:
			err = &Error{Code: CodeMethodNotFound, Message: "no method " + m.Method + ": the server is not a runner"}
		case m.params(&p) != nil:
			err = m.params(&p)
		default:
			if err = x.Settle(ctx, p); err == nil {
				err = s.reply(c, m.ID, struct{}{})
			}
		}
	case MethodHello:
		err = &Error{Code: CodeInvalidRequest, Message: "hello was already said"}
	default:
		err = &Error{Code: CodeMethodNotFound, Message: "no method " + m.Method}
	}
	if err != nil && !errors.Is(err, ErrClosed) {
		s.fail(c, m.ID, err)
	}
}

func (s *Server) known(ctx context.Context, id string) error {
	st, err := s.storeOf(ctx)
	if err != nil {
		return err
	}
	if _, ok := st.Node(id); !ok {
		return unknownNode(id)
	}
	return nil
}

func unknownNode(id string) *Error {
	return &Error{Code: CodeUnknownNode, Message: "no node " + id}
}

// cell streams the state: a snapshot, every change in order, and, once the
// run is over, a response that ends the stream.
func (s *Server) cell(ctx context.Context, c *conn, m *message) error {
	st, err := s.storeOf(ctx)
	if err != nil {
		return err
	}
	var p NodesGetParams
	if err := m.params(&p); err != nil {
		return err
	}
	stream, _ := streamID(m.ID)
	snap, ok := State{}, false
	if p.From != nil {
		snap, ok = st.SnapshotAt(*p.From)
	}
	if !ok {
		snap = st.Snapshot()
	}
	if err := sendNote(c, NoteSnapshot, SnapshotNote{Stream: stream, State: snap}); err != nil {
		return err
	}
	seq := snap.Seq
	for {
		deltas, reset, wait, closed := st.Since(seq)
		if reset != nil {
			missed := st.Missed(seq, reset.Seq)
			if err := sendNote(c, NoteSnapshot, SnapshotNote{Stream: stream, State: *reset, Missed: missed}); err != nil {
				return err
			}
			seq = reset.Seq
			continue
		}
		for _, d := range deltas {
			if err := sendNote(c, NoteDelta, DeltaNote{Stream: stream, Delta: d}); err != nil {
				return err
			}
			seq = d.Seq
		}
		if len(deltas) > 0 {
			continue
		}
		if closed {
			return s.reply(c, m.ID, StreamEnd{Seq: seq})
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return &Error{Code: CodeCancelled, Message: "stream cancelled"}
		}
	}
}

// log streams a node's log from an offset: what is there, what is added,
// and a response when the attempt is finished (or was restarted).
func (s *Server) log(ctx context.Context, c *conn, m *message) error {
	var p NodeLogParams
	if err := m.params(&p); err != nil {
		return err
	}
	st, err := s.storeOf(ctx)
	if err != nil {
		return err
	}
	l := st.Log(p.ID)
	if l == nil {
		return unknownNode(p.ID)
	}
	if p.From < 0 {
		return &Error{Code: CodeInvalidParams, Message: "from must not be negative"}
	}
	attempt := l.Status().Attempt
	off := p.From
	if p.Attempt != 0 && p.Attempt != attempt {
		off = 0 // that attempt is gone; the current one starts empty
	}
	stream, _ := streamID(m.ID)
	var stopAt int64 = -1 // for NoFollow: the size when asked
	for {
		ls := l.Status()
		// A write error (a full disk) does not end the stream: its
		// writer ends the attempt with a line that says so, and
		// finishes it.
		size, finished, changed := ls.Size, ls.Finished, ls.Changed
		if ls.Attempt != attempt {
			return s.reply(c, m.ID, LogEnd{Attempt: attempt, End: off, Restarted: true})
		}
		if stopAt < 0 && p.NoFollow {
			stopAt = size
		}
		if off > size {
			return &Error{Code: CodeInvalidParams, Message: fmt.Sprintf("from %d is past the end of the log (%d bytes)", off, size)}
		}
		if off < size && (stopAt < 0 || off < stopAt) && p.SizeOnly {
			if err := c.send(note(NoteChunk, ChunkNote{Stream: stream, Attempt: attempt, Offset: off, Size: size - off})); err != nil {
				return err
			}
			off = size
			continue
		}
		if off < size && (stopAt < 0 || off < stopAt) {
			n, rerr, werr := c.sendLog(l, stream, attempt, off, p.Raw)
			if errors.Is(rerr, ErrRestarted) {
				continue
			}
			if errors.Is(rerr, io.EOF) && !finished {
				// Fewer bytes than the log said: its writer truncated it
				// for a rerun the log has not been told of yet (a local
				// lane's log, which its runner writes). The restart, or
				// the node's end, is the next change.
				select {
				case <-changed:
					continue
				case <-ctx.Done():
					return &Error{Code: CodeCancelled, Message: "stream cancelled"}
				}
			}
			if rerr != nil {
				return &Error{Code: CodeInternal, Message: "read log: " + rerr.Error()}
			}
			if werr != nil {
				return werr
			}
			off += int64(n)
			continue
		}
		if finished || (stopAt >= 0 && off >= stopAt) {
			return s.reply(c, m.ID, LogEnd{Attempt: attempt, End: off, Finished: finished})
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return &Error{Code: CodeCancelled, Message: "stream cancelled"}
		}
	}
}

func note(method string, params any) *message {
	data, err := json.Marshal(params)
	if err != nil {
		panic(err) // our own types always marshal
	}
	return &message{Method: method, Params: data}
}

// sendNote sends a notification whose params it encodes, and writes the
// frame around them itself: c.send(note(...)) has encoding/json encode
// the message around its raw params, which validates and compacts them
// all over again, for a snapshot of 2,000 nodes (700 KB) three times as
// long as encoding the snapshot. The frame is the same.
func sendNote(c *conn, method string, params any) error {
	data, err := json.Marshal(params)
	if err != nil {
		panic(err) // our own types always marshal
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	buf := append(c.wbuf[:0], `{"jsonrpc":"2.0","method":"`...)
	buf = append(buf, method...) // one of the Note constants: nothing to escape
	buf = append(buf, `","params":`...)
	buf = append(buf, data...)
	return c.writeLocked(append(buf, "}\n"...), nil)
}

// streamID is a stream's request id as the number its notifications
// carry; ok is false for an id that is not a non-negative integer.
func streamID(id json.RawMessage) (n int64, ok bool) {
	if strings.ContainsAny(string(id), ".eE-") || json.Unmarshal(id, &n) != nil {
		return 0, false
	}
	return n, true
}

func orUnnamed(client string) string {
	if client == "" {
		return "unnamed"
	}
	return client
}
