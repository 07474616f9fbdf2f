package mcp

import (
	"context"
	"errors"
	"io"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/odu-ci/odu/internal/hint"
	"github.com/odu-ci/odu/lanes/runstate"
)

// Options are what the server needs from odu's command line.
type Options struct {
	Dir     string // the directory it serves: a checkout, or a directory in one
	Exe     string // odu's own binary, which the run tool starts
	Version string // odu's version: said to the client, and at the surface's hello
	// Pipeline writes the resolved pipeline as JSON, as `odu dump` does.
	Pipeline func(ctx context.Context, req PipelineRequest, w io.Writer) error
}

// PipelineRequest is what the pipeline tool asks of [Options.Pipeline]:
// the flags and selectors of `odu dump`.
type PipelineRequest struct {
	Selectors []string
	Root      string
	Platforms []string
	NoDeps    bool
}

const instructions = `odu runs this repository's CI: the justfile recipe marked [metadata("ci")] and what it depends on, one node per recipe per platform (id RECIPE@PLATFORM).
Typical use: pipeline (what would run) → run (start it; returns at once) → wait (until it is over, or a deadline) → logs (why a node failed) → rerun (after a fix) → wait again.
wait's outcome "still_running" means the deadline came first: the run goes on; call wait again. It never means failed.
A run is named by its ref, <sha7>#<n> (run returns it; runs lists the recorded runs). A run goes on when this server stops; status, wait and logs work on the live run of this checkout, or the last one, unless their run argument names another; rerun and cancel work on the live run.`

// server holds the options; each tool call finds the repository and the
// run afresh, so that nothing is read before a tool asks.
type server struct {
	opts Options
}

// newServer returns the MCP server with odu's tools and resources, and
// the watcher of its run resource.
func newServer(opts Options) (*sdk.Server, *watcher) {
	s := &server{opts: opts}
	w := &watcher{s: s}
	srv := sdk.NewServer(&sdk.Implementation{Name: "odu", Title: "odu CI", Version: opts.Version},
		&sdk.ServerOptions{Instructions: instructions, SubscribeHandler: w.subscribe, UnsubscribeHandler: w.unsubscribe})
	w.srv = srv
	s.addTools(srv)
	s.addResources(srv)
	return srv, w
}

// Serve serves MCP on in and out until the client goes away (in ends) or
// ctx is cancelled; then it stops watching the run for subscribers.
func Serve(ctx context.Context, opts Options, in io.Reader, out io.Writer) error {
	t := &sdk.IOTransport{Reader: io.NopCloser(in), Writer: nopCloser{out}}
	srv, w := newServer(opts)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w.base = ctx
	err := srv.Run(ctx, t)
	stopped := ctx.Err() != nil
	cancel()
	w.stop()
	if errors.Is(err, io.EOF) || stopped {
		return nil
	}
	return err
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// userError is an error as the CLI prints it: the message, then the hint.
func userError(err error) error {
	if h := hint.Of(err); h != "" {
		return errors.New(err.Error() + "\nhint: " + h)
	}
	return err
}

// hinted is an error of the server's own that says what to do, and
// what it is (err, for errors.Is).
type hinted struct {
	msg, hint string
	err       error
}

func (h *hinted) Error() string { return h.msg }
func (h *hinted) Hint() string  { return h.hint }
func (h *hinted) Unwrap() error { return h.err }

func errNoRun() error {
	return &hinted{msg: "no run is live in this checkout", hint: "Start one with the run tool (or `odu run` in a terminal).", err: runstate.ErrNoRun}
}

func errNoRecord() error {
	return &hinted{msg: "no run is live in this checkout, and none has been recorded", hint: "Start one with the run tool (or `odu run` in a terminal)."}
}
