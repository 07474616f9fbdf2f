package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const prevOut = `date: 2026-11-22
goos: linux
pkg: github.com/odu-ci/odu/bench
BenchmarkDump-2   	      30	 163123456 ns/op	       163.1 odu-ms	       107.3 just-ms	         1.520 ratio
`

const curOut = `date: 2026-11-30
goos: linux
pkg: github.com/odu-ci/odu/bench
BenchmarkDump-2   	       5	 1 ns/op	       120.0 odu-ms	       110.0 just-ms	         1.090 ratio
BenchmarkDump-2   	       5	 1 ns/op	       130.0 odu-ms	       100.0 just-ms	         1.300 ratio
BenchmarkDump-2   	       5	 1 ns/op	       125.0 odu-ms	       105.0 just-ms	         1.190 ratio
pkg: github.com/odu-ci/odu/web
BenchmarkWallWithPage-2   	       5	 1 ns/op	         1.04 wall-ratio
pkg: github.com/odu-ci/odu/bench
BenchmarkSSHLogStream-2      	       5	9080414572 ns/op	        33.62 coord-MB-1GiB	        21.81 coord-MB-1MiB	       299.0 odu-MB/s	         1.035 ratio	       288.9 ssh-MB/s
`

func TestTable(t *testing.T) {
	prev, err := parse(strings.NewReader(prevOut), "prev")
	if err != nil {
		t.Fatal(err)
	}
	cur, err := parse(strings.NewReader(curOut), "cur")
	if err != nil {
		t.Fatal(err)
	}
	got := table(prev, cur)
	for _, want := range []string{
		"| benchmark | baseline (same run) | previous (2026-11-22) | now (2026-11-30) | target |\n",
		// The median of three runs, beside the run before.
		"| `odu dump`, 2,000 recipes | `just --dump` | 1.52 (163 vs 107 ms) | 1.19 (125 vs 105 ms) | ≤ 1.15 |\n",
		"| run's wall time with the web page open | the same run, no page | — | 1.04 | ≤ 1.05 |\n",
		// Units as the benchmark wrote them (MB, not benchfmt's tidied B).
		"| log streaming, 1 GiB through an SSH lane (throughput) | OpenSSH `ssh host cat data > file` | — | 1.03 (299 vs 289 MB/s) | ≥ 0.8 |\n",
		"| coordinator peak RSS, SSH lane, 1 MiB vs 1 GiB of log |  | — | 21.8 vs 33.6 MB | flat within 5 MB |\n",
		// Not measured by either run.
		"| 100 trivial nodes, `--jobs 1` | 100 `just --no-deps` in a shell loop | — | — | ≤ 1.1 |\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the table has no line\n%s\nit is:\n%s", want, got)
		}
	}
}

func TestUpdate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	doc := "# Benchmarks\n\nintro\n\n" + begin + "| old | table |\n" + end + "\n## Dump\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := update(path, "| new | table |\n"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "# Benchmarks\n\nintro\n\n" + begin + "| new | table |\n" + end + "\n## Dump\n"; string(data) != want {
		t.Errorf("after update:\n%s\nwant:\n%s", data, want)
	}
	if err := os.WriteFile(path, []byte("# no markers\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := update(path, "| new |\n"); err == nil || !strings.Contains(err.Error(), "no summary to replace") {
		t.Errorf("update of a file without the markers: %v, want it refused", err)
	}
}
