package main

import (
	"path/filepath"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/odu-ci/odu/internal/odutest"
)

// cmdOtherOdu builds an odu that says it is another version, and sets
// $OTHER_ODU to it:
//
//	otherodu VERSION
func cmdOtherOdu(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: otherodu VERSION")
	}
	dir := filepath.Join(ts.Getenv("WORK"), ".other-odu")
	bin, err := odutest.BuildVersion(dir, args[0])
	ts.Check(err)
	ts.Setenv("OTHER_ODU", bin)
}
