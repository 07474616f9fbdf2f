package tui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/odu-ci/odu/surface"
)

const (
	// maxBatch is the most log bytes one message brings the program: the
	// log pane takes a few milliseconds over it at most (more on a busy
	// machine), which is how long a key press may wait behind it.
	maxBatch = 64 << 10
	// maxPending is the most log bytes waiting for the program; beyond
	// it, the oldest are skipped. It is about twice what the pane can
	// show (Scrollback lines), so skipping only drops what
	// would have scrolled away unseen.
	maxPending = 2 << 20
	// waitNote is how long attaching may take before the dashboard says
	// it is waiting for a run.
	waitNote = 200 * time.Millisecond
	// actionTimeout bounds a rerun or cancel request.
	actionTimeout = 10 * time.Second
)

// Client is what the dashboard needs of a surface client; a
// *surface.Client is one.
type Client interface {
	Watch() (*surface.Watch, error)
	Log(surface.NodeLogParams) (*surface.LogStream, error)
	Rerun(ctx context.Context, id string) ([]string, error)
	CancelNode(ctx context.Context, id string) error
}

// Options configure [Run].
type Options struct {
	// Attach connects to the run; it may wait for one to start. The
	// dashboard closes the client (if it is an io.Closer) when it ends.
	Attach func(ctx context.Context) (Client, error)
	// Dir is the checkout, shown while waiting for a run.
	Dir string
	// Input and Output are the terminal.
	Input  io.Reader
	Output io.Writer
	// Colour is off for NO_COLOR (and TERM=dumb).
	Colour bool
	// ExitOnSettle returns as soon as the run is over, instead of on q;
	// with HoldFailure, not when a node failed: the dashboard then stays
	// until q, so that the failure can be read, and calls OnHold.
	ExitOnSettle bool
	HoldFailure  bool
	OnHold       func()
	// ReadLog opens a node's log as the run's record on disk keeps it:
	// what the pane shows once the connection to the run is closed (the
	// run is over) or lost. run is the run the dashboard showed.
	ReadLog func(run surface.Run, id string) (io.ReadCloser, error)
	// Quit says what q does, in the help: "leave" or "cancel the run".
	Quit string
	// RerunAfter: r on a run that is over ends the dashboard with the
	// focused node in Result.Rerun, for the caller to start a new run
	// that reruns it (odu rerun with no run live).
	RerunAfter bool
}

// Result is how the dashboard ended.
type Result struct {
	State surface.State // the run as last seen
	Quit  bool          // the user left (q, ctrl+c); false when the run settled with ExitOnSettle
	Ended bool          // the run was over
	Lost  error         // the connection to the run was lost, or could not be made
	Rerun string        // the node to rerun in a new run (r once the run was over; see RerunAfter)
}

// Run shows the dashboard on the terminal until the user leaves (or the
// run is over, with ExitOnSettle), or ctx ends. Leaving does nothing to
// the run: what it means is the caller's to decide.
func Run(ctx context.Context, o Options) (Result, error) {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := NewCommon(o.Colour)
	f := &feed{kick: make(chan struct{}, 1)}
	src := &source{ctx: ctx, f: f, changed: make(chan struct{}, 1), readLog: o.ReadLog}
	m := NewModel(c, src, o.Quit)
	m.ExitOnSettle, m.HoldFailure, m.OnHold = o.ExitOnSettle, o.HoldFailure, o.OnHold
	m.RerunAfter = o.RerunAfter
	// The colours are the styles' and the log's own (the profile is not
	// detected: NO_COLOR is applied by the styles, and the log's colours
	// go out as the recipe wrote them, as they did in Bubble Tea v1).
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(o.Input), tea.WithOutput(o.Output),
		tea.WithColorProfile(colorprofile.TrueColor), tea.WithFPS(60), tea.WithoutSignalHandler())

	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); f.send(ctx, p) }()
	go func() { defer wg.Done(); src.watch(ctx, o) }()
	go func() { defer wg.Done(); src.logs(ctx) }()
	_, err := p.Run()
	cancel()
	wg.Wait()
	src.close()
	return Result{State: m.State(), Quit: m.Quit(), Ended: m.Ended(), Lost: m.Lost(), Rerun: m.Rerun()}, runErr(parent, err)
}

// runErr is what Run returns for the program's error: none when the
// program was killed because the caller's ctx ended (the caller knows).
// A panic in Update or View also comes as ErrProgramKilled, wrapping
// ErrProgramPanic: that one is returned, whatever ctx says.
func runErr(ctx context.Context, err error) error {
	if errors.Is(err, tea.ErrProgramKilled) && !errors.Is(err, tea.ErrProgramPanic) && ctx.Err() != nil {
		return nil
	}
	return err
}

// feed holds what waits for the program: messages that are never
// dropped, in order, and the followed log's bytes, coalesced.
type feed struct {
	kick chan struct{}

	mu      sync.Mutex
	msgs    []tea.Msg
	gen     int
	log     []byte
	skipped int64
}

func (f *feed) poke() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// push queues a message; it never drops one.
func (f *feed) push(msg tea.Msg) {
	f.mu.Lock()
	f.msgs = append(f.msgs, msg)
	f.mu.Unlock()
	f.poke()
}

// setGen starts a log: bytes of other generations are dropped.
func (f *feed) setGen(gen int) {
	f.mu.Lock()
	f.gen, f.log, f.skipped = gen, f.log[:0], 0
	f.mu.Unlock()
}

// pushLog queues log bytes of generation gen. When more than maxPending
// wait, the oldest are skipped, up to a line's end when there is one
// near.
func (f *feed) pushLog(gen int, data []byte) {
	f.mu.Lock()
	if gen != f.gen {
		f.mu.Unlock()
		return
	}
	f.log = append(f.log, data...)
	if over := len(f.log) - maxPending; over > 0 {
		if i := bytes.IndexByte(f.log[over:min(over+4096, len(f.log))], '\n'); i >= 0 {
			over += i + 1
		}
		f.skipped += int64(over)
		f.log = f.log[:copy(f.log, f.log[over:])]
	}
	f.mu.Unlock()
	f.poke()
}

// take returns what waits: the messages, adjacent state changes merged
// into one, then up to maxBatch log bytes.
func (f *feed) take() []tea.Msg {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []tea.Msg
	for _, msg := range f.msgs {
		if s, ok := msg.(StateMsg); ok && len(out) > 0 {
			if last, ok := out[len(out)-1].(StateMsg); ok {
				out[len(out)-1] = StateMsg{Events: append(last.Events, s.Events...)}
				continue
			}
		}
		out = append(out, msg)
	}
	f.msgs = nil
	if len(f.log) > 0 || f.skipped > 0 {
		n := min(len(f.log), maxBatch)
		data := append([]byte(nil), f.log[:n]...)
		out = append(out, LogMsg{Gen: f.gen, Skipped: f.skipped, Data: data})
		f.log, f.skipped = f.log[:copy(f.log, f.log[n:])], 0
		if len(f.log) > 0 {
			f.poke() // the rest in the next round
		}
	}
	return out
}

// send is the one goroutine that hands outside events to the program.
func (f *feed) send(ctx context.Context, p *tea.Program) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.kick:
		}
		for _, msg := range f.take() {
			p.Send(msg) // returns when the program is done
			if ctx.Err() != nil {
				return
			}
		}
	}
}

// source is the model's Source: it follows the run's cell and the
// focused log, and asks for reruns and cancels.
type source struct {
	ctx     context.Context
	f       *feed
	changed chan struct{}
	readLog func(surface.Run, string) (io.ReadCloser, error)

	mu      sync.Mutex
	cl      Client
	run     surface.Run // as the last snapshot said
	gen     int
	id      string
	attempt int
}

func (s *source) client() Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cl
}

func (s *source) close() {
	if c, ok := s.client().(io.Closer); ok {
		c.Close()
	}
}

// Follow asks the log goroutine for a log.
func (s *source) Follow(id string, attempt int) int {
	s.mu.Lock()
	s.gen++
	s.id, s.attempt = id, attempt
	gen := s.gen
	s.mu.Unlock()
	s.f.setGen(gen)
	select {
	case s.changed <- struct{}{}:
	default:
	}
	return gen
}

// Rerun reruns a node.
func (s *source) Rerun(id string) ([]string, error) {
	cl := s.client()
	if cl == nil {
		return nil, errors.New("not attached to a run")
	}
	ctx, cancel := context.WithTimeout(s.ctx, actionTimeout)
	defer cancel()
	return cl.Rerun(ctx, id)
}

// CancelNode stops a node.
func (s *source) CancelNode(id string) error {
	cl := s.client()
	if cl == nil {
		return errors.New("not attached to a run")
	}
	ctx, cancel := context.WithTimeout(s.ctx, actionTimeout)
	defer cancel()
	return cl.CancelNode(ctx, id)
}

// watch attaches to the run and feeds its cell to the program.
func (s *source) watch(ctx context.Context, o Options) {
	waiting := time.AfterFunc(waitNote, func() { s.f.push(WaitingMsg{Dir: o.Dir}) })
	cl, err := o.Attach(ctx)
	waiting.Stop()
	if err != nil {
		if ctx.Err() == nil {
			s.f.push(EndMsg{Err: err})
		}
		return
	}
	s.mu.Lock()
	s.cl = cl
	s.mu.Unlock()
	select { // a Follow may have come before the client
	case s.changed <- struct{}{}:
	default:
	}
	w, err := cl.Watch()
	if err != nil {
		s.f.push(EndMsg{Err: err})
		return
	}
	defer w.Close()
	for {
		ev, err := w.Next(ctx)
		if errors.Is(err, io.EOF) {
			s.f.push(EndMsg{})
			return
		}
		if err != nil {
			if ctx.Err() == nil {
				s.f.push(EndMsg{Err: err})
			}
			return
		}
		if ev.Snapshot != nil {
			// The watch keeps applying changes to the snapshot's slices:
			// the program gets its own.
			st := *ev.Snapshot
			st.Nodes, st.Lanes = slices.Clone(st.Nodes), slices.Clone(st.Lanes)
			ev.Snapshot = &st
			s.mu.Lock()
			s.run = st.Run
			s.mu.Unlock()
		}
		s.f.push(StateMsg{Events: []surface.Event{ev}})
	}
}

// logs streams the log the model follows, one at a time: a new Follow
// stops the stream of the last.
func (s *source) logs(ctx context.Context) {
	stop := func() {}
	defer func() { stop() }()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.changed:
		}
		s.mu.Lock()
		cl, id, attempt, gen := s.cl, s.id, s.attempt, s.gen
		s.mu.Unlock()
		if cl == nil || id == "" {
			continue
		}
		stop()
		stop = s.start(ctx, cl, id, attempt, gen)
	}
}

// start streams a log in a goroutine; the function it returns stops it
// and waits for it.
func (s *source) start(ctx context.Context, cl Client, id string, attempt, gen int) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.stream(ctx, cl, id, attempt, gen)
	}()
	return func() { cancel(); <-done }
}

// stream copies one log into the feed until it ends or ctx does. When
// the connection cannot serve it (the run is over, or the link is lost),
// the rest comes from the run's record on disk.
func (s *source) stream(ctx context.Context, cl Client, id string, attempt, gen int) {
	ls, err := cl.Log(surface.NodeLogParams{ID: id, Attempt: attempt})
	if err != nil {
		s.fromDisk(ctx, id, gen, 0, fmt.Errorf("cannot read the log of %s: %w", id, err))
		return
	}
	defer ls.Close()
	var from int64
	for {
		c, err := ls.Next(ctx)
		if err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil {
				s.fromDisk(ctx, id, gen, from, fmt.Errorf("the log of %s stopped: %w", id, err))
			}
			return
		}
		from = c.Offset + c.Len()
		s.f.pushLog(gen, c.Data)
		c.Release()
	}
}

// fromDisk copies a log from the run's record on disk, from offset
// from, into the feed; why says why the connection could not, for when
// the disk cannot either.
func (s *source) fromDisk(ctx context.Context, id string, gen int, from int64, why error) {
	say := func(err error) {
		nl := "\r\n"
		if from == 0 {
			nl = ""
		}
		s.f.pushLog(gen, []byte(fmt.Sprintf("\x1b[0m%s[odu: %v]\r\n", nl, err)))
	}
	if s.readLog == nil {
		say(why)
		return
	}
	s.mu.Lock()
	run := s.run
	s.mu.Unlock()
	r, err := s.readLog(run, id)
	if err != nil {
		say(fmt.Errorf("%w; nor from disk: %w", why, err))
		return
	}
	defer r.Close()
	if sk, ok := r.(io.Seeker); ok {
		_, err = sk.Seek(from, io.SeekStart)
	} else {
		_, err = io.CopyN(io.Discard, r, from)
	}
	if err != nil {
		say(fmt.Errorf("%w; the file on disk is shorter", why))
		return
	}
	buf := make([]byte, 32<<10)
	for ctx.Err() == nil {
		n, err := r.Read(buf)
		if n > 0 {
			s.f.pushLog(gen, append([]byte(nil), buf[:n]...))
		}
		if err != nil {
			return
		}
	}
}
