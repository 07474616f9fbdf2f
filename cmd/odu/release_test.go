package main

import (
	"bufio"
	"crypto/sha256"
	"debug/elf"
	"debug/macho"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odu-ci/odu/internal/odutest"
)

// TestRelease builds the release as a maintainer does, `just release
// VERSION` (.ci/release), into a directory of its own: four static
// binaries, linux and darwin on amd64 and arm64, and SHA256SUMS that
// holds the checksum of each. The two linux ones run here (arm64 under
// qemu-user) and say the version, the commit and their platform.
func TestRelease(t *testing.T) {
	root, err := odutest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := odutest.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	qemu, err := exec.LookPath("qemu-aarch64")
	if err != nil {
		t.Fatal("qemu-aarch64 is missing: run `bash .ci/setup`")
	}
	dist := t.TempDir()
	release := exec.Command(filepath.Join(bin, "just"), "release", "9.8.7-test")
	release.Dir, release.Env = root, append(os.Environ(), "ODU_DIST="+dist)
	if out, err := release.CombinedOutput(); err != nil {
		t.Fatalf("just release: %v\n%s", err, out)
	}
	commit := gitOut(t, root, "rev-parse", "HEAD")
	if exec.Command("git", "-C", root, "diff", "--quiet", "HEAD", "--").Run() != nil {
		commit += "-dirty" // the tree the test runs in has changes
	}

	want := map[string]string{ // binary: platform
		"odu-linux-amd64": "x86_64-linux", "odu-linux-arm64": "aarch64-linux",
		"odu-darwin-amd64": "x86_64-darwin", "odu-darwin-arm64": "aarch64-darwin",
	}
	entries, err := os.ReadDir(dist)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "SHA256SUMS odu-darwin-amd64 odu-darwin-arm64 odu-linux-amd64 odu-linux-arm64" {
		t.Fatalf("the release is %s, want the four binaries and SHA256SUMS", got)
	}

	// SHA256SUMS, in the format `sha256sum -c` reads: one line per binary.
	sums, err := os.Open(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	defer sums.Close()
	summed := map[string]bool{}
	for sc := bufio.NewScanner(sums); sc.Scan(); {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		data, err := os.ReadFile(filepath.Join(dist, name))
		if !ok || err != nil {
			t.Errorf("SHA256SUMS: line %q names no binary of the release (%v)", sc.Text(), err)
			continue
		}
		h := sha256.Sum256(data)
		if got := hex.EncodeToString(h[:]); got != sum {
			t.Errorf("SHA256SUMS says %s for %s; it is %s", sum, name, got)
		}
		summed[name] = true
	}
	for name := range want {
		if !summed[name] {
			t.Errorf("SHA256SUMS has no checksum for %s", name)
		}
	}

	// Static: no ELF interpreter (a dynamic loader) to find on the user's
	// machine; and of the platform its name says.
	for name, plat := range want {
		path := filepath.Join(dist, name)
		if strings.Contains(name, "linux") {
			f, err := elf.Open(path)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			machine := map[string]elf.Machine{"x86_64-linux": elf.EM_X86_64, "aarch64-linux": elf.EM_AARCH64}[plat]
			if f.Machine != machine {
				t.Errorf("%s is for %v, want %v", name, f.Machine, machine)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Errorf("%s is dynamically linked (it has an ELF interpreter)", name)
				}
			}
			f.Close()
			continue
		}
		f, err := macho.Open(path)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		cpu := map[string]macho.Cpu{"x86_64-darwin": macho.CpuAmd64, "aarch64-darwin": macho.CpuArm64}[plat]
		if f.Cpu != cpu {
			t.Errorf("%s is for %v, want %v", name, f.Cpu, cpu)
		}
		f.Close()
	}

	// The two that run here say what they are.
	for name, argv := range map[string][]string{
		"odu-linux-amd64": {filepath.Join(dist, "odu-linux-amd64")},
		"odu-linux-arm64": {qemu, filepath.Join(dist, "odu-linux-arm64")},
	} {
		out, err := exec.Command(argv[0], append(argv[1:], "version", "-o", "json")...).Output()
		if err != nil {
			t.Errorf("%s version -o json: %v", name, err)
			continue
		}
		var v VersionInfo
		if err := json.Unmarshal(out, &v); err != nil {
			t.Errorf("%s version -o json: %v\n%s", name, err, out)
			continue
		}
		if w := (VersionInfo{Version: "9.8.7-test", Commit: commit, Go: v.Go, Platform: want[name]}); v != w || !strings.HasPrefix(v.Go, "go1.") {
			t.Errorf("%s version -o json says %+v, want %+v", name, v, w)
		}
	}
}

// gitOut runs git in dir and returns its output, trimmed.
func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).Output()
	if err != nil {
		t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}
