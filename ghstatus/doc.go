// Package ghstatus reports a run to GitHub: a commit status per node,
// and the branch protection that requires exactly those statuses.
//
// # Where statuses go
//
// [Detect] finds the repository from a git remote (origin unless told
// otherwise), the API's base URL ($GITHUB_API_URL, else api.github.com
// for github.com, else https://HOST/api/v3/ for a GitHub Enterprise
// host) and a token ($GH_TOKEN, $GITHUB_TOKEN, then `gh auth token`).
// A remote that is not GitHub's, or no token, is an [*OffError]: the
// caller says why once and runs without posting.
//
// # Posting
//
// A [Poster] is a face of the run like any other: it is fed node
// transitions ([Poster.Follow] reads them from a surface cell) and posts
// `POST /repos/{owner}/{repo}/statuses/{sha}` with the node id as the
// context. Its rules:
//
//   - It never blocks the run: [Poster.Update] only records the state a
//     context should have; posting happens in the poster's own
//     goroutines, and a failure to post is reported, never returned.
//   - Coalescing: a context has at most one request in flight; states
//     that arrive meanwhile replace each other, and only the latest is
//     posted once the request is answered.
//   - No churn: the SHA's statuses are read once before the first post;
//     a state and description GitHub already has for a context is not
//     posted again.
//   - Requests are few at a time ([workers]) and pause together: a 5xx or
//     a timeout backs off exponentially, a rate limit waits for
//     Retry-After or X-RateLimit-Reset. A refusal that retrying cannot
//     cure (a bad token, a missing permission, a repository or commit
//     GitHub does not know) stops posting for the run, with one message.
//   - [Poster.Flush] ends it: it waits, until its context's deadline, for
//     what is owed, and returns what never reached GitHub.
//   - The token is only in the client's Authorization header: no message,
//     description or error of this package carries it.
//
// # Protection
//
// [Plan] reads where a branch's required status checks live (a
// repository ruleset, classic branch protection, or nowhere) and what
// they are; [Plan.Apply] writes the node ids there, changing nothing
// else.
package ghstatus
