package proc

import (
	"os"
	"strconv"
)

// liveMembers counts the processes of group pgid that are not zombies,
// from /proc.
func liveMembers(pgid int) (int, bool) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, false
	}
	want := strconv.Itoa(pgid)
	n := 0
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		state, group, ok := Stat(e.Name())
		if ok && group == want && state != "Z" && state != "X" {
			n++
		}
	}
	return n, true
}
