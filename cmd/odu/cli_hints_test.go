package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/odu-ci/odu/dag"
	"github.com/odu-ci/odu/internal/hint"
	"github.com/odu-ci/odu/surface"
)

// TestPickOtherPlatform: naming a node of a platform the live run has no
// lane for says what the run has, and does not suggest --platform, which
// rerun, cancel and logs do not take.
func TestPickOtherPlatform(t *testing.T) {
	var st surface.State
	st.Run.Root = "ci"
	st.Run.Platforms = []string{"x86_64-linux"}
	st.Nodes = []surface.Node{{ID: "ok@x86_64-linux", Name: "ok", Recipe: "ok", Platform: "x86_64-linux"}}

	_, err := pick(st, "ok@aarch64-linux")
	if err == nil {
		t.Fatal("pick(ok@aarch64-linux) = nil error, want one")
	}
	var h hint.Hinter
	hint := ""
	if se := (*dag.SelectorError)(nil); errors.As(err, &se) {
		h = se
		hint = h.Hint()
	}
	if want := "ok@aarch64-linux: the run has no lane for aarch64-linux (it runs x86_64-linux)"; err.Error() != want {
		t.Errorf("pick(ok@aarch64-linux) = %q, want %q", err, want)
	}
	if strings.Contains(hint, "--platform") || !strings.Contains(hint, "odu status") {
		t.Errorf("hint = %q, want one that names `odu status` and not --platform", hint)
	}

	if n, err := pick(st, "ok@x86_64-linux"); err != nil || n.ID != "ok@x86_64-linux" {
		t.Errorf("pick(ok@x86_64-linux) = %v, %v; want the node", n.ID, err)
	}
}
