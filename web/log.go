package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/odu-ci/odu/surface"
)

// chunk is a piece of a log as a source brings it: bytes of an attempt
// at an offset, or the end.
type chunk struct {
	attempt int
	offset  int64
	data    []byte
	end     *surface.LogEnd
	err     error
}

// logSource opens where a node's log comes from: the live run's surface
// while the run is live (never its file: only an earlier attempt's,
// which is over), the record's log once it is over. attempt 0 is the
// node's newest. It returns a channel of chunks ending with an end or an error,
// and a stop that must be called.
func (s *Server) logSource(ctx context.Context, ref, node string, attempt int, follow bool) (<-chan chunk, func(), error) {
	ctx, cancel := context.WithCancel(ctx)
	out := make(chan chunk, 8)
	var wg sync.WaitGroup
	stop := func() { cancel(); wg.Wait() }
	send := func(c chunk) bool {
		select {
		case out <- c:
			return true
		case <-ctx.Done():
			return false
		}
	}
	cl, watch, st, err := s.attachLive(ctx)
	if err == nil {
		watch.Close()
		if ref == LiveRef || ref == liveRef(st) {
			if _, setup := surface.ParseSetupID(node); st.Node(node) == nil && !setup {
				cl.Close()
				cancel()
				return nil, nil, fmt.Errorf("the run has no node %q", node)
			}
			if n := st.Node(node); n != nil && attempt > 0 && attempt < n.Attempt {
				// An earlier attempt is over, and its log is a file of
				// its own (runstate.AttemptLog) that nothing writes
				// again: read there, as a past run's.
				cl.Close()
				return s.fileSource(ctx, cancel, out, send, *n, attempt)
			}
			ls, err := cl.Log(surface.NodeLogParams{ID: node, Attempt: attempt, NoFollow: !follow})
			if err != nil {
				cl.Close()
				cancel()
				return nil, nil, err
			}
			wg.Go(func() {
				defer close(out)
				defer cl.Close()
				defer ls.Close()
				for {
					c, err := ls.Next(ctx)
					if errors.Is(err, io.EOF) {
						send(chunk{end: ls.End()})
						return
					}
					if err != nil {
						send(chunk{err: err})
						return
					}
					data := append([]byte(nil), c.Data...)
					at, off := c.Attempt, c.Offset
					c.Release()
					if !send(chunk{attempt: at, offset: off, data: data}) {
						return
					}
				}
			})
			return out, stop, nil
		}
		cl.Close()
	}
	last, err := readRun(s.opt.Root, ref)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	n := last.State.Node(node)
	if n == nil {
		cancel()
		return nil, nil, fmt.Errorf("run %s has no node %q", liveRef(last.State), node)
	}
	return s.fileSource(ctx, cancel, out, send, *n, attempt)
}

// fileSource sends attempt k of a node's log from the file the record
// keeps it in: a past run's, or an earlier attempt of a live node.
func (s *Server) fileSource(ctx context.Context, cancel func(), out chan chunk, send func(chunk) bool, n surface.Node, k int) (<-chan chunk, func(), error) {
	f, attempt, err := openLog(s.opt.Root, n, k)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(out)
		defer f.Close()
		var off int64
		for {
			buf := make([]byte, 256<<10)
			k, err := f.Read(buf)
			if k > 0 {
				if !send(chunk{attempt: attempt, offset: off, data: buf[:k]}) {
					return
				}
				off += int64(k)
			}
			if errors.Is(err, io.EOF) {
				send(chunk{end: &surface.LogEnd{Attempt: attempt, End: off, Finished: attempt < n.Attempt || n.Status.Terminal()}})
				return
			}
			if err != nil {
				send(chunk{err: err})
				return
			}
		}
	})
	return out, func() { cancel(); wg.Wait() }, nil
}

// flushBytes bounds what is read from a source before the page is sent
// what changed: enough to send few large messages to a page that follows
// a fast log, small enough that it sees lines within a moment.
const flushBytes = 1 << 20

// logEvents streams a node's log, rendered: "lines" events (see
// renderer.diff), "reset" when a new attempt starts (the page clears),
// "end" when the attempt is finished. With from (and attempt), it
// resumes where the page was: the bytes before from are rendered again
// here, and only what changes after is sent, so that the page has every
// byte once.
func (s *Server) logEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ref, node := q.Get("ref"), q.Get("node")
	attempt, _ := strconv.Atoi(q.Get("attempt"))
	from, _ := strconv.ParseInt(q.Get("from"), 10, 64)
	ctx := r.Context()
	e, err := startSSE(w)
	if err != nil {
		return
	}
	src, stop, err := s.logSource(ctx, ref, node, attempt, true)
	if err != nil {
		_ = e.send("failed", map[string]string{"error": err.Error()})
		return
	}
	defer func() { stop() }()
	ren := newRenderer()
	cur := attempt
	var buf []byte
	flush := func() error {
		if ren.fed < from {
			return nil // still catching up with the page
		}
		buf = ren.diff(buf[:0], cur)
		return e.raw("lines", buf)
	}
	quiet := func() {
		if ren.fed >= from {
			_ = flush()
		}
	}
	take := func(c chunk) error {
		if c.attempt != cur {
			// A new attempt (or the first one named): the page starts over.
			if cur != 0 || from > 0 {
				if err := e.send("reset", map[string]int{"a": c.attempt}); err != nil {
					return err
				}
			}
			cur, from, ren = c.attempt, 0, newRenderer()
		}
		if c.offset != ren.fed {
			return fmt.Errorf("log of %s: bytes at %d after %d", node, c.offset, ren.fed)
		}
		data := c.data
		if ren.fed < from {
			// Bytes the page has: rendered here, not sent.
			k := int(min(int64(len(data)), from-ren.fed))
			ren.write(data[:k], func() {})
			data = data[k:]
			if ren.fed == from {
				ren.diff(nil, cur) // the page's state: only changes from here go out
			}
		}
		ren.write(data, quiet)
		return nil
	}
	for {
		var c chunk
		var ok bool
		select {
		case c, ok = <-src:
		case <-ctx.Done():
			return
		}
		if !ok {
			return
		}
		pending := 0
	drain:
		for c.end == nil && c.err == nil {
			if err := take(c); err != nil {
				_ = e.send("failed", map[string]string{"error": err.Error()})
				return
			}
			pending += len(c.data)
			if pending >= flushBytes {
				break
			}
			select {
			case c, ok = <-src:
				if !ok {
					return
				}
			default:
				break drain
			}
		}
		if ren.fed >= from && (pending > 0 || c.end != nil) {
			if flush() != nil {
				return
			}
		}
		switch {
		case c.err != nil:
			// The run's socket dropped this client (a page slower than
			// the log for longer than the run waits for a reader), or the
			// run died: the page opens the stream again at its offset,
			// from the run or from its record.
			return
		case c.end != nil && c.end.Restarted:
			// The node was rerun: the next attempt's log follows.
			stop()
			next := c.end.Attempt + 1
			if src, stop, err = s.logSource(ctx, ref, node, next, true); err != nil {
				_ = e.send("failed", map[string]string{"error": err.Error()})
				return
			}
			if e.send("reset", map[string]int{"a": next}) != nil {
				return
			}
			cur, from, ren = next, 0, newRenderer()
		case c.end != nil:
			if c.end.Attempt != 0 {
				cur = c.end.Attempt
			}
			_ = e.send("end", map[string]any{"a": cur, "o": ren.fed, "finished": c.end.Finished})
			return
		}
	}
}

// raw sends a node's log as the bytes the recipe wrote.
func (s *Server) raw(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	attempt, _ := strconv.Atoi(q.Get("attempt"))
	src, stop, err := s.logSource(r.Context(), q.Get("ref"), q.Get("node"), attempt, false)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	defer stop()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	for c := range src {
		if c.end != nil || c.err != nil {
			return
		}
		if _, err := w.Write(c.data); err != nil {
			return
		}
	}
}
