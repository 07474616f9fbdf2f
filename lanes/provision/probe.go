package provision

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/odu-ci/odu/lanes/sshlink"
	"github.com/odu-ci/odu/platform"
	"github.com/odu-ci/odu/runner/hostside"
)

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
