package proc

import (
	"os"
	"strings"
)

// Stat returns the state ("R", "S", "Z", ...) and process group of a
// process, from /proc/PID/stat; ok is false when there is no such process,
// or no /proc (macOS).
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
