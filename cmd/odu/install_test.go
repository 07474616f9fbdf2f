package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odu-ci/odu/internal/odutest"
)

// TestGoInstall installs odu as the README's Install section says,
// `go install github.com/odu-ci/odu/cmd/odu@latest`, in an empty GOPATH
// (so an empty module cache), and runs it. GitHub is out of reach here,
// so git is told to fetch github.com/odu-ci/odu from this checkout
// (url.insteadOf): the go command does what it does for a user, on this
// checkout's HEAD, its committed files only. So a replace directive in
// go.mod, which `go install pkg@version` refuses, or a file the build
// needs that is generated and not committed, fails it. The other
// modules come from this machine's module cache (as a GOPROXY), then the
// usual proxy.
func TestGoInstall(t *testing.T) {
	root, err := odutest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	goEnv := func(name string) string {
		out, err := exec.Command("go", "env", name).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", name, err)
		}
		return strings.TrimSpace(string(out))
	}
	tmp := t.TempDir()
	gitconfig := filepath.Join(tmp, "gitconfig")
	if err := os.WriteFile(gitconfig, []byte("[url \"file://"+root+"\"]\n\tinsteadOf = https://github.com/odu-ci/odu\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gobin := filepath.Join(tmp, "bin")
	install := exec.Command("go", "install", "github.com/odu-ci/odu/cmd/odu@latest")
	install.Dir = tmp // outside any module, as a user's shell is
	install.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL="+gitconfig,
		"GOPATH="+filepath.Join(tmp, "gopath"), "GOMODCACHE=", "GOBIN="+gobin,
		// -modcacherw: so that the test's directory can be removed.
		// -trimpath and no cgo: the packages `just release` compiles for
		// linux/amd64 (TestRelease), so the build cache has them; how
		// the go command finds and fetches odu is the same.
		"GOFLAGS=-modcacherw -trimpath", "CGO_ENABLED=0",
		"GOPRIVATE=github.com/odu-ci/odu", // from git, not a proxy or its checksum database
		"GOPROXY=file://"+filepath.Join(goEnv("GOMODCACHE"), "cache", "download")+","+goEnv("GOPROXY"),
		"GOCACHE="+goEnv("GOCACHE"),
	)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("go install github.com/odu-ci/odu/cmd/odu@latest: %v\n%s", err, out)
	}

	out, err := exec.Command(filepath.Join(gobin, "odu"), "version", "-o", "json").Output()
	if err != nil {
		t.Fatalf("odu version -o json: %v", err)
	}
	var v VersionInfo
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("odu version -o json: %v\n%s", err, out)
	}
	// A pseudo-version of HEAD: 0.0.0-20261130093039-b4c1def9eb78.
	head := gitOut(t, root, "rev-parse", "HEAD")[:12]
	if v.Commit != head || !strings.HasSuffix(v.Version, "-"+head) || v.Platform != versionInfo().Platform {
		t.Errorf("the installed odu says %+v, want commit %s, a pseudo-version of it and platform %s", v, head, versionInfo().Platform)
	}
}
