package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/odu-ci/odu/ghstatus"
	"github.com/odu-ci/odu/surface"
)

// defaultPostTimeout is how long the end of a run waits for its last
// statuses: long enough for a few retries and a short secondary rate
// limit, short enough that a dead API does not hold the terminal.
const defaultPostTimeout = 30 * time.Second

// githubTarget decides whether a run posts commit statuses, and where.
// It says once, on stderr, why not when it does not; it returns nil then.
func (c *RunCmd) githubTarget(ctx context.Context, env *Env, root string) *ghstatus.Target {
	switch {
	case c.NoStrict:
		fmt.Fprintln(env.Stderr, "odu: commit statuses are off (--no-strict)")
		return nil
	case c.NoSnapshot:
		fmt.Fprintln(env.Stderr, "odu: commit statuses are off (--no-snapshot: the working tree is not a commit)")
		return nil
	case c.NoPost:
		fmt.Fprintln(env.Stderr, "odu: commit statuses are off (--no-post)")
		return nil
	}
	t, err := ghstatus.Detect(ctx, root, c.Remote, env.Getenv)
	var off *ghstatus.OffError
	if errors.As(err, &off) && off.Kind == ghstatus.NoRemote && c.Remote == "" {
		return nil // a repository that is on no forge: nothing to say
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "odu: commit statuses are off: %v\n", err)
		if errors.As(err, &off) && off.Fix != "" {
			fmt.Fprintf(env.Stderr, "hint: %s\n", off.Fix)
		}
		return nil
	}
	return &t
}

// posting is a run's GitHub poster, a face of the run's surface.
type posting struct {
	p      *ghstatus.Poster
	stop   context.CancelFunc
	follow sync.WaitGroup
}

// startPosting starts posting t's statuses for the run srv serves; the
// poster's own posting state goes into store, so every face shows it.
// It returns nil (and says why) if it cannot.
func startPosting(ctx context.Context, env *Env, t *ghstatus.Target, sha string, srv *surface.Server, store *surface.Store) *posting {
	if t == nil {
		return nil
	}
	cl, err := ghstatus.NewClient(*t)
	if err != nil {
		fmt.Fprintf(env.Stderr, "odu: commit statuses are off: %v\n", err)
		return nil
	}
	var logMu sync.Mutex
	p := ghstatus.NewPoster(ghstatus.Options{
		Client: cl, Target: *t, SHA: sha,
		Logf: func(format string, args ...any) {
			logMu.Lock()
			defer logMu.Unlock()
			fmt.Fprintf(env.Stderr, format+"\n", args...)
		},
		OnChange: func(id string, ps surface.PostState) { store.SetPost(id, ps) },
	})
	fmt.Fprintf(env.Stderr, "odu: posting commit statuses to %s (token from %s)\n", t, t.TokenFrom)
	// The poster outlives an interrupt: it still has to say so on GitHub.
	pctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	p.Start(pctx)
	// An interrupt cancels the nodes the run has not finished: their
	// statuses say "Interrupted" (README), not "Cancelled".
	context.AfterFunc(ctx, p.Interrupt)
	ps := &posting{p: p, stop: stop}
	a, b := net.Pipe()
	ps.follow.Add(2)
	go func() {
		defer ps.follow.Done()
		_ = srv.Serve(pctx, a) // the follower below says how it ended
	}()
	go func() {
		defer ps.follow.Done()
		defer b.Close()
		scl, err := surface.NewClient(pctx, b, "odu run (github)", version())
		if err != nil {
			return
		}
		defer scl.Close()
		w, err := scl.Watch()
		if err != nil {
			return
		}
		_ = p.Follow(pctx, w) // until the run ends; the poster reports its own failures
	}()
	return ps
}

// flush waits up to timeout for the last statuses (after turning those
// still pending into "Interrupted" when the run was interrupted), and
// stops the poster. What never reached GitHub stays in the store.
func (ps *posting) flush(ctx context.Context, final surface.State, timeout time.Duration) {
	if ps == nil {
		return
	}
	if timeout <= 0 {
		timeout = defaultPostTimeout
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	ps.p.Flush(fctx, final.Nodes, ctx.Err() != nil)
	ps.stop()
	ps.follow.Wait()
}

// owedPosts returns the nodes whose commit status never reached GitHub.
func owedPosts(st surface.State) []surface.Node {
	var out []surface.Node
	for _, n := range st.Nodes {
		if n.Post != nil && !n.Post.Posted {
			out = append(out, n)
		}
	}
	return out
}

// postSummary says which statuses never reached GitHub: "1 status never
// reached GitHub", and each with why.
func postSummary(w io.Writer, st surface.State) {
	owed := owedPosts(st)
	if len(owed) == 0 {
		return
	}
	noun := "statuses"
	if len(owed) == 1 {
		noun = "status"
	}
	fmt.Fprintf(w, "odu: %d %s never reached GitHub:\n", len(owed), noun)
	width := 0
	for _, n := range owed {
		width = max(width, len(n.ID))
	}
	for _, n := range owed {
		var why []string
		if n.Post.Error != "" {
			why = append(why, n.Post.Error)
		}
		if n.Post.Attempts > 0 {
			why = append(why, plural(n.Post.Attempts, "attempt"))
		}
		fmt.Fprintf(w, "  %-7s %-*s  %s\n", n.Post.State, width, n.ID, strings.Join(why, ", "))
	}
}

// postStatus is `odu status`'s line about GitHub: how many statuses it
// has, and those that did not reach it (so far, in a live run).
func postStatus(w io.Writer, st surface.State, live bool) {
	total, posted := 0, 0
	for _, n := range st.Nodes {
		if n.Post != nil {
			total++
			if n.Post.Posted {
				posted++
			}
		}
	}
	if total == 0 {
		return
	}
	fmt.Fprintf(w, "\nGitHub: %d of %d commit statuses posted\n", posted, total)
	if !live || st.Run.Ended != nil {
		postSummary(w, st)
		return
	}
	for _, n := range owedPosts(st) {
		if n.Post.Error != "" {
			fmt.Fprintf(w, "  %-7s %s  %s, %s\n", n.Post.State, n.ID, n.Post.Error, plural(n.Post.Attempts, "attempt"))
		}
	}
}
