package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/odu-ci/odu/internal/odutest"
)

func TestMain(m *testing.M) { odutest.Main(m) }

// bigRepo writes a git repository holding odutest.BigJustfile.
func bigRepo(tb testing.TB, modules, perModule int) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := odutest.BigJustfile(dir, modules, perModule); err != nil {
		tb.Fatal(err)
	}
	gitCommit(tb, dir)
	return dir
}

func gitCommit(tb testing.TB, dir string) {
	tb.Helper()
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-q", "-m", "bench"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), odutest.GitEnv(tb.TempDir())...)
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}

// timeRun runs a command to completion and returns its wall time. Its
// output goes to /dev/null, so that what a reader of it would spend is not
// counted; errors are kept to be shown.
func timeRun(tb testing.TB, dir string, argv ...string) time.Duration {
	tb.Helper()
	wall, _ := runCPU(tb, dir, argv...)
	return wall
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// BenchmarkDump measures `odu dump` on a justfile of 2,000 recipes in 20
// modules against the `just --dump` it runs, alternating the two so that
// both see the same machine. It reports the medians and their ratio:
// odu's own cost is the ratio's excess over 1.
//
//	go test ./bench -run '^$' -bench Dump -benchtime 30x
func BenchmarkDump(b *testing.B) {
	bin, err := odutest.BinDir()
	if err != nil {
		b.Fatal(err)
	}
	dir := bigRepo(b, 20, 100)
	odu, just := filepath.Join(bin, "odu"), filepath.Join(bin, "just")
	// One of each first, so that both find their files in the page cache.
	timeRun(b, dir, just, "--dump", "--dump-format", "json")
	timeRun(b, dir, odu, "dump")
	var oduT, justT []time.Duration
	b.ResetTimer()
	for b.Loop() {
		justT = append(justT, timeRun(b, dir, just, "--dump", "--dump-format", "json"))
		oduT = append(oduT, timeRun(b, dir, odu, "dump"))
	}
	o, j := median(oduT), median(justT)
	b.ReportMetric(float64(o.Microseconds())/1000, "odu-ms")
	b.ReportMetric(float64(j.Microseconds())/1000, "just-ms")
	b.ReportMetric(float64(o)/float64(j), "ratio")
}
