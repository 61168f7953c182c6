package harness

import (
	"testing"

	"github.com/healthgate/healthgate/internal/testutil"
)

// FreePort returns a loopback TCP port that was free a moment ago. It is
// testutil.FreePort, kept here so end-to-end tests need one import.
func FreePort(t testing.TB) int {
	t.Helper()
	return testutil.FreePort(t)
}
