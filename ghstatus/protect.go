package ghstatus

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/google/go-github/v60/github"
)

// Where says where a branch's required status checks live.
type Where int

// The places required status checks live.
const (
	Nowhere   Where = iota // neither a ruleset nor classic protection requires checks
	InRuleset              // a repository ruleset's required_status_checks rule
	InClassic              // classic branch protection
)

// ConflictError is a branch whose required checks odu cannot make
// exactly the nodes: they come from several places, or from the
// organization.
type ConflictError struct{ Msg, Fix string }

func (e *ConflictError) Error() string { return e.Msg }

// Hint says what to do.
func (e *ConflictError) Hint() string { return e.Fix }

// Plan is what protect would change on a branch.
type Plan struct {
	Target Target
	Branch string
	Where  Where
	// Ruleset is the ruleset that requires the checks (InRuleset).
	RulesetID   int64
	RulesetName string
	Have        []string // the contexts required now
	Want        []string // the node ids
	Added       []string // in Want, not in Have
	Removed     []string // in Have, not in Want
	Unchanged   int

	cl      *github.Client
	ruleset map[string]any               // the ruleset as GitHub gave it (InRuleset)
	classic *github.RequiredStatusChecks // (InClassic)
}

// InSync reports whether nothing needs to change.
func (p *Plan) InSync() bool {
	return p.Where != Nowhere && len(p.Added) == 0 && len(p.Removed) == 0
}

// NewPlan reads where branch's required checks live ("" is the
// repository's default branch) and compares them with want.
func NewPlan(ctx context.Context, cl *github.Client, t Target, branch string, want []string) (*Plan, error) {
	p := &Plan{Target: t, Branch: branch, Want: slices.Clone(want), cl: cl}
	if p.Branch == "" {
		r, _, err := cl.Repositories.Get(ctx, t.Owner, t.Repo)
		if err != nil {
			return nil, apiError("read the repository "+t.FullName(), err)
		}
		p.Branch = r.GetDefaultBranch()
	}
	// The rulesets that require checks for the branch, as GitHub matches
	// them (patterns, ~DEFAULT_BRANCH, the organization's).
	type source struct {
		kind, name string
		id         int64
	}
	var sources []source
	rules, err := p.rulesForBranch(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range rules {
		if r["type"] != "required_status_checks" {
			continue
		}
		id, _ := r["ruleset_id"].(float64)
		s := source{kind: str(r["ruleset_source_type"]), name: str(r["ruleset_source"]), id: int64(id)}
		if !slices.Contains(sources, s) {
			sources = append(sources, s)
		}
	}
	checks, _, err := cl.Repositories.GetRequiredStatusChecks(ctx, t.Owner, t.Repo, p.Branch)
	switch {
	case err == nil:
		p.classic = checks
	case errors.Is(err, github.ErrBranchNotProtected) || notEnabled(err):
	default:
		return nil, apiError("read the protection of branch "+p.Branch, err)
	}
	for _, s := range sources {
		if s.kind != "Repository" && s.kind != "" {
			owner := strings.ToLower(s.kind)
			return nil, &ConflictError{
				Msg: fmt.Sprintf("the status checks branch %s requires come from a ruleset of the %s %s (id %d), which odu does not change",
					p.Branch, owner, s.name, s.id),
				Fix: "GitHub requires the checks of every ruleset that applies, so odu cannot make them exactly the nodes: ask an admin of that " + owner + " to take required checks out of that ruleset, then run odu protect again.",
			}
		}
	}
	switch {
	case len(sources) > 1:
		var ids []string
		for _, s := range sources {
			ids = append(ids, fmt.Sprint(s.id))
		}
		return nil, &ConflictError{
			Msg: fmt.Sprintf("%d rulesets (ids %s) require status checks for branch %s", len(sources), strings.Join(ids, ", "), p.Branch),
			Fix: "GitHub requires the union of their checks, so odu cannot make them exactly the nodes: keep the required-status-checks rule in one ruleset (Settings → Rules → Rulesets), then run odu protect again.",
		}
	case len(sources) == 1 && p.classic != nil:
		return nil, &ConflictError{
			Msg: fmt.Sprintf("both ruleset %d and classic branch protection require status checks for branch %s", sources[0].id, p.Branch),
			Fix: "GitHub requires the union of both, so odu cannot make them exactly the nodes: turn off \"Require status checks\" in one of them, then run odu protect again.",
		}
	case len(sources) == 1:
		if err := p.readRuleset(ctx, sources[0].id); err != nil {
			return nil, err
		}
	case p.classic != nil:
		p.Where = InClassic
		for _, c := range p.classic.GetChecks() {
			p.Have = append(p.Have, c.Context)
		}
		if len(p.Have) == 0 && p.classic.Contexts != nil {
			p.Have = slices.Clone(*p.classic.Contexts)
		}
	}
	for _, w := range p.Want {
		if slices.Contains(p.Have, w) {
			p.Unchanged++
		} else {
			p.Added = append(p.Added, w)
		}
	}
	for _, h := range p.Have {
		if !slices.Contains(p.Want, h) {
			p.Removed = append(p.Removed, h)
		}
	}
	return p, nil
}

// rulesForBranch reads every rule that applies to the branch, with the
// ruleset each comes from. go-github's RepositoryRule drops the ruleset,
// so the answer is read as GitHub gives it.
func (p *Plan) rulesForBranch(ctx context.Context) ([]map[string]any, error) {
	var segs []string
	for _, s := range strings.Split(p.Branch, "/") {
		segs = append(segs, url.PathEscape(s))
	}
	var all []map[string]any
	page := 1
	for page != 0 {
		u := fmt.Sprintf("repos/%s/%s/rules/branches/%s?per_page=100&page=%d", p.Target.Owner, p.Target.Repo, strings.Join(segs, "/"), page)
		req, err := p.cl.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		var rules []map[string]any
		resp, err := p.cl.Do(ctx, req, &rules)
		if err != nil {
			return nil, apiError("read the rules of branch "+p.Branch, err)
		}
		all = append(all, rules...)
		page = resp.NextPage
	}
	return all, nil
}

// readRuleset reads the ruleset with id as GitHub gives it, so that an
// update sends back every rule and setting it does not mean to change,
// even those go-github does not know.
func (p *Plan) readRuleset(ctx context.Context, id int64) error {
	req, err := p.cl.NewRequest(http.MethodGet, fmt.Sprintf("repos/%s/%s/rulesets/%d", p.Target.Owner, p.Target.Repo, id), nil)
	if err != nil {
		return err
	}
	var rs map[string]any
	if _, err := p.cl.Do(ctx, req, &rs); err != nil {
		return apiError(fmt.Sprintf("read ruleset %d", id), err)
	}
	p.Where, p.RulesetID, p.RulesetName, p.ruleset = InRuleset, id, str(rs["name"]), rs
	if rule := statusRule(rs); rule != nil {
		params, _ := rule["parameters"].(map[string]any)
		checks, _ := params["required_status_checks"].([]any)
		for _, c := range checks {
			m, _ := c.(map[string]any)
			p.Have = append(p.Have, str(m["context"]))
		}
	}
	return nil
}

// statusRule returns a ruleset's required_status_checks rule, or nil.
func statusRule(rs map[string]any) map[string]any {
	rules, _ := rs["rules"].([]any)
	for _, r := range rules {
		if m, _ := r.(map[string]any); m != nil && m["type"] == "required_status_checks" {
			return m
		}
	}
	return nil
}

// ErrNowhere is a branch no ruleset nor classic protection requires
// checks for, and protect was not asked to create a ruleset.
var ErrNowhere = errors.New("nothing requires status checks for the branch")

// RulesetName is the name of the ruleset protect --create makes.
const RulesetName = "odu: required statuses"

// Apply writes the plan: the required checks become exactly Want, where
// they live; with create and nowhere to write, a repository ruleset that
// holds only that rule (active, no bypass) is created.
func (p *Plan) Apply(ctx context.Context, create bool) error {
	switch p.Where {
	case InRuleset:
		rules, _ := p.ruleset["rules"].([]any)
		out := make([]any, 0, len(rules))
		for _, r := range rules {
			m, _ := r.(map[string]any)
			if m["type"] == "required_status_checks" {
				params, _ := m["parameters"].(map[string]any)
				np := map[string]any{}
				for k, v := range params {
					np[k] = v
				}
				old, _ := params["required_status_checks"].([]any)
				np["required_status_checks"] = p.checks(old, "integration_id")
				m = map[string]any{"type": m["type"], "parameters": np}
			}
			out = append(out, m)
		}
		req, err := p.cl.NewRequest(http.MethodPut, fmt.Sprintf("repos/%s/%s/rulesets/%d", p.Target.Owner, p.Target.Repo, p.RulesetID),
			map[string]any{"rules": out})
		if err != nil {
			return err
		}
		if _, err := p.cl.Do(ctx, req, nil); err != nil {
			return apiError(fmt.Sprintf("update ruleset %d", p.RulesetID), err)
		}
		return nil
	case InClassic:
		var checks []*github.RequiredStatusCheck
		for _, w := range p.Want {
			// -1: any app may set it. An omitted app_id would let
			// GitHub pin the check to the app that last provided it
			// (github-actions, for a status posted with a workflow's
			// token), and odu's own statuses would no longer count.
			c := &github.RequiredStatusCheck{Context: w, AppID: github.Int64(-1)}
			for _, o := range p.classic.GetChecks() {
				if o.Context == w && o.AppID != nil {
					c.AppID = github.Int64(*o.AppID)
				}
			}
			checks = append(checks, c)
		}
		_, _, err := p.cl.Repositories.UpdateRequiredStatusChecks(ctx, p.Target.Owner, p.Target.Repo, p.Branch,
			&github.RequiredStatusChecksRequest{Strict: github.Bool(p.classic.Strict), Checks: checks})
		if err != nil {
			return apiError("update the protection of branch "+p.Branch, err)
		}
		return nil
	}
	if !create {
		return ErrNowhere
	}
	body := map[string]any{
		"name": RulesetName, "target": "branch", "enforcement": "active",
		"conditions": map[string]any{"ref_name": map[string]any{"include": []string{"refs/heads/" + p.Branch}, "exclude": []string{}}},
		"rules": []any{map[string]any{"type": "required_status_checks", "parameters": map[string]any{
			"strict_required_status_checks_policy": false,
			"required_status_checks":               p.checks(nil, ""),
		}}},
	}
	req, err := p.cl.NewRequest(http.MethodPost, fmt.Sprintf("repos/%s/%s/rulesets", p.Target.Owner, p.Target.Repo), body)
	if err != nil {
		return err
	}
	if _, err := p.cl.Do(ctx, req, nil); err != nil {
		return apiError("create a ruleset", err)
	}
	return nil
}

// checks returns Want as a rule's checks, keeping the app (idKey) that
// old pins for a context that stays.
func (p *Plan) checks(old []any, idKey string) []any {
	out := []any{}
	for _, w := range p.Want {
		c := map[string]any{"context": w}
		for _, o := range old {
			if m, _ := o.(map[string]any); m != nil && m["context"] == w && m[idKey] != nil {
				c[idKey] = m[idKey]
			}
		}
		out = append(out, c)
	}
	return out
}

// APIError is a request GitHub refused, with its message.
type APIError struct {
	What string
	Err  error
}

func (e *APIError) Error() string {
	var er *github.ErrorResponse
	if errors.As(e.Err, &er) && er.Response != nil {
		msg := fmt.Sprintf("%s: GitHub answered %d %s", e.What, er.Response.StatusCode, er.Message)
		for _, d := range er.Errors {
			if d.Message != "" {
				msg += ": " + d.Message
			}
		}
		return msg
	}
	return fmt.Sprintf("%s: %v", e.What, urlError(e.Err))
}

func (e *APIError) Unwrap() error { return e.Err }

func apiError(what string, err error) error { return &APIError{What: what, Err: err} }

// notEnabled reports GitHub's 404 for a protected branch that does not
// require status checks.
func notEnabled(err error) bool {
	var er *github.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusNotFound &&
		strings.Contains(er.Message, "not enabled")
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
