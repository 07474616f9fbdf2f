package ghfake

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fault makes the next requests to a path go wrong.
type Fault struct {
	Method string // "" for any
	// Path is matched as a prefix of the request's path without the
	// API's prefix: "/repos/octo/hello/statuses/" catches every status
	// posted to octo/hello.
	Path string
	// Times is how many requests the fault catches; 0 is 1, Always is
	// every one until [Server.Clear].
	Times  int
	Answer Answer
}

// Always makes a [Fault] catch every request to its path.
const Always = -1

// Answer is what a faulty request gets; build one with [ServerError],
// [Delay], [Hold], [RetryAfter], [RateLimited] or [Forbidden].
type Answer struct {
	code    int
	msg     string
	doc     string
	delay   time.Duration
	gate    *Gate
	headers map[string]string
}

// ServerError answers code (a 5xx) with GitHub's error shape.
func ServerError(code int) Answer {
	return Answer{code: code, msg: http.StatusText(code), doc: "https://docs.github.com/rest"}
}

// Delay answers d late, and then as usual. A client that gives up first
// gets nothing, and the request has no effect.
func Delay(d time.Duration) Answer { return Answer{delay: d} }

// Hold keeps the request until the test calls [Gate.Release], and then
// answers it as usual: a post in flight for as long as a test needs.
func Hold(g *Gate) Answer { return Answer{gate: g} }

// RetryAfter answers a secondary rate limit, as GitHub does when a
// client makes too many requests at once or too many writes in a minute:
// code is 403 or 429, and Retry-After says in how many seconds to try again.
func RetryAfter(code, seconds int) Answer {
	return Answer{
		code: code,
		msg:  "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.",
		doc:  "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
		headers: map[string]string{
			"Retry-After": strconv.Itoa(seconds),
		},
	}
}

// RateLimited answers the primary rate limit being spent until reset:
// 403 with X-RateLimit-Remaining: 0 and X-RateLimit-Reset.
func RateLimited(reset time.Time) Answer {
	return Answer{
		code: http.StatusForbidden,
		msg:  "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID.",
		doc:  "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limit",
		headers: map[string]string{
			"X-RateLimit-Remaining": "0",
			"X-RateLimit-Reset":     strconv.FormatInt(reset.Unix(), 10),
		},
	}
}

// Forbidden answers 403 with msg, as GitHub does when the token lacks a
// permission: "Resource not accessible by integration" for an app's
// token, "Resource not accessible by personal access token" for a
// fine-grained one. permission is what GitHub names in
// X-Accepted-GitHub-Permissions ("statuses=write").
func Forbidden(msg, permission string) Answer {
	a := Answer{code: http.StatusForbidden, msg: msg, doc: "https://docs.github.com/rest/commits/statuses#create-a-commit-status"}
	if permission != "" {
		a.headers = map[string]string{"X-Accepted-GitHub-Permissions": permission}
	}
	return a
}

// Gate holds requests until it is released.
type Gate struct {
	once     sync.Once
	release  chan struct{}
	arrived  chan struct{}
	arriveMu sync.Once
}

// NewGate returns a gate that holds requests until it is released.
func NewGate() *Gate {
	return &Gate{release: make(chan struct{}), arrived: make(chan struct{})}
}

// Arrived is closed once a request waits at the gate.
func (g *Gate) Arrived() <-chan struct{} { return g.arrived }

// Release lets every request at the gate, and every later one, through.
func (g *Gate) Release() { g.once.Do(func() { close(g.release) }) }

type fault struct {
	Fault
	left int
}

// Fail adds a fault; faults are tried in the order they were added.
func (s *Server) Fail(f Fault) {
	if f.Times == 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{Fault: f, left: f.Times})
}

// Clear removes every fault.
func (s *Server) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault returns the first fault that catches a request, and counts it.
func (s *Server) takeFault(method, path string) *Answer {
	for i, f := range s.faults {
		if (f.Method == "" || f.Method == method) && strings.HasPrefix(path, f.Path) {
			if f.left > 0 {
				f.left--
				if f.left == 0 {
					s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
				}
			}
			a := f.Answer
			return &a
		}
	}
	return nil
}

// inject applies a fault; it reports whether the request goes on to be
// answered as usual.
func (s *Server) inject(w http.ResponseWriter, r *http.Request, a *Answer) bool {
	if a.gate != nil {
		a.gate.arriveMu.Do(func() { close(a.gate.arrived) })
		select {
		case <-a.gate.release:
		case <-r.Context().Done():
			return false
		case <-s.closed:
			writeError(w, http.StatusServiceUnavailable, "Service Unavailable", "https://docs.github.com/rest")
			return false
		}
	}
	if a.delay > 0 {
		t := time.NewTimer(a.delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return false
		case <-s.closed:
			writeError(w, http.StatusServiceUnavailable, "Service Unavailable", "https://docs.github.com/rest")
			return false
		}
	}
	if a.code == 0 {
		return true
	}
	for k, v := range a.headers {
		w.Header().Set(k, v)
	}
	writeError(w, a.code, a.msg, a.doc)
	return false
}
