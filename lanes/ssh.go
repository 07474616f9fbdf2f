package lanes

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kevinburke/ssh_config"
	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

// SSH: odu dials build hosts itself, with golang.org/x/crypto/ssh, as
// OpenSSH's ssh would: the address goes through ~/.ssh/config (HostName,
// User, Port, IdentityFile, IdentitiesOnly, ProxyJump for one hop,
// UserKnownHostsFile, StrictHostKeyChecking, ServerAliveInterval,
// ServerAliveCountMax, ConnectTimeout), authentication tries the
// IdentityFile keys, then the agent's ($SSH_AUTH_SOCK), then the default
// ~/.ssh/id_* keys (an encrypted key the agent does not hold is skipped
// with a note: odu never prompts), and host keys are checked against
// known_hosts. An unknown host is refused unless StrictHostKeyChecking is
// accept-new (or no) for it, a changed key always is.
//
// Keep-alives: every ServerAliveInterval (default 5 s) odu sends a
// keepalive@openssh.com request and waits as long for the answer; after
// ServerAliveCountMax (default 3) failures in a row it closes the link. So
// a dead link is noticed within interval × (count + 1): 20 s by default.

const (
	defaultAliveInterval  = 5 * time.Second
	defaultAliveCountMax  = 3
	defaultConnectTimeout = 15 * time.Second
)

// sshTarget is an address resolved through ssh_config.
type sshTarget struct {
	Addr           string // as configured: "builder", "user@host:2222"
	Alias          string // the host part, as looked up in ssh_config
	User           string
	HostName       string
	Port           int
	IdentityFiles  []string // explicitly configured
	IdentitiesOnly bool
	ProxyJump      string
	KnownHosts     []string
	StrictHostKeys string // "yes", "no", "accept-new", "ask"
	AliveInterval  time.Duration
	AliveCountMax  int
	ConnectTimeout time.Duration
}

// hostPort is how known_hosts names the target.
func (t *sshTarget) hostPort() string {
	return net.JoinHostPort(t.HostName, strconv.Itoa(t.Port))
}

// sshEnv is where SSH finds its configuration: the user's home (for
// ~/.ssh), and the environment (for SSH_AUTH_SOCK).
type sshEnv struct {
	Home   string
	Getenv func(string) string
}

func (e sshEnv) settings() *ssh_config.UserSettings {
	s := &ssh_config.UserSettings{}
	s.ConfigFinder(func() string { return filepath.Join(e.Home, ".ssh", "config") })
	return s
}

// resolve parses an address (host, user@host, user@host:port, an alias)
// and fills in what ssh_config says of it.
func (e sshEnv) resolve(addr string) (*sshTarget, error) {
	t := &sshTarget{Addr: addr}
	host := addr
	if u, h, ok := strings.Cut(host, "@"); ok {
		t.User, host = u, h
	}
	port := ""
	if strings.HasPrefix(host, "[") { // [::1]:22
		if end := strings.Index(host, "]"); end > 0 {
			port = strings.TrimPrefix(host[end+1:], ":")
			host = host[1:end]
		}
	} else if h, p, ok := strings.Cut(host, ":"); ok {
		host, port = h, p
	}
	t.Alias = host
	cfg := e.settings()
	get := func(key string) string {
		v, err := cfg.GetStrict(host, key)
		if err != nil {
			return ""
		}
		return v
	}
	t.HostName = strings.ReplaceAll(get("HostName"), "%h", host)
	if t.HostName == "" {
		t.HostName = host
	}
	if t.User == "" {
		t.User = get("User")
	}
	if t.User == "" {
		t.User = currentUser(e.Getenv)
	}
	if port == "" {
		port = get("Port")
	}
	if port == "" {
		port = "22"
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 {
		return nil, &HostError{Addr: addr, Err: fmt.Errorf("port %q is not a port number", port)}
	}
	t.Port = p
	if files, err := cfg.GetAllStrict(host, "IdentityFile"); err == nil {
		for _, f := range files {
			if f == "" || (len(files) == 1 && f == ssh_config.Default("IdentityFile")) {
				continue // the library's default, not the user's
			}
			t.IdentityFiles = append(t.IdentityFiles, e.expand(f, t))
		}
	}
	t.IdentitiesOnly = strings.EqualFold(get("IdentitiesOnly"), "yes")
	if j := get("ProxyJump"); j != "" && !strings.EqualFold(j, "none") {
		t.ProxyJump = j
	}
	if kh := get("UserKnownHostsFile"); kh != "" && !strings.EqualFold(kh, "none") {
		for _, f := range strings.Fields(kh) {
			t.KnownHosts = append(t.KnownHosts, e.expand(f, t))
		}
	} else {
		t.KnownHosts = []string{filepath.Join(e.Home, ".ssh", "known_hosts"), filepath.Join(e.Home, ".ssh", "known_hosts2")}
	}
	t.StrictHostKeys = strings.ToLower(get("StrictHostKeyChecking"))
	t.AliveInterval = seconds(get("ServerAliveInterval"), defaultAliveInterval)
	t.AliveCountMax = defaultAliveCountMax
	if n, err := strconv.Atoi(get("ServerAliveCountMax")); err == nil && n > 0 {
		t.AliveCountMax = n
	}
	t.ConnectTimeout = seconds(get("ConnectTimeout"), defaultConnectTimeout)
	return t, nil
}

func seconds(v string, def time.Duration) time.Duration {
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return def
}

// expand resolves ~ and the tokens ssh_config allows in file names.
func (e sshEnv) expand(path string, t *sshTarget) string {
	if path == "~" || strings.HasPrefix(path, "~/") {
		path = filepath.Join(e.Home, path[1:])
	}
	return strings.NewReplacer("%d", e.Home, "%u", currentUser(e.Getenv), "%r", t.User,
		"%h", t.HostName, "%p", strconv.Itoa(t.Port), "%%", "%").Replace(path)
}

func currentUser(getenv func(string) string) string {
	if u := getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "root"
}

// sshCommand is the OpenSSH command line that dials addr, for hints:
// ssh takes a port with -p, not after the host.
func sshCommand(addr string) string {
	user, host := "", addr
	if u, h, ok := strings.Cut(addr, "@"); ok {
		user, host = u+"@", h
	}
	if strings.HasPrefix(host, "[") {
		if end := strings.Index(host, "]"); end > 0 && strings.HasPrefix(host[end+1:], ":") {
			return "ssh -p " + host[end+2:] + " " + user + host[1:end]
		}
		return "ssh " + user + strings.Trim(host, "[]")
	}
	if h, p, ok := strings.Cut(host, ":"); ok {
		return "ssh -p " + p + " " + user + h
	}
	return "ssh " + addr
}

// HostError is a problem with a build host: unreachable, refused,
// misconfigured. Its message names the host.
type HostError struct {
	Addr string
	Err  error
	hint string
}

func (e *HostError) Error() string { return e.Addr + ": " + e.Err.Error() }

// connectTo says what a failed dial tried, naming the address only where
// ssh_config made it differ from the one the error starts with: a host
// is named once per message.
func connectTo(addr, hostPort string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		addr = addr[i+1:] // the user is not part of where it dialled
	}
	if host, _, err := net.SplitHostPort(hostPort); hostPort == addr || (err == nil && host == addr) {
		return "connect"
	}
	return "connect to " + hostPort
}

// connectError is a failed dial to hostPort for addr, without the
// address repeated.
func connectError(addr, hostPort string, err error) error {
	return fmt.Errorf("%s: %w", connectTo(addr, hostPort), dialCause(err))
}

// dialCause is what went wrong in a dial without the address, which
// [net.OpError] repeats ("dial tcp 127.0.0.1:1: connect: connection
// refused"). The cause still wraps the system error for errors.Is.
func dialCause(err error) error {
	var op *net.OpError
	if !errors.As(err, &op) || op.Err == nil {
		return err
	}
	var sys *os.SyscallError // "connect: connection refused": the verb again
	if errors.As(op.Err, &sys) {
		return sys.Err
	}
	return op.Err
}

func (e *HostError) Unwrap() error { return e.Err }

// Hint says what to do.
func (e *HostError) Hint() string {
	if e.hint != "" {
		return e.hint
	}
	var h interface{ Hint() string }
	if errors.As(e.Err, &h) {
		return h.Hint()
	}
	return ""
}

// UnknownHostError reports a host whose key is not in known_hosts.
type UnknownHostError struct {
	Host        string // host:port
	KeyType     string
	Fingerprint string // SHA256:...
	KnownHosts  string // the file it would go in
}

func (e *UnknownHostError) Error() string {
	return fmt.Sprintf("host key of %s is not known (%s %s)", e.Host, e.KeyType, e.Fingerprint)
}

// Hint says how to trust it.
func (e *UnknownHostError) Hint() string {
	host, port, _ := net.SplitHostPort(e.Host)
	scan := "ssh-keyscan " + host
	if port != "22" {
		scan = "ssh-keyscan -p " + port + " " + host
	}
	return fmt.Sprintf("Check that %s is the host's key, then trust it: `%s >> %s`, or `ssh` to it once; or set `StrictHostKeyChecking accept-new` for it in ~/.ssh/config.",
		e.Fingerprint, scan, e.KnownHosts)
}

// ChangedHostKeyError reports a host whose key differs from known_hosts:
// a reinstalled host, or someone in the middle.
type ChangedHostKeyError struct {
	Host        string
	Fingerprint string   // of the key the host showed
	Lines       []string // the known_hosts lines with its other key: "file:line"
}

func (e *ChangedHostKeyError) Error() string {
	return fmt.Sprintf("host key of %s has changed (it now shows %s); known_hosts has another at %s",
		e.Host, e.Fingerprint, strings.Join(e.Lines, ", "))
}

// Hint says what to do.
func (e *ChangedHostKeyError) Hint() string {
	host, _, _ := net.SplitHostPort(e.Host)
	return fmt.Sprintf("If the host was reinstalled, remove the old key (`ssh-keygen -R %s`) and trust the new one; otherwise someone may be in the middle: do not connect.", host)
}

func fingerprint(key ssh.PublicKey) string {
	sum := sha256.Sum256(key.Marshal())
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// hostKeys returns the host key callback and algorithms for a target.
func hostKeys(t *sshTarget) (ssh.HostKeyCallback, []string, error) {
	var files []string
	for _, f := range t.KnownHosts {
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
		}
	}
	var db *knownhosts.HostKeyDB
	if len(files) > 0 {
		var err error
		if db, err = knownhosts.NewDB(files...); err != nil {
			return nil, nil, fmt.Errorf("read known_hosts: %w", err)
		}
	}
	acceptNew := t.StrictHostKeys == "accept-new" || t.StrictHostKeys == "no"
	record := t.KnownHosts[0]
	var mu sync.Mutex
	cb := func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		hp := t.hostPort()
		var err error
		if db != nil {
			err = db.HostKeyCallback()(hostname, remote, key)
		} else {
			err = &xknownhosts.KeyError{} // no file: unknown
		}
		var kerr *xknownhosts.KeyError
		if err == nil || !errors.As(err, &kerr) {
			return err
		}
		if len(kerr.Want) > 0 {
			var lines []string
			for _, w := range kerr.Want {
				lines = append(lines, fmt.Sprintf("%s:%d", w.Filename, w.Line))
			}
			return &ChangedHostKeyError{Host: hp, Fingerprint: fingerprint(key), Lines: lines}
		}
		if !acceptNew {
			return &UnknownHostError{Host: hp, KeyType: key.Type(), Fingerprint: fingerprint(key), KnownHosts: record}
		}
		// The user accepts new hosts: record it, as ssh does.
		mu.Lock()
		defer mu.Unlock()
		if err := os.MkdirAll(filepath.Dir(record), 0o700); err != nil {
			return err
		}
		f, err := os.OpenFile(record, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("record the host key in %s: %w", record, err)
		}
		defer f.Close()
		_, err = fmt.Fprintln(f, knownhosts.Line([]string{knownhosts.Normalize(hp)}, key))
		return err
	}
	var algos []string
	if db != nil {
		algos = db.HostKeyAlgorithms(t.hostPort())
	}
	return cb, algos, nil
}

// authMethods returns how to authenticate to a target, and notes on the
// keys it skipped.
func (e sshEnv) authMethods(t *sshTarget) ([]ssh.AuthMethod, []string) {
	var notes []string
	var agentSigners []ssh.Signer
	if sock := e.Getenv("SSH_AUTH_SOCK"); sock != "" {
		if conn, err := net.Dial("unix", sock); err == nil {
			if s, err := agent.NewClient(conn).Signers(); err == nil {
				agentSigners = s
			}
		} else {
			notes = append(notes, "cannot reach the ssh-agent at "+sock+": "+err.Error())
		}
	}
	load := func(path string, explicit bool) ssh.Signer {
		data, err := os.ReadFile(path)
		if err != nil {
			if explicit {
				notes = append(notes, "identity file "+path+": "+err.Error())
			}
			return nil
		}
		s, err := ssh.ParsePrivateKey(data)
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			notes = append(notes, "skipped "+path+": it is encrypted and the ssh-agent does not hold it (ssh-add it)")
			return nil
		}
		if err != nil {
			notes = append(notes, "skipped "+path+": "+err.Error())
			return nil
		}
		return s
	}
	var signers []ssh.Signer
	for _, f := range t.IdentityFiles {
		if s := load(f, true); s != nil {
			signers = append(signers, s)
		}
	}
	if t.IdentitiesOnly {
		// Only the agent's keys that match a configured identity.
		for _, a := range agentSigners {
			for _, f := range t.IdentityFiles {
				if pub, err := os.ReadFile(f + ".pub"); err == nil {
					if pk, _, _, _, err := ssh.ParseAuthorizedKey(pub); err == nil && string(pk.Marshal()) == string(a.PublicKey().Marshal()) {
						signers = append(signers, a)
					}
				}
			}
		}
	} else {
		signers = append(signers, agentSigners...)
		if len(t.IdentityFiles) == 0 {
			for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
				if s := load(filepath.Join(e.Home, ".ssh", name), false); s != nil {
					signers = append(signers, s)
				}
			}
		}
	}
	return []ssh.AuthMethod{ssh.PublicKeys(signers...)}, notes
}

// link is a connection to a build host.
type link struct {
	target *sshTarget
	client *ssh.Client
	jump   *ssh.Client // the ProxyJump hop, if any
	done   chan struct{}
	err    error // why the link ended
	once   sync.Once
}

// dial connects to an address, through its ProxyJump if it has one, and
// keeps the link alive. notef receives notes on skipped keys.
func (e sshEnv) dial(ctx context.Context, addr string, notef func(string)) (*link, error) {
	t, err := e.resolve(addr)
	if err != nil {
		return nil, err
	}
	var jump *ssh.Client
	var conn net.Conn
	if t.ProxyJump != "" {
		if strings.Contains(t.ProxyJump, ",") {
			return nil, &HostError{Addr: addr, Err: errors.New("ProxyJump with more than one hop"),
				hint: "odu follows one ProxyJump hop; reach the host through one jump host."}
		}
		jl, err := e.dial(ctx, t.ProxyJump, notef)
		if err != nil {
			return nil, &HostError{Addr: addr, Err: fmt.Errorf("through ProxyJump %s: %w", t.ProxyJump, err)}
		}
		jump = jl.client
		conn, err = jump.DialContext(ctx, "tcp", t.hostPort())
		if err != nil {
			jump.Close()
			return nil, &HostError{Addr: addr, Err: fmt.Errorf("%s through %s: %w", connectTo(addr, t.hostPort()), t.ProxyJump, dialCause(err))}
		}
	} else {
		d := net.Dialer{Timeout: t.ConnectTimeout}
		conn, err = d.DialContext(ctx, "tcp", t.hostPort())
		if err != nil {
			return nil, &HostError{Addr: addr, Err: connectError(addr, t.hostPort(), err),
				hint: "Check that the host is up and sshd listens there: `" + sshCommand(addr) + " true` should work."}
		}
	}
	cb, algos, err := hostKeys(t)
	if err != nil {
		conn.Close()
		return nil, &HostError{Addr: addr, Err: err}
	}
	auth, notes := e.authMethods(t)
	for _, n := range notes {
		notef(n)
	}
	cfg := &ssh.ClientConfig{
		User: t.User, Auth: auth, HostKeyCallback: cb, HostKeyAlgorithms: algos,
		Timeout: t.ConnectTimeout,
	}
	// The handshake obeys the connect timeout, and ctx.
	conn.SetDeadline(time.Now().Add(t.ConnectTimeout))
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, t.hostPort(), cfg)
	stop()
	if err != nil {
		conn.Close()
		if jump != nil {
			jump.Close()
		}
		var uerr *UnknownHostError
		var cerr *ChangedHostKeyError
		switch {
		case errors.As(err, &uerr):
			return nil, &HostError{Addr: addr, Err: uerr}
		case errors.As(err, &cerr):
			return nil, &HostError{Addr: addr, Err: cerr}
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, &HostError{Addr: addr, Err: fmt.Errorf("authentication as %s failed", t.User),
				hint: "odu tries the IdentityFile keys, the ssh-agent's, and ~/.ssh/id_*: check that `" + sshCommand(addr) + " true` works without a prompt."}
		}
		return nil, &HostError{Addr: addr, Err: fmt.Errorf("ssh handshake: %w", err)}
	}
	conn.SetDeadline(time.Time{})
	l := &link{target: t, client: ssh.NewClient(c, chans, reqs), jump: jump, done: make(chan struct{})}
	go l.keepAlive()
	go func() {
		err := l.client.Wait()
		l.close(fmt.Errorf("the connection closed: %v", err))
	}()
	return l, nil
}

// keepAlive asks the host for a sign of life every interval, and closes
// the link after AliveCountMax unanswered requests in a row.
func (l *link) keepAlive() {
	tick := time.NewTicker(l.target.AliveInterval)
	defer tick.Stop()
	missed := 0
	for {
		select {
		case <-l.done:
			return
		case <-tick.C:
		}
		answered := make(chan error, 1)
		go func() {
			_, _, err := l.client.SendRequest("keepalive@openssh.com", true, nil)
			answered <- err
		}()
		select {
		case err := <-answered:
			if err == nil {
				missed = 0
				continue
			}
			missed++
		case <-time.After(l.target.AliveInterval):
			missed++
		case <-l.done:
			return
		}
		if missed >= l.target.AliveCountMax {
			l.close(fmt.Errorf("no answer to %d keep-alives in a row (every %s)", missed, l.target.AliveInterval))
			return
		}
	}
}

// close ends the link, once, recording why.
func (l *link) close(err error) {
	l.once.Do(func() {
		l.err = err
		close(l.done)
		l.client.Close()
		if l.jump != nil {
			l.jump.Close()
		}
	})
}

// Err says why the link ended; nil while it lives.
func (l *link) Err() error {
	select {
	case <-l.done:
		return l.err
	default:
		return nil
	}
}
