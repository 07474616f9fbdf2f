package web

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/odu-ci/odu/internal/odutest"
	"github.com/odu-ci/odu/platform"
)

// BenchmarkRunPagePaint: from navigation to the first frame with every
// node of a recorded 200-node run in the matrix, on loopback, measured by
// Chromium's Performance API (performance.now() counts from the
// navigation's start).
//
//	go test -run '^$' -bench RunPagePaint -benchtime 10x ./web/
func BenchmarkRunPagePaint(b *testing.B) {
	c := newCheckout(b, "")
	if err := odutest.BigJustfile(c.dir, 4, 50); err != nil {
		b.Fatal(err)
	}
	c.git(b, "add", ".")
	c.git(b, "commit", "-q", "-m", "big")
	ctx := browser(b, 1280, 800)
	r := c.start(ctx, b)
	r.wait(b, 5*time.Minute)
	last, err := readRun(c.dir, LiveRef)
	if err != nil || len(last.State.Nodes) != 201 {
		b.Fatalf("the run left no record of 201 nodes:\n%s", r.output())
	}
	s := serve(b, c.dir, "127.0.0.1:0")
	if err := chromedp.Do(ctx, chromedp.Navigate(s.url("#/"))); err != nil {
		b.Fatal(err)
	}
	page := s.base + "/#/run/" + strings.ReplaceAll(last.State.Run.Ref, "#", "%23")
	var total float64
	b.ResetTimer()
	for range b.N {
		if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(page), chromedp.WaitReady(chromedp.CSS("#main"))); err != nil {
			b.Fatal(err)
		}
		ms, err := chromedp.Run(ctx, chromedp.Poll[float64](`document.querySelectorAll('#matrix button.node').length === 201 && performance.now()`, chromedp.WithPollingTimeout(30*time.Second)))
		if err != nil {
			b.Fatal(err)
		}
		total += ms
	}
	b.ReportMetric(total/float64(b.N), "ms/paint")
}

// BenchmarkFollowFastLog: a node writes about 20 MB/s of 200-byte lines
// for 5 s, and a page follows its log through `odu web` (its own
// process). Reported: how far the page fell behind at worst (bytes, and
// seconds at the write rate), odu web's CPU, and the run's wall time with
// the page against the same run without one (run first).
//
//	go test -run '^$' -bench FollowFastLog -benchtime 1x ./web/
func BenchmarkFollowFastLog(b *testing.B) {
	c := newCheckout(b, `
[metadata("ci")]
ci: fast

fast:
    awk 'BEGIN { l = sprintf("%190s", ""); gsub(/ /, "x", l); for (s = 0; s < 50; s++) { for (i = 0; i < 10000; i++) printf "%08d %s\n", s * 10000 + i, l; fflush(); system("sleep 0.1") } }'
`)
	ctx := browser(b, 1280, 800)
	wall := func(follow func(*run)) time.Duration {
		start := time.Now()
		r := c.start(ctx, b)
		if follow != nil {
			follow(r)
		}
		r.wait(b, 5*time.Minute)
		return time.Since(start)
	}
	for range b.N {
		alone := wall(nil)
		url, _, cmd, _ := startOdu(b, c, "web", "--addr", "127.0.0.1:0")
		jar, _ := cookiejar.New(nil)
		if resp, err := (&http.Client{Jar: jar}).Get(url); err == nil {
			resp.Body.Close()
		}
		base := url[:strings.Index(url, "/?token")]
		if err := chromedp.Do(ctx, chromedp.Navigate(url+"#/")); err != nil {
			b.Fatal(err)
		}
		cpu0 := cpuTime(b, cmd.Process.Pid)
		var maxLag, written int64
		withPage := wall(func(r *run) {
			if err := chromedp.Do(ctx, chromedp.Navigate(base+"/#/run/live/fast%40"+string(platform.Local()))); err != nil {
				b.Fatal(err)
			}
			tick := time.NewTicker(250 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-r.done:
					return
				case <-tick.C:
				}
				size := logSize(c.dir)
				shown, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('.log') || {dataset: {}}).dataset.offset || '0'`))
				if err != nil {
					b.Fatal(err)
				}
				n, _ := strconv.ParseInt(shown, 10, 64)
				maxLag = max(maxLag, size-n)
				written = size
			}
		})
		cpu := cpuTime(b, cmd.Process.Pid) - cpu0
		// The page gets to the last byte.
		caught := time.Now()
		for i := 0; ; i++ {
			shown, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('.log') || {dataset: {}}).dataset.offset || '0'`))
			if err != nil {
				b.Fatal(err)
			}
			if shown == strconv.FormatInt(logSize(c.dir), 10) {
				break
			}
			if i%4 == 0 {
				b.Logf("%v after the run: the page is at byte %s of %d", time.Since(caught).Round(time.Second), shown, logSize(c.dir))
			}
			if time.Since(caught) > 2*time.Minute {
				b.Fatalf("the page did not reach the log's end within 2 minutes of the run's")
			}
			time.Sleep(250 * time.Millisecond) // sampling, as above
		}
		b.ReportMetric(time.Since(caught).Seconds(), "s-to-catch-up")
		rate := float64(written) / withPage.Seconds()
		b.ReportMetric(float64(maxLag)/1e6, "MB-behind-max")
		b.ReportMetric(float64(maxLag)/rate, "s-behind-max")
		b.ReportMetric(rate/1e6, "MB/s-written")
		b.ReportMetric(cpu.Seconds()/withPage.Seconds()*100, "%cpu-odu-web")
		b.ReportMetric(withPage.Seconds()/alone.Seconds(), "wall-ratio")
		b.Logf("wall alone %v, with the page %v; %d bytes; odu web CPU %v", alone, withPage, logSize(c.dir), cpu)
	}
}

// logSize is the size of the fast node's log file.
func logSize(root string) int64 {
	m, _ := filepath.Glob(filepath.Join(root, ".ci", "*", string(platform.Local()), "fast.log"))
	var size int64
	for _, p := range m {
		if fi, err := os.Stat(p); err == nil {
			size = max(size, fi.Size())
		}
	}
	return size
}

// cpuTime is a process's user and system CPU time so far.
func cpuTime(b testing.TB, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * time.Second / 100
}

// BenchmarkWallWithPage: the run's wall time with a page following its
// fast log (about 20 MB/s of 200-byte lines for 3 s) against the same run
// with no page open, in alternating samples (alone first, then the page
// first), odu web serving throughout. Reported: the medians and their
// ratio.
//
//	go test -run '^$' -bench WallWithPage -benchtime 6x ./web/
func BenchmarkWallWithPage(b *testing.B) {
	c := newCheckout(b, `
[metadata("ci")]
ci: fast

fast:
    awk 'BEGIN { l = sprintf("%190s", ""); gsub(/ /, "x", l); for (s = 0; s < 30; s++) { for (i = 0; i < 10000; i++) printf "%08d %s\n", s * 10000 + i, l; fflush(); system("sleep 0.1") } }'
`)
	ctx := browser(b, 1280, 800)
	url, _, _, _ := startOdu(b, c, "web", "--addr", "127.0.0.1:0")
	base := url[:strings.Index(url, "/?token")]
	if err := chromedp.Do(ctx, chromedp.Navigate(url+"#/")); err != nil {
		b.Fatal(err)
	}
	page := base + "/#/run/live/fast%40" + string(platform.Local())
	wall := func(withPage bool) time.Duration {
		target := "about:blank"
		if withPage {
			target = page // it waits for the run, and follows its log
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(target)); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		r := c.start(ctx, b)
		r.wait(b, 5*time.Minute)
		return time.Since(start)
	}
	var alone, paged []time.Duration
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 0 {
			alone = append(alone, wall(false))
			paged = append(paged, wall(true))
		} else {
			paged = append(paged, wall(true))
			alone = append(alone, wall(false))
		}
	}
	median := func(d []time.Duration) time.Duration {
		s := slices.Clone(d)
		slices.Sort(s)
		if len(s)%2 == 1 {
			return s[len(s)/2]
		}
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	b.ReportMetric(median(alone).Seconds(), "s-alone-median")
	b.ReportMetric(median(paged).Seconds(), "s-page-median")
	b.ReportMetric(median(paged).Seconds()/median(alone).Seconds(), "wall-ratio")
	b.Logf("alone %v; with the page %v", alone, paged)
}
