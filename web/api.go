package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/odu-ci/odu/internal/look"
	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/surface"
)

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /{$}", s.asset("index.html"))
	s.mux.HandleFunc("GET /app.js", s.asset("app.js"))
	s.mux.HandleFunc("GET /app.css", s.asset("app.css"))
	s.mux.HandleFunc("GET /api/look", s.look)
	s.mux.HandleFunc("GET /api/board", s.board)
	s.mux.HandleFunc("GET /api/run", s.runEvents)
	s.mux.HandleFunc("GET /api/log", s.logEvents)
	s.mux.HandleFunc("GET /api/raw", s.raw)
	s.mux.HandleFunc("POST /api/rerun", s.rerun)
	s.mux.HandleFunc("POST /api/cancel", s.cancel)
}

// client is how odu web says hello on the run's socket.
const client = "odu web"

// sse writes Server-Sent Events.
type sse struct {
	w http.ResponseWriter
	f http.Flusher
}

func startSSE(w http.ResponseWriter) (*sse, error) {
	f, ok := w.(http.Flusher)
	if !ok {
		return nil, errors.New("streaming unsupported")
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	f.Flush()
	return &sse{w, f}, nil
}

// raw sends an event whose data is JSON already.
func (e *sse) raw(event string, data []byte) error {
	if _, err := fmt.Fprintf(e.w, "event: %s\ndata: ", event); err != nil {
		return err
	}
	if _, err := e.w.Write(data); err != nil {
		return err
	}
	if _, err := e.w.Write([]byte("\n\n")); err != nil {
		return err
	}
	e.f.Flush()
	return nil
}

func (e *sse) send(event string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return e.raw(event, data)
}

// runMsg is a run's whole state, as the page gets it.
type runMsg struct {
	Ref   string        `json:"ref"`
	Live  bool          `json:"live"` // the run is live: deltas follow
	State surface.State `json:"state"`
	ETA   string        `json:"eta,omitempty"` // the live run's, as internal/look says it
}

// attachLive connects to the live run and reads its first state. It
// returns runstate.ErrNoRun when there is none.
func (s *Server) attachLive(ctx context.Context) (*surface.Client, *surface.Watch, surface.State, error) {
	cl, err := runstate.Dial(ctx, s.opt.Root, client, s.opt.Version)
	if err != nil {
		return nil, nil, surface.State{}, err
	}
	w, err := cl.Watch()
	if err != nil {
		cl.Close()
		return nil, nil, surface.State{}, err
	}
	ev, err := w.Next(ctx)
	if err != nil || ev.Snapshot == nil {
		w.Close()
		cl.Close()
		if err == nil {
			err = errors.New("the run's first state was not a snapshot")
		}
		return nil, nil, surface.State{}, fmt.Errorf("follow the run: %w", err)
	}
	return cl, w, *ev.Snapshot, nil
}

// waitNext waits for a run other than the one that started at last to
// be live: the socket to appear, or, while the run that ended is still
// winding down on it, a short while.
func (s *Server) waitNext(ctx context.Context, last time.Time) error {
	for {
		cl, err := runstate.DialWait(ctx, s.opt.Root, client, s.opt.Version)
		if err != nil {
			return err
		}
		w, err := cl.Watch()
		var ev surface.Event
		if err == nil {
			ev, err = w.Next(ctx)
			w.Close()
		}
		cl.Close()
		if err == nil && ev.Snapshot != nil && !ev.Snapshot.Run.Started.Equal(last) {
			return nil
		}
		// The run that ended still holds the socket for a moment (its
		// end is posted, its lanes stop): look again soon.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// runEvents streams a run's state: "state" (a runMsg), "delta"s while it
// is live, "ended" once it is over. The live ref follows one run after
// another.
func (s *Server) runEvents(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ref := r.URL.Query().Get("ref")
	e, err := startSSE(w)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var last time.Time // the start of the last run followed to its end
	for {
		cl, watch, st, err := s.attachLive(ctx)
		if err == nil && (ref == LiveRef || liveRef(st) == ref) && !st.Run.Started.Equal(last) {
			ended := s.follow(ctx, e, watch, st)
			watch.Close()
			cl.Close()
			if ctx.Err() != nil {
				return
			}
			if !ended {
				// The run's socket dropped odu web, or the run died:
				// attach again (or read its record) in a moment.
				select {
				case <-ctx.Done():
					return
				case <-time.After(250 * time.Millisecond):
				}
				continue
			}
			last = st.Run.Started
			if ref != LiveRef {
				return
			}
			continue
		}
		if err == nil {
			watch.Close()
			cl.Close()
		} else if !errors.Is(err, runstate.ErrNoRun) {
			_ = e.send("failed", map[string]string{"error": err.Error()})
			return
		}
		if ctx.Err() != nil {
			return
		}
		// A recorded run: the record, also of a run just followed (its
		// last state, when the run died before the cell said it ended).
		rec, err := readRun(s.opt.Root, ref)
		switch {
		case err == nil:
			if e.send("state", runMsg{Ref: liveRef(rec.State), State: rec.State}) != nil {
				return
			}
		case ref != LiveRef || !errors.Is(err, runstate.ErrNoRecord):
			_ = e.send("failed", map[string]string{"error": err.Error()})
			return
		}
		if ref != LiveRef {
			_ = e.send("ended", struct{}{})
			return
		}
		if e.send("ended", struct{}{}) != nil || s.waitNext(ctx, last) != nil {
			return
		}
	}
}

// etaEvery is how often a live run's ETA is said again: it is a
// function of the time, as the dashboard's header is.
const etaEvery = time.Second

// follow streams a live run until it is over, and says whether it saw
// its end: false when the page left, or the run's connection was lost.
// An "eta" event says the run's ETA (internal/look's, as the dashboard
// says it) when it changes.
func (s *Server) follow(ctx context.Context, e *sse, w *surface.Watch, st surface.State) bool {
	ref := liveRef(st)
	eta := look.ETA(st, time.Now())
	if err := e.send("state", runMsg{Ref: ref, Live: true, State: st, ETA: eta}); err != nil {
		return false // the page left
	}
	evs, stop := events(ctx, w)
	defer stop()
	tick := time.NewTicker(etaEvery)
	defer tick.Stop()
	for {
		var err error
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
			if now := look.ETA(st, time.Now()); now != eta {
				eta = now
				err = e.send("eta", map[string]string{"eta": eta})
			}
		case n := <-evs:
			if errors.Is(n.err, io.EOF) {
				return e.send("ended", struct{}{}) == nil
			}
			if n.err != nil {
				return false
			}
			if n.ev.Snapshot != nil {
				st = *n.ev.Snapshot
				eta = look.ETA(st, time.Now())
				err = e.send("state", runMsg{Ref: ref, Live: true, State: st, ETA: eta})
			} else if n.ev.Delta != nil {
				st.Apply(*n.ev.Delta)
				err = e.send("delta", n.ev.Delta)
			}
		}
		if err != nil {
			return false
		}
	}
}

// watched is what a watch said next.
type watched struct {
	ev  surface.Event
	err error
}

// events reads a watch's events into a channel, until an error (sent
// too) or stop.
func events(ctx context.Context, w *surface.Watch) (<-chan watched, func()) {
	evs := make(chan watched)
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			ev, err := w.Next(wctx)
			select {
			case evs <- watched{ev, err}:
			case <-wctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return evs, func() { cancel(); <-done }
}

// postJSON reads a mutation's body.
type action struct {
	Ref  string `json:"ref"`
	Node string `json:"node"`
}

// liveFor connects to the live run that ref names.
func (s *Server) liveFor(w http.ResponseWriter, r *http.Request) (*surface.Client, action, bool) {
	var a action
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&a); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return nil, a, false
	}
	if a.Ref == "" {
		http.Error(w, `bad request: name the run: ref, "live" or the run's <sha7>#<n>`, http.StatusBadRequest)
		return nil, a, false
	}
	cl, watch, st, err := s.attachLive(r.Context())
	if err != nil {
		http.Error(w, "the run is over: nothing to change", http.StatusConflict)
		return nil, a, false
	}
	watch.Close()
	if a.Ref != LiveRef && a.Ref != liveRef(st) {
		cl.Close()
		http.Error(w, "run "+a.Ref+" is over: nothing to change", http.StatusConflict)
		return nil, a, false
	}
	if a.Node != "" && st.Node(a.Node) == nil {
		cl.Close()
		http.Error(w, "the run has no node "+strconv.Quote(a.Node), http.StatusNotFound)
		return nil, a, false
	}
	return cl, a, true
}

func (s *Server) rerun(w http.ResponseWriter, r *http.Request) {
	cl, a, ok := s.liveFor(w, r)
	if !ok {
		return
	}
	defer cl.Close()
	if a.Node == "" {
		http.Error(w, "name a node to rerun", http.StatusBadRequest)
		return
	}
	res, err := cl.RerunNode(r.Context(), a.Node)
	if err != nil {
		http.Error(w, "rerun "+a.Node+": "+err.Error(), http.StatusConflict)
		return
	}
	writeJSON(w, res)
}

func (s *Server) cancel(w http.ResponseWriter, r *http.Request) {
	cl, a, ok := s.liveFor(w, r)
	if !ok {
		return
	}
	defer cl.Close()
	if a.Node == "" {
		if err := cl.CancelRun(r.Context()); err != nil {
			http.Error(w, "cancel the run: "+err.Error(), http.StatusConflict)
			return
		}
		writeJSON(w, struct{}{})
		return
	}
	res, err := cl.CancelNodeResult(r.Context(), a.Node)
	if err != nil {
		http.Error(w, "cancel "+a.Node+": "+err.Error(), http.StatusConflict)
		return
	}
	writeJSON(w, res)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
