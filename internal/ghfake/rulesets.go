package ghfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ruleset is a ruleset the server holds; body holds its settings as the
// API takes them (name, target, enforcement, bypass_actors, conditions,
// rules), so that whatever a client sends comes back unchanged.
type ruleset struct {
	id         int64
	sourceType string // "Repository" or "Organization"
	source     string // "octo/hello" or "octo"
	body       map[string]any
	created    time.Time
	updated    time.Time
}

// ruleTypes are the rule types GitHub accepts.
var ruleTypes = []string{
	"creation", "update", "deletion", "required_linear_history", "merge_queue", "required_deployments",
	"required_signatures", "pull_request", "required_status_checks", "non_fast_forward",
	"commit_message_pattern", "commit_author_email_pattern", "committer_email_pattern",
	"branch_name_pattern", "tag_name_pattern", "file_path_restriction", "max_file_path_length",
	"file_extension_restriction", "max_file_size", "workflows", "code_scanning", "copilot_code_review",
}

// AddRuleset seeds a repository ruleset from its JSON, as the API's
// create takes it, and returns its id. It panics on JSON the API would
// refuse: the test is wrong.
func (r *Repo) AddRuleset(js string) int64 {
	rs := mustRuleset(js)
	rs.sourceType, rs.source = "Repository", r.FullName()
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	rs.id = r.s.id()
	r.rulesets = append(r.rulesets, rs)
	return rs.id
}

// AddOrgRuleset seeds a ruleset of the organization org, which applies
// to its repositories that its repository_name condition names (every
// one without that condition), and returns its id.
func (s *Server) AddOrgRuleset(org, js string) int64 {
	rs := mustRuleset(js)
	rs.sourceType, rs.source = "Organization", org
	s.mu.Lock()
	defer s.mu.Unlock()
	rs.id = s.id()
	s.orgRules[strings.ToLower(org)] = append(s.orgRules[strings.ToLower(org)], rs)
	return rs.id
}

func mustRuleset(js string) *ruleset {
	var body map[string]any
	if err := json.Unmarshal([]byte(js), &body); err != nil {
		panic(fmt.Sprintf("ghfake: ruleset JSON: %v", err))
	}
	if msg := checkRuleset(body, true); msg != "" {
		panic("ghfake: ruleset: " + msg)
	}
	now := time.Now().UTC().Truncate(time.Second)
	rs := &ruleset{body: map[string]any{"target": "branch", "bypass_actors": []any{}, "rules": []any{}}, created: now, updated: now}
	for k, v := range body {
		rs.body[k] = v
	}
	return rs
}

// Ruleset returns a ruleset's settings as JSON (name, target,
// enforcement, bypass_actors, conditions, rules), or "" if r has none
// with that id.
func (r *Repo) Ruleset(id int64) string {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	for _, rs := range r.rulesets {
		if rs.id == id {
			data, _ := json.Marshal(rs.body)
			return string(data)
		}
	}
	return ""
}

// Rulesets returns the ids of r's own rulesets, oldest first.
func (r *Repo) Rulesets() []int64 {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	var out []int64
	for _, rs := range r.rulesets {
		out = append(out, rs.id)
	}
	return out
}

// checkRuleset returns what GitHub would say about a ruleset's settings,
// or "" when it would take them; create says whether it is new (name and
// enforcement are then required).
func checkRuleset(body map[string]any, create bool) string {
	for k := range body {
		if !slices.Contains([]string{"name", "target", "enforcement", "bypass_actors", "conditions", "rules"}, k) {
			return fmt.Sprintf("Invalid property /%s: is not a permitted key.", k)
		}
	}
	if name, ok := body["name"].(string); (create || body["name"] != nil) && (!ok || name == "") {
		return "Invalid property /name: data cannot be blank."
	}
	if e, ok := body["enforcement"]; create || ok {
		if !slices.Contains([]any{"disabled", "active", "evaluate"}, e) {
			return fmt.Sprintf("Invalid property /enforcement: `%v` is not a possible value.", e)
		}
	}
	if t, ok := body["target"]; ok && !slices.Contains([]any{"branch", "tag", "push"}, t) {
		return fmt.Sprintf("Invalid property /target: `%v` is not a possible value.", t)
	}
	if rules, ok := body["rules"]; ok {
		list, ok := rules.([]any)
		if !ok {
			return "Invalid property /rules: data is not an array."
		}
		seen := map[string]bool{}
		for i, x := range list {
			rule, _ := x.(map[string]any)
			typ, _ := rule["type"].(string)
			if !slices.Contains(ruleTypes, typ) {
				return fmt.Sprintf("Invalid property /rules/%d/type: `%v` is not a possible value.", i, rule["type"])
			}
			if seen[typ] {
				return fmt.Sprintf("Invalid rules: '%s' rule can only be specified once per ruleset.", typ)
			}
			seen[typ] = true
			if typ == "required_status_checks" {
				if msg := checkStatusChecksRule(i, rule); msg != "" {
					return msg
				}
			}
		}
	}
	return ""
}

func checkStatusChecksRule(i int, rule map[string]any) string {
	params, _ := rule["parameters"].(map[string]any)
	if params == nil {
		return fmt.Sprintf("Invalid property /rules/%d: data matches no possible input.", i)
	}
	if _, ok := params["strict_required_status_checks_policy"].(bool); !ok {
		return fmt.Sprintf("Invalid property /rules/%d/parameters: `strict_required_status_checks_policy` is missing.", i)
	}
	checks, ok := params["required_status_checks"].([]any)
	if !ok {
		return fmt.Sprintf("Invalid property /rules/%d/parameters: `required_status_checks` is missing.", i)
	}
	for j, c := range checks {
		m, _ := c.(map[string]any)
		if ctx, _ := m["context"].(string); ctx == "" {
			return fmt.Sprintf("Invalid property /rules/%d/parameters/required_status_checks/%d: `context` is missing.", i, j)
		}
	}
	return ""
}

// parents returns the organization rulesets that apply to rp.
func (s *Server) parents(rp *Repo) []*ruleset {
	var out []*ruleset
	for _, rs := range s.orgRules[strings.ToLower(rp.owner)] {
		cond, _ := rs.body["conditions"].(map[string]any)
		names, _ := cond["repository_name"].(map[string]any)
		if names == nil || matchAny(names["include"], rp.name, rp) && !matchAny(names["exclude"], rp.name, rp) {
			out = append(out, rs)
		}
	}
	return out
}

// matchAny reports whether a pattern of a condition's list matches
// name: "~ALL", "~DEFAULT_BRANCH", or an fnmatch pattern.
func matchAny(list any, name string, rp *Repo) bool {
	pats, _ := list.([]any)
	for _, p := range pats {
		pat, _ := p.(string)
		switch {
		case pat == "~ALL":
			return true
		case pat == "~DEFAULT_BRANCH":
			if name == "refs/heads/"+rp.defaultBranch {
				return true
			}
		case fnmatch(pat, name):
			return true
		}
	}
	return false
}

// fnmatch matches name against a pattern as GitHub's rulesets do: `*`
// matches within a path segment, `**` across segments, `?` one character.
func fnmatch(pat, name string) bool {
	for len(pat) > 0 {
		switch {
		case strings.HasPrefix(pat, "**"):
			rest := strings.TrimPrefix(pat, "**")
			for i := 0; i <= len(name); i++ {
				if fnmatch(rest, name[i:]) {
					return true
				}
			}
			return false
		case pat[0] == '*':
			for i := 0; i <= len(name); i++ {
				if fnmatch(pat[1:], name[i:]) {
					return true
				}
				if i < len(name) && name[i] == '/' {
					break
				}
			}
			return false
		case len(name) == 0:
			return false
		case pat[0] == '?' || pat[0] == name[0]:
			pat, name = pat[1:], name[1:]
		default:
			return false
		}
	}
	return name == ""
}

// applies reports whether an active ruleset targets branch.
func (rs *ruleset) applies(rp *Repo, branch string) bool {
	if rs.body["enforcement"] != "active" || rs.body["target"] != "branch" {
		return false
	}
	cond, _ := rs.body["conditions"].(map[string]any)
	refs, _ := cond["ref_name"].(map[string]any)
	ref := "refs/heads/" + branch
	return refs != nil && matchAny(refs["include"], ref, rp) && !matchAny(refs["exclude"], ref, rp)
}

func (s *Server) rulesetJSON(rp *Repo, rs *ruleset, full bool) map[string]any {
	url := s.base() + "/repos/" + rp.FullName() + "/rulesets/" + strconv.FormatInt(rs.id, 10)
	html := "https://github.com/" + rp.FullName() + "/rules/" + strconv.FormatInt(rs.id, 10)
	if rs.sourceType == "Organization" {
		url = s.base() + "/orgs/" + rs.source + "/rulesets/" + strconv.FormatInt(rs.id, 10)
		html = "https://github.com/organizations/" + rs.source + "/settings/rules/" + strconv.FormatInt(rs.id, 10)
	}
	out := map[string]any{
		"id": rs.id, "name": rs.body["name"], "target": rs.body["target"],
		"source_type": rs.sourceType, "source": rs.source, "enforcement": rs.body["enforcement"],
		"node_id":    fmt.Sprintf("RRS_lACkVXNlcs%d", rs.id),
		"_links":     map[string]any{"self": map[string]any{"href": url}, "html": map[string]any{"href": html}},
		"created_at": rs.created.Format(time.RFC3339), "updated_at": rs.updated.Format(time.RFC3339),
	}
	if full {
		out["bypass_actors"] = rs.body["bypass_actors"]
		out["current_user_can_bypass"] = "never"
		if c, ok := rs.body["conditions"]; ok {
			out["conditions"] = c
		}
		out["rules"] = rs.body["rules"]
	}
	return out
}

// includesParents reads the includes_parents parameter (true by default).
func includesParents(r *http.Request) bool {
	return r.URL.Query().Get("includes_parents") != "false"
}

func (s *Server) listRulesets(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repoOf(w, r, "https://docs.github.com/rest/repos/rules#get-all-repository-rulesets")
	if rp == nil {
		return
	}
	all := slices.Clone(rp.rulesets)
	if includesParents(r) {
		all = append(s.parents(rp), all...)
	}
	lo, hi := s.paginate(w, r, len(all))
	out := []any{}
	for _, rs := range all[lo:hi] {
		out = append(out, s.rulesetJSON(rp, rs, false))
	}
	writeJSON(w, http.StatusOK, out)
}

// findRuleset returns the ruleset a request names, or nil; own says it
// must be the repository's own.
func (s *Server) findRuleset(rp *Repo, r *http.Request, own bool) *ruleset {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return nil
	}
	all := rp.rulesets
	if !own && includesParents(r) {
		all = append(slices.Clone(all), s.parents(rp)...)
	}
	for _, rs := range all {
		if rs.id == id {
			return rs
		}
	}
	return nil
}

func (s *Server) getRuleset(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/repos/rules#get-a-repository-ruleset"
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repoOf(w, r, doc)
	if rp == nil {
		return
	}
	rs := s.findRuleset(rp, r, false)
	if rs == nil {
		writeError(w, http.StatusNotFound, "Not Found", doc)
		return
	}
	writeJSON(w, http.StatusOK, s.rulesetJSON(rp, rs, true))
}

// rulesetError answers a ruleset GitHub refuses, in the shape its ruleset
// endpoints use: errors as strings.
func rulesetError(w http.ResponseWriter, msg, doc string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"message": "Validation Failed", "errors": []string{msg}, "documentation_url": doc, "status": "422",
	})
}

func (s *Server) nameTaken(rp *Repo, name any, except *ruleset) bool {
	for _, rs := range rp.rulesets {
		if rs != except && rs.body["name"] == name {
			return true
		}
	}
	return false
}

func (s *Server) createRuleset(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/repos/rules#create-a-repository-ruleset"
	var body map[string]any
	if !decode(w, r, &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repoOf(w, r, doc)
	if rp == nil {
		return
	}
	if msg := checkRuleset(body, true); msg != "" {
		rulesetError(w, msg, doc)
		return
	}
	if s.nameTaken(rp, body["name"], nil) {
		rulesetError(w, "Name must be unique", doc)
		return
	}
	now := time.Now().UTC().Truncate(time.Second)
	rs := &ruleset{
		id: s.id(), sourceType: "Repository", source: rp.FullName(), created: now, updated: now,
		body: map[string]any{"target": "branch", "bypass_actors": []any{}, "rules": []any{}},
	}
	for k, v := range body {
		rs.body[k] = v
	}
	rp.rulesets = append(rp.rulesets, rs)
	writeJSON(w, http.StatusCreated, s.rulesetJSON(rp, rs, true))
}

// updateRuleset replaces the settings a request gives and keeps the
// others, as GitHub does.
func (s *Server) updateRuleset(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/repos/rules#update-a-repository-ruleset"
	var body map[string]any
	if !decode(w, r, &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repoOf(w, r, doc)
	if rp == nil {
		return
	}
	rs := s.findRuleset(rp, r, true)
	if rs == nil {
		writeError(w, http.StatusNotFound, "Not Found", doc)
		return
	}
	if msg := checkRuleset(body, false); msg != "" {
		rulesetError(w, msg, doc)
		return
	}
	if n, ok := body["name"]; ok && s.nameTaken(rp, n, rs) {
		rulesetError(w, "Name must be unique", doc)
		return
	}
	for k, v := range body {
		rs.body[k] = v
	}
	rs.updated = time.Now().UTC().Truncate(time.Second)
	writeJSON(w, http.StatusOK, s.rulesetJSON(rp, rs, true))
}

// rulesForBranch lists the rules of every active ruleset that targets a
// branch (whether the branch exists or not), each with the ruleset it
// comes from.
func (s *Server) rulesForBranch(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repoOf(w, r, "https://docs.github.com/rest/repos/rules#get-rules-for-a-branch")
	if rp == nil {
		return
	}
	branch := r.PathValue("branch")
	var all []any
	for _, rs := range append(s.parents(rp), rp.rulesets...) {
		if !rs.applies(rp, branch) {
			continue
		}
		rules, _ := rs.body["rules"].([]any)
		for _, x := range rules {
			rule, _ := x.(map[string]any)
			out := map[string]any{
				"type": rule["type"], "ruleset_source_type": rs.sourceType, "ruleset_source": rs.source, "ruleset_id": rs.id,
			}
			if p, ok := rule["parameters"]; ok {
				out["parameters"] = p
			}
			all = append(all, out)
		}
	}
	lo, hi := s.paginate(w, r, len(all))
	out := []any{}
	out = append(out, all[lo:hi]...)
	writeJSON(w, http.StatusOK, out)
}
