package provision

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/odu-ci/odu/internal/say"
	"github.com/odu-ci/odu/lanes/sshlink"
	"github.com/odu-ci/odu/platform"
	"github.com/odu-ci/odu/repo"
	"github.com/odu-ci/odu/runner/hostside"
	"github.com/odu-ci/odu/surface"
)

// remoteLane is what provisioning needs from the coordinator.
type remoteLane struct {
	addr     string
	platform platform.Platform
	env      sshlink.Env
	run      *Run
	setup    io.Writer // the narrative
	say      say.Func  // a line of it
	// watchers close the runner's client when its link ends, one per
	// attach: the runner's end waits for them.
	watchers sync.WaitGroup
	phase    func(surface.Phase) // where it is
}

// probe is what a host says of itself.
type probe struct {
	kernel, machine string
	home, cache     string
	path            string
	just, git       string
	hasRunner       bool     // the runner odu would push is there
	wsReady         bool     // the workspace is checked out and ready
	commits         []string // the commits its repository has
}

// start provisions the host and starts its runner. A host that has
// everything (a warm start) costs the handshake, one probe and the
// runner's session: what odu would send is prepared while the link comes
// up, and the probe answers every question at once.
func (r *remoteLane) start(ctx context.Context, runnerErr io.Writer) (*Runner, error) {
	r.phase(surface.PhaseConnecting)
	r.say("connecting to %s", r.addr)
	prepared := make(chan localFiles, 1)
	pctx, cancel := context.WithCancel(ctx)
	var preparing sync.WaitGroup
	defer func() {
		cancel()
		preparing.Wait()
	}()
	preparing.Go(func() { prepared <- r.prepare(pctx) })
	l, err := r.env.Dial(ctx, r.addr, func(note string) { r.say("note: %s", note) })
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			l.Close(errors.New("provisioning failed"))
		}
	}()
	r.say("connected to %s@%s:%d", l.Target.User, l.Target.HostName, l.Target.Port)
	var files localFiles
	select {
	case files = <-prepared:
	default:
		// Still preparing (cross-compiling a runner): first make sure the
		// host is of the lane's platform, rather than build for nothing.
		if err := r.checkPlatform(l); err != nil {
			return nil, err
		}
		files = <-prepared
	}
	if files.err != nil {
		return nil, &sshlink.HostError{Addr: r.addr, Err: files.err}
	}
	// odu sends no Git LFS objects: the workspace on a host has the
	// pointer files, and the lane says so rather than leave a recipe to
	// find out.
	if files.lfs {
		r.say("note: the commit stores files with Git LFS; odu sends no LFS objects, so the workspace has their pointer files")
		if n := r.run.Notef; n != nil {
			n("the commit stores files with Git LFS: the %s lane's workspace on %s has their pointer files, not their content (odu sends no LFS objects to build hosts)", r.platform, r.addr)
		}
	}

	p, err := r.probe(l, files)
	if err != nil {
		return nil, err
	}
	if p.just == "" && r.platform != platform.Local() {
		return nil, errNoJust(r.addr) // before anything is pushed
	}
	r.phase(surface.PhasePushing)
	bin := hostside.BinPath(p.cache, files.runnerName)
	if p.hasRunner {
		r.say("the runner already on the host: %s", bin)
	} else if err := r.upload(l, files.runner, files.runnerSum, bin, "the runner"); err != nil {
		return nil, err
	}
	env := []string{}
	if p.just == "" {
		dir, err := r.pushJust(l, p)
		if err != nil {
			return nil, err
		}
		env = append(env, "PATH="+dir+":"+p.path)
	}
	r.phase(surface.PhaseSource)
	ws := hostside.WorkspacePath(p.cache, files.repo, files.workspace)
	if p.wsReady {
		r.say("commit %s already on the host; workspace reused: %s", short(r.run.SHA), ws)
	} else if err := r.sendSource(ctx, l, p, files, ws); err != nil {
		return nil, err
	}

	laneDir := hostside.LaneDir(ws, string(r.platform))
	att := &attachment{l: l}
	cl, err := r.attach(ctx, att, bin, laneDir, runnerErr, false)
	if err != nil {
		return nil, err
	}
	ok = true
	return &Runner{
		Client: cl, Workspace: ws, LogDir: laneDir, Env: env, Detached: true,
		lost: att.err,
		redial: func(ctx context.Context) (*surface.Client, error) {
			nl, err := r.env.Dial(ctx, r.addr, func(note string) { r.say("note: %s", note) })
			if err != nil {
				return nil, err
			}
			next := &attachment{l: nl}
			cl, err := r.attach(ctx, next, bin, laneDir, runnerErr, true)
			if err != nil {
				nl.Close(err)
				return nil, err
			}
			att.swap(next)
			return cl, nil
		},
		end: func(cl *surface.Client, exit bool, wait time.Duration) {
			// The run is over: the runner exits now rather than wait out
			// its idle bound. A runner that cannot be told (the link is
			// gone) exits by itself after that bound.
			if exit {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				cl.Exit(ctx)
				cancel()
			}
			cl.Close() // the bridge's stdin closes: it exits
			att.wait(wait)
			att.close(errors.New("the run is over"))
			r.watchers.Wait()
		},
	}, nil
}

// ErrRunnerGone reports a host whose runner is no longer there when the
// coordinator dials it again: it exited (its idle bound passed, or it was
// killed), so its nodes' state is lost with it.
var ErrRunnerGone = errors.New("the runner is no longer running on the host")

// attachment is the link to a host and the session that bridges to its
// runner; a reconnect replaces both.
type attachment struct {
	mu sync.Mutex
	l  *sshlink.Link
	s  *ssh.Session
}

func (a *attachment) swap(b *attachment) {
	a.mu.Lock()
	old := a.l
	a.l, a.s = b.l, b.s
	a.mu.Unlock()
	old.Close(errors.New("replaced by a new link"))
}

// err says why the current link ended, if it did.
func (a *attachment) err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.l.Err()
}

func (a *attachment) close(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.l.Close(err)
}

// wait waits at most d for the session to end.
func (a *attachment) wait(d time.Duration) {
	a.mu.Lock()
	s := a.s
	a.mu.Unlock()
	if s == nil {
		return
	}
	done := make(chan struct{})
	go func() { s.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// attach opens a session on a's link that runs `odu runner --attach`:
// the lane's detached runner (started if none runs, unless existing: a
// reconnect must find the runner it left), bridged to the session's
// stdio. It sets a.s, and returns a client of the runner.
func (r *remoteLane) attach(ctx context.Context, a *attachment, bin, laneDir string, stderr io.Writer, existing bool) (*surface.Client, error) {
	l := a.l
	s, err := l.NewSession()
	if err != nil {
		return nil, &sshlink.HostError{Addr: r.addr, Err: fmt.Errorf("open a session for the runner: %w", err)}
	}
	stdin, err := s.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := s.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s.Stderr = &sweepLines{w: stderr, say: r.say}
	cmd := "exec " + sshlink.Quote(bin) + " runner --attach " + sshlink.Quote(laneDir)
	o := r.run
	switch {
	case existing:
		cmd += " --existing"
	case o.Fresh:
		cmd += " --fresh"
	}
	if o.RunnerIdle > 0 {
		cmd += " --idle " + o.RunnerIdle.String()
	}
	if o.RunnerFinishedIdle > 0 {
		cmd += " --finished-idle " + o.RunnerFinishedIdle.String()
	}
	if err := s.Start(cmd); err != nil {
		s.Close()
		return nil, &sshlink.HostError{Addr: r.addr, Err: fmt.Errorf("start the runner: %w", err)}
	}
	cl, err := surface.NewClient(ctx, struct {
		io.Reader
		io.WriteCloser
	}{stdout, stdin}, "coordinator", o.Version)
	if err != nil {
		// Did the bridge say there is no runner?
		done := make(chan error, 1)
		go func() { done <- s.Wait() }()
		var exit *ssh.ExitError
		select {
		case werr := <-done:
			if errors.As(werr, &exit) && exit.ExitStatus() == hostside.ExitNoRunner {
				s.Close()
				return nil, ErrRunnerGone
			}
		case <-time.After(2 * time.Second):
		}
		s.Close()
		var verr *surface.VersionError
		if errors.As(err, &verr) {
			// The runner there was left by an odu run of another version
			// (odu was rebuilt or upgraded since): this one cannot take
			// it over.
			return nil, &sshlink.HostError{Addr: r.addr, Err: fmt.Errorf(
				"a runner of another odu version still runs this commit's %s lane there (left by an earlier odu run): %v; `odu run --fresh` stops it and starts over",
				r.platform, err)}
		}
		return nil, &sshlink.HostError{Addr: r.addr, Err: fmt.Errorf("talk to the runner: %w", err)}
	}
	if existing {
		r.say("re-attached to the runner: %s runner --attach %s", bin, laneDir)
	} else {
		r.say("runner attached: %s runner --attach %s", bin, laneDir)
	}
	a.mu.Lock()
	a.s = s
	a.mu.Unlock()
	r.watchers.Go(func() {
		<-l.Done()
		cl.Close() // the link is gone: the lane's client with it
	})
	return cl, nil
}

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

// probe asks the host, in one session, what it is and what it has.
func (r *remoteLane) probe(l *sshlink.Link, f localFiles) (*probe, error) {
	script := fmt.Sprintf(`uname -s; uname -m; c="${XDG_CACHE_HOME:-$HOME/.cache}"
printf '%%s\n' "$HOME" "$c" "$PATH"; command -v just || echo; command -v git || echo
if [ -x "%[1]s" ]; then echo yes; else echo no; fi
w="%[2]s"
if [ -e "$w/%[5]s" ] && [ "$(git -C "$w" rev-parse HEAD 2>/dev/null)" = %[4]s ]; then echo yes; else echo no; fi
b="%[3]s"; if [ -d "$b" ]; then git --git-dir="$b" for-each-ref --format='%%(objectname)' refs/odu/ | tr '\n' ' '; fi; echo`,
		hostside.BinPath("$c", f.runnerName), hostside.WorkspacePath("$c", f.repo, f.workspace), hostside.RepoPath("$c", f.repo),
		f.sha, hostside.Ready)
	out, err := l.Run(script, nil)
	if err != nil {
		return nil, &sshlink.HostError{Addr: r.addr, Err: fmt.Errorf("probe the host: %w", err)}
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) < 9 {
		return nil, &sshlink.HostError{Addr: r.addr, Err: fmt.Errorf("probe the host: unexpected answer %q", out)}
	}
	p := &probe{kernel: lines[0], machine: lines[1], home: lines[2], cache: lines[3], path: lines[4],
		just: lines[5], git: lines[6], hasRunner: lines[7] == "yes", wsReady: lines[8] == "yes"}
	if len(lines) > 9 {
		p.commits = strings.Fields(lines[9])
	}
	if err := r.checkProbe(p); err != nil {
		return nil, err
	}
	return p, nil
}

// checkPlatform asks the host only what it is.
func (r *remoteLane) checkPlatform(l *sshlink.Link) error {
	out, err := l.Run("uname -s; uname -m", nil)
	if err != nil {
		return &sshlink.HostError{Addr: r.addr, Err: fmt.Errorf("probe the host: %w", err)}
	}
	f := strings.Fields(out)
	if len(f) != 2 {
		return &sshlink.HostError{Addr: r.addr, Err: fmt.Errorf("probe the host: unexpected answer %q", out)}
	}
	return r.checkProbe(&probe{kernel: f[0], machine: f[1], git: "(not asked yet)"})
}

// checkProbe checks that the host is of the lane's platform and has git.
func (r *remoteLane) checkProbe(p *probe) error {
	got, known := platform.FromUname(p.kernel, p.machine)
	r.say("host is %s %s (%s), cache %s, just: %s, git: %s", p.kernel, p.machine, got, p.cache, orNone(p.just), orNone(p.git))
	if !known || got != r.platform {
		what := string(got)
		if !known {
			what = "an unknown platform (" + p.kernel + " " + p.machine + ")"
		}
		return &sshlink.HostError{Addr: r.addr, Err: fmt.Errorf("the host is %s, not %s", what, r.platform),
			Fix: "Point the " + string(r.platform) + " lane at a " + string(r.platform) + " host in the hosts file."}
	}
	if p.git == "" {
		return &sshlink.HostError{Addr: r.addr, Err: errors.New("git is not installed on the host"),
			Fix: "odu sends the commit to the host with git: install git there."}
	}
	return nil
}

// orNone says "none" for what the host does not have.
func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// upload puts a local file on the host at dst: written to a temporary
// name, its checksum verified on the host, then renamed.
func (r *remoteLane) upload(l *sshlink.Link, local, sum, dst, what string) error {
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, _ := f.Stat()
	start := time.Now()
	script := fmt.Sprintf(`set -e; d=%s; mkdir -p "$d"; t="$d/.tmp.$$"; cat > "$t"; chmod 755 "$t"
h=$( (sha256sum "$t" 2>/dev/null || shasum -a 256 "$t") | cut -d' ' -f1)
if [ "$h" != %s ]; then rm -f "$t"; echo "checksum mismatch after the transfer: $h" >&2; exit 3; fi
mv -f "$t" %s`, sshlink.Quote(path.Dir(dst)), sum, sshlink.Quote(dst))
	if _, err := l.Run(script, f); err != nil {
		return &sshlink.HostError{Addr: r.addr, Err: fmt.Errorf("push %s: %w", what, err)}
	}
	r.say("pushed %s: %s (%.1f MB in %s)", what, dst, float64(fi.Size())/1e6, time.Since(start).Round(time.Millisecond))
	return nil
}

// pushJust puts this machine's just on a host that has none, when it is
// for the host's platform, and returns a directory that holds it as
// `just`, for the runner's PATH.
func (r *remoteLane) pushJust(l *sshlink.Link, p *probe) (string, error) {
	local, err := exec.LookPath("just")
	if err != nil || r.platform != platform.Local() {
		return "", errNoJust(r.addr)
	}
	if real, err := filepath.EvalSymlinks(local); err == nil {
		local = real
	}
	sum, err := fileSum(local)
	if err != nil {
		return "", err
	}
	dst := hostside.BinPath(p.cache, "just-"+sum[:16])
	if out, _ := l.Run("test -x "+sshlink.Quote(dst)+" && echo present", nil); strings.TrimSpace(out) == "present" {
		r.say("just already on the host: %s", dst)
	} else if err := r.upload(l, local, sum, dst, "just"); err != nil {
		return "", err
	}
	dir := dst + ".d"
	if _, err := l.Run("mkdir -p "+sshlink.Quote(dir)+" && ln -sf "+sshlink.Quote(dst)+" "+sshlink.Quote(dir+"/just"), nil); err != nil {
		return "", &sshlink.HostError{Addr: r.addr, Err: fmt.Errorf("install just: %w", err)}
	}
	return dir, nil
}

func errNoJust(addr string) error {
	return &sshlink.HostError{Addr: addr, Err: errors.New("just is not installed on the host"),
		Fix: "Install just on the host (e.g. `npm install -g rust-just` or `cargo install just`); odu can only bring its own just to a host of its own platform (" + string(platform.Local()) + ")."}
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
		r.say("commit %s already on the host", short(o.SHA))
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
			return fmt.Errorf("pack commit %s: %v: %s", short(o.SHA), err, perr.String())
		}
		size := packed.Len()
		script := fmt.Sprintf(`set -e; b=%s; [ -d "$b" ] || git init -q --bare "$b"
git --git-dir="$b" index-pack --stdin --fix-thin >/dev/null; git --git-dir="$b" update-ref refs/odu/%s %s`, sshlink.Quote(bare), o.SHA, o.SHA)
		if _, err := l.Run(script, &packed); err != nil {
			return &sshlink.HostError{Addr: r.addr, Err: fmt.Errorf("send commit %s: %w", short(o.SHA), err)}
		}
		r.say("sent commit %s: %d bytes, on top of %d commits the host had", short(o.SHA), size, len(bases))
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
		return &sshlink.HostError{Addr: r.addr, Err: fmt.Errorf("check out %s on the host: %w", short(o.SHA), err)}
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
			return fmt.Errorf("pack submodule %s at %s: %v: %s", s.Path, short(s.Commit), err, perr.String())
		}
		size := packed.Len()
		script := fmt.Sprintf(`set -e; b=%s; [ -d "$b" ] || git init -q --bare "$b"
git --git-dir="$b" index-pack --stdin --fix-thin >/dev/null; git --git-dir="$b" update-ref refs/odu/%s %s`, sshlink.Quote(bare), s.Commit, s.Commit)
		if _, err := l.Run(script, &packed); err != nil {
			return &sshlink.HostError{Addr: r.addr, Err: fmt.Errorf("send submodule %s at %s: %w", s.Path, short(s.Commit), err)}
		}
		p.commits = append(p.commits, s.Commit)
		r.say("sent submodule %s at %s: %d bytes", s.Path, short(s.Commit), size)
	}
	return nil
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// repoID names a checkout on a host: its directory's name and a hash of
// its path, as on this machine.
func repoID(root string) string {
	sum := sha256.Sum256([]byte(root))
	return filepath.Base(root) + "-" + hex.EncodeToString(sum[:4])
}
