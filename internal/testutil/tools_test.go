package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// missingTool names a program no machine has.
const missingTool = "healthgate-testutil-no-such-tool"

// helperEnv makes TestMissingToolHelper run: the tests below run it in a
// child process, because a failing or skipping test cannot be observed
// from inside itself.
const helperEnv = "HEALTHGATE_TESTUTIL_HELPER"

func TestMissingToolHelper(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("run by TestRequireTool")
	}
	RequireTool(t, missingTool)
	t.Log("RequireTool returned for a missing tool")
}

func TestRequireTool(t *testing.T) {
	t.Run("an installed tool's path is returned", func(t *testing.T) {
		dir := t.TempDir()
		tool := filepath.Join(dir, "healthgate-testutil-tool")
		if err := os.WriteFile(tool, []byte("#!/bin/sh\n"), 0o700); err != nil {
			t.Fatal(err)
		}
		t.Setenv("PATH", dir)
		if p := RequireTool(t, "healthgate-testutil-tool"); p != tool {
			t.Fatalf("path %q, want %q", p, tool)
		}
	})
	for _, tt := range []struct {
		name, allowSkip string
		wantFail        bool
		wantOutput      string
	}{
		{name: "a missing tool fails the test", allowSkip: "", wantFail: true, wantOutput: "is required"},
		{name: "a missing tool fails unless the opt-in is exactly 1", allowSkip: "true", wantFail: true, wantOutput: "is required"},
		{name: "a missing tool skips with HEALTHGATE_ALLOW_SKIP=1", allowSkip: "1", wantOutput: "--- SKIP"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestMissingToolHelper$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), helperEnv+"=1", AllowSkipEnv+"="+tt.allowSkip)
			out, err := cmd.CombinedOutput()
			if failed := err != nil; failed != tt.wantFail {
				t.Fatalf("failed %v, want %v: %v\n%s", failed, tt.wantFail, err, out)
			}
			if !strings.Contains(string(out), tt.wantOutput) || strings.Contains(string(out), "RequireTool returned") {
				t.Fatalf("output lacks %q or went on:\n%s", tt.wantOutput, out)
			}
		})
	}
}
