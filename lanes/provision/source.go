package provision

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/odu-ci/odu/lanes/sshlink"
	"github.com/odu-ci/odu/repo"
	"github.com/odu-ci/odu/runner/hostside"
)

// localFiles is what odu may send a host, prepared on this machine.
type localFiles struct {
	runner     string // the runner binary for the host's platform
	runnerSum  string // its sha256
	runnerName string // its name on the host: odu-<hash>
	repo       string // the repository's name on hosts
	workspace  string // the workspace's name: the commit, and the changes' hash
	sha        string // the commit
	patch      *patch // the working tree's changes, for --no-snapshot
	// subs are the commit's submodules checked out here: the host gets
	// their objects and checks them out, as the local snapshot does.
	subs []repo.Submodule
	lfs  bool // the commit stores files with Git LFS
	err  error
}

func (r *remoteLane) prepare(ctx context.Context) localFiles {
	f := localFiles{repo: repoID(r.run.Root), workspace: r.run.SHA, sha: r.run.SHA}
	f.runner, f.err = runnerBinary(ctx, r.platform, r.run.Exe, r.run.Version, r.say)
	if f.err != nil {
		return f
	}
	if f.runnerSum, f.err = fileSum(f.runner); f.err != nil {
		return f
	}
	f.runnerName = "odu-" + f.runnerSum[:16]
	if f.patch, f.err = dirtyPatch(ctx, r.run); f.patch != nil {
		f.workspace += "-" + f.patch.id
	}
	if f.err == nil {
		f.subs, f.err = repo.Submodules(ctx, r.run.Root, r.run.SHA)
	}
	if f.err == nil {
		f.lfs, f.err = repo.UsesLFS(ctx, r.run.Root, r.run.SHA)
	}
	return f
}

func fileSum(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// sendSource makes the commit (and, with --no-snapshot, the working
// tree's changes) the workspace ws on the host.
func (r *remoteLane) sendSource(ctx context.Context, l *sshlink.Link, p *probe, f localFiles, ws string) error {
	o := r.run
	bare := hostside.RepoPath(p.cache, f.repo)
	var bases []string
	present := false
	for _, c := range p.commits {
		if c == o.SHA {
			present = true
		}
		if exec.CommandContext(ctx, "git", "-C", o.Root, "cat-file", "-e", c+"^{commit}").Run() == nil {
			bases = append(bases, c)
		}
	}
	if present {
		r.say("commit %s already on the host", repo.Short(o.SHA))
	} else {
		revs := o.SHA + "\n"
		for _, b := range bases {
			revs += "^" + b + "\n"
		}
		pack := exec.CommandContext(ctx, "git", "-C", o.Root, "pack-objects", "--revs", "--thin", "--stdout", "-q")
		pack.Stdin = strings.NewReader(revs)
		var packed, perr bytes.Buffer
		pack.Stdout, pack.Stderr = &packed, &perr
		if err := pack.Run(); err != nil {
			return fmt.Errorf("pack commit %s: %w: %s", repo.Short(o.SHA), err, perr.String())
		}
		size := packed.Len()
		script := fmt.Sprintf(`set -e; b=%s; [ -d "$b" ] || git init -q --bare "$b"
git --git-dir="$b" index-pack --stdin --fix-thin >/dev/null; git --git-dir="$b" update-ref refs/odu/%s %s`, sshlink.Quote(bare), o.SHA, o.SHA)
		if _, err := l.Run(script, &packed); err != nil {
			return &sshlink.HostError{Addr: r.addr, Err: fmt.Errorf("send commit %s: %w", repo.Short(o.SHA), err)}
		}
		r.say("sent commit %s: %d bytes, on top of %d commits the host had", repo.Short(o.SHA), size, len(bases))
	}

	if err := r.sendSubmodules(ctx, l, p, f, bare); err != nil {
		return err
	}

	// No LFS filter runs (see start): it would fetch from a remote the
	// bare repository does not have.
	script := fmt.Sprintf(`set -e; b=%s; w=%s; export GIT_LFS_SKIP_SMUDGE=1
rm -rf "$w"; git --git-dir="$b" worktree prune; mkdir -p "$(dirname "$w")"
git --git-dir="$b" worktree add --detach --force -q "$w" %s`, sshlink.Quote(bare), sshlink.Quote(ws), o.SHA)
	// Submodules, from the objects sent into the same repository: the
	// host needs no access to their URLs.
	for _, s := range f.subs {
		if s.GitDir != "" {
			script += fmt.Sprintf("\ngit clone -q --shared --no-checkout \"$b\" \"$w\"/%[1]s; git -C \"$w\"/%[1]s checkout -q --detach %[2]s",
				sshlink.Quote(s.Path), s.Commit)
		}
	}
	var stdin io.Reader
	if f.patch != nil {
		// The changes come on stdin: a tar of the diff and the untracked
		// files (a command line could not hold them).
		script += "\ncd \"$w\"; tar xf -; if [ -s .odu-patch.diff ]; then git apply --binary .odu-patch.diff; fi; rm -f .odu-patch.diff"
		stdin = bytes.NewReader(f.patch.tar)
		r.say("sending the working tree's changes: %d bytes", len(f.patch.tar))
	}
	script += "\ntouch \"$w/" + hostside.Ready + "\""
	if _, err := l.Run(script, stdin); err != nil {
		return &sshlink.HostError{Addr: r.addr, Err: fmt.Errorf("check out %s on the host: %w", repo.Short(o.SHA), err)}
	}
	r.say("workspace checked out: %s", ws)
	return nil
}

// sendSubmodules sends the host the objects of the commit's submodules
// that it lacks, into the bare repository of the superproject: objects
// are objects, and a ref per commit keeps them, as for the commit itself.
func (r *remoteLane) sendSubmodules(ctx context.Context, l *sshlink.Link, p *probe, f localFiles, bare string) error {
	for _, s := range f.subs {
		if s.GitDir == "" || slices.Contains(p.commits, s.Commit) {
			continue
		}
		// What the host has of the submodule's history is what the pack
		// need not hold: one question for every commit of the host's.
		check := exec.CommandContext(ctx, "git", "--git-dir="+s.GitDir, "cat-file", "--batch-check=%(objectname) %(objecttype)")
		check.Stdin = strings.NewReader(strings.Join(p.commits, "\n") + "\n")
		known, _ := check.Output()
		revs := s.Commit + "\n"
		for _, line := range strings.Split(string(known), "\n") {
			if c, ok := strings.CutSuffix(line, " commit"); ok {
				revs += "^" + c + "\n"
			}
		}
		pack := exec.CommandContext(ctx, "git", "--git-dir="+s.GitDir, "pack-objects", "--revs", "--thin", "--stdout", "-q")
		pack.Stdin = strings.NewReader(revs)
		var packed, perr bytes.Buffer
		pack.Stdout, pack.Stderr = &packed, &perr
		if err := pack.Run(); err != nil {
			return fmt.Errorf("pack submodule %s at %s: %w: %s", s.Path, repo.Short(s.Commit), err, perr.String())
		}
		size := packed.Len()
		script := fmt.Sprintf(`set -e; b=%s; [ -d "$b" ] || git init -q --bare "$b"
git --git-dir="$b" index-pack --stdin --fix-thin >/dev/null; git --git-dir="$b" update-ref refs/odu/%s %s`, sshlink.Quote(bare), s.Commit, s.Commit)
		if _, err := l.Run(script, &packed); err != nil {
			return &sshlink.HostError{Addr: r.addr, Err: fmt.Errorf("send submodule %s at %s: %w", s.Path, repo.Short(s.Commit), err)}
		}
		p.commits = append(p.commits, s.Commit)
		r.say("sent submodule %s at %s: %d bytes", s.Path, repo.Short(s.Commit), size)
	}
	return nil
}

// repoID names a checkout on a host: its directory's name and a hash of
// its path, as on this machine.
func repoID(root string) string {
	sum := sha256.Sum256([]byte(root))
	return filepath.Base(root) + "-" + hex.EncodeToString(sum[:4])
}
