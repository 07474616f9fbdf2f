package hosts_test

import (
	"testing"

	"github.com/odu-ci/odu/lanes/hosts"
)

// An address splits as ssh splits it, and the ssh command line a hint
// shows for it is one ssh would accept.
func TestParseAddr(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want hosts.Addr
		cmd  string
	}{
		{"builder", hosts.Addr{Host: "builder"}, "ssh builder"},
		{"ci@builder", hosts.Addr{User: "ci", Host: "builder"}, "ssh ci@builder"},
		{"ci@builder:2222", hosts.Addr{User: "ci", Host: "builder", Port: "2222"}, "ssh -p 2222 ci@builder"},
		{"a@b@builder", hosts.Addr{User: "a@b", Host: "builder"}, "ssh a@b@builder"},
		{"[::1]:22", hosts.Addr{Host: "::1", Port: "22"}, "ssh -p 22 ::1"},
		{"ci@[fe80::1]", hosts.Addr{User: "ci", Host: "fe80::1"}, "ssh ci@fe80::1"},
		{"fe80::1", hosts.Addr{Host: "fe80::1"}, "ssh fe80::1"},
		{"localhost", hosts.Addr{Host: "localhost"}, "ssh localhost"},
	} {
		got, err := hosts.ParseAddr(tc.addr)
		if err != nil || got != tc.want {
			t.Errorf("ParseAddr(%q) = %+v, %v; want %+v", tc.addr, got, err, tc.want)
		}
		if cmd := got.SSHCommand(); cmd != tc.cmd {
			t.Errorf("ParseAddr(%q).SSHCommand() = %q, want %q", tc.addr, cmd, tc.cmd)
		}
	}
	for addr, want := range map[string]string{
		"":            `address "" is empty`,
		"-oProxy=x":   `address "-oProxy=x" starts with "-", which ssh would take as an option`,
		"@builder":    `address "@builder" has an empty user before "@"`,
		"builder:0":   `address "builder:0" has port 0, out of range 1-65535`,
		"ssh://b":     `address "ssh://b" is a URL; write user@host:port, without a scheme`,
		"[::1":        `address "[::1" has "[" without "]"`,
		"ci@:22":      `address "ci@:22" has no host`,
		"builder:ssh": `address "builder:ssh" has port "ssh", which is not a number`,
	} {
		if _, err := hosts.ParseAddr(addr); err == nil || err.Error() != want {
			t.Errorf("ParseAddr(%q) = %v, want %s", addr, err, want)
		}
	}
}
