package say_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/odu-ci/odu/internal/say"
)

// A line said through To is one line of w, stamped when asked; a nil Func
// says nothing through Say.
func TestTo(t *testing.T) {
	var b strings.Builder
	say.To(&b, "")("runner %s on %d", "up", 2)
	say.To(&b, "15:04:05.000")("connected to %s", "builder")
	if !regexp.MustCompile(`^runner up on 2\n\d\d:\d\d:\d\d\.\d\d\d connected to builder\n$`).MatchString(b.String()) {
		t.Errorf("said %q", b.String())
	}
	var none say.Func
	none.Say("nobody hears %s", "this") // must not panic
	var heard []string
	say.Func(func(format string, a ...any) { heard = append(heard, format) }).Say("x")
	if len(heard) != 1 {
		t.Errorf("Say through a Func called it %d times, want 1", len(heard))
	}
}
