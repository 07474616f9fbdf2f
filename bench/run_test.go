package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/odu-ci/odu/dag"
	"github.com/odu-ci/odu/internal/odutest"
	"github.com/odu-ci/odu/lanes"
	"github.com/odu-ci/odu/platform"
	"github.com/odu-ci/odu/surface"
)

// repoWith writes a justfile into a new git repository, and puts odu and
// the fast just first on PATH, for odu and for the baselines alike.
func repoWith(tb testing.TB, justfile string) string {
	tb.Helper()
	bin, err := odutest.BinDir()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "justfile"), []byte(justfile), 0o644); err != nil {
		tb.Fatal(err)
	}
	gitCommit(tb, dir)
	return dir
}

// oduRun runs `odu run` in dir with args and returns its wall time.
func oduRun(tb testing.TB, dir string, args ...string) time.Duration {
	tb.Helper()
	bin, err := odutest.BinDir()
	if err != nil {
		tb.Fatal(err)
	}
	return timeRun(tb, dir, append([]string{filepath.Join(bin, "odu"), "run", "--progress", "plain"}, args...)...)
}

// layered writes a DAG of layers × width recipes that sleep: each recipe
// waits for two of the layer before it, so the critical path is layers
// sleeps long. It also returns one chain through it, and a shell script
// that runs it layer by layer, each layer's recipes at once.
func layered(layers, width int, sleep string) (justfile string, chain []string, byLayer string) {
	var b strings.Builder
	var last []string
	for l := range layers {
		for w := range width {
			name := fmt.Sprintf("n%02d_%02d", l, w)
			var deps []string
			if l > 0 {
				deps = []string{fmt.Sprintf("n%02d_%02d", l-1, w), fmt.Sprintf("n%02d_%02d", l-1, (w+1)%width)}
			}
			fmt.Fprintf(&b, "%s: %s\n    @sleep %s\n\n", name, strings.Join(deps, " "), sleep)
			if l == layers-1 {
				last = append(last, name)
			}
			byLayer += "just --no-deps " + name + " & "
		}
		byLayer += "wait; "
		chain = append(chain, fmt.Sprintf("n%02d_00", l))
	}
	fmt.Fprintf(&b, "[metadata(\"ci\")]\nci: %s\n", strings.Join(last, " "))
	return b.String(), chain, byLayer
}

// BenchmarkCriticalPath runs a 100-node DAG (10 layers of 10 recipes of
// `sleep 0.2`, each waiting for two of the layer before) with slots for
// all, and compares the wall time with the critical path: 10 × 0.2 s in
// theory; one chain of 10 `just --no-deps` run in a row by a shell,
// which also pays just's start; and the whole DAG run by a shell layer by
// layer, each layer's 10 at once, which also pays for starting 10 at once.
//
//	go test ./bench -run '^$' -bench CriticalPath -benchtime 5x
func BenchmarkCriticalPath(b *testing.B) {
	justfile, chain, byLayer := layered(10, 10, "0.2")
	dir := repoWith(b, justfile)
	script := ""
	for _, r := range chain {
		script += "just --no-deps " + r + " && "
	}
	script += "true"
	oduRun(b, dir, "--jobs", "100") // warm the caches
	var odu, shell, layers []time.Duration
	b.ResetTimer()
	for b.Loop() {
		shell = append(shell, timeRun(b, dir, "sh", "-c", script))
		layers = append(layers, timeRun(b, dir, "sh", "-c", byLayer))
		odu = append(odu, oduRun(b, dir, "--jobs", "100"))
	}
	o, s, l := median(odu), median(shell), median(layers)
	b.ReportMetric(o.Seconds(), "odu-s")
	b.ReportMetric(s.Seconds(), "chain-s")
	b.ReportMetric(l.Seconds(), "layers-s")
	b.ReportMetric(o.Seconds()/2.0, "ratio-to-2s")
	b.ReportMetric(float64(o)/float64(s), "ratio-to-chain")
	b.ReportMetric(float64(o)/float64(l), "ratio-to-layers")
}

// BenchmarkPerNode runs 100 independent trivial recipes one at a time
// (--jobs 1) and compares with the same 100 `just --no-deps` in a shell
// loop.
//
//	go test ./bench -run '^$' -bench PerNode -benchtime 5x
func BenchmarkPerNode(b *testing.B) {
	var j strings.Builder
	var names []string
	for i := range 100 {
		fmt.Fprintf(&j, "r%03d:\n    @echo %d\n\n", i, i)
		names = append(names, fmt.Sprintf("r%03d", i))
	}
	fmt.Fprintf(&j, "[metadata(\"ci\")]\nci: %s\n", strings.Join(names, " "))
	dir := repoWith(b, j.String())
	script := "for r in " + strings.Join(names, " ") + "; do just --no-deps $r > /dev/null || exit 1; done"
	oduRun(b, dir, "--jobs", "1")
	var odu, shell []time.Duration
	b.ResetTimer()
	for b.Loop() {
		shell = append(shell, timeRun(b, dir, "sh", "-c", script))
		odu = append(odu, oduRun(b, dir, "--jobs", "1"))
	}
	o, s := median(odu), median(shell)
	b.ReportMetric(o.Seconds(), "odu-s")
	b.ReportMetric(s.Seconds(), "loop-s")
	b.ReportMetric(float64(o)/float64(s), "ratio")
}

// dataFile writes size bytes of data that no filesystem can skip: a
// random MiB, repeated.
func dataFile(b *testing.B, size int64) string {
	path := filepath.Join(b.TempDir(), "data")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range block {
		block[i] = byte(rng.Uint32())
	}
	for written := int64(0); written < size; written += int64(len(block)) {
		if _, err := f.Write(block[:min(int64(len(block)), size-written)]); err != nil {
			b.Fatal(err)
		}
	}
	return path
}

// progress runs `odu run --progress json` in dir, with env added to its
// environment, and times its first node's running and success as they
// arrive (the run must pass). It returns when the run ended after how
// long, and the peak RSS of the coordinator and of its runner.
type progress struct {
	started, running, success time.Time
	ended                     time.Duration
	peak                      [2]int64 // kB: coordinator, runner
}

func runProgress(b *testing.B, dir string, env ...string) progress {
	bin, _ := odutest.BinDir()
	cmd := exec.Command(filepath.Join(bin, "odu"), "run", "--progress", "json")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	p := progress{started: time.Now()}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	peaks := watchRSS(cmd.Process.Pid)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var t struct {
			Status string `json:"status"`
		}
		if json.Unmarshal(sc.Bytes(), &t) != nil {
			continue // not a transition
		}
		switch {
		case t.Status == "running" && p.running.IsZero():
			p.running = time.Now()
		case t.Status == "success":
			p.success = time.Now()
		}
	}
	if err := cmd.Wait(); err != nil {
		b.Fatalf("odu run: %v", err)
	}
	p.ended, p.peak = time.Since(p.started), <-peaks
	if p.running.IsZero() || p.success.IsZero() {
		b.Fatal("no running and success transitions")
	}
	return p
}

// logRun runs a pipeline whose one node cats the file data, and returns
// the node's time from running to success as a face sees it (the
// coordinator publishes success only once its log file is whole), and the
// peak RSS of the coordinator and of its runner.
func logRun(b *testing.B, data string) (node time.Duration, coordKB, runnerKB int64) {
	p := runProgress(b, repoWith(b, "[metadata(\"ci\")]\nci:\n    @cat "+data+"\n"))
	return p.success.Sub(p.running), p.peak[0], p.peak[1]
}

// watchRSS samples the peak RSS (VmHWM) of a process and of its child
// runner until the process exits; the peak only grows, so the last
// sample is the peak up to then.
func watchRSS(pid int) <-chan [2]int64 {
	res := make(chan [2]int64, 1)
	go func() {
		var peak [2]int64
		for {
			c := vmHWM(pid)
			if c < 0 {
				res <- peak
				return
			}
			peak[0] = max(peak[0], c)
			for _, child := range children(pid) {
				if cmdline(child) == "runner" {
					peak[1] = max(peak[1], vmHWM(child))
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return res
}

func vmHWM(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb
		}
	}
	return -1
}

// children lists a process's children: a Go program starts them from any
// of its threads, so every thread's list counts.
func children(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, t := range tasks {
		data, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(data)) {
			n, _ := strconv.Atoi(f)
			out = append(out, n)
		}
	}
	return out
}

func cmdline(pid int) string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	args := strings.Split(string(data), "\x00")
	if len(args) > 1 {
		return args[1]
	}
	return ""
}

// BenchmarkLogStream streams 1 GiB from a node into its log file and
// compares with `cat` of the same bytes into a file, on the two paths:
//
//   - shared, what `odu run` does on the local lane: the runner writes the
//     coordinator's log file, and tells it how far it grew;
//   - copied, what a remote lane does: the runner keeps its own log file
//     and streams its bytes to the coordinator, which writes its own.
//
// It also reports the peak RSS of the coordinator and the runner of
// `odu run` for 1 MiB and for 1 GiB of output.
//
//	go test ./bench -run '^$' -bench LogStream -benchtime 3x
func BenchmarkLogStream(b *testing.B) {
	gib := float64(streamBytes())
	src := dataFile(b, int64(gib))
	dst := filepath.Join(b.TempDir(), "dst")
	_, smallCoord, smallRunner := logRun(b, dataFile(b, 1<<20))
	var shared, copied, cat, piped []time.Duration
	var coord, runner int64
	b.ResetTimer()
	// Each 1 GiB written leaves dirty pages whose writeback throttles
	// whatever writes next: every contender starts after a sync.
	clean := func() { _ = exec.Command("sync").Run() } // fewer dirty pages to write meanwhile: best effort
	for b.Loop() {
		// GNU cat copies file to file in the kernel (copy_file_range);
		// through a pipe, the bytes go as a recipe's output goes.
		clean()
		cat = append(cat, timeRun(b, "/", "sh", "-c", "cat "+src+" > "+dst))
		os.Remove(dst)
		clean()
		piped = append(piped, timeRun(b, "/", "sh", "-c", "cat "+src+" | cat > "+dst))
		os.Remove(dst)
		clean()
		d, c, r := logRun(b, src)
		shared = append(shared, d)
		coord, runner = max(coord, c), max(runner, r)
		clean()
		copied = append(copied, copiedRun(b, src))
	}
	s, cp, c, p := median(shared), median(copied), median(cat), median(piped)
	b.ReportMetric(gib/c.Seconds()/1e6, "cat-MB/s")
	b.ReportMetric(gib/p.Seconds()/1e6, "cat|cat-MB/s")
	b.ReportMetric(gib/s.Seconds()/1e6, "shared-MB/s")
	b.ReportMetric(float64(c)/float64(s), "shared/cat")
	b.ReportMetric(float64(p)/float64(s), "shared/cat|cat")
	b.ReportMetric(gib/cp.Seconds()/1e6, "copied-MB/s")
	b.ReportMetric(float64(c)/float64(cp), "copied/cat")
	b.ReportMetric(float64(p)/float64(cp), "copied/cat|cat")
	b.ReportMetric(float64(smallCoord)/1024, "coord-MB-1MiB")
	b.ReportMetric(float64(coord)/1024, "coord-MB-1GiB")
	b.ReportMetric(float64(smallRunner)/1024, "runner-MB-1MiB")
	b.ReportMetric(float64(runner)/1024, "runner-MB-1GiB")
}

// streamBytes is how much the log streaming benchmarks stream: 1 GiB, or
// $ODU_BENCH_STREAM_MIB MiB for CI's smoke pass (.ci/run), which checks
// that they run, not what they measure; their metrics keep their names.
func streamBytes() int64 {
	if n, err := strconv.Atoi(os.Getenv("ODU_BENCH_STREAM_MIB")); err == nil && n > 0 {
		return int64(n) << 20
	}
	return 1 << 30
}

// copiedRun runs a node that cats src through a coordinator that copies
// the log's bytes over the surface, and returns the node's time from
// running to success as published (once the coordinator's copy is whole).
func copiedRun(b *testing.B, src string) time.Duration {
	dir := repoWith(b, "[metadata(\"ci\")]\nci:\n    @cat "+src+"\n")
	_, jf, err := dag.Load(context.Background(), dir, "")
	if err != nil {
		b.Fatal(err)
	}
	pl, err := dag.Resolve(jf, dag.Options{Platforms: []platform.Platform{platform.Local()}})
	if err != nil {
		b.Fatal(err)
	}
	bin, _ := odutest.BinDir()
	version, err := odutest.Version()
	if err != nil {
		b.Fatal(err)
	}
	c, err := lanes.Start(context.Background(), lanes.Options{
		Root: dir, Pipeline: pl, SHA: strings.Repeat("0", 40), Workspace: dir, WorkDir: b.TempDir(),
		Grace: time.Second, Exe: filepath.Join(bin, "odu"), Version: version, Env: os.Environ(), CopyLogs: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	var running, success time.Time
	var seq uint64
	for success.IsZero() {
		deltas, _, wait, _ := c.Store().Since(seq)
		for _, d := range deltas {
			seq = d.Seq
			if d.Node == nil {
				continue
			}
			switch d.Node.Status {
			case surface.Running:
				running = time.Now()
			case surface.Success:
				success = time.Now()
			case surface.Failure, surface.Errored:
				b.Fatalf("node %s: %s", d.Node.Status, d.Node.Reason)
			}
		}
		if len(deltas) == 0 {
			<-wait
		}
	}
	if _, _, err := c.Finish(); err != nil {
		b.Fatal(err)
	}
	c.CloseLogs()
	return success.Sub(running)
}
