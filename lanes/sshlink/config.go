package sshlink

import (
	"fmt"
	"net"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kevinburke/ssh_config"

	"github.com/odu-ci/odu/lanes/hosts"
)

const (
	defaultAliveInterval  = 5 * time.Second
	defaultAliveCountMax  = 3
	defaultConnectTimeout = 15 * time.Second
)

// Target is an address resolved through ssh_config.
type Target struct {
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
func (t *Target) hostPort() string {
	return net.JoinHostPort(t.HostName, strconv.Itoa(t.Port))
}

// Env is where SSH finds its configuration: the user's home (for
// ~/.ssh), and the environment (for SSH_AUTH_SOCK).
type Env struct {
	Home   string
	Getenv func(string) string
}

func (e Env) settings() *ssh_config.UserSettings {
	s := &ssh_config.UserSettings{}
	s.ConfigFinder(func() string { return filepath.Join(e.Home, ".ssh", "config") })
	return s
}

// resolve parses an address (host, user@host, user@host:port, an alias)
// and fills in what ssh_config says of it.
func (e Env) resolve(addr string) (*Target, error) {
	a, err := hosts.ParseAddr(addr)
	if err != nil {
		return nil, &HostError{Addr: addr, Stage: Connect, Err: err}
	}
	t := &Target{Addr: addr, User: a.User}
	host, port := a.Host, a.Port
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
		return nil, &HostError{Addr: addr, Stage: Connect, Err: fmt.Errorf("port %q is not a port number", port)}
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
func (e Env) expand(path string, t *Target) string {
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
