package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/odu-ci/odu/internal/odutest"
)

// facesBytes is how much the node of BenchmarkManyFaces writes: 256 MiB,
// or $ODU_BENCH_STREAM_MIB MiB for CI's smoke pass.
func facesBytes() int64 {
	if n, err := strconv.Atoi(os.Getenv("ODU_BENCH_STREAM_MIB")); err == nil && n > 0 {
		return int64(n) << 20
	}
	return 256 << 20
}

// A face is an `odu monitor -o json` or an `odu logs -f` whose output the
// benchmark reads as fast as it comes, counting it.
type face struct {
	cmd    *exec.Cmd
	stderr strings.Builder
	ready  chan struct{} // closed at its first line (monitor), or once "ready\n" came (logs)
	done   chan struct{} // closed once its output ended and it exited

	mu       sync.Mutex
	n        int64     // bytes read
	endSeen  time.Time // monitor: when the root's success came
	eof      time.Time // when its output ended
	err      error     // how it exited
	sawEnd   bool      // monitor: it printed the root's success
	readyErr bool
}

func (f *face) count() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// startFace starts `odu args...` in dir; for a monitor, root is the id
// of the node whose success ends the run.
func startFace(b *testing.B, dir, root string, args ...string) *face {
	bin, _ := odutest.BinDir()
	f := &face{cmd: exec.Command(filepath.Join(bin, "odu"), args...), ready: make(chan struct{}), done: make(chan struct{})}
	f.cmd.Dir = dir
	f.cmd.Stderr = &f.stderr
	out, err := f.cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := f.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	monitor := args[0] == "monitor"
	go func() {
		defer close(f.done)
		var readyOnce sync.Once
		if monitor {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				now := time.Now()
				readyOnce.Do(func() { close(f.ready) })
				var t struct {
					ID     string `json:"id"`
					Status string `json:"status"`
				}
				_ = json.Unmarshal(sc.Bytes(), &t) // a line that is not a transition is not the end
				f.mu.Lock()
				f.n += int64(len(sc.Bytes())) + 1
				if t.ID == root && t.Status == "success" && !f.sawEnd {
					f.sawEnd, f.endSeen = true, now
				}
				f.mu.Unlock()
			}
		} else {
			buf := make([]byte, 256<<10)
			for {
				n, err := out.Read(buf)
				f.mu.Lock()
				f.n += int64(n)
				if f.n >= int64(len("ready\n")) {
					readyOnce.Do(func() { close(f.ready) })
				}
				f.mu.Unlock()
				if err != nil {
					break
				}
			}
		}
		now := time.Now()
		err := f.cmd.Wait()
		f.mu.Lock()
		f.eof, f.err = now, err
		f.mu.Unlock()
		readyOnce.Do(func() { f.readyErr = true; close(f.ready) })
	}()
	return f
}

// floodRun is an `odu run --progress json` whose node flood waits on a
// FIFO, then writes its data: the times of its transitions as they come.
type floodRun struct {
	cmd     *exec.Cmd
	stderr  strings.Builder
	running chan string    // the flood's log, once it runs
	success chan time.Time // when the flood succeeded
	rootOK  chan time.Time // when the root succeeded: the run's end
	exited  chan error
}

func startFloodRun(b *testing.B, dir, flood, root string) *floodRun {
	bin, _ := odutest.BinDir()
	r := &floodRun{running: make(chan string, 1), success: make(chan time.Time, 1), rootOK: make(chan time.Time, 1), exited: make(chan error, 1)}
	r.cmd = exec.Command(filepath.Join(bin, "odu"), "run", "--progress", "json")
	r.cmd.Dir = dir
	r.cmd.Stderr = &r.stderr
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := r.cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			now := time.Now()
			var t struct {
				ID     string `json:"id"`
				Status string `json:"status"`
				Log    string `json:"log"`
			}
			if json.Unmarshal(sc.Bytes(), &t) != nil {
				continue
			}
			switch {
			case t.ID == flood && t.Status == "running":
				r.running <- t.Log
			case t.ID == flood && t.Status == "success":
				r.success <- now
			case t.ID == root && t.Status == "success":
				r.rootOK <- now
			}
		}
		r.exited <- r.cmd.Wait()
	}()
	return r
}

// within waits for ch for up to d, or fails the benchmark saying what
// did not come.
func within[T any](b *testing.B, ch <-chan T, d time.Duration, what string) T {
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		b.Fatalf("%s: not within %s", what, d)
	}
	var zero T
	return zero
}

// release opens the FIFO the flood waits on and writes it a line: the
// flood reads it and starts writing.
func release(b *testing.B, fifo string) {
	opened := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err == nil {
			_, err = f.Write([]byte("go\n"))
			err = errors.Join(err, f.Close())
		}
		opened <- err
	}()
	if err := within(b, opened, time.Minute, "the flood opening its FIFO"); err != nil {
		b.Fatal(err)
	}
}

// facesResult is one run of BenchmarkManyFaces.
type facesResult struct {
	node, run      time.Duration // release → the flood's success; → odu run exited
	lagBytes       int64         // the most a `logs -f` was behind the log file, sampled
	logsAfter      time.Duration // the last `logs -f` to end, after the flood's success
	monitorsAfter  time.Duration // the last monitor to print the root's success, after the run did
	disconnections int           // clients the run said it disconnected as stalled
	live           float64       // the least share of the log a `logs -f` had got when odu run exited
}

// BenchmarkManyFaces runs a node that writes 256 MiB
// ($ODU_BENCH_STREAM_MIB) as fast as `cat` can, with 50 `odu monitor -o
// json` and 10 `odu logs -f` of that node attached, and without, in
// turn. The node waits on a FIFO until every face has attached (a
// monitor printed its first line, a `logs -f` the node's first line), and
// each run is timed from releasing it to its success, and to `odu run`'s
// exit. Every `logs -f` must print the whole log, byte for byte as many
// as the log file holds, and every monitor the root's success, and exit
// 0. It reports the medians of the wall ratio, the most a `logs -f` was
// behind the log file while it grew (sampled every 20 ms: its count read
// before the file's size, so an upper bound), how long after the
// flood's success the last `logs -f` ended and after the run's end the
// last monitor saw it, the least share of the log a `logs -f` had when
// `odu run` exited (it reads the rest from the run's record, as a face
// of a run that ended does), and how many clients the run disconnected
// for not reading (its stderr says so).
//
//	go test ./bench -run '^$' -bench ManyFaces -benchtime 3x
func BenchmarkManyFaces(b *testing.B) {
	const monitors, followers = 50, 10
	data := dataFile(b, facesBytes())
	fifo := filepath.Join(b.TempDir(), "gate")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		b.Fatal(err)
	}
	dir := repoWith(b, fmt.Sprintf("[metadata(\"ci\")]\nci: flood\n    @echo done\n\nflood:\n    @echo ready; read go < %s; cat %s\n", fifo, data))
	bin, _ := odutest.BinDir()
	out, err := exec.Command(filepath.Join(bin, "odu"), "--version").Output()
	if err != nil {
		b.Fatal(err)
	}
	platform := strings.TrimSuffix(string(out[bytes.LastIndexByte(out, ' ')+1:]), ")\n")
	flood, root := "flood@"+platform, "ci@"+platform

	once := func(withFaces bool) facesResult {
		r := startFloodRun(b, dir, flood, root)
		defer func() {
			if r.cmd.ProcessState == nil {
				_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL) // a benchmark that failed: leave nothing behind
			}
		}()
		log := within(b, r.running, 2*time.Minute, "the flood running")
		var mons, logs []*face
		defer func() {
			// A benchmark that failed leaves no face behind.
			for _, f := range append(append([]*face(nil), mons...), logs...) {
				select {
				case <-f.done:
				default:
					_ = f.cmd.Process.Kill()
					<-f.done
				}
			}
		}()
		if withFaces {
			for range monitors {
				mons = append(mons, startFace(b, dir, root, "monitor", "-o", "json"))
			}
			for range followers {
				logs = append(logs, startFace(b, dir, root, "logs", "-f", "flood"))
			}
			for _, f := range append(append([]*face(nil), mons...), logs...) {
				within(b, f.ready, 2*time.Minute, "a face attaching")
				if f.readyErr {
					b.Fatalf("odu %s exited before it attached: %v\n%s", f.cmd.Args[1:], f.err, f.stderr.String())
				}
			}
		}
		stop, sampled := make(chan struct{}), make(chan int64, 1)
		go func() {
			var worst int64
			for {
				select {
				case <-stop:
					sampled <- worst
					return
				case <-time.After(20 * time.Millisecond):
				}
				for _, f := range logs {
					n := f.count()
					if fi, err := os.Stat(log); err == nil {
						worst = max(worst, fi.Size()-n)
					}
				}
			}
		}()
		start := time.Now()
		release(b, fifo)
		var res facesResult
		res.node = within(b, r.success, 5*time.Minute, "the flood's success").Sub(start)
		ended := within(b, r.rootOK, time.Minute, "the run's end")
		if err := within(b, r.exited, time.Minute, "odu run exiting"); err != nil {
			b.Fatalf("odu run: %v\n%s", err, r.stderr.String())
		}
		res.run = time.Since(start)
		res.live = 1
		for _, f := range logs {
			// What a face has once the run is gone came from the run; the
			// rest it reads from the run's record.
			res.live = min(res.live, float64(f.count())/float64(facesBytes()))
		}
		b.Logf("faces %v: node %v, root success +%v, exit +%v", withFaces, res.node, ended.Sub(start)-res.node, res.run-ended.Sub(start))
		close(stop)
		res.lagBytes = <-sampled
		fi, err := os.Stat(log)
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range append(append([]*face(nil), mons...), logs...) {
			within(b, f.done, 5*time.Minute, "a face ending")
			if f.err != nil {
				b.Fatalf("odu %s: %v\n%s", f.cmd.Args[1:], f.err, f.stderr.String())
			}
		}
		for _, f := range logs {
			if n := f.count(); n != fi.Size() {
				b.Fatalf("odu logs -f printed %d bytes of a log of %d\n%s", n, fi.Size(), f.stderr.String())
			}
			res.logsAfter = max(res.logsAfter, f.eof.Sub(start)-res.node)
		}
		for _, f := range mons {
			if !f.sawEnd {
				b.Fatalf("odu monitor -o json never printed %s's success\n%s", root, f.stderr.String())
			}
			res.monitorsAfter = max(res.monitorsAfter, f.endSeen.Sub(ended))
		}
		res.disconnections = strings.Count(r.stderr.String(), "disconnected a client")
		return res
	}

	once(false) // warm the caches
	var with, without []facesResult
	b.ResetTimer()
	for b.Loop() {
		without = append(without, once(false))
		with = append(with, once(true))
	}
	b.StopTimer()
	med := func(rs []facesResult, f func(facesResult) time.Duration) time.Duration {
		ds := make([]time.Duration, len(rs))
		for i, r := range rs {
			ds[i] = f(r)
		}
		return median(ds)
	}
	node := func(r facesResult) time.Duration { return r.node }
	run := func(r facesResult) time.Duration { return r.run }
	var lag int64
	var logsAfter, monitorsAfter time.Duration
	var dropped int
	live := 1.0
	for _, r := range with {
		lag, dropped, live = max(lag, r.lagBytes), dropped+r.disconnections, min(live, r.live)
		logsAfter, monitorsAfter = max(logsAfter, r.logsAfter), max(monitorsAfter, r.monitorsAfter)
	}
	b.ReportMetric(float64(facesBytes())/(1<<20), "MiB")
	b.ReportMetric(med(without, node).Seconds(), "alone-node-s")
	b.ReportMetric(med(with, node).Seconds(), "faces-node-s")
	b.ReportMetric(float64(med(with, node))/float64(med(without, node)), "node-ratio")
	b.ReportMetric(med(without, run).Seconds(), "alone-run-s")
	b.ReportMetric(med(with, run).Seconds(), "faces-run-s")
	b.ReportMetric(float64(med(with, run))/float64(med(without, run)), "run-ratio")
	b.ReportMetric(float64(lag)/(1<<20), "max-behind-MiB")
	b.ReportMetric(logsAfter.Seconds(), "logs-after-s")
	b.ReportMetric(100*live, "logs-live-%")
	b.ReportMetric(float64(monitorsAfter.Microseconds())/1000, "monitors-after-ms")
	b.ReportMetric(float64(dropped), "dropped")
}
