package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/repo"
	"github.com/odu-ci/odu/surface"
)

// awaited is the run a face that waits is about: a client of the live
// run, or the last run's record; and which record was the last before.
type awaited struct {
	cl     *surface.Client
	root   string
	last   *surface.State
	before string
}

// recordOf returns the record of the run a face attached to (cur is its
// state so far) and lost before it saw the end: the run ended as the face
// attached, or it was killed. Without cur's run, a record newer than the
// last one before the face waited is that run's.
func (a *awaited) recordOf(cur surface.State) (surface.State, bool) {
	st, rel, err := runstate.LastRecord(a.root)
	if err != nil || st.Run.Ended == nil {
		return st, false
	}
	if cur.Run.SHA != "" {
		return st, sameRun(st.Run, cur.Run)
	}
	return st, rel != a.before
}

// awaitRun finds the run that a face which waits (`odu wait`, `odu logs
// -f`) is about, so that a script's `odu run & …; odu wait` gets that
// run's verdict whether wait starts before the run serves, while it runs,
// or after it ended:
//
//   - the live run, or the one being started (its process announced
//     itself, see [runstate.AnnounceStart]), waited for: a client;
//   - else, unless next, the last recorded run if it is of HEAD's commit:
//     its state, and no client;
//   - else the next run to start, waited for: a client.
//
// A run that announces itself within settle counts as being started.
// What it waits for, it says when stderr is a terminal.
func awaitRun(ctx context.Context, env *Env, name string, settle time.Duration, next bool) (*awaited, error) {
	root, err := repo.Root(ctx, env.Dir)
	if err != nil {
		return nil, err
	}
	_, before, _ := runstate.LastRecord(root)
	found := func(cl *surface.Client, last *surface.State) (*awaited, error) {
		return &awaited{cl: cl, root: root, last: last, before: before}, nil
	}
	tty := stderrTerminal(env)
	deadline := time.Now().Add(settle)
	for {
		cl, err := runstate.Dial(ctx, root, name, version())
		if err == nil {
			return found(cl, nil)
		}
		if !errors.Is(err, runstate.ErrNoRun) {
			return nil, attachFailed(ctx, err)
		}
		if runstate.Starting(root) {
			if tty {
				fmt.Fprintf(env.Stderr, "odu: waiting for the run being started in %s… (Ctrl-C to stop)\n", root)
			}
			cl, err := runstate.DialStarting(ctx, root, name, version())
			if err == nil {
				return found(cl, nil)
			}
			if !errors.Is(err, runstate.ErrNoRun) {
				return nil, attachFailed(ctx, err)
			}
			// It ended before this face attached: it recorded its verdict,
			// or it ran nothing (refused: its own output says why).
			if _, after, _ := runstate.LastRecord(root); after == before && !next {
				return nil, &ExitError{Code: 1, Err: &hinted{
					msg:  "the run that was being started in " + root + " ended without running its nodes",
					hint: "Its own output says why."}}
			}
			break
		}
		if next || !time.Now().Before(deadline) {
			break
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return nil, &ExitError{Code: 130}
		}
	}
	why := ""
	if !next {
		st, _, err := runstate.LastRecord(root)
		sha, _, herr := repo.Head(ctx, root)
		switch {
		case err == nil && herr == nil && st.Run.SHA == sha:
			return found(nil, &st)
		case err == nil && herr == nil:
			why = fmt.Sprintf(" (the last one was of %s, not of HEAD %s)", repo.Short(st.Run.SHA), repo.Short(sha))
		}
	}
	if tty {
		fmt.Fprintf(env.Stderr, "odu: no run is live%s; waiting for one to start in %s… (Ctrl-C to stop)\n", why, root)
	}
	cl, err := runstate.DialWait(ctx, root, name, version())
	if err != nil {
		return nil, attachFailed(ctx, err)
	}
	return found(cl, nil)
}

// attachFailed is how a face ends when it could not attach: 130 when the
// user stopped it (Ctrl-C while waiting), else as attach says.
func attachFailed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return &ExitError{Code: 130}
	}
	if lostConn(err) {
		return &ExitError{Code: 1, Err: fmt.Errorf("attach to the run: %w", err)}
	}
	return fmt.Errorf("attach to the run: %w", err)
}

func stderrTerminal(env *Env) bool {
	f, ok := env.Stderr.(*os.File)
	return ok && isatty(f)
}

// recordVerdict is `odu wait`'s answer when no run is live: how the last
// run of HEAD's commit went, from its record, said on stderr.
func recordVerdict(env *Env, st surface.State) error {
	return verdictOf(env, st, "no run is live; the last run of "+repo.Short(st.Run.SHA))
}

// verdictOf says how a recorded run went (what names it) and returns
// `odu wait`'s exit: 0 when it ended green, 1 otherwise.
func verdictOf(env *Env, st surface.State, what string) error {
	when := ""
	if st.Run.Ended != nil {
		when = " (ended " + st.Run.Ended.Local().Format("15:04:05") + ")"
	}
	if st.Run.Ended == nil {
		fmt.Fprintf(env.Stderr, "odu: %s (started %s) never finished: was odu run killed?\n",
			what, st.Run.Started.Local().Format("15:04:05"))
	} else {
		fmt.Fprintf(env.Stderr, "odu: %s%s %s: %s\n", what, when, verdict(st), counts(st))
	}
	if green(st) && st.Run.Ended != nil {
		return nil
	}
	for _, n := range st.Nodes {
		if n.Status.Terminal() && n.Status != surface.Success {
			fmt.Fprintf(env.Stderr, "odu: %s %s%s\n", n.ID, n.Status, detail(n))
		}
	}
	return &ExitError{Code: 1}
}
