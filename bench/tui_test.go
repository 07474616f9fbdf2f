package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/odu-ci/odu/internal/odutest"
)

// ptyMonitor is `odu monitor` on a pseudo-terminal of 120×40: it counts
// the frames the dashboard draws and notes when a text first shows after
// it was asked to look for it. It answers, as a modern terminal does,
// that it has synchronized output (Bubble Tea v2 asks at start, and waits
// for no answer): each frame is then drawn between ESC[?2026h and
// ESC[?2026l, which is how frames are counted.
type ptyMonitor struct {
	cmd  *exec.Cmd
	tty  *os.File
	done chan struct{}

	mu       sync.Mutex
	frames   int
	answered bool // the synchronized output query
	tail     []byte
	want     []string // texts still to show
	seen     chan time.Time
}

// frameEnd ends a frame drawn with synchronized output.
const frameEnd = "\x1b[?2026l"

func startMonitor(b *testing.B, dir string) *ptyMonitor {
	bin, _ := odutest.BinDir()
	cmd := exec.Command(filepath.Join(bin, "odu"), "monitor")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TERM=xterm-256color")
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 120, Rows: 40})
	if err != nil {
		b.Fatal(err)
	}
	m := &ptyMonitor{cmd: cmd, tty: tty, done: make(chan struct{})}
	return m
}

func (m *ptyMonitor) read() {
	defer close(m.done)
	buf := make([]byte, 64<<10)
	for {
		n, err := m.tty.Read(buf)
		now := time.Now()
		m.mu.Lock()
		win := append(m.tail, buf[:n]...)
		m.frames += bytes.Count(win, []byte(frameEnd)) - bytes.Count(m.tail, []byte(frameEnd))
		if !m.answered && bytes.Contains(win, []byte("\x1b[?2026$p")) {
			m.answered = true
			_, _ = m.tty.Write([]byte("\x1b[?2026;2$y")) // reset, and can be set (unanswered: no frame counted)
		}
		if len(m.want) > 0 {
			m.want = slices.DeleteFunc(m.want, func(t string) bool { return bytes.Contains(win, []byte(t)) })
			if len(m.want) == 0 {
				m.seen <- now
			}
		}
		// The terminal answers no other query: odu waits on none (see
		// TestDashboardNoTerminalQuery); one would show here as a slow
		// attach.
		m.tail = append(m.tail[:0], win[max(len(win)-256, 0):]...)
		m.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// expect returns a channel that gets the time when every one of texts
// has shown.
func (m *ptyMonitor) expect(texts ...string) <-chan time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.want, m.seen = slices.Clone(texts), make(chan time.Time, 1)
	m.tail = m.tail[:0]
	return m.seen
}

func (m *ptyMonitor) frameCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.frames
}

func (m *ptyMonitor) wait(b *testing.B, ch <-chan time.Time, what string) time.Time {
	select {
	case t := <-ch:
		return t
	case <-time.After(60 * time.Second):
		b.Fatalf("the dashboard never showed %s", what)
	}
	return time.Time{}
}

func (m *ptyMonitor) quit() {
	_, _ = m.tty.Write([]byte("q")) // a dashboard that does not quit is killed below
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		m.cmd.Process.Kill()
		<-m.done
	}
	m.cmd.Wait()
	m.tty.Close()
}

// cpuTicks is a process's user and system time, in clock ticks (1/100 s).
func cpuTicks(pid int) int64 {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

func vmRSS(pid int) int64 {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb
		}
	}
	return -1
}

// startRun starts `odu run` in dir and waits until its run is live.
func startRun(b *testing.B, dir string) (stop func()) {
	bin, _ := odutest.BinDir()
	run := exec.Command(filepath.Join(bin, "odu"), "run", "--progress", "plain")
	run.Dir = dir
	run.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := run.Start(); err != nil {
		b.Fatal(err)
	}
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		st := exec.Command(filepath.Join(bin, "odu"), "status")
		st.Dir = dir
		if out, err := st.Output(); err == nil && bytes.Contains(out, []byte("running")) {
			break
		}
		if time.Since(start) > time.Minute {
			run.Process.Kill()
			run.Wait()
			b.Fatal("the run never went live")
		}
	}
	return func() {
		syscall.Kill(-run.Process.Pid, syscall.SIGINT)
		run.Wait()
	}
}

// floodSeconds is how long the flood node writes: 30 s, or
// $ODU_BENCH_FLOOD_SECONDS.
func floodSeconds() int {
	if n, err := strconv.Atoi(os.Getenv("ODU_BENCH_FLOOD_SECONDS")); err == nil && n > 0 {
		return n
	}
	return 30
}

// BenchmarkDashboardFlood focuses the dashboard on a node that writes
// 20 MB/s of coloured output, and presses `?` every 200 ms: it reports
// the time from the key press to the frame that shows the help toggled
// (p50, p99), the frames drawn per second, the monitor's CPU (cores) and
// its RSS after a third of the output and at the end, and its peak RSS.
//
//	go test ./bench -run '^$' -bench DashboardFlood -benchtime 1x
func BenchmarkDashboardFlood(b *testing.B) {
	secs := floodSeconds()
	flood := fmt.Sprintf(`perl -e 'use Time::HiRes qw(time sleep); $|=1; my $l = join("", map { "\e[3".($_%%7+1)."mword$_\e[0m " } 1..8)."\n"; my $c = $l x int(100000/length($l)); my $t0 = time; my $n = 0; while (time - $t0 < %d) { print $c; $n++; my $d = $t0 + $n*length($c)/20e6 - time; sleep($d) if $d > 0 }'`, secs)
	dir := repoWith(b, "[metadata(\"ci\")]\nci: flood\n\nflood:\n    @"+flood+"\n")
	for range b.N {
		stop := startRun(b, dir)
		m := startMonitor(b, dir)
		pid := m.cmd.Process.Pid
		flowing := m.expect("word8")
		go m.read()
		m.wait(b, flowing, "the flood")
		start, ticks0, frames0 := time.Now(), cpuTicks(pid), m.frameCount()
		var lat []time.Duration
		var rssThird int64
		texts := []string{"cancel search", "all keys"}
		for i := 0; time.Since(start) < time.Duration(secs)*time.Second-time.Second; i++ {
			seen := m.expect(texts[i%2])
			t := time.Now()
			if _, err := m.tty.Write([]byte("?")); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, m.wait(b, seen, texts[i%2]).Sub(t))
			if rssThird == 0 && time.Since(start) > time.Duration(secs)*time.Second/3 {
				rssThird = vmRSS(pid)
			}
			time.Sleep(200 * time.Millisecond)
		}
		wall := time.Since(start)
		cores := float64(cpuTicks(pid)-ticks0) / 100 / wall.Seconds()
		fps := float64(m.frameCount()-frames0) / wall.Seconds()
		rssEnd, peak := vmRSS(pid), vmHWM(pid)
		m.quit()
		stop()
		slices.Sort(lat)
		p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
		b.ReportMetric(p(0.5), "key-p50-ms")
		b.ReportMetric(p(0.99), "key-p99-ms")
		b.ReportMetric(fps, "frames/s")
		b.ReportMetric(cores, "monitor-cores")
		b.ReportMetric(float64(rssThird)/1024, "rss-at-1/3-MB")
		b.ReportMetric(float64(rssEnd)/1024, "rss-at-end-MB")
		b.ReportMetric(float64(peak)/1024, "peak-rss-MB")
	}
}

// BenchmarkDashboardAttach starts `odu monitor` against a live run of 200
// nodes and times it from its start to the first frame that shows the
// matrix and the key footer.
//
//	go test ./bench -run '^$' -bench DashboardAttach -benchtime 10x
func BenchmarkDashboardAttach(b *testing.B) {
	var j strings.Builder
	var names []string
	for i := range 200 {
		fmt.Fprintf(&j, "r%03d:\n    @sleep 600\n\n", i)
		names = append(names, fmt.Sprintf("r%03d", i))
	}
	fmt.Fprintf(&j, "[metadata(\"ci\")]\nci: %s\n", strings.Join(names, " "))
	dir := repoWith(b, j.String())
	stop := startRun(b, dir)
	defer stop()
	var lat []time.Duration
	b.ResetTimer()
	for range b.N {
		t := time.Now()
		m := startMonitor(b, dir)
		seen := m.expect("r000", "all keys")
		go m.read()
		lat = append(lat, m.wait(b, seen, "the matrix and the footer").Sub(t))
		m.quit()
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "attach-p50-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "attach-max-ms")
}
