package proc

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// leaverVar makes the test binary a process that calls LeaveCgroup and
// exits.
const leaverVar = "ODU_PROC_LEAVER_HELPER"

// TestLeaveCgroupOnlyItsOwn: a runner that proc did not start (a test's,
// or one a recipe of an odu run starts: odu's own CI) sits in its
// starter's cgroup, named as proc names them; leaving as it exits, it
// must not take that cgroup, nor the empty cgroups below it (a test's
// sshd between connections), with it.
func TestLeaveCgroupOnlyItsOwn(t *testing.T) {
	if !cloneIntoCgroupWorks() {
		t.Fatal("this test needs a cgroup v2 it may write (root here): run `bash .ci/setup` as root")
	}
	starter, err := makeCgroup() // the starter's cgroup, named odu-N
	if err != nil {
		t.Fatal(err)
	}
	defer starter.release()
	sibling := filepath.Join(starter.dir, "odu-sshtest-keep")
	if err := os.Mkdir(sibling, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestLeaverHelper$")
	cmd.Env = append(os.Environ(), leaverVar+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	starter.attach(cmd.SysProcAttr)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the leaving helper: %v\n%s", err, out)
	}
	for _, dir := range []string{starter.dir, sibling} {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("LeaveCgroup in a cgroup proc did not make for it removed %s: %v", dir, err)
		}
	}
}

// TestLeaverHelper is TestLeaveCgroupOnlyItsOwn's leaving process.
func TestLeaverHelper(t *testing.T) {
	if os.Getenv(leaverVar) == "" {
		t.Skip("run by TestLeaveCgroupOnlyItsOwn")
	}
	LeaveCgroup()
}
