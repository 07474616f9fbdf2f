package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/odu-ci/odu/lanes/sshlink"
	"github.com/odu-ci/odu/platform"
	"github.com/odu-ci/odu/runner/hostside"
)

// HostRow is what `odu hosts` says of one host of a pool.
type HostRow struct {
	Platform string          `json:"platform"`
	Host     string          `json:"host"`
	Slots    []hostside.Slot `json:"slots"` // empty when it does not answer
	Answers  bool            `json:"answers"`
	Reason   string          `json:"reason,omitempty"` // why it does not answer
	// Runner is the odu version of the runner that answered on the host
	// (this odu's, pushed there unless it was: it is what reads the
	// slots); each holder says its own runner's.
	Runner string `json:"runner,omitempty"`
	// CacheBytes is the disk odu's cache uses there, -1 when not
	// measured in time.
	CacheBytes int64 `json:"cache_bytes"`
}

// Survey asks a build host who holds its slots (of slots), what odu's
// cache there takes, within ctx (a short timeout: a host that does not
// answer is a row that says why, never a failure). exe and version are
// this odu's, whose runner it pushes to the host unless it is there.
func Survey(ctx context.Context, addr string, plat platform.Platform, ssh sshlink.Env, exe, version string, slots int) HostRow {
	row := HostRow{Platform: string(plat), Host: addr, CacheBytes: -1}
	in, err := survey(ctx, addr, plat, ssh, exe, version, slots)
	if err != nil && ctx.Err() != nil {
		err = ctx.Err() // what ended it: the link was closed for it
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("no answer in time (%w)", err)
	}
	if err != nil {
		row.Reason = err.Error()
		return row
	}
	row.Answers, row.Slots, row.Runner, row.CacheBytes = true, in.Slots, in.Version, in.CacheBytes
	return row
}

func survey(ctx context.Context, addr string, plat platform.Platform, ssh sshlink.Env, exe, version string, slots int) (hostside.Info, error) {
	var in hostside.Info
	l, err := ssh.Dial(ctx, addr, func(string) {})
	if err != nil {
		return in, err
	}
	defer l.Close(errors.New("surveyed"))
	// The commands on the link take no context: when ctx ends, the link
	// is closed under them, and they fail at once.
	stop := context.AfterFunc(ctx, func() { l.Close(ctx.Err()) })
	defer stop()
	r := &remoteLane{addr: addr, platform: plat, setup: discard{}, say: func(string, ...any) {}}
	bin, err := runnerBinary(ctx, plat, exe, version, r.say)
	if err != nil {
		return in, err
	}
	sum, err := fileSum(bin)
	if err != nil {
		return in, err
	}
	name := "odu-" + sum[:16]
	p, err := r.probe(l, localFiles{runnerName: name, repo: "-", workspace: "-", sha: "-"})
	if err != nil {
		return in, err
	}
	dst := hostside.BinPath(p.cache, name)
	if !p.hasRunner {
		if err := r.upload(l, bin, sum, dst, "the runner"); err != nil {
			return in, err
		}
	}
	out, err := l.Run(sshlink.Quote(dst)+" runner --du --slots "+sshlink.Quote(p.cache)+" --count "+strconv.Itoa(max(slots, 1)), nil)
	if err != nil {
		return in, fmt.Errorf("ask who holds its slots: %w", err)
	}
	if err := json.Unmarshal([]byte(out), &in); err != nil {
		return in, fmt.Errorf("ask who holds its slots: unexpected answer %q", out)
	}
	return in, nil
}

// SurveyLocal is [Survey] for "localhost" in a pool: this machine's
// slots, under its cache directory.
func SurveyLocal(plat platform.Platform, cache, version string, slots int, duFor time.Duration) HostRow {
	in := hostside.HostInfo(cache, slots, version, true, duFor)
	return HostRow{Platform: string(plat), Host: "localhost", Slots: in.Slots, Answers: true, Runner: in.Version, CacheBytes: in.CacheBytes}
}
