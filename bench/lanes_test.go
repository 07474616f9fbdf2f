package bench

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/odu-ci/odu/internal/odutest"
	"github.com/odu-ci/odu/internal/sshtest"
)

// manyLanes is a pipeline whose one recipe runs as four shards, each
// catting the data file of the host it runs on (every host has its own
// XDG_CACHE_HOME, which sessions, and so the runner's nodes, inherit).
const manyLanes = `[metadata("ci")]
ci: flood

[metadata("odu:shard=4")]
flood:
    @cat "$XDG_CACHE_HOME/data"
`

// BenchmarkManyLanes streams logs through four SSH lanes at once: four
// loopback hosts of one slot each in one pool, and a recipe tagged
// odu:shard=4, whose four shards each cat a file of a quarter of the
// stream (256 MiB; ODU_BENCH_STREAM_MIB sets the total) on a host of
// its own. That is how odu runs four lanes of one platform at once: a
// lane per platform would need four platforms, and a pool gives a
// second lane to a node only through shards. The figure is the total
// throughput, from the first shard running to the last shard's success
// as published (once the coordinator's copy of its log is whole),
// against four OpenSSH `ssh host cat data > file` started together on
// the same hosts, alternating the two, medians.
//
//	go test ./bench -run '^$' -bench ManyLanes -benchtime 3x
func BenchmarkManyLanes(b *testing.B) {
	total := streamBytes()
	per := total / 4
	src := dataFile(b, per)
	home, key := sshHome(b)
	var servers []*sshtest.Server
	var addrs []string
	for i := range 4 {
		s := poolServer(b, home, key, "127.0.0."+strconv.Itoa(50+i))
		servers = append(servers, s)
		addrs = append(addrs, s.Addr())
		// Empty for the warm-up run, which pushes the runner and sends
		// the commit to every host.
		if err := os.WriteFile(filepath.Join(s.Cache, "data"), nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	env := oduEnv(b, home, `{"x86_64-linux": ["`+strings.Join(addrs, `", "`)+`"]}`)
	dir := repoWith(b, manyLanes)
	shardRun(b, dir, env) // the warm-up
	for _, s := range servers {
		data := filepath.Join(s.Cache, "data")
		if err := os.Remove(data); err != nil {
			b.Fatal(err)
		}
		if err := linkOrCopy(src, data); err != nil {
			b.Fatal(err)
		}
	}
	dsts := make([]string, 4)
	for i := range dsts {
		dsts[i] = filepath.Join(b.TempDir(), "dst")
	}
	clean := func() { _ = exec.Command("sync").Run() } // best effort, as in SSHLogStream
	// CPU seconds per GB of log, on the hosts (sshd, sessions, odu's
	// runners, cat) and on this side (odu run; the ssh clients): on
	// loopback both sides share the same two cores.
	var odu, raw, spread, oduHost, oduCoord, sshHost, sshClient, login []time.Duration
	_, cpuOK := hostsCPU()
	b.ResetTimer()
	for b.Loop() {
		clean()
		h0, _ := hostsCPU()
		d, cpu := parallelCat(b, home, key, servers, dsts)
		h1, _ := hostsCPU()
		raw, sshHost, sshClient = append(raw, d), append(sshHost, h1-h0), append(sshClient, cpu)
		for _, d := range dsts {
			os.Remove(d)
		}
		// What of the baseline is four logins, which odu's window, from
		// the first shard running, does not have.
		d, _ = parallelSSH(b, home, key, servers, dsts, func(*sshtest.Server) string { return "true" })
		login = append(login, d)
		clean()
		h0, _ = hostsCPU()
		d, sp, cpu := shardRun(b, dir, env)
		h1, _ = hostsCPU()
		odu, spread = append(odu, d), append(spread, sp)
		oduHost, oduCoord = append(oduHost, h1-h0), append(oduCoord, cpu)
	}
	o, r := median(odu), median(raw)
	gb := float64(total) / 1e9
	b.ReportMetric(gb*1e3/o.Seconds(), "odu-MB/s")
	b.ReportMetric(gb*1e3/r.Seconds(), "ssh-MB/s")
	b.ReportMetric(float64(r)/float64(o), "ratio")
	l := median(login)
	b.ReportMetric(float64(l.Milliseconds()), "ssh-true-ms")
	b.ReportMetric(float64(r-l)/float64(o), "ratio-less-login")
	b.ReportMetric(float64(median(spread).Milliseconds()), "shard-start-spread-ms")
	b.ReportMetric(median(oduCoord).Seconds()/gb, "odu-coord-cpu-s/GB")
	b.ReportMetric(median(sshClient).Seconds()/gb, "ssh-client-cpu-s/GB")
	if cpuOK {
		b.ReportMetric(median(oduHost).Seconds()/gb, "odu-hosts-cpu-s/GB")
		b.ReportMetric(median(sshHost).Seconds()/gb, "ssh-hosts-cpu-s/GB")
	} else {
		b.Log("the servers' cgroups cannot be read: no CPU figures for the hosts")
	}
}

// linkOrCopy makes dst the file src: a hard link (one file in the page
// cache for every host), else a copy.
func linkOrCopy(src, dst string) error {
	if os.Link(src, dst) == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// oduEnv writes the hosts file and returns the environment of odu for
// it: the benchmark's home (key, known_hosts) and no ssh-agent.
func oduEnv(b *testing.B, home, hostsJSON string) []string {
	hosts := filepath.Join(home, "hosts.json")
	if err := os.WriteFile(hosts, []byte(hostsJSON), 0o600); err != nil {
		b.Fatal(err)
	}
	return []string{"HOME=" + home, "ODU_HOSTS=" + hosts, "SSH_AUTH_SOCK="}
}

// shardRun runs the pipeline of [manyLanes] and returns the time from
// its first shard running to its last shard's success, how far apart
// the four shards started, and the CPU time of `odu run`. Every shard
// must succeed.
func shardRun(b *testing.B, dir string, env []string) (window, spread, cpu time.Duration) {
	bin, _ := odutest.BinDir()
	cmd := exec.Command(filepath.Join(bin, "odu"), "run", "--progress", "json", "--no-post")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	running := map[string]time.Time{}
	var last time.Time
	succeeded := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var t struct {
			Node   string `json:"node"`
			Status string `json:"status"`
		}
		if json.Unmarshal(sc.Bytes(), &t) != nil || !strings.Contains(t.Node, "[") {
			continue // not a shard's transition
		}
		switch t.Status {
		case "running":
			if _, ok := running[t.Node]; !ok {
				running[t.Node] = time.Now()
			}
		case "success":
			last = time.Now()
			succeeded++
		}
	}
	if err := cmd.Wait(); err != nil {
		b.Fatalf("odu run: %v\n%s", err, stderr.String())
	}
	if succeeded != 4 || len(running) != 4 {
		b.Fatalf("odu run: %d shards ran and %d succeeded, want 4 of 4 (one lane per host)\n%s", len(running), succeeded, stderr.String())
	}
	var first, lastStart time.Time
	for _, t := range running {
		if first.IsZero() || t.Before(first) {
			first = t
		}
		if t.After(lastStart) {
			lastStart = t
		}
	}
	return last.Sub(first), lastStart.Sub(first), cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

// parallelCat copies each server's data file to a file of dsts with
// OpenSSH's client, all four at once, and returns when the last is done,
// and the CPU time of the four clients.
func parallelCat(b *testing.B, home string, key sshtest.Key, servers []*sshtest.Server, dsts []string) (time.Duration, time.Duration) {
	return parallelSSH(b, home, key, servers, dsts, func(s *sshtest.Server) string { return "cat " + filepath.Join(s.Cache, "data") })
}

// parallelSSH runs a command on each server with OpenSSH's client, all at
// once, its output into a file of dsts, and returns when the last is done,
// and the CPU time of the clients.
func parallelSSH(b *testing.B, home string, key sshtest.Key, servers []*sshtest.Server, dsts []string, command func(*sshtest.Server) string) (time.Duration, time.Duration) {
	cmds := make([]*exec.Cmd, len(servers))
	errs := make([]strings.Builder, len(servers))
	for i, s := range servers {
		f, err := os.Create(dsts[i])
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		cmds[i] = exec.Command("ssh", "-i", key.Path, "-o", "BatchMode=yes",
			"-o", "UserKnownHostsFile="+filepath.Join(home, ".ssh", "known_hosts"),
			"-p", strconv.Itoa(s.Port), s.User+"@"+s.Host, command(s))
		cmds[i].Stdout, cmds[i].Stderr = f, &errs[i]
	}
	start := time.Now()
	for i, c := range cmds {
		if err := c.Start(); err != nil {
			for _, started := range cmds[:i] {
				started.Process.Kill()
				started.Wait()
			}
			b.Fatal(err)
		}
	}
	var failed []string
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			failed = append(failed, fmt.Sprintf("%v: %v: %s", c.Args, err, errs[i].String()))
		}
	}
	d := time.Since(start)
	if failed != nil {
		b.Fatal(strings.Join(failed, "\n"))
	}
	var cpu time.Duration
	for _, c := range cmds {
		cpu += c.ProcessState.UserTime() + c.ProcessState.SystemTime()
	}
	return d, cpu
}

// hostsCPU is the CPU time used so far by everything the sshd servers of
// this process started (sshd, sessions, odu's runners, their nodes), from
// the servers' cgroups (internal/sshtest puts each in one of its own, named
// after this process); false when they cannot be read.
func hostsCPU() (time.Duration, bool) {
	own, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0, false
	}
	var rel string
	for _, l := range strings.Split(string(own), "\n") {
		if r, ok := strings.CutPrefix(l, "0::"); ok {
			rel = r
		}
	}
	pattern := "odu-sshtest-" + strconv.Itoa(os.Getpid()) + "-*"
	for _, mount := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		stats, _ := filepath.Glob(filepath.Join(mount, rel, pattern, "cpu.stat"))
		if len(stats) == 0 {
			continue
		}
		var total time.Duration
		for _, st := range stats {
			data, err := os.ReadFile(st)
			if err != nil {
				return 0, false
			}
			for _, l := range strings.Split(string(data), "\n") {
				if v, ok := strings.CutPrefix(l, "usage_usec "); ok {
					us, err := strconv.ParseInt(v, 10, 64)
					if err != nil {
						return 0, false
					}
					total += time.Duration(us) * time.Microsecond
				}
			}
		}
		return total, true
	}
	return 0, false
}

// BenchmarkColdSSHLane measures a cold SSH lane for this repository: a
// clone of the odu repository the benchmark runs in, at its HEAD, with a
// commit on top that makes its justfile one trivial ci recipe (so that
// the run is short: the source sent is the repository's, and the whole
// history of the commit goes, as odu sends it to a host that has none of
// it). Each contender meets a new sshd (nothing on the host) through a
// loopback TCP proxy that counts the bytes both ways:
//
//   - odu, cold: from `odu run` to its node running (the runner pushed,
//     the commit sent as a git pack, the workspace checked out, the
//     runner started);
//   - odu, source only: the same, on a host that has odu's runner (an
//     untimed run of another repository pushed it), so only the commit
//     goes;
//   - `git bundle create` of the same commit, then `scp` of the bundle and
//     of the odu binary (what odu's runner is) in one scp, and then, timed
//     apart, a `git clone` of the bundle on the host over ssh (a workspace,
//     as odu's figure includes one);
//   - the same with the bundle only.
//
// Alternating the four, medians, after an untimed odu run and scp.
//
//	go test ./bench -run '^$' -bench ColdSSHLane -benchtime 5x
func BenchmarkColdSSHLane(b *testing.B) {
	clonedRepo := selfClone(b)
	other := repoWith(b, "[metadata(\"ci\")]\nci:\n    @echo hi\n")
	home, key := sshHome(b)
	bin, _ := odutest.BinDir()
	exe := filepath.Join(bin, "odu")
	bundle := filepath.Join(b.TempDir(), "odu.bundle")

	// odu runs the clone's pipeline on a new host through a proxy; with
	// warm, the host first gets odu's runner from a run of another
	// repository, whose bytes are not counted.
	oduRound := func(warm bool) (time.Duration, int64) {
		s, p := proxiedServer(b, home, key)
		defer s.Stop()
		defer p.Close(b)
		// Two slots: the clone's lane never waits in line for the slot of
		// the other repository's runner, which may still be exiting.
		env := oduEnv(b, home, `{"x86_64-linux": {"host": "`+s.User+"@"+p.Addr()+`", "slots": 2}}`)
		if warm {
			runProgress(b, other, env...)
			p.Drain(b)
			p.Reset()
		}
		pr := runProgress(b, clonedRepo, env...)
		p.Drain(b)
		return pr.running.Sub(pr.started), p.Bytes()
	}
	// git bundle create, then scp of the bundle and files to a new host,
	// then, timed apart, a clone of the bundle there (the workspace odu's
	// figure includes).
	sshArgs := func(p *countProxy, port string) []string {
		return []string{"-i", key.Path, "-o", "BatchMode=yes",
			"-o", "UserKnownHostsFile=" + filepath.Join(home, ".ssh", "known_hosts"), port, strconv.Itoa(p.Port())}
	}
	scpRound := func(files ...string) (scp, cloned time.Duration, n int64) {
		s, p := proxiedServer(b, home, key)
		defer s.Stop()
		defer p.Close(b)
		os.Remove(bundle)
		start := time.Now()
		timeRun(b, clonedRepo, "git", "bundle", "create", "-q", bundle, "HEAD")
		args := append(append(append([]string{"scp", "-q"}, sshArgs(p, "-P")...), bundle), files...)
		timeRun(b, "/", append(args, s.User+"@"+p.Host()+":"+s.Cache+"/")...)
		scp = time.Since(start)
		p.Drain(b)
		n = p.Bytes()
		args = append(append([]string{"ssh"}, sshArgs(p, "-p")...), s.User+"@"+p.Host(),
			"git clone -q "+filepath.Join(s.Cache, filepath.Base(bundle))+" "+filepath.Join(s.Cache, "ws"))
		timeRun(b, "/", args...)
		return scp, time.Since(start), n
	}
	type round struct {
		cold, src, all, allClone, bun, bunClone time.Duration
		coldB, srcB, allB, bunB                 int64
	}
	fi, err := os.Stat(exe)
	if err != nil {
		b.Fatal(err)
	}
	runnerSize := fi.Size()
	// Each count must hold at least what is known to have passed: the
	// runner, the bundle (odu's pack is its size), else the proxy was
	// not in the way.
	atLeast := func(what string, n, min int64) {
		if n < min {
			b.Fatalf("%s: the proxy counted %d bytes, fewer than the %d that must have passed through it", what, n, min)
		}
	}
	one := func() round {
		var r round
		r.cold, r.coldB = oduRound(false)
		r.all, r.allClone, r.allB = scpRound(exe)
		bundleSize := fileSize(b, bundle)
		r.src, r.srcB = oduRound(true)
		r.bun, r.bunClone, r.bunB = scpRound()
		atLeast("odu, cold", r.coldB, runnerSize+bundleSize/2)
		atLeast("bundle and odu by scp", r.allB, runnerSize+bundleSize)
		atLeast("odu, the runner there", r.srcB, bundleSize/2)
		atLeast("bundle by scp", r.bunB, bundleSize)
		return r
	}
	// Warm-up, untimed: the page cache, git and the clone's files, odu's
	// and scp's first runs.
	oduRound(false)
	scpRound()
	var rounds []round
	b.ResetTimer()
	for b.Loop() {
		rounds = append(rounds, one())
	}
	cold, src := medianOf(rounds, func(r round) time.Duration { return r.cold }), medianOf(rounds, func(r round) time.Duration { return r.src })
	all, bun := medianOf(rounds, func(r round) time.Duration { return r.all }), medianOf(rounds, func(r round) time.Duration { return r.bun })
	allClone, bunClone := medianOf(rounds, func(r round) time.Duration { return r.allClone }), medianOf(rounds, func(r round) time.Duration { return r.bunClone })
	mb := func(f func(round) int64) float64 { return float64(medianOf(rounds, f)) / 1e6 }
	coldB, srcB := mb(func(r round) int64 { return r.coldB }), mb(func(r round) int64 { return r.srcB })
	allB, bunB := mb(func(r round) int64 { return r.allB }), mb(func(r round) int64 { return r.bunB })
	b.ReportMetric(float64(cold.Milliseconds()), "odu-cold-ms")
	b.ReportMetric(float64(src.Milliseconds()), "odu-src-ms")
	b.ReportMetric(float64(all.Milliseconds()), "bundle+odu-scp-ms")
	b.ReportMetric(float64(allClone.Milliseconds()), "bundle+odu-scp-clone-ms")
	b.ReportMetric(float64(bun.Milliseconds()), "bundle-scp-ms")
	b.ReportMetric(float64(bunClone.Milliseconds()), "bundle-scp-clone-ms")
	b.ReportMetric(coldB, "odu-cold-MB")
	b.ReportMetric(srcB, "odu-src-MB")
	b.ReportMetric(allB, "bundle+odu-scp-MB")
	b.ReportMetric(bunB, "bundle-scp-MB")
	b.ReportMetric(float64(cold)/float64(all), "cold/bundle+odu-time")
	b.ReportMetric(float64(cold)/float64(allClone), "cold/bundle+odu-clone-time")
	b.ReportMetric(coldB/allB, "cold/bundle+odu-bytes")
	b.ReportMetric(float64(src)/float64(bun), "src/bundle-time")
	b.ReportMetric(float64(src)/float64(bunClone), "src/bundle-clone-time")
	b.ReportMetric(srcB/bunB, "src/bundle-bytes")
	b.ReportMetric(float64(fileSize(b, bundle))/1e6, "bundle-file-MB")
	b.ReportMetric(float64(runnerSize)/1e6, "odu-file-MB")
}

func fileSize(b *testing.B, name string) int64 {
	fi, err := os.Stat(name)
	if err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}

// medianOf is the median of f over rs.
func medianOf[R any, V cmp.Ordered](rs []R, f func(R) V) V {
	vs := make([]V, len(rs))
	for i, r := range rs {
		vs[i] = f(r)
	}
	slices.Sort(vs)
	return vs[len(vs)/2]
}

// selfClone clones the repository the benchmark runs in at its HEAD
// (what is committed: changes not committed are not in it), and commits
// on top a justfile of one trivial ci recipe. It puts odu and the fast
// just first on PATH, as repoWith does.
func selfClone(b *testing.B) string {
	bin, err := odutest.BinDir()
	if err != nil {
		b.Fatal(err)
	}
	b.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		b.Fatalf("find the repository the benchmark runs in: git rev-parse --show-toplevel: %v", err)
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		b.Fatalf("git rev-parse HEAD: %v", err)
	}
	dir := filepath.Join(b.TempDir(), "odu")
	git := func(dir string, args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), odutest.GitEnv(b.TempDir())...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("/", "clone", "-q", strings.TrimSpace(string(top)), dir)
	git(dir, "reset", "-q", "--hard", strings.TrimSpace(string(head)))
	if err := os.WriteFile(filepath.Join(dir, "justfile"), []byte("[metadata(\"ci\")]\nci:\n    @echo hi\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	git(dir, "commit", "-q", "-am", "bench: a one-node ci recipe")
	return dir
}

// proxiedServer starts a new server for odu's key and a counting proxy in
// front of it, and makes known_hosts know the proxy's address by the
// server's host key (only it: a port of an earlier proxy may come again
// with another server's key).
func proxiedServer(b *testing.B, home string, key sshtest.Key) (*sshtest.Server, *countProxy) {
	s := sshtest.Start(b, sshtest.Options{Host: "127.0.0.60", Keys: []sshtest.Key{key}})
	p := newCountProxy(b, s.Host, net.JoinHostPort(s.Host, strconv.Itoa(s.Port)))
	line := fmt.Sprintf("[%s]:%d %s\n", p.Host(), p.Port(), s.HostKey)
	if err := os.WriteFile(filepath.Join(home, ".ssh", "known_hosts"), []byte(line), 0o600); err != nil {
		b.Fatal(err)
	}
	return s, p
}

// countProxy is a loopback TCP proxy that counts the bytes it carries,
// both ways.
type countProxy struct {
	ln     net.Listener
	target string
	n      atomic.Int64
	mu     sync.Mutex
	conns  map[net.Conn]bool
	active sync.WaitGroup // one per connection being carried
	wg     sync.WaitGroup // the accept loop and the copies
}

func newCountProxy(b *testing.B, host, target string) *countProxy {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		b.Fatal(err)
	}
	p := &countProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.wg.Go(p.accept)
	b.Cleanup(func() { p.Close(b) })
	return p
}

func (p *countProxy) Host() string { return p.ln.Addr().(*net.TCPAddr).IP.String() }
func (p *countProxy) Port() int    { return p.ln.Addr().(*net.TCPAddr).Port }
func (p *countProxy) Addr() string { return p.ln.Addr().String() }

// Bytes is how many bytes it carried, both ways, since the last Reset.
func (p *countProxy) Bytes() int64 { return p.n.Load() }

// Reset counts from zero again.
func (p *countProxy) Reset() { p.n.Store(0) }

func (p *countProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[s] = true, true
		p.mu.Unlock()
		p.active.Add(1)
		var both sync.WaitGroup
		both.Add(2)
		p.wg.Go(func() { p.copy(s, c); both.Done() })
		p.wg.Go(func() { p.copy(c, s); both.Done() })
		p.wg.Go(func() {
			both.Wait()
			c.Close()
			s.Close()
			p.mu.Lock()
			delete(p.conns, c)
			delete(p.conns, s)
			p.mu.Unlock()
			p.active.Done()
		})
	}
}

// copy carries one direction, counting, and passes its end on.
func (p *countProxy) copy(dst, src net.Conn) {
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.n.Add(int64(n))
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite() // the peer gone already: the other way ends too
	}
}

// Drain waits until every connection it carries has ended: the client
// and the server both closed their ends. Bounded: a connection left open
// is a benchmark's bug.
func (p *countProxy) Drain(b *testing.B) {
	done := make(chan struct{})
	go func() { p.active.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		p.mu.Lock()
		n := len(p.conns) / 2
		p.mu.Unlock()
		b.Fatalf("proxy to %s: %d connections still open 30 s after their client ended", p.target, n)
	}
}

// Close stops accepting, cuts what is still carried and waits for its
// goroutines.
func (p *countProxy) Close(b *testing.B) {
	if err := p.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		b.Error(err)
	}
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
