package ghfake

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"
)

// maxStatuses is GitHub's limit of statuses per SHA and context.
const maxStatuses = 1000

// SetStatus seeds a status on sha (which becomes a known commit), as if
// an earlier run had posted it.
func (r *Repo) SetStatus(sha, state, context, description string) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	r.commits[sha] = true
	r.statuses = append(r.statuses, &Status{
		ID: r.s.id(), SHA: sha, State: state, Context: context, Description: description,
		Created: time.Now().UTC(),
	})
}

// Statuses returns the statuses of sha, oldest first: those seeded and
// those posted.
func (r *Repo) Statuses(sha string) []Status {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	var out []Status
	for _, st := range r.statuses {
		if st.SHA == sha {
			out = append(out, *st)
		}
	}
	return out
}

// Sequence returns the statuses of one context of sha, oldest first, as
// "state: description": what a test compares with what odu should post.
func (r *Repo) Sequence(sha, context string) []string {
	var out []string
	for _, st := range r.Statuses(sha) {
		if st.Context == context {
			out = append(out, st.State+": "+st.Description)
		}
	}
	return out
}

// Latest returns the latest status of each context of sha, by context,
// as the combined status shows them.
func (r *Repo) Latest(sha string) map[string]Status {
	out := map[string]Status{}
	for _, st := range r.Statuses(sha) {
		out[st.Context] = st
	}
	return out
}

// resolve returns the commit a ref names: a branch's head, or a SHA
// GitHub knows.
func (rp *Repo) resolve(ref string) (string, bool) {
	if sha, ok := rp.branches[ref]; ok {
		return sha, true
	}
	return ref, rp.commits[ref]
}

func (s *Server) statusJSON(rp *Repo, st *Status) map[string]any {
	opt := func(v string) any {
		if v == "" {
			return nil
		}
		return v
	}
	ts := st.Created.Format(time.RFC3339)
	return map[string]any{
		"url":         s.base() + "/repos/" + rp.FullName() + "/statuses/" + st.SHA,
		"avatar_url":  "https://avatars.githubusercontent.com/u/1?v=4",
		"id":          st.ID,
		"node_id":     base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "06:StatusContext%d", st.ID)),
		"state":       st.State,
		"description": opt(st.Description),
		"target_url":  opt(st.TargetURL),
		"context":     st.Context,
		"created_at":  ts,
		"updated_at":  ts,
		"creator":     s.userJSON("odu-user"),
	}
}

func (s *Server) createStatus(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/commits/statuses#create-a-commit-status"
	var req struct {
		State       string  `json:"state"`
		TargetURL   *string `json:"target_url"`
		Description *string `json:"description"`
		Context     *string `json:"context"`
	}
	if !decode(w, r, &req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repoOf(w, r, doc)
	if rp == nil {
		return
	}
	sha := r.PathValue("sha")
	if !rp.commits[sha] {
		writeError(w, http.StatusUnprocessableEntity, "No commit found for SHA: "+sha, doc)
		return
	}
	if !slices.Contains([]string{"error", "failure", "pending", "success"}, req.State) {
		validationError(w, "Status", "state", "state is not included in the list", doc)
		return
	}
	st := &Status{ID: s.id(), SHA: sha, State: req.State, Context: "default", Created: time.Now().UTC()}
	if req.Context != nil {
		st.Context = *req.Context
	}
	if req.Description != nil {
		st.Description = *req.Description
	}
	if req.TargetURL != nil {
		st.TargetURL = *req.TargetURL
	}
	if utf8.RuneCountInString(st.Description) > 140 {
		validationError(w, "Status", "description", "description is too long (maximum is 140 characters)", doc)
		return
	}
	n := 0
	for _, old := range rp.statuses {
		if old.SHA == sha && old.Context == st.Context {
			n++
		}
	}
	if n >= maxStatuses {
		validationError(w, "Status", "context", "This SHA and context has reached the maximum number of statuses.", doc)
		return
	}
	rp.statuses = append(rp.statuses, st)
	writeJSON(w, http.StatusCreated, s.statusJSON(rp, st))
}

// listStatuses lists every status of a ref, newest first, as GitHub does;
// a ref GitHub does not know has none.
func (s *Server) listStatuses(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repoOf(w, r, "https://docs.github.com/rest/commits/statuses#list-commit-statuses-for-a-reference")
	if rp == nil {
		return
	}
	sha, _ := rp.resolve(r.PathValue("ref"))
	var all []*Status
	for i := len(rp.statuses) - 1; i >= 0; i-- {
		if rp.statuses[i].SHA == sha {
			all = append(all, rp.statuses[i])
		}
	}
	lo, hi := s.paginate(w, r, len(all))
	out := []any{}
	for _, st := range all[lo:hi] {
		out = append(out, s.statusJSON(rp, st))
	}
	writeJSON(w, http.StatusOK, out)
}

// combinedStatus answers the latest status of each context of a ref, and
// their combined state: failure if any is error or failure, pending if
// any is pending or there are none, success otherwise.
func (s *Server) combinedStatus(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/commits/statuses#get-the-combined-status-for-a-specific-reference"
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repoOf(w, r, doc)
	if rp == nil {
		return
	}
	ref := r.PathValue("ref")
	sha, ok := rp.resolve(ref)
	if !ok {
		writeError(w, http.StatusUnprocessableEntity, "No commit found for SHA: "+ref, doc)
		return
	}
	latest := map[string]*Status{}
	var order []string
	for _, st := range rp.statuses {
		if st.SHA != sha {
			continue
		}
		if latest[st.Context] == nil {
			order = append(order, st.Context)
		}
		latest[st.Context] = st
	}
	state := "success"
	if len(order) == 0 {
		state = "pending"
	}
	for _, c := range order {
		switch latest[c].State {
		case "error", "failure":
			state = "failure"
		case "pending":
			if state != "failure" {
				state = "pending"
			}
		}
	}
	lo, hi := s.paginate(w, r, len(order))
	statuses := []any{}
	for _, c := range order[lo:hi] {
		statuses = append(statuses, s.statusJSON(rp, latest[c]))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"state":       state,
		"statuses":    statuses,
		"sha":         sha,
		"total_count": len(order),
		"repository":  s.repoJSON(rp),
		"commit_url":  s.base() + "/repos/" + rp.FullName() + "/commits/" + sha,
		"url":         s.base() + "/repos/" + rp.FullName() + "/commits/" + sha + "/status",
	})
}
