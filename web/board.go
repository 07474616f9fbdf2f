package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/surface"
)

// maxBoard is how many recorded runs the board lists.
const maxBoard = 200

// boardOf lists the checkout's runs from runstate's index, newest first
// (nothing but the index is read, and the record of a run that had not
// ended), the live one (if any) first and as it is now.
func (s *Server) boardOf(live *surface.State) []runstate.RunEntry {
	runs, _ := runstate.ListRuns(s.opt.Root)
	out := make([]runstate.RunEntry, 0, min(len(runs), maxBoard)+1)
	if live != nil {
		for i, e := range runs {
			if e.Ref == live.Run.Ref {
				out = append(out, e.With(*live))
				runs = slices.Delete(runs, i, i+1)
				break
			}
		}
	}
	for _, e := range runs {
		if len(out) >= maxBoard {
			break
		}
		out = append(out, e)
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
	evs, stop := events(ctx, w)
	defer stop()
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
