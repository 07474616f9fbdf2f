package runner

// Masking secrets in a node's output.
//
// A lane configured with secrets ([surface.Config.Secrets]) runs every
// node's output through a [masker] on its way to the log: each occurrence
// of a secret's value, or of one of its common encodings, becomes "***"
// before any byte of it reaches the log file, and so before any stream,
// screen or copy of the log. The encodings looked for are those a recipe
// is likely to print a token in:
//
//   - the value itself, and each line of a multi-line value that is long
//     enough to mask on its own (a PEM key printed line by line);
//   - JSON string escaping, as encoding/json writes it (with and without
//     its HTML escapes);
//   - URL encoding, as a query value (url.QueryEscape) and a path segment
//     (url.PathEscape);
//   - base64, standard and URL alphabets, padded or not, at each of the
//     three alignments the value can have inside a longer encoded text:
//     for each, the characters that depend on the value's bytes alone
//     (the first one or two characters of an unaligned encoding also hold
//     bits of the byte before it, and the last one bits of the byte
//     after, so those are left out). A base64 text wrapped into lines is
//     not matched across its line breaks.
//
// Matching is Aho–Corasick over all the patterns at once, compiled to a
// table-driven automaton (one table lookup per byte). It is hand-written
// because the masker needs what a whole-buffer matching API does not
// give: the automaton's state carried from one write to the next, so that
// a value split across two writes is found without scanning the held-back
// bytes again, and every match including overlapping ones (a value that
// overlaps itself, "abcabc" in "abcabcabc", must not leave a piece of
// itself in clear). It is about a hundred lines.
//
// The masker holds back at most (longest pattern − 1) bytes that might be
// the start of a secret, and flushes them at the end of the output. The
// bytes before that are final: no later byte can make them part of a
// match. Matches that overlap or touch are merged and masked by one
// "***", so the output does not depend on how the input was split into
// writes.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"

	"github.com/odu-ci/odu/surface"
)

// MinSecret is the shortest secret value odu masks: a shorter one would
// match in too many places (a 3-letter value turns every word that holds
// it into "***") to leave readable logs.
const MinSecret = 6

// maskText is what replaces a secret.
const maskText = "***"

// maskPatterns returns what to look for, for the secret values: each value
// and its encodings, without repeats and without any shorter than
// MinSecret.
func maskPatterns(values []string) [][]byte {
	seen := map[string]bool{}
	var out [][]byte
	add := func(s string) {
		if len(s) >= MinSecret && !seen[s] {
			seen[s] = true
			out = append(out, []byte(s))
		}
	}
	var plain []string
	for _, v := range values {
		plain = append(plain, v)
		if strings.ContainsAny(v, "\r\n") {
			plain = append(plain, strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' })...)
		}
	}
	for _, v := range plain {
		add(v)
		add(jsonEscape(v, true))
		add(jsonEscape(v, false))
		add(url.QueryEscape(v))
		add(url.PathEscape(v))
		for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
			for _, p := range base64Inner(enc, []byte(v)) {
				add(p)
			}
		}
	}
	return out
}

// jsonEscape returns s as it appears inside a JSON string.
func jsonEscape(s string, html bool) string {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(html)
	_ = e.Encode(s) // a string always encodes; a bytes.Buffer takes it all
	out := strings.TrimSuffix(b.String(), "\n")
	return out[1 : len(out)-1]
}

// base64Inner returns, for each of the three offsets (mod 3) at which v
// can start in a longer text, the characters of the text's encoding that
// depend only on v's bytes. Padding is not part of them: it comes after
// the last character that depends on v alone.
func base64Inner(enc *base64.Encoding, v []byte) []string {
	var out []string
	for k := 0; k < 3; k++ {
		in := append(make([]byte, k), v...)
		s := enc.EncodeToString(in)
		skip := (8*k + 5) / 6        // characters holding bits of the bytes before v
		full := 8 * (k + len(v)) / 6 // characters whose bits all come before v's end
		if full > skip && full <= len(s) {
			out = append(out, s[skip:full])
		}
	}
	return out
}

// automaton is an Aho–Corasick automaton compiled to a table. Bytes that
// no pattern holds share one class, which keeps the table small (a state
// costs 4 bytes per class: ~70 classes for base64 and friends). The scan
// loop is one lookup per byte: step holds, for each state's row offset
// plus a byte's class, the next state's row offset, with matchFlag set
// when a pattern ends there; long gives the length of the longest one.
type automaton struct {
	class   [256]uint8
	classes int
	next    []int32 // the trie, then the full transition table, by state number
	long    []int32 // by state number: the longest pattern ending there, or 0
	step    []uint32
	maxLen  int
}

// matchFlag marks, in step, a transition into a state where a pattern
// ends.
const matchFlag = 1 << 31

// newAutomaton compiles patterns; it returns nil for none.
func newAutomaton(patterns [][]byte) *automaton {
	if len(patterns) == 0 {
		return nil
	}
	a := &automaton{}
	var used [256]bool
	for _, p := range patterns {
		for _, b := range p {
			used[b] = true
		}
		a.maxLen = max(a.maxLen, len(p))
	}
	a.classes = 1 // class 0: bytes in no pattern
	for b := range used {
		if used[b] {
			a.class[b] = uint8(a.classes)
			a.classes++
		}
	}
	// The trie, with -1 for no child.
	newState := func() int32 {
		for range a.classes {
			a.next = append(a.next, -1)
		}
		a.long = append(a.long, 0)
		return int32(len(a.long) - 1)
	}
	newState() // the root, 0
	for _, p := range patterns {
		s := int32(0)
		for _, b := range p {
			i := int(s)*a.classes + int(a.class[b])
			if a.next[i] < 0 {
				t := newState()
				a.next[i] = t // newState may have moved a.next: index again
			}
			s = a.next[i]
		}
		a.long[s] = max(a.long[s], int32(len(p)))
	}
	// Breadth first: each state's failure link is a state nearer the
	// root, done before it; missing transitions take the failure's.
	fail := make([]int32, len(a.long))
	queue := []int32{}
	for c := range a.classes {
		if t := a.next[c]; t < 0 {
			a.next[c] = 0
		} else {
			queue = append(queue, t) // fail 0
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		a.long[s] = max(a.long[s], a.long[fail[s]])
		for c := range a.classes {
			i := int(s)*a.classes + c
			f := a.next[int(fail[s])*a.classes+c]
			if t := a.next[i]; t < 0 {
				a.next[i] = f
			} else {
				fail[t] = f
				queue = append(queue, t)
			}
		}
	}
	a.step = make([]uint32, len(a.next))
	for i, t := range a.next {
		a.step[i] = uint32(int(t) * a.classes)
		if a.long[t] != 0 {
			a.step[i] |= matchFlag
		}
	}
	return a
}

// span is a range of absolute output offsets to mask.
type span struct{ from, to int64 }

// masker is a writer that masks the automaton's patterns in what goes
// through it, on its way to w. Close flushes what it holds back.
type masker struct {
	a       *automaton
	w       io.Writer
	state   uint32 // the automaton's state, as its row offset
	held    []byte // the bytes from heldAt on, not yet written
	heldAt  int64  // the offset of held[0] in the whole input
	pending []span // matches not yet written, in order, merged
	maskEnd int64  // the end of the last "***" written, or -1
	out     []byte
}

func newMasker(a *automaton, w io.Writer) *masker {
	return &masker{a: a, w: w, maskEnd: -1}
}

// Write masks p and writes what is final.
func (m *masker) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	a := m.a
	end := m.heldAt + int64(len(m.held))
	s := m.state // a row offset in a.step
	step, class := a.step, &a.class
	for i, b := range p {
		v := step[s+uint32(class[b])]
		s = v &^ matchFlag
		if v&matchFlag != 0 {
			n := a.long[int(s)/a.classes]
			to := end + int64(i) + 1
			m.add(span{to - int64(n), to})
		}
	}
	m.state = s
	// A match not yet seen needs a byte yet to come, so it starts at most
	// maxLen-1 bytes before the end: everything before that is final.
	cut := end + int64(len(p)) - int64(a.maxLen-1)
	return len(p), m.emit(p, cut)
}

// Close writes what is held back.
func (m *masker) Close() error {
	return m.emit(nil, m.heldAt+int64(len(m.held)))
}

// add records a match, merging it with the pending ones it overlaps or
// touches. Matches come in the order of their ends, so only the last
// pending ones can merge.
func (m *masker) add(sp span) {
	for len(m.pending) > 0 && m.pending[len(m.pending)-1].to >= sp.from {
		last := m.pending[len(m.pending)-1]
		sp.from = min(sp.from, last.from)
		m.pending = m.pending[:len(m.pending)-1]
	}
	m.pending = append(m.pending, sp)
}

// emit writes the held bytes before cut, masked, and a match that starts
// before cut whole (its end is known: it is complete).
// The input is the held bytes and then p, which is not copied to be held
// unless it must be.
func (m *masker) emit(p []byte, cut int64) error {
	pAt := m.heldAt + int64(len(m.held)) // p's offset
	// bytes appends the input's bytes [from, to) to out.
	bytes := func(out []byte, from, to int64) []byte {
		if from < pAt {
			out = append(out, m.held[from-m.heldAt:min(to, pAt)-m.heldAt]...)
			from = min(to, pAt)
		}
		if from < to {
			out = append(out, p[from-pAt:to-pAt]...)
		}
		return out
	}
	pos := m.heldAt
	out := m.out[:0]
	k := 0
	for ; k < len(m.pending) && m.pending[k].from < cut; k++ {
		sp := m.pending[k]
		if sp.from > pos {
			out = bytes(out, pos, sp.from)
		}
		// A match that reaches back into (or touches) the last mask
		// written continues it: one "***" for both, as if unsplit.
		if sp.from > m.maskEnd {
			out = append(out, maskText...)
		}
		pos = max(pos, sp.to)
		m.maskEnd = pos
	}
	m.pending = slices.Delete(m.pending, 0, k)
	if pos < cut {
		out = bytes(out, pos, cut)
		pos = cut
	}
	// What is left is held: at most maxLen-1 bytes.
	if pos >= pAt {
		m.held = append(m.held[:0], p[pos-pAt:]...)
	} else {
		m.held = append(m.held[:copy(m.held, m.held[pos-m.heldAt:])], p...)
	}
	m.heldAt = pos
	m.out = out
	if len(out) == 0 {
		return nil
	}
	_, err := m.w.Write(out)
	return err
}

// maskString masks the patterns in s: for the runner's own words that
// might quote a secret (a reason, an error).
func (a *automaton) maskString(s string) string {
	if a == nil {
		return s
	}
	var b strings.Builder
	m := newMasker(a, &b)
	_, _ = m.Write([]byte(s)) // a strings.Builder takes it all
	m.Close()
	return b.String()
}

// secretValues returns the values of the configuration's secrets: the
// last value of each name in its environment, as for the process.
func secretValues(cfg surface.Config) []string {
	var out []string
	for _, name := range cfg.Secrets {
		if v, ok := envValue(cfg.Env, name); ok {
			out = append(out, v)
		}
	}
	return out
}

func envValue(env []string, name string) (string, bool) {
	v, found := "", false
	for _, kv := range env {
		if rest, ok := strings.CutPrefix(kv, name+"="); ok {
			v, found = rest, true
		}
	}
	return v, found
}

// validateSecrets checks that every secret the configuration names has a
// value in its environment, long enough to mask. The messages name the
// variable, never its value.
func validateSecrets(cfg surface.Config) error {
	for _, name := range cfg.Secrets {
		v, ok := envValue(cfg.Env, name)
		switch {
		case !ok:
			return fmt.Errorf("secret %s has no value in the lane's environment", name)
		case len(v) < MinSecret:
			return fmt.Errorf("secret %s is shorter than %d characters, too short to mask", name, MinSecret)
		}
	}
	return nil
}
