package repo

// Submodules in the snapshot.
//
// A snapshot is a `git worktree` of the commit, and git leaves its
// submodules empty there. odu checks each out at the commit the
// superproject records, from the submodule's repository that this
// checkout already has (.git/modules/<name>, where `git submodule update`
// keeps it), never from its URL: a run needs no network and tests what
// was committed. A submodule that is not checked out in the working tree
// (not initialized, or deinitialized) stays empty in the snapshot, as it
// is in the working tree; one whose repository lacks the recorded commit
// is an error, with the fix.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

// Submodule is a submodule of a commit.
type Submodule struct {
	Path   string // where it is checked out, relative to the top, slash-separated
	Name   string // its name in .gitmodules
	Commit string // the commit the superproject records
	// GitDir is the repository on this machine that holds its objects;
	// "" when the submodule is not checked out in the working tree.
	GitDir string
}

// maxSubmoduleDepth bounds submodules of submodules: real ones are a
// level or two deep; a bound keeps a cycle of repositories finite.
const maxSubmoduleDepth = 16

// Submodules lists the submodules of commit sha of the repository at
// root, recursively: a submodule comes before its own submodules, which
// are listed only when it is initialized here.
func Submodules(ctx context.Context, root, sha string) ([]Submodule, error) {
	return submodules(ctx, root, "", "", sha, 0)
}

// submodules lists the submodules of commit sha of the repository whose
// git directory is gitDir (the checkout at root when gitDir is ""),
// with paths under prefix.
func submodules(ctx context.Context, root, gitDir, prefix, sha string, depth int) ([]Submodule, error) {
	if depth > maxSubmoduleDepth {
		return nil, fmt.Errorf("submodules nested deeper than %d at %s", maxSubmoduleDepth, prefix)
	}
	git := func(args ...string) (string, error) {
		if gitDir == "" {
			return Git(ctx, root, args...)
		}
		return Git(ctx, gitDir, append([]string{"--git-dir=" + gitDir}, args...)...)
	}
	// Gitlinks (mode 160000) are the submodules' recorded commits.
	out, err := git("ls-tree", "-r", "-z", "--full-tree", sha)
	if err != nil {
		return nil, err
	}
	var links []Submodule
	for _, e := range strings.Split(out, "\x00") {
		// "160000 commit <sha>\t<path>"
		meta, p, ok := strings.Cut(e, "\t")
		f := strings.Fields(meta)
		if !ok || len(f) != 3 || f[0] != "160000" {
			continue
		}
		links = append(links, Submodule{Path: p, Commit: f[2]})
	}
	if len(links) == 0 {
		return nil, nil
	}
	// Their names, by path, from the commit's .gitmodules.
	names := map[string]string{}
	if cfg, err := git("config", "--blob", sha+":.gitmodules", "-z", "--get-regexp", `^submodule\..*\.path$`); err == nil {
		for _, e := range strings.Split(cfg, "\x00") {
			key, p, ok := strings.Cut(e, "\n")
			if ok {
				names[p] = strings.TrimSuffix(strings.TrimPrefix(key, "submodule."), ".path")
			}
		}
	}
	var all []Submodule
	for _, s := range links {
		s.Name = names[s.Path]
		if s.Name == "" {
			s.Name = s.Path // git's default, for a gitlink .gitmodules does not name
		}
		s.Path = path.Join(prefix, s.Path)
		// Initialized here means checked out in the working tree, which
		// a strict run knows is clean: at the commit recorded.
		live := filepath.Join(root, filepath.FromSlash(s.Path))
		if _, err := os.Lstat(filepath.Join(live, ".git")); err != nil {
			all = append(all, s) // empty in the working tree too
			continue
		}
		out, err := Git(ctx, live, "rev-parse", "--absolute-git-dir")
		if err != nil {
			return nil, fmt.Errorf("find the repository of submodule %s: %w", s.Path, err)
		}
		dir := strings.TrimSpace(out)
		s.GitDir = dir
		if _, err := Git(ctx, dir, "--git-dir="+dir, "cat-file", "-e", s.Commit+"^{commit}"); err != nil {
			return nil, &SubmoduleError{Path: s.Path, Commit: s.Commit, GitDir: dir}
		}
		all = append(all, s)
		inner, err := submodules(ctx, root, dir, s.Path, s.Commit, depth+1)
		if err != nil {
			return nil, err
		}
		all = append(all, inner...)
	}
	return all, nil
}

// CheckoutSubmodules checks the submodules out in dir, a snapshot of
// their superproject, each at its recorded commit, from the repository
// that holds its objects. A submodule with no repository stays empty.
func CheckoutSubmodules(ctx context.Context, dir string, subs []Submodule) error {
	for _, s := range subs {
		if s.GitDir == "" {
			continue
		}
		to := filepath.Join(dir, filepath.FromSlash(s.Path))
		// --shared: the snapshot borrows the objects instead of copying
		// them; it lives no longer than the run, and the repository it
		// borrows from is this checkout's own.
		if _, err := Git(ctx, dir, "clone", "--quiet", "--shared", "--no-checkout", s.GitDir, to); err != nil {
			return fmt.Errorf("check out submodule %s: %w", s.Path, err)
		}
		if _, err := Git(ctx, to, "checkout", "--quiet", "--detach", s.Commit); err != nil {
			return fmt.Errorf("check out submodule %s at %s: %w", s.Path, shortSHA(s.Commit), err)
		}
	}
	return nil
}

// SubmoduleError reports a submodule whose repository here lacks the
// commit the superproject records.
type SubmoduleError struct {
	Path, Commit, GitDir string
}

func (e *SubmoduleError) Error() string {
	return fmt.Sprintf("submodule %s: its repository (%s) does not have commit %s, which the commit under test records",
		e.Path, e.GitDir, shortSHA(e.Commit))
}

// Hint says how to get it.
func (e *SubmoduleError) Hint() string {
	return "Fetch it with `git submodule update --init --recursive`, then run again."
}

func shortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// UsesLFS reports whether commit sha stores files with Git LFS: a
// .gitattributes of it, at any depth, names the lfs filter.
func UsesLFS(ctx context.Context, root, sha string) (bool, error) {
	// Without a pathspec's magic, '*' matches across '/': every
	// .gitattributes. git grep exits 1 when nothing matches.
	_, err := Git(ctx, root, "grep", "-q", "-F", "filter=lfs", sha, "--", "*.gitattributes")
	var exit *exec.ExitError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		return false, nil
	}
	return false, err
}
