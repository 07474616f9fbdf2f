// Package odutest holds what odu's tests share: the real odu binary built
// once per test process, the real just (the fast static binary, not npm's
// node wrapper), and throwaway git repositories.
//
// Nothing here fakes a part of odu: tests run the binary a user runs,
// against the just and git a user has. What a test needs and cannot find
// is a test failure that names the setup step, never a skip.
package odutest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// ModuleRoot returns the root of odu's module, found from the working
// directory of the test (a package directory inside it).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if data, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && bytes.Contains(data, []byte("module github.com/odu-ci/odu\n")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no odu go.mod above %s", dir)
		}
	}
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// BinDir builds odu once per test process and returns a directory that
// holds `odu` and `just` (the fast one), to be put first on PATH. The
// binary is built with the race detector when the tests are, so races in
// the processes the tests start are caught too. The directory lives until
// [Cleanup].
func BinDir() (string, error) {
	buildOnce.Do(func() {
		binDir, buildErr = build()
		// A binary built with -race sleeps a second at exit by default;
		// the processes the tests start inherit this.
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	})
	return binDir, buildErr
}

// Version returns the version of the odu [BinDir] built, which a client
// of its surface must say at hello.
func Version() (string, error) {
	bin, err := BinDir()
	if err != nil {
		return "", err
	}
	out, err := exec.Command(filepath.Join(bin, "odu"), "--version").Output()
	if err != nil {
		return "", fmt.Errorf("odu --version: %w", err)
	}
	// "odu VERSION (commit …, go…, PLATFORM)"
	f := strings.Fields(string(out))
	if len(f) < 2 || f[0] != "odu" {
		return "", fmt.Errorf("odu --version said %q", out)
	}
	return f[1], nil
}

// Main is the TestMain of odu's packages: it runs the package's tests,
// removes what [BinDir] made, and, when they passed, fails the package if
// a goroutine is left running once its tests are done (a goroutine that
// outlives its test is one nobody stops; go.uber.org/goleak says where it
// was started).
func Main(m *testing.M) {
	code := m.Run()
	Cleanup()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: goroutines left running after the tests passed: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// Cleanup removes what [BinDir] made; call it from TestMain.
func Cleanup() {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}

func build() (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "odu-test-bin-")
	if err != nil {
		return "", err
	}
	args := []string{"build", "-o", filepath.Join(dir, "odu")}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/odu")
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("go build odu: %w\n%s", err, out)
	}
	just, err := FastJust()
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	if err := os.Symlink(just, filepath.Join(dir, "just")); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// FastJust returns the path of the static just binary. npm's rust-just
// installs /usr/bin/just as a node wrapper that costs ~0.5 s a call; the
// static binary inside the package costs ~5 ms. $ODU_TEST_JUST overrides.
func FastJust() (string, error) {
	if p := os.Getenv("ODU_TEST_JUST"); p != "" {
		return p, nil
	}
	if out, err := exec.Command("npm", "root", "-g").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "rust-just", "node_modules", "rust-just-linux-x64", "bin", "just")
		if isExecutable(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath("just"); err == nil && isELF(p) {
		return p, nil
	}
	return "", fmt.Errorf("no static just binary found: run `bash .ci/setup` (it installs the npm package rust-just)")
}

// setupCache is where .ci/setup puts what only the tests need.
func setupCache() (string, error) {
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "odu-test"), nil
}

// OldJust returns a just too old for odu (1.41.0, before [metadata]),
// which .ci/setup fetches.
func OldJust() (string, error) {
	cache, err := setupCache()
	if err != nil {
		return "", err
	}
	p := filepath.Join(cache, "just-1.41.0", "just")
	if !isExecutable(p) {
		return "", fmt.Errorf("%s is missing: run `bash .ci/setup`", p)
	}
	return p, nil
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

func isELF(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	magic := make([]byte, 4)
	_, err = f.Read(magic)
	return err == nil && string(magic) == "\x7fELF"
}

// GitEnv is the environment for git in tests: a fixed identity, and no
// system or global config that could change what git does.
func GitEnv(home string) []string {
	return []string{
		"HOME=" + home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=odu test",
		"GIT_AUTHOR_EMAIL=test@odu.invalid",
		"GIT_COMMITTER_NAME=odu test",
		"GIT_COMMITTER_EMAIL=test@odu.invalid",
		"GIT_AUTHOR_DATE=2026-01-01T00:00:00Z",
		"GIT_COMMITTER_DATE=2026-01-01T00:00:00Z",
	}
}

// BigJustfile writes a justfile with modules × perModule recipes into
// dir: in each module a chain where recipe i also waits for recipe i/2,
// and a CI root waiting for the last recipe of every module. It stands
// for a large real pipeline in benchmarks.
func BigJustfile(dir string, modules, perModule int) error {
	var root strings.Builder
	var last []string
	for m := range modules {
		name := fmt.Sprintf("m%02d", m)
		fmt.Fprintf(&root, "mod %s\n", name)
		var mod strings.Builder
		for i := range perModule {
			var deps []string
			if i > 0 {
				deps = append(deps, fmt.Sprintf("r%03d", i-1))
			}
			if i > 1 {
				deps = append(deps, fmt.Sprintf("r%03d", i/2))
			}
			fmt.Fprintf(&mod, "r%03d: %s\n    echo %s %d\n\n", i, strings.Join(deps, " "), name, i)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".just"), []byte(mod.String()), 0o644); err != nil {
			return err
		}
		last = append(last, fmt.Sprintf("%s::r%03d", name, perModule-1))
	}
	fmt.Fprintf(&root, "\n[metadata(\"ci\")]\nci: %s\n    echo done\n", strings.Join(last, " "))
	return os.WriteFile(filepath.Join(dir, "justfile"), []byte(root.String()), 0o644)
}

// MermaidDir returns the directory where .ci/setup installed the real
// Mermaid parser (testdata/mermaid).
func MermaidDir() (string, error) {
	cache, err := setupCache()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "mermaid")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "mermaid")); err != nil {
		return "", fmt.Errorf("mermaid is not installed in %s: run `bash .ci/setup`", dir)
	}
	return dir, nil
}

// BuildVersion builds odu into dir as a binary that says it is version:
// another odu, for the tests of what meets an odu of another version.
func BuildVersion(dir, version string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "odu")
	args := []string{"build", "-o", out, "-ldflags", "-X main.versionOverride=" + version}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "./cmd/odu")...)
	cmd.Dir = root
	if data, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build odu %s: %w\n%s", version, err, data)
	}
	return out, nil
}
