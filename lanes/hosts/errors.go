package hosts

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/odu-ci/odu/platform"
)

// HostsFileError reports a hosts file odu cannot read.
type HostsFileError struct {
	Path    string
	FromEnv bool // named by $ODU_HOSTS
	Err     error
}

func (e *HostsFileError) Error() string {
	if e.FromEnv && errors.Is(e.Err, fs.ErrNotExist) {
		return fmt.Sprintf("$ODU_HOSTS is %s, and there is no such file", e.Path)
	}
	err := e.Err
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err // the path is said already
	}
	from := ""
	if e.FromEnv {
		from = " (from $ODU_HOSTS)"
	}
	return fmt.Sprintf("read hosts file %s%s: %v", e.Path, from, err)
}

func (e *HostsFileError) Unwrap() error { return e.Err }

// Hint says what to do.
func (e *HostsFileError) Hint() string {
	if e.FromEnv {
		return "Point $ODU_HOSTS at a readable hosts file, or unset it to use ~/.config/odu/hosts.json."
	}
	return "Make " + e.Path + " a readable file, or remove it."
}

// HostsError reports a hosts file whose content is wrong; Line and Col
// (1-based, 0 when unknown) are where, Key the key concerned, if any.
type HostsError struct {
	Path      string
	Line, Col int
	Key       string
	Problem   string
	Fix       string
}

func (e *HostsError) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Col)
	}
	b.WriteString(": ")
	if e.Key != "" {
		fmt.Fprintf(&b, "key %q: ", e.Key)
	}
	b.WriteString(e.Problem)
	return b.String()
}

// Hint says what to change.
func (e *HostsError) Hint() string { return e.Fix }

// HostFlagError reports a --host value odu cannot use.
type HostFlagError struct {
	Value   string
	Problem string
	Fix     string // the hint, when the form alone does not say enough
}

func (e *HostFlagError) Error() string { return fmt.Sprintf("--host %s: %s", e.Value, e.Problem) }

// Hint shows the form of the flag.
func (e *HostFlagError) Hint() string {
	if e.Fix != "" {
		return e.Fix
	}
	return "Give a platform and the host that runs its lane, e.g. " + hostFlagForm + "."
}

// NoHostError reports platforms a run asks for that have no host, or a
// configuration with no platform at all (Platforms empty).
type NoHostError struct {
	Platforms []platform.Platform
	Source    string   // the hosts file in use, "" when none
	Looked    []string // where odu looked
	create    string   // the file to create when there is none
}

func (e *NoHostError) Error() string {
	looked := ""
	if len(e.Looked) > 0 {
		looked = " (odu looked at " + strings.Join(e.Looked, ", ") + ")"
	}
	if len(e.Platforms) == 0 && e.Source != "" {
		return "no platform has a host: " + e.Source + " configures none" + looked
	}
	if len(e.Platforms) == 0 {
		return "no platform has a host" + looked
	}
	var names []string
	for _, p := range e.Platforms {
		names = append(names, string(p))
	}
	what := "no host for " + strings.Join(names, ", ")
	if e.Source != "" {
		return what + ": not given by --host, nor in " + e.Source + looked
	}
	return what + ": not given by --host, and no hosts file exists" + looked
}

// Hint says how to add a host.
func (e *NoHostError) Hint() string {
	ps := e.Platforms
	if len(ps) == 0 {
		ps = []platform.Platform{platform.Local()}
	}
	var flags, entries []string
	for _, p := range ps {
		flags = append(flags, "--host "+string(p)+"=ADDR")
		entries = append(entries, fmt.Sprintf("%q: %q", p, "ADDR"))
	}
	if e.Source != "" {
		return fmt.Sprintf("Add %s to %s, or pass %s for this run.", strings.Join(entries, ", "), e.Source, strings.Join(flags, " "))
	}
	file := e.create
	if file == "" {
		file = "~/.config/odu/hosts.json"
	}
	// A new file replaces the default local lane; keep it in the example.
	if local := platform.Local(); !slices.Contains(ps, local) {
		entries = append([]string{fmt.Sprintf("%q: %q", local, Localhost)}, entries...)
	}
	return fmt.Sprintf("Pass %s for this run, or create %s with {%s}.", strings.Join(flags, " "), file, strings.Join(entries, ", "))
}

// LocalPlatformError reports a lane on "localhost" for a platform that is
// not this machine's.
type LocalPlatformError struct {
	Platform platform.Platform
	From     string // "--host", or the hosts file that says so
}

func (e *LocalPlatformError) Error() string {
	from := ""
	if e.From != "" {
		from = " (" + e.From + ")"
	}
	return fmt.Sprintf("the %s lane is localhost%s, but this machine is %s: its nodes would not run on %s",
		e.Platform, from, platform.Local(), e.Platform)
}

// Hint says how to give the lane a host of its platform.
func (e *LocalPlatformError) Hint() string {
	where := ""
	switch e.From {
	case "":
	case "--host":
		where = " with --host " + string(e.Platform) + "=ADDR"
	default:
		where = " in " + e.From
	}
	return fmt.Sprintf("Give the %s lane a host of that platform%s, or run only this machine's with --platform %s.",
		e.Platform, where, platform.Local())
}
