package hosts

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Addr is a host address split as ssh splits it: [user@]host[:port],
// with an IPv6 host in brackets when a port follows it. Host may be an
// alias of ~/.ssh/config: what it resolves to is ssh's business.
type Addr struct {
	User string // before the last '@'; "" when the address names none
	Host string // without brackets
	Port string // digits; "" when the address names none
}

// AddrError says what is wrong with an address.
type AddrError struct {
	Addr    string
	Problem string // "is empty", "has no host", ...
}

func (e *AddrError) Error() string { return fmt.Sprintf("address %q %s", e.Addr, e.Problem) }

// ParseAddr splits an address as ssh does: the user from the host at the
// last '@', a port after "]" or after the one ':' (more than one ':'
// without brackets is an IPv6 address, without a port). It rejects only
// what cannot be an address (an *AddrError): empty, whitespace or control
// characters, a leading '-' (ssh would take it as an option), a URL, an
// empty user, host or port, a port that is not a number in 1-65535.
// [Localhost] is an address too, with only a Host.
func ParseAddr(addr string) (Addr, error) {
	bad := func(problem string) (Addr, error) { return Addr{}, &AddrError{Addr: addr, Problem: problem} }
	if strings.TrimSpace(addr) == "" {
		return bad("is empty")
	}
	for _, r := range addr {
		switch {
		case unicode.IsSpace(r):
			return bad("contains whitespace")
		case unicode.IsControl(r) || r == utf8.RuneError:
			return bad("contains a control character or invalid UTF-8")
		}
	}
	if addr == Localhost {
		return Addr{Host: Localhost}, nil
	}
	if strings.HasPrefix(addr, "-") {
		return bad(`starts with "-", which ssh would take as an option`)
	}
	if strings.Contains(addr, "://") {
		return bad("is a URL; write user@host:port, without a scheme")
	}
	var a Addr
	hostport := addr
	if i := strings.LastIndex(addr, "@"); i >= 0 {
		if i == 0 {
			return bad(`has an empty user before "@"`)
		}
		a.User, hostport = addr[:i], addr[i+1:]
	}
	a.Host = hostport
	hasPort := false
	switch {
	case strings.HasPrefix(hostport, "["): // [v6] or [v6]:port
		end := strings.Index(hostport, "]")
		if end < 0 {
			return bad(`has "[" without "]"`)
		}
		a.Host = hostport[1:end]
		if rest := hostport[end+1:]; rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return bad(fmt.Sprintf(`has %q after "]"; want [address]:port`, rest))
			}
			a.Port, hasPort = rest[1:], true
		}
	case strings.Count(hostport, ":") == 1:
		a.Host, a.Port, hasPort = strings.Cut(hostport, ":")
	}
	if a.Host == "" {
		return bad("has no host")
	}
	if strings.HasPrefix(a.Host, "-") {
		return bad(`has a host that starts with "-", which ssh would take as an option`)
	}
	if hasPort {
		if a.Port == "" {
			return bad(`has an empty port after ":"`)
		}
		for _, r := range a.Port {
			if r < '0' || r > '9' {
				return bad(fmt.Sprintf("has port %q, which is not a number", a.Port))
			}
		}
		if n, err := strconv.Atoi(a.Port); err != nil || n < 1 || n > 65535 {
			return bad(fmt.Sprintf("has port %s, out of range 1-65535", a.Port))
		}
	}
	return a, nil
}

// SSHCommand is the OpenSSH command line that dials the address, for
// hints: ssh takes a port with -p, not after the host.
func (a Addr) SSHCommand() string {
	cmd := "ssh "
	if a.Port != "" {
		cmd += "-p " + a.Port + " "
	}
	if a.User != "" {
		cmd += a.User + "@"
	}
	return cmd + a.Host
}
