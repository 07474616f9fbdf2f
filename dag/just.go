package dag

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Just is a just binary that odu has checked.
type Just struct {
	Path    string // absolute path of the binary
	Version string // "1.57.0"
}

// FindJust finds just on PATH and checks that it is new enough.
func FindJust(ctx context.Context) (*Just, error) {
	path, err := lookJust()
	if err != nil {
		return nil, err
	}
	return checkJust(ctx, path)
}

func lookJust() (string, error) {
	path, err := exec.LookPath("just")
	if err != nil {
		return "", &JustNotFoundError{}
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return path, nil
}

func checkJust(ctx context.Context, path string) (*Just, error) {
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("run %s --version: %w", path, err)
	}
	// `just 1.57.0`
	fields := strings.Fields(string(out))
	if len(fields) < 2 || fields[0] != "just" {
		return nil, fmt.Errorf("%s --version printed %q, not `just VERSION`", path, truncate(string(out), 60))
	}
	j := &Just{Path: path, Version: fields[1]}
	if !versionAtLeast(j.Version, MinJustVersion) {
		return nil, &JustVersionError{Path: path, Have: j.Version}
	}
	return j, nil
}

// Load finds just and reads the justfile of the repository in dir, as
// [Just.Load] does. It checks just's version while the dump runs, since
// both take a process start and the dump is on every command's critical
// path; a just that is too old is reported before anything its dump says.
func Load(ctx context.Context, dir, justfile string) (*Just, *Justfile, error) {
	path, err := lookJust()
	if err != nil {
		return nil, nil, err
	}
	type checked struct {
		j   *Just
		err error
	}
	version := make(chan checked, 1)
	go func() {
		j, err := checkJust(ctx, path)
		version <- checked{j, err}
	}()
	jf, err := (&Just{Path: path}).Load(ctx, dir, justfile)
	v := <-version
	if v.err != nil {
		return nil, nil, v.err
	}
	if err != nil {
		return nil, nil, err
	}
	return v.j, jf, nil
}

// versionAtLeast compares dotted versions numerically; a pre-release
// suffix (1.42.0-rc1) counts as its release.
func versionAtLeast(have, want string) bool {
	h, w := versionParts(have), versionParts(want)
	for i := range w {
		if h[i] != w[i] {
			return h[i] > w[i]
		}
	}
	return true
}

func versionParts(v string) [3]int {
	var out [3]int
	for i, p := range strings.SplitN(v, ".", 3) {
		p, _, _ = strings.Cut(p, "-")
		n, _ := strconv.Atoi(p)
		out[i] = n
	}
	return out
}

// Load reads the justfile of the repository in dir: justfile is the
// --justfile the user gave (relative to dir), or "" to let just find it.
// Recipe sources come back relative to dir.
func (j *Just) Load(ctx context.Context, dir, justfile string) (*Justfile, error) {
	if justfile != "" {
		if _, err := os.Stat(filepath.Join(dir, justfile)); err != nil {
			return nil, &NoJustfileError{Dir: dir, Named: justfile}
		}
	} else if !hasJustfile(dir) {
		// just would search the parent directories; a repository's CI
		// must not pick up a justfile from outside it.
		return nil, &NoJustfileError{Dir: dir}
	}
	args := []string{"--color", "never"}
	if justfile != "" {
		args = append(args, "--justfile", justfile)
	}
	args = append(args, "--dump", "--dump-format", "json")
	// just writes its dump in 1 KiB pieces; into a file that costs
	// measurably less than through a pipe (5-10 ms for a 570 KB dump).
	out, err := os.CreateTemp("", "odu-dump-*.json")
	if err != nil {
		return nil, fmt.Errorf("create a file for just's dump: %w", err)
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd := exec.CommandContext(ctx, j.Path, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = out, &stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return nil, &JustError{Message: stderr.String()}
		}
		return nil, fmt.Errorf("run just --dump: %w", err)
	}
	data, err := os.ReadFile(out.Name())
	if err != nil {
		return nil, fmt.Errorf("read just's dump: %w", err)
	}
	jf, err := DecodeDump(data)
	if err != nil {
		return nil, err
	}
	jf.locateRecipes()
	jf.Source = relTo(dir, jf.Source)
	for _, r := range jf.Recipes {
		r.Source = relTo(dir, r.Source)
	}
	return jf, nil
}

// hasJustfile reports whether dir holds a file just would read:
// `justfile` in any case, or `.justfile`.
func hasJustfile(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		n := strings.ToLower(e.Name())
		if (n == "justfile" || n == ".justfile") && !e.IsDir() {
			return true
		}
	}
	return false
}

func relTo(dir, path string) string {
	if rel, err := filepath.Rel(dir, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}
