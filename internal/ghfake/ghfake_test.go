package ghfake

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-github/v60/github"
)

func client(t *testing.T, s *Server, token string) *github.Client {
	t.Helper()
	c := github.NewClient(nil).WithAuthToken(token)
	u, err := url.Parse(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	c.BaseURL = u
	return c
}

func TestAuthentication(t *testing.T) {
	s := New(t)
	s.Repo("octo/hello")
	ctx := context.Background()
	for token, want := range map[string]string{"": "Requires authentication", "ghp_wrong": "Bad credentials"} {
		_, _, err := client(t, s, token).Repositories.Get(ctx, "octo", "hello")
		var er *github.ErrorResponse
		if !errors.As(err, &er) || er.Response.StatusCode != http.StatusUnauthorized || er.Message != want {
			t.Errorf("token %q: Get = %v, want 401 %q", token, err, want)
		}
	}
	if r, _, err := client(t, s, s.Token).Repositories.Get(ctx, "octo", "hello"); err != nil || r.GetDefaultBranch() != "main" {
		t.Errorf("Get = %v, %v, want the repository with default branch main", r, err)
	}
}

func TestStatusesPaginateNewestFirst(t *testing.T) {
	s := New(t)
	rp := s.Repo("octo/hello")
	rp.AddCommit("abc")
	c := client(t, s, s.Token)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		ctxName := string(rune('a' + i))
		if _, _, err := c.Repositories.CreateStatus(ctx, "octo", "hello", "abc", &github.RepoStatus{State: github.String("success"), Context: &ctxName}); err != nil {
			t.Fatal(err)
		}
	}
	list, resp, err := c.Repositories.ListStatuses(ctx, "octo", "hello", "abc", &github.ListOptions{PerPage: 2})
	if err != nil || len(list) != 2 || list[0].GetContext() != "c" || resp.NextPage != 2 {
		t.Fatalf("ListStatuses page 1 = %d statuses (first %q), next %d, %v", len(list), list[0].GetContext(), resp.NextPage, err)
	}
	cs, _, err := c.Repositories.GetCombinedStatus(ctx, "octo", "hello", "abc", nil)
	if err != nil || cs.GetState() != "success" || cs.GetTotalCount() != 3 {
		t.Errorf("GetCombinedStatus = %v, %v", cs, err)
	}
	_, _, err = c.Repositories.CreateStatus(ctx, "octo", "hello", "nope", &github.RepoStatus{State: github.String("success")})
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("a status on an unknown commit: %v, want 422", err)
	}
	if len(s.Stray()) != 0 {
		t.Errorf("stray requests: %q", s.Stray())
	}
}

func TestBranchNotProtected(t *testing.T) {
	s := New(t)
	s.Repo("octo/hello")
	_, _, err := client(t, s, s.Token).Repositories.GetRequiredStatusChecks(context.Background(), "octo", "hello", "main")
	if !errors.Is(err, github.ErrBranchNotProtected) {
		t.Errorf("GetRequiredStatusChecks = %v, want go-github's ErrBranchNotProtected", err)
	}
}

func TestFaultsAreAnsweredAsGitHubDoes(t *testing.T) {
	s := New(t)
	s.Repo("octo/hello").AddCommit("abc")
	s.Fail(Fault{Method: "POST", Path: "/repos/octo/hello/statuses/", Answer: RetryAfter(http.StatusForbidden, 7)})
	_, _, err := client(t, s, s.Token).Repositories.CreateStatus(context.Background(), "octo", "hello", "abc", &github.RepoStatus{State: github.String("success")})
	var abuse *github.AbuseRateLimitError
	if !errors.As(err, &abuse) || abuse.RetryAfter == nil || abuse.RetryAfter.Seconds() != 7 {
		t.Errorf("a secondary limit = %v, want go-github's AbuseRateLimitError with RetryAfter 7s", err)
	}
}

func TestFnmatch(t *testing.T) {
	for _, tc := range []struct {
		pat, name string
		want      bool
	}{
		{"refs/heads/main", "refs/heads/main", true},
		{"refs/heads/*", "refs/heads/main", true},
		{"refs/heads/*", "refs/heads/feature/x", false},
		{"refs/heads/**", "refs/heads/feature/x", true},
		{"refs/heads/rel-?", "refs/heads/rel-1", true},
	} {
		if got := fnmatch(tc.pat, tc.name); got != tc.want {
			t.Errorf("fnmatch(%q, %q) = %v, want %v", tc.pat, tc.name, got, tc.want)
		}
	}
}
