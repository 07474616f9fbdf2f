package runstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/odu-ci/odu/repo"
)

// supersedePath is the lock an `odu run --supersede` holds from the
// moment it decides to replace the live run until its own run holds the
// run lock: two of them at once cannot both cancel and wait, and then
// race for the checkout.
func supersedePath(root string) string { return filepath.Join(root, StateDir, "odu.supersede") }

// SupersedingError reports that another `odu run --supersede` is already
// replacing the live run: this one is refused, so that exactly one run
// takes the checkout.
type SupersedingError struct {
	RunningError // the run that is replacing it
}

func (e *SupersedingError) Error() string {
	return fmt.Sprintf("another odu run --supersede (pid %d, commit %s, started %s) is already replacing the live run",
		e.PID, repo.Short(e.SHA), e.Started.Local().Format("15:04:05"))
}

// Hint says what to do.
func (*SupersedingError) Hint() string {
	return "Follow the run that replaces it with `odu monitor`, or supersede that one once it has started."
}

// LockSupersede takes the checkout's supersede lock for info's run, or
// returns a *SupersedingError naming the run that holds it. The lock is
// an flock, released by the kernel if the process dies; release gives it
// up.
func LockSupersede(root string, info RunningError) (release func(), err error) {
	if err := MkdirState(root, StateDir); err != nil {
		return nil, err
	}
	f, err := OpenState(supersedePath(root), os.O_RDWR|os.O_CREATE)
	if err != nil {
		return nil, fmt.Errorf("open the supersede lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			var other SupersedingError
			if data, err := os.ReadFile(supersedePath(root)); err == nil {
				_ = json.Unmarshal(data, &other.RunningError) // what it can read
			}
			return nil, &other
		}
		return nil, fmt.Errorf("take the supersede lock: %w", err)
	}
	data, _ := json.Marshal(info)
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(data, 0)
	}
	return func() {
		_ = f.Truncate(0)
		f.Close()
	}, nil
}

// supersedePoll is how often a superseding run looks whether the run it
// cancelled has let go of the checkout: the lock is an flock, which
// tells nobody when it is released, and a blocking flock cannot be
// given up when ctx ends. A tenth of a second is nothing next to the
// grace period the cancelled run's nodes get.
const supersedePoll = 100 * time.Millisecond

// ListenAfter takes the checkout for info's run once the run of pid,
// which was cancelled, has let go of it (see [Listen]), waiting at most
// limit. A run other than pid that took the checkout meanwhile is
// returned as its *RunningError: it is not this one's to cancel.
func ListenAfter(ctx context.Context, root string, info RunningError, pid int, limit time.Duration) (*Listener, error) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(supersedePoll)
	defer tick.Stop()
	for {
		ln, err := Listen(root, info)
		var live *RunningError
		if !errors.As(err, &live) || live.PID != pid {
			return ln, err
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return nil, fmt.Errorf("the superseded run (pid %d) was cancelled, and did not end within %s: %w", pid, limit, live)
		}
	}
}
