package provision

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"github.com/odu-ci/odu/internal/say"
	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/platform"
)

// runnerBinary returns an odu binary of version for plat: this one, when
// plat is this machine's; else one cached under
// $XDG_CACHE_HOME/odu/runners/<version>-<hash>/odu-<goos>-<goarch>, hash
// that of this binary (a build from a tree with changes keeps its version
// across edits: the hash keeps a stale runner from being reused); else
// one cross-compiled into that cache from odu's source, when the source
// this binary was built from and a Go toolchain are here. The version is
// stamped into the binary, so that the runner and the coordinator agree
// at hello.
func runnerBinary(ctx context.Context, plat platform.Platform, exe, version string, say say.Func) (string, error) {
	if plat == platform.Local() {
		return exe, nil
	}
	goos, goarch := plat.GoOS(), plat.GoArch()
	dst, err := cachedRunner(plat, exe, version)
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(dst); err == nil && fi.Mode()&0o111 != 0 {
		return dst, nil
	}
	how := fmt.Sprintf("Build one in odu's source with `CGO_ENABLED=0 GOOS=%s GOARCH=%s go build -ldflags '-X main.versionOverride=%s' -o %s ./cmd/odu`.",
		goos, goarch, version, dst)
	src := sourceRoot()
	goTool, gerr := exec.LookPath("go")
	if src == "" || gerr != nil {
		return "", &NoRunnerError{Platform: plat, Why: "odu's source or the Go toolchain is not on this machine", How: how}
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return "", err
	}
	// Runs at once (other checkouts, other terminals) share the cache:
	// one builds, the others wait for it and use what it built.
	lock, err := os.OpenFile(dst+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock the runner cache: %w", err)
	}
	// lock.Close, deferred above, releases the lock.
	if fi, err := os.Stat(dst); err == nil && fi.Mode()&0o111 != 0 {
		return dst, nil
	}
	say("cross-compiling the runner for %s/%s from %s", goos, goarch, src)
	f, err := os.CreateTemp(filepath.Dir(dst), ".odu-*.tmp")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	f.Close()
	cmd := exec.CommandContext(ctx, goTool, "build", "-trimpath", "-ldflags", "-X main.versionOverride="+version, "-o", tmp, "./cmd/odu")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", &NoRunnerError{Platform: plat, Why: fmt.Sprintf("go build failed: %v\n%s", err, strings.TrimSpace(string(out))), How: how}
	}
	if err := os.Rename(tmp, dst); err != nil {
		return "", err
	}
	return dst, nil
}

// cachedRunner is where [runnerBinary] keeps the runner for plat.
func cachedRunner(plat platform.Platform, exe, version string) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find a cache directory for runner binaries: %w", err)
	}
	self, err := fileSum(exe)
	if err != nil {
		return "", fmt.Errorf("read odu's own binary: %w", err)
	}
	return filepath.Join(cache, "odu", "runners", version+"-"+self[:12], "odu-"+plat.GoOS()+"-"+plat.GoArch()), nil
}

// LocalRunner returns the runner odu run would send a host of plat, if
// it is on this machine without building one: exe itself for this
// machine's platform, else the one cross-compiled before; "" when there
// is none yet.
func LocalRunner(plat platform.Platform, exe, version string) string {
	if plat == platform.Local() {
		return exe
	}
	dst, err := cachedRunner(plat, exe, version)
	if err != nil {
		return ""
	}
	if fi, err := os.Stat(dst); err != nil || fi.Mode()&0o111 == 0 {
		return ""
	}
	return dst
}

// NoRunnerError reports that odu has no binary for a host's platform.
type NoRunnerError struct {
	Platform platform.Platform
	Why      string
	How      string
}

func (e *NoRunnerError) Error() string {
	return fmt.Sprintf("no odu runner for %s: %s", e.Platform, e.Why)
}

// Hint says how to provide one.
func (e *NoRunnerError) Hint() string { return e.How }

// sourceRoot returns the root of the odu module this binary was built
// from, if it is still where it was built (a build with -trimpath does
// not know).
func sourceRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return ""
	}
	root := filepath.Dir(filepath.Dir(filepath.Dir(file))) // .../lanes/provision/binary.go
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil || !bytes.Contains(data, []byte("module github.com/odu-ci/odu\n")) {
		return ""
	}
	return root
}

// patch is a working tree's uncommitted changes, for a remote lane of a
// --no-snapshot run: a tar of the diff against HEAD (.odu-patch.diff) and
// of the untracked files that are not ignored.
type patch struct {
	tar []byte
	id  string // a hash of it, naming the host's workspace
}

// dirtyPatch returns the changes of a --no-snapshot run's tree, or nil
// when the run tests a commit as it is.
func dirtyPatch(ctx context.Context, o *Run) (*patch, error) {
	if o.Snapshot || !o.Dirty {
		return nil, nil
	}
	git := func(args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", o.Root}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("git %s: %w: %s", args[0], err, stderr.String())
		}
		return out, nil
	}
	diff, err := git("diff", "--binary", "HEAD")
	if err != nil {
		return nil, err
	}
	untracked, err := git("ls-files", "--others", "--exclude-standard", "-z")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, data []byte, mode int64) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := add(".odu-patch.diff", diff, 0o644); err != nil {
		return nil, err
	}
	for _, name := range strings.Split(string(untracked), "\x00") {
		if name == "" || strings.HasPrefix(name, runstate.StateDir+"/") {
			continue
		}
		full := filepath.Join(o.Root, name)
		fi, err := os.Lstat(full)
		if err != nil || !fi.Mode().IsRegular() {
			continue // a symlink or a file gone since: git status said so, tar skips it
		}
		data, err := os.ReadFile(full)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		if err := add(name, data, int64(fi.Mode().Perm())); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(buf.Bytes())
	return &patch{tar: buf.Bytes(), id: hex.EncodeToString(sum[:6])}, nil
}
