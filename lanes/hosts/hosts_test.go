package hosts_test

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/odu-ci/odu/lanes/hosts"
	"github.com/odu-ci/odu/platform"
)

// addrs returns each platform's pool as its addresses, with ",".
func addrs(c *hosts.HostsConfig) map[platform.Platform]string {
	out := map[platform.Platform]string{}
	for p, pool := range c.Pools {
		out[p] = strings.Join(pool.Addrs(), ",")
	}
	return out
}

// lane is a Host of one address and one slot, leased.
func lane(p platform.Platform, addr string) hosts.Host {
	return hosts.Host{Platform: p, Pool: hosts.Pool{{Addr: addr, Slots: 1}}, Leased: true}
}

// hinter is what the command line prints a hint from.
type hinter interface{ Hint() string }

// hostsEnv lays out files under a fresh directory and returns it, with a
// getenv that reads env, "{root}" in a value standing for the directory.
func hostsEnv(t *testing.T, files, env map[string]string) (string, func(string) string) {
	t.Helper()
	root := t.TempDir()
	for rel, content := range files {
		p := filepath.Join(root, rel)
		dir := filepath.Dir(p)
		if strings.HasSuffix(rel, "/") {
			dir = p // a directory, no file
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if dir == p {
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root, func(k string) string { return strings.ReplaceAll(env[k], "{root}", root) }
}

func TestLoadHostsPrecedence(t *testing.T) {
	local := platform.Local()
	odu := "home/.config/odu/hosts.json"
	justci := "home/.config/justci/hosts.json"
	tests := []struct {
		name       string
		files      map[string]string
		env        map[string]string
		flags      []string
		wantSource string // relative to the root, "" for none
		wantHosts  map[platform.Platform]string
		wantLooked []string // "{root}" stands for the root
	}{{
		name:       "no file: the local platform on localhost",
		wantHosts:  map[platform.Platform]string{local: "localhost"},
		wantLooked: []string{"--host", "{root}/" + odu, "{root}/" + justci},
	}, {
		name:       "justci's file when odu has none",
		files:      map[string]string{justci: `{"aarch64-darwin": "mac-mini"}`},
		wantSource: justci,
		wantHosts:  map[platform.Platform]string{"aarch64-darwin": "mac-mini"},
		wantLooked: []string{"--host", "{root}/" + odu, "{root}/" + justci},
	}, {
		name: "odu's file beats justci's",
		files: map[string]string{
			odu:    `{"x86_64-linux": "builder"}`,
			justci: `{"aarch64-darwin": "mac-mini"}`,
		},
		wantSource: odu,
		wantHosts:  map[platform.Platform]string{"x86_64-linux": "builder"},
		wantLooked: []string{"--host", "{root}/" + odu},
	}, {
		name: "$ODU_HOSTS beats both",
		files: map[string]string{
			"elsewhere/hosts.json": `{"i686-linux": "old-box"}`,
			odu:                    `{"x86_64-linux": "builder"}`,
			justci:                 `{"aarch64-darwin": "mac-mini"}`,
		},
		env:        map[string]string{"ODU_HOSTS": "{root}/elsewhere/hosts.json"},
		wantSource: "elsewhere/hosts.json",
		wantHosts:  map[platform.Platform]string{"i686-linux": "old-box"},
		wantLooked: []string{"--host", "$ODU_HOSTS ({root}/elsewhere/hosts.json)"},
	}, {
		name: "$XDG_CONFIG_HOME replaces ~/.config",
		files: map[string]string{
			"xdg/odu/hosts.json": `{"aarch64-linux": "pi"}`,
			odu:                  `{"x86_64-linux": "builder"}`,
		},
		env:        map[string]string{"XDG_CONFIG_HOME": "{root}/xdg"},
		wantSource: "xdg/odu/hosts.json",
		wantHosts:  map[platform.Platform]string{"aarch64-linux": "pi"},
		wantLooked: []string{"--host", "{root}/xdg/odu/hosts.json"},
	}, {
		name: "$XDG_CONFIG_HOME for justci's file too",
		files: map[string]string{
			"xdg/justci/hosts.json": `{"aarch64-linux": "pi"}`,
			odu:                     `{"x86_64-linux": "builder"}`,
		},
		env:        map[string]string{"XDG_CONFIG_HOME": "{root}/xdg"},
		wantSource: "xdg/justci/hosts.json",
		wantHosts:  map[platform.Platform]string{"aarch64-linux": "pi"},
		wantLooked: []string{"--host", "{root}/xdg/odu/hosts.json", "{root}/xdg/justci/hosts.json"},
	}, {
		name:       "a relative $XDG_CONFIG_HOME is ignored",
		files:      map[string]string{odu: `{"x86_64-linux": "builder"}`},
		env:        map[string]string{"XDG_CONFIG_HOME": "xdg"},
		wantSource: odu,
		wantHosts:  map[platform.Platform]string{"x86_64-linux": "builder"},
		wantLooked: []string{"--host", "{root}/" + odu},
	}, {
		name:       "--host pins a platform of the file",
		files:      map[string]string{odu: `{"x86_64-linux": "builder", "aarch64-darwin": "mac-mini"}`},
		flags:      []string{"x86_64-linux=localhost"},
		wantSource: odu,
		wantHosts:  map[platform.Platform]string{"x86_64-linux": "localhost", "aarch64-darwin": "mac-mini"},
		wantLooked: []string{"--host", "{root}/" + odu},
	}, {
		name:       "--host adds a platform to the file",
		files:      map[string]string{odu: `{"x86_64-linux": "builder"}`},
		flags:      []string{"aarch64-linux=me@pi:2222"},
		wantSource: odu,
		wantHosts:  map[platform.Platform]string{"x86_64-linux": "builder", "aarch64-linux": "me@pi:2222"},
		wantLooked: []string{"--host", "{root}/" + odu},
	}, {
		name:       "--host adds to the default lane",
		flags:      []string{"aarch64-darwin=mac-mini", "aarch64-darwin=mac-mini"},
		wantHosts:  map[platform.Platform]string{local: "localhost", "aarch64-darwin": "mac-mini"},
		wantLooked: []string{"--host", "{root}/" + odu, "{root}/" + justci},
	}, {
		name:       "--host pins the default lane",
		flags:      []string{string(local) + "=ci@[::1]:2222"},
		wantHosts:  map[platform.Platform]string{local: "ci@[::1]:2222"},
		wantLooked: []string{"--host", "{root}/" + odu, "{root}/" + justci},
	}, {
		name:       "a byte order mark is not an error",
		files:      map[string]string{odu: "\ufeff{\"x86_64-linux\": \"builder\"}"},
		wantSource: odu,
		wantHosts:  map[platform.Platform]string{"x86_64-linux": "builder"},
		wantLooked: []string{"--host", "{root}/" + odu},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, getenv := hostsEnv(t, tt.files, tt.env)
			c, err := hosts.LoadHosts(tt.flags, getenv, filepath.Join(root, "home"))
			if err != nil {
				t.Fatalf("LoadHosts(%q) error: %v", tt.flags, err)
			}
			wantSource := ""
			if tt.wantSource != "" {
				wantSource = filepath.Join(root, tt.wantSource)
			}
			if c.Source != wantSource {
				t.Errorf("LoadHosts(%q).Source = %q, want %q", tt.flags, c.Source, wantSource)
			}
			if got := addrs(c); !maps.Equal(got, tt.wantHosts) {
				t.Errorf("LoadHosts(%q) pools = %v, want %v", tt.flags, got, tt.wantHosts)
			}
			var wantLooked []string
			for _, l := range tt.wantLooked {
				wantLooked = append(wantLooked, strings.ReplaceAll(l, "{root}", root))
			}
			if !slices.Equal(c.Looked, wantLooked) {
				t.Errorf("LoadHosts(%q).Looked = %q, want %q", tt.flags, c.Looked, wantLooked)
			}
		})
	}
}

func TestLoadHostsAddresses(t *testing.T) {
	valid := []string{
		"localhost", "builder", "builder.example.com", "me@builder", "me@builder:2222",
		"mac-mini", "10.0.0.7", "10.0.0.7:22", "fe80::1", "[::1]", "[::1]:22", "me@[fe80::1%eth0]:2222",
		"me@corp.example@builder", "builder:65535", "localhost:22",
	}
	for _, addr := range valid {
		root, getenv := hostsEnv(t, map[string]string{"hosts.json": `{"x86_64-linux": "` + addr + `"}`},
			map[string]string{"ODU_HOSTS": "{root}/hosts.json"})
		c, err := hosts.LoadHosts(nil, getenv, root)
		if err != nil {
			t.Errorf("LoadHosts with address %q: %v, want it accepted", addr, err)
			continue
		}
		if got := addrs(c)["x86_64-linux"]; got != addr {
			t.Errorf("LoadHosts with address %q: pool of x86_64-linux = %q, want %q", addr, got, addr)
		}
		if _, err := hosts.LoadHosts([]string{"aarch64-linux=" + addr}, func(string) string { return "" }, root); err != nil {
			t.Errorf("LoadHosts(--host aarch64-linux=%s): %v, want it accepted", addr, err)
		}
	}
}

func TestLoadHostsFileErrors(t *testing.T) {
	const addrHint = `An address is "localhost" (this machine, no SSH) or what ssh would dial: host, user@host, user@host:port or a Host alias from ~/.ssh/config.`
	tests := []struct {
		name     string
		content  string
		wantErr  string // "{file}" stands for the file's path
		wantHint []string
	}{{
		name:     "a trailing comma",
		content:  `{"x86_64-linux": "a",}`,
		wantErr:  `{file}:1:22: invalid JSON: invalid character '}' looking for beginning of object key string`,
		wantHint: []string{"Fix the JSON at line 1, column 22", `{"x86_64-linux": "localhost", "aarch64-darwin": "mac-mini"}`},
	}, {
		name:     "a missing comma, on a later line",
		content:  "{\n  \"x86_64-linux\": \"a\"\n  \"aarch64-linux\": \"b\"\n}\n",
		wantErr:  `{file}:3:3: invalid JSON: invalid character '"' after object key:value pair`,
		wantHint: []string{"Fix the JSON at line 3, column 3"},
	}, {
		name:     "columns count characters, not bytes",
		content:  "{\"x86_64-linux\": \"été\" x}",
		wantErr:  `{file}:1:24: invalid JSON: invalid character 'x' after object key:value pair`,
		wantHint: []string{"line 1, column 24"},
	}, {
		name:     "a file cut short",
		content:  "{\n  \"x86_64-linux\": \"a\",\n",
		wantErr:  `{file}:3:1: invalid JSON: the file ends before the JSON object does`,
		wantHint: []string{"Fix the JSON at line 3, column 1"},
	}, {
		name:     "two values",
		content:  `{} {}`,
		wantErr:  `{file}:1:4: invalid JSON: invalid character '{' after top-level value`,
		wantHint: []string{"line 1, column 4"},
	}, {
		name:     "an empty file",
		content:  " \n",
		wantErr:  `{file}: the file is empty`,
		wantHint: []string{"Write a JSON object that maps platforms to hosts", `"aarch64-darwin": "mac-mini"`},
	}, {
		name:     "a list",
		content:  "\n  [\"x86_64-linux\"]",
		wantErr:  `{file}:2:3: the file must be a JSON object, not a list`,
		wantHint: []string{"Write a JSON object that maps platforms to hosts"},
	}, {
		name:     "a string",
		content:  `"localhost"`,
		wantErr:  `{file}:1:1: the file must be a JSON object, not a string`,
		wantHint: []string{"Write a JSON object"},
	}, {
		name:     "an unknown platform",
		content:  "{\n  \"x86_64-linux\": \"a\",\n  \"arm64-linux\": \"pi\"\n}",
		wantErr:  `{file}:3:3: key "arm64-linux": unknown platform`,
		wantHint: []string{`Did you mean "aarch64-linux"?`, "x86_64-linux, aarch64-linux, i686-linux, x86_64-darwin, aarch64-darwin", `"secrets"`},
	}, {
		name:     "keys are case-sensitive",
		content:  `{"X86_64-Linux": "a"}`,
		wantErr:  `{file}:1:2: key "X86_64-Linux": unknown platform`,
		wantHint: []string{`Did you mean "x86_64-linux"?`, "case-sensitive"},
	}, {
		name:     "Go's names",
		content:  `{"linux/arm64": "a"}`,
		wantErr:  `{file}:1:2: key "linux/arm64": unknown platform`,
		wantHint: []string{`Did you mean "aarch64-linux"?`},
	}, {
		name:     "nothing like a platform",
		content:  `{"ci": "a"}`,
		wantErr:  `{file}:1:2: key "ci": unknown platform`,
		wantHint: []string{"Keys are platforms (Nix system names, case-sensitive): x86_64-linux, aarch64-linux"},
	}, {
		name:     "Secrets",
		content:  `{"Secrets": ["A"]}`,
		wantErr:  `{file}:1:2: key "Secrets": unknown platform`,
		wantHint: []string{`Did you mean "secrets"?`},
	}, {
		name:     "a key twice",
		content:  "{\n  \"x86_64-linux\": \"a\",\n  \"x86_64-linux\": \"b\"\n}",
		wantErr:  `{file}:3:3: key "x86_64-linux": given twice (first on line 2)`,
		wantHint: []string{"Keep one of them."},
	}, {
		name:     "a number",
		content:  `{"x86_64-linux": 22}`,
		wantErr:  `{file}:1:18: key "x86_64-linux": the pool must be an address, a list or an object, not a number`,
		wantHint: []string{`one address, a list of them, or objects with "host" and "slots"`, `"x86_64-linux": ["builder-1", {"host": "big-box", "slots": 4}]`},
	}, {
		name:     "null",
		content:  `{"x86_64-linux": null}`,
		wantErr:  `{file}:1:18: key "x86_64-linux": the pool must be an address, a list or an object, not null`,
		wantHint: []string{`"x86_64-linux": ["builder-1"`},
	}, {
		name:     "a slot count of 0",
		content:  "{\n  \"x86_64-linux\": [\"b1\", {\"host\": \"big\", \"slots\": 0}]\n}",
		wantErr:  `{file}:2:51: key "x86_64-linux": item 2: "slots" is 0; it must be a whole number from 1 to 256`,
		wantHint: []string{`"slots" (a whole number, 1 or more; 1 when left out)`},
	}, {
		name:     "slots not a whole number",
		content:  `{"x86_64-linux": {"host": "big", "slots": 1.5}}`,
		wantErr:  `{file}:1:43: key "x86_64-linux": "slots" is 1.5; it must be a whole number from 1 to 256`,
		wantHint: []string{`{"host": "big-box", "slots": 4}`},
	}, {
		name:     "slots a string",
		content:  `{"x86_64-linux": {"host": "big", "slots": "4"}}`,
		wantErr:  `{file}:1:43: key "x86_64-linux": "slots" must be a whole number, 1 or more, not a string`,
		wantHint: []string{`"slots"`},
	}, {
		name:     "a host twice in a pool",
		content:  `{"x86_64-linux": ["b1", "b2", {"host": "b1", "slots": 2}]}`,
		wantErr:  `{file}:1:31: key "x86_64-linux": item 3: host "b1" is in the pool twice`,
		wantHint: []string{`Name each host once; give it more slots instead, e.g. {"host": "b1", "slots": 2}.`},
	}, {
		name:     "a host in two platforms' pools",
		content:  `{"x86_64-linux": ["b1"], "aarch64-linux": "b1"}`,
		wantErr:  `{file}:1:43: key "aarch64-linux": host "b1" is in the pool of x86_64-linux too; a host runs one platform`,
		wantHint: []string{"Keep the host in the pool of the platform it is."},
	}, {
		name:     "an unknown key in a host",
		content:  `{"x86_64-linux": [{"host": "b1", "slot": 2}]}`,
		wantErr:  `{file}:1:34: key "x86_64-linux": item 1: unknown key "slot"`,
		wantHint: []string{`Did you mean "slots"?`, `only "host" and "slots"`},
	}, {
		name:     "an object without a host",
		content:  `{"x86_64-linux": {"slots": 2}}`,
		wantErr:  `{file}:1:18: key "x86_64-linux": the object has no "host"`,
		wantHint: []string{`"host"`},
	}, {
		name:     "an empty pool",
		content:  `{"x86_64-linux": []}`,
		wantErr:  `{file}:1:18: key "x86_64-linux": the pool is an empty list`,
		wantHint: []string{`a list of them`},
	}, {
		name:     "a list in a list",
		content:  `{"x86_64-linux": [["b1"]]}`,
		wantErr:  `{file}:1:19: key "x86_64-linux": item 1 is a list; a pool is one list of hosts`,
		wantHint: []string{`a list of them`},
	}, {
		name:     "a bad address in a pool",
		content:  `{"x86_64-linux": ["b1", {"host": "-oProxyCommand=x"}]}`,
		wantErr:  `{file}:1:34: key "x86_64-linux": item 2: address "-oProxyCommand=x" starts with "-"`,
		wantHint: []string{`An address is "localhost"`},
	}, {
		name:     "a boolean",
		content:  `{"x86_64-linux": true}`,
		wantErr:  `key "x86_64-linux": the pool must be an address, a list or an object, not a boolean`,
		wantHint: []string{`"x86_64-linux": ["builder-1"`},
	}, {
		name:     "an empty address",
		content:  `{"x86_64-linux": ""}`,
		wantErr:  `{file}:1:18: key "x86_64-linux": address "" is empty`,
		wantHint: []string{addrHint},
	}, {
		name:     "a blank address",
		content:  `{"x86_64-linux": "  "}`,
		wantErr:  `key "x86_64-linux": address "  " is empty`,
		wantHint: []string{addrHint},
	}, {
		name:     "whitespace",
		content:  `{"x86_64-linux": "builder "}`,
		wantErr:  `key "x86_64-linux": address "builder " contains whitespace`,
		wantHint: []string{addrHint},
	}, {
		name:     "a control character",
		content:  `{"x86_64-linux": "build\u0000er"}`,
		wantErr:  `key "x86_64-linux": address "build\x00er" contains a control character or invalid UTF-8`,
		wantHint: []string{addrHint},
	}, {
		name:     "an ssh option",
		content:  `{"x86_64-linux": "-oProxyCommand=touch /tmp/x"}`,
		wantErr:  `address "-oProxyCommand=touch /tmp/x" contains whitespace`,
		wantHint: []string{addrHint},
	}, {
		name:     "an ssh option without spaces",
		content:  `{"x86_64-linux": "-oProxyCommand=id"}`,
		wantErr:  `{file}:1:18: key "x86_64-linux": address "-oProxyCommand=id" starts with "-", which ssh would take as an option`,
		wantHint: []string{addrHint},
	}, {
		name:     "a host that is an option",
		content:  `{"x86_64-linux": "me@-oProxyCommand=id"}`,
		wantErr:  `address "me@-oProxyCommand=id" has a host that starts with "-", which ssh would take as an option`,
		wantHint: []string{addrHint},
	}, {
		name:     "an empty user",
		content:  `{"x86_64-linux": "@builder"}`,
		wantErr:  `key "x86_64-linux": address "@builder" has an empty user before "@"`,
		wantHint: []string{addrHint},
	}, {
		name:     "no host",
		content:  `{"x86_64-linux": "me@"}`,
		wantErr:  `key "x86_64-linux": address "me@" has no host`,
		wantHint: []string{addrHint},
	}, {
		name:     "no host before the port",
		content:  `{"x86_64-linux": ":22"}`,
		wantErr:  `address ":22" has no host`,
		wantHint: []string{addrHint},
	}, {
		name:     "an empty port",
		content:  `{"x86_64-linux": "me@builder:"}`,
		wantErr:  `key "x86_64-linux": address "me@builder:" has an empty port after ":"`,
		wantHint: []string{addrHint},
	}, {
		name:     "a port that is not a number",
		content:  `{"x86_64-linux": "me@builder:ssh"}`,
		wantErr:  `key "x86_64-linux": address "me@builder:ssh" has port "ssh", which is not a number`,
		wantHint: []string{addrHint},
	}, {
		name:     "port 0",
		content:  `{"x86_64-linux": "builder:0"}`,
		wantErr:  `key "x86_64-linux": address "builder:0" has port 0, out of range 1-65535`,
		wantHint: []string{addrHint},
	}, {
		name:     "a port too large",
		content:  `{"x86_64-linux": "builder:65536"}`,
		wantErr:  `address "builder:65536" has port 65536, out of range 1-65535`,
		wantHint: []string{addrHint},
	}, {
		name:     "a port far too large",
		content:  `{"x86_64-linux": "builder:99999999999999999999999"}`,
		wantErr:  `has port 99999999999999999999999, out of range 1-65535`,
		wantHint: []string{addrHint},
	}, {
		name:     "an IPv6 address without its bracket",
		content:  `{"x86_64-linux": "[::1:22"}`,
		wantErr:  `address "[::1:22" has "[" without "]"`,
		wantHint: []string{addrHint},
	}, {
		name:     "junk after an IPv6 address",
		content:  `{"x86_64-linux": "[::1]22"}`,
		wantErr:  `address "[::1]22" has "22" after "]"; want [address]:port`,
		wantHint: []string{addrHint},
	}, {
		name:     "a URL",
		content:  `{"x86_64-linux": "ssh://me@builder:22"}`,
		wantErr:  `address "ssh://me@builder:22" is a URL; write user@host:port, without a scheme`,
		wantHint: []string{addrHint},
	}, {
		name:     "secrets as a string",
		content:  `{"x86_64-linux": "a", "secrets": "NPM_TOKEN"}`,
		wantErr:  `{file}:1:34: key "secrets": must be a list of environment variable names, not a string`,
		wantHint: []string{`e.g. "secrets": ["NPM_TOKEN"]`},
	}, {
		name:     "secrets as null",
		content:  `{"secrets": null}`,
		wantErr:  `{file}:1:13: key "secrets": must be a list of environment variable names, not null`,
		wantHint: []string{`e.g. "secrets": ["NPM_TOKEN"]`},
	}, {
		name:     "a secret that is a number",
		content:  `{"secrets": ["A", 1]}`,
		wantErr:  `key "secrets": item 2 is a number, not a name`,
		wantHint: []string{`"secrets" lists the names of environment variables`},
	}, {
		name:     "a secret that is not a name",
		content:  `{"secrets": ["NPM-TOKEN"]}`,
		wantErr:  `key "secrets": "NPM-TOKEN" is not an environment variable name`,
		wantHint: []string{"letters, digits and _ not starting with a digit"},
	}, {
		name:     "a secret starting with a digit",
		content:  `{"secrets": ["1PASSWORD"]}`,
		wantErr:  `key "secrets": "1PASSWORD" is not an environment variable name`,
		wantHint: []string{"letters, digits and _"},
	}, {
		name:     "an empty secret",
		content:  `{"secrets": [""]}`,
		wantErr:  `key "secrets": "" is not an environment variable name`,
		wantHint: []string{"letters, digits and _"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, getenv := hostsEnv(t, map[string]string{"home/.config/odu/hosts.json": tt.content}, nil)
			file := filepath.Join(root, "home/.config/odu/hosts.json")
			c, err := hosts.LoadHosts(nil, getenv, filepath.Join(root, "home"))
			if err == nil {
				t.Fatalf("LoadHosts(%q) = %+v, want an error", tt.content, c)
			}
			checkHostsError(t, err, strings.ReplaceAll(tt.wantErr, "{file}", file), tt.wantHint)
			var he *hosts.HostsError
			if !errors.As(err, &he) {
				t.Errorf("LoadHosts(%q) error is %T, want *hosts.HostsError", tt.content, err)
			} else if he.Path != file {
				t.Errorf("LoadHosts(%q) error Path = %q, want %q", tt.content, he.Path, file)
			}
		})
	}
}

// checkHostsError checks that err says wantErr and its hint says each of
// wantHint.
func checkHostsError(t *testing.T, err error, wantErr string, wantHint []string) {
	t.Helper()
	if !strings.Contains(err.Error(), wantErr) {
		t.Errorf("error = %q, want it to say %q", err, wantErr)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error = %q, want one line", err)
	}
	h, ok := err.(hinter)
	if !ok {
		t.Fatalf("error %q (%T) has no Hint", err, err)
	}
	for _, w := range wantHint {
		if !strings.Contains(h.Hint(), w) {
			t.Errorf("hint = %q, want it to say %q", h.Hint(), w)
		}
	}
}

func TestLoadHostsUnreadable(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		env      map[string]string
		wantErr  string
		wantHint string
	}{{
		name:     "$ODU_HOSTS names a missing file",
		files:    map[string]string{"home/.config/odu/hosts.json": `{"x86_64-linux": "a"}`},
		env:      map[string]string{"ODU_HOSTS": "{root}/nope.json"},
		wantErr:  "$ODU_HOSTS is {root}/nope.json, and there is no such file",
		wantHint: "Point $ODU_HOSTS at a readable hosts file, or unset it to use ~/.config/odu/hosts.json.",
	}, {
		name:     "$ODU_HOSTS names a directory",
		files:    map[string]string{"dir/": ""},
		env:      map[string]string{"ODU_HOSTS": "{root}/dir"},
		wantErr:  "read hosts file {root}/dir (from $ODU_HOSTS): is a directory",
		wantHint: "Point $ODU_HOSTS at a readable hosts file",
	}, {
		name:     "odu's file is a directory",
		files:    map[string]string{"home/.config/odu/hosts.json/": "", "home/.config/justci/hosts.json": `{}`},
		wantErr:  "read hosts file {root}/home/.config/odu/hosts.json: is a directory",
		wantHint: "Make {root}/home/.config/odu/hosts.json a readable file, or remove it.",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, getenv := hostsEnv(t, tt.files, tt.env)
			c, err := hosts.LoadHosts(nil, getenv, filepath.Join(root, "home"))
			if err == nil {
				t.Fatalf("LoadHosts = %+v, want an error", c)
			}
			r := strings.NewReplacer("{root}", root)
			checkHostsError(t, err, r.Replace(tt.wantErr), []string{r.Replace(tt.wantHint)})
		})
	}
}

func TestLoadHostsFlagErrors(t *testing.T) {
	const form = "--host aarch64-linux=builder.example.com"
	tests := []struct {
		flags    []string
		wantErr  string
		wantHint []string
	}{
		{[]string{"aarch64-linux"}, `--host aarch64-linux: want PLATFORM=ADDRESS, there is no "="`, []string{form}},
		{[]string{"=builder"}, `--host =builder: the platform before "=" is empty`, []string{form}},
		{[]string{"aarch64-linux="}, `--host aarch64-linux=: the address after "=" is empty`, []string{form}},
		{[]string{"aarch64-linux= "}, `--host aarch64-linux= : the address after "=" is empty`, []string{form}},
		{[]string{"arm64-linux=pi"}, `--host arm64-linux=pi: unknown platform "arm64-linux"`,
			[]string{"Did you mean --host aarch64-linux=pi?", "x86_64-linux, aarch64-linux, i686-linux, x86_64-darwin, aarch64-darwin", form}},
		{[]string{"linux=pi"}, `--host linux=pi: unknown platform "linux"`, []string{"Platforms are Nix system names", form}},
		{[]string{"x86_64-linux=-oProxyCommand=id"}, `--host x86_64-linux=-oProxyCommand=id: address "-oProxyCommand=id" starts with "-", which ssh would take as an option`,
			[]string{"user@host:port"}},
		{[]string{"x86_64-linux=me@builder:0"}, `--host x86_64-linux=me@builder:0: address "me@builder:0" has port 0, out of range 1-65535`, []string{"user@host:port"}},
		{[]string{"x86_64-linux=a", "x86_64-linux=b"}, `--host x86_64-linux=b: x86_64-linux is already pinned to "a" by another --host`, []string{"Give one --host per platform."}},
	}
	for _, tt := range tests {
		// A malformed flag is an error whatever the file says.
		_, getenv := hostsEnv(t, map[string]string{"hosts.json": `{"x86_64-linux": "a"}`}, map[string]string{"ODU_HOSTS": "{root}/hosts.json"})
		c, err := hosts.LoadHosts(tt.flags, getenv, t.TempDir())
		if err == nil {
			t.Errorf("LoadHosts(%q) = %+v, want an error", tt.flags, c)
			continue
		}
		checkHostsError(t, err, tt.wantErr, tt.wantHint)
		var fe *hosts.HostFlagError
		if !errors.As(err, &fe) {
			t.Errorf("LoadHosts(%q) error is %T, want *hosts.HostFlagError", tt.flags, err)
		}
	}
}

func TestLoadHostsSecrets(t *testing.T) {
	tests := []struct {
		content string
		want    []string
	}{
		{`{"x86_64-linux": "localhost"}`, nil},
		{`{"x86_64-linux": "localhost", "secrets": []}`, nil},
		{`{"secrets": ["NPM_TOKEN", "_x", "CARGO_REGISTRY_TOKEN2", "NPM_TOKEN"], "x86_64-linux": "localhost"}`,
			[]string{"NPM_TOKEN", "_x", "CARGO_REGISTRY_TOKEN2"}},
	}
	for _, tt := range tests {
		root, getenv := hostsEnv(t, map[string]string{"hosts.json": tt.content}, map[string]string{"ODU_HOSTS": "{root}/hosts.json"})
		c, err := hosts.LoadHosts(nil, getenv, root)
		if err != nil {
			t.Errorf("LoadHosts(%s): %v", tt.content, err)
			continue
		}
		if !slices.Equal(c.Secrets, tt.want) {
			t.Errorf("LoadHosts(%s).Secrets = %q, want %q", tt.content, c.Secrets, tt.want)
		}
	}
}

func TestHostsLanes(t *testing.T) {
	local := platform.Local()
	other := platform.Platform("aarch64-darwin")
	if local == other {
		other = "x86_64-linux"
	}
	tests := []struct {
		name    string
		file    string // "" for none
		flags   []string
		asked   []platform.Platform
		want    []hosts.Host
		wantErr string   // "{file}", "{root}" stand for the file and the root
		hint    []string // what the hint says
	}{{
		name: "none asked: every platform, in Known order",
		file: `{"aarch64-darwin": "mac-mini", "x86_64-linux": "localhost", "aarch64-linux": "me@pi:2222"}`,
		want: []hosts.Host{lane("x86_64-linux", "localhost"), lane("aarch64-linux", "me@pi:2222"), lane("aarch64-darwin", "mac-mini")},
	}, {
		name:  "the platforms asked, in the order asked, once",
		file:  `{"aarch64-darwin": "mac-mini", "x86_64-linux": "localhost", "aarch64-linux": "pi"}`,
		asked: []platform.Platform{"aarch64-darwin", "x86_64-linux", "aarch64-darwin"},
		want:  []hosts.Host{lane("aarch64-darwin", "mac-mini"), lane("x86_64-linux", "localhost")},
	}, {
		name: "no file: the local lane",
		want: []hosts.Host{{Platform: local, Pool: hosts.Pool{{Addr: "localhost", Slots: 1}}}}, // no pool to share: no lease
	}, {
		name:  "no file, with --host",
		flags: []string{string(other) + "=builder"},
		asked: []platform.Platform{other, local},
		want:  []hosts.Host{lane(other, "builder"), {Platform: local, Pool: hosts.Pool{{Addr: "localhost", Slots: 1}}}},
	}, {
		name:    "a platform the file lacks",
		file:    `{"x86_64-linux": "localhost"}`,
		asked:   []platform.Platform{"x86_64-linux", "aarch64-darwin", "i686-linux"},
		wantErr: "no host for aarch64-darwin, i686-linux: not given by --host, nor in {file} (odu looked at --host, $ODU_HOSTS ({file}))",
		hint:    []string{`Add "aarch64-darwin": "ADDR", "i686-linux": "ADDR" to {file}, or pass --host aarch64-darwin=ADDR --host i686-linux=ADDR for this run.`},
	}, {
		name:    "a platform asked with no file",
		asked:   []platform.Platform{other},
		wantErr: "no host for " + string(other) + ": not given by --host, and no hosts file exists (odu looked at --host, {root}/.config/odu/hosts.json, {root}/.config/justci/hosts.json)",
		hint: []string{
			"Pass --host " + string(other) + "=ADDR for this run, or create {root}/.config/odu/hosts.json with " +
				`{"` + string(local) + `": "localhost", "` + string(other) + `": "ADDR"}.`,
		},
	}, {
		name:    "a file with no platform",
		file:    `{"secrets": ["NPM_TOKEN"]}`,
		wantErr: "no platform has a host: {file} configures none (odu looked at --host, $ODU_HOSTS ({file}))",
		hint:    []string{`Add "` + string(local) + `": "ADDR" to {file}`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{}
			env := map[string]string{}
			if tt.file != "" {
				files["hosts.json"] = tt.file
				env["ODU_HOSTS"] = "{root}/hosts.json"
			}
			root, getenv := hostsEnv(t, files, env)
			c, err := hosts.LoadHosts(tt.flags, getenv, root)
			if err != nil {
				t.Fatalf("LoadHosts(%q): %v", tt.flags, err)
			}
			got, err := c.Lanes(tt.asked)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Lanes(%q): %v", tt.asked, err)
				}
				if !slices.EqualFunc(got, tt.want, func(a, b hosts.Host) bool {
					return a.Platform == b.Platform && a.Leased == b.Leased && slices.Equal(a.Pool, b.Pool)
				}) {
					t.Errorf("Lanes(%q) = %v, want %v", tt.asked, got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Lanes(%q) = %v, want an error", tt.asked, got)
			}
			r := strings.NewReplacer("{file}", filepath.Join(root, "hosts.json"), "{root}", root)
			var hint []string
			for _, h := range tt.hint {
				hint = append(hint, r.Replace(h))
			}
			checkHostsError(t, err, r.Replace(tt.wantErr), hint)
			var ne *hosts.NoHostError
			if !errors.As(err, &ne) {
				t.Errorf("Lanes(%q) error is %T, want *hosts.NoHostError", tt.asked, err)
			}
		})
	}
}

func FuzzLoadHostsFile(f *testing.F) {
	f.Add([]byte(`{"x86_64-linux": "localhost", "aarch64-darwin": "me@mac-mini:2222"}`))
	f.Add([]byte(`{"secrets": ["NPM_TOKEN"], "aarch64-linux": "[fe80::1]:22"}`))
	f.Add([]byte("\ufeff{\n  \"i686-linux\": \"old\",\n  \"i686-linux\": \"new\"\n}"))
	f.Add([]byte(`{"x86_64-linux": "a",}`))
	f.Add([]byte(`{"x86_64-linux": "\u0000", "x86_64-darwin": 1e999}`))
	f.Add([]byte(`[{"x86_64-linux": "a"}]`))
	f.Add([]byte("{\"x86_64-linux\": \"\xff\"}"))
	f.Add([]byte(`{"x86_64-linux": ["b1", {"host": "big", "slots": 4}], "aarch64-linux": {"host": "pi"}}`))
	f.Add([]byte(`{"x86_64-linux": [{"host": "b1", "slots": 0}, "b1", [], {"slot": 1}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "hosts.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		getenv := func(k string) string {
			if k == "ODU_HOSTS" {
				return path
			}
			return ""
		}
		c, err := hosts.LoadHosts(nil, getenv, dir)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Errorf("LoadHosts(%q) error = %q, want it to name %s", data, err, path)
			}
			if h, ok := err.(hinter); !ok || h.Hint() == "" {
				t.Errorf("LoadHosts(%q) error = %q, want a hint", data, err)
			}
		} else {
			checkAccepted(t, c, string(data))
		}

		// The same bytes as a --host value, over the default lane.
		c, err = hosts.LoadHosts([]string{string(data)}, func(string) string { return "" }, dir)
		if err != nil {
			if h, ok := err.(hinter); !ok || h.Hint() == "" {
				t.Errorf("LoadHosts(--host %q) error = %q, want a hint", data, err)
			}
		} else {
			checkAccepted(t, c, "--host "+string(data))
		}
	})
}

// checkAccepted checks what LoadHosts accepted from input.
func checkAccepted(t *testing.T, c *hosts.HostsConfig, input string) {
	t.Helper()
	for p, addr := range addrs(c) {
		if _, err := platform.Parse(string(p)); err != nil && p != platform.Local() {
			t.Errorf("LoadHosts(%q) accepted platform %q", input, p)
		}
		if strings.TrimSpace(addr) == "" || strings.ContainsAny(addr, " \t\r\n") || strings.HasPrefix(addr, "-") {
			t.Errorf("LoadHosts(%q) accepted address %q for %s", input, addr, p)
		}
	}
	for _, s := range c.Secrets {
		if s == "" || strings.ContainsAny(s[:1], "0123456789") {
			t.Errorf("LoadHosts(%q) accepted secret %q", input, s)
		}
	}
	if _, err := c.Lanes(nil); err != nil && len(c.Pools) > 0 {
		t.Errorf("LoadHosts(%q).Lanes(nil): %v", input, err)
	}
}

func TestLoadHostsPools(t *testing.T) {
	file := `{
  "x86_64-linux": ["builder-1", "builder-2", {"host": "big-box", "slots": 4}],
  "aarch64-linux": {"host": "pi", "slots": 1},
  "aarch64-darwin": "mac-mini",
  "secrets": ["NPM_TOKEN"]
}`
	root, getenv := hostsEnv(t, map[string]string{"hosts.json": file}, map[string]string{"ODU_HOSTS": "{root}/hosts.json"})
	c, err := hosts.LoadHosts(nil, getenv, root)
	if err != nil {
		t.Fatalf("LoadHosts: %v", err)
	}
	want := map[platform.Platform]hosts.Pool{
		"x86_64-linux":   {{"builder-1", 1}, {"builder-2", 1}, {"big-box", 4}},
		"aarch64-linux":  {{"pi", 1}},
		"aarch64-darwin": {{"mac-mini", 1}},
	}
	if !maps.EqualFunc(c.Pools, want, slices.Equal) {
		t.Errorf("LoadHosts(%s).Pools = %v, want %v", file, c.Pools, want)
	}
	if !slices.Equal(c.Secrets, []string{"NPM_TOKEN"}) {
		t.Errorf("LoadHosts(%s).Secrets = %q, want [NPM_TOKEN]", file, c.Secrets)
	}
	ls, err := c.Lanes([]platform.Platform{"x86_64-linux"})
	if err != nil || len(ls) != 1 || !ls[0].Leased || !slices.Equal(ls[0].Pool, want["x86_64-linux"]) {
		t.Errorf("Lanes(x86_64-linux) = %+v, %v; want the pool of three, leased", ls, err)
	}

	// --host pins one host of the pool (with its slots), or another (one slot).
	for _, tt := range []struct {
		flag string
		want hosts.Pool
	}{
		{"x86_64-linux=big-box", hosts.Pool{{"big-box", 4}}},
		{"x86_64-linux=elsewhere", hosts.Pool{{"elsewhere", 1}}},
	} {
		c, err := hosts.LoadHosts([]string{tt.flag}, getenv, root)
		if err != nil {
			t.Fatalf("LoadHosts(--host %s): %v", tt.flag, err)
		}
		ls, err := c.Lanes([]platform.Platform{"x86_64-linux"})
		if err != nil || len(ls) != 1 || !ls[0].Leased || !slices.Equal(ls[0].Pool, tt.want) {
			t.Errorf("LoadHosts(--host %s).Lanes = %+v, %v; want %v, leased", tt.flag, ls, err, tt.want)
		}
	}
}

func TestHostsLocalInPool(t *testing.T) {
	other := platform.Platform("aarch64-darwin")
	if platform.Local() == other {
		other = "x86_64-linux"
	}
	root, getenv := hostsEnv(t, map[string]string{"hosts.json": `{"` + string(other) + `": ["builder", "localhost"]}`},
		map[string]string{"ODU_HOSTS": "{root}/hosts.json"})
	c, err := hosts.LoadHosts(nil, getenv, root)
	if err != nil {
		t.Fatalf("LoadHosts: %v", err)
	}
	ls, err := c.Lanes(nil)
	if err != nil {
		t.Fatal(err)
	}
	err = c.CheckLocal(ls)
	var le *hosts.LocalPlatformError
	if !errors.As(err, &le) {
		t.Errorf("CheckLocal(a %s pool with localhost) = %v, want a *LocalPlatformError", other, err)
	}
}
