package main

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/odu-ci/odu/dag"
	"github.com/odu-ci/odu/lanes"
	"github.com/odu-ci/odu/lanes/hosts"
	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/repo"
	"github.com/odu-ci/odu/runner"
	"github.com/odu-ci/odu/surface"
)

// RunCmd runs the pipeline.
type RunCmd struct {
	PipelineFlags
	Host       []string      `placeholder:"PLATFORM=ADDR" help:"Run PLATFORM's lane on ADDR (localhost, or what ssh would dial) for this run, over the hosts file."`
	Jobs       int           `type:"positive" placeholder:"N" help:"Nodes to run at once on each lane (default: the host's CPU count)."`
	Progress   string        `enum:"auto,plain,json" default:"auto" placeholder:"auto|plain|json" help:"How to show progress: the dashboard on a terminal and plain lines otherwise (auto), plain lines, or one JSON object per node transition."`
	NoSnapshot bool          `help:"Run the working tree as it is, uncommitted changes included, instead of a snapshot of HEAD; implies --no-post."`
	NoPost     bool          `help:"Post no commit statuses to GitHub (a strict run posts one per node to the commit, with GH_TOKEN, GITHUB_TOKEN or gh's token)."`
	NoStrict   bool          `help:"The same as --no-snapshot --no-post."`
	Grace      time.Duration `type:"positive" default:"10s" placeholder:"DURATION" help:"How long a stopped node gets between SIGTERM and SIGKILL."`
	// GitHub commit statuses (post.go).
	Remote      string        `placeholder:"NAME" help:"The git remote whose GitHub repository gets the commit statuses (default: origin)."`
	PostTimeout time.Duration `type:"positive" default:"30s" placeholder:"DURATION" help:"How long the end of the run waits for its last commit statuses to reach GitHub."`
	// Lanes that survive a dropped link or a dead coordinator.
	ReconnectTimeout time.Duration `type:"positive" default:"2m" placeholder:"DURATION" help:"How long to dial a build host again after its link dropped (its nodes run on meanwhile) before its unfinished nodes become errors (or the lane moves to another host of its pool: --lane-moves)."`
	LaneMoves        int           `type:"count" default:"2" placeholder:"N" help:"How many times a lane may move to another host of its pool when its host is not back within --reconnect-timeout (it runs again there what had not finished); 0 never."`
	Fresh            bool          `help:"Stop the runners still running this commit on the build hosts (left by an odu run that died) and start over, instead of re-attaching to them."`
	// Pools of build hosts (lanes/lease.go).
	NoWait         bool          `help:"Fail a lane at once when every slot of its pool of build hosts is held, instead of waiting in line for one."`
	LeaseTimeout   time.Duration `type:"positive" default:"1h" placeholder:"DURATION" help:"How long a lane waits in line for a slot of its pool before it ends in error."`
	RunnerIdle     time.Duration `type:"positive" hidden:"" placeholder:"DURATION" help:"A build host's runner exits after this long with no odu run attached (default 10m); for tests."`
	RunnerDoneIdle time.Duration `type:"positive" hidden:"" placeholder:"DURATION" help:"The same, once its nodes are finished (default 1m); for tests."`
	// How long a socket client may not read: far longer than a busy face
	// ever pauses, short enough that a stopped one (Ctrl-Z) does not keep
	// goroutines and a socket for the rest of the run. It loses nothing:
	// the state is a snapshot away, and `odu logs` resumes at its offset.
	ClientTimeout time.Duration `type:"positive" hidden:"" default:"30s" placeholder:"DURATION" help:"How long a client of the socket may go without reading before it is disconnected; for tests."`
	Secret        []string      `placeholder:"NAME" help:"Pass odu's environment variable NAME to the recipes on every lane, masked as *** in their output (also the hosts file's \"secrets\" list)."`

	// Run history (runs.go).
	Keep age `default:"30d" placeholder:"AGE" help:"Prune the runs older than this as the run starts (e.g. 30d, 12h; 0 keeps every run), never the newest run of a commit."`
	// The page (web.go).
	Web     bool   `help:"Serve the run as a web page too (odu web), for as long as odu run runs; its URL is printed."`
	WebAddr string `placeholder:"HOST:PORT" help:"Where --web serves the page (default: a free port on loopback, 127.0.0.1:0)."`

	// The dashboard (dashboard.go).
	ExitOnSettle bool `help:"Leave the dashboard as soon as the run is over, also when a node failed (it stays until q then, to read the failure)."`

	// History: a live run replaced; the plain progress's periodic line.
	Supersede     bool          `help:"Cancel the run live in this checkout, as odu cancel does, and start this one once it has ended, instead of refusing."`
	ProgressEvery time.Duration `type:"positive" hidden:"" placeholder:"DURATION" help:"How often plain progress says how far the run is (default 30s); for tests."`

	root  string     // the repository's root, once the pipeline is loaded
	rerun *rerunPlan // a run after the run (odu rerun with no run live)
	// rerunNext is the node r on the dashboard asked to rerun once the
	// run was over: a run after this one, once it has let go of the
	// checkout.
	rerunNext atomic.Value // string
}

// Help is the long description of `odu run`.
func (*RunCmd) Help() string {
	return `Run the pipeline: every node of the recipe marked [metadata("ci")] and what it depends
on, on every platform, each node as ` + "`just --no-deps RECIPE`" + ` once its dependencies succeeded.

By default the run is strict: it refuses a working tree with uncommitted changes and
runs a snapshot of HEAD in a git worktree, so you can go on editing. While it runs,
other terminals attach to it: odu status, odu logs -f, odu monitor, odu wait,
odu rerun, odu cancel. Run n of a commit is named <sha7>#<n>; each node's log is kept in
.ci/<sha>/runs/<n>/<platform>/<recipe>.log (a rerun keeps the earlier attempt beside it),
and .ci/<sha>/<platform>/<recipe>.log is the newest. Runs older than --keep are pruned.

On a terminal, progress is a live dashboard (q stops the run, as Ctrl-C does). When the
run is over it leaves and prints a summary; when a node failed it stays until q, so that
the failure can be read there (f: the next failed node), unless --exit-on-settle.

Exits 0 when every node succeeded, 1 when any did not, 2 for a usage or configuration
error, and 130 when interrupted (Ctrl-C, SIGTERM, SIGHUP or ` + "`odu cancel`" + ` stops every node; a second
Ctrl-C exits at once, with the record of what there is).`
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
func (c *RunCmd) Run(ctx context.Context, env *Env, last *lastWords) (err error) {
	if c.WebAddr != "" && !c.Web {
		return &usageError{msg: "--web-addr is where --web serves the page: give --web too", hint: "odu run --web --web-addr " + c.WebAddr}
	}
	// r on the dashboard of the finished run: a new run, after this
	// one's cleanup (the deferred calls below run first).
	defer func(ctx context.Context, env *Env) {
		if id, _ := c.rerunNext.Load().(string); id != "" && ctx.Err() == nil {
			fmt.Fprintln(env.Stdout)
			err = (&RerunCmd{Nodes: []string{id}, Progress: c.Progress, NoPost: c.NoPost}).Run(ctx, env, last)
		}
	}(ctx, env)
	// Leaving the dashboard (q) stops the run as Ctrl-C does: by ending ctx.
	ctx, leave := context.WithCancel(ctx)
	defer leave()
	stderr := env.Stderr // not held: the last words of a second Ctrl-C
	// The dashboard holds what the run says on stderr while it shows.
	held := *env
	held.Stderr = &heldWriter{w: env.Stderr}
	// A reader that goes away (| head) does not stop the run: asking for
	// SIGPIPE makes a write to the closed pipe fail with EPIPE instead of
	// killing odu (and, with it, the run's nodes).
	sigpipe := make(chan os.Signal, 1)
	signal.Notify(sigpipe, syscall.SIGPIPE)
	defer signal.Stop(sigpipe)
	if f, ok := env.Stdout.(*os.File); !ok || !isatty(f) {
		held.Stdout = &closedOut{w: env.Stdout, stderr: held.Stderr}
	}
	env = &held
	// Say at once that a run is coming, for `odu run & odu wait` (faces.go).
	unannounce := func() {}
	if root, err := repo.Root(ctx, env.Dir); err == nil {
		unannounce = runstate.AnnounceStart(root)
	}
	defer unannounce()
	cfg, err := hosts.LoadHosts(c.Host, env.Getenv, home(env))
	if err != nil {
		return err
	}
	asked, err := c.parsedPlatforms()
	if err != nil {
		return err
	}
	laneList, err := cfg.Lanes(asked)
	if err != nil {
		return err
	}
	if err := cfg.CheckLocal(laneList); err != nil {
		return err
	}
	secrets, err := hosts.LoadSecrets(append(slices.Clone(c.Secret), cfg.Secrets...), func(name string) (string, bool) {
		v := env.Getenv(name)
		return v, v != ""
	})
	if err != nil {
		return err
	}
	addrs := map[string]string{} // localhost, or a build host of the pool: for warnDotenv
	pools := map[string]hosts.Host{}
	for _, h := range laneList {
		c.fixed = append(c.fixed, h.Platform)
		addrs[string(h.Platform)] = hosts.Localhost
		for _, a := range h.Pool.Addrs() {
			if a != hosts.Localhost {
				addrs[string(h.Platform)] = a
			}
		}
		pools[string(h.Platform)] = h
	}
	var l *loaded
	var pl *dag.Pipeline
	if c.rerun != nil {
		// The earlier run's nodes, as it ran them.
		l, err = c.load(ctx, env)
		pl = c.rerun.pipeline
	} else {
		l, pl, err = c.pipeline(ctx, env)
	}
	if err != nil {
		return err
	}
	c.root = l.root
	snapshot := !c.NoSnapshot && !c.NoStrict
	sha, branch, err := repo.Head(ctx, l.root)
	if err != nil {
		return err
	}
	if c.rerun != nil {
		sha, branch = c.rerun.sha, c.rerun.branch
	}
	dirtyPaths, err := repo.Dirty(ctx, l.root)
	if err != nil {
		return err
	}
	if snapshot && len(dirtyPaths) > 0 {
		return &repo.DirtyError{Paths: dirtyPaths}
	}
	if err := checkStateDir(l.root); err != nil {
		return err
	}
	if err := runstate.CheckState(ctx, l.root); err != nil {
		return err
	}
	if err := repo.ExcludeState(ctx, l.root); err != nil {
		return fmt.Errorf("keep odu's state out of git status: %w", err)
	}
	var webLn *webListener
	if c.Web {
		// Taken before the run starts: an address that cannot be served
		// on is refused before a run is recorded.
		if webLn, err = listenWeb(l.root, cmp.Or(c.WebAddr, "127.0.0.1:0"), "--web-addr"); err != nil {
			return err
		}
		defer webLn.close() // a no-op once it served: Serve closed it
	}
	ln, err := c.listen(ctx, env, l.root, sha)
	if err != nil {
		return err
	}
	// The socket is closed when Run returns, or while a dashboard shows
	// a failed run until q.
	defer ln.Close()
	ln.Logf = func(format string, a ...any) { fmt.Fprintf(env.Stderr, "odu: "+format+"\n", a...) }
	subject, _ := repo.Git(ctx, l.root, "log", "-1", "--format=%s", sha) // the index shows it; none is no error

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
			return fmt.Errorf("check out %s in a worktree: %w", repo.Short(sha), err)
		}
	}
	// The snapshot goes with the run, or before a dashboard holds a
	// failed run on screen: a next run of the commit checks out its own
	// there meanwhile.
	removeWorktree := sync.OnceFunc(func() {
		if snapshot {
			if err := repo.RemoveWorktree(context.WithoutCancel(ctx), l.root, workspace); err != nil {
				fmt.Fprintf(env.Stderr, "odu: remove the run's checkout %s: %v\n", workspace, err)
			}
		}
	})
	defer removeWorktree()
	warnDotenv(ctx, env.Stderr, l.jf, l.root, workspace, sha, snapshot, addrs)
	grace := c.Grace
	if grace <= 0 {
		grace = runner.DefaultGrace
	}

	ghTarget := c.githubTarget(ctx, env, l.root)

	coord, err := lanes.Start(ctx, lanes.Options{
		Root: l.root, Pipeline: pl, SHA: sha, Branch: branch, Subject: strings.TrimSpace(subject), Dirty: len(dirtyPaths) > 0, Snapshot: snapshot,
		Workspace: workspace, WorkDir: workDir, Jobs: c.Jobs, Grace: grace,
		Exe: exe, Version: version(), Env: hosts.WithoutSecrets(os.Environ(), secrets), Secrets: secrets,
		Pools: pools, NoWait: c.NoWait, LeaseTimeout: c.LeaseTimeout, Home: home(env), Getenv: env.Getenv,
		ReconnectTimeout: c.ReconnectTimeout, LaneMoves: c.LaneMoves, Fresh: c.Fresh, RunnerIdle: c.RunnerIdle, RunnerFinishedIdle: c.RunnerDoneIdle,
		Notef: func(format string, a ...any) { fmt.Fprintf(env.Stderr, "odu: "+format+"\n", a...) },
		Carry: c.rerun.carried(), CarriedFrom: c.rerun.record(),
	})
	if err != nil {
		return err
	}
	defer coord.CloseLogs()
	// Old runs go as this one starts: it is the newest of its commit,
	// and holding the run lock, no other is live.
	pruneAtStart(env.Stderr, l.root, c.Keep)
	// A second Ctrl-C exits at once: with the record of what there is.
	defer last.set(func() {
		rel, err := coord.Abort("odu run was interrupted twice and exited at once, before every lane said its nodes stopped (a local runner stops them as its stdin closes; a build host's runner, once it has the cancel or after its idle bound)")
		if err != nil {
			fmt.Fprintf(stderr, "odu: %v\n", err)
			return
		}
		fmt.Fprintf(stderr, "odu: record: %s\n", rel)
	})()

	// The coordinator's surface: on the socket for other terminals, and
	// to this command's own progress output, which is a face like them.
	srv := &surface.Server{Name: "coordinator", Version: version(), Controller: coord,
		WriteTimeout: c.ClientTimeout, Logf: func(format string, a ...any) {
			fmt.Fprintf(env.Stderr, "odu: "+format+"\n", a...)
		}}
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
	if webLn != nil {
		// Printed before the dashboard takes the terminal.
		stopWeb, err := webLn.serve(ctx, stderr)
		if err != nil {
			return err
		}
		defer func() { _ = stopWeb() }()
	}

	shown := make(chan surface.State, 1)
	a, b := net.Pipe()
	serving.Add(1)
	go func() {
		defer serving.Done()
		_ = srv.Serve(srvCtx, struct{ io.ReadWriteCloser }{a}) // ends with the run; no deadlines: this face is never cut off
	}()
	holding := make(chan struct{})
	face := c.face(ctx, env, l.root, leave, sync.OnceFunc(func() { close(holding) }))
	go func() {
		// What the face saw go wrong, it showed; the summary below says
		// how the run ended either way.
		st, _ := face(context.WithoutCancel(ctx), b)
		shown <- st
	}()

	posts := startPosting(ctx, env, ghTarget, sha, srv, coord.Store())

	coord.Wait(ctx)
	posts.flush(ctx, coord.Store().Snapshot(), c.PostTimeout)
	st, record, err := coord.Finish()
	if err != nil {
		fmt.Fprintf(env.Stderr, "odu: %v\n", err)
	}
	// The verdict is the run's: a signal while a dashboard holds the
	// finished run on screen only leaves it.
	interrupted := ctx.Err() != nil
	select { // the face shows the end, unless it is stuck
	case <-shown:
	case <-holding:
		// The dashboard shows a failure until q: meanwhile the checkout
		// is free for the next run (its snapshot, socket and
		// announcement gone), and other terminals read the record.
		removeWorktree()
		ln.Close()
		unannounce()
		<-shown
	case <-time.After(5 * time.Second):
	}
	out := env.Stdout
	if c.Progress == "json" {
		out = env.Stderr // stdout holds only JSON lines
	}
	summary(out, fromHere(env, l.root, st), here(env, l.root, record))
	postSummary(out, st)

	switch {
	case interrupted, st.Run.Cancelled:
		// `odu cancel` of the whole run is an interruption too, by the
		// user, from another terminal: the run did not fail.
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
		return newJSONPrinter(env.Stdout, c.root)
	case "plain":
		return &plainPrinter{w: env.Stdout, every: c.ProgressEvery}
	}
	if f, ok := env.Stdout.(*os.File); ok && isatty(f) && env.Getenv("TERM") != "dumb" {
		_, h, err := term.GetSize(int(f.Fd()))
		if err != nil || h < 5 {
			h = 24
		}
		return &ttyPrinter{w: env.Stdout, colour: useColor(env), height: h}
	}
	return &plainPrinter{w: env.Stdout, every: c.ProgressEvery}
}

// show is the run's own face: a client of its surface over an in-memory
// connection, feeding the printer until the run ends.
func show(ctx context.Context, conn net.Conn, p printer) (surface.State, error) {
	cl, err := surface.NewClient(ctx, conn, "odu run", version())
	if err != nil {
		return surface.State{}, err
	}
	defer cl.Close()
	// From the run's first state: a node that finished before this face
	// subscribed still shows each of its transitions.
	var start uint64
	w, err := cl.WatchFrom(surface.NodesGetParams{From: &start})
	if err != nil {
		return surface.State{}, err
	}
	return follow(ctx, w, p, nil)
}

// serve serves the surface to every connection on the socket until the
// listener closes; connections end with the server's context.
func serve(ctx context.Context, srv *surface.Server, ln *runstate.Listener, conns *sync.WaitGroup) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		conns.Add(1)
		go func() {
			defer conns.Done()
			_ = srv.Serve(ctx, conn) // how a face's connection ended is the face's to say
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
