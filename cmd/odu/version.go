package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/odu-ci/odu/platform"
)

// commitOverride, set with -ldflags "-X main.commitOverride=...", is the
// commit a release binary was built from (`just release`): a build with
// -trimpath in a clean clone, or with GOFLAGS=-buildvcs=false, has no
// vcs stamp of its own.
var commitOverride string

// VersionInfo is what `odu version` says, and what `odu doctor` reports
// of the runner on a build host: the same line from both.
type VersionInfo struct {
	Version  string `json:"version"`
	Commit   string `json:"commit"` // "unknown" when the build did not record it
	Go       string `json:"go"`
	Platform string `json:"platform"` // odu's name for it, as in node ids
}

// String is the one line `odu version` and `odu --version` print.
func (v VersionInfo) String() string {
	return fmt.Sprintf("odu %s (commit %s, %s, %s)", v.Version, v.Commit, v.Go, v.Platform)
}

// versionInfo is this binary's [VersionInfo].
func versionInfo() VersionInfo {
	return VersionInfo{Version: version(), Commit: commit(), Go: runtime.Version(), Platform: string(platform.Local())}
}

// commit is the commit this binary was built from: the one stamped by
// the release build, else the one the go command recorded (a build in a
// git checkout, "-dirty" when its tree had changes), else the one a
// pseudo-version names (`go install …@latest` of an untagged commit).
func commit() string {
	if commitOverride != "" {
		return commitOverride
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev != "" {
		return rev + dirty
	}
	// A pseudo-version ends in the commit's first 12 hex digits:
	// v0.0.0-20261130091500-5c6cc89a1b2c.
	if v := info.Main.Version; strings.Count(v, "-") >= 2 {
		h := v[strings.LastIndex(v, "-")+1:]
		if len(h) == 12 && strings.Trim(h, "0123456789abcdef") == "" {
			return h
		}
	}
	return "unknown"
}

// VersionCmd prints odu's version, as --version does.
type VersionCmd struct {
	Output string `short:"o" enum:"text,json" default:"text" placeholder:"text|json" help:"One line (text), or a JSON object for scripts."`
}

// Help is the long description of `odu version`.
func (*VersionCmd) Help() string {
	return `Print odu's version, the commit it was built from, the Go it was built with and its
platform, on one line (the line to quote in a bug report); with -o json, as a JSON object
with the keys version, commit, go and platform. ` + "`odu doctor`" + ` reports the runner on each build
host the same way.`
}

// Run prints the version.
func (c *VersionCmd) Run(env *Env) error {
	v := versionInfo()
	if c.Output == "json" {
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(env.Stdout, "%s\n", data)
		return err
	}
	_, err := fmt.Fprintln(env.Stdout, v)
	return err
}
