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

// TestInFlight: requests held at a gate count as in flight until they
// are answered; Await sees them arrive and leave.
func TestInFlight(t *testing.T) {
	s := New(t)
	s.Repo("octo/hello")
	gate := NewGate()
	s.Fail(Fault{Method: "GET", Path: "/repos/octo/hello", Times: Always, Answer: Hold(gate)})
	cl := client(t, s, s.Token)
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			_, _, err := cl.Repositories.Get(t.Context(), "octo", "hello")
			errs <- err
		}()
	}
	if err := s.Await(t.Context(), func([]Request) bool { return s.InFlight() == 3 }); err != nil {
		t.Fatalf("three held requests never were in flight together (%d): %v", s.InFlight(), err)
	}
	gate.Release()
	for range 3 {
		if err := <-errs; err != nil {
			t.Errorf("a released request: %v", err)
		}
	}
	if err := s.Await(t.Context(), func(reqs []Request) bool { return len(reqs) == 3 && s.InFlight() == 0 }); err != nil {
		t.Fatalf("requests still in flight after their answers (%d): %v", s.InFlight(), err)
	}
	if n := s.MaxInFlight(); n != 3 {
		t.Errorf("MaxInFlight = %d, want 3", n)
	}
	for _, r := range s.Requests() {
		if r.Status != http.StatusOK {
			t.Errorf("%s %s answered %d, want 200", r.Method, r.Path, r.Status)
		}
	}
}
