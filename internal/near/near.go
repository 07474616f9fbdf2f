// Package near finds the names a mistyped one was probably meant to be,
// for the "did you mean" of an error's hint.
package near

import (
	"slices"
	"strings"
)

// Closest returns up to n of names nearest to s: equal but for case,
// those s is a prefix of, and those within a few edits, nearest first.
// Only plausible typos are returned: a distance of at most 2, or a third
// of s for long names.
func Closest(s string, names []string, n int) []string {
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	ls := strings.ToLower(s)
	for _, name := range names {
		if strings.ToLower(name) == ls {
			return []string{name} // the same but for case: nothing else is as near
		}
	}
	for _, name := range names {
		ln := strings.ToLower(name)
		d := Distance(ls, ln)
		switch {
		case s != "" && strings.HasPrefix(ln, ls):
			d = min(d, 1)
		case d > max(2, len(s)/3):
			continue
		}
		cs = append(cs, cand{name, d})
	}
	slices.SortStableFunc(cs, func(a, b cand) int { return a.d - b.d })
	var out []string
	for i := 0; i < len(cs) && i < n; i++ {
		out = append(out, cs[i].name)
	}
	return out
}

// Distance is the Levenshtein distance between a and b, in bytes.
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
