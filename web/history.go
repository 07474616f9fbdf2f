package web

// This file is where the package meets run history: runstate's list of
// runs (its index), its refs and records, and the logs a record points
// at, one file per attempt.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/surface"
)

// LiveRef names whatever run is live in the checkout, or the last one
// when none is: a page that follows it moves on to each new run.
const LiveRef = "live"

// liveRef names the live run st by its ref, as its record does.
func liveRef(st surface.State) string {
	if st.Run.Ref != "" {
		return st.Run.Ref
	}
	return LiveRef
}

// readRun reads the run a ref names (runstate.ResolveRun: <sha7>#<n>, a
// commit's prefix), the newest one for LiveRef. A record without an end,
// of a run that is not live, has its unfinished nodes marked as errors.
func readRun(root, ref string) (runstate.Last, error) {
	if ref == LiveRef {
		ref = "latest"
	}
	e, err := runstate.ResolveRun(root, ref)
	if err != nil {
		return runstate.Last{}, err
	}
	return runstate.ReadRun(root, e)
}

// openLog opens attempt k of a recorded node's log (0, or past its
// newest: the newest), where the record keeps it (runstate.AttemptLog);
// a carried node's log is the earlier run's.
func openLog(root string, n surface.Node, k int) (*os.File, int, error) {
	if k <= 0 || k > n.Attempt {
		k = n.Attempt
	}
	rel := filepath.Clean(runstate.AttemptLog(n.Log, n.Attempt, k))
	if n.Log == "" || filepath.IsAbs(rel) || !strings.HasPrefix(rel, runstate.StateDir+string(filepath.Separator)) {
		return nil, k, fmt.Errorf("node %s has no log in the record", n.ID)
	}
	f, err := runstate.OpenState(filepath.Join(root, rel), os.O_RDONLY)
	if err != nil {
		return nil, k, fmt.Errorf("open the log of %s (attempt %d): %w", n.ID, k, err)
	}
	return f, k, nil
}
