// Package ghfake is a double of GitHub's REST API for odu's tests: the
// one test double odu has, because GitHub cannot be reached from the
// machines the tests run on.
//
// A [Server] is a real HTTP server (httptest) that answers the endpoints
// odu uses as GitHub does: the same paths, the same JSON shapes (checked
// against go-github's types), the same status codes and messages for the
// errors odu must handle, the same rate-limit headers and Link
// pagination. It is mounted under a non-empty prefix, /api/v3/ as on a
// GitHub Enterprise server, so that a client which builds an absolute
// URL instead of resolving against its base URL misses it; such a request
// fails the test.
//
// Endpoints:
//
//	GET   /repos/{o}/{r}                                   default_branch
//	GET   /repos/{o}/{r}/branches/{b}                      "Branch not found"
//	GET   /repos/{o}/{r}/branches/{b}/protection           "Branch not protected"
//	GET   /repos/{o}/{r}/branches/{b}/protection/required_status_checks
//	PATCH /repos/{o}/{r}/branches/{b}/protection/required_status_checks
//	POST  /repos/{o}/{r}/statuses/{sha}                    "No commit found for SHA"
//	GET   /repos/{o}/{r}/commits/{ref}/statuses            paginated
//	GET   /repos/{o}/{r}/commits/{ref}/status              combined, paginated
//	GET   /repos/{o}/{r}/rulesets                          paginated, includes_parents
//	POST  /repos/{o}/{r}/rulesets
//	GET   /repos/{o}/{r}/rulesets/{id}
//	PUT   /repos/{o}/{r}/rulesets/{id}
//	GET   /repos/{o}/{r}/rules/branches/{b}                with ruleset_source_type
//
// Every request needs the server's [Server.Token] (401 "Requires
// authentication" without one, "Bad credentials" with another). Faults
// are injected with [Server.Fail]: the next requests to a path answer a
// 5xx, a rate limit, a 403, answer late, or wait for the test. Every
// request is recorded, without its Authorization header, for assertions
// ([Server.Requests]).
package ghfake

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Prefix is the path the API is mounted under, as on GitHub Enterprise.
const Prefix = "/api/v3"

// Server is a running GitHub API double.
type Server struct {
	// Token is the one token the server accepts. It is random, so a test
	// can look for it in anything odu writes.
	Token string

	srv    *httptest.Server
	mux    *http.ServeMux
	closed chan struct{}

	mu       sync.Mutex
	repos    map[string]*Repo // by "owner/name", lower case
	orgRules map[string][]*ruleset
	nextID   int64
	requests []Request
	stray    []string
	faults   []*fault
	used     int // requests counted against the rate limit
	reset    time.Time
	// changed is closed and replaced whenever a request arrives or is
	// answered, for [Server.Await].
	changed chan struct{}
	// inFlight counts the requests being served (arrived, not yet
	// answered), and maxInFlight the most there ever were at once: a
	// client that keeps its promise of a bound on concurrent requests
	// never takes maxInFlight over it.
	inFlight, maxInFlight int
}

// Request is one request the server received.
type Request struct {
	Method string
	// Path is the request's path without the prefix:
	// "/repos/octo/hello/statuses/0123abc".
	Path  string
	Query url.Values
	Body  []byte
	// Token says whether the request carried an Authorization header; its
	// value is not kept.
	Token bool
	// Status is what the server answered: 0 while the answer is pending.
	Status int
}

// New starts a server that t closes, and that fails t if a request
// missed the prefix.
func New(t testing.TB) *Server {
	t.Helper()
	s := Start()
	t.Cleanup(func() {
		s.Close()
		for _, r := range s.Stray() {
			t.Errorf("ghfake: a request missed the API's base URL %s: %s", s.URL(), r)
		}
	})
	return s
}

// Start starts a server; [Server.Close] stops it.
func Start() *Server {
	var tok [20]byte
	rand.Read(tok[:])
	s := &Server{
		Token:    "ghp_" + hex.EncodeToString(tok[:]),
		closed:   make(chan struct{}),
		changed:  make(chan struct{}),
		repos:    map[string]*Repo{},
		orgRules: map[string][]*ruleset{},
		nextID:   1000,
		reset:    time.Now().Add(time.Hour).Truncate(time.Second),
	}
	s.mux = http.NewServeMux()
	s.routes()
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Close stops the server; requests it holds or delays are answered 503.
func (s *Server) Close() {
	s.mu.Lock()
	select {
	case <-s.closed:
		s.mu.Unlock()
		return
	default:
		close(s.closed)
	}
	s.mu.Unlock()
	s.srv.Close()
}

// URL returns the API's base URL, ending in "/api/v3/".
func (s *Server) URL() string { return s.srv.URL + Prefix + "/" }

// Requests returns the requests received so far, in order of arrival.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	copy(out, s.requests)
	return out
}

// InFlight returns how many requests are being served now: arrived, and
// not yet answered (held at a [Gate], delayed, or being handled).
func (s *Server) InFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inFlight
}

// MaxInFlight returns the most requests that were ever in flight at once.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInFlight
}

// Await waits until cond holds for the requests received so far (with
// their answers' status, 0 while pending), checking again whenever a
// request arrives or is answered. It returns ctx's error if ctx ends
// first.
func (s *Server) Await(ctx context.Context, cond func([]Request) bool) error {
	for {
		s.mu.Lock()
		reqs, ch := slices.Clone(s.requests), s.changed
		s.mu.Unlock()
		if cond(reqs) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *Server) changedLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Writes returns the requests that were not GETs, as "METHOD PATH".
func (s *Server) Writes() []string {
	var out []string
	for _, r := range s.Requests() {
		if r.Method != http.MethodGet {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	return out
}

// Stray returns the requests that missed the prefix, as "METHOD PATH".
func (s *Server) Stray() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.stray...)
}

func (s *Server) id() int64 {
	s.nextID++
	return s.nextID
}

// serve records a request, applies faults and authentication, and hands
// it to the route.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	if !strings.HasPrefix(r.URL.Path, Prefix+"/") {
		s.mu.Lock()
		s.stray = append(s.stray, r.Method+" "+r.URL.Path)
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest")
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = strings.TrimPrefix(r.URL.Path, Prefix)
	r2.URL.RawPath = strings.TrimPrefix(r.URL.RawPath, Prefix)

	s.mu.Lock()
	idx := len(s.requests)
	s.requests = append(s.requests, Request{
		Method: r.Method, Path: r2.URL.Path, Query: r.URL.Query(), Body: body,
		Token: r.Header.Get("Authorization") != "",
	})
	f := s.takeFault(r.Method, r2.URL.Path)
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	s.changedLocked()
	s.mu.Unlock()

	rec := &recorder{ResponseWriter: w}
	defer func() {
		s.mu.Lock()
		s.requests[idx].Status = rec.code()
		s.inFlight--
		s.changedLocked()
		s.mu.Unlock()
	}()
	s.rateHeaders(rec)
	if f != nil && !s.inject(rec, r, f) {
		return
	}
	switch tok := bearer(r.Header.Get("Authorization")); {
	case tok == "":
		writeError(rec, http.StatusUnauthorized, "Requires authentication", "https://docs.github.com/rest")
		return
	case tok != s.Token:
		writeError(rec, http.StatusUnauthorized, "Bad credentials", "https://docs.github.com/rest")
		return
	}
	s.mux.ServeHTTP(rec, r2)
}

// bearer returns the token of an Authorization header: GitHub takes both
// "Bearer TOKEN" and "token TOKEN".
func bearer(h string) string {
	for _, p := range []string{"Bearer ", "bearer ", "token "} {
		if t, ok := strings.CutPrefix(h, p); ok {
			return strings.TrimSpace(t)
		}
	}
	return ""
}

// rateHeaders sets the primary rate limit's headers, which GitHub sends
// on every answer.
func (s *Server) rateHeaders(w http.ResponseWriter) {
	s.mu.Lock()
	s.used++
	used, reset := s.used, s.reset
	s.mu.Unlock()
	h := w.Header()
	h.Set("X-RateLimit-Limit", "5000")
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(0, 5000-used)))
	h.Set("X-RateLimit-Used", strconv.Itoa(used))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	h.Set("X-GitHub-Api-Version-Selected", "2022-11-28")
}

// recorder keeps the status code a handler wrote.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) code() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// writeJSON answers code with v as JSON, as GitHub does.
func writeJSON(w http.ResponseWriter, code int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err) // the double's own values: a bug in the double
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(data) // a client that went away reads nothing either way
}

// writeError answers an error in GitHub's shape.
func writeError(w http.ResponseWriter, code int, msg, doc string) {
	writeJSON(w, code, map[string]any{"message": msg, "documentation_url": doc, "status": strconv.Itoa(code)})
}

// validationError answers 422 "Validation Failed" with one error.
func validationError(w http.ResponseWriter, resource, field, msg, doc string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"message":           "Validation Failed",
		"errors":            []any{map[string]any{"resource": resource, "code": "custom", "field": field, "message": msg}},
		"documentation_url": doc,
		"status":            "422",
	})
}

// base returns the absolute URL of the API as a client reached it, for
// the url fields and Link headers of answers.
func (s *Server) base() string { return s.srv.URL + Prefix }

// paginate writes the Link header of a list of n items and returns the
// bounds of the page asked for: per_page defaults to 30 and is at most
// 100, as on GitHub.
func (s *Server) paginate(w http.ResponseWriter, r *http.Request, n int) (lo, hi int) {
	q := r.URL.Query()
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per <= 0 {
		per = 30
	}
	per = min(per, 100)
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	last := max(1, (n+per-1)/per)
	link := func(p int, rel string) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(per))
		return fmt.Sprintf("<%s%s?%s>; rel=%q", s.base(), r.URL.EscapedPath(), q.Encode(), rel)
	}
	var links []string
	if page > 1 {
		links = append(links, link(page-1, "prev"))
	}
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	lo = min(n, (page-1)*per)
	return lo, min(n, lo+per)
}

// decode reads a JSON request body; a body that is not JSON is answered
// 400 "Problems parsing JSON", as GitHub does.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON", "https://docs.github.com/rest")
		return false
	}
	return true
}
