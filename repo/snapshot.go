package repo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Head returns the commit checked out, and the branch ("" when detached).
func Head(ctx context.Context, root string) (sha, branch string, err error) {
	out, err := Git(ctx, root, "rev-parse", "HEAD")
	if err != nil {
		return "", "", &NoCommitError{Root: root, Err: err}
	}
	sha = strings.TrimSpace(out)
	if b, err := Git(ctx, root, "symbolic-ref", "--quiet", "--short", "HEAD"); err == nil {
		branch = strings.TrimSpace(b)
	}
	return sha, branch, nil
}

// NoCommitError reports a repository without a commit to test.
type NoCommitError struct {
	Root string
	Err  error
}

func (e *NoCommitError) Error() string { return e.Root + " has no commit to test yet" }

func (e *NoCommitError) Unwrap() error { return e.Err }

// Hint says what to do.
func (*NoCommitError) Hint() string {
	// Not --no-snapshot: a run is named by its commit (.ci/<sha>/), so
	// even a run of the working tree as it is needs one.
	return "Commit first (git add -A && git commit); odu needs a commit even with --no-snapshot."
}

// odusState matches what odu itself writes under .ci: the socket and its
// lock (odu.*), and a directory per commit.
var odusState = regexp.MustCompile(`^\.ci/(odu\.[^/]*|[0-9a-f]{40}(/.*)?)$`)

// IsOduState reports whether a path, relative to the root, is odu's own
// run state, which never counts as a change to the tree.
func IsOduState(path string) bool { return odusState.MatchString(path) }

// Dirty returns the paths with uncommitted changes, tracked or untracked
// (and not ignored), leaving out odu's own state.
func Dirty(ctx context.Context, root string) ([]string, error) {
	out, err := Git(ctx, root, "status", "--porcelain=v1", "-z", "--untracked-files=all")
	if err != nil {
		return nil, err
	}
	var dirty []string
	entries := strings.Split(out, "\x00")
	for i := 0; i < len(entries); i++ {
		e := entries[i]
		if len(e) < 4 {
			continue
		}
		path := e[3:]
		if e[0] == 'R' || e[0] == 'C' {
			i++ // a rename or copy is followed by its source path
		}
		if !IsOduState(path) {
			dirty = append(dirty, path)
		}
	}
	return dirty, nil
}

// DirtyError reports a tree with uncommitted changes, which a strict run
// refuses: it tests commits.
type DirtyError struct{ Paths []string }

func (e *DirtyError) Error() string {
	const most = 10
	var b strings.Builder
	fmt.Fprintf(&b, "the working tree has uncommitted changes (%d):", len(e.Paths))
	for i, p := range e.Paths {
		if i == most {
			fmt.Fprintf(&b, "\n  ... and %d more", len(e.Paths)-most)
			break
		}
		b.WriteString("\n  " + p)
	}
	return b.String()
}

// Hint says what to do.
func (*DirtyError) Hint() string {
	return "odu tests commits: commit or stash them, or run the working tree as it is with --no-snapshot (nothing is posted)."
}

// AddWorktree checks sha out, detached, in dir: the snapshot a run tests
// while the user goes on editing, its submodules included (see
// [Submodules]). A worktree left in dir by a run that died is replaced.
func AddWorktree(ctx context.Context, root, dir, sha string) error {
	// The removal and the prune are best effort: what they leave, the
	// worktree add below reports.
	if _, err := os.Stat(dir); err == nil {
		_ = RemoveWorktree(ctx, root, dir)
	}
	_, _ = Git(ctx, root, "worktree", "prune")
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return err
	}
	if _, err := Git(ctx, root, "worktree", "add", "--detach", "--quiet", dir, sha); err != nil {
		return err
	}
	subs, err := Submodules(ctx, root, sha)
	if err == nil {
		err = CheckoutSubmodules(ctx, dir, subs)
	}
	if err != nil {
		_ = RemoveWorktree(ctx, root, dir) // a snapshot without its submodules is no snapshot
	}
	return err
}

// RemoveWorktree removes a worktree AddWorktree made, with whatever the
// run built in it.
func RemoveWorktree(ctx context.Context, root, dir string) error {
	_, err := Git(ctx, root, "worktree", "remove", "--force", dir)
	if err != nil {
		_ = os.RemoveAll(dir) // the error returned says the worktree was not removed
		_, _ = Git(ctx, root, "worktree", "prune")
	}
	return err
}

// excludeBlock is what odu adds to a repository's .git/info/exclude, so
// that its run state never shows in `git status`.
const excludeBlock = `
# odu's run state (the socket, and logs per commit); added by odu
/.ci/odu.*
/.ci/[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]*/
`

// ExcludeState makes git ignore odu's run state in this repository,
// through its info/exclude file, which is not part of the tree: odu must
// not dirty the tree it checks.
func ExcludeState(ctx context.Context, root string) error {
	out, err := Git(ctx, root, "rev-parse", "--git-path", "info/exclude")
	if err != nil {
		return err
	}
	path := strings.TrimSpace(out)
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	if strings.Contains(string(data), "/.ci/odu.*") {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(excludeBlock)
	return err
}
