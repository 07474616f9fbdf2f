package ghstatus

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/odu-ci/odu/repo"
)

// verdict is what to do after a request failed.
type verdict int

const (
	retry verdict = iota // a 5xx, a timeout, a lost connection: back off and try again
	wait                 // a rate limit: try again at a time GitHub said
	drop                 // GitHub refuses this status: the context stays owed
	stop                 // GitHub refuses every status (token, permission, repository, commit)
)

// defaultLimitWait is how long a rate limit that does not say until when
// pauses posting: GitHub's advice for a secondary limit without
// Retry-After is "at least one minute".
const defaultLimitWait = time.Minute

// outcome classifies a failed request: what to do, until when to wait,
// and a one-line reason for people.
type outcome struct {
	v      verdict
	until  time.Time
	reason string
}

// classify reads a go-github error. It never quotes a request's headers,
// so the token cannot leak through it.
func classify(err error, t Target, sha string) outcome {
	now := time.Now()
	var rl *github.RateLimitError
	var abuse *github.AbuseRateLimitError
	var er *github.ErrorResponse
	switch {
	case errors.As(err, &rl):
		until := rl.Rate.Reset.Time
		if !until.After(now) { // the window has turned since
			until = now.Add(backoffBase)
		}
		return outcome{wait, until, "API rate limit exceeded until " + until.Format("15:04:05")}
	case errors.As(err, &abuse):
		d := defaultLimitWait
		if abuse.RetryAfter != nil && *abuse.RetryAfter > 0 {
			d = *abuse.RetryAfter
		}
		return outcome{wait, now.Add(d), fmt.Sprintf("secondary rate limit: retry after %s", d.Round(time.Second))}
	case errors.As(err, &er) && er.Response != nil:
		return classifyResponse(er, t, sha, now)
	case errors.Is(err, context.DeadlineExceeded):
		return outcome{v: retry, reason: "no answer in time"}
	}
	return outcome{v: retry, reason: scrub(urlError(err).Error())}
}

func classifyResponse(er *github.ErrorResponse, t Target, sha string, now time.Time) outcome {
	r := er.Response
	code := r.StatusCode
	said := fmt.Sprintf("%d %s", code, http.StatusText(code))
	if er.Message != "" {
		said = fmt.Sprintf("%d %s", code, er.Message)
	}
	// A 403 or 429 with Retry-After, or with no requests left, is a rate
	// limit whatever its documentation link says.
	if code == http.StatusForbidden || code == http.StatusTooManyRequests {
		if s := r.Header.Get("Retry-After"); s != "" {
			if n, err := strconv.Atoi(s); err == nil && n >= 0 {
				return outcome{wait, now.Add(time.Duration(n) * time.Second), said}
			}
		}
		if r.Header.Get("X-RateLimit-Remaining") == "0" {
			until := now.Add(backoffBase)
			if n, err := strconv.ParseInt(r.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil && time.Unix(n, 0).After(now) {
				until = time.Unix(n, 0)
			}
			return outcome{wait, until, said}
		}
		if code == http.StatusTooManyRequests {
			return outcome{wait, now.Add(defaultLimitWait), said}
		}
	}
	switch {
	case code == http.StatusUnauthorized:
		return outcome{v: stop, reason: fmt.Sprintf("GitHub refused the token from %s (%s): it is wrong, expired or revoked; set a valid one",
			t.TokenFrom, said)}
	case code == http.StatusForbidden:
		return outcome{v: stop, reason: fmt.Sprintf("the token from %s may not post statuses to %s (%s): %s",
			t.TokenFrom, t.FullName(), said, missing(r.Header))}
	case code == http.StatusNotFound:
		return outcome{v: stop, reason: fmt.Sprintf("GitHub answers %s for %s: the repository does not exist, or the token from %s cannot see it",
			said, t.FullName(), t.TokenFrom)}
	case code == http.StatusUnprocessableEntity && strings.Contains(er.Message, "No commit found"):
		return outcome{v: stop, reason: fmt.Sprintf("GitHub does not know commit %s in %s: push it, then run again", repo.Short(sha), t.FullName())}
	case code >= 500:
		return outcome{v: retry, reason: said}
	}
	return outcome{v: drop, reason: said}
}

// missing says which permission a 403 lacks, from what GitHub named.
func missing(h http.Header) string {
	if p := h.Get("X-Accepted-GitHub-Permissions"); p != "" {
		return "it needs the permission " + p + " (a fine-grained token: \"Commit statuses\" read and write)"
	}
	if s := h.Get("X-Accepted-OAuth-Scopes"); s != "" {
		return "it needs one of the scopes " + s + " (a classic token)"
	}
	return "a fine-grained token needs \"Commit statuses: read and write\", a classic one the repo:status scope"
}

// scrub keeps the first line of an error, without the query of a URL it
// quotes.
func scrub(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
