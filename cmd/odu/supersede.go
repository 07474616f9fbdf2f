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

// supersedeWait bounds how long `odu run --supersede` waits for the run
// it cancelled to end: its nodes get their grace period, a lane whose
// link is down is dialled again (2 minutes by default) to tell its
// runner, and its last statuses go to GitHub (30 seconds).
const supersedeWait = 5 * time.Minute

// listen takes the checkout for this run: at once, or, with
// --supersede, once the live run it cancels has ended.
//
// Two --supersede at once: each takes the supersede lock first, and
// only one can (runstate.LockSupersede); the other is refused, naming
// it. The one that holds it cancels the live run, waits for it to let go
// of the checkout, takes the run lock, and only then lets go of the
// supersede lock: exactly one run is live at the end. A plain `odu run`
// that takes the checkout in between is not cancelled in turn: the
// superseding run is refused, naming it.
func (c *RunCmd) listen(ctx context.Context, env *Env, root, sha string) (*runstate.Listener, error) {
	info := runstate.RunningError{PID: os.Getpid(), SHA: sha, Started: time.Now()}
	if !c.Supersede {
		return runstate.Listen(root, info)
	}
	release, err := runstate.LockSupersede(root, info)
	if err != nil {
		return nil, err
	}
	defer release()
	ln, err := runstate.Listen(root, info)
	var live *runstate.RunningError
	if !errors.As(err, &live) {
		return ln, err
	}
	// The cancel is answered once the run's nodes have stopped (their
	// grace period): say first what is going on.
	fmt.Fprintf(env.Stderr, "odu: superseding the live run (pid %d, commit %s): cancelling it; this run starts once it has ended\n",
		live.PID, repo.Short(live.SHA))
	by := fmt.Sprintf("odu run --supersede (pid %d, commit %s)", os.Getpid(), repo.Short(sha))
	cl, err := runstate.Dial(ctx, root, "odu run --supersede", version())
	switch {
	case errors.Is(err, runstate.ErrNoRun):
		// It let go of its socket already: it is ending.
	case err != nil:
		return nil, fmt.Errorf("supersede the live run (pid %d): %w", live.PID, err)
	default:
		err = cl.SupersedeRun(ctx, by)
		cl.Close()
		// Refused: it settled, and ends by itself; lost: it ended.
		var serr *surface.Error
		refused := errors.As(err, &serr) && serr.Code == surface.CodeRefused
		if err != nil && !refused && !lostConn(err) {
			return nil, fmt.Errorf("supersede the live run (pid %d): %w", live.PID, err)
		}
	}
	return runstate.ListenAfter(ctx, root, info, live.PID, supersedeWait)
}
