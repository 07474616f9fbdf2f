package hostside_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/odu-ci/odu/runner/hostside"
)

func TestSlotsLeases(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "slots")
	a, n, err := hostside.TakeSlot(dir, 2)
	if err != nil || n != 1 {
		t.Fatalf("TakeSlot(2 slots, none held) = slot %d, %v; want slot 1", n, err)
	}
	if err := hostside.WriteHolder(a, hostside.Holder{Who: "ann@laptop", Repo: "/src/app", Commit: "abc", PID: 42}); err != nil {
		t.Fatal(err)
	}
	b, n, err := hostside.TakeSlot(dir, 2)
	if err != nil || n != 2 {
		t.Fatalf("TakeSlot(2 slots, slot 1 held) = slot %d, %v; want slot 2", n, err)
	}
	if _, n, err := hostside.TakeSlot(dir, 2); !errors.Is(err, hostside.ErrSlotsBusy) {
		t.Fatalf("TakeSlot(2 slots, both held) = slot %d, %v; want ErrSlotsBusy", n, err)
	}
	got := hostside.Slots(dir, 3)
	if len(got) != 3 || !got[0].Held || got[0].By == nil || got[0].By.Who != "ann@laptop" || got[0].By.PID != 42 ||
		!got[1].Held || got[1].By != nil || got[2].Held || !got[2].Used.IsZero() {
		t.Errorf("Slots = %+v; want 1 held by ann@laptop (pid 42), 2 held (holder not said yet), 3 free and never used", got)
	}
	// The lease ends with the descriptor: the slot is free again, and
	// says nothing of its last holder.
	a.Close()
	got = hostside.Slots(dir, 2)
	if got[0].Held || got[0].By != nil || got[0].Used.IsZero() || !got[1].Held {
		t.Errorf("Slots after slot 1's holder closed it = %+v; want 1 free (used once), 2 held", got)
	}
	c, n, err := hostside.TakeSlot(dir, 2)
	if err != nil || n != 1 {
		t.Fatalf("TakeSlot(2 slots, slot 1 freed) = slot %d, %v; want slot 1", n, err)
	}
	b.Close()
	c.Close()
}

func TestSlotsRefuseSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "elsewhere")
	if err := os.WriteFile(target, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, hostside.SlotFile(dir, 1)); err != nil {
		t.Fatal(err)
	}
	if f, _, err := hostside.TakeSlot(dir, 1); err == nil {
		f.Close()
		t.Fatalf("TakeSlot with slot 1 a symlink: no error, want it refused")
	}
	if data, _ := os.ReadFile(target); string(data) != "keep" {
		t.Errorf("the symlink's target = %q after TakeSlot, want it untouched", data)
	}
}
