package hint_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/odu-ci/odu/internal/hint"
)

type hinted struct{ hint string }

func (*hinted) Error() string  { return "broken" }
func (h *hinted) Hint() string { return h.hint }

func TestOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&hinted{"fix it"}, "fix it"},
		{fmt.Errorf("open thing: %w", &hinted{"fix it"}), "fix it"},
		{errors.Join(errors.New("other"), fmt.Errorf("x: %w", &hinted{"second"})), "second"},
		{errors.New("plain"), ""},
		{nil, ""},
	} {
		if got := hint.Of(tc.err); got != tc.want {
			t.Errorf("Of(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
