package runstate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// The index of the checkout's runs, .ci/odu.runs.json: one [RunEntry] a
// run, so that listing 1,000 runs reads one file, not 1,000 records. It
// is a cache of the records, which stay the truth: it is rebuilt from
// them when it is missing, cannot be read, is of another version, or
// does not list the checkout's last run (a record written by an odu
// that kept no index). Every change takes .ci/odu.runs.lock (an flock)
// around reading and rewriting it, and rewrites it whole (a temporary
// file renamed over it): a run and an `odu runs prune` at once never
// lose each other's entries, and a reader never sees half a file.
const indexVersion = 1

type index struct {
	Version int        `json:"version"`
	Runs    []RunEntry `json:"runs"` // newest first
}

func indexPath(root string) string { return filepath.Join(root, StateDir, "odu.runs.json") }

func indexLockPath(root string) string { return filepath.Join(root, StateDir, "odu.runs.lock") }

// readIndex reads the index as it is, or reports why it cannot be used.
func readIndex(root string) ([]RunEntry, bool) {
	data, err := os.ReadFile(indexPath(root))
	if err != nil {
		return nil, false
	}
	var ix index
	if json.Unmarshal(data, &ix) != nil || ix.Version != indexVersion {
		return nil, false
	}
	// The last run, as odu.last names it, must be listed: a run whose
	// index write failed, or an odu that kept none, makes it stale.
	if ref, err := os.ReadFile(lastPath(root)); err == nil {
		last := strings.TrimSpace(string(ref))
		found := last == ""
		for _, e := range ix.Runs {
			if e.Record == last {
				found = true
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	return ix.Runs, true
}

// loadIndex returns the index's runs, rebuilding it when it is stale.
func loadIndex(root string) ([]RunEntry, error) {
	if runs, ok := readIndex(root); ok {
		return runs, nil
	}
	var runs []RunEntry
	err := withIndexLock(root, func() error {
		var ok bool
		if runs, ok = readIndex(root); ok {
			return nil // rebuilt by another while this waited
		}
		runs = rebuildIndex(root)
		return writeIndex(root, runs)
	})
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		// No .ci (nothing recorded), or one this user cannot write: the
		// list stands without an index.
		return rebuildIndex(root), nil
	}
	return runs, err
}

// rebuildIndex reads every record of the checkout.
func rebuildIndex(root string) []RunEntry {
	var runs []RunEntry
	for _, rel := range allRecords(root) {
		st, err := readRecord(root, rel)
		if err != nil {
			continue // `odu status` says which records cannot be read
		}
		runs = append(runs, entryOf(st, rel, recordNumber(rel), modTime(root, rel), false))
	}
	sortRuns(runs)
	return runs
}

// withIndexLock runs fn holding the index's lock.
func withIndexLock(root string, fn func() error) error {
	if _, err := os.Lstat(filepath.Join(root, StateDir)); err != nil {
		return err
	}
	f, err := OpenState(indexLockPath(root), os.O_RDWR|os.O_CREATE)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", indexLockPath(root), err)
	}
	return fn()
}

func writeIndex(root string, runs []RunEntry) error {
	data, err := json.Marshal(index{Version: indexVersion, Runs: runs})
	if err != nil {
		return fmt.Errorf("encode the index of runs: %w", err)
	}
	if err := writeDurable(indexPath(root), data); err != nil {
		return fmt.Errorf("write the index of runs %s: %w", indexPath(root), err)
	}
	return nil
}

// putIndex adds a run's entry to the index, or replaces it.
func putIndex(root string, e RunEntry) error {
	return withIndexLock(root, func() error {
		runs, ok := readIndex(root)
		if !ok {
			runs = rebuildIndex(root) // includes e's record, as last written
		}
		replaced := false
		for i := range runs {
			if runs[i].Record == e.Record {
				runs[i], replaced = e, true
			}
		}
		if !replaced {
			runs = append(runs, e)
		}
		sortRuns(runs)
		return writeIndex(root, runs)
	})
}

// Pruned is what [PruneRuns] removed.
type Pruned struct {
	Runs  []string `json:"runs"`  // their refs, newest first
	Bytes int64    `json:"bytes"` // the size of their records and logs
}

// DefaultKeep is how long runs are kept before `odu run` prunes them.
const DefaultKeep = 30 * 24 * time.Hour

// PruneRuns removes the records and logs of the runs that started before
// cutoff, except the newest run of each commit and a run that is live. A
// run's files go first, its index entry after, under the index's lock.
func PruneRuns(root string, cutoff time.Time) (Pruned, error) {
	var p Pruned
	runs, err := ListRuns(root)
	if err != nil || len(runs) == 0 {
		return p, err
	}
	err = withIndexLock(root, func() error {
		removed := map[string]bool{}
		seen := map[string]bool{} // commits whose newest run is passed
		var ferr error
		for _, e := range runs {
			newestOfCommit := !seen[e.SHA]
			seen[e.SHA] = true
			if newestOfCommit || e.Live() || !e.Started.Before(cutoff) {
				continue
			}
			dir := filepath.Join(root, RunDirRel(e.SHA, e.N))
			size := treeSize(dir) + fileSize(filepath.Join(root, e.Record))
			if err := os.Remove(filepath.Join(root, e.Record)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				ferr = fmt.Errorf("remove run %s: %w", e.Ref, err)
				break
			}
			removed[e.Record] = true
			p.Runs = append(p.Runs, e.Ref)
			p.Bytes += size
			if err := os.RemoveAll(dir); err != nil {
				ferr = fmt.Errorf("remove the logs of run %s: %w", e.Ref, err)
				break
			}
		}
		// The index as it is now: a run may have added itself since.
		now, ok := readIndex(root)
		if !ok {
			now = rebuildIndex(root)
		}
		var keep []RunEntry
		for _, e := range now {
			if !removed[e.Record] {
				keep = append(keep, e)
			}
		}
		if err := writeIndex(root, keep); err != nil {
			return err
		}
		return ferr
	})
	return p, err
}

func fileSize(path string) int64 {
	fi, err := os.Lstat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// treeSize sums the sizes of the regular files under dir; a file linked
// from elsewhere (the newest attempt's log at the path README documents
// is a hard link) frees nothing and is not counted.
func treeSize(dir string) int64 {
	var size int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			return nil
		}
		size += fi.Size()
		return nil
	})
	return size
}
