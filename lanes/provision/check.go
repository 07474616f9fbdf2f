package provision

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/odu-ci/odu/internal/hint"
	"github.com/odu-ci/odu/lanes/sshlink"
	"github.com/odu-ci/odu/platform"
	"github.com/odu-ci/odu/runner/hostside"
)

// HostCheck is one line of `odu doctor` about a lane's host.
type HostCheck struct {
	Name   string // "reachable", "host key", ...
	OK     bool
	Detail string // what was found, or what is wrong
	Fix    string // what to do, when not OK
	Skip   bool   // not checked, because an earlier check failed
}

// CheckHost checks what a lane on addr needs: the host answers, knows
// odu's key, is known to odu, is of the lane's platform, and has just (or
// can be given this machine's). runner is the runner odu run would send
// it ([LocalRunner]; "" when there is none yet): when the host has it,
// its `odu version` line is reported.
func CheckHost(ctx context.Context, addr string, plat platform.Platform, home string, getenv func(string) string, runner string) []HostCheck {
	names := []string{"reachable", "host key known", "authenticated", "platform", "just", "runner", "workspaces"}
	var out []HostCheck
	fail := func(i int, err error) []HostCheck {
		out = append(out, HostCheck{Name: names[i], Detail: errText(err), Fix: hint.Of(err)})
		for _, n := range names[i+1:] {
			out = append(out, HostCheck{Name: n, Skip: true, Detail: "not checked"})
		}
		return out
	}
	env := sshlink.Env{Home: home, Getenv: getenv}
	l, err := env.Dial(ctx, addr, func(string) {})
	if err != nil {
		switch sshlink.StageOf(err) {
		case sshlink.HostKey:
			out = append(out, HostCheck{Name: names[0], OK: true, Detail: addr})
			return fail(1, err)
		case sshlink.Auth:
			out = append(out, HostCheck{Name: names[0], OK: true, Detail: addr},
				HostCheck{Name: names[1], OK: true, Detail: "in known_hosts"})
			return fail(2, err)
		}
		return fail(0, err)
	}
	defer l.Close(errors.New("checked"))
	out = append(out,
		HostCheck{Name: names[0], OK: true, Detail: fmt.Sprintf("%s:%d", l.Target.HostName, l.Target.Port)},
		HostCheck{Name: names[1], OK: true, Detail: "in known_hosts"},
		HostCheck{Name: names[2], OK: true, Detail: "as " + l.Target.User})
	r := &remoteLane{addr: addr, platform: plat, setup: discard{}, say: func(string, ...any) {}}
	// Nothing to look for: the names are of files no host has.
	p, err := r.probe(l, localFiles{runnerName: "-", repo: "-", workspace: "-", sha: "-"})
	if err != nil {
		return fail(3, err)
	}
	out = append(out, HostCheck{Name: names[3], OK: true, Detail: fmt.Sprintf("%s (%s %s)", plat, p.kernel, p.machine)})
	switch {
	case p.just != "":
		out = append(out, HostCheck{Name: names[4], OK: true, Detail: p.just})
	case plat == platform.Local():
		out = append(out, HostCheck{Name: names[4], OK: true, Detail: "not installed; odu brings its own just"})
	default:
		out = append(out, HostCheck{Name: names[4], Detail: "not installed",
			Fix: "Install just on the host (e.g. `npm install -g rust-just` or `cargo install just`)."})
	}
	out = append(out, runnerCheck(l, p.cache, runner, plat), workspaces(l, p.cache))
	return out
}

// runnerCheck reports the runner odu run would use on the host: what it
// says of itself (`odu version`, the line a bug report quotes), or that
// the host does not have it yet. It runs nothing else.
func runnerCheck(l *sshlink.Link, cache, runner string, plat platform.Platform) HostCheck {
	if runner == "" {
		return HostCheck{Name: "runner", Skip: true, Detail: "odu has no runner for " + string(plat) + " yet (odu run cross-compiles one from odu's source)"}
	}
	sum, err := fileSum(runner)
	if err != nil {
		return HostCheck{Name: "runner", Skip: true, Detail: "read " + runner + ": " + err.Error()}
	}
	bin := hostside.BinPath(cache, "odu-"+sum[:16])
	out, err := l.Run(fmt.Sprintf(`b=%s; if [ -x "$b" ]; then "$b" version; fi`, sshlink.Quote(bin)), nil)
	line := strings.TrimSpace(out)
	switch {
	case err != nil:
		return HostCheck{Name: "runner", Detail: fmt.Sprintf("%s version: %v %s", bin, err, line),
			Fix: "Remove " + bin + " on the host: odu run sends the runner again."}
	case line == "":
		return HostCheck{Name: "runner", OK: true, Detail: "not on the host yet: odu run sends it to " + bin}
	}
	return HostCheck{Name: "runner", OK: true, Detail: line}
}

// workspaces tells the disk odu's workspaces take on a host, and how many
// are stale: unused for longer than the runners' pruning bound, so the
// next runner started there removes them.
func workspaces(l *sshlink.Link, cache string) HostCheck {
	dir := hostside.WorkPath(cache)
	script := fmt.Sprintf(`w=%[1]s; if [ -d "$w" ]; then du -sk "$w" | cut -f1
find "$w" -mindepth 3 -maxdepth 3 -name %[3]s | wc -l
find "$w" -mindepth 3 -maxdepth 3 -name %[3]s -mtime +%[2]d | wc -l
find "$w" -mindepth 4 -maxdepth 4 -name %[4]s | wc -l; else echo 0; echo 0; echo 0; echo 0; fi`, sshlink.Quote(dir), int(hostside.PruneAfter.Hours()/24), hostside.Ready, hostside.Sock)
	out, err := l.Run(script, nil)
	f := strings.Fields(out)
	if err != nil || len(f) != 4 {
		return HostCheck{Name: "workspaces", OK: true, Detail: "could not tell the disk they use: " + strings.TrimSpace(out+" "+fmt.Sprint(err))}
	}
	kb, _ := strconv.ParseFloat(f[0], 64)
	return HostCheck{Name: "workspaces", OK: true, Detail: fmt.Sprintf("%s in %s: %.1f MB; %s unused for over %d days (removed when a runner next starts there); %s runners live",
		f[1], dir, kb/1024, f[2], int(hostside.PruneAfter.Hours()/24), f[3])}
}

func errText(err error) string {
	var h *sshlink.HostError
	if errors.As(err, &h) {
		return h.Err.Error()
	}
	return err.Error()
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
