package near

import (
	"slices"
	"testing"
)

func TestClosest(t *testing.T) {
	cmds := []string{"run", "status", "logs", "monitor", "wait", "rerun", "cancel", "dump", "graph", "doctor", "protect", "version"}
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"rnu", []string{"run"}},
		{"stauts", []string{"status"}},
		{"stat", []string{"status"}},
		{"RUN", []string{"run"}},
		{"nosuch", nil},
		{"", nil},
	} {
		if got := Closest(c.in, cmds, 3); !slices.Equal(got, c.want) {
			t.Errorf("Closest(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
