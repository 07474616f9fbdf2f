package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"

	"github.com/odu-ci/odu/repo"
	"github.com/odu-ci/odu/web"
)

// WebCmd is `odu web`.
type WebCmd struct {
	Addr string `default:"127.0.0.1:7878" placeholder:"HOST:PORT" help:"Where to serve the page (127.0.0.1:0: any free port). Loopback unless you say otherwise."`
}

// Help is the long description of `odu web`.
func (*WebCmd) Help() string {
	return `Serve the checkout's runs as a web page: the board of runs (live first, then history),
a run's matrix of nodes with live status, a node's log rendered as a terminal shows it,
rerun and cancel. It prints the page's URL, which carries a token: every request without
it is refused. It attaches to the live run's socket as any face does, waits for runs to
start, and serves past runs from their records. Ctrl-C stops it; the runs go on.`
}

// Run serves until ctx ends.
func (c *WebCmd) Run(ctx context.Context, env *Env) error {
	root, err := repo.Root(ctx, env.Dir)
	if err != nil {
		return err
	}
	if err := checkStateDir(root); err != nil {
		return err
	}
	stop, err := startWeb(ctx, env.Stderr, root, c.Addr)
	if err != nil {
		return err
	}
	<-ctx.Done()
	return stop()
}

// startWeb serves odu web for the checkout at root on addr and prints
// its URL to w; stop ends it.
func startWeb(ctx context.Context, w io.Writer, root, addr string) (stop func() error, err error) {
	wl, err := listenWeb(root, addr, "--addr")
	if err != nil {
		return nil, err
	}
	return wl.serve(ctx, w)
}

// webListener is odu web's listener and token, taken before it serves:
// odu run --web takes them before the run starts, so that an address it
// cannot serve on is refused before a run is recorded.
type webListener struct {
	ln    net.Listener
	root  string
	token string
}

// listenWeb listens on addr for odu web, which flag named (a bad or busy
// address is a usage error that names it).
func listenWeb(root, addr, flag string) (*webListener, error) {
	token, err := web.Token(root)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, &usageError{msg: fmt.Sprintf("%s %s: the address is in use (another odu web?)", flag, addr),
				hint: "Give another port, or " + flag + " 127.0.0.1:0 for any free one."}
		}
		return nil, &usageError{msg: fmt.Sprintf("%s %s: %v", flag, addr, err), hint: "Give HOST:PORT, such as 127.0.0.1:7878."}
	}
	return &webListener{ln: ln, root: root, token: token}, nil
}

// close gives the address back, for a listener that will not serve.
func (wl *webListener) close() { wl.ln.Close() }

// serve serves odu web on the listener and prints its URL to w; stop
// ends it.
func (wl *webListener) serve(ctx context.Context, w io.Writer) (stop func() error, err error) {
	ln := wl.ln
	srv, err := web.New(web.Options{Root: wl.root, Version: version(), Token: wl.token}, ln.Addr().String())
	if err != nil {
		ln.Close()
		return nil, err
	}
	if !web.Loopback(ln.Addr().String()) {
		fmt.Fprintf(w, "odu web: warning: serving on %s, not loopback only: anyone who can reach it and has the token can read the logs and rerun or cancel nodes (open it by this machine's IP address: the page answers only to IP addresses and localhost)\n", ln.Addr())
	}
	fmt.Fprintf(w, "odu web: %s\n", web.URL(ln, wl.token))
	sctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var serr error
	wg.Go(func() { serr = web.Serve(sctx, ln, srv) })
	return func() error {
		cancel()
		wg.Wait()
		return serr
	}, nil
}
