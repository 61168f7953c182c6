package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/healthgate/healthgate/internal/testutil"
)

var build struct {
	once sync.Once
	path string
	err  error
}

// BuildFlags are the flags xcaddy builds with, so the test binary, the
// xcaddy build check and `go test` share one compile cache.
var BuildFlags = []string{"-trimpath", "-tags", "nobadger,nomysql,nopgx"}

// Binary returns the path of the healthgate gateway binary. It is
// $HEALTHGATE_BIN when set (tests/run builds it once for every package),
// otherwise it is built once per test process into <repo>/.build, under a
// file lock so parallel test processes share one build.
func Binary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		if p := os.Getenv("HEALTHGATE_BIN"); p != "" {
			build.path = p
			return
		}
		build.path, build.err = buildBinary()
	})
	if build.err != nil {
		t.Fatalf("building the gateway: %v", build.err)
	}
	return build.path
}

func buildBinary() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, ".build")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, "build.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck
	out := filepath.Join(dir, "healthgate")
	args := append([]string{"build"}, BuildFlags...)
	args = append(args, "-o", out, "./cmd/healthgate")
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/healthgate: %v\n%s", err, b)
	}
	return out, nil
}

// RepoRoot is the directory holding go.mod.
func RepoRoot() (string, error) { return testutil.RepoRoot() }
