package hosts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/odu-ci/odu/platform"
)

// PoolHost is one build host of a pool and its slots: how many lanes may
// run on it at once, whoever starts them.
type PoolHost struct {
	Addr  string `json:"host"`
	Slots int    `json:"slots"`
}

// Pool is the build hosts of one platform, in the hosts file's order.
type Pool []PoolHost

// Addrs returns the pool's addresses, in order.
func (p Pool) Addrs() []string {
	var out []string
	for _, h := range p {
		out = append(out, h.Addr)
	}
	return out
}

// String is the pool as a user reads it: "a, b (4 slots)".
func (p Pool) String() string {
	var out []string
	for _, h := range p {
		s := h.Addr
		if h.Slots > 1 {
			s += fmt.Sprintf(" (%d slots)", h.Slots)
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

// Remote reports whether any host of the pool is not this machine.
func (p Pool) Remote() bool {
	for _, h := range p {
		if h.Addr != Localhost {
			return true
		}
	}
	return false
}

// Slots returns the slots the pool gives addr, 0 when addr is not in it.
func (p Pool) Slots(addr string) int {
	for _, h := range p {
		if h.Addr == addr {
			return h.Slots
		}
	}
	return 0
}

// poolFix is the hint of every mistake in a pool's shape.
func poolFix(p platform.Platform) string {
	return fmt.Sprintf(`A platform maps to its pool of build hosts: one address, a list of them, or objects with "host" and "slots" (a whole number, 1 or more; 1 when left out), e.g. "%s": ["builder-1", {"host": "big-box", "slots": 4}].`, p)
}

// poolProblem is a mistake in a pool: where in the value (an offset in
// it) and what.
type poolProblem struct {
	off     int
	problem string
	fix     string // "" for poolFix
}

// parsePool reads a platform's value: an address, a list of addresses
// and {"host", "slots"} objects, or one such object.
func parsePool(p platform.Platform, raw json.RawMessage) (Pool, *poolProblem) {
	raw = bytes.TrimSpace(raw)
	switch raw[0] {
	case '"', '{':
		h, prob := parsePoolHost(p, raw, "")
		if prob != nil {
			return nil, prob
		}
		return Pool{h}, nil
	case '[':
	default:
		var x any
		_ = json.Unmarshal(raw, &x)
		return nil, &poolProblem{problem: "the pool must be an address, a list or an object, not " + jsonKind(x)}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // '['
		return nil, &poolProblem{problem: "invalid JSON: " + err.Error()}
	}
	var pool Pool
	for i := 1; dec.More(); i++ {
		off := skipToKey(raw, int(dec.InputOffset()))
		var item json.RawMessage
		if err := dec.Decode(&item); err != nil {
			return nil, &poolProblem{off: off, problem: "invalid JSON: " + err.Error()}
		}
		item = bytes.TrimSpace(item)
		if item[0] == '[' {
			return nil, &poolProblem{off: off, problem: fmt.Sprintf("item %d is a list; a pool is one list of hosts", i)}
		}
		h, prob := parsePoolHost(p, item, fmt.Sprintf("item %d: ", i))
		if prob != nil {
			prob.off += off
			return nil, prob
		}
		for _, prev := range pool {
			if prev.Addr == h.Addr {
				return nil, &poolProblem{off: off, problem: fmt.Sprintf("item %d: host %q is in the pool twice", i, h.Addr),
					fix: fmt.Sprintf(`Name each host once; give it more slots instead, e.g. {"host": %q, "slots": 2}.`, h.Addr)}
			}
		}
		pool = append(pool, h)
	}
	if len(pool) == 0 {
		return nil, &poolProblem{problem: "the pool is an empty list"}
	}
	return pool, nil
}

// parsePoolHost reads one host of a pool: an address, or an object with
// "host" and "slots"; what starts each problem's text.
func parsePoolHost(p platform.Platform, raw json.RawMessage, what string) (PoolHost, *poolProblem) {
	bad := func(off int, format string, a ...any) (PoolHost, *poolProblem) {
		return PoolHost{}, &poolProblem{off: off, problem: what + fmt.Sprintf(format, a...)}
	}
	switch raw[0] {
	case '"':
		var addr string
		if err := json.Unmarshal(raw, &addr); err != nil {
			return bad(0, "invalid JSON: %v", err)
		}
		if _, err := ParseAddr(addr); err != nil {
			return PoolHost{}, &poolProblem{problem: what + err.Error(), fix: hostAddrHint}
		}
		return PoolHost{Addr: addr, Slots: 1}, nil
	case '{':
	default:
		var x any
		_ = json.Unmarshal(raw, &x)
		return bad(0, "a host must be an address or an object, not %s", jsonKind(x))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // '{'
		return bad(0, "invalid JSON: %v", err)
	}
	h := PoolHost{Slots: 1}
	seen := map[string]bool{}
	for dec.More() {
		keyOff := skipToKey(raw, int(dec.InputOffset()))
		tok, err := dec.Token()
		if err != nil {
			return bad(keyOff, "invalid JSON: %v", err)
		}
		key, _ := tok.(string)
		valOff := skipToValue(raw, int(dec.InputOffset()))
		var v any
		if err := dec.Decode(&v); err != nil {
			return bad(valOff, "invalid JSON: %v", err)
		}
		if seen[key] {
			return bad(keyOff, "%q is given twice", key)
		}
		seen[key] = true
		switch key {
		case "host":
			addr, ok := v.(string)
			if !ok {
				return bad(valOff, `"host" must be an address (a string), not %s`, jsonKind(v))
			}
			if _, err := ParseAddr(addr); err != nil {
				return PoolHost{}, &poolProblem{off: valOff, problem: what + err.Error(), fix: hostAddrHint}
			}
			h.Addr = addr
		case "slots":
			n, ok := v.(json.Number)
			if !ok {
				return bad(valOff, `"slots" must be a whole number, 1 or more, not %s`, jsonKind(v))
			}
			i, err := n.Int64()
			if err != nil || i < 1 || i > maxSlots {
				return bad(valOff, `"slots" is %s; it must be a whole number from 1 to %d`, n, maxSlots)
			}
			h.Slots = int(i)
		default:
			prob := &poolProblem{off: keyOff, problem: what + fmt.Sprintf("unknown key %q", key),
				fix: fmt.Sprintf(`A host of a pool has only "host" and "slots", e.g. {"host": "big-box", "slots": 4} in %q's pool.`, p)}
			if strings.EqualFold(key, "slot") || strings.EqualFold(key, "slots") {
				prob.fix = `Did you mean "slots"? ` + prob.fix
			} else if strings.EqualFold(key, "host") || strings.EqualFold(key, "addr") || strings.EqualFold(key, "address") {
				prob.fix = `Did you mean "host"? ` + prob.fix
			}
			return PoolHost{}, prob
		}
	}
	if h.Addr == "" {
		return bad(0, `the object has no "host"`)
	}
	return h, nil
}

// maxSlots bounds a host's slots: far more lanes than any host runs at
// once, and few enough lock files to look at in a moment.
const maxSlots = 256
