package runner_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/odu-ci/odu/internal/odutest"
	"github.com/odu-ci/odu/surface"
)

// testSecret has characters that JSON, URL and base64 encodings all
// change.
const testSecret = `Tk-9 p@ss/w+rd"q"`

// requireFiles fails unless dir holds a regular file: a look for the
// secret under it that found nothing to read checked nothing.
func requireFiles(t *testing.T, dir string) {
	t.Helper()
	found := false
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			found = true
			return filepath.SkipAll
		}
		return err
	})
	if err != nil || !found {
		t.Errorf("no file under %s (%v): nothing was checked for the secret", dir, err)
	}
}

// leakJustfile prints the secret of ODU_TEST_SECRET in every way the
// masker must catch: whole, split across two writes, base64 at each
// alignment in both alphabets, URL-encoded, JSON-escaped; and checks that
// no process's command line on this host holds it, while the runner runs.
const leakJustfile = `
[metadata("ci")]
leak:
    #!/bin/sh
    S="$ODU_TEST_SECRET"
    echo "length ${#S}"
    printf 'raw: %s\n' "$S"
    printf 'split: %s' "$(printf %s "$S" | cut -c1-7)"; sleep 0.2; printf '%s\n' "$(printf %s "$S" | cut -c8-)"
    for pre in '' x xy; do
        printf 'base64 %s: %s\n' "$pre" "$(printf '%s%s' "$pre" "$S" | base64 -w0)"
        printf 'base64url %s: %s\n' "$pre" "$(printf '%s%s!' "$pre" "$S" | base64 -w0 | tr '+/' '-_')"
    done
    printf 'query: ?t=%s&x\n' "$(printf %s "$S" | sed 's/%/%25/g; s/@/%40/g; s|/|%2F|g; s/+/%2B/g; s/"/%22/g; s/ /+/g')"
    printf 'path: /%s/\n' "$(printf %s "$S" | sed 's/%/%25/g; s/ /%20/g; s|/|%2F|g; s/"/%22/g')"
    printf 'json: {"t": "%s"}\n' "$(printf %s "$S" | sed 's/"/\\"/g')"
    for f in /proc/[0-9]*/cmdline; do
        c=$( (tr '\0' ' ' < "$f") 2>/dev/null) || continue
        case "$c" in *"$S"*) echo "LEAK: the command line of $f holds the secret";; esac
    done
    echo "command lines checked"
`

// noSecret fails when data holds the secret in any form.
func noSecret(t *testing.T, what string, data []byte, secret string) {
	t.Helper()
	for _, f := range odutest.SecretForms(secret) {
		if bytes.Contains(data, []byte(f)) {
			t.Errorf("%s holds the secret, as %q:\n%s", what, f, data)
			return
		}
	}
}

// noSecretInFiles fails when a file under dir holds the secret.
func noSecretInFiles(t *testing.T, dir, secret string) {
	t.Helper()
	// A file it cannot read could hold the secret: that fails too.
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		noSecret(t, p, data, secret)
		return nil
	})
	if err != nil {
		t.Fatalf("look for the secret in the files under %s: %v", dir, err)
	}
}

func withSecret(secret string) func(*surface.Config) {
	return func(cfg *surface.Config) {
		cfg.Env = append(cfg.Env, "ODU_TEST_SECRET="+secret)
		cfg.Secrets = []string{"ODU_TEST_SECRET"}
	}
}

// TestSecretMasked runs a recipe that prints a secret in many forms, and
// finds it nowhere: not in the log file, the log's stream, the frames
// the runner wrote, a process's command line, or a file of the workspace.
func TestSecretMasked(t *testing.T) {
	l := startWith(t, leakJustfile, 1, withSecret(testSecret))
	st, _ := l.settle(t)
	n := st.Node(id("leak"))
	if n.Status != surface.Success {
		t.Fatalf("leak ended %s (%s)", n.Status, n.Reason)
	}
	streamed, _ := l.log(t, id("leak"), 0)
	file, err := os.ReadFile(filepath.Join(l.logDir, "leak.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(streamed, file) {
		t.Errorf("the streamed log differs from the file:\n%s\n---\n%s", streamed, file)
	}
	noSecret(t, "the log", file, testSecret)
	l.rec.mu.Lock()
	frames := bytes.Clone(l.rec.b.Bytes())
	l.rec.mu.Unlock()
	noSecret(t, "the runner's frames", frames, testSecret)
	noSecretInFiles(t, l.dir, testSecret)
	noSecretInFiles(t, l.logDir, testSecret)
	requireFiles(t, l.dir)
	requireFiles(t, l.logDir)
	for _, want := range []string{
		"length 17\n", // the recipe had the value
		"raw: ***\n", "split: ***\n", "query: ?t=***&x\n", "path: /***/\n", `json: {"t": "***"}` + "\n",
		"command lines checked\n",
	} {
		if !bytes.Contains(file, []byte(want)) {
			t.Errorf("the log has no line %q:\n%s", want, file)
		}
	}
	if bytes.Contains(file, []byte("LEAK")) {
		t.Errorf("a command line held the secret:\n%s", file)
	}
	if c := bytes.Count(file, []byte("***")); c != 11 {
		t.Errorf("the log has %d masks, want one on each of 11 lines:\n%s", c, file)
	}
}

// TestLogDiskFull fills the disk the logs are on (a small tmpfs): the
// node is not green, its reason says the log was truncated, and the log
// ends with a line that says so; with and without secrets to mask (the
// copy and the splice paths).
func TestLogDiskFull(t *testing.T) {
	for _, masked := range []bool{false, true} {
		name := "splice"
		if masked {
			name = "masked"
		}
		t.Run(name, func(t *testing.T) {
			dir := smallDisk(t, "64k")
			tweak := func(cfg *surface.Config) {
				cfg.LogDir = dir
				if masked {
					withSecret(testSecret)(cfg)
				}
			}
			l := startWith(t, "[metadata(\"ci\")]\nbig:\n    @head -c 1000000 /dev/zero | tr '\\0' x\n    @echo all written\n", 1, tweak)
			st, _ := l.settle(t)
			n := st.Node(id("big"))
			if n.Status != surface.Errored || !strings.HasPrefix(n.Reason, "log truncated: ") || !strings.Contains(n.Reason, "no space left on device") {
				t.Errorf("big ended %s (%s), want error: log truncated: ... no space left on device", n.Status, n.Reason)
			}
			file, err := os.ReadFile(filepath.Join(dir, "big.log"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasSuffix(file, []byte("\n[odu] "+n.Reason+"\n")) {
				tail := file[max(0, len(file)-200):]
				t.Errorf("the log does not end with the truncation line; its end: %q", tail)
			}
			if int64(len(file)) != n.LogSize {
				t.Errorf("the log has %d bytes, the node says %d", len(file), n.LogSize)
			}
			streamed, end := l.log(t, id("big"), 0)
			if !bytes.Equal(streamed, file) || !end.Finished {
				t.Errorf("the log's stream: %d bytes, finished %v; the file %d bytes", len(streamed), end.Finished, len(file))
			}
		})
	}
}

// smallDisk mounts a tmpfs of size in a new directory, unmounted when the
// test ends (after the runner, which holds its files, is gone).
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		t.Fatalf("mount a %s tmpfs on %s (the test needs root): %v", size, dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
			_ = syscall.Unmount(dir, syscall.MNT_DETACH) // the error above is the news
		}
	})
	return dir
}
