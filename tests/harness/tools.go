package harness

import (
	"testing"

	"github.com/healthgate/healthgate/internal/testutil"
)

// RequireTool returns the path of an external program the test needs,
// failing the test when it is missing unless HEALTHGATE_ALLOW_SKIP=1. It
// is testutil.RequireTool, kept here so end-to-end tests need one import.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	return testutil.RequireTool(t, name)
}
