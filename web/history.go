package web

// This file is the one place that knows how past runs are kept: the run
// records, .ci/<sha>/runs/<n>.json, and the node logs they point at. Run
// history (refs, a list of runs, per-attempt logs) is to get an API of
// its own in lanes/runstate; when it does, these functions are re-pointed
// at it and nothing else in the package changes.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/surface"
)

// LiveRef names whatever run is live in the checkout, or the last one
// when none is: a page that follows it moves on to each new run.
const LiveRef = "live"

// pastRun is one recorded run.
type pastRun struct {
	Ref   string // <sha7>#<n>
	rel   string // the record, relative to the checkout's root
	State surface.State
}

// ErrNoSuchRun reports a ref that names no recorded run.
var ErrNoSuchRun = errors.New("no such run")

// refOf names record n of commit sha.
func refOf(sha string, n int) string {
	if len(sha) > 7 {
		sha = sha[:7]
	}
	return sha + "#" + strconv.Itoa(n)
}

// listRuns returns the checkout's recorded runs, newest first. A record
// that cannot be read is left out.
func listRuns(root string) []pastRun {
	type rec struct {
		sha string
		n   int
		mod time.Time
	}
	var recs []rec
	shas, _ := os.ReadDir(filepath.Join(root, runstate.StateDir))
	for _, sha := range shas {
		if !sha.IsDir() || len(sha.Name()) < 7 {
			continue
		}
		entries, _ := os.ReadDir(filepath.Join(root, runstate.StateDir, sha.Name(), "runs"))
		for _, e := range entries {
			num, ok := strings.CutSuffix(e.Name(), ".json")
			n, err := strconv.Atoi(num)
			if !ok || err != nil {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue
			}
			recs = append(recs, rec{sha.Name(), n, fi.ModTime()})
		}
	}
	slices.SortFunc(recs, func(a, b rec) int {
		if c := b.mod.Compare(a.mod); c != 0 {
			return c
		}
		return b.n - a.n
	})
	var out []pastRun
	for _, r := range recs {
		rel := filepath.Join(runstate.StateDir, r.sha, "runs", strconv.Itoa(r.n)+".json")
		st, err := readRecord(root, rel)
		if err != nil {
			continue
		}
		out = append(out, pastRun{Ref: refOf(r.sha, r.n), rel: rel, State: st})
	}
	return out
}

// readRun reads the run a ref names: <sha7>#<n>, the sha a prefix of a
// recorded commit's.
func readRun(root, ref string) (pastRun, error) {
	prefix, num, ok := strings.Cut(ref, "#")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || len(prefix) < 4 || strings.ContainsAny(prefix, `/\.`) {
		return pastRun{}, fmt.Errorf("run %q: %w (a run is <commit>#<n>)", ref, ErrNoSuchRun)
	}
	shas, _ := os.ReadDir(filepath.Join(root, runstate.StateDir))
	for _, sha := range shas {
		if !sha.IsDir() || !strings.HasPrefix(sha.Name(), prefix) {
			continue
		}
		rel := filepath.Join(runstate.StateDir, sha.Name(), "runs", strconv.Itoa(n)+".json")
		st, err := readRecord(root, rel)
		if err != nil {
			continue
		}
		return pastRun{Ref: refOf(sha.Name(), n), rel: rel, State: st}, nil
	}
	return pastRun{}, fmt.Errorf("run %q: %w", ref, ErrNoSuchRun)
}

func readRecord(root, rel string) (surface.State, error) {
	var st surface.State
	f, err := runstate.OpenState(filepath.Join(root, rel), os.O_RDONLY)
	if err != nil {
		return st, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 64<<20))
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("read %s: %w", rel, err)
	}
	if st.Run.SHA == "" {
		return st, fmt.Errorf("read %s: not a run record", rel)
	}
	return st, nil
}

// liveRef names the live run st by its record: the newest record of its
// commit that started when it did.
func liveRef(root string, st surface.State) string {
	dir := filepath.Join(runstate.StateDir, st.Run.SHA, "runs")
	entries, _ := os.ReadDir(filepath.Join(root, dir))
	best := 0
	for _, e := range entries {
		num, ok := strings.CutSuffix(e.Name(), ".json")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || n <= best {
			continue
		}
		rec, err := readRecord(root, filepath.Join(dir, e.Name()))
		if err == nil && rec.Run.Started.Equal(st.Run.Started) {
			best = n
		}
	}
	if best == 0 {
		return LiveRef
	}
	return refOf(st.Run.SHA, best)
}

// openLog opens a recorded node's log, attempt being the node's in the
// record (the only one kept today).
func openLog(root string, n surface.Node) (*os.File, error) {
	rel := filepath.Clean(n.Log)
	if n.Log == "" || filepath.IsAbs(rel) || !strings.HasPrefix(rel, runstate.StateDir+string(filepath.Separator)) {
		return nil, fmt.Errorf("node %s has no log in the record", n.ID)
	}
	f, err := runstate.OpenState(filepath.Join(root, rel), os.O_RDONLY)
	if err != nil {
		return nil, fmt.Errorf("open the log of %s: %w", n.ID, err)
	}
	return f, nil
}

// unfinished marks the nodes of a record whose run was killed (it has no
// end) as errors, as runstate does for the last run: a run that is over
// shows nothing pending or running.
func unfinished(st *surface.State) {
	if st.Run.Ended != nil {
		return
	}
	for i := range st.Nodes {
		if !st.Nodes[i].Status.Terminal() {
			st.Nodes[i].Status = surface.Errored
			st.Nodes[i].Reason = "the run ended without finishing (odu run was killed); its log may be partial"
		}
	}
}
