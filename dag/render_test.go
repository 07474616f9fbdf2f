package dag_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odu-ci/odu/dag"
	"github.com/odu-ci/odu/internal/odutest"
	"github.com/odu-ci/odu/platform"
)

// TestMermaidRenders parses odu's flowcharts of the test justfiles, on two
// platforms, with the real Mermaid parser; quoted arguments, `@` and `::`
// in ids are what could break them. A broken chart is parsed alongside to
// show that the parser does reject what it cannot render.
func TestMermaidRenders(t *testing.T) {
	mermaid, err := odutest.MermaidDir()
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join("..", "testdata", "mermaid", "check.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var files []string
	for _, fixture := range []string{"arguments", "modules", "attributes", "subsequents"} {
		pl, err := dag.Resolve(load(t, fixture), dag.Options{Platforms: []platform.Platform{linux, darwin}})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := pl.WriteMermaid(&b); err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, fixture+".mmd")
		if err := os.WriteFile(f, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	broken := filepath.Join(dir, "broken.mmd")
	if err := os.WriteFile(broken, []byte("flowchart LR\n  n0[\"a\"b\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command("node", append([]string{"--input-type=module", "-"}, append(files, broken)...)...)
	cmd.Dir = mermaid
	cmd.Stdin = bytes.NewReader(script)
	out, _ := cmd.CombinedOutput()
	for _, f := range files {
		if !strings.Contains(string(out), f+": flowchart") {
			t.Errorf("Mermaid did not parse %s:\n%s", filepath.Base(f), out)
		}
	}
	if !strings.Contains(string(out), broken+": Parse error") {
		t.Errorf("Mermaid parsed a broken chart; the check proves nothing:\n%s", out)
	}
}

// TestWriteJSON checks that dump's output is JSON that decodes back to the
// pipeline.
func TestWriteJSON(t *testing.T) {
	pl, err := dag.Resolve(load(t, "arguments"), dag.Options{Platforms: []platform.Platform{linux}})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := pl.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back dag.Pipeline
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatalf("dump output is not JSON: %v\n%s", err, b.String())
	}
	if back.Root != pl.Root || len(back.Nodes) != len(pl.Nodes) {
		t.Fatalf("dump output decodes to root %q with %d nodes, want %q with %d", back.Root, len(back.Nodes), pl.Root, len(pl.Nodes))
	}
	for i, n := range back.Nodes {
		want := pl.Nodes[i]
		if n.ID != want.ID || strings.Join(n.Command, " ") != strings.Join(want.Command, " ") || strings.Join(n.Deps, " ") != strings.Join(want.Deps, " ") {
			t.Errorf("node %d decodes to %+v, want %+v", i, n, want)
		}
	}
}
