// Package wasmtest builds rule modules from source for tests, so no .wasm is
// ever committed: WAT with wat2wasm (Debian's wabt), Go with the wasip1
// toolchain in c-shared (reactor) mode.
//
// A missing wat2wasm fails the test, because CI must not pass by skipping;
// set HEALTHGATE_ALLOW_SKIP=1 to skip instead on a machine without it.
package wasmtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/healthgate/healthgate/internal/testutil"
)

var (
	mu    sync.Mutex
	built = map[string][]byte{}
)

// WAT compiles the WAT file at path.
func WAT(t testing.TB, path string) []byte {
	t.Helper()
	tool := testutil.RequireTool(t, "wat2wasm")
	out := filepath.Join(t.TempDir(), filepath.Base(path)+".wasm")
	if b, err := exec.Command(tool, path, "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm %s: %v\n%s", path, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Go builds the Go rule in directory dir for GOOS=wasip1 GOARCH=wasm with
// -buildmode=c-shared. Each directory is built once per test process.
func Go(t testing.TB, dir string) []byte {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if b, ok := built[abs]; ok {
		return b
	}
	out := filepath.Join(t.TempDir(), filepath.Base(abs)+".wasm")
	cmd := exec.Command(goTool(t), "build", "-buildmode=c-shared", "-trimpath", "-o", out, ".")
	cmd.Dir = abs
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building Go rule %s: %v\n%s", dir, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	built[abs] = b
	return b
}

// WriteFile writes b to name in a test directory and returns its path.
func WriteFile(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func goTool(t testing.TB) string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return testutil.RequireTool(t, "go")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
