package ghstatus

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/odu-ci/odu/surface"
)

func TestParseRemote(t *testing.T) {
	for _, tc := range []struct{ in, host, owner, name string }{
		{"https://github.com/octo/hello.git", "github.com", "octo", "hello"},
		{"https://github.com/octo/hello", "github.com", "octo", "hello"},
		{"https://x-access-token:secret@github.com/octo/hello.git/", "github.com", "octo", "hello"},
		{"git@github.com:octo/hello.git", "github.com", "octo", "hello"},
		{"github.com:octo/hello", "github.com", "octo", "hello"},
		{"ssh://git@github.example.com:2222/octo/hello.git", "github.example.com", "octo", "hello"},
	} {
		host, owner, name, err := ParseRemote(tc.in)
		if err != nil || host != tc.host || owner != tc.owner || name != tc.name {
			t.Errorf("ParseRemote(%q) = %q, %q, %q, %v, want %q, %q, %q", tc.in, host, owner, name, err, tc.host, tc.owner, tc.name)
		}
	}
	for _, in := range []string{"/srv/git/hello.git", "file:///srv/git/hello.git", "https://github.com/octo", "https://github.com/a/b/c"} {
		if _, _, _, err := ParseRemote(in); err == nil {
			t.Errorf("ParseRemote(%q) succeeded, want an error", in)
		}
	}
}

func TestAPIBase(t *testing.T) {
	env := func(kv ...string) Getenv {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, tc := range []struct {
		host string
		env  Getenv
		want string
		ok   bool
	}{
		{"github.com", env(), "https://api.github.com/", true},
		{"github.example.com", env(), "https://github.example.com/api/v3/", true},
		{"octo.ghe.com", env(), "https://api.octo.ghe.com/", true},
		{"gitlab.com", env(), "", false},
		{"git.example.com", env("GITHUB_API_URL", "https://git.example.com/api/v3"), "https://git.example.com/api/v3/", true},
		{"git.example.com", env("GITHUB_API_URL", "https://api.example.net", "GITHUB_SERVER_URL", "https://git.example.com"), "https://api.example.net/", true},
		{"github.com", env("GITHUB_API_URL", "http://127.0.0.1:8080/api/v3/"), "http://127.0.0.1:8080/api/v3/", true},
		// In GitHub Actions the variable is always set: a remote on
		// another forge is still not GitHub.
		{"gitlab.com", env("GITHUB_API_URL", "https://api.github.com", "GITHUB_SERVER_URL", "https://github.com"), "", false},
	} {
		if got, ok := APIBase(tc.host, tc.env); got != tc.want || ok != tc.ok {
			t.Errorf("APIBase(%q) = %q, %v, want %q, %v", tc.host, got, ok, tc.want, tc.ok)
		}
	}
}

func TestDescribe(t *testing.T) {
	code := 2
	for _, tc := range []struct {
		n    surface.Node
		want Status
	}{
		{surface.Node{Status: surface.Running}, Status{"pending", "Running"}},
		{surface.Node{Status: surface.Success, DurationMS: (time.Minute + 2*time.Second).Milliseconds()}, Status{"success", "Succeeded in 1m2s"}},
		{surface.Node{Status: surface.Failure, DurationMS: 12_000, ExitCode: &code}, Status{"failure", "Failed in 12s (exit 2)"}},
		{surface.Node{Status: surface.Errored, Reason: "link to builder lost:\nEOF"}, Status{"error", "Errored: link to builder lost: EOF"}},
		{surface.Node{Status: surface.Skipped, Reason: "build@x86_64-linux did not succeed"}, Status{"error", "Skipped: build@x86_64-linux did not succeed"}},
		{surface.Node{Status: surface.Cancelled}, Status{"error", "Cancelled"}},
	} {
		if got, ok := Describe(tc.n); !ok || got != tc.want {
			t.Errorf("Describe(%s) = %v, want %v", tc.n.Status, got, tc.want)
		}
	}
	long, _ := Describe(surface.Node{Status: surface.Errored, Reason: strings.Repeat("é", 300)})
	if n := len([]rune(long.Description)); n != maxDescription {
		t.Errorf("a long reason's description has %d characters, want %d", n, maxDescription)
	}
}

// fakeGH puts on PATH a gh that, asked `auth token --hostname HOST`,
// prints out and exits with code; it records its arguments in the file
// it returns. Only a program the test provides: the real gh would ask
// GitHub, which these machines cannot reach.
func fakeGH(t *testing.T, out string, code int) (argsFile string) {
	t.Helper()
	dir := t.TempDir()
	argsFile, outFile := filepath.Join(dir, "args"), filepath.Join(dir, "out")
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$*\" > '%s'\n/bin/cat '%s'\nexit %d\n", argsFile, outFile, code)
	if err := os.WriteFile(outFile, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "gh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	return argsFile
}

func TestFindToken(t *testing.T) {
	all := map[string]string{
		"GH_TOKEN": "t-gh", "GITHUB_TOKEN": "t-github",
		"GH_ENTERPRISE_TOKEN": "t-gh-enterprise", "GITHUB_ENTERPRISE_TOKEN": "t-github-enterprise",
	}
	without := func(names ...string) Getenv {
		return func(k string) string {
			if slices.Contains(names, k) {
				return ""
			}
			return all[k]
		}
	}
	for _, tc := range []struct {
		host      string
		env       Getenv
		tok, from string
	}{
		{"github.com", without(), "t-gh", "GH_TOKEN"},
		{"github.com", without("GH_TOKEN"), "t-github", "GITHUB_TOKEN"},
		// An Enterprise token is not for github.com.
		{"github.com", without("GH_TOKEN", "GITHUB_TOKEN"), "", ""},
		{"github.example.com", without(), "t-gh", "GH_TOKEN"},
		{"github.example.com", without("GH_TOKEN"), "t-github", "GITHUB_TOKEN"},
		{"github.example.com", without("GH_TOKEN", "GITHUB_TOKEN"), "t-gh-enterprise", "GH_ENTERPRISE_TOKEN"},
		{"github.example.com", without("GH_TOKEN", "GITHUB_TOKEN", "GH_ENTERPRISE_TOKEN"), "t-github-enterprise", "GITHUB_ENTERPRISE_TOKEN"},
		{"github.example.com", without("GH_TOKEN", "GITHUB_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN"), "", ""},
		// A variable set to blanks is not a token.
		{"github.com", func(k string) string {
			if k == "GH_TOKEN" {
				return " \n"
			}
			return all[k]
		}, "t-github", "GITHUB_TOKEN"},
	} {
		t.Setenv("PATH", t.TempDir()) // no gh
		if tok, from := FindToken(t.Context(), tc.host, tc.env); tok != tc.tok || from != tc.from {
			t.Errorf("FindToken(%q) = %q from %q, want %q from %q", tc.host, tok, from, tc.tok, tc.from)
		}
	}
}

func TestFindTokenFromGH(t *testing.T) {
	none := func(string) string { return "" }
	args := fakeGH(t, "gho_fromgh\n", 0)
	if tok, from := FindToken(t.Context(), "github.example.com", none); tok != "gho_fromgh" || from != "gh auth token" {
		t.Errorf("FindToken with gh logged in = %q from %q, want %q from gh auth token", tok, from, "gho_fromgh")
	}
	if data, err := os.ReadFile(args); err != nil || string(data) != "auth token --hostname github.example.com\n" {
		t.Errorf("gh was run with %q (%v), want auth token --hostname github.example.com", data, err)
	}
	// A variable comes first: gh is not asked.
	os.Remove(args)
	env := func(k string) string {
		if k == "GITHUB_TOKEN" {
			return "t-github"
		}
		return ""
	}
	if tok, from := FindToken(t.Context(), "github.com", env); tok != "t-github" || from != "GITHUB_TOKEN" {
		t.Errorf("FindToken = %q from %q, want t-github from GITHUB_TOKEN", tok, from)
	}
	if _, err := os.Stat(args); err == nil {
		t.Errorf("gh was run although GITHUB_TOKEN was set")
	}
	// gh not logged in (it exits 1), or printing nothing: no token.
	fakeGH(t, "", 1)
	if tok, from := FindToken(t.Context(), "github.com", none); tok != "" || from != "" {
		t.Errorf("FindToken with gh logged out = %q from %q, want none", tok, from)
	}
	fakeGH(t, "  \n", 0)
	if tok, from := FindToken(t.Context(), "github.com", none); tok != "" || from != "" {
		t.Errorf("FindToken with gh printing blanks = %q from %q, want none", tok, from)
	}
}
