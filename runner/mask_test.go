package runner

import (
	"context"

	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"

	"github.com/odu-ci/odu/surface"
)

// maskAll masks in through a masker, in writes split at the given offsets.
func maskAll(a *automaton, in []byte, splits ...int) string {
	var out bytes.Buffer
	m := newMasker(a, &out)
	prev := 0
	// A masker fails only when its writer does, and a bytes.Buffer
	// does not.
	for _, s := range splits {
		_, _ = m.Write(in[prev:s])
		prev = s
	}
	_, _ = m.Write(in[prev:])
	m.Close()
	return out.String()
}

// secretTexts are secrets with characters that every encoding changes.
var secretTexts = []string{
	`s3cr3t-t0ken`,
	`p@ss w/rd+"q"&<x>?=%`,
	"ünïcødé-sëcret",
	"ghp_16C7e42F292c6912E7710c838347Ae178B4a",
}

// encodings returns the forms a recipe might print secret in, computed
// here with the standard library, independently of maskPatterns.
func encodings(secret string) map[string]string {
	js, _ := json.Marshal(secret)
	forms := map[string]string{
		"raw":   secret,
		"json":  string(js),
		"query": "https://x.example/?token=" + url.QueryEscape(secret) + "&y=1",
		"path":  "https://x.example/" + url.PathEscape(secret) + "/z",
	}
	for k := 0; k < 3; k++ {
		for name, enc := range map[string]*base64.Encoding{"std": base64.StdEncoding, "url": base64.URLEncoding, "rawstd": base64.RawStdEncoding} {
			pre := strings.Repeat("P", k)
			forms[fmt.Sprintf("base64 %s +%d", name, k)] = enc.EncodeToString([]byte(pre + secret + "tail"))
			forms[fmt.Sprintf("base64 %s +%d at end", name, k)] = enc.EncodeToString([]byte(pre + secret))
		}
	}
	return forms
}

// leaks reports what of secret can be read in out: the value, or eight
// characters in a row of the part of an encoded form that holds it.
func leaks(out, secret, form string) string {
	if strings.Contains(out, secret) {
		return "the value"
	}
	// Every 8-character window of the form that is left in the output
	// and decodes to a piece of the secret.
	for j := 0; j+8 <= len(form); j++ {
		w := form[j : j+8]
		if strings.Contains(out, w) && !strings.Contains("https://x.example/?token=&y=1/ztail", w) {
			if enc, ok := decodesToSecretPart(w, secret); ok {
				return fmt.Sprintf("%q (%s)", w, enc)
			}
		}
	}
	return ""
}

// decodesToSecretPart reports whether w, a piece of an encoding, carries
// at least four bytes of secret.
func decodesToSecretPart(w, secret string) (string, bool) {
	for k := 0; k < 4; k++ {
		if k+4 > len(w) {
			break
		}
		for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
			b, err := enc.DecodeString(w[k : k+4])
			if err == nil && len(b) == 3 && strings.Contains(secret, string(b)) {
				return "base64 of " + fmt.Sprintf("%q", b), true
			}
		}
	}
	for _, un := range []func(string) (string, error){url.QueryUnescape, url.PathUnescape} {
		if s, err := un(w); err == nil && len(s) >= 4 && strings.Contains(secret, s) {
			return "URL-encoded", true
		}
	}
	if strings.Contains(secret, w) {
		return "in clear", true
	}
	var s string
	if json.Unmarshal([]byte(`"`+w+`"`), &s) == nil && len(s) >= 6 && strings.Contains(secret, s) {
		return "JSON-escaped", true
	}
	return "", false
}

func TestMaskEncodings(t *testing.T) {
	for _, secret := range secretTexts {
		a := newAutomaton(maskPatterns([]string{secret}))
		for name, form := range encodings(secret) {
			in := []byte("before " + form + " after\n")
			whole := maskAll(a, in)
			if !strings.Contains(whole, "***") {
				t.Errorf("secret %q, %s: masked %q = %q, want a ***", secret, name, in, whole)
			}
			if l := leaks(whole, secret, form); l != "" {
				t.Errorf("secret %q, %s: masked %q = %q, which shows %s", secret, name, in, whole, l)
			}
			if !strings.HasPrefix(whole, "before ") || !strings.HasSuffix(whole, " after\n") {
				t.Errorf("secret %q, %s: masked %q = %q: the text around it changed", secret, name, in, whole)
			}
			// Split in two writes anywhere, the output is the same.
			for s := 0; s <= len(in); s++ {
				if got := maskAll(a, in, s); got != whole {
					t.Fatalf("secret %q, %s: split at %d: %q, unsplit: %q", secret, name, s, got, whole)
				}
			}
		}
	}
}

func TestMaskSplitEverywhere(t *testing.T) {
	secret := "abcabc" // overlaps itself
	a := newAutomaton(maskPatterns([]string{secret}))
	cases := map[string]string{
		"xxabcabcyy":    "xx***yy",
		"xxabcabcabcyy": "xx***yy", // two overlapping occurrences: no "abc" left in clear
		"abcabcabcabc":  "***",
		"abcab cabc":    "abcab cabc",
		"abcabc abcabc": "*** ***",
		"":              "",
		"abcab":         "abcab",
	}
	for in, want := range cases {
		b := []byte(in)
		if got := maskAll(a, b); got != want {
			t.Errorf("mask(%q) = %q, want %q", in, got, want)
		}
		for i := 0; i <= len(b); i++ {
			for j := i; j <= len(b); j++ {
				if got := maskAll(a, b, i, j); got != want {
					t.Errorf("mask(%q) split at %d, %d = %q, want %q", in, i, j, got, want)
				}
			}
		}
		// One byte per write.
		var every []int
		for i := 1; i < len(b); i++ {
			every = append(every, i)
		}
		if got := maskAll(a, b, every...); got != want {
			t.Errorf("mask(%q) a byte at a time = %q, want %q", in, got, want)
		}
	}
}

// TestMaskRandom compares random splits of random text with the unsplit
// masking, and checks that no secret is left.
func TestMaskRandom(t *testing.T) {
	secrets := []string{"Zq9-Zq9-Zq", "tok3n!!", "aaaaaaa"}
	a := newAutomaton(maskPatterns(secrets))
	r := rand.New(rand.NewPCG(1, 2))
	pieces := append([]string{"a", "Z", "q9-", "tok", "3n", "!", " ", "\n", "x"}, secrets...)
	for i := 0; i < 2000; i++ {
		var b strings.Builder
		for range r.IntN(30) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		in := []byte(b.String())
		whole := maskAll(a, in)
		for _, s := range secrets {
			if strings.Contains(whole, s) {
				t.Fatalf("mask(%q) = %q, which holds %q", in, whole, s)
			}
		}
		var splits []int
		for k := 0; k < len(in); k++ {
			if r.IntN(4) == 0 {
				splits = append(splits, k)
			}
		}
		if got := maskAll(a, in, splits...); got != whole {
			t.Fatalf("mask(%q) split at %v = %q, unsplit %q", in, splits, got, whole)
		}
	}
}

// TestMaskHoldsBackLittle: of clear text, at most the longest pattern
// less one byte waits for the next write.
func TestMaskHoldsBackLittle(t *testing.T) {
	a := newAutomaton(maskPatterns([]string{"a-secret-value"}))
	var out bytes.Buffer
	m := newMasker(a, &out)
	in := strings.Repeat("clear text, nothing to hide. ", 100)
	_, _ = m.Write([]byte(in)) // into a bytes.Buffer
	if held := len(in) - out.Len(); held > a.maxLen-1 {
		t.Errorf("the masker holds back %d bytes, more than %d", held, a.maxLen-1)
	}
	m.Close()
	if out.String() != in {
		t.Errorf("masked clear text changed: %q", out.String())
	}
}

func TestMaskPatternsSkipShort(t *testing.T) {
	// Short lines of a multi-line value are not masked on their own.
	pats := maskPatterns([]string{"-----BEGIN KEY-----\nab\nMIIEvQIBADANBg\n-----END KEY-----"})
	for _, p := range pats {
		if len(p) < MinSecret {
			t.Errorf("pattern %q is shorter than %d", p, MinSecret)
		}
	}
	a := newAutomaton(pats)
	if got := a.maskString("key line: MIIEvQIBADANBg; ab"); got != "key line: ***; ab" {
		t.Errorf("maskString = %q", got)
	}
	if (*automaton)(nil).maskString("x") != "x" {
		t.Errorf("a nil automaton changed a string")
	}
}

func BenchmarkMask(b *testing.B) {
	a := newAutomaton(maskPatterns([]string{"ghp_16C7e42F292c6912E7710c838347Ae178B4a", "another-Secret-9"}))
	chunk := make([]byte, copyBuffer)
	r := rand.New(rand.NewPCG(3, 4))
	const text = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/ \n"
	for i := range chunk {
		chunk[i] = text[r.IntN(len(text))]
	}
	m := newMasker(a, discard{})
	b.SetBytes(int64(len(chunk)))
	for b.Loop() {
		_, _ = m.Write(chunk) // into discard
	}
	m.Close()
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestSecretRefused: a secret with no value, or too short to mask, is
// refused at configure, with a message that names the variable and not
// the value.
func TestSecretRefused(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{nil, "secret ODU_TEST_SECRET has no value in the lane's environment"},
		{[]string{"ODU_TEST_SECRET=abcde"}, "secret ODU_TEST_SECRET is shorter than 6 characters, too short to mask"},
	} {
		cfg := surface.Config{Workspace: t.TempDir(), LogDir: t.TempDir(), Env: tc.env, Secrets: []string{"ODU_TEST_SECRET"}}
		err := (&Runner{}).Configure(context.Background(), cfg)
		if err == nil || err.Error() != tc.want {
			t.Errorf("Configure with env %q: %v, want %q", tc.env, err, tc.want)
		}
	}
}

// FuzzMask masks arbitrary text for two secrets, split at two arbitrary
// points: the result must not depend on the split, and must hold neither
// secret.
func FuzzMask(f *testing.F) {
	f.Add([]byte("abcabcabc s3cret-s3cret"), uint16(3), uint16(9))
	f.Add([]byte("token: czNjcmV0LXMzY3JldA== and s3cret%2Ds3cret"), uint16(20), uint16(21))
	secrets := []string{"abcabc", "s3cret-s3cret"}
	a := newAutomaton(maskPatterns(secrets))
	f.Fuzz(func(t *testing.T, in []byte, i, j uint16) {
		x, y := int(i)%(len(in)+1), int(j)%(len(in)+1)
		if x > y {
			x, y = y, x
		}
		whole := maskAll(a, in)
		for _, s := range secrets {
			if strings.Contains(whole, s) {
				t.Fatalf("mask(%q) = %q, which holds %q", in, whole, s)
			}
		}
		if got := maskAll(a, in, x, y); got != whole {
			t.Fatalf("mask(%q) split at %d, %d = %q, unsplit %q", in, x, y, got, whole)
		}
	})
}
