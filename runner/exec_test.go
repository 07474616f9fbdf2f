package runner_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odu-ci/odu/surface"
)

// Cancelling nodes keeps the last line just writes when its recipe is
// terminated: just exits without it when its child died of the same
// SIGTERM before just handled its own, which a signal to the whole group
// at once made happen about every other time. Eight nodes at once.
func TestCancelKeepsJustsLastLine(t *testing.T) {
	const n = 8
	var jf strings.Builder
	jf.WriteString("[metadata(\"ci\")]\nci:")
	for i := range n {
		fmt.Fprintf(&jf, " n%d", i)
	}
	jf.WriteString("\n\n")
	for i := range n {
		fmt.Fprintf(&jf, "n%d:\n    #!/bin/sh\n    echo started\n    touch started-n%d\n    sleep 300\n\n", i, i)
	}
	l := start(t, jf.String(), n)
	for i := range n {
		waitFile(t, filepath.Join(l.dir, fmt.Sprintf("started-n%d", i)))
	}
	if err := l.cl.CancelRun(tctx(t)); err != nil {
		t.Fatal(err)
	}
	st, _ := l.settle(t)
	for i := range n {
		name := fmt.Sprintf("n%d", i)
		if s := st.Node(id(name)).Status; s != surface.Cancelled {
			t.Errorf("%s = %s, want cancelled", name, s)
		}
		want := fmt.Sprintf("started\nerror: recipe `%s` was terminated by signal 15\n", name)
		if got, _ := l.log(t, id(name), 0); string(got) != want {
			t.Errorf("%s's log = %q, want %q", name, got, want)
		}
	}
}

// waitFile waits for a recipe to make a file.
func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s was not made within 20s", path)
}
