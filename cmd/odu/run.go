package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/odu-ci/odu/lanes"
	"github.com/odu-ci/odu/repo"
	"github.com/odu-ci/odu/runner"
	"github.com/odu-ci/odu/surface"
)

// RunCmd runs the pipeline.
type RunCmd struct {
	PipelineFlags
	Host       []string      `placeholder:"PLATFORM=ADDR" help:"Run PLATFORM's lane on ADDR (localhost, or what ssh would dial) for this run, over the hosts file."`
	Jobs       int           `placeholder:"N" help:"Nodes to run at once on each lane (default: the host's CPU count)."`
	Progress   string        `enum:"auto,plain,json" default:"auto" placeholder:"auto|plain|json" help:"How to show progress: a live view on a terminal and plain lines otherwise (auto), plain lines, or one JSON object per node transition."`
	NoSnapshot bool          `help:"Run the working tree as it is, uncommitted changes included, instead of a snapshot of HEAD; implies --no-post."`
	NoPost     bool          `help:"Post no commit statuses to GitHub. (Posting is not built yet: odu posts nothing either way.)"`
	NoStrict   bool          `help:"The same as --no-snapshot --no-post."`
	Grace      time.Duration `default:"10s" placeholder:"DURATION" help:"How long a stopped node gets between SIGTERM and SIGKILL."`
}

// Help is the long description of `odu run`.
func (*RunCmd) Help() string {
	return `Run the pipeline: every node of the recipe marked [metadata("ci")] and what it depends
on, on every platform, each node as ` + "`just --no-deps RECIPE`" + ` once its dependencies succeeded.

By default the run is strict: it refuses a working tree with uncommitted changes and
runs a snapshot of HEAD in a git worktree, so you can go on editing. While it runs,
other terminals attach to it: odu status, odu logs -f, odu monitor, odu wait,
odu rerun, odu cancel. Each node's log is written to .ci/<sha>/<platform>/<recipe>.log.

Exits 0 when every node succeeded, 1 when any did not, 2 for a usage or configuration
error, and 130 when interrupted (Ctrl-C stops every node; a second Ctrl-C exits at once).`
}

// Examples are shown by `odu run --help`.
func (*RunCmd) Examples() []string {
	return []string{
		"odu run",
		"odu run e2e                      # e2e and what it depends on",
		"odu run --no-strict              # the working tree as it is",
		"odu run --progress json | jq -c 'select(.status == \"failure\")'",
	}
}

// Run runs the pipeline and returns how it went as the exit code.
func (c *RunCmd) Run(ctx context.Context, env *Env) error {
	hosts, err := lanes.LoadHosts(c.Host, env.Getenv, home(env))
	if err != nil {
		return err
	}
	asked, err := c.parsedPlatforms()
	if err != nil {
		return err
	}
	laneList, err := hosts.Lanes(asked)
	if err != nil {
		return err
	}
	addrs := map[string]string{}
	for _, h := range laneList {
		c.fixed = append(c.fixed, h.Platform)
		addrs[string(h.Platform)] = h.Addr
	}
	l, pl, err := c.pipeline(ctx, env)
	if err != nil {
		return err
	}
	snapshot := !(c.NoSnapshot || c.NoStrict)
	sha, branch, err := repo.Head(ctx, l.root)
	if err != nil {
		return err
	}
	dirtyPaths, err := repo.Dirty(ctx, l.root)
	if err != nil {
		return err
	}
	if snapshot && len(dirtyPaths) > 0 {
		return &repo.DirtyError{Paths: dirtyPaths}
	}
	if err := repo.ExcludeState(ctx, l.root); err != nil {
		return fmt.Errorf("keep odu's state out of git status: %w", err)
	}
	ln, err := lanes.Listen(l.root, lanes.RunningError{PID: os.Getpid(), SHA: sha, Started: time.Now()})
	if err != nil {
		return err
	}
	defer ln.Close()

	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find odu's own binary: %w", err)
	}
	workDir, err := workDirFor(l.root, sha)
	if err != nil {
		return err
	}
	workspace := l.root
	if snapshot {
		workspace = filepath.Join(workDir, "tree")
		if err := repo.AddWorktree(ctx, l.root, workspace, sha); err != nil {
			return fmt.Errorf("check out %s in a worktree: %w", short(sha), err)
		}
		defer repo.RemoveWorktree(context.WithoutCancel(ctx), l.root, workspace)
	}
	grace := c.Grace
	if grace <= 0 {
		grace = runner.DefaultGrace
	}

	coord, err := lanes.Start(ctx, lanes.Options{
		Root: l.root, Pipeline: pl, SHA: sha, Branch: branch, Dirty: len(dirtyPaths) > 0, Snapshot: snapshot,
		Workspace: workspace, WorkDir: workDir, Jobs: c.Jobs, Grace: grace,
		Exe: exe, Version: version(), Env: os.Environ(),
		Hosts: addrs, Home: home(env), Getenv: env.Getenv,
	})
	if err != nil {
		return err
	}
	defer coord.CloseLogs()

	// The coordinator's surface: on the socket for other terminals, and
	// to this command's own progress output, which is a face like them.
	srv := &surface.Server{Name: "coordinator", Version: version(), Controller: coord}
	srv.SetStore(coord.Store())
	srvCtx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	var serving sync.WaitGroup
	serving.Add(1)
	go func() {
		defer serving.Done()
		serve(srvCtx, srv, ln, &serving)
	}()
	defer func() {
		ln.Close()
		stopServing()
		serving.Wait()
	}()

	shown := make(chan surface.State, 1)
	showErr := make(chan error, 1)
	a, b := net.Pipe()
	serving.Add(1)
	go func() {
		defer serving.Done()
		srv.Serve(srvCtx, a)
	}()
	p := c.printer(env)
	go func() {
		st, err := show(context.WithoutCancel(ctx), b, p)
		shown <- st
		showErr <- err
	}()

	coord.Wait(ctx)
	st, record, err := coord.Finish()
	if err != nil {
		fmt.Fprintf(env.Stderr, "odu: %v\n", err)
	}
	select { // the face shows the end, unless it is stuck
	case <-shown:
		<-showErr
	case <-time.After(5 * time.Second):
	}
	out := env.Stdout
	if c.Progress == "json" {
		out = env.Stderr // stdout holds only JSON lines
	}
	summary(out, st, record)

	switch {
	case ctx.Err() != nil:
		return &ExitError{Code: 130}
	case !green(st):
		return &ExitError{Code: 1}
	}
	return nil
}

// printer picks the progress output.
func (c *RunCmd) printer(env *Env) printer {
	switch c.Progress {
	case "json":
		return jsonPrinter{env.Stdout}
	case "plain":
		return plainPrinter{env.Stdout}
	}
	if f, ok := env.Stdout.(*os.File); ok && isatty(f) && env.Getenv("TERM") != "dumb" {
		_, h, err := term.GetSize(int(f.Fd()))
		if err != nil || h < 5 {
			h = 24
		}
		return &ttyPrinter{w: env.Stdout, colour: useColor(env), height: h}
	}
	return plainPrinter{env.Stdout}
}

// show is the run's own face: a client of its surface over an in-memory
// connection, feeding the printer until the run ends.
func show(ctx context.Context, conn net.Conn, p printer) (surface.State, error) {
	cl, err := surface.NewClient(ctx, conn, "odu run", version())
	if err != nil {
		return surface.State{}, err
	}
	defer cl.Close()
	w, err := cl.Watch()
	if err != nil {
		return surface.State{}, err
	}
	return follow(ctx, w, p, nil)
}

// serve serves the surface to every connection on the socket until the
// listener closes; connections end with the server's context.
func serve(ctx context.Context, srv *surface.Server, ln *lanes.Listener, conns *sync.WaitGroup) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		conns.Add(1)
		go func() {
			defer conns.Done()
			srv.Serve(ctx, conn)
		}()
	}
}

// workDirFor returns the run's scratch directory, outside the checkout:
// the snapshot's worktree and the local runner's logs live there.
// $XDG_CACHE_HOME/odu/work/<repo>-<hash of its path>/<sha>.
func workDirFor(root, sha string) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find a cache directory for the run: %w", err)
	}
	sum := sha256.Sum256([]byte(root))
	dir := filepath.Join(cache, "odu", "work", filepath.Base(root)+"-"+hex.EncodeToString(sum[:4]), sha)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	return dir, nil
}

var errNoRun = errors.New("no run is live in this checkout")
