package ghfake

import (
	"crypto/sha1"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Repo is a repository the server holds. Its methods seed its state and
// read it back; they are safe to call while the server answers requests.
type Repo struct {
	s             *Server
	id            int64
	owner, name   string
	defaultBranch string
	branches      map[string]string // name → head SHA
	protection    map[string]*Protection
	commits       map[string]bool
	statuses      []*Status // oldest first
	rulesets      []*ruleset
	created       time.Time
	// providers is the app that most recently provided each check
	// context: what GitHub pins a required check to when an update
	// omits its app_id.
	providers map[string]int64
}

// SetProvider records that the GitHub App appID most recently provided
// the check context (as github-actions does for statuses posted with a
// workflow's GITHUB_TOKEN). An update of classic protection that omits a
// check's app_id pins the check to that app, as GitHub does ("Omit this
// field to automatically select the GitHub App that has recently
// provided this check"); app_id -1 allows any app.
func (r *Repo) SetProvider(context string, appID int64) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if r.providers == nil {
		r.providers = map[string]int64{}
	}
	r.providers[context] = appID
}

// Protection is a branch's classic protection, as far as odu cares.
type Protection struct {
	// RequiredChecks is nil when "Require status checks to pass before
	// merging" is off.
	RequiredChecks *RequiredChecks
	EnforceAdmins  bool
	// RequiredReviews is the number of approving reviews required; 0 when
	// pull requests are not required.
	RequiredReviews int
}

// RequiredChecks are the status checks a classic protection requires.
type RequiredChecks struct {
	Strict bool // "Require branches to be up to date before merging"
	Checks []Check
}

// Check is a required status check.
type Check struct {
	Context string
	AppID   int64 // the app that must set it; 0 for any
}

// Contexts returns the checks' contexts.
func (rc *RequiredChecks) Contexts() []string {
	var out []string
	for _, c := range rc.Checks {
		out = append(out, c.Context)
	}
	return out
}

// Status is a commit status the server holds.
type Status struct {
	ID          int64
	SHA         string
	State       string
	Description string
	TargetURL   string
	Context     string
	Created     time.Time
}

// Repo returns the repository owner/name, making it if it is new: public,
// with a branch main (the default) at a commit of its own.
func (s *Server) Repo(fullName string) *Repo {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(fullName)
	if r := s.repos[key]; r != nil {
		return r
	}
	owner, name, _ := strings.Cut(fullName, "/")
	r := &Repo{
		s: s, id: s.id(), owner: owner, name: name, defaultBranch: "main",
		branches:   map[string]string{},
		protection: map[string]*Protection{},
		commits:    map[string]bool{},
		created:    time.Now().UTC().Truncate(time.Second),
	}
	r.addBranchLocked("main", "")
	s.repos[key] = r
	return r
}

// repo returns the repository a request names, or nil.
func (s *Server) repo(owner, name string) *Repo {
	return s.repos[strings.ToLower(owner+"/"+name)]
}

// FullName returns "owner/name".
func (r *Repo) FullName() string { return r.owner + "/" + r.name }

// fakeSHA returns a commit id made from seed.
func fakeSHA(seed string) string {
	h := sha1.Sum([]byte(seed))
	return hex.EncodeToString(h[:])
}

// SetDefaultBranch makes branch the default, adding it if it is new.
func (r *Repo) SetDefaultBranch(branch string) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if _, ok := r.branches[branch]; !ok {
		r.addBranchLocked(branch, "")
	}
	r.defaultBranch = branch
}

// AddBranch adds (or moves) a branch to sha; "" makes up a commit.
func (r *Repo) AddBranch(branch, sha string) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	r.addBranchLocked(branch, sha)
}

func (r *Repo) addBranchLocked(branch, sha string) {
	if sha == "" {
		sha = fakeSHA(r.owner + "/" + r.name + "@" + branch)
	}
	r.branches[branch] = sha
	r.commits[sha] = true
}

// AddCommit makes sha a commit GitHub knows, as a push would: statuses
// can be posted to it. Any other SHA gets 422 "No commit found for SHA".
func (r *Repo) AddCommit(sha string) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	r.commits[sha] = true
}

// Protect sets a branch's classic protection; nil removes it.
func (r *Repo) Protect(branch string, p *Protection) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if p == nil {
		delete(r.protection, branch)
		return
	}
	r.protection[branch] = p.clone()
}

// Protection returns a branch's classic protection, or nil.
func (r *Repo) Protection(branch string) *Protection {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	return r.protection[branch].clone()
}

func (p *Protection) clone() *Protection {
	if p == nil {
		return nil
	}
	c := *p
	if p.RequiredChecks != nil {
		rc := *p.RequiredChecks
		rc.Checks = slices.Clone(rc.Checks)
		c.RequiredChecks = &rc
	}
	return &c
}

// routes registers the handlers, on paths without the prefix. Branch
// names may hold slashes: clients escape them (%2F) in one path segment.
func (s *Server) routes() {
	s.mux.HandleFunc("GET /repos/{owner}/{repo}", s.getRepo)
	s.mux.HandleFunc("GET /repos/{owner}/{repo}/branches/{branch}", s.getBranch)
	s.mux.HandleFunc("GET /repos/{owner}/{repo}/branches/{branch}/protection", s.getProtection)
	s.mux.HandleFunc("GET /repos/{owner}/{repo}/branches/{branch}/protection/required_status_checks", s.getRequiredChecks)
	s.mux.HandleFunc("PATCH /repos/{owner}/{repo}/branches/{branch}/protection/required_status_checks", s.patchRequiredChecks)
	s.mux.HandleFunc("POST /repos/{owner}/{repo}/statuses/{sha}", s.createStatus)
	s.mux.HandleFunc("GET /repos/{owner}/{repo}/commits/{ref}/statuses", s.listStatuses)
	s.mux.HandleFunc("GET /repos/{owner}/{repo}/commits/{ref}/status", s.combinedStatus)
	s.mux.HandleFunc("GET /repos/{owner}/{repo}/rulesets", s.listRulesets)
	s.mux.HandleFunc("POST /repos/{owner}/{repo}/rulesets", s.createRuleset)
	s.mux.HandleFunc("GET /repos/{owner}/{repo}/rulesets/{id}", s.getRuleset)
	s.mux.HandleFunc("PUT /repos/{owner}/{repo}/rulesets/{id}", s.updateRuleset)
	s.mux.HandleFunc("GET /repos/{owner}/{repo}/rules/branches/{branch...}", s.rulesForBranch)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest")
	})
}

// repoOf returns the repository of a request, under the lock; it answers
// 404 and returns nil when there is none.
func (s *Server) repoOf(w http.ResponseWriter, r *http.Request, doc string) *Repo {
	rp := s.repo(r.PathValue("owner"), r.PathValue("repo"))
	if rp == nil {
		writeError(w, http.StatusNotFound, "Not Found", doc)
	}
	return rp
}

func (s *Server) userJSON(login string) map[string]any {
	return map[string]any{
		"login": login, "id": 1, "node_id": "MDQ6VXNlcjE=", "type": "User", "site_admin": false,
		"url": s.base() + "/users/" + login, "html_url": "https://github.com/" + login,
		"avatar_url": "https://avatars.githubusercontent.com/u/1?v=4",
	}
}

func (s *Server) repoJSON(rp *Repo) map[string]any {
	full := rp.FullName()
	return map[string]any{
		"id": rp.id, "node_id": "R_kgDO" + hex.EncodeToString([]byte(full))[:8],
		"name": rp.name, "full_name": full, "private": false,
		"owner":          s.userJSON(rp.owner),
		"html_url":       "https://github.com/" + full,
		"url":            s.base() + "/repos/" + full,
		"default_branch": rp.defaultBranch,
		"visibility":     "public",
		"created_at":     rp.created.Format(time.RFC3339),
		"permissions":    map[string]any{"admin": true, "maintain": true, "push": true, "triage": true, "pull": true},
	}
}

func (s *Server) getRepo(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repoOf(w, r, "https://docs.github.com/rest/repos/repos#get-a-repository")
	if rp == nil {
		return
	}
	writeJSON(w, http.StatusOK, s.repoJSON(rp))
}

func (s *Server) getBranch(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/branches/branches#get-a-branch"
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repoOf(w, r, doc)
	if rp == nil {
		return
	}
	name := r.PathValue("branch")
	sha, ok := rp.branches[name]
	if !ok {
		writeError(w, http.StatusNotFound, "Branch not found", doc)
		return
	}
	url := s.base() + "/repos/" + rp.FullName() + "/branches/" + name
	p := rp.protection[name]
	prot := map[string]any{"enabled": p != nil, "required_status_checks": map[string]any{
		"enforcement_level": "off", "contexts": []string{}, "checks": []any{},
	}}
	if p != nil && p.RequiredChecks != nil {
		level := "non_admins"
		if p.EnforceAdmins {
			level = "everyone"
		}
		prot["required_status_checks"] = map[string]any{
			"enforcement_level": level, "contexts": nonNil(p.RequiredChecks.Contexts()), "checks": checksJSON(p.RequiredChecks.Checks),
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"name": name,
		"commit": map[string]any{
			"sha": sha, "node_id": "C_" + sha[:8], "url": s.base() + "/repos/" + rp.FullName() + "/commits/" + sha,
		},
		"_links":         map[string]any{"self": url, "html": "https://github.com/" + rp.FullName() + "/tree/" + name},
		"protected":      p != nil,
		"protection":     prot,
		"protection_url": url + "/protection",
	})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func checksJSON(cs []Check) []any {
	out := []any{}
	for _, c := range cs {
		var app any
		if c.AppID != 0 {
			app = c.AppID
		}
		out = append(out, map[string]any{"context": c.Context, "app_id": app})
	}
	return out
}

// protectionOf returns a branch's protection under the lock; it answers
// GitHub's 404s ("Branch not found", "Branch not protected") and returns
// nil when there is none.
func (s *Server) protectionOf(w http.ResponseWriter, r *http.Request, doc string) (*Repo, *Protection) {
	rp := s.repoOf(w, r, doc)
	if rp == nil {
		return nil, nil
	}
	name := r.PathValue("branch")
	if _, ok := rp.branches[name]; !ok {
		writeError(w, http.StatusNotFound, "Branch not found", doc)
		return nil, nil
	}
	p := rp.protection[name]
	if p == nil {
		writeError(w, http.StatusNotFound, "Branch not protected", doc)
		return nil, nil
	}
	return rp, p
}

func (s *Server) requiredChecksJSON(rp *Repo, branch string, rc *RequiredChecks) map[string]any {
	url := s.base() + "/repos/" + rp.FullName() + "/branches/" + branch + "/protection/required_status_checks"
	return map[string]any{
		"url": url, "strict": rc.Strict, "contexts": nonNil(rc.Contexts()), "contexts_url": url + "/contexts",
		"checks": checksJSON(rc.Checks),
	}
}

func (s *Server) getProtection(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/branches/branch-protection#get-branch-protection"
	s.mu.Lock()
	defer s.mu.Unlock()
	rp, p := s.protectionOf(w, r, doc)
	if p == nil {
		return
	}
	branch := r.PathValue("branch")
	url := s.base() + "/repos/" + rp.FullName() + "/branches/" + branch + "/protection"
	enabled := func(b bool) map[string]any { return map[string]any{"enabled": b} }
	out := map[string]any{
		"url":                              url,
		"enforce_admins":                   map[string]any{"url": url + "/enforce_admins", "enabled": p.EnforceAdmins},
		"required_linear_history":          enabled(false),
		"allow_force_pushes":               enabled(false),
		"allow_deletions":                  enabled(false),
		"block_creations":                  enabled(false),
		"required_conversation_resolution": enabled(false),
		"lock_branch":                      enabled(false),
		"allow_fork_syncing":               enabled(false),
		"required_signatures":              map[string]any{"url": url + "/required_signatures", "enabled": false},
	}
	if p.RequiredChecks != nil {
		out["required_status_checks"] = s.requiredChecksJSON(rp, branch, p.RequiredChecks)
	}
	if p.RequiredReviews > 0 {
		out["required_pull_request_reviews"] = map[string]any{
			"url":                             url + "/required_pull_request_reviews",
			"dismiss_stale_reviews":           false,
			"require_code_owner_reviews":      false,
			"require_last_push_approval":      false,
			"required_approving_review_count": p.RequiredReviews,
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getRequiredChecks(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/branches/branch-protection#get-status-checks-protection"
	s.mu.Lock()
	defer s.mu.Unlock()
	rp, p := s.protectionOf(w, r, doc)
	if p == nil {
		return
	}
	if p.RequiredChecks == nil {
		writeError(w, http.StatusNotFound, "Required status checks not enabled", doc)
		return
	}
	writeJSON(w, http.StatusOK, s.requiredChecksJSON(rp, r.PathValue("branch"), p.RequiredChecks))
}

// patchRequiredChecks updates the required checks as GitHub does: strict
// when given; checks when given, else contexts when given (each then
// settable by any app).
func (s *Server) patchRequiredChecks(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/branches/branch-protection#update-status-check-protection"
	var req struct {
		Strict   *bool     `json:"strict"`
		Contexts *[]string `json:"contexts"`
		Checks   *[]struct {
			Context *string `json:"context"`
			AppID   *int64  `json:"app_id"`
		} `json:"checks"`
	}
	if !decode(w, r, &req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rp, p := s.protectionOf(w, r, doc)
	if p == nil {
		return
	}
	if p.RequiredChecks == nil {
		writeError(w, http.StatusNotFound, "Required status checks not enabled", doc)
		return
	}
	rc := *p.RequiredChecks
	if req.Strict != nil {
		rc.Strict = *req.Strict
	}
	switch {
	case req.Checks != nil:
		rc.Checks = nil
		for _, c := range *req.Checks {
			if c.Context == nil || *c.Context == "" {
				validationError(w, "ProtectedBranch", "checks", "Invalid request.\n\n\"context\" wasn't supplied.", doc)
				return
			}
			var app int64
			switch {
			case c.AppID == nil:
				app = rp.providers[*c.Context] // 0 when no app provided it
			case *c.AppID > 0:
				app = *c.AppID
			}
			rc.Checks = append(rc.Checks, Check{Context: *c.Context, AppID: app})
		}
	case req.Contexts != nil:
		rc.Checks = nil
		for _, c := range *req.Contexts {
			rc.Checks = append(rc.Checks, Check{Context: c})
		}
	}
	p.RequiredChecks = &rc
	writeJSON(w, http.StatusOK, s.requiredChecksJSON(rp, r.PathValue("branch"), &rc))
}
