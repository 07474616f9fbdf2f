package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/odu-ci/odu/internal/sshtest"
)

// sshHome makes a home for odu with a key the servers authorize and a
// known_hosts that knows them, and returns it with the key.
func sshHome(b *testing.B) (string, sshtest.Key) {
	home := b.TempDir()
	key := sshtest.NewKey(b)
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(key.Path)
	if err == nil {
		err = os.WriteFile(filepath.Join(home, ".ssh", "id_ed25519"), data, 0o600)
	}
	if err != nil {
		b.Fatal(err)
	}
	return home, key
}

// sshServer starts a server for odu's key and adds it to known_hosts.
func sshServer(b *testing.B, home string, key sshtest.Key) *sshtest.Server {
	s := sshtest.Start(b, sshtest.Options{Host: "127.0.0.2", Keys: []sshtest.Key{key}})
	f, err := os.OpenFile(filepath.Join(home, ".ssh", "known_hosts"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	fmt.Fprintln(f, s.KnownHostsLine())
	f.Close()
	return s
}

// firstRunning runs `odu run` in dir with the lane on addr and returns how
// long after its start the first node was running (as `--progress json`
// says), and how long the whole run took. The run must pass.
func firstRunning(b *testing.B, dir, home, addr string) (first, whole time.Duration) {
	p := runProgress(b, dir, sshEnv(b, home, addr)...)
	return p.running.Sub(p.started), p.ended
}

// sshEnv is the environment for odu with its lane on addr.
func sshEnv(b *testing.B, home, addr string) []string {
	hosts := filepath.Join(home, "hosts.json")
	if err := os.WriteFile(hosts, []byte(`{"x86_64-linux": "`+addr+`"}`), 0o600); err != nil {
		b.Fatal(err)
	}
	return []string{"HOME=" + home, "ODU_HOSTS=" + hosts}
}

// BenchmarkSSHFirstNode measures the time from `odu run` to its first node
// running on a loopback SSH lane: cold (a new host: the runner pushed and
// the commit sent) and warm (the host has both), against the same on the
// local lane and against OpenSSH's `ssh host true`, all in the same run.
//
//	go test ./bench -run '^$' -bench SSHFirstNode -benchtime 5x
func BenchmarkSSHFirstNode(b *testing.B) {
	dir := repoWith(b, "[metadata(\"ci\")]\nci:\n    @echo hi\n")
	home, key := sshHome(b)
	var cold, warm, local, ssh []time.Duration
	b.ResetTimer()
	for b.Loop() {
		s := sshServer(b, home, key) // a new host: nothing on it
		c, _ := firstRunning(b, dir, home, s.Addr())
		w, _ := firstRunning(b, dir, home, s.Addr())
		l, _ := firstRunning(b, dir, home, "localhost")
		ssh = append(ssh, timeRun(b, dir, "ssh", "-i", key.Path, "-o", "BatchMode=yes",
			"-o", "UserKnownHostsFile="+filepath.Join(home, ".ssh", "known_hosts"),
			"-p", strconv.Itoa(s.Port), s.User+"@"+s.Host, "true"))
		s.Stop()
		cold, warm, local = append(cold, c), append(warm, w), append(local, l)
	}
	c, w, l, sh := median(cold), median(warm), median(local), median(ssh)
	b.ReportMetric(float64(c.Milliseconds()), "cold-ms")
	b.ReportMetric(float64(w.Milliseconds()), "warm-ms")
	b.ReportMetric(float64(l.Milliseconds()), "local-ms")
	b.ReportMetric(float64(sh.Milliseconds()), "ssh-true-ms")
	b.ReportMetric(float64(w)/float64(l), "warm/local")
	b.ReportMetric(float64(w)/float64(sh), "warm/ssh-true")
}

// BenchmarkSSHLogStream streams 1 GiB from a node on a loopback SSH lane
// into its log file on the coordinator, against OpenSSH's own `ssh host
// cat data > file` on the same sshd, and reports the coordinator's peak
// RSS for 1 MiB and 1 GiB of output.
//
//	go test ./bench -run '^$' -bench SSHLogStream -benchtime 3x
func BenchmarkSSHLogStream(b *testing.B) {
	gib := float64(streamBytes())
	home, key := sshHome(b)
	s := sshServer(b, home, key)
	// The data lives where the host's user can read it.
	data := filepath.Join(s.Cache, "data")
	src := dataFile(b, int64(gib))
	if err := exec.Command("cp", src, data).Run(); err != nil {
		b.Fatal(err)
	}
	small := filepath.Join(s.Cache, "small")
	if err := os.Chmod(data, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(small, make([]byte, 1<<20), 0o644); err != nil {
		b.Fatal(err)
	}
	dst := filepath.Join(b.TempDir(), "dst")
	clean := func() { _ = exec.Command("sync").Run() } // fewer dirty pages to write meanwhile: best effort

	bigRepo := repoWith(b, "[metadata(\"ci\")]\nci:\n    @cat "+data+"\n")
	smallRepo := repoWith(b, "[metadata(\"ci\")]\nci:\n    @cat "+small+"\n")
	_, smallRSS := sshLogRun(b, smallRepo, home, s.Addr())
	var odu, raw []time.Duration
	var peak int64
	b.ResetTimer()
	for b.Loop() {
		clean()
		raw = append(raw, timeRun(b, "/", "sh", "-c", fmt.Sprintf("ssh -i %s -o BatchMode=yes -o UserKnownHostsFile=%s -p %d %s@%s cat %s > %s",
			key.Path, filepath.Join(home, ".ssh", "known_hosts"), s.Port, s.User, s.Host, data, dst)))
		os.Remove(dst)
		clean()
		d, rss := sshLogRun(b, bigRepo, home, s.Addr())
		odu = append(odu, d)
		peak = max(peak, rss)
	}
	o, r := median(odu), median(raw)
	b.ReportMetric(gib/o.Seconds()/1e6, "odu-MB/s")
	b.ReportMetric(gib/r.Seconds()/1e6, "ssh-MB/s")
	b.ReportMetric(float64(r)/float64(o), "ratio")
	b.ReportMetric(float64(smallRSS)/1024, "coord-MB-1MiB")
	b.ReportMetric(float64(peak)/1024, "coord-MB-1GiB")
}

// sshLogRun runs the repo's pipeline on the SSH lane and returns its one
// node's time from running to success as published (once the
// coordinator's copy of the log is whole), and the coordinator's peak RSS.
func sshLogRun(b *testing.B, dir, home, addr string) (time.Duration, int64) {
	p := runProgress(b, dir, sshEnv(b, home, addr)...)
	return p.success.Sub(p.running), p.peak[0]
}
