// Package platform names the systems odu runs on.
//
// A platform is a Nix system tuple ("x86_64-linux", "aarch64-darwin"): the
// names justci and the TypeScript odu use in their hosts files, kept so that
// such a file works unchanged. This package maps them to and from Go's
// GOOS/GOARCH and to the operating-system attributes of a justfile
// ([linux], [macos], [unix]); it does no I/O.
package platform

import (
	"fmt"
	"runtime"
	"slices"
	"strings"

	"github.com/odu-ci/odu/internal/near"
)

// A Platform is a Nix system tuple such as "x86_64-linux".
type Platform string

// system describes one platform odu knows.
type system struct {
	name   Platform
	goos   string
	goarch string
	uname  string // what `uname -m` prints on it
	kernel string // what `uname -s` prints on it
}

// known lists every platform odu can run a lane on, in the order they are
// listed to users.
var known = []system{
	{"x86_64-linux", "linux", "amd64", "x86_64", "Linux"},
	{"aarch64-linux", "linux", "arm64", "aarch64", "Linux"},
	{"i686-linux", "linux", "386", "i686", "Linux"},
	{"x86_64-darwin", "darwin", "amd64", "x86_64", "Darwin"},
	{"aarch64-darwin", "darwin", "arm64", "arm64", "Darwin"},
}

// Known returns every platform odu knows, in a stable order.
func Known() []Platform {
	out := make([]Platform, len(known))
	for i, s := range known {
		out[i] = s.name
	}
	return out
}

func lookup(p Platform) (system, bool) {
	for _, s := range known {
		if s.name == p {
			return s, true
		}
	}
	return system{}, false
}

// Parse checks that s names a known platform.
func Parse(s string) (Platform, error) {
	p := Platform(s)
	if _, ok := lookup(p); ok {
		return p, nil
	}
	return "", &UnknownError{Name: s}
}

// UnknownError reports a platform name odu does not know.
type UnknownError struct{ Name string }

func (e *UnknownError) Error() string {
	return fmt.Sprintf("unknown platform %q", e.Name)
}

// Hint lists the names odu accepts, after the one e was probably meant
// to be.
func (e *UnknownError) Hint() string {
	all := "Platforms are Nix system names: " + strings.Join(strs(Known()), ", ") + "."
	if m := Suggest(e.Name); m != "" {
		return "Did you mean " + string(m) + "? " + all
	}
	return all
}

func strs(ps []Platform) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return out
}

// Local returns the platform of the running binary.
func Local() Platform {
	p, ok := FromGo(runtime.GOOS, runtime.GOARCH)
	if !ok {
		// odu builds only for the platforms above; a build for anything else
		// still gets a name that says what it is.
		return Platform(runtime.GOARCH + "-" + runtime.GOOS)
	}
	return p
}

// FromGo maps a GOOS/GOARCH pair to its platform.
func FromGo(goos, goarch string) (Platform, bool) {
	for _, s := range known {
		if s.goos == goos && s.goarch == goarch {
			return s.name, true
		}
	}
	return "", false
}

// FromUname maps the output of `uname -s` and `uname -m` to a platform.
func FromUname(kernel, machine string) (Platform, bool) {
	if machine == "amd64" {
		machine = "x86_64" // the BSDs' name for it
	}
	if kernel == "Linux" && (machine == "i386" || machine == "i586") {
		machine = "i686"
	}
	if kernel == "Linux" && machine == "arm64" {
		machine = "aarch64"
	}
	for _, s := range known {
		if s.kernel == kernel && s.uname == machine {
			return s.name, true
		}
	}
	return "", false
}

// GoOS returns the GOOS of p, or "" for an unknown platform.
func (p Platform) GoOS() string { s, _ := lookup(p); return s.goos }

// GoArch returns the GOARCH of p, or "" for an unknown platform.
func (p Platform) GoArch() string { s, _ := lookup(p); return s.goarch }

// osAttributes maps just's operating-system recipe attributes to the GOOS
// values they enable.
var osAttributes = map[string][]string{
	"linux":     {"linux"},
	"macos":     {"darwin"},
	"unix":      {"linux", "darwin", "freebsd", "openbsd", "netbsd", "dragonfly"},
	"windows":   {"windows"},
	"openbsd":   {"openbsd"},
	"freebsd":   {"freebsd"},
	"netbsd":    {"netbsd"},
	"dragonfly": {"dragonfly"},
	"android":   {"android"},
}

// IsOSAttribute reports whether a bare justfile attribute restricts a
// recipe to some operating systems.
func IsOSAttribute(attr string) bool {
	_, ok := osAttributes[attr]
	return ok
}

// Enables reports whether a recipe carrying the operating-system attributes
// attrs runs on p. A recipe with none runs everywhere, as in just.
func (p Platform) Enables(attrs []string) bool {
	if len(attrs) == 0 {
		return true
	}
	goos := p.GoOS()
	for _, a := range attrs {
		if slices.Contains(osAttributes[a], goos) {
			return true
		}
	}
	return false
}

// The other names of architectures and operating systems, as Go, Docker,
// Apple and uname spell them, longest first so that "x86_64" is not read
// as "x86".
var (
	archAliases = [][2]string{{"x86_64", "x86_64"}, {"x86-64", "x86_64"}, {"aarch64", "aarch64"},
		{"amd64", "x86_64"}, {"arm64", "aarch64"}, {"i686", "i686"}, {"i586", "i686"}, {"i386", "i686"},
		{"x64", "x86_64"}, {"386", "i686"}, {"x86", "i686"}}
	osAliases = [][2]string{{"darwin", "darwin"}, {"linux", "linux"}, {"macos", "darwin"}, {"apple", "darwin"},
		{"osx", "darwin"}, {"mac", "darwin"}}
)

// Suggest returns the known platform an unknown name was probably meant to
// be: the same but for case, another name of its architecture or system
// (amd64, arm64, macos; linux/amd64), or a near typo. It returns "" when
// nothing is near.
func Suggest(name string) Platform {
	s := strings.ToLower(name)
	if _, ok := lookup(Platform(s)); ok {
		return Platform(s)
	}
	find := func(aliases [][2]string) string {
		for _, a := range aliases {
			if strings.Contains(s, a[0]) {
				return a[1]
			}
		}
		return ""
	}
	if arch, os := find(archAliases), find(osAliases); arch != "" && os != "" {
		if _, ok := lookup(Platform(arch + "-" + os)); ok {
			return Platform(arch + "-" + os)
		}
	}
	if m := near.Closest(s, strs(Known()), 1); len(m) == 1 {
		return Platform(m[0])
	}
	return ""
}
