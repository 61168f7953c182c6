package tests

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/tests/harness"
)

// TestDemoServesAllowedAndDeniedCalls runs `healthgate demo` as the README
// says and drives it with curl, the independent client the demo prints.
func TestDemoServesAllowedAndDeniedCalls(t *testing.T) {
	curl := harness.RequireTool(t, "curl")
	dir := t.TempDir()
	httpsPort, httpPort := harness.FreePort(t), harness.FreePort(t)
	cmd := exec.Command(harness.Binary(t), "healthgate", "demo", "--dir", dir,
		"--https-port", strconv.Itoa(httpsPort), "--http-port", strconv.Itoa(httpPort))
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() })

	printed := readUntil(t, stdout, "press Ctrl-C", &stderr)
	if !strings.Contains(printed, "curl --cacert") {
		t.Fatalf("the demo printed no curl commands:\n%s", printed)
	}
	pki := filepath.Join(dir, "pki")
	base := fmt.Sprintf("https://localhost:%d", httpsPort)
	run := func(args ...string) string {
		out, err := exec.Command(curl, append([]string{"-sS", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "--cacert", filepath.Join(pki, "ca.crt")}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"a mapped device certificate is allowed", []string{"--cert", filepath.Join(pki, "device.crt"), "--key", filepath.Join(pki, "device.key"), base + "/Patient/1"}, "200"},
		{"a call without a certificate is denied", []string{base + "/Patient/1"}, "401"},
		{"the token endpoint needs a certificate", []string{"-X", "POST", base + "/auth/oauth2_token"}, "401"},
		{"metadata is public", []string{base + "/metadata"}, "200"},
		{"plain HTTP redirects to HTTPS", []string{fmt.Sprintf("http://localhost:%d/Patient/1", httpPort)}, "301 " + base + "/Patient/1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := run(tc.args...); got != tc.want {
				t.Fatalf("curl answered %q, want %q", got, tc.want)
			}
		})
	}

	t.Run("the upstream sees the device identity", func(t *testing.T) {
		pair, err := tls.LoadX509KeyPair(filepath.Join(pki, "device.crt"), filepath.Join(pki, "device.key"))
		if err != nil {
			t.Fatal(err)
		}
		caPEM, _ := os.ReadFile(filepath.Join(pki, "ca.crt"))
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(caPEM)
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}}}
		resp, err := c.Get(base + "/Patient/1")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(body), `"X-Healthgate-Device":"ward-tablet-7"`) {
			t.Fatalf("the demo upstream did not see the device: %s", body)
		}
	})
}

func readUntil(t *testing.T, r io.Reader, marker string, stderr *strings.Builder) string {
	t.Helper()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var out strings.Builder
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the demo exited:\n%s\n%s", out.String(), stderr.String())
			}
			out.WriteString(l + "\n")
			if strings.Contains(l, marker) {
				return out.String()
			}
		case <-timeout:
			t.Fatalf("the demo did not start:\n%s\n%s", out.String(), stderr.String())
		}
	}
}
