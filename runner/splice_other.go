//go:build !linux

package runner

import (
	"errors"
	"os"

	"github.com/odu-ci/odu/surface"
)

var errNoSplice = errors.New("splice not supported")

// spliceOutput is Linux's; elsewhere the output is copied.
func spliceOutput(*surface.Log, *os.File) error { return errNoSplice }
