package runstate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/odu-ci/odu/surface"
)

// LogRel returns where the coordinator keeps a node's log, relative to
// the checkout's root: .ci/<sha>/<platform>/<name>.log.
func LogRel(sha, plat, name string) string {
	return filepath.Join(StateDir, sha, plat, surface.LogName(name))
}

// RunnerLogRel is where the coordinator keeps a local runner's
// diagnostics; a recipe name cannot start with a dot.
func RunnerLogRel(sha, plat string) string {
	return filepath.Join(StateDir, sha, plat, ".runner.log")
}

// SetupLogRel is where the coordinator keeps a lane's setup narrative.
func SetupLogRel(sha, plat string) string {
	return filepath.Join(StateDir, sha, plat, ".setup.log")
}

// lastPath holds the path of the last run's record, relative to .ci.
func lastPath(root string) string { return filepath.Join(root, StateDir, "odu.last") }

// A Record is one run's record, .ci/<sha>/runs/<n>.json: written when the
// run starts (its nodes pending, no end), rewritten as it goes and at its
// end, so that a run that is killed leaves a record that says it did not
// finish, never the verdict of an earlier run. Every write is durable
// (a temporary file, fsync, rename, fsync of the directory): a power cut
// leaves the previous version, not an empty file.
type Record struct {
	root string
	rel  string // relative to root
	n    int    // its number among its commit's runs

	mu    sync.Mutex
	final bool // the run's last state is written: later writes are late
}

// NewRecord starts the record of a run of st's commit, as number n, one
// more than the last record of that commit, and makes it the checkout's
// last run. It sets st's ref to the run's.
func NewRecord(root string, st surface.State) (*Record, error) {
	r, _, err := NewRecordOf(root, st.Run.SHA, func(n int) surface.State {
		st.Run.Ref = FormatRef(st.Run.SHA, n)
		return st
	})
	return r, err
}

// NewRecordOf starts the record of a run of sha as NewRecord does, with
// the state build returns for the run's number n: what the run keeps in
// its own directory ([RunLogRel]) depends on n. It returns the state
// recorded.
func NewRecordOf(root, sha string, build func(n int) surface.State) (*Record, surface.State, error) {
	rel := filepath.Join(StateDir, sha, "runs")
	if err := MkdirState(root, rel); err != nil {
		return nil, surface.State{}, err
	}
	dir := filepath.Join(root, rel)
	// The number is taken by a hard link, which fails on a name that
	// exists: two runs never share one, and the record is never empty.
	for n := nextRecord(dir); ; n++ {
		st := build(n)
		data, err := marshalRecord(st)
		if err != nil {
			return nil, st, err
		}
		tmp, err := writeTemp(filepath.Join(dir, "record"), data)
		if err != nil {
			return nil, st, err
		}
		name := strconv.Itoa(n) + ".json"
		err = os.Link(tmp, filepath.Join(dir, name))
		os.Remove(tmp)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return nil, st, fmt.Errorf("write the run's record %s: %w", filepath.Join(dir, name), err)
		}
		r := &Record{root: root, rel: filepath.Join(rel, name), n: n}
		if err := syncDir(dir); err != nil {
			return nil, st, err
		}
		// The index first: while odu.last names a run the index does
		// not list, the index is stale, and putting the entry would
		// read every record of the checkout to rebuild it.
		if err := putIndex(root, entryOf(st, r.rel, n, time.Now(), true)); err != nil {
			return nil, st, err
		}
		if err := writeDurable(lastPath(root), []byte(r.rel+"\n")); err != nil {
			return nil, st, fmt.Errorf("write %s: %w", lastPath(root), err)
		}
		return r, st, nil
	}
}

// Rel returns the record's path relative to the checkout's root.
func (r *Record) Rel() string { return r.rel }

// N returns the run's number among its commit's runs.
func (r *Record) N() int { return r.n }

// Update rewrites the record with the run's state so far; once the final
// state is written, it does nothing.
func (r *Record) Update(st surface.State) error { return r.write(st, false) }

// Final writes the run's last state; later writes do nothing.
func (r *Record) Final(st surface.State) error { return r.write(st, true) }

func (r *Record) write(st surface.State, final bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.final {
		return nil
	}
	r.final = final
	data, err := marshalRecord(st)
	if err != nil {
		return err
	}
	if err := writeDurable(filepath.Join(r.root, r.rel), data); err != nil {
		return fmt.Errorf("write the run's record %s: %w", r.rel, err)
	}
	if final {
		return putIndex(r.root, entryOf(st, r.rel, r.n, time.Now(), false))
	}
	return nil
}

func marshalRecord(st surface.State) ([]byte, error) {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode the run's record: %w", err)
	}
	return append(data, '\n'), nil
}

// WriteRecord keeps a run's final state as a new record of its commit,
// and makes it the checkout's last run. It returns the record's path
// relative to the root.
func WriteRecord(root string, st surface.State) (string, error) {
	r, err := NewRecord(root, st)
	if err != nil {
		return "", err
	}
	return r.rel, nil
}

// ErrNoRecord reports a checkout where no run has finished.
var ErrNoRecord = errors.New("no run has been recorded in this checkout")

// UnreadableError reports a record that cannot be read: cut short (a
// power cut before records were written durably), or not JSON.
type UnreadableError struct {
	Rel string // relative to the checkout's root
	Err error
}

func (e *UnreadableError) Error() string {
	return fmt.Sprintf("the run's record %s cannot be read: %v", e.Rel, e.Err)
}

// Hint says what to do.
func (e *UnreadableError) Hint() string {
	return "Remove " + e.Rel + " (it says nothing), or start a run with `odu run`."
}

func (e *UnreadableError) Unwrap() error { return e.Err }

// Last is what the checkout's last record says.
type Last struct {
	State surface.State
	Rel   string // the record read, relative to the checkout's root
	// Unreadable lists the newer records that could not be read and were
	// passed over, newest first: a face says so.
	Unreadable []*UnreadableError
	// Unfinished holds the ids of the nodes the record had pending or
	// running: its run was killed, and State says they are errors.
	Unfinished map[string]bool
}

// ReadLast reads the checkout's last recorded run, for a face when no run
// is live. A record that cannot be read is passed over for the newest
// one that can, and listed; when none can, the error is the last one's.
// A record without an end is of a run that was killed: its unfinished
// nodes are marked as errors that say so, never left pending or running.
func ReadLast(root string) (Last, error) {
	var last Last
	ref, err := os.ReadFile(lastPath(root))
	if errors.Is(err, os.ErrNotExist) {
		return last, ErrNoRecord
	}
	if err != nil {
		return last, fmt.Errorf("read %s: %w", lastPath(root), err)
	}
	rel := strings.TrimSpace(string(ref))
	tried := map[string]bool{}
	if rel != "" {
		tried[rel] = true
		st, err := readRecord(root, rel)
		if err == nil {
			last.State, last.Rel = st, rel
			last.Unfinished = markUnfinished(&last.State, modTime(root, rel))
			return last, nil
		}
		last.Unreadable = append(last.Unreadable, &UnreadableError{Rel: rel, Err: err})
	} else {
		last.Unreadable = append(last.Unreadable, &UnreadableError{Rel: filepath.Join(StateDir, "odu.last"), Err: errors.New("it is empty")})
	}
	for _, other := range allRecords(root) {
		if tried[other] {
			continue
		}
		st, err := readRecord(root, other)
		if err != nil {
			last.Unreadable = append(last.Unreadable, &UnreadableError{Rel: other, Err: err})
			continue
		}
		last.State, last.Rel = st, other
		last.Unfinished = markUnfinished(&last.State, modTime(root, other))
		return last, nil
	}
	return last, last.Unreadable[0]
}

// LastRecord reads the checkout's last recorded run (see [ReadLast]),
// passing over records that cannot be read.
func LastRecord(root string) (surface.State, string, error) {
	last, err := ReadLast(root)
	return last.State, last.Rel, err
}

func readRecord(root, rel string) (surface.State, error) {
	var st surface.State
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return st, err
	}
	if len(data) == 0 {
		return st, errors.New("it is empty (cut short, as by a power cut)")
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("it is not a record (%w)", err)
	}
	if st.Run.SHA == "" {
		return st, errors.New("it is not a record (no commit)")
	}
	if st.Run.Ref == "" { // recorded before runs had refs, and their own directories
		st.Run.Ref = FormatRef(st.Run.SHA, recordNumber(rel))
		adoptedLogs(root, &st, recordNumber(rel))
	}
	return st, nil
}

// modTime returns when a record was last written.
func modTime(root, rel string) time.Time {
	fi, err := os.Stat(filepath.Join(root, rel))
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

// allRecords returns every record in the checkout, newest first.
func allRecords(root string) []string {
	type rec struct {
		rel string
		mod time.Time
		n   int
	}
	var recs []rec
	shas, _ := os.ReadDir(filepath.Join(root, StateDir))
	for _, sha := range shas {
		if !sha.IsDir() {
			continue
		}
		dir := filepath.Join(StateDir, sha.Name(), "runs")
		entries, _ := os.ReadDir(filepath.Join(root, dir))
		for _, e := range entries {
			n, err := strconv.Atoi(strings.TrimSuffix(e.Name(), ".json"))
			if err != nil || !strings.HasSuffix(e.Name(), ".json") {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue
			}
			recs = append(recs, rec{rel: filepath.Join(dir, e.Name()), mod: fi.ModTime(), n: n})
		}
	}
	slices.SortFunc(recs, func(a, b rec) int {
		if c := b.mod.Compare(a.mod); c != 0 {
			return c
		}
		return b.n - a.n
	})
	var out []string
	for _, r := range recs {
		out = append(out, r.rel)
	}
	return out
}

// unfinished is the reason given to the nodes of a run that ended
// without finishing, in its record.
const unfinished = "the run ended without finishing: odu run (pid %d) was killed or crashed before this node finished; its log may be partial"

// markUnfinished marks the unfinished nodes of a record without an end
// (its run was killed) as errors: a record must not say that a node of a
// run that is over is still pending or running.
// A started node ran at least until the record was last written (at
// most a second before the end): its duration says so. It returns their
// ids.
func markUnfinished(st *surface.State, written time.Time) map[string]bool {
	if st.Run.Ended != nil {
		return nil
	}
	marked := map[string]bool{}
	nodes := slices.Clone(st.Nodes)
	for i, n := range nodes {
		if !n.Status.Terminal() {
			nodes[i].Status = surface.Errored
			nodes[i].Reason = fmt.Sprintf(unfinished, st.Run.PID)
			if n.Started != nil && written.After(*n.Started) {
				nodes[i].DurationMS = written.Sub(*n.Started).Milliseconds()
			}
			marked[n.ID] = true
		}
	}
	st.Nodes = nodes
	return marked
}

// writeTemp writes data to a new temporary file beside path, durably,
// and returns its path. The file is created anew (O_EXCL): a link
// committed in its place is never followed. It is named after path
// (odu.last.*.tmp beside .ci/odu.last): odu killed before it renamed or
// removed it leaves a name that git ignores and `odu run` knows as its
// own state (repo.IsOduState, the exclude block's /.ci/odu.*), not a
// change that makes every strict run refuse the tree.
func writeTemp(path string, data []byte) (string, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("create a file in %s: %w", dir, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("write %s: %w", f.Name(), err)
	}
	return f.Name(), nil
}

// writeDurable replaces path with data: a temporary file, fsync, rename
// over path (which replaces a link there, never writing through it),
// fsync of the directory, so that the file is whole after a power cut:
// the old content or the new.
func writeDurable(path string, data []byte) error {
	tmp, err := writeTemp(path, data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a directory's entries durable (a rename, a link).
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// nextRecord returns one more than the highest number of a record
// (<n>.json) in dir.
func nextRecord(dir string) int {
	n := 1
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		num, ok := strings.CutSuffix(e.Name(), ".json")
		if k, err := strconv.Atoi(num); ok && err == nil && k >= n {
			n = k + 1
		}
	}
	return n
}
