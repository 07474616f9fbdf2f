package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odu-ci/odu/internal/odutest"
	"github.com/odu-ci/odu/internal/sshtest"
	"github.com/odu-ci/odu/runner/hostside"
)

// poolServer starts a server on host for odu's key and adds it to
// known_hosts.
func poolServer(b *testing.B, home string, key sshtest.Key, host string) *sshtest.Server {
	s := sshtest.Start(b, sshtest.Options{Host: host, Keys: []sshtest.Key{key}})
	f, err := os.OpenFile(filepath.Join(home, ".ssh", "known_hosts"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	fmt.Fprintln(f, s.KnownHostsLine())
	f.Close()
	return s
}

// holdSlot takes a host's one slot as another holder's runner would,
// owned by the host's user so that its runners can take it after.
func holdSlot(b *testing.B, s *sshtest.Server) *os.File {
	dir := hostside.SlotsPath(s.Cache)
	f, _, err := hostside.TakeSlot(dir, 1)
	if err != nil {
		b.Fatal(err)
	}
	u, err := user.Lookup(s.User)
	if err != nil {
		b.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for _, p := range []string{filepath.Dir(dir), dir, f.Name()} {
		if err := os.Chown(p, uid, gid); err != nil {
			b.Fatal(err)
		}
	}
	return f
}

// BenchmarkPoolSlotFreed measures the time from a slot freed to the lane
// that waited in line for it running its first node, against the time a
// warm lane on the same host takes from `odu run` to its first node
// running (no queue), in the same run. The queue polls every 250 ms.
//
//	go test ./bench -run '^$' -bench PoolSlotFreed -benchtime 5x
func BenchmarkPoolSlotFreed(b *testing.B) {
	dir := repoWith(b, "[metadata(\"ci\")]\nci:\n    @echo hi\n")
	home, key := sshHome(b)
	s := poolServer(b, home, key, "127.0.0.2")
	hosts := filepath.Join(home, "hosts.json")
	if err := os.WriteFile(hosts, []byte(`{"x86_64-linux": ["`+s.Addr()+`"]}`), 0o600); err != nil {
		b.Fatal(err)
	}
	env := []string{"HOME=" + home, "ODU_HOSTS=" + hosts}
	runProgress(b, dir, env...) // the host gets the runner and the commit
	var freed, warm []time.Duration
	b.ResetTimer()
	for b.Loop() {
		p := runProgress(b, dir, env...)
		warm = append(warm, p.running.Sub(p.started))
		freed = append(freed, queuedRun(b, dir, env, s))
	}
	f, w := median(freed), median(warm)
	b.ReportMetric(float64(f.Milliseconds()), "freed-to-running-ms")
	b.ReportMetric(float64(w.Milliseconds()), "warm-start-ms")
	b.ReportMetric(float64(f)/float64(w), "freed/warm")
}

// queuedRun runs the pipeline while the host's slot is held, frees it once
// the lane says it is queued, and returns how long after that its node
// was running.
func queuedRun(b *testing.B, dir string, env []string, s *sshtest.Server) time.Duration {
	lease := holdSlot(b, s)
	defer lease.Close()
	bin, _ := odutest.BinDir()
	cmd := exec.Command(filepath.Join(bin, "odu"), "run", "--progress", "json")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	var freed, running time.Time
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var t struct {
			Status string `json:"status"`
			Phase  string `json:"phase"`
		}
		if json.Unmarshal(sc.Bytes(), &t) != nil {
			continue
		}
		switch {
		case t.Phase == "queued" && freed.IsZero():
			freed = time.Now()
			lease.Close()
		case t.Status == "running" && running.IsZero():
			running = time.Now()
		}
	}
	if err := cmd.Wait(); err != nil {
		b.Fatalf("odu run: %v", err)
	}
	if freed.IsZero() || running.IsZero() {
		b.Fatal("the lane was not queued, or its node never ran")
	}
	return running.Sub(freed)
}

// BenchmarkPoolHosts measures `odu hosts` over a pool of 8 hosts, one of
// which does not answer (it accepts the connection and says nothing),
// against its per-host --timeout: the hosts are asked at once, so the
// command should take about one timeout, not eight.
//
//	go test ./bench -run '^$' -bench PoolHosts -benchtime 5x
func BenchmarkPoolHosts(b *testing.B) {
	home, key := sshHome(b)
	var addrs []string
	for i := range 7 {
		s := poolServer(b, home, key, "127.0.0."+strconv.Itoa(20+i))
		addrs = append(addrs, s.Addr())
	}
	// The eighth host: a port that accepts and never answers.
	ln, err := net.Listen("tcp", "127.0.0.27:0")
	if err != nil {
		b.Fatal(err)
	}
	var held sync.WaitGroup
	var conns []net.Conn
	var mu sync.Mutex
	held.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	b.Cleanup(func() {
		ln.Close()
		held.Wait()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	addrs = append(addrs, "odu-test@"+ln.Addr().String())
	hosts := filepath.Join(home, "hosts.json")
	if err := os.WriteFile(hosts, []byte(`{"x86_64-linux": ["`+strings.Join(addrs, `", "`)+`"]}`), 0o600); err != nil {
		b.Fatal(err)
	}
	bin, _ := odutest.BinDir()
	const timeout = 2 * time.Second
	hostsRun := func(timeout time.Duration) time.Duration {
		cmd := exec.Command(filepath.Join(bin, "odu"), "hosts", "--timeout", timeout.String())
		cmd.Env = append(os.Environ(), "HOME="+home, "ODU_HOSTS="+hosts)
		start := time.Now()
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("odu hosts: %v\n%s", err, out)
		}
		if n := strings.Count(string(out), "  1 slot, 0 held"); n != 7 || !strings.Contains(string(out), "down: ") {
			b.Fatalf("odu hosts: want 7 hosts up and one down:\n%s", out)
		}
		return time.Since(start)
	}
	// Every host gets the runner (pushed by the first odu hosts), with
	// time for it on a busy machine: the figure is of hosts that have it.
	hostsRun(time.Minute)
	var ds []time.Duration
	b.ResetTimer()
	for b.Loop() {
		ds = append(ds, hostsRun(timeout))
	}
	d := median(ds)
	b.ReportMetric(float64(d.Milliseconds()), "hosts-ms")
	b.ReportMetric(float64(d)/float64(timeout), "wall/timeout")
}
