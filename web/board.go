package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/surface"
)

// boardRun is one run on the board.
type boardRun struct {
	Ref        string         `json:"ref"`
	Live       bool           `json:"live"`
	SHA        string         `json:"sha"`
	Branch     string         `json:"branch,omitempty"`
	Started    time.Time      `json:"started"`
	Ended      *time.Time     `json:"ended,omitempty"`
	Verdict    string         `json:"verdict"` // running, success, failure, cancelled
	Counts     map[string]int `json:"counts"`
	Nodes      int            `json:"nodes"`
	Failing    []string       `json:"failing,omitempty"`
	DurationMS int64          `json:"duration_ms,omitempty"`
}

// maxBoard is how many recorded runs the board lists.
const maxBoard = 200

func summarise(ref string, live bool, st surface.State) boardRun {
	b := boardRun{Ref: ref, Live: live && st.Run.Ended == nil, SHA: st.Run.SHA, Branch: st.Run.Branch,
		Started: st.Run.Started, Ended: st.Run.Ended, Counts: map[string]int{}, Nodes: len(st.Nodes)}
	bad := false
	for _, n := range st.Nodes {
		b.Counts[string(n.Status)]++
		switch n.Status {
		case surface.Failure, surface.Errored:
			b.Failing = append(b.Failing, n.ID)
			bad = true
		case surface.Cancelled, surface.Skipped:
			bad = true
		}
	}
	switch {
	case b.Live:
		b.Verdict = "running"
	case st.Run.Cancelled:
		b.Verdict = "cancelled"
	case len(b.Failing) > 0 || bad:
		b.Verdict = "failure"
	default:
		b.Verdict = "success"
	}
	if st.Run.Ended != nil {
		b.DurationMS = st.Run.Ended.Sub(st.Run.Started).Milliseconds()
	}
	return b
}

// boardOf lists the recorded runs, the live one (if any) as it is now.
func (s *Server) boardOf(live *surface.State) []boardRun {
	out := []boardRun{}
	liveName := ""
	if live != nil {
		liveName = liveRef(s.opt.Root, *live)
		out = append(out, summarise(liveName, true, *live))
	}
	for _, pr := range listRuns(s.opt.Root) {
		if len(out) >= maxBoard {
			break
		}
		if pr.Ref == liveName {
			continue
		}
		unfinished(&pr.State)
		out = append(out, summarise(pr.Ref, false, pr.State))
	}
	return out
}

// boardEvery is how often the board is sent while a live run changes:
// every change of a 200-node run would be hundreds of lists a second.
const boardEvery = 500 * time.Millisecond

// board streams the list of runs: "runs" events, again whenever it
// changes.
func (s *Server) board(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	e, err := startSSE(w)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var last time.Time
	for {
		cl, watch, st, err := s.attachLive(ctx)
		if err == nil && !st.Run.Started.Equal(last) {
			ended, err := s.followBoard(ctx, e, watch, st)
			watch.Close()
			cl.Close()
			if err != nil {
				return
			}
			if !ended {
				// Lost the run's socket, or the run died: attach again
				// (or list its record) in a moment.
				select {
				case <-ctx.Done():
					return
				case <-time.After(250 * time.Millisecond):
				}
				continue
			}
			last = st.Run.Started
		} else if err == nil {
			watch.Close()
			cl.Close()
		} else if !errors.Is(err, runstate.ErrNoRun) {
			_ = e.send("failed", map[string]string{"error": err.Error()})
			return
		}
		if ctx.Err() != nil || e.send("runs", s.boardOf(nil)) != nil || s.waitNext(ctx, last) != nil {
			return
		}
	}
}

// followBoard sends the board as the live run changes, until it is over
// (ended) or its connection is lost. It returns an error when the page
// left.
func (s *Server) followBoard(ctx context.Context, e *sse, w *surface.Watch, st surface.State) (ended bool, err error) {
	if err := e.send("runs", s.boardOf(&st)); err != nil {
		return false, err
	}
	type next struct {
		ev  surface.Event
		err error
	}
	evs := make(chan next)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			ev, err := w.Next(wctx)
			select {
			case evs <- next{ev, err}:
			case <-wctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() { stop(); <-done }()
	tick := time.NewTicker(boardEvery)
	defer tick.Stop()
	dirty := false
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case n := <-evs:
			if n.err != nil {
				return errors.Is(n.err, io.EOF), nil // over, or lost
			}
			if n.ev.Snapshot != nil {
				st = *n.ev.Snapshot
			} else if n.ev.Delta != nil {
				st.Apply(*n.ev.Delta)
			}
			dirty = true
		case <-tick.C:
			if dirty {
				dirty = false
				if err := e.send("runs", s.boardOf(&st)); err != nil {
					return false, err
				}
			}
		}
	}
}
