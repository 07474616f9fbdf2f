package dag_test

import (
	"io"
	"os/exec"
	"testing"

	"github.com/odu-ci/odu/dag"
	"github.com/odu-ci/odu/internal/odutest"
	"github.com/odu-ci/odu/platform"
)

// bigDump returns the real `just --dump` of odutest.BigJustfile (2,000
// recipes in 20 modules).
func bigDump(b *testing.B) []byte {
	dir := b.TempDir()
	if err := odutest.BigJustfile(dir, 20, 100); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command("just", "--dump", "--dump-format", "json")
	cmd.Dir = dir
	data, err := cmd.Output()
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func BenchmarkDecodeDump(b *testing.B) {
	data := bigDump(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := dag.DecodeDump(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResolve(b *testing.B) {
	jf, err := dag.DecodeDump(bigDump(b))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := dag.Resolve(jf, dag.Options{Platforms: []platform.Platform{linux}}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteJSON(b *testing.B) {
	jf, err := dag.DecodeDump(bigDump(b))
	if err != nil {
		b.Fatal(err)
	}
	pl, err := dag.Resolve(jf, dag.Options{Platforms: []platform.Platform{linux}})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := pl.WriteJSON(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
