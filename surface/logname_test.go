package surface_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odu-ci/odu/surface"
)

func TestLogNameBounded(t *testing.T) {
	long := strings.Repeat("a", 300)
	for _, tc := range []struct{ name, want string }{
		{"build", "build.log"},
		{"build(x/y)", "build(x%2Fy).log"},
	} {
		if got := surface.LogName(tc.name); got != tc.want {
			t.Errorf("LogName(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	a, b := surface.LogName("build("+long+"x)"), surface.LogName("build("+long+"y)")
	for _, n := range []string{a, b, surface.LogName(strings.Repeat("/", 300)), surface.LogName(strings.Repeat("é", 300))} {
		if len(n) > 255 || !strings.HasSuffix(n, ".log") {
			t.Errorf("LogName of a long name = %q (%d bytes), want at most 255 bytes ending in .log", n, len(n))
		}
		if strings.HasSuffix(strings.TrimSuffix(n, ".log"), "%") || !strings.Contains(n, "~") {
			t.Errorf("LogName of a long name = %q: cut inside an escape, or no hash", n)
		}
	}
	if a == b {
		t.Errorf("two long names that differ at their end share a log: %q", a)
	}
}

// A store of many nodes holds no file descriptor per node: a log's file
// is open only while it is written.
func TestLogsHoldNoDescriptorWhenIdle(t *testing.T) {
	dir := t.TempDir()
	count := func() int {
		entries, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc/self/fd here")
		}
		return len(entries)
	}
	const n = 1000
	var nodes []surface.Node
	for i := range n {
		name := "n" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + strings.Repeat("0", i/26)
		nodes = append(nodes, surface.Node{ID: name + "@p", Name: name, Status: surface.Pending, Attempt: 1})
	}
	before := count()
	st, err := surface.NewStore(surface.Run{}, nodes, func(nd surface.Node) (*surface.Log, error) {
		return surface.OpenLog(filepath.Join(dir, surface.LogName(nd.Name)))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.CloseLogs()
	if got := count() - before; got > 10 {
		t.Fatalf("a store of %d pending nodes holds %d more descriptors, want none per node", n, got)
	}
	l := st.Log(nodes[0].ID)
	if _, err := l.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	l.Finish()
	if got := count() - before; got > 10 {
		t.Fatalf("after a log finished: %d more descriptors", got)
	}
	buf := make([]byte, 16)
	if k, err := l.ReadAt(buf, 1, 0); err != nil || string(buf[:k]) != "hello\n" {
		t.Errorf("ReadAt of a finished log = %q, %v; want hello", buf[:k], err)
	}
}
