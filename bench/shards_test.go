package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/odu-ci/odu/internal/odutest"
)

// shardedSuite is a test suite of four parts of 2 s each: a shard runs
// the parts ODU_SHARD_INDEX, +ODU_SHARD_TOTAL, …; unsharded, one node
// runs all four.
const shardedSuite = `[metadata("ci")]
ci: e2e

%s
e2e:
    #!/bin/sh
    i=${ODU_SHARD_INDEX:-0}; n=${ODU_SHARD_TOTAL:-1}
    while [ $i -lt 4 ]; do sleep 2; i=$((i+n)); done
`

// BenchmarkShards measures a recipe of 4 × 2 s parts tagged
// odu:shard=4 on a pool of four loopback hosts of one slot each, against
// the same recipe unsharded on the same pool, alternating the two in one
// run. The target: the sharded wall at most 0.3× the unsharded one, plus
// provisioning (the three extra leases, one after another).
//
//	go test ./bench -run '^$' -bench Shards -benchtime 3x
func BenchmarkShards(b *testing.B) {
	sharded := repoWith(b, strings.Replace(shardedSuite, "%s", `[metadata("odu:shard=4")]`, 1))
	plain := repoWith(b, strings.Replace(shardedSuite, "%s", "", 1))
	home, key := sshHome(b)
	var addrs []string
	for i := range 4 {
		s := poolServer(b, home, key, "127.0.0."+strconv.Itoa(30+i))
		addrs = append(addrs, s.Addr())
	}
	hosts := filepath.Join(home, "hosts.json")
	if err := os.WriteFile(hosts, []byte(`{"x86_64-linux": ["`+strings.Join(addrs, `", "`)+`"]}`), 0o600); err != nil {
		b.Fatal(err)
	}
	bin, _ := odutest.BinDir()
	run := func(dir string) time.Duration {
		cmd := exec.Command(filepath.Join(bin, "odu"), "run", "--progress", "plain", "--no-post")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "HOME="+home, "ODU_HOSTS="+hosts, "SSH_AUTH_SOCK=")
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("odu run: %v\n%s", err, out)
		}
		if dir == sharded && !strings.Contains(string(out), "4 of 4 shards ran") {
			b.Fatalf("the sharded run did not run 4 shards:\n%s", out)
		}
		return time.Since(start)
	}
	run(sharded) // every host gets the runner and the commit
	run(plain)
	var ds, dp []time.Duration
	b.ResetTimer()
	for b.Loop() {
		ds = append(ds, run(sharded))
		dp = append(dp, run(plain))
	}
	s, p := median(ds), median(dp)
	b.ReportMetric(float64(s.Milliseconds()), "sharded-ms")
	b.ReportMetric(float64(p.Milliseconds()), "unsharded-ms")
	b.ReportMetric(float64(s)/float64(p), "sharded/unsharded")
	b.ReportMetric(float64(s-2*time.Second)/float64(time.Millisecond), "sharded-overhead-ms")
	b.ReportMetric(float64(p-8*time.Second)/float64(time.Millisecond), "unsharded-overhead-ms")
}
