package runstate

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/odu-ci/odu/repo"
)

// TestTempLeftIsOdusState: odu killed between creating a temporary file
// for its state and renaming it leaves that file behind. Its name must be
// one git ignores (the exclude block odu adds) and odu knows as its own
// (repo.IsOduState), or every strict `odu run` after it refuses the tree
// as dirty.
func TestTempLeftIsOdusState(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	for _, args := range [][]string{
		{"init", "-q"},
		{"-c", "user.name=odu", "-c", "user.email=odu@example.com", "commit", "-q", "--allow-empty", "-m", "first"},
	} {
		if _, err := repo.Git(ctx, root, args...); err != nil {
			t.Fatal(err)
		}
	}
	if err := repo.ExcludeState(ctx, root); err != nil {
		t.Fatal(err)
	}
	runs := filepath.Join(StateDir, "0123456789abcdef0123456789abcdef01234567", "runs")
	if err := MkdirState(root, runs); err != nil {
		t.Fatal(err)
	}
	// What a kill leaves: the temporary files of odu.last and of a
	// record, never renamed nor removed.
	for _, target := range []string{lastPath(root), filepath.Join(root, runs, "record"), filepath.Join(root, runs, "1.json")} {
		if _, err := writeTemp(target, []byte("left\n")); err != nil {
			t.Fatal(err)
		}
	}
	dirty, err := repo.Dirty(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	if len(dirty) > 0 {
		t.Errorf("repo.Dirty = %q after temporary files were left, want none: odu's own state", dirty)
	}
	out, err := repo.Git(ctx, root, "status", "--porcelain", "--untracked-files=all")
	if err != nil {
		t.Fatal(err)
	}
	if out != "" {
		t.Errorf("git status shows %q, want nothing: odu's exclude block covers its state", out)
	}
	entries, _ := os.ReadDir(filepath.Join(root, StateDir))
	if len(entries) < 2 {
		t.Errorf("%s holds %d entries, want the temporary file left beside the commit's directory", StateDir, len(entries))
	}
}
