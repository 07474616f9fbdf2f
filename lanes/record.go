package lanes

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/odu-ci/odu/surface"
)

// LogRel returns where the coordinator keeps a node's log, relative to
// the checkout's root: .ci/<sha>/<platform>/<name>.log.
func LogRel(sha, plat, name string) string {
	return filepath.Join(StateDir, sha, plat, surface.LogName(name))
}

// runnerLogRel is where the coordinator keeps a local runner's
// diagnostics; a recipe name cannot start with a dot.
func runnerLogRel(sha, plat string) string {
	return filepath.Join(StateDir, sha, plat, ".runner.log")
}

// setupLogRel is where the coordinator keeps a lane's setup narrative.
func setupLogRel(sha, plat string) string {
	return filepath.Join(StateDir, sha, plat, ".setup.log")
}

// lastPath holds the path of the last run's record, relative to .ci.
func lastPath(root string) string { return filepath.Join(root, StateDir, "odu.last") }

// WriteRecord keeps a run's final state as .ci/<sha>/runs/<n>.json, n one
// more than the last record of that commit, and makes it the checkout's
// last run. It returns the record's path relative to the root.
func WriteRecord(root string, st surface.State) (string, error) {
	dir := filepath.Join(root, StateDir, st.Run.SHA, "runs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	n := 1
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if k, err := strconv.Atoi(strings.TrimSuffix(e.Name(), ".json")); err == nil && k >= n {
			n = k + 1
		}
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return "", err
	}
	rel := filepath.Join(StateDir, st.Run.SHA, "runs", strconv.Itoa(n)+".json")
	if err := writeAtomic(filepath.Join(root, rel), append(data, '\n')); err != nil {
		return "", err
	}
	if err := writeAtomic(lastPath(root), []byte(rel+"\n")); err != nil {
		return "", err
	}
	return rel, nil
}

// ErrNoRecord reports a checkout where no run has finished.
var ErrNoRecord = errors.New("no run has been recorded in this checkout")

// LastRecord reads the checkout's last recorded run.
func LastRecord(root string) (surface.State, string, error) {
	var st surface.State
	ref, err := os.ReadFile(lastPath(root))
	if errors.Is(err, os.ErrNotExist) {
		return st, "", ErrNoRecord
	}
	if err != nil {
		return st, "", err
	}
	rel := strings.TrimSpace(string(ref))
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		return st, "", fmt.Errorf("read the last run's record: %w", err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, "", fmt.Errorf("read the last run's record %s: %w", rel, err)
	}
	return st, rel, nil
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
