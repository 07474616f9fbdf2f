package proc

import (
	"os"
	"strconv"
	"strings"
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

// Stat returns the state ("R", "S", "Z", ...) and process group of a
// process, from /proc/PID/stat; ok is false when there is no such process.
func Stat(pid string) (state, pgrp string, ok bool) {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return "", "", false
	}
	// pid (comm) state ppid pgrp ...; comm may hold spaces and parens.
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 3 {
		return "", "", false
	}
	return fields[0], fields[2], true
}
