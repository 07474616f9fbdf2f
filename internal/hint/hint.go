// Package hint is how an error of odu's says what to do about it: an
// error type with a Hint method ([Hinter]), read through any wrapping by
// [Of]. cmd/odu prints the hint under the error; odu doctor shows it as a
// check's fix.
//
// It imports nothing but the standard library, so that every package
// (those that dial SSH, draw a dashboard, or neither) can use it.
package hint

import "errors"

// Hinter is an error that says what to do about it: one or two sentences
// a user can act on, or "" when there is nothing to say.
type Hinter interface{ Hint() string }

// Of returns what err, or the first error it wraps that is a [Hinter],
// says to do; "" when none does.
func Of(err error) string {
	var h Hinter
	if errors.As(err, &h) {
		return h.Hint()
	}
	return ""
}
