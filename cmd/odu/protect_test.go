package main

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/odu-ci/odu/internal/ghfake"
)

// README's promises for odu protect's exit codes: 1 when GitHub refuses
// (with its message) or odu refuses, 2 for usage errors.

// TestProtectUsageErrors: a usage or configuration error exits 2, says
// what is wrong and what to do, and asks GitHub nothing.
func TestProtectUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		setup func(*ghCheckout)
		err   string
		hint  string
	}{
		{"unknown flag", []string{"--bogus"}, nil, "odu: unknown flag --bogus", "hint: Run `odu protect --help` for usage."},
		{"argument", []string{"extra"}, nil, "odu: unexpected argument extra", "hint: Run `odu protect --help` for usage."},
		{"unknown platform", []string{"--platform", "nonsense"}, nil, `odu: unknown platform "nonsense"`, "hint: Platforms are Nix system names:"},
		{"no such remote", []string{"--remote", "nosuch"}, nil, `odu: this repository has no remote "nosuch"`, "hint: Add one (`git remote add nosuch"},
		{"no origin", nil, func(c *ghCheckout) { c.git("remote", "remove", "origin") },
			`odu: this repository has no remote "origin"`, "hint: Add one (`git remote add origin"},
		{"not GitHub", nil, func(c *ghCheckout) { c.git("remote", "set-url", "origin", "https://gitlab.com/octo/hello.git") },
			`odu: remote "origin" is on gitlab.com, which is not GitHub`, "hint: For a GitHub Enterprise server, set GITHUB_API_URL"},
		{"no token", nil, func(c *ghCheckout) { c.setenv("GH_TOKEN", "") },
			"odu: no GitHub token: set GH_TOKEN or GITHUB_TOKEN, or log in with `gh auth login`", `hint: A token needs "Administration: read and write"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newGHCheckout(t, "https://github.com/octo/hello.git")
			c.repo.AddRuleset(statusRuleset)
			if tc.setup != nil {
				tc.setup(c)
			}
			stdout, stderr, code := c.odu(append([]string{"protect"}, tc.args...)...)
			if code != 2 {
				t.Errorf("odu protect %s exited %d, want 2:\n%s\n%s", strings.Join(tc.args, " "), code, stdout, stderr)
			}
			if !strings.HasPrefix(stderr, tc.err+"\n"+tc.hint) {
				t.Errorf("stderr = %q, want %q then %q", stderr, tc.err, tc.hint)
			}
			if reqs := c.gh.Requests(); len(reqs) != 0 {
				t.Errorf("GitHub got %d requests, want none", len(reqs))
			}
		})
	}
}

// TestProtectGitHubRefuses: GitHub refusing a write (a token that may
// not administer the repository) or a read exits 1 with GitHub's
// message, and the protection is as it was.
func TestProtectGitHubRefuses(t *testing.T) {
	refused := ghfake.Forbidden("Resource not accessible by personal access token", "administration=write")
	const said = "GitHub answered 403 Resource not accessible by personal access token"
	t.Run("ruleset", func(t *testing.T) {
		c := newGHCheckout(t, "https://github.com/octo/hello.git")
		id := c.repo.AddRuleset(statusRuleset)
		before := c.repo.Ruleset(id)
		c.gh.Fail(ghfake.Fault{Method: http.MethodPut, Path: "/repos/octo/hello/rulesets/", Times: ghfake.Always, Answer: refused})
		stdout, stderr, code := c.odu("protect")
		if code != 1 || !strings.Contains(stderr, said) {
			t.Errorf("odu protect exited %d, want 1 with %q:\n%s\n%s", code, said, stdout, stderr)
		}
		if !strings.Contains(stdout, "+ lint@x86_64-linux") {
			t.Errorf("odu protect did not print the difference first:\n%s", stdout)
		}
		if got := c.repo.Ruleset(id); got != before {
			t.Errorf("the ruleset changed:\n%s\nwas\n%s", got, before)
		}
		c.checkRefusedOnce(http.MethodPut)
	})
	t.Run("classic", func(t *testing.T) {
		c := newGHCheckout(t, "https://github.com/octo/hello.git")
		c.repo.Protect("main", &ghfake.Protection{RequiredChecks: &ghfake.RequiredChecks{Checks: []ghfake.Check{{Context: "ci/old"}}}})
		c.gh.Fail(ghfake.Fault{Method: http.MethodPatch, Path: "/repos/octo/hello/branches/main/protection/", Times: ghfake.Always, Answer: refused})
		stdout, stderr, code := c.odu("protect")
		if code != 1 || !strings.Contains(stderr, said) {
			t.Errorf("odu protect exited %d, want 1 with %q:\n%s\n%s", code, said, stdout, stderr)
		}
		if got := c.repo.Protection("main").RequiredChecks.Checks; len(got) != 1 || got[0].Context != "ci/old" {
			t.Errorf("the required checks changed to %v", got)
		}
		c.checkRefusedOnce(http.MethodPatch)
	})
	t.Run("create", func(t *testing.T) {
		c := newGHCheckout(t, "https://github.com/octo/hello.git")
		c.gh.Fail(ghfake.Fault{Method: http.MethodPost, Path: "/repos/octo/hello/rulesets", Times: ghfake.Always, Answer: refused})
		stdout, stderr, code := c.odu("protect", "--create")
		if code != 1 || !strings.Contains(stderr, said) {
			t.Errorf("odu protect --create exited %d, want 1 with %q:\n%s\n%s", code, said, stdout, stderr)
		}
		if ids := c.repo.Rulesets(); len(ids) != 0 {
			t.Errorf("rulesets %v, want none", ids)
		}
		c.checkRefusedOnce(http.MethodPost)
	})
	t.Run("read", func(t *testing.T) {
		c := newGHCheckout(t, "https://github.com/octo/hello.git")
		stdout, stderr, code := c.odu("protect", "--branch", "nosuch")
		if want := "odu: read the protection of branch nosuch: GitHub answered 404 Branch not found"; code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("odu protect --branch nosuch exited %d, want 1 with %q:\n%s\n%s", code, want, stdout, stderr)
		}
		if w := c.gh.Writes(); len(w) != 0 {
			t.Errorf("writes = %q, want none", w)
		}
	})
}

// checkRefusedOnce checks that odu tried the refused write once, and
// wrote nothing else.
func (c *ghCheckout) checkRefusedOnce(method string) {
	c.t.Helper()
	var writes []string
	for _, r := range c.gh.Requests() {
		if r.Method != http.MethodGet {
			writes = append(writes, r.Method+" "+r.Path)
			if r.Method != method || r.Status != http.StatusForbidden {
				c.t.Errorf("%s %s answered %d: want only the refused %s", r.Method, r.Path, r.Status, method)
			}
		}
	}
	if len(writes) != 1 {
		c.t.Errorf("writes = %q, want the one GitHub refused", writes)
	}
}

// TestProtectRulesetAndClassic: a ruleset and classic protection both
// require checks for the branch; GitHub requires the union, so odu
// refuses, says why, exits 1 and writes nothing.
func TestProtectRulesetAndClassic(t *testing.T) {
	c := newGHCheckout(t, "https://github.com/octo/hello.git")
	id := c.repo.AddRuleset(statusRuleset)
	c.repo.Protect("main", &ghfake.Protection{RequiredChecks: &ghfake.RequiredChecks{Checks: []ghfake.Check{{Context: "ci/old"}}}})
	for _, args := range [][]string{{"protect"}, {"protect", "--dry-run"}} {
		stdout, stderr, code := c.odu(args...)
		want := "both ruleset " + strconv.FormatInt(id, 10) + " and classic branch protection require status checks for branch main"
		if code != 1 || !strings.Contains(stderr, want) || !strings.Contains(stderr, "GitHub requires the union of both") {
			t.Errorf("odu %s exited %d, want 1 saying %q and why:\n%s\n%s", strings.Join(args, " "), code, want, stdout, stderr)
		}
	}
	if w := c.gh.Writes(); len(w) != 0 {
		t.Errorf("writes = %q, want none", w)
	}
}
