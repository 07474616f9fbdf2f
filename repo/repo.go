// Package repo is odu's git plumbing: finding the repository a command
// runs in, and (for a run) its HEAD, its dirt and the snapshot odu tests.
// It runs the git binary, as a user's own git config, hooks and
// credentials are what a CI run of their repository should see.
package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// NotRepoError reports a directory outside any git repository.
type NotRepoError struct{ Dir string }

func (e *NotRepoError) Error() string { return e.Dir + " is not inside a git repository" }

// Hint says what to do.
func (*NotRepoError) Hint() string {
	return "odu tests commits: run it inside a git repository (git init, then commit), or point it at one with -C DIR."
}

// GitNotFoundError reports that git is not installed.
type GitNotFoundError struct{}

func (*GitNotFoundError) Error() string { return "git is not installed (not found on PATH)" }

// Hint says how to install git.
func (*GitNotFoundError) Hint() string {
	return "Install git with your package manager, e.g. `apt-get install git`."
}

// Short returns the abbreviation of a commit's hash that odu shows: its
// first 7 hex digits, as `git log --oneline` does in a small repository.
func Short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// Root returns the top directory of the work tree that contains dir, with
// symbolic links resolved, as git reports it.
//
// It looks for the nearest `.git` (a directory, or the file a worktree or
// submodule has) above dir, as git's own discovery does, which saves a
// git process on the critical path of every command. When GIT_DIR or
// GIT_WORK_TREE is set, or no `.git` is found, git decides (and says why
// it is not a repository).
func Root(ctx context.Context, dir string) (string, error) {
	if os.Getenv("GIT_DIR") == "" && os.Getenv("GIT_WORK_TREE") == "" {
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			for d := real; ; d = filepath.Dir(d) {
				if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
					return d, nil
				}
				if filepath.Dir(d) == d {
					break
				}
			}
		}
	}
	out, err := Git(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		var gerr *Error
		if errors.As(err, &gerr) && strings.Contains(gerr.Stderr, "not a git repository") {
			return "", &NotRepoError{Dir: dir}
		}
		return "", err
	}
	return strings.TrimSpace(out), nil
}

// Error is a git command that failed; Stderr is what git said.
type Error struct {
	Args   []string
	Stderr string
	Err    error
}

func (e *Error) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("git %s: %s", strings.Join(e.Args, " "), msg)
}

func (e *Error) Unwrap() error { return e.Err }

// Version returns the version of the git on PATH ("2.39.5") and its
// path.
func Version(ctx context.Context) (version, path string, err error) {
	path, err = exec.LookPath("git")
	if err != nil {
		return "", "", &GitNotFoundError{}
	}
	out, err := Git(ctx, "", "--version")
	if err != nil {
		return "", path, err
	}
	return strings.TrimSpace(strings.TrimPrefix(out, "git version ")), path, nil
}

// Git runs git with args in dir and returns its standard output.
func Git(ctx context.Context, dir string, args ...string) (string, error) {
	path, err := exec.LookPath("git")
	if err != nil {
		return "", &GitNotFoundError{}
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", &Error{Args: args, Stderr: stderr.String(), Err: err}
	}
	return stdout.String(), nil
}
