package surface_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/odu-ci/odu/surface"
)

// A kept log never empties a file: a restart moves the attempt aside,
// whole (also one still being written), and the second name follows the
// newest attempt; a temporary name is never left beside it.
func TestLogKeptAttempts(t *testing.T) {
	dir := t.TempDir()
	path, link := filepath.Join(dir, "run", "test.log"), filepath.Join(dir, "test.log")
	l, err := surface.OpenLogKept(path, link)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	read := func(p string) string {
		t.Helper()
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	if _, err := l.Write([]byte("one\n")); err != nil {
		t.Fatal(err)
	}
	l.Finish()
	if got := read(link); got != "one\n" {
		t.Errorf("the second name holds %q, want the first attempt's", got)
	}
	if _, err := l.Restart(); err != nil {
		t.Fatal(err)
	}
	// The second attempt is restarted while it is written (its file open).
	if _, err := l.Write([]byte("two\n")); err != nil {
		t.Fatal(err)
	}
	if n, err := l.Restart(); err != nil || n != 3 {
		t.Fatalf("Restart = %d, %v; want attempt 3", n, err)
	}
	if _, err := l.Write([]byte("three\n")); err != nil {
		t.Fatal(err)
	}
	l.Finish()
	for p, want := range map[string]string{
		surface.AttemptPath(path, 1): "one\n", surface.AttemptPath(path, 2): "two\n",
		path: "three\n", link: "three\n",
	} {
		if got := read(p); got != want {
			t.Errorf("%s holds %q, want %q", p, got, want)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "run" && e.Name() != "test.log" {
			t.Errorf("%s was left beside the second name", e.Name())
		}
	}
	// Linking again what is linked already changes nothing, leaves nothing.
	if err := surface.LinkInPlace(path, link); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("LinkInPlace of a link in place left %d entries, want 2", len(entries))
	}
}
