package caddymodule

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"go.uber.org/zap"

	"github.com/healthgate/healthgate/policy/audit"
	"github.com/healthgate/healthgate/policy/clientcert"
	"github.com/healthgate/healthgate/policy/pipeline"
)

func init() { caddy.RegisterModule(ClientCert{}) }

// ClientCert turns a client certificate into a device, application or user
// facet: from Caddy's own TLS handshake (re-verified here against TrustPool
// and Pins, so enforcement never depends on which SNI connection policy
// Caddy chose) or, when the immediate peer is in the server's
// trusted_proxies, from a header its TLS terminator set (re-verified the
// same way). The facet's proof is "mtls" or "forwarded_cert"; its source is
// the certificate's SHA-256 fingerprint. The certificate's facts go on the
// principal (and so into the audit record).
//
// Identities are computed once per TLS connection and once per distinct
// forwarded header value, until the certificate or its revocation answer
// expires.
//
// Refusals (reason codes): 401 cert_untrusted, cert_expired, cert_usage,
// cert_revoked, cert_header_malformed; 403 cert_unmapped; 503
// revocation_unavailable (hard mode only).
type ClientCert struct {
	// TrustPoolRaw is the CA pool client certificates must chain to, the
	// same modules as the tls directive's client_auth trust_pool
	// (tls.ca_pool.source.*: file, inline, pki_root, http, …). Required
	// unless Pins are given.
	TrustPoolRaw json.RawMessage `json:"trust_pool,omitempty" caddy:"namespace=tls.ca_pool.source inline_key=provider"`
	// PinsRaw loads leaf certificates trusted one by one, as Orthanc's
	// SslTrustedClientCertificates does with self-signed certificates
	// (tls.leaf_cert_loader.*: file, folder, pem, storage). Exact DER
	// match; validity and the clientAuth usage (if any) still apply. A
	// pinned certificate that chains to TrustPool is checked through its
	// chain like any other; with revocation on, one a CA issued that does
	// not chain has no revocation answer (hard mode refuses it); a
	// self-signed one needs none.
	PinsRaw []json.RawMessage `json:"pins,omitempty" caddy:"namespace=tls.leaf_cert_loader inline_key=loader"`
	// FromHeader reads a certificate forwarded by a TLS terminator. It is
	// believed only from a trusted proxy; from any other peer the header
	// is removed and ignored. Default: off.
	FromHeader *ClientCertHeader `json:"from_header,omitempty"`
	// Map lists mapping rules, after the thumbprints of MapFiles; the
	// first match wins. See clientcert.Rule.
	Map []ClientCertRule `json:"map,omitempty"`
	// MapFiles are mapping files, one rule a line (see
	// clientcert.LoadMapFile), for thousands of devices.
	MapFiles []string `json:"map_files,omitempty"`
	// Unmapped says what a trusted certificate no rule maps gets: "deny"
	// (403 cert_unmapped) or "allow" (verified, no facet). Default: deny.
	Unmapped string `json:"unmapped,omitempty"`
	// Revocation checks certificates for revocation. Default: off.
	Revocation *ClientCertRevocation `json:"revocation,omitempty"`
	// Forward sends the verified certificate upstream: "x_ssl_clientcert"
	// (URL-escaped PEM, what SanteDB reads behind nginx), "rfc9440"
	// (Client-Cert, Client-Cert-Chain) or "none". Default: none.
	Forward string `json:"forward,omitempty"`
	// CacheSize bounds each identity cache (TLS connections, forwarded
	// values), in entries. Default: 10000.
	CacheSize int `json:"cache_size,omitempty"`

	auth   *clientcert.Authenticator
	logger *zap.Logger
}

// ClientCertHeader names the format and headers of a forwarded certificate.
type ClientCertHeader struct {
	// Format is pem, escaped_pem, base64_der, rfc9440, xfcc or alb.
	Format string `json:"format"`
	// Header overrides the format's default header (X-SSL-ClientCert for
	// pem and escaped_pem, X-SSL-Client-Cert for base64_der, Client-Cert,
	// X-Forwarded-Client-Cert, X-Amzn-Mtls-Clientcert-Leaf).
	Header string `json:"header,omitempty"`
	// ChainHeader overrides the chain header of rfc9440
	// (Client-Cert-Chain) and alb (X-Amzn-Mtls-Clientcert).
	ChainHeader string `json:"chain_header,omitempty"`
}

// ClientCertRule maps certificates to a facet.
type ClientCertRule struct {
	// Field is sha1, sha256, subject, subject_cn, san_dns, san_uri or
	// san_email.
	Field string `json:"field"`
	// Pattern is a thumbprint (hex, any case, colons allowed) or a glob
	// whose '*' captures one or more characters.
	Pattern string `json:"pattern"`
	// Kind is device, application or user.
	Kind string `json:"kind"`
	// ID is the facet id: literal text with {1}… (captures), {cn},
	// {sha1}, {sha256}, {serial}.
	ID string `json:"id"`
	// Issuer, if set, is a glob the issuer DN or common name must match.
	Issuer string `json:"issuer,omitempty"`
}

func (r ClientCertRule) words() []string {
	w := []string{r.Field, r.Pattern, r.Kind, r.ID}
	if r.Issuer != "" {
		w = append(w, "issuer", r.Issuer)
	}
	return w
}

// ClientCertRevocation configures revocation checking, like SanteDB's
// revokeCheck="Online".
type ClientCertRevocation struct {
	// Method is ocsp, crl or ocsp_then_crl. Default: ocsp_then_crl.
	Method string `json:"method,omitempty"`
	// Mode is soft (no answer → pass, logged) or hard (no answer → 503).
	// A revoked certificate is always refused. Default: hard.
	Mode string `json:"mode,omitempty"`
	// CRLFiles are local CRL files (PEM or DER), used before distribution
	// points for their CA's certificates.
	CRLFiles []string `json:"crl_files,omitempty"`
	// Timeout bounds one OCSP or CRL fetch. Default: 5s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// MaxTTL caps how long an answer is cached, whatever its next update.
	// Default: 1h.
	MaxTTL caddy.Duration `json:"max_ttl,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (ClientCert) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "healthgate.verifiers.client_cert",
		New: func() caddy.Module { return new(ClientCert) },
	}
}

// Priority runs client_cert first: it is the transport credential later
// verifiers (RFC 8705 bound tokens) bind to.
func (*ClientCert) Priority() int { return 0 }

// Provision loads the trust pool, pins, mapping rules and revocation
// settings.
func (c *ClientCert) Provision(ctx caddy.Context) error {
	c.logger = ctx.Logger()
	repl := caddy.NewReplacer()

	var roots *x509.CertPool
	if c.TrustPoolRaw != nil {
		mod, err := ctx.LoadModule(c, "TrustPoolRaw")
		if err != nil {
			return fmt.Errorf("client_cert trust_pool: loading: %w", err)
		}
		ca, ok := mod.(caddytls.CA)
		if !ok {
			return fmt.Errorf("client_cert trust_pool: module %T is not a certificate pool", mod)
		}
		roots = ca.CertPool()
	}
	var pins []*x509.Certificate
	if c.PinsRaw != nil {
		mods, err := ctx.LoadModule(c, "PinsRaw")
		if err != nil {
			return fmt.Errorf("client_cert pin: loading: %w", err)
		}
		for _, m := range mods.([]any) {
			l, ok := m.(caddytls.LeafCertificateLoader)
			if !ok {
				return fmt.Errorf("client_cert pin: module %T is not a leaf certificate loader", m)
			}
			certs, err := l.LoadLeafCertificates()
			if err != nil {
				return fmt.Errorf("client_cert pin: loading certificates: %w", err)
			}
			pins = append(pins, certs...)
		}
	}
	trust, err := clientcert.NewTrust(roots, pins)
	if err != nil {
		return fmt.Errorf("client_cert: trust_pool or pin required: %w", err)
	}
	cfg := clientcert.Config{Trust: trust, Mapper: clientcert.NewMapper(), CacheEntries: c.CacheSize}

	if fh := c.FromHeader; fh != nil {
		f, err := clientcert.ParseFormat(fh.Format)
		if err != nil {
			return fmt.Errorf("client_cert from_header: %w", err)
		}
		src, err := clientcert.NewSource(f, fh.Header, fh.ChainHeader)
		if err != nil {
			return fmt.Errorf("client_cert from_header %s: %w", fh.Format, err)
		}
		cfg.From = &src
	}
	for _, path := range c.MapFiles {
		path = repl.ReplaceKnown(path, "")
		if err := clientcert.LoadMapFile(cfg.Mapper, path); err != nil {
			return fmt.Errorf("client_cert map_file: %w", err)
		}
	}
	for i, r := range c.Map {
		rule, err := clientcert.ParseRule(r.words())
		if err != nil {
			return fmt.Errorf("client_cert map %d (%s %s): %w", i+1, r.Field, r.Pattern, err)
		}
		if err := cfg.Mapper.Add(rule); err != nil {
			return fmt.Errorf("client_cert map %d: %w", i+1, err)
		}
	}
	if c.Unmapped != "" {
		if cfg.Unmapped, err = clientcert.ParseUnmapped(c.Unmapped); err != nil {
			return fmt.Errorf("client_cert unmapped: %w", err)
		}
	}
	if cfg.Forward, err = clientcert.ParseForward(c.Forward); err != nil {
		return fmt.Errorf("client_cert forward: %w", err)
	}
	if rv := c.Revocation; rv != nil {
		obs, err := observer(ctx)
		if err != nil {
			return fmt.Errorf("client_cert revocation: %w", err)
		}
		if cfg.Revocation, cfg.RevocationMode, err = rv.provision(repl, obs); err != nil {
			return err
		}
	}
	if c.auth, err = clientcert.NewAuthenticator(cfg); err != nil {
		return fmt.Errorf("client_cert: %w", err)
	}
	c.logger.Info("client_cert ready",
		zap.Bool("trust_pool", roots != nil), zap.Int("pins", len(pins)),
		zap.Int("map_rules", cfg.Mapper.Len()), zap.Bool("from_header", cfg.From != nil))
	return nil
}

func (rv *ClientCertRevocation) provision(repl *caddy.Replacer, obs audit.Observer) (*clientcert.Revocation, clientcert.Mode, error) {
	method, mode := clientcert.MethodOCSPThenCRL, clientcert.ModeHard
	var err error
	if rv.Method != "" {
		if method, err = clientcert.ParseMethod(rv.Method); err != nil {
			return nil, 0, fmt.Errorf("client_cert revocation: %w", err)
		}
	}
	if rv.Mode != "" {
		if mode, err = clientcert.ParseMode(rv.Mode); err != nil {
			return nil, 0, fmt.Errorf("client_cert revocation: %w", err)
		}
	}
	files := make([]string, len(rv.CRLFiles))
	for i, f := range rv.CRLFiles {
		files[i] = repl.ReplaceKnown(f, "")
	}
	r, err := clientcert.NewRevocation(clientcert.RevocationConfig{
		Method:   method,
		CRLFiles: files,
		Timeout:  time.Duration(rv.Timeout),
		MaxTTL:   time.Duration(rv.MaxTTL),
		Observer: obs,
	})
	if err != nil {
		return nil, 0, fmt.Errorf("client_cert revocation: %w", err)
	}
	return r, mode, nil
}

// Verify authenticates the request's client certificate: the forwarded
// one when a trusted proxy sent it, else the one of the TLS connection.
func (c *ClientCert) Verify(ctx context.Context, req *pipeline.Request) error {
	var (
		res       *clientcert.Result
		warn, err error
	)
	if src := c.auth.From(); src != nil {
		if req.TrustedHop {
			res, warn, err = c.auth.Forwarded(ctx, req.HTTP.Header, req.Now)
			if err != nil && !errors.Is(err, clientcert.ErrNoCertificate) {
				return err
			}
		}
		// Never passed on as received; `forward` re-sets a verified one.
		for _, h := range src.Headers() {
			req.HTTP.Header.Del(h)
		}
	}
	if res == nil {
		st := req.HTTP.TLS
		if st == nil || len(st.PeerCertificates) == 0 {
			return pipeline.ErrNoCredentials
		}
		if res, warn, err = c.auth.TLS(ctx, st.PeerCertificates, req.Now); err != nil {
			return err
		}
	}
	if warn != nil {
		if ce := c.logger.Check(zap.WarnLevel, "client_cert: revocation status unavailable, soft-fail lets the certificate pass"); ce != nil {
			ce.Write(zap.String("sha256", res.Certificate.SHA256), zap.Error(warn))
		}
	}
	if err := res.Apply(&req.Principal); err != nil {
		return pipeline.Unauthorized("identity_conflict", err)
	}
	for k, v := range res.Upstream {
		req.SetUpstream(k, v)
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner = (*ClientCert)(nil)
	_ pipeline.Verifier = (*ClientCert)(nil)
	_ caddy.Module      = (*ClientCert)(nil)
)
