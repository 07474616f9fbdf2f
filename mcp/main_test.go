package mcp_test

import (
	"testing"

	"github.com/odu-ci/odu/internal/odutest"
)

func TestMain(m *testing.M) { odutest.Main(m) }
