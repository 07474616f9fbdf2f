package sshtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/odu-ci/odu/internal/odutest"
)

// sshdPATH is the PATH OpenSSH gives a user's sessions by default
// (Debian's build), which the server's bin directory goes in front of.
var sshdPATH = []string{"/usr/local/bin", "/usr/bin", "/bin", "/usr/games"}

// makeBin fills a server's bin directory and returns its sessions' PATH.
func makeBin(bin string, opts Options) (string, error) {
	if err := os.Mkdir(bin, 0o755); err != nil {
		return "", fmt.Errorf("make bin directory: %w", err)
	}
	own := map[string]bool{"just": true} // names not to take from the usual PATH
	if opts.Arch == "aarch64" {
		realUname, err := lookPath("uname")
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(bin, "uname"), []byte(fmt.Sprintf(unameAarch64, realUname)), 0o755); err != nil {
			return "", fmt.Errorf("write uname: %w", err)
		}
		if err := os.WriteFile(filepath.Join(bin, "arch"), []byte("#!/bin/sh\nexec uname -m\n"), 0o755); err != nil {
			return "", fmt.Errorf("write arch: %w", err)
		}
		own["uname"], own["arch"] = true, true
	}
	if !opts.NoJust {
		just, err := fastJust()
		if err != nil {
			return "", err
		}
		if err := os.Symlink(just, filepath.Join(bin, "just")); err != nil {
			return "", fmt.Errorf("link just: %w", err)
		}
		return strings.Join(append([]string{bin}, sshdPATH...), ":"), nil
	}
	// No PATH that holds /usr/bin can hide npm's /usr/bin/just: the bin
	// directory links every other command of the usual PATH, first
	// directory first, as a lookup would find them, and is the PATH.
	seen := map[string]bool{}
	for _, dir := range sshdPATH {
		resolved, err := filepath.EvalSymlinks(dir)
		if err != nil || seen[resolved] {
			continue // missing, or /bin when it is /usr/bin
		}
		seen[resolved] = true
		entries, err := os.ReadDir(dir)
		if err != nil {
			return "", fmt.Errorf("list %s: %w", dir, err)
		}
		for _, e := range entries {
			if own[e.Name()] || e.IsDir() {
				continue
			}
			own[e.Name()] = true
			if err := linkCommand(filepath.Join(dir, e.Name()), filepath.Join(bin, e.Name()), e.Type()); err != nil {
				return "", err
			}
		}
	}
	return bin, nil
}

// linkCommand makes to run what from runs: a hard link to a file where it
// can, else a symlink; a symlink gets a symlink (a hard link to a relative
// symlink would resolve from the wrong directory). A symlink costs ~0.3 ms
// on this machine's ext4, a hard link a twentieth of that: /usr/bin's ~370
// symlinks are most of the ~190 ms a NoJust server takes to start.
func linkCommand(from, to string, mode os.FileMode) error {
	if mode.IsRegular() && os.Link(from, to) == nil {
		return nil
	}
	if err := os.Symlink(from, to); err != nil {
		return fmt.Errorf("link %s: %w", from, err)
	}
	return nil
}

// fastJust is odutest.FastJust, asked once per test process: it runs
// `npm root -g`, which costs ~200 ms.
var fastJust = sync.OnceValues(odutest.FastJust)

// lookPath finds a command in the usual PATH of sessions.
func lookPath(name string) (string, error) {
	for _, dir := range sshdPATH {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("no %s in %s", name, strings.Join(sshdPATH, ":"))
}

// unameAarch64 is a uname for a simulated aarch64 host, given the real
// uname's path: the real answers, with aarch64 for the machine (and for
// the processor and hardware platform, where the real one names
// x86_64). It takes GNU uname's options, and prints its fields in GNU
// uname's order whatever the order of the options.
const unameAarch64 = `#!/bin/sh
# uname of a host that odu's tests simulate as aarch64 (internal/sshtest).
real=%s
[ $# -eq 0 ] && set -- -s
want=
for arg; do
	case $arg in
	--all) want="${want}a" ;;
	--kernel-name) want="${want}s" ;;
	--nodename) want="${want}n" ;;
	--kernel-release) want="${want}r" ;;
	--kernel-version) want="${want}v" ;;
	--machine) want="${want}m" ;;
	--processor) want="${want}p" ;;
	--hardware-platform) want="${want}i" ;;
	--operating-system) want="${want}o" ;;
	-[asnrvmpio]*) want="${want}${arg#-}" ;;
	*) exec "$real" "$@" ;; # --help, --version, mistakes: the real answer
	esac
done
case $want in *[!asnrvmpio]*) exec "$real" "$@" ;; esac
out=
add() { out="${out:+$out }$1"; }
has() { case $want in *[$1]*) return 0 ;; esac; return 1; }
machine() { x=$("$real" "$1"); [ "$x" = x86_64 ] && x=aarch64; echo "$x"; }
has as && add "$("$real" -s)"
has an && add "$("$real" -n)"
has ar && add "$("$real" -r)"
has av && add "$("$real" -v)"
has am && add aarch64
for f in p i; do
	x=$(machine -$f)
	if has $f || { has a && [ "$x" != unknown ]; }; then add "$x"; fi
done
has ao && add "$("$real" -o)"
printf '%%s\n' "$out"
`
