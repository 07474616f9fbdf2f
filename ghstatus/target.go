package ghstatus

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/odu-ci/odu/repo"
)

// Target is a GitHub repository and how to reach its API.
type Target struct {
	Host  string // the git remote's host: "github.com"
	Owner string
	Repo  string
	API   string // the API's base URL, ending in "/"
	// Token authenticates; TokenFrom says where it came from ("GH_TOKEN",
	// "gh auth token"), for messages. Never print Token.
	Token     string
	TokenFrom string
}

// FullName returns "owner/repo".
func (t Target) FullName() string { return t.Owner + "/" + t.Repo }

// String names the repository for messages.
func (t Target) String() string { return t.Host + "/" + t.FullName() }

// OffError says why odu cannot talk to GitHub for a checkout, and what to
// do about it.
type OffError struct {
	Why  string
	Fix  string
	Kind OffKind
}

// OffKind classifies an [OffError].
type OffKind int

// The reasons GitHub is off.
const (
	NoRemote  OffKind = iota + 1 // the remote does not exist
	NotGitHub                    // the remote is not a GitHub repository
	NoToken                      // no token was found
)

func (e *OffError) Error() string { return e.Why }

// Hint says what to do.
func (e *OffError) Hint() string { return e.Fix }

// Getenv reads an environment variable.
type Getenv func(string) string

// Detect finds the GitHub repository of the checkout at root from remote
// ("" is origin), its API and a token. It returns an [*OffError] when
// odu cannot post there.
func Detect(ctx context.Context, root, remote string, getenv Getenv) (Target, error) {
	t, err := DetectRepo(ctx, root, remote, getenv)
	if err != nil {
		return t, err
	}
	t.Token, t.TokenFrom = FindToken(ctx, t.Host, getenv)
	if t.Token == "" {
		return t, &OffError{Kind: NoToken,
			Why: "no GitHub token: set GH_TOKEN or GITHUB_TOKEN, or log in with `gh auth login`",
			Fix: "A token needs \"Commit statuses: write\" (fine-grained) or the repo:status scope (classic)."}
	}
	return t, nil
}

// DetectRepo is [Detect] without the token.
func DetectRepo(ctx context.Context, root, remote string, getenv Getenv) (Target, error) {
	if remote == "" {
		remote = "origin"
	}
	out, err := repo.Git(ctx, root, "remote", "get-url", remote)
	if err != nil {
		var gerr *repo.Error
		if errors.As(err, &gerr) {
			return Target{}, &OffError{Kind: NoRemote,
				Why: fmt.Sprintf("this repository has no remote %q", remote),
				Fix: "Add one (`git remote add " + remote + " https://github.com/OWNER/REPO`) or name another with --remote."}
		}
		return Target{}, err
	}
	host, owner, name, err := ParseRemote(strings.TrimSpace(out))
	if err != nil {
		return Target{}, &OffError{Kind: NotGitHub, Why: fmt.Sprintf("remote %q: %v", remote, err),
			Fix: "odu posts to the GitHub repository of the remote; name one with --remote."}
	}
	api, ok := APIBase(host, getenv)
	if !ok {
		return Target{}, &OffError{Kind: NotGitHub,
			Why: fmt.Sprintf("remote %q is on %s, which is not GitHub", remote, host),
			Fix: "For a GitHub Enterprise server, set GITHUB_API_URL (https://HOST/api/v3); or name a GitHub remote with --remote."}
	}
	return Target{Host: host, Owner: owner, Repo: name, API: api}, nil
}

// ParseRemote reads a git remote's URL: https://host/owner/repo(.git),
// git@host:owner/repo(.git), ssh://git@host(:port)/owner/repo(.git). Any
// credentials in the URL are dropped.
func ParseRemote(remote string) (host, owner, name string, err error) {
	var path string
	switch {
	case strings.Contains(remote, "://"):
		u, perr := url.Parse(remote)
		if perr != nil {
			return "", "", "", fmt.Errorf("not a URL odu can read")
		}
		switch u.Scheme {
		case "https", "http", "ssh", "git", "git+ssh", "ssh+git":
		default:
			return "", "", "", fmt.Errorf("a %s URL is not a GitHub repository", u.Scheme)
		}
		host, path = u.Hostname(), u.Path
	case strings.Contains(remote, ":") && !strings.HasPrefix(remote, "/"):
		// scp-like: [user@]host:owner/repo
		h, p, _ := strings.Cut(remote, ":")
		if i := strings.LastIndex(h, "@"); i >= 0 {
			h = h[i+1:]
		}
		host, path = h, p
	default:
		return "", "", "", fmt.Errorf("a local path is not a GitHub repository")
	}
	path = strings.TrimSuffix(strings.Trim(path, "/"), ".git")
	parts := strings.Split(path, "/")
	if host == "" || len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "", "", "", fmt.Errorf("not an OWNER/REPO address")
	}
	return strings.ToLower(host), parts[0], parts[1], nil
}

// APIBase returns the REST API's base URL for a remote host, ending in
// "/": api.github.com for github.com, api.HOST for GitHub Enterprise
// Cloud (*.ghe.com), https://HOST/api/v3/ for a host that names itself
// GitHub (github.example.com). $GITHUB_API_URL, when set (as GitHub
// Actions and Enterprise users set it), takes the place of that URL for
// such a host, and makes any other host GitHub when it, or
// $GITHUB_SERVER_URL, names that host: a remote on another forge is not
// posted to because the environment has an API URL for GitHub. Any other
// host is not known to be GitHub: ok is false.
func APIBase(host string, getenv Getenv) (base string, ok bool) {
	switch {
	case host == "github.com" || host == "ssh.github.com":
		base = "https://api.github.com/"
	case strings.HasSuffix(host, ".ghe.com"):
		base = "https://api." + host + "/"
	case strings.Contains(host, "github"):
		base = "https://" + host + "/api/v3/"
	}
	if u := getenv("GITHUB_API_URL"); u != "" && (base != "" || names(u, host) || names(getenv("GITHUB_SERVER_URL"), host)) {
		return strings.TrimSuffix(u, "/") + "/", true
	}
	return base, base != ""
}

// names reports whether the URL u is on host, or on its api. subdomain.
func names(u, host string) bool {
	p, err := url.Parse(u)
	if err != nil || u == "" {
		return false
	}
	h := strings.ToLower(p.Hostname())
	return h == host || h == "api."+host
}

// NewClient returns a go-github client for t, authenticated by its token.
func NewClient(t Target) (*github.Client, error) {
	base, err := url.Parse(t.API)
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("the API's URL %q is not an absolute URL", t.API)
	}
	hc := &http.Client{Transport: &auth{token: t.Token, host: base.Host, base: http.DefaultTransport}}
	c := github.NewClient(hc)
	c.BaseURL = base
	c.UserAgent = "odu"
	return c, nil
}

// auth adds the token to every request, to the API's host only.
type auth struct {
	token string
	host  string
	base  http.RoundTripper
}

func (a *auth) RoundTrip(r *http.Request) (*http.Response, error) {
	r2 := r.Clone(r.Context())
	if r.URL.Host == a.host { // not to wherever a redirect points
		r2.Header.Set("Authorization", "Bearer "+a.token)
	}
	r2.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	return a.base.RoundTrip(r2)
}
