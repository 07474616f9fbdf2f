package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/odu-ci/odu/lanes/hosts"
	"github.com/odu-ci/odu/lanes/provision"
	"github.com/odu-ci/odu/lanes/sshlink"
	"github.com/odu-ci/odu/platform"
	"github.com/odu-ci/odu/repo"
	"github.com/odu-ci/odu/runner/hostside"
)

// HostsCmd shows the pools of build hosts.
type HostsCmd struct {
	Output  string        `short:"o" enum:"text,json" default:"text" placeholder:"text|json" help:"Print a table, or one JSON object per host."`
	Timeout time.Duration `type:"positive" default:"5s" placeholder:"DURATION" help:"How long each host may take to answer (they are asked at once)."`
}

// Help is the long description of `odu hosts`.
func (*HostsCmd) Help() string {
	return `Show every configured platform's pool of build hosts: each host's slots, who holds each
(user@machine, repository, commit, since when), whether it answers, the odu version of its
runner and the disk odu's cache takes there. The hosts are asked at once, each for at most
--timeout; a host that does not answer is a row that says why, not a failure. odu's runner is
pushed to a host that lacks it, as a run would (it is what reads the slots).`
}

// Run asks every host of every pool, in parallel.
func (c *HostsCmd) Run(ctx context.Context, env *Env) error {
	cfg, err := hosts.LoadHosts(nil, env.Getenv, home(env))
	if err != nil {
		return err
	}
	ls, err := cfg.Lanes(nil)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find odu's own binary: %w", err)
	}
	var rows []*provision.HostRow
	var wg sync.WaitGroup
	for _, l := range ls {
		for _, h := range l.Pool {
			row := &provision.HostRow{}
			rows = append(rows, row)
			wg.Go(func() {
				if h.Addr == hosts.Localhost {
					*row = provision.SurveyLocal(l.Platform, hostside.LocalCache(env.Getenv, home(env)), version(), h.Slots, c.Timeout)
					if l.Platform != platform.Local() {
						row.Answers, row.Slots, row.Reason = false, nil, "localhost, but this machine is "+string(platform.Local())
					}
					return
				}
				hctx, cancel := context.WithTimeout(ctx, c.Timeout)
				defer cancel()
				*row = provision.Survey(hctx, h.Addr, l.Platform, sshlink.Env{Home: home(env), Getenv: env.Getenv}, exe, version(), h.Slots)
			})
		}
	}
	wg.Wait()
	if c.Output == "json" {
		enc := json.NewEncoder(env.Stdout)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	for _, r := range rows {
		fmt.Fprintln(env.Stdout, hostLine(r))
		for _, s := range r.Slots {
			if s.Held {
				fmt.Fprintf(env.Stdout, "  slot %d: %s\n", s.N, holderText(s.By))
			}
		}
	}
	return nil
}

// hostLine is a host's line of the table.
func hostLine(r *provision.HostRow) string {
	if !r.Answers {
		return fmt.Sprintf("%s  %s  down: %s", r.Platform, r.Host, r.Reason)
	}
	held := 0
	for _, s := range r.Slots {
		if s.Held {
			held++
		}
	}
	slots := "slots"
	if len(r.Slots) == 1 {
		slots = "slot"
	}
	cache := "cache size not measured in time"
	if r.CacheBytes >= 0 {
		cache = fmt.Sprintf("cache %.1f MB", float64(r.CacheBytes)/1e6)
	}
	return fmt.Sprintf("%s  %s  %d %s, %d held  runner %s  %s", r.Platform, r.Host, len(r.Slots), slots, held, r.Runner, cache)
}

// holderText says who holds a slot.
func holderText(h *hostside.Holder) string {
	if h == nil {
		return "held (its holder is not written yet)"
	}
	var what []string
	for _, s := range []string{h.Repo, repo.Short(h.Commit)} {
		if s != "" {
			what = append(what, s)
		}
	}
	if !h.Since.IsZero() {
		what = append(what, "since "+h.Since.Local().Format("2006-01-02 15:04:05"))
	}
	if h.Version != "" {
		what = append(what, "runner "+h.Version)
	}
	out := h.Who
	if len(what) > 0 {
		out += " (" + strings.Join(what, ", ") + ")"
	}
	return out
}
