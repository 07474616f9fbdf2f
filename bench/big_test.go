package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odu-ci/odu/internal/odutest"
	"github.com/odu-ci/odu/surface"
)

// bigModules is how many modules of 100 recipes BenchmarkBigRun runs: 20
// (2,000 nodes), or $ODU_BENCH_BIG_MODULES for CI's smoke pass (.ci/run),
// which checks that it runs, not what it measures.
func bigModules() int {
	if n, err := strconv.Atoi(os.Getenv("ODU_BENCH_BIG_MODULES")); err == nil && n > 0 {
		return n
	}
	return 20
}

// shellLayers returns a script that runs the nodes of dir's pipeline (as
// `odu dump` gives them) layer by layer, a node's layer being one more
// than its deepest dependency's, each layer's `just --no-deps` calls at
// most jobs at once; and how many nodes there are.
func shellLayers(tb testing.TB, dir string, jobs int) (script string, nodes int) {
	tb.Helper()
	bin, _ := odutest.BinDir()
	cmd := exec.Command(filepath.Join(bin, "odu"), "dump")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("odu dump: %v", err)
	}
	var dump struct {
		Nodes []struct {
			ID      string   `json:"id"`
			Command []string `json:"command"`
			Deps    []string `json:"deps"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal(out, &dump); err != nil {
		tb.Fatal(err)
	}
	deps := map[string][]string{}
	recipe := map[string]string{}
	for _, n := range dump.Nodes {
		if len(n.Command) != 3 || n.Command[0] != "just" || n.Command[1] != "--no-deps" {
			tb.Fatalf("node %s runs %q, not `just --no-deps RECIPE`", n.ID, n.Command)
		}
		deps[n.ID], recipe[n.ID] = n.Deps, n.Command[2]
	}
	layer := map[string]int{}
	var depth func(id string) int
	depth = func(id string) int {
		if l, ok := layer[id]; ok {
			return l
		}
		l := 0
		for _, d := range deps[id] {
			l = max(l, depth(d)+1)
		}
		layer[id] = l
		return l
	}
	var layers [][]string
	for _, n := range dump.Nodes {
		l := depth(n.ID)
		for len(layers) <= l {
			layers = append(layers, nil)
		}
		layers[l] = append(layers[l], recipe[n.ID])
	}
	var s strings.Builder
	for _, names := range layers {
		fmt.Fprintf(&s, "printf '%%s\\n' %s | xargs -P %d -n 1 just --no-deps > /dev/null 2>&1 || exit 1\n", strings.Join(names, " "), jobs)
	}
	return s.String(), len(dump.Nodes)
}

// runCPU runs a command to completion and returns its wall time and the
// CPU time of it and its descendants (its rusage, which counts every
// process it waited for).
func runCPU(tb testing.TB, dir string, argv ...string) (time.Duration, time.Duration) {
	tb.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		tb.Fatalf("%v: %v\n%s", argv, err, stderr.String())
	}
	return time.Since(start), cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

// procTimes is a process's own CPU time and that of its children it
// waited for, in clock ticks (1/100 s), from /proc/PID/stat; ok is false
// once the process is gone.
func procTimes(pid int) (own, children int64, ok bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	i := bytes.LastIndexByte(data, ')')
	if err != nil || i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 15 {
		return 0, 0, false
	}
	var t [4]int64
	for k := range t {
		t[k], _ = strconv.ParseInt(f[11+k], 10, 64) // fields 14-17: utime, stime, cutime, cstime
	}
	return t[0] + t[1], t[2] + t[3], true
}

// bigRun is what one `odu run` of the big pipeline took.
type bigRun struct {
	wall              time.Duration
	coordCPU          float64 // s: the coordinator's own
	runnerCPU         float64 // s: the runner's own
	nodesCPU          float64 // s: the nodes' processes (just and its shells), as the runner waited for them
	totalCPU          float64 // s: all of it, the coordinator's rusage
	coordKB, runnerKB int64   // peak RSS
}

// oduBigRun runs `odu run --jobs jobs` in dir, checks that nodes nodes
// succeeded, and samples the CPU time and peak RSS of the coordinator
// and its runner every 20 ms while they live: the last sample before a
// process exits is at most 20 ms short of its total. probe, when not
// nil, is started once a tenth of the nodes succeeded, while the run
// lives (its progress still read); a probed run is not one to time.
func oduBigRun(tb testing.TB, dir string, jobs, nodes int, probe func() error) bigRun {
	tb.Helper()
	bin, _ := odutest.BinDir()
	cmd := exec.Command(filepath.Join(bin, "odu"), "run", "--jobs", strconv.Itoa(jobs), "--progress", "json")
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	pid := cmd.Process.Pid
	var r bigRun
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		runner := 0
		for {
			own, _, ok := procTimes(pid)
			if !ok {
				return
			}
			r.coordCPU = max(r.coordCPU, float64(own)/100)
			r.coordKB = max(r.coordKB, vmHWM(pid))
			if runner == 0 {
				for _, c := range children(pid) {
					if cmdline(c) == "runner" {
						runner = c
					}
				}
			}
			if runner != 0 {
				if own, kids, ok := procTimes(runner); ok {
					r.runnerCPU = max(r.runnerCPU, float64(own)/100)
					r.nodesCPU = max(r.nodesCPU, float64(kids)/100)
					r.runnerKB = max(r.runnerKB, vmHWM(runner))
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	probed := make(chan error, 1)
	if probe == nil {
		probed <- nil
	}
	succeeded := map[string]bool{}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var t struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}
		if json.Unmarshal(sc.Bytes(), &t) != nil || t.Status != "success" {
			continue
		}
		succeeded[t.ID] = true
		if probe != nil && len(succeeded) == nodes/10 {
			go func() { probed <- probe() }()
		}
	}
	if err := cmd.Wait(); err != nil {
		tb.Fatalf("odu run: %v\n%s", err, stderr.String())
	}
	select {
	case err := <-probed:
		if err != nil {
			tb.Fatal(err)
		}
	case <-time.After(time.Minute):
		tb.Fatal("the probe of the run never ended")
	}
	r.wall = time.Since(start)
	<-sampled
	r.totalCPU = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	if len(succeeded) != nodes {
		tb.Fatalf("odu run: %d nodes succeeded, not %d\n%s", len(succeeded), nodes, stderr.String())
	}
	return r
}

// frameCounter is a face's connection that notes where the frames it
// reads end: the second is the first after hello's answer.
type frameCounter struct {
	net.Conn
	mu   sync.Mutex
	n    int64
	ends []int64
}

func (f *frameCounter) Read(p []byte) (int, error) {
	n, err := f.Conn.Read(p)
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, c := range p[:n] {
		if c == '\n' && len(f.ends) < 2 {
			f.ends = append(f.ends, f.n+int64(i)+1)
		}
	}
	f.n += int64(n)
	return n, err
}

// attachFace connects to the run's socket as a face does and subscribes
// to the cell; it returns the time from connecting to the first
// snapshot decoded, and that snapshot's frame's size in bytes.
func attachFace(dir, version string, nodes int) (time.Duration, int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", filepath.Join(dir, ".ci", "odu.sock"))
	if err != nil {
		return 0, 0, err
	}
	fc := &frameCounter{Conn: nc}
	cl, err := surface.NewClient(ctx, fc, "bench", version)
	if err != nil {
		return 0, 0, err
	}
	defer cl.Close()
	w, err := cl.Watch()
	if err != nil {
		return 0, 0, err
	}
	defer w.Close()
	ev, err := w.Next(ctx)
	if err != nil {
		return 0, 0, err
	}
	took := time.Since(start)
	if ev.Snapshot == nil || len(ev.Snapshot.Nodes) != nodes {
		return 0, 0, fmt.Errorf("the first event is not a snapshot of %d nodes: %+v", nodes, ev)
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return took, fc.ends[1] - fc.ends[0], nil
}

// BenchmarkBigRun runs the pipeline of BenchmarkDump (odutest.BigJustfile:
// 20 modules of 100 recipes, 2,001 nodes, each an `echo`) with `odu run
// --jobs <cores>` on the local lane, against a shell that runs the same
// `just --no-deps` calls layer by layer, each layer through `xargs -P
// <cores>`, alternating the two after a warm-up run. The warm-up is also
// probed, once a tenth of its nodes succeeded: the size of `odu status
// -o json`, and five faces attaching to the socket, each timed from
// connecting to its first snapshot decoded. It reports the medians: wall
// times and their ratio, CPU seconds of the coordinator, the runner, the
// nodes' processes and all of odu's run against the shell's, and the
// peak RSS of the coordinator and the runner.
//
//	go test ./bench -run '^$' -bench BigRun -benchtime 3x -timeout 0
func BenchmarkBigRun(b *testing.B) {
	dir := bigRepo(b, bigModules(), 100)
	bin, err := odutest.BinDir()
	if err != nil {
		b.Fatal(err)
	}
	b.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	jobs := runtime.NumCPU()
	script, nodes := shellLayers(b, dir, jobs)

	version, err := odutest.Version()
	if err != nil {
		b.Fatal(err)
	}
	var statusBytes int
	var attach []time.Duration
	var snapBytes int64
	oduBigRun(b, dir, jobs, nodes, func() error {
		st := exec.Command(filepath.Join(bin, "odu"), "status", "-o", "json")
		st.Dir = dir
		out, err := st.Output()
		if err != nil {
			return fmt.Errorf("odu status -o json: %w", err)
		}
		statusBytes = len(out)
		for range 5 {
			t, n, err := attachFace(dir, version, nodes)
			if err != nil {
				return fmt.Errorf("attach a face: %w", err)
			}
			attach, snapBytes = append(attach, t), n
		}
		return nil
	})

	var odu []bigRun
	var shell, shellCPU []time.Duration
	b.ResetTimer()
	for b.Loop() {
		w, c := runCPU(b, dir, "sh", "-c", script)
		shell, shellCPU = append(shell, w), append(shellCPU, c)
		odu = append(odu, oduBigRun(b, dir, jobs, nodes, nil))
	}
	b.StopTimer()
	pick := func(f func(bigRun) float64) float64 {
		v := make([]float64, len(odu))
		for i, r := range odu {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	o := pick(func(r bigRun) float64 { return r.wall.Seconds() })
	s := median(shell).Seconds()
	slices.Sort(attach)
	b.ReportMetric(float64(nodes), "nodes")
	b.ReportMetric(o, "odu-s")
	b.ReportMetric(s, "shell-s")
	b.ReportMetric(o/s, "ratio")
	b.ReportMetric(pick(func(r bigRun) float64 { return r.coordCPU }), "coord-cpu-s")
	b.ReportMetric(pick(func(r bigRun) float64 { return r.runnerCPU }), "runner-cpu-s")
	b.ReportMetric(pick(func(r bigRun) float64 { return r.nodesCPU }), "nodes-cpu-s")
	b.ReportMetric(pick(func(r bigRun) float64 { return r.totalCPU }), "odu-total-cpu-s")
	b.ReportMetric(median(shellCPU).Seconds(), "shell-cpu-s")
	b.ReportMetric(pick(func(r bigRun) float64 { return float64(r.coordKB) / 1024 }), "coord-MB")
	b.ReportMetric(pick(func(r bigRun) float64 { return float64(r.runnerKB) / 1024 }), "runner-MB")
	b.ReportMetric(float64(statusBytes)/1000, "status-KB")
	b.ReportMetric(float64(snapBytes)/1000, "snapshot-KB")
	b.ReportMetric(float64(attach[len(attach)/2].Microseconds())/1000, "attach-p50-ms")
	b.ReportMetric(float64(attach[len(attach)-1].Microseconds())/1000, "attach-max-ms")
}
