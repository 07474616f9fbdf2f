package provision

import (
	"bytes"
	"io"
	"strings"

	"github.com/odu-ci/odu/internal/say"
	"github.com/odu-ci/odu/runner/hostside"
)

// sweepPrefix starts the line `odu runner --attach` writes on stderr when
// it stopped what a runner that died had left running on the host: the
// lane's setup log gets it too (see hostside.SweepNote).
const sweepPrefix = hostside.StderrPrefix + hostside.SweepNote

// sweepLines passes a runner session's stderr on to w, and each whole
// line that starts with sweepPrefix to say as well.
type sweepLines struct {
	w    io.Writer
	say  say.Func
	part []byte // a line not yet ended
}

func (s *sweepLines) Write(p []byte) (int, error) {
	s.part = append(s.part, p...)
	for {
		i := bytes.IndexByte(s.part, '\n')
		if i < 0 {
			break
		}
		if line := string(s.part[:i]); strings.HasPrefix(line, sweepPrefix) {
			s.say("%s", strings.TrimPrefix(line, hostside.StderrPrefix))
		}
		s.part = s.part[i+1:]
	}
	if len(s.part) > 4096 {
		s.part = s.part[:0] // not a line of ours
	}
	return s.w.Write(p)
}
