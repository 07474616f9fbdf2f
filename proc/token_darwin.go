package proc

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// tokenPids lists the processes whose environment carries tok (or a
// token nested in it), from `ps -E`: macOS has no /proc, and ps shows the
// environment a process started with after its command (for the user's
// own processes). A value with a space in it cannot be told apart from
// the next word; tokens have none.
func tokenPids(tok string) []int {
	out, err := exec.Command("/bin/ps", "-A", "-E", "-ww", "-o", "pid=", "-o", "stat=", "-o", "command=").Output()
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || strings.HasPrefix(f[1], "Z") {
			continue
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil || pid == self {
			continue
		}
		for _, w := range f[2:] {
			if v, ok := strings.CutPrefix(w, TokenVar+"="); ok && carries(v, tok) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}
