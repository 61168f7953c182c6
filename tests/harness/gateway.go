package harness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Config describes a gateway to start.
type Config struct {
	// Caddyfile holds the site blocks. {$HTTPS_PORT} and {$HTTP_PORT}
	// are the gateway's ports (Caddy substitutes environment variables).
	Caddyfile string
	// Global holds extra global options, one per line, such as
	// `servers { trusted_proxies static 127.0.0.1/32 }`.
	Global string
	// Env adds environment variables (NAME=value) for the gateway.
	Env []string
}

// Gateway is a running healthgate process.
type Gateway struct {
	HTTPSPort, HTTPPort int
	AdminAddr           string
	Dir                 string

	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
}

// Start runs the gateway binary with cfg and waits until it serves. The
// process stops when the test ends; its log is printed if the test failed.
func Start(t testing.TB, cfg Config) *Gateway {
	t.Helper()
	bin := Binary(t)
	g := &Gateway{
		HTTPSPort: FreePort(t),
		HTTPPort:  FreePort(t),
		AdminAddr: "127.0.0.1:" + strconv.Itoa(FreePort(t)),
		Dir:       t.TempDir(),
		logs:      new(syncBuffer),
		done:      make(chan struct{}),
	}
	file := filepath.Join(g.Dir, "Caddyfile")
	if err := os.WriteFile(file, []byte(g.caddyfile(cfg)), 0o644); err != nil {
		t.Fatal(err)
	}
	g.cmd = exec.Command(bin, "run", "--config", file, "--adapter", "caddyfile")
	g.cmd.Dir = g.Dir
	g.cmd.Env = append(os.Environ(),
		"HOME="+g.Dir,
		"XDG_CONFIG_HOME="+filepath.Join(g.Dir, "config"),
		"XDG_DATA_HOME="+filepath.Join(g.Dir, "data"),
		"HTTPS_PORT="+strconv.Itoa(g.HTTPSPort),
		"HTTP_PORT="+strconv.Itoa(g.HTTPPort),
	)
	g.cmd.Env = append(g.cmd.Env, cfg.Env...)
	g.cmd.Stdout, g.cmd.Stderr = g.logs, g.logs
	if err := g.cmd.Start(); err != nil {
		t.Fatalf("starting the gateway: %v", err)
	}
	go func() { _ = g.cmd.Wait(); close(g.done) }()
	t.Cleanup(func() {
		g.Stop()
		if t.Failed() {
			t.Logf("gateway log:\n%s", g.Logs())
		}
	})
	g.waitReady(t)
	return g
}

func (g *Gateway) caddyfile(cfg Config) string {
	return fmt.Sprintf(`{
	admin %s
	persist_config off
	skip_install_trust
	storage file_system %q
	http_port %d
	https_port %d
	%s
}

%s
`, g.AdminAddr, filepath.Join(g.Dir, "storage"), g.HTTPPort, g.HTTPSPort, cfg.Global, cfg.Caddyfile)
}

func (g *Gateway) waitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-g.done:
			t.Fatalf("the gateway exited during start-up:\n%s", g.Logs())
		default:
		}
		resp, err := http.Get("http://" + g.AdminAddr + "/config/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && g.listening() {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the gateway did not become ready:\n%s", g.Logs())
}

// listening reports whether the HTTPS port accepts connections; a config
// without an HTTPS site counts as ready once its admin endpoint answers.
func (g *Gateway) listening() bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(g.HTTPSPort), time.Second)
	if err != nil {
		c, err = net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(g.HTTPPort), time.Second)
	}
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// URL returns https://localhost:<port><path>.
func (g *Gateway) URL(path string) string {
	return "https://localhost:" + strconv.Itoa(g.HTTPSPort) + path
}

// Reload replaces the configuration through the admin API, as
// `caddy reload` does, and returns the admin API's error, if any.
func (g *Gateway) Reload(t testing.TB, cfg Config) error {
	t.Helper()
	body := g.caddyfile(cfg)
	req, err := http.NewRequest(http.MethodPost, "http://"+g.AdminAddr+"/load", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	req.Header.Set("Cache-Control", "must-revalidate")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reload: %s: %s", resp.Status, msg)
	}
	return nil
}

// Stop ends the gateway process and waits for it.
func (g *Gateway) Stop() {
	select {
	case <-g.done:
		return
	default:
	}
	_ = g.cmd.Process.Signal(os.Interrupt)
	select {
	case <-g.done:
	case <-time.After(10 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.done
	}
}

// Logs returns what the gateway wrote to stdout and stderr so far.
func (g *Gateway) Logs() string { return g.logs.String() }

// Admin performs a GET on the admin endpoint (e.g. "/metrics").
func (g *Gateway) Admin(t testing.TB, path string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+g.AdminAddr+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("admin %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
