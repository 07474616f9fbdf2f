package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/odu-ci/odu/internal/odutest"
	"github.com/odu-ci/odu/surface"
)

// synthRuns records runs synthetic runs in dir's .ci, two per commit,
// each of 20 nodes (a few red), as `odu run` leaves them, and makes the
// newest the last run. No index is written: the first `odu runs` builds
// it from the records.
func synthRuns(tb testing.TB, dir string, runs int) {
	tb.Helper()
	start := time.Now().Add(-time.Duration(runs) * time.Minute)
	var last string
	for i := range runs {
		sha := fmt.Sprintf("%040x", i/2+1)
		n := i%2 + 1
		started := start.Add(time.Duration(i) * time.Minute)
		ended := started.Add(42 * time.Second)
		st := surface.State{Run: surface.Run{Repo: dir, SHA: sha, Branch: "main", Snapshot: true, Root: "ci",
			Platforms: []string{"x86_64-linux"}, Started: started, Ended: &ended, Version: "bench", PID: 1000 + i,
			Ref: fmt.Sprintf("%s#%d", sha[:7], n), Subject: fmt.Sprintf("change number %d", i/2)}}
		for k := range 20 {
			status := surface.Success
			if (i+k)%37 == 0 {
				status = surface.Failure
			}
			name := fmt.Sprintf("recipe%02d", k)
			st.Nodes = append(st.Nodes, surface.Node{ID: name + "@x86_64-linux", Name: name, Recipe: name, Platform: "x86_64-linux",
				Command: []string{"just", "--no-deps", name}, Status: status, Attempt: 1, Started: &started, DurationMS: 1234,
				Log: filepath.Join(".ci", sha, "runs", fmt.Sprint(n), "x86_64-linux", name+".log")})
		}
		data, err := json.MarshalIndent(st, "", "  ")
		if err != nil {
			tb.Fatal(err)
		}
		rel := filepath.Join(".ci", sha, "runs", fmt.Sprintf("%d.json", n))
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o700); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, rel), data, 0o600); err != nil {
			tb.Fatal(err)
		}
		if err := os.Chtimes(filepath.Join(dir, rel), ended, ended); err != nil {
			tb.Fatal(err)
		}
		last = rel
	}
	if err := os.WriteFile(filepath.Join(dir, ".ci", "odu.last"), []byte(last+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkRuns lists 1,000 recorded runs from the index, all of them
// (`odu runs --all -o json`, all-ms) and the 20 newest (`odu runs`,
// runs-ms), and compares with `odu status` with no run live, which
// reads one record: what any face pays to start, find the checkout and
// read something. The first listing, which builds the index from the
// 1,000 records, is reported once (cold-ms).
//
//	go test ./bench -run '^$' -bench Runs -benchtime 20x
func BenchmarkRuns(b *testing.B) {
	dir := repoWith(b, "[metadata(\"ci\")]\nci:\n    @echo ok\n")
	synthRuns(b, dir, 1000)
	bin, err := odutest.BinDir()
	if err != nil {
		b.Fatal(err)
	}
	odu := filepath.Join(bin, "odu")
	cold := timeRun(b, dir, odu, "runs", "--all", "-o", "json")
	if _, err := os.Stat(filepath.Join(dir, ".ci", "odu.runs.json")); err != nil {
		b.Fatalf("odu runs wrote no index: %v", err)
	}
	var all, runs, status []time.Duration
	b.ResetTimer()
	for b.Loop() {
		status = append(status, timeRun(b, dir, odu, "status"))
		runs = append(runs, timeRun(b, dir, odu, "runs"))
		all = append(all, timeRun(b, dir, odu, "runs", "--all", "-o", "json"))
	}
	a, r, s := median(all), median(runs), median(status)
	b.ReportMetric(float64(a.Microseconds())/1000, "all-ms")
	b.ReportMetric(float64(r.Microseconds())/1000, "runs-ms")
	b.ReportMetric(float64(s.Microseconds())/1000, "status-ms")
	b.ReportMetric(float64(a)/float64(s), "all/status")
	b.ReportMetric(float64(r)/float64(s), "runs/status")
	b.ReportMetric(float64(cold.Microseconds())/1000, "cold-ms")
}
