package hosts_test

import (
	"testing"

	"github.com/odu-ci/odu/internal/odutest"
)

// TestMain fails the package when a goroutine outlives its tests.
func TestMain(m *testing.M) { odutest.Main(m) }
