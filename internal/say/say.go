// Package say is the one shape of odu's narrative callbacks: a line said
// to a log or to the user (a lane's setup log, a runner's log, the
// coordinator's notes), formatted as fmt.Sprintf formats it.
package say

import (
	"fmt"
	"io"
	"time"
)

// Func says one line. A nil Func says nothing when called through
// [Func.Say].
type Func func(format string, a ...any)

// Say says a line, if f is not nil.
func (f Func) Say(format string, a ...any) {
	if f != nil {
		f(format, a...)
	}
}

// To returns a Func that writes each line to w, after the time formatted
// by layout and a space (nothing when layout is "").
func To(w io.Writer, layout string) Func {
	return func(format string, a ...any) {
		if layout != "" {
			fmt.Fprintf(w, "%s %s\n", time.Now().Format(layout), fmt.Sprintf(format, a...))
			return
		}
		fmt.Fprintf(w, format+"\n", a...)
	}
}
