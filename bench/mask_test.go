package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkMaskedLog streams 256 MiB from a node into its log on the
// local lane, with and without a secret to mask, alternating the two:
//
//   - unmasked: the runner splices the output pipe into the log file, the
//     bytes never pass through its memory;
//   - masked: with `--secret` (here the hosts file's "secrets" list), every
//     byte goes through the runner's masker (Aho–Corasick over the secret
//     and its encodings) on its way to the log.
//
// The data is random bytes, so about a quarter of them are bytes some
// pattern holds: the automaton moves off its root all the time, as on
// text.
//
//	go test ./bench -run '^$' -bench MaskedLog -benchtime 3x
func BenchmarkMaskedLog(b *testing.B) {
	const size = 256 << 20
	src := dataFile(b, size)
	dir := repoWith(b, "[metadata(\"ci\")]\nci:\n    @cat "+src+"\n")
	hosts := filepath.Join(b.TempDir(), "hosts.json")
	if err := os.WriteFile(hosts, []byte(`{"x86_64-linux": "localhost", "secrets": ["ODU_BENCH_SECRET"]}`), 0o600); err != nil {
		b.Fatal(err)
	}
	clean := func() { _ = exec.Command("sync").Run() } // fewer dirty pages to write meanwhile: best effort
	var plain, masked []time.Duration
	b.ResetTimer()
	for b.Loop() {
		clean()
		p := runProgress(b, dir)
		plain = append(plain, p.success.Sub(p.running))
		clean()
		m := runProgress(b, dir, "ODU_HOSTS="+hosts, "ODU_BENCH_SECRET=ghp_16C7e42F292c6912E7710c838347Ae178B4a")
		masked = append(masked, m.success.Sub(m.running))
	}
	u, m := median(plain), median(masked)
	b.ReportMetric(size/u.Seconds()/1e6, "unmasked-MB/s")
	b.ReportMetric(size/m.Seconds()/1e6, "masked-MB/s")
	b.ReportMetric(float64(u)/float64(m), "masked/unmasked")
}
