package runstate

import (
	"os"
	"testing"
)

// TestAnnounceStart: a run's announcement is seen by Starting while it
// lasts, and gone (with its file) once released.
func TestAnnounceStart(t *testing.T) {
	root := t.TempDir()
	if Starting(root) {
		t.Fatal("Starting = true before any run announced itself")
	}
	release := AnnounceStart(root)
	if !Starting(root) {
		t.Fatal("Starting = false while a run announces itself")
	}
	if !Starting(root) {
		t.Fatal("Starting = false on a second look: the probe must not take the announcement")
	}
	release()
	if Starting(root) {
		t.Fatal("Starting = true after the run ended")
	}
	if _, err := os.Stat(startingPath(root)); !os.IsNotExist(err) {
		t.Errorf("the announcement's file is left after the run: %v", err)
	}
}

// TestAnnounceStartOfTwoRuns: a run that ends while another announced
// itself in the same checkout (a refused second run, or one that keeps a
// failed run's dashboard on screen after freeing the checkout) leaves the
// other's announcement in place.
func TestAnnounceStartOfTwoRuns(t *testing.T) {
	root := t.TempDir()
	first := AnnounceStart(root)
	second := AnnounceStart(root)
	first()
	if !Starting(root) {
		t.Fatal("Starting = false after the first run ended, while the second announces itself")
	}
	second()
	if Starting(root) {
		t.Fatal("Starting = true after both runs ended")
	}
	if _, err := os.Stat(startingPath(root)); !os.IsNotExist(err) {
		t.Errorf("the announcement's file is left after both runs: %v", err)
	}
}
