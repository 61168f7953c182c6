package testutil

import (
	"fmt"
	"os"
	"path/filepath"
)

// RepoRoot is the directory holding go.mod, found from the working
// directory (go test runs in the package's directory). It does not use the
// source file's path, which -trimpath (as tests/run builds) removes.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("testutil: no go.mod above the working directory")
		}
		dir = parent
	}
}
