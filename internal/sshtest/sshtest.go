// Package sshtest starts real OpenSSH sshd servers on loopback for odu's
// tests: a [Server] is a host odu can reach over SSH as the test user
// odu-test, authenticated by the [Key]s a test makes, with a host key the
// test can put in a known_hosts file.
//
// # How a server runs
//
// The harness listens on Host:0 itself (so there is no race for a free
// port) and, for every connection it accepts, starts `/usr/sbin/sshd -i`
// (inetd mode) with the connection as its stdin and stdout. Each of these
// sshd processes leads its own process group, which holds sshd's monitor
// and its privilege-separated child; the session a client opens is started
// by sshd with setsid, so it is outside that group. Everything a server
// starts, sessions and whatever they leave running included, is also put
// in a cgroup of its own (cgroup v2, cloned straight into it, so nothing
// escapes by forking early or by setsid).
//
// Sessions get a fixed environment from sshd_config's SetEnv, which
// overrides sshd's defaults, PATH included (OpenSSH 9.2; all of it on one
// SetEnv line: sshd keeps only the first SetEnv directive, and within it
// the first value of a name):
//
//   - PATH starts with a bin directory of the server's own, which holds the
//     fast static just and, for Arch "aarch64", a uname that says aarch64.
//     With NoJust it holds links to every command of the usual PATH except
//     just, and is the whole PATH: /usr/bin has npm's just in it, and no
//     PATH that includes /usr/bin can leave it out.
//   - XDG_CACHE_HOME is a directory of the server's own, owned by
//     odu-test, so that what one test pushes is never seen by another.
//   - TMPDIR is a directory of the server's own too, owned by odu-test
//     and removed with the server: what a runner a test kills leaves in
//     it (a node's JUST_TEMPDIR) is not left behind in /tmp, as on a
//     host of its own.
//   - Options.Env comes first on the line, so it wins over all three.
//
// Setting these per server is why SetEnv is used: the home directory is
// shared by every server (so ~/.ssh/environment cannot differ between
// them), and a ForceCommand wrapper would change the commands odu runs.
//
// # Dropped links and stopping
//
// [Server.KillConnections] does what a dropped link does to a host: the
// connection's sshd processes die (SIGKILL to its process group), the
// client sees its connection closed, and the session's processes lose
// the other ends of their stdin, stdout and stderr: stdin ends (EOF), and
// the next write gets SIGPIPE. Nothing else signals them: without a pty
// there is no SIGHUP, so a session that never reads or writes (`sleep 30`)
// lives on as an orphan, exactly as on a real host. Noticing stdin's EOF and
// stopping what it started is the remote side's job (odu's runner); the
// harness does not do it for it.
//
// [Server.Stop] (also run by t.Cleanup) kills everything in the server's
// cgroup at once (cgroup.kill): sshd processes, sessions, orphans, and
// daemons started with setsid. It then waits until the cgroup is empty,
// removes it and the server's directory. sshd processes killed while their
// monitor dies too are left as zombies for init to reap; they run nothing.
// Directories and cgroups are named after the test process; when one was
// killed before its cleanup ran, the next test process to start a server
// kills and removes what it left.
//
// # What it needs
//
// Root (sshd switches to the test user), OpenSSH's sshd, the user odu-test
// and a writable cgroup v2 hierarchy, all made by `bash .ci/setup`; [Start]
// fails the test naming that step when one is missing.
package sshtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	sshdPath = "/usr/sbin/sshd"
	// testUser is the account every server lets in.
	testUser = "odu-test"
	// stopWait bounds how long Stop and KillConnections wait for killed
	// processes to be gone; SIGKILL takes effect in milliseconds, so
	// reaching it means something is wrong, not slow.
	stopWait = 10 * time.Second
)

// Key is a client key pair for tests: an unencrypted ed25519 private key
// file (mode 0600) and its public key line.
// T is what the harness needs of a test. *testing.T has it; so can an
// adapter for a testscript session, which starts its own servers.
type T interface {
	Helper()
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
	Failed() bool
	TempDir() string
}

type Key struct {
	// Path is the private key file, for ssh -i or an IdentityFile.
	Path string
	// Public is the authorized_keys line: "ssh-ed25519 AAAA... odu-test".
	Public string
}

// NewKey makes a new key pair in t.TempDir() with ssh-keygen.
func NewKey(t T) Key {
	t.Helper()
	path := filepath.Join(t.TempDir(), "id_ed25519")
	pub, err := keygen(path, testUser)
	if err != nil {
		t.Fatalf("make a test key: %v", err)
	}
	return Key{Path: path, Public: pub}
}

// keygen writes an ed25519 key pair at path (and path.pub) and returns
// the public key line.
func keygen(path, comment string) (string, error) {
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("run ssh-keygen: %w: %s (run `bash .ci/setup`)", err, strings.TrimSpace(string(out)))
	}
	pub, err := os.ReadFile(path + ".pub")
	if err != nil {
		return "", fmt.Errorf("read public key: %w", err)
	}
	return strings.TrimSpace(string(pub)), nil
}

// Options says what kind of host a [Server] is.
type Options struct {
	// Host is the loopback address to listen on, e.g. "127.0.0.2";
	// "127.0.0.1" when empty. Servers on different addresses stand for
	// different hosts.
	Host string
	// Keys are the keys authorized for the test user.
	Keys []Key
	// Arch is "" for the real machine, or "aarch64": then the sessions'
	// uname reports aarch64 as the machine (`uname -m`: "aarch64", `uname
	// -sm`: "Linux aarch64"), so odu pushes an arm64 runner, which runs
	// under qemu-user through binfmt_misc. The rest of the host (just
	// included) is this machine's, running natively.
	Arch string
	// NoJust makes the sessions find no just on PATH. Otherwise they find
	// the fast static just first.
	NoJust bool
	// Env holds extra KEY=VALUE pairs for the sessions. They win over the
	// harness's PATH and XDG_CACHE_HOME.
	Env []string
	// NetNS puts the server's listening socket in a network namespace of
	// its own, reached through a veth pair (see netns_linux.go), so that
	// [Server.LinkDown] can cut its link at the network level. Host is
	// then the namespace's address, and must be empty.
	NetNS bool
}

// Server is a running sshd that accepts connections for the test user.
type Server struct {
	// Host is the address listened on.
	Host string
	// Port is the port listened on.
	Port int
	// User is the user to log in as: "odu-test".
	User string
	// Dir is the server's temporary directory, removed by Stop.
	Dir string
	// Cache is the XDG_CACHE_HOME of the server's sessions, owned by the
	// test user and used by no other server.
	Cache string
	// HostKey is the host's public key: "ssh-ed25519 AAAA...".
	HostKey string

	t       T
	cfg     string
	log     string
	ln      net.Listener
	cg      *cgroup
	wg      sync.WaitGroup // the accept loop and one waiter per sshd
	stop    sync.Once
	mu      sync.Mutex
	stopped bool
	lost    bool // Lose killed its processes and removed its cgroup
	// refusing drops new connections at once (Refuse).
	refusing bool
	ns       *netns        // with Options.NetNS
	conns    map[int]*conn // by pid of sshd -i, which is also its pgid
}

// conn is one accepted connection's sshd -i.
type conn struct {
	pid  int
	done chan struct{} // closed once sshd -i exited and was reaped
}

// Start starts a server and stops it when the test ends. It fails the
// test when the machine lacks what servers need, naming `bash .ci/setup`.
func Start(t T, opts Options) *Server {
	t.Helper()
	if err := checkMachine(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	host := opts.Host
	if host == "" {
		host = "127.0.0.1"
	}
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && !opts.NetNS {
		t.Fatalf("start sshd: Host %q is not a loopback address", host)
	}
	if opts.NetNS && opts.Host != "" {
		t.Fatalf("start sshd: Host %q with NetNS: the namespace has its own address", host)
	}
	if opts.Arch != "" && opts.Arch != "aarch64" {
		t.Fatalf("start sshd: Arch %q: want \"\" or \"aarch64\"", opts.Arch)
	}
	for _, kv := range opts.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" || strings.ContainsAny(kv, "\n\r\x00") {
			t.Fatalf("start sshd: Env entry %q: want KEY=VALUE on one line", kv)
		}
	}
	u, err := user.Lookup(testUser)
	if err != nil {
		t.Fatalf("start sshd: no user %s: run `bash .ci/setup`", testUser)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)

	// Not t.TempDir: its parents are 0700, and the test user must reach
	// authorized_keys, the bin directory and the cache.
	sweepOnce.Do(sweepStale)
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	s := &Server{
		Host:  host,
		User:  testUser,
		Dir:   dir,
		Cache: filepath.Join(dir, "cache"),
		t:     t,
		cfg:   filepath.Join(dir, "sshd_config"),
		log:   filepath.Join(dir, "sshd.log"),
		conns: map[int]*conn{},
	}
	t.Cleanup(s.Stop)
	if err := s.prepare(opts, uid, gid); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	if s.cg, err = newCgroup(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	if opts.NetNS {
		if s.ns, err = newNetns(); err != nil {
			t.Fatalf("start sshd: %v", err)
		}
		s.Host = s.ns.addr
		s.ln, err = s.ns.listen()
	} else {
		s.ln, err = net.Listen("tcp", net.JoinHostPort(host, "0"))
	}
	if err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	s.Port = s.ln.Addr().(*net.TCPAddr).Port
	s.wg.Go(s.accept)
	return s
}

// checkMachine reports what the machine lacks to run sshd for tests.
func checkMachine() error {
	if os.Geteuid() != 0 {
		return errors.New("sshd must start as root to switch to the test user: run the tests as root")
	}
	if _, err := os.Stat(sshdPath); err != nil {
		return fmt.Errorf("%s is missing: run `bash .ci/setup` (it installs openssh-server)", sshdPath)
	}
	if _, err := os.Stat("/run/sshd"); err != nil {
		return errors.New("/run/sshd is missing (sshd refuses to start without it): run `bash .ci/setup`")
	}
	return nil
}

// prepare writes the server's files: host key, authorized_keys, cache,
// bin directory and sshd_config, and checks the config with sshd -t.
func (s *Server) prepare(opts Options, uid, gid int) error {
	if err := os.Chmod(s.Dir, 0o755); err != nil {
		return err
	}
	hostKey := filepath.Join(s.Dir, "hostkey")
	pub, err := keygen(hostKey, "odu-sshtest-host")
	if err != nil {
		return fmt.Errorf("make host key: %w", err)
	}
	fields := strings.Fields(pub)
	s.HostKey = fields[0] + " " + fields[1]

	var keys strings.Builder
	for _, k := range opts.Keys {
		keys.WriteString(k.Public + "\n")
	}
	authorized := filepath.Join(s.Dir, "authorized_keys")
	if err := os.WriteFile(authorized, []byte(keys.String()), 0o644); err != nil {
		return fmt.Errorf("write authorized_keys: %w", err)
	}

	if err := os.Mkdir(s.Cache, 0o700); err != nil {
		return fmt.Errorf("make cache: %w", err)
	}
	if err := os.Chown(s.Cache, uid, gid); err != nil {
		return fmt.Errorf("give cache to %s: %w", testUser, err)
	}

	tmp := filepath.Join(s.Dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return fmt.Errorf("make tmp: %w", err)
	}
	if err := os.Chown(tmp, uid, gid); err != nil {
		return fmt.Errorf("give tmp to %s: %w", testUser, err)
	}

	bin := filepath.Join(s.Dir, "bin")
	path, err := makeBin(bin, opts)
	if err != nil {
		return err
	}

	// One SetEnv line (sshd keeps only the first); on it the first value
	// of a name wins, so Options.Env goes first.
	env := append(append([]string{}, opts.Env...), "PATH="+path, "XDG_CACHE_HOME="+s.Cache, "TMPDIR="+tmp)
	var setenv []string
	for _, kv := range env {
		setenv = append(setenv, quote(kv))
	}
	cfg := fmt.Sprintf(`# odu internal/sshtest: sshd -i, started per connection by the harness.
HostKey %s
AuthorizedKeysFile %s
AllowUsers %s
PidFile none
UsePAM no
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitUserEnvironment no
LogLevel ERROR
Subsystem sftp internal-sftp
SetEnv %s
`, quote(hostKey), quote(authorized), testUser, strings.Join(setenv, " "))
	if err := os.WriteFile(s.cfg, []byte(cfg), 0o644); err != nil {
		return fmt.Errorf("write sshd_config: %w", err)
	}
	if out, err := exec.Command(sshdPath, "-t", "-f", s.cfg).CombinedOutput(); err != nil {
		return fmt.Errorf("check sshd_config (sshd -t): %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// quote quotes a word for sshd_config, whose parser takes backslash
// escapes inside double quotes.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// Addr is the address to dial: "odu-test@127.0.0.2:PORT".
func (s *Server) Addr() string {
	return s.User + "@" + net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
}

// KnownHostsLine is the server's known_hosts line:
// "[127.0.0.2]:PORT ssh-ed25519 AAAA...".
func (s *Server) KnownHostsLine() string {
	return fmt.Sprintf("[%s]:%d %s", s.Host, s.Port, s.HostKey)
}

// Stop kills every process the server started, sessions and what they
// left running included, and removes its files. It is safe to call more
// than once; t.Cleanup calls it too. When the test failed, it logs what
// sshd logged.
func (s *Server) Stop() {
	s.stop.Do(s.stopOnce)
}

func (s *Server) stopOnce() {
	t := s.t
	s.mu.Lock()
	s.stopped = true
	lost := s.lost
	s.mu.Unlock()
	if s.ln != nil {
		s.ln.Close()
	}
	if s.cg != nil && !lost {
		if err := s.cg.killAll(stopWait); err != nil {
			t.Errorf("stop sshd on %s: %v", s.Host, err)
		}
	}
	if !waitGroup(&s.wg, stopWait) {
		t.Errorf("stop sshd on %s: its sshd processes did not end within %v", s.Host, stopWait)
	}
	if t.Failed() {
		switch data, err := os.ReadFile(s.log); {
		case err != nil && !errors.Is(err, os.ErrNotExist):
			t.Logf("read the log of sshd on %s: %v", s.Host, err)
		case len(data) == 0:
			t.Logf("sshd on %s logged nothing (LogLevel ERROR)", s.Host)
		default:
			t.Logf("sshd on %s logged:\n%s", s.Host, data)
		}
	}
	if err := os.RemoveAll(s.Dir); err != nil {
		t.Errorf("stop sshd on %s: %v", s.Host, err)
	}
	if s.ns != nil {
		if err := s.ns.remove(); err != nil {
			t.Errorf("stop sshd on %s: %v", s.Host, err)
		}
	}
}

// LinkDown cuts the link to a server started with Options.NetNS at the
// network level: the namespace side of its veth goes down, and packets
// are dropped without a word to either end. LinkUp restores it.
func (s *Server) LinkDown() {
	if err := s.ns.setLink(false); err != nil {
		s.t.Fatalf("cut the link to %s: %v", s.Host, err)
	}
}

// LinkUp restores the link that LinkDown cut.
func (s *Server) LinkUp() {
	if err := s.ns.setLink(true); err != nil {
		s.t.Fatalf("restore the link to %s: %v", s.Host, err)
	}
}

// waitGroup waits for wg for at most d, and reports whether it was done.
func waitGroup(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}
