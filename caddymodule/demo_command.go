package caddymodule

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/spf13/cobra"

	"github.com/healthgate/healthgate/internal/devpki"
)

func init() { registerSubcommand(demoCommand) }

func demoCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "demo [--dir <dir>] [--https-port 8443] [--http-port 8080]",
		Short: "Runs a demo gateway: dev PKI, an in-process upstream, client-certificate identity",
		Long: `
Runs healthgate on embedded defaults: a development PKI made on first run
(see 'caddy healthgate pki'), an in-process demo upstream that echoes the
identity it receives, and a SanteDB-like site: plain HTTP redirects to
HTTPS, /metadata is public, /auth/oauth2_token requires a device
certificate, everything else needs a mapped client certificate. It prints
curl commands for an allowed and a denied call, then serves until
interrupted.`,
		RunE: runDemo,
	}
	cmd.Flags().String("dir", "./healthgate-demo", "folder for the demo PKI and Caddy storage")
	cmd.Flags().Int("https-port", 8443, "HTTPS port")
	cmd.Flags().Int("http-port", 8080, "plain HTTP port that redirects to HTTPS")
	return cmd
}

func runDemo(cmd *cobra.Command, _ []string) error {
	dir, _ := cmd.Flags().GetString("dir")
	httpsPort, _ := cmd.Flags().GetInt("https-port")
	httpPort, _ := cmd.Flags().GetInt("http-port")
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	set, err := devpki.Generate(filepath.Join(dir, "pki"))
	if err != nil {
		return err
	}
	upstream, err := startDemoUpstream()
	if err != nil {
		return err
	}
	defer upstream.Close()

	caddyfile := demoCaddyfile(set, dir, httpsPort, httpPort, upstream.Addr().String())
	if err := os.WriteFile(filepath.Join(dir, "Caddyfile"), []byte(caddyfile), 0o644); err != nil {
		return err
	}
	cfg, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), map[string]any{"filename": "demo Caddyfile"})
	if err != nil {
		return fmt.Errorf("adapting the demo Caddyfile: %w", err)
	}
	for _, w := range warnings {
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w.String())
	}
	if err := caddy.Load(cfg, true); err != nil {
		return fmt.Errorf("starting the demo gateway: %w", err)
	}
	defer caddy.Stop() //nolint:errcheck

	printDemo(cmd, set, dir, httpsPort)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}

func demoCaddyfile(s *devpki.DevSet, dir string, httpsPort, httpPort int, upstream string) string {
	return fmt.Sprintf(`# healthgate demo: a SanteDB-like site on embedded defaults.
{
	admin off
	persist_config off
	skip_install_trust
	storage file_system %[1]q
	http_port %[3]d
	https_port %[2]d
}

http://localhost:%[3]d {
	redir https://localhost:%[2]d{uri} 301
}

https://localhost:%[2]d {
	tls %[4]q %[5]q {
		client_auth {
			mode request
		}
	}
	healthgate {
		public /metadata /.well-known/*
		client_cert {
			trust_pool file %[6]q
			map san_uri urn:healthgate:device:* device {1}
			map san_uri spiffe://healthgate.local/app/* application {1}
			map san_email *@hospital.example user {1}
		}
		route /auth/oauth2_token {
			require client_cert
		}
		missing reject
	}
	reverse_proxy %[7]s
}
`, filepath.Join(dir, "caddy"), httpsPort, httpPort, s.ServerCert, s.ServerKey, s.CACert, upstream)
}

// startDemoUpstream serves, on a loopback port, a JSON echo of the identity
// headers the gateway sent: the demo's stand-in for SanteDB.
func startDemoUpstream() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen := map[string]string{}
		for k := range r.Header {
			if strings.HasPrefix(k, "X-Healthgate-") || k == "X-Ssl-Clientcert" || k == "Client-Cert" {
				seen[k] = r.Header.Get(k)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"upstream": "demo", "method": r.Method, "path": r.URL.Path, "identity": seen})
	})}
	go srv.Serve(ln) //nolint:errcheck
	return ln, nil
}

func printDemo(cmd *cobra.Command, s *devpki.DevSet, dir string, port int) {
	w := cmd.OutOrStdout()
	base := fmt.Sprintf("https://localhost:%d", port)
	fmt.Fprintf(w, "healthgate demo is serving %s (config: %s)\n\n", base, filepath.Join(dir, "Caddyfile"))
	fmt.Fprintf(w, "allowed, a mapped device certificate:\n  curl --cacert %s --cert %s --key %s %s/Patient/1\n\n", s.CACert, s.DeviceCert, s.DeviceKey, base)
	fmt.Fprintf(w, "denied (401), no certificate:\n  curl -i --cacert %s %s/Patient/1\n\n", s.CACert, base)
	fmt.Fprintf(w, "public, no certificate needed:\n  curl --cacert %s %s/metadata\n\n", s.CACert, base)
	fmt.Fprintf(w, "browser: import %s (password %q) and trust %s\n", s.UserP12, s.P12Password, s.CACert)
	fmt.Fprintf(w, "press Ctrl-C to stop\n")
}
