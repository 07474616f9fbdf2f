package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"sync"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/odu-ci/odu/internal/face"
	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/surface"
)

// The resources: the run (what the status tool answers, as JSON), and a
// node's log (its last lines).
const (
	runURI      = "odu://run"
	logTemplate = "odu://logs/{+node}" // {+}: a node id's @ and :: as they are
	logPrefix   = "odu://logs/"
)

func (s *server) addResources(srv *sdk.Server) {
	srv.AddResource(&sdk.Resource{URI: runURI, Name: "run", Title: "The run", MIMEType: "application/json",
		Description: "The live run of this checkout, or the last recorded one, as the status tool answers it. Subscribe to be told of every change while a run is live."},
		s.readRun)
	srv.AddResourceTemplate(&sdk.ResourceTemplate{URITemplate: logTemplate, Name: "log", Title: "A node's log", MIMEType: "text/plain",
		Description: "The last lines of a node's log (RECIPE@PLATFORM, or as odu run selects it), ANSI stripped; the logs tool reads it by offset."},
		s.readLog)
}

func (s *server) readRun(ctx context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
	f, err := s.find(ctx, false)
	if err != nil {
		return nil, userError(err)
	}
	defer f.close()
	data, err := json.MarshalIndent(statusOf(f), "", "  ")
	if err != nil {
		return nil, err
	}
	return &sdk.ReadResourceResult{Contents: []*sdk.ResourceContents{{URI: req.Params.URI, MIMEType: "application/json", Text: string(data)}}}, nil
}

func (s *server) readLog(ctx context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
	node, err := url.PathUnescape(strings.TrimPrefix(req.Params.URI, logPrefix))
	if err != nil || !strings.HasPrefix(req.Params.URI, logPrefix) || node == "" {
		return nil, sdk.ResourceNotFoundError(req.Params.URI)
	}
	f, err := s.find(ctx, false)
	if err != nil {
		return nil, userError(err)
	}
	defer f.close()
	id, path, err := face.PickLog(f.st, node)
	if err != nil {
		return nil, userError(err)
	}
	data, _, err := f.tail(ctx, id, path, defaultTail)
	if err != nil {
		return nil, err
	}
	return &sdk.ReadResourceResult{Contents: []*sdk.ResourceContents{{URI: req.Params.URI, MIMEType: "text/plain", Text: logText(data, false)}}}, nil
}

// watcher tells subscribers of the run resource of its changes: while
// someone is subscribed, it follows the live run (waiting for one to
// start when none is), and sends an update for every change, and one
// when the run is over. It starts on the first subscription, never
// before: nothing is dialled until asked.
type watcher struct {
	s   *server
	srv *sdk.Server

	mu     sync.Mutex
	base   context.Context // the server's: a watch ends with it
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (w *watcher) subscribe(_ context.Context, req *sdk.SubscribeRequest) error {
	if req.Params.URI != runURI {
		return nil // a log's updates are not sent: the run's say when it grew
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cancel != nil || w.base == nil {
		return nil
	}
	ctx, cancel := context.WithCancel(w.base)
	w.cancel = cancel
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		w.follow(ctx)
	}()
	return nil
}

func (w *watcher) unsubscribe(_ context.Context, req *sdk.UnsubscribeRequest) error {
	if req.Params.URI == runURI {
		w.stop()
	}
	return nil
}

// stop ends the watch, if there is one, and waits for it.
func (w *watcher) stop() {
	w.mu.Lock()
	cancel := w.cancel
	w.cancel = nil
	w.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	w.wg.Wait()
}

// endedPause is how long the watch gives a run that is over to close its
// socket before it dials again: odu run serves on for a moment after its
// end, writing its record; without it the watch would attach to the same
// finished run again at once.
const endedPause = 200 * time.Millisecond

func (w *watcher) follow(ctx context.Context) {
	root, err := w.s.root(ctx)
	if err != nil {
		return
	}
	update := func() {
		_ = w.srv.ResourceUpdated(ctx, &sdk.ResourceUpdatedNotificationParams{URI: runURI}) // a client gone is the session's end
	}
	var last surface.Run
	for ctx.Err() == nil {
		cl, err := runstate.DialWait(ctx, root, clientName, w.s.opts.Version)
		if err != nil {
			var serr *runstate.SocketError
			if errors.As(err, &serr) {
				pause(ctx, time.Second) // another user's run, or one stopped: look again later
				continue
			}
			return
		}
		if st, err := face.Current(ctx, cl); err == nil && face.SameRun(st.Run, last) && st.Run.Ended != nil {
			cl.Close()
			pause(ctx, endedPause)
			continue
		}
		if cw, err := cl.Watch(); err == nil {
			for {
				if _, err := cw.Next(ctx); err != nil {
					break
				}
				last = cw.State().Run
				update()
			}
			cw.Close()
		}
		cl.Close()
		update() // over, or lost: the record answers now
	}
}

func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
