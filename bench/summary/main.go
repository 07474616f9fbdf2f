// Command summary turns the output of odu's benchmarks (`go test -bench`
// in ./bench and ./web) into BENCHMARKS.md's summary table: one row per
// figure, the figure of the run before beside this run's, each a ratio
// against a baseline measured in the same run where there is one.
//
//	go run ./bench/summary [-previous OLD] [-update BENCHMARKS.md] NEW
//
// It reads the Go benchmark format with golang.org/x/perf/benchfmt (the
// parser benchstat uses); a benchmark run several times (-count) gives
// the median of each figure. `just bench` runs the benchmarks and this.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"golang.org/x/perf/benchfmt"
)

// results are one run's figures: benchmark base name → unit → values.
type results struct {
	date string
	by   map[string]map[string][]float64
}

// get is the median of a benchmark's figure, and whether it was measured.
func (r *results) get(bench, unit string) (float64, bool) {
	if r == nil {
		return 0, false
	}
	vs := r.by[bench][unit]
	if len(vs) == 0 {
		return 0, false
	}
	vs = slices.Sorted(slices.Values(vs))
	if n := len(vs); n%2 == 0 {
		return (vs[n/2-1] + vs[n/2]) / 2, true
	}
	return vs[len(vs)/2], true
}

func read(path string) (*results, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parse(f, path)
}

func parse(r io.Reader, name string) (*results, error) {
	out := &results{by: map[string]map[string][]float64{}}
	br := benchfmt.NewReader(r, name)
	for br.Scan() {
		res, ok := br.Result().(*benchfmt.Result)
		if !ok {
			continue // a syntax error or unit metadata: not a figure
		}
		if d := res.GetConfig("date"); d != "" {
			out.date = d
		}
		base := "Benchmark" + strings.TrimPrefix(string(res.Name.Base()), "Benchmark")
		m := out.by[base]
		if m == nil {
			m = map[string][]float64{}
			out.by[base] = m
		}
		for _, v := range res.Values {
			// The reader tidies units ("odu-MB/s" → "odu-B/s", × 1e6):
			// the table reads them as the benchmarks wrote them.
			unit, value := v.Unit, v.Value
			if v.OrigUnit != "" {
				unit, value = v.OrigUnit, v.OrigValue
			}
			m[unit] = append(m[unit], value)
		}
	}
	return out, br.Err()
}

// row is one line of the table: what is measured, against what, how its
// figure reads from a run's results, and the target.
type row struct {
	what, baseline string
	cell           func(r *results) string
	target         string
}

// f formats the named figures of one benchmark with format, or "—" when
// the run did not measure one of them.
func f(bench, format string, units ...string) func(r *results) string {
	return func(r *results) string {
		args := make([]any, len(units))
		for i, u := range units {
			v, ok := r.get(bench, u)
			if !ok {
				return "—"
			}
			args[i] = v
		}
		return fmt.Sprintf(format, args...)
	}
}

var rows = []row{
	{"`odu dump`, 2,000 recipes", "`just --dump`",
		f("BenchmarkDump", "%.2f (%.0f vs %.0f ms)", "ratio", "odu-ms", "just-ms"), "≤ 1.15"},
	{"100 trivial nodes, `--jobs 1`", "100 `just --no-deps` in a shell loop",
		f("BenchmarkPerNode", "%.2f (%.2f vs %.2f s)", "ratio", "odu-s", "loop-s"), "≤ 1.1"},
	{"critical path, 100-node DAG of `sleep 0.2`", "the DAG run by a shell, layer by layer",
		f("BenchmarkCriticalPath", "%.2f", "ratio-to-layers"), "≤ 1.03"},
	{"log streaming, 1 GiB, local lane (throughput)", "`cat src > dst`",
		f("BenchmarkLogStream", "%.2f (%.0f vs %.0f MB/s)", "shared/cat", "shared-MB/s", "cat-MB/s"), "≥ 0.7"},
	{"coordinator peak RSS, local lane, 1 MiB vs 1 GiB of log", "",
		f("BenchmarkLogStream", "%.1f vs %.1f MB", "coord-MB-1MiB", "coord-MB-1GiB"), "flat"},
	{"first node running, warm SSH lane (loopback)", "OpenSSH `ssh host true`",
		f("BenchmarkSSHFirstNode", "%.2f (%.0f vs %.0f ms)", "warm/ssh-true", "warm-ms", "ssh-true-ms"), "≤ 300 ms"},
	{"log streaming, 1 GiB through an SSH lane (throughput)", "OpenSSH `ssh host cat data > file`",
		f("BenchmarkSSHLogStream", "%.2f (%.0f vs %.0f MB/s)", "ratio", "odu-MB/s", "ssh-MB/s"), "≥ 0.8"},
	{"coordinator peak RSS, SSH lane, 1 MiB vs 1 GiB of log", "",
		f("BenchmarkSSHLogStream", "%.1f vs %.1f MB", "coord-MB-1MiB", "coord-MB-1GiB"), "flat within 5 MB"},
	{"4 SSH lanes at once, each logging at full speed (throughput)", "4 OpenSSH `ssh host cat data > file` at once",
		f("BenchmarkManyLanes", "%.2f (%.0f vs %.0f MB/s)", "ratio", "odu-MB/s", "ssh-MB/s"), "measured"},
	{"cold SSH lane for odu's own repository: `odu run` → node running", "`git bundle` + `scp` of it and odu + `git clone` on the host",
		f("BenchmarkColdSSHLane", "%.2f (%.0f vs %.0f ms)", "cold/bundle+odu-clone-time", "odu-cold-ms", "bundle+odu-scp-clone-ms"), "measured"},
	{"the same: bytes sent to the host", "the bundle and odu, by `scp`",
		f("BenchmarkColdSSHLane", "%.3f (%.1f vs %.1f MB)", "cold/bundle+odu-bytes", "odu-cold-MB", "bundle+odu-scp-MB"), "measured"},
	{"2,001 trivial nodes, `--jobs` = cores", "the same `just --no-deps` calls by a shell, layer by layer, as parallel",
		f("BenchmarkBigRun", "%.2f (%.0f vs %.0f s)", "ratio", "odu-s", "shell-s"), "≤ 1.1"},
	{"the same: coordinator / runner CPU, peak RSS", "",
		f("BenchmarkBigRun", "%.1f / %.1f CPU-s, %.0f / %.0f MB", "coord-cpu-s", "runner-cpu-s", "coord-MB", "runner-MB"), "measured"},
	{"the same: `status -o json`, first snapshot; a face attaching, p50 / max", "",
		f("BenchmarkBigRun", "%.0f KB, %.0f KB; %.0f / %.0f ms", "status-KB", "snapshot-KB", "attach-p50-ms", "attach-max-ms"), "attach ≤ 150 ms"},
	{"a node logging at full speed with 50 `monitor -o json` and 10 `logs -f`: the node's time", "the same run, no face",
		f("BenchmarkManyFaces", "%.2f (%.2f vs %.2f s)", "node-ratio", "faces-node-s", "alone-node-s"), "≤ 1.05"},
	{"the same: faces dropped; `odu run`'s time", "the same run, no face",
		f("BenchmarkManyFaces", "%.0f; %.2f", "dropped", "run-ratio"), "0"},
	{"slot freed → the queued lane's node running (loopback)", "a warm lane's `odu run` → node running",
		f("BenchmarkPoolSlotFreed", "%.2f (%.0f vs %.0f ms)", "freed/warm", "freed-to-running-ms", "warm-start-ms"), "≤ 1 s"},
	{"`odu hosts`, 8 hosts, one not answering", "its per-host `--timeout` (2 s)",
		f("BenchmarkPoolHosts", "%.3f (%.0f ms)", "wall/timeout", "hosts-ms"), "≤ 1 timeout"},
	{"4 × 2 s shards on 4 hosts", "the recipe unsharded, same pool",
		f("BenchmarkShards", "%.2f (%.0f vs %.0f ms)", "sharded/unsharded", "sharded-ms", "unsharded-ms"), "≤ 0.3 + provisioning"},
	{"`odu runs`, 1,000 recorded runs", "`odu status`, reading one record",
		f("BenchmarkRuns", "%.2f (%.0f vs %.0f ms)", "runs/status", "runs-ms", "status-ms"), "well under 100 ms"},
	{"dashboard attach to a live 200-node run, p50 / max", "",
		f("BenchmarkDashboardAttach", "%.0f / %.0f ms", "attach-p50-ms", "attach-max-ms"), "≤ 150 ms"},
	{"dashboard, 20 MB/s of log: key → frame, p50 / p99", "",
		f("BenchmarkDashboardFlood", "%.0f / %.0f ms", "key-p50-ms", "key-p99-ms"), "p99 ≤ 50 ms"},
	{"web page: first paint of a 200-node run", "",
		f("BenchmarkRunPagePaint", "%.0f ms", "ms/paint"), "≤ 300 ms"},
	{"web page following a fast log: furthest behind", "",
		f("BenchmarkFollowFastLog", "%.1f s", "s-behind-max"), "≤ 2 s"},
	{"run's wall time with the web page open", "the same run, no page",
		f("BenchmarkWallWithPage", "%.2f", "wall-ratio"), "≤ 1.05"},
}

func table(prev, cur *results) string {
	var b strings.Builder
	label := func(r *results, word string) string {
		if r == nil || r.date == "" {
			return word
		}
		return word + " (" + r.date + ")"
	}
	fmt.Fprintf(&b, "| benchmark | baseline (same run) | %s | %s | target |\n", label(prev, "previous"), label(cur, "now"))
	b.WriteString("| --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		p := "—"
		if prev != nil {
			p = r.cell(prev)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.what, r.baseline, p, r.cell(cur), r.target)
	}
	return b.String()
}

// The summary sits between these lines in BENCHMARKS.md.
const (
	begin = "<!-- summary: `just bench` writes this table -->\n"
	end   = "<!-- end of summary -->\n"
)

func update(path, tbl string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	i := bytes.Index(data, []byte(begin))
	j := bytes.Index(data, []byte(end))
	if i < 0 || j < i {
		return fmt.Errorf("%s has no summary to replace: it needs a line %q, then one %q", path, strings.TrimSpace(begin), strings.TrimSpace(end))
	}
	var out bytes.Buffer
	out.Write(data[:i+len(begin)])
	out.WriteString(tbl)
	out.Write(data[j:])
	return os.WriteFile(path, out.Bytes(), 0o644)
}

func main() {
	previous := flag.String("previous", "", "the benchmark output of the run before, for the previous column")
	target := flag.String("update", "", "write the table into this file's summary instead of printing it")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: summary [-previous OLD] [-update BENCHMARKS.md] NEW")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	cur, err := read(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "summary:", err)
		os.Exit(2)
	}
	var prev *results
	if *previous != "" {
		prev, err = read(*previous)
		if errors.Is(err, os.ErrNotExist) {
			prev = nil // a first run: nothing to set beside it
		} else if err != nil {
			fmt.Fprintln(os.Stderr, "summary:", err)
			os.Exit(2)
		}
	}
	tbl := table(prev, cur)
	if *target == "" {
		fmt.Print(tbl)
		return
	}
	if err := update(*target, tbl); err != nil {
		fmt.Fprintln(os.Stderr, "summary:", err)
		os.Exit(1)
	}
}
