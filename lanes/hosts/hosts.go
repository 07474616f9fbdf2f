package hosts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/odu-ci/odu/platform"
)

// Localhost is the address of a lane that runs as a local subprocess.
const Localhost = "localhost"

// secretsKey is the one key of a hosts file that is not a platform.
const secretsKey = "secrets"

// Host is where one platform's lane may run: a pool of build hosts, one
// of which it leases a slot on.
type Host struct {
	Platform platform.Platform
	// Pool holds addresses: "localhost" (a local subprocess, no SSH), or
	// what ssh would dial: host, user@host, user@host:port, an ssh_config
	// alias.
	Pool Pool
	// Leased says the lane takes a lease on a slot of its host: true for
	// a pool the hosts file or --host gives, false for the one local
	// lane of a machine with no hosts file (there is no pool to share).
	Leased bool
}

// HostsConfig is the hosts configuration in effect.
type HostsConfig struct {
	Pools   map[platform.Platform]Pool // platform -> its build hosts
	Secrets []string                   // names from the file's "secrets" list, in order
	Source  string                     // the file read, "" when none
	// Looked is every place odu looked, in order, for messages:
	// "--host", "$ODU_HOSTS (/path)", "/home/u/.config/odu/hosts.json", ...
	Looked []string

	// create is the file a user would create when there is none.
	create string
	// pinned are the platforms --host gave.
	pinned []platform.Platform
	// implicit: no hosts file, the one local lane of the default.
	implicit bool
}

// pin is one --host value.
type pin struct {
	Platform platform.Platform
	addr     string
}

// LoadHosts finds the hosts configuration: the hosts file (or the default
// local lane), then the --host PLAT=ADDR values in flags on top of it.
// getenv reads the environment ($ODU_HOSTS, $XDG_CONFIG_HOME); nil means
// os.Getenv. home is the user's home directory.
func LoadHosts(flags []string, getenv func(string) string, home string) (*HostsConfig, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	pins, err := parseHostFlags(flags)
	if err != nil {
		return nil, err
	}

	c := &HostsConfig{Looked: []string{"--host"}}
	var candidates []string
	if env := getenv("ODU_HOSTS"); env != "" {
		c.Looked = append(c.Looked, "$ODU_HOSTS ("+env+")")
		data, err := os.ReadFile(env)
		if err != nil {
			return nil, &HostsFileError{Path: env, FromEnv: true, Err: err}
		}
		c.Source = env
		err = c.parse(env, data)
		if err != nil {
			return nil, err
		}
	} else {
		candidates = defaultHostsFiles(getenv, home)
		for _, p := range candidates {
			c.Looked = append(c.Looked, p)
			data, err := os.ReadFile(p)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, &HostsFileError{Path: p, Err: err}
			}
			c.Source = p
			if err := c.parse(p, data); err != nil {
				return nil, err
			}
			break
		}
	}
	if c.Source == "" {
		c.Pools = map[platform.Platform]Pool{platform.Local(): {{Addr: Localhost, Slots: 1}}}
		c.implicit = true
		if len(candidates) > 0 {
			c.create = candidates[0]
		}
	}
	for _, h := range pins {
		// A pinned host of the pool keeps its slots; any other has one.
		slots := max(c.Pools[h.Platform].Slots(h.addr), 1)
		c.Pools[h.Platform] = Pool{{Addr: h.addr, Slots: slots}}
		c.pinned = append(c.pinned, h.Platform)
	}
	return c, nil
}

// CheckLocal refuses a lane on "localhost" for another platform than this
// machine's: its nodes would run here and be reported for a platform they
// were never tested on, a false green.
func (c *HostsConfig) CheckLocal(lanes []Host) error {
	for _, h := range lanes {
		if slices.Contains(h.Pool.Addrs(), Localhost) && h.Platform != platform.Local() {
			from := c.Source
			if slices.Contains(c.pinned, h.Platform) || from == "" {
				from = "--host"
			}
			return &LocalPlatformError{Platform: h.Platform, From: from}
		}
	}
	return nil
}

// defaultHostsFiles returns the files odu reads when $ODU_HOSTS is unset,
// in order.
func defaultHostsFiles(getenv func(string) string, home string) []string {
	dir := getenv("XDG_CONFIG_HOME")
	// The XDG spec says a relative path is invalid and to be ignored.
	if dir == "" || !filepath.IsAbs(dir) {
		if home == "" {
			return nil
		}
		dir = filepath.Join(home, ".config")
	}
	return []string{
		filepath.Join(dir, "odu", "hosts.json"),
		filepath.Join(dir, "justci", "hosts.json"),
	}
}

// Lanes returns the lanes for the platforms asked for, in the order asked
// (each once); with none asked, every configured platform, in
// [platform.Known] order.
func (c *HostsConfig) Lanes(asked []platform.Platform) ([]Host, error) {
	if len(asked) == 0 {
		if len(c.Pools) == 0 {
			return nil, &NoHostError{Source: c.Source, Looked: c.Looked, create: c.create}
		}
		var out []Host
		for _, p := range platform.Known() {
			if _, ok := c.Pools[p]; ok {
				out = append(out, c.host(p))
			}
		}
		// Only the local platform of a build for a system odu does not
		// list can be missing from Known; keep it, after the others.
		var rest []platform.Platform
		for p := range c.Pools {
			if !slices.Contains(platform.Known(), p) {
				rest = append(rest, p)
			}
		}
		slices.Sort(rest)
		for _, p := range rest {
			out = append(out, c.host(p))
		}
		return out, nil
	}
	var out []Host
	var missing []platform.Platform
	seen := map[platform.Platform]bool{}
	for _, p := range asked {
		if seen[p] {
			continue
		}
		seen[p] = true
		if _, ok := c.Pools[p]; !ok {
			missing = append(missing, p)
			continue
		}
		out = append(out, c.host(p))
	}
	if len(missing) > 0 {
		return nil, &NoHostError{Platforms: missing, Source: c.Source, Looked: c.Looked, create: c.create}
	}
	return out, nil
}

// host is platform p's lane.
func (c *HostsConfig) host(p platform.Platform) Host {
	return Host{Platform: p, Pool: slices.Clone(c.Pools[p]), Leased: !c.implicit || slices.Contains(c.pinned, p)}
}

// parseHostFlags reads --host PLAT=ADDR values.
func parseHostFlags(flags []string) ([]pin, error) {
	var out []pin
	given := map[platform.Platform]string{}
	for _, f := range flags {
		name, addr, ok := strings.Cut(f, "=")
		switch {
		case !ok:
			return nil, &HostFlagError{Value: f, Problem: `want PLATFORM=ADDRESS, there is no "="`}
		case strings.TrimSpace(name) == "":
			return nil, &HostFlagError{Value: f, Problem: `the platform before "=" is empty`}
		case strings.TrimSpace(addr) == "":
			return nil, &HostFlagError{Value: f, Problem: `the address after "=" is empty`}
		}
		p, err := platform.Parse(name)
		if err != nil {
			e := &HostFlagError{Value: f, Problem: fmt.Sprintf("unknown platform %q", name), Fix: hostPlatformsHint}
			if s, ok := suggestPlatform(name); ok {
				e.Fix = fmt.Sprintf("Did you mean --host %s=%s? ", s, addr) + hostPlatformsHint
			}
			return nil, e
		}
		if _, err := ParseAddr(addr); err != nil {
			return nil, &HostFlagError{Value: f, Problem: err.Error(), Fix: hostAddrHint}
		}
		if prev, ok := given[p]; ok && prev != addr {
			return nil, &HostFlagError{Value: f, Problem: fmt.Sprintf("%s is already pinned to %q by another --host", p, prev),
				Fix: "Give one --host per platform."}
		}
		given[p] = addr
		out = append(out, pin{p, addr})
	}
	return out, nil
}

// parse reads a hosts file's bytes into c.
func (c *HostsConfig) parse(path string, data []byte) error {
	c.Pools = map[platform.Platform]Pool{}
	pooled := map[string]platform.Platform{} // address -> the platform whose pool has it
	// Some editors start a UTF-8 file with a byte order mark, which JSON
	// does not allow; it is not a mistake worth an error.
	body := bytes.TrimPrefix(data, []byte("\ufeff"))
	skip := len(data) - len(body)
	fail := func(off int, key, problem, fix string) error {
		line, col := jsonPosition(data, skip+off)
		if fix == hostsFixJSON {
			fix = fmt.Sprintf("Fix the JSON at line %d, column %d; %s", line, col, hostsFixJSON)
		}
		return &HostsError{Path: path, Line: line, Col: col, Key: key, Problem: problem, Fix: fix}
	}

	if len(bytes.TrimSpace(body)) == 0 {
		return &HostsError{Path: path, Problem: "the file is empty", Fix: "Write a JSON object that maps platforms to hosts, e.g. " + hostsExample + "."}
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		var se *json.SyntaxError
		if !errors.As(err, &se) {
			return fail(0, "", "invalid JSON: "+err.Error(), hostsFixJSON)
		}
		// A value cut short is best shown at the end of the file; the
		// decoder, unlike Unmarshal, says so without a message to parse.
		var x any
		if derr := json.NewDecoder(bytes.NewReader(body)).Decode(&x); errors.Is(derr, io.ErrUnexpectedEOF) {
			return fail(len(body), "", "invalid JSON: the file ends before the JSON object does", hostsFixJSON)
		}
		off := int(se.Offset) - 1 // the offending byte: se.Offset bytes were read
		return fail(max(off, 0), "", "invalid JSON: "+se.Error(), hostsFixJSON)
	}
	if _, ok := v.(map[string]any); !ok {
		return fail(skipSpace(body, 0), "", "the file must be a JSON object, not "+jsonKind(v),
			"Write a JSON object that maps platforms to hosts, e.g. "+hostsExample+".")
	}

	// The body is valid JSON; walk it again as tokens to know where each
	// key is, for messages, and to catch a key given twice.
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // '{'
		return fail(0, "", "invalid JSON: "+err.Error(), hostsFixJSON)
	}
	seen := map[string]int{} // key -> line
	for dec.More() {
		keyOff := skipToKey(body, int(dec.InputOffset()))
		tok, err := dec.Token()
		if err != nil {
			return fail(keyOff, "", "invalid JSON: "+err.Error(), hostsFixJSON)
		}
		key, _ := tok.(string)
		valOff := skipToValue(body, int(dec.InputOffset()))
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fail(valOff, key, "invalid JSON: "+err.Error(), hostsFixJSON)
		}
		if first, ok := seen[key]; ok {
			return fail(keyOff, key, fmt.Sprintf("given twice (first on line %d)", first), "Keep one of them.")
		}
		seen[key], _ = jsonPosition(data, skip+keyOff)

		if key == secretsKey {
			names, problem := parseSecrets(raw)
			if problem != "" {
				return fail(valOff, key, problem, hostSecretsHint)
			}
			c.Secrets = names
			continue
		}
		p, err := platform.Parse(key)
		if err != nil {
			fix := "Keys are platforms (Nix system names, case-sensitive): " + knownPlatforms() + `; or "secrets".`
			if s, ok := suggestPlatform(key); ok {
				fix = fmt.Sprintf("Did you mean %q? ", s) + fix
			} else if strings.EqualFold(key, secretsKey) {
				fix = `Did you mean "secrets"? ` + fix
			}
			return fail(keyOff, key, "unknown platform", fix)
		}
		pool, prob := parsePool(p, raw)
		if prob != nil {
			fix := prob.fix
			if fix == "" {
				fix = poolFix(p)
			}
			return fail(valOff+prob.off, key, prob.problem, fix)
		}
		for _, h := range pool {
			// localhost for another platform than this machine's is
			// CheckLocal's to refuse, with its own message.
			if other, ok := pooled[h.Addr]; ok && h.Addr != Localhost {
				return fail(valOff, key, fmt.Sprintf("host %q is in the pool of %s too; a host runs one platform", h.Addr, other),
					"Keep the host in the pool of the platform it is.")
			}
			pooled[h.Addr] = p
		}
		c.Pools[p] = pool
	}
	return nil
}

// parseSecrets reads the "secrets" list; problem says what is wrong.
func parseSecrets(raw json.RawMessage) (names []string, problem string) {
	var list []any
	if err := json.Unmarshal(raw, &list); err != nil || bytes.TrimSpace(raw)[0] != '[' { // null decodes to nil
		var x any
		_ = json.Unmarshal(raw, &x)
		return nil, "must be a list of environment variable names, not " + jsonKind(x)
	}
	for i, x := range list {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Sprintf("item %d is %s, not a name", i+1, jsonKind(x))
		}
		if !validSecretName(s) {
			return nil, fmt.Sprintf("%q is not an environment variable name", s)
		}
		if !slices.Contains(names, s) {
			names = append(names, s)
		}
	}
	return names, ""
}

// validSecretName reports whether s is an environment variable name odu accepts:
// [A-Za-z_][A-Za-z0-9_]*.
func validSecretName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case i > 0 && '0' <= r && r <= '9':
		default:
			return false
		}
	}
	return true
}

// suggestPlatform guesses the platform a wrong name meant: another case,
// Go's or Apple's names for an architecture or system, either order.
func suggestPlatform(name string) (platform.Platform, bool) {
	p := platform.Suggest(strings.TrimSpace(name))
	return p, p != ""
}

// kind names the JSON type of a decoded value, with an article.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64, json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return "something else"
}

// position returns the 1-based line and column (in characters) of byte
// off of data; an off at the end is just past the last character.
func jsonPosition(data []byte, off int) (line, col int) {
	off = min(max(off, 0), len(data))
	before := data[:off]
	line = 1 + bytes.Count(before, []byte("\n"))
	start := bytes.LastIndexByte(before, '\n') + 1
	col = 1 + utf8.RuneCount(before[start:])
	return line, col
}

func isJSONSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// skipSpace returns the offset of the first non-space byte at or
// after off.
func skipSpace(data []byte, off int) int {
	for off < len(data) && isJSONSpace(data[off]) {
		off++
	}
	return off
}

// skipToKey skips the space and the comma before a key.
func skipToKey(data []byte, off int) int {
	for off < len(data) && (isJSONSpace(data[off]) || data[off] == ',') {
		off++
	}
	return off
}

// skipToValue skips the space and the colon between a key and its value.
func skipToValue(data []byte, off int) int {
	for off < len(data) && (isJSONSpace(data[off]) || data[off] == ':') {
		off++
	}
	return off
}

func knownPlatforms() string {
	var names []string
	for _, p := range platform.Known() {
		names = append(names, string(p))
	}
	return strings.Join(names, ", ")
}

const (
	hostsExample    = `{"x86_64-linux": "localhost", "aarch64-darwin": "mac-mini"}`
	hostsFixJSON    = "the file maps platforms to hosts, e.g. " + hostsExample + "."
	hostFlagForm    = "--host aarch64-linux=builder.example.com"
	hostAddrHint    = `An address is "localhost" (this machine, no SSH) or what ssh would dial: host, user@host, user@host:port or a Host alias from ~/.ssh/config.`
	hostSecretsHint = `"secrets" lists the names of environment variables, letters, digits and _ not starting with a digit, e.g. "secrets": ["NPM_TOKEN"].`
)

var hostPlatformsHint = "Platforms are Nix system names: " + knownPlatforms() + "; e.g. " + hostFlagForm + "."
