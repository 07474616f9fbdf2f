package termlog

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestFixtures renders real tool output (testdata/README.md says where
// each comes from) and compares the lines, with their SGR, to a golden
// file; fed in writes of every size from 1 to 7 bytes, the log is the
// same. Each fixture also has the facts a user would check by eye.
func TestFixtures(t *testing.T) {
	for _, c := range []struct {
		name string
		has  []string // lines, as plain text, the log shows
		not  []string // text it must not show
	}{
		{"cargo-error", []string{"   Compiling demo v0.1.0 (/src/demo)", "error[E0308]: mismatched types", "3 |     let s: String = 5.to_string();"}, []string{"\r"}},
		{"cargo-progress", []string{"   Compiling libc v0.2.150", "   Compiling cfg-if v1.0.0", "   Compiling demo v0.1.0 (/src/demo)", "    Finished `dev` profile [unoptimized + debuginfo] target(s) in 2.41s"}, []string{"Building"}},
		{"gotest-v", []string{"    --- FAIL: TestAdd/#01 (0.00s)", "--- SKIP: TestSlow (0.00s)", "FAIL    example.com/calc        0.00s"}, nil},
		{"npm-install", []string{"", "added 1 package, and audited 2 packages in 612ms", "found 0 vulnerabilities"}, []string{"⠋", "⸨", "idealTree"}},
		{"pytest", []string{"tests/test_calc.py .Fs                                                   [100%]", "==================== 1 failed, 1 passed, 1 skipped in 0.03s ====================="}, nil},
		{"progress3", []string{"Using default tag: latest", "a1b2c3d4e5f6: Pull complete", "0f9e8d7c6b5a: Pull complete", "112233445566: Pull complete", "Digest: sha256:0123abcd"}, []string{"Downloading"}},
	} {
		in, err := os.ReadFile(filepath.Join("testdata", c.name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		l := New(Options{})
		l.Write(in)
		got := styled(l) + "\n"
		for n := 1; n <= 7; n++ {
			s := New(Options{})
			for b := in; len(b) > 0; b = b[min(n, len(b)):] {
				s.Write(b[:min(n, len(b))])
			}
			if g := styled(s) + "\n"; g != got {
				t.Errorf("%s in writes of %d bytes:\n%s\nat once:\n%s", c.name, n, g, got)
			}
		}
		plain := strings.Split(text(l), "\n")
		for _, want := range c.has {
			found := false
			for _, p := range plain {
				found = found || p == want
			}
			if !found {
				t.Errorf("%s: no line %q in\n%s", c.name, want, strings.Join(plain, "\n"))
			}
		}
		for _, bad := range c.not {
			if strings.Contains(text(l), bad) {
				t.Errorf("%s shows %q:\n%s", c.name, bad, text(l))
			}
		}
		path := filepath.Join("testdata", c.name+".golden")
		if *update {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (-update writes it)", err)
		}
		if got != string(want) {
			t.Errorf("%s renders\n%s\nwant (%s)\n%s", c.name, got, path, want)
		}
	}
}

// TestFixtureStyles: the colours of the fixtures come through as the
// tools wrote them.
func TestFixtureStyles(t *testing.T) {
	for _, c := range []struct{ name, line, want string }{
		{"cargo-error", "error[E0308]: mismatched types", "\x1b[0;1;91merror[E0308]\x1b[0;1m: mismatched types\x1b[0m"},
		{"pytest", "FAILED tests/test_calc.py::test_div - assert 2 == 3", "\x1b[0;31mFAILED\x1b[0m tests/test_calc.py::\x1b[0;1mtest_div\x1b[0m - assert 2 == 3"},
		{"pytest", "==================== 1 failed, 1 passed, 1 skipped in 0.03s =====================", "\x1b[0;31m==================== \x1b[0;1;31m1 failed\x1b[0m, \x1b[0;32m1 passed\x1b[0m, \x1b[0;33m1 skipped\x1b[0;31m in 0.03s =====================\x1b[0m"},
		{"npm-install", "found 0 vulnerabilities", "found \x1b[0;1;32m0\x1b[0m vulnerabilities"},
		{"gotest-v", "--- SKIP: TestSlow (0.00s)", "\x1b[0;33m--- SKIP\x1b[0m: TestSlow (0.00s)"},
	} {
		in, _ := os.ReadFile(filepath.Join("testdata", c.name+".log"))
		l := New(Options{})
		l.Write(in)
		found := false
		for i := l.First(); i < l.End(); i++ {
			if ln := l.Line(i); ln.Text() == c.line {
				found = true
				if got := string(ln.AppendANSI(nil, true)); got != c.want {
					t.Errorf("%s: %q\n got %q\nwant %q", c.name, c.line, got, c.want)
				}
			}
		}
		if !found {
			t.Errorf("%s: no line %q", c.name, c.line)
		}
	}
}
