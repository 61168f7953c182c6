package clientcert

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"time"
	"weak"

	"github.com/healthgate/healthgate/internal/ttlcache"
	"github.com/healthgate/healthgate/policy/identity"
	"github.com/healthgate/healthgate/policy/pipeline"
)

// Unmapped says what happens to a trusted certificate no rule maps.
type Unmapped uint8

const (
	// UnmappedDeny refuses it (403 cert_unmapped). The default.
	UnmappedDeny Unmapped = iota
	// UnmappedAllow accepts it as verified, with the certificate facts but
	// no facet.
	UnmappedAllow
)

// ParseUnmapped reads deny or allow.
func ParseUnmapped(s string) (Unmapped, error) {
	switch s {
	case "deny":
		return UnmappedDeny, nil
	case "allow":
		return UnmappedAllow, nil
	}
	return 0, fmt.Errorf("clientcert: unknown unmapped mode %q (want deny or allow)", s)
}

// The stable reasons of the failures the Authenticator returns.
const (
	ReasonHeaderMalformed       = "cert_header_malformed"  // 401
	ReasonUntrusted             = "cert_untrusted"         // 401
	ReasonExpired               = "cert_expired"           // 401
	ReasonUsage                 = "cert_usage"             // 401: no clientAuth usage
	ReasonRevoked               = "cert_revoked"           // 401
	ReasonUnmapped              = "cert_unmapped"          // 403
	ReasonRevocationUnavailable = "revocation_unavailable" // 503, hard mode only
)

// Config configures an Authenticator.
type Config struct {
	// Trust decides which certificates are trusted. Required.
	Trust *Trust
	// Mapper maps certificates to facets. Nil maps nothing.
	Mapper *Mapper
	// Unmapped says what a trusted, unmapped certificate gets.
	Unmapped Unmapped
	// From, when set, is where a trusted proxy forwards the certificate.
	From *Source
	// Revocation checks revocation in RevocationMode. Nil, or ModeOff,
	// checks nothing.
	Revocation     *Revocation
	RevocationMode Mode
	// Forward says how the verified certificate is sent upstream.
	Forward Forward
	// CacheEntries bounds each identity cache (TLS connections,
	// forwarded values). Default: 10000.
	CacheEntries int
}

// Authenticator verifies client certificates and maps them to identities,
// caching the outcome per TLS connection and per forwarded header value.
type Authenticator struct {
	cfg Config
	// conns is keyed by the connection's leaf certificate: crypto/tls
	// parses it once per handshake and every request on the connection
	// (HTTP/1.1 keep-alive or h2) shares the pointer. A weak pointer does
	// not keep a closed connection's certificate alive, and a new
	// certificate at a reused address gets a new weak pointer.
	conns     *ttlcache.Cache[weak.Pointer[x509.Certificate], *Result]
	forwarded *ttlcache.Cache[[32]byte, *Result]
}

// NewAuthenticator returns an Authenticator.
func NewAuthenticator(cfg Config) (*Authenticator, error) {
	if cfg.Trust == nil {
		return nil, errors.New("clientcert: no trust configured")
	}
	if cfg.Mapper == nil {
		cfg.Mapper = NewMapper()
	}
	if cfg.CacheEntries <= 0 {
		cfg.CacheEntries = 10000
	}
	if cfg.RevocationMode != ModeOff && cfg.Revocation == nil {
		return nil, errors.New("clientcert: revocation mode set without a revocation checker")
	}
	return &Authenticator{
		cfg:       cfg,
		conns:     ttlcache.New[weak.Pointer[x509.Certificate], *Result](cfg.CacheEntries),
		forwarded: ttlcache.New[[32]byte, *Result](cfg.CacheEntries),
	}, nil
}

// From returns the forwarded-certificate source, or nil.
func (a *Authenticator) From() *Source { return a.cfg.From }

// Result is a verified, mapped certificate. It is shared by every request
// of a connection (or with the same forwarded value): read only.
type Result struct {
	// Facet is the mapped identity, nil when unmapped and allowed.
	Facet *identity.Facet
	// Certificate holds the certificate's facts.
	Certificate *identity.Certificate
	// Chain is the verified chain, leaf first.
	Chain []*x509.Certificate
	// Upstream holds the headers that forward the certificate.
	Upstream map[string]string
	// Until is when the result must be recomputed: the earliest expiry in
	// the chain or of the revocation answer.
	Until time.Time
}

// Apply records the result on p: the certificate facts and a copy of the
// facet.
func (r *Result) Apply(p *identity.Principal) error {
	p.Certificate = r.Certificate
	if r.Facet == nil {
		return nil
	}
	f := *r.Facet
	return p.Add(&f)
}

// TLS authenticates the certificates a client presented in Caddy's own
// handshake (r.TLS.PeerCertificates), re-verifying them against this
// Authenticator's trust whatever the TLS connection policy did. warn
// reports a soft-failed revocation check, for the log.
func (a *Authenticator) TLS(ctx context.Context, peer []*x509.Certificate, now time.Time) (res *Result, warn, err error) {
	if len(peer) == 0 || peer[0] == nil {
		return nil, nil, ErrNoCertificate
	}
	key := weak.Make(peer[0])
	if r, ok := a.conns.Get(key, now); ok {
		return r, nil, nil
	}
	r, warn, err := a.authenticate(ctx, peer[0], peer[1:], false, now)
	if err == nil && r.Until.After(now) {
		a.conns.Put(key, r, r.Until, now)
	}
	return r, warn, err
}

// Forwarded authenticates the certificate a trusted proxy forwarded in h.
// The caller must have checked that the peer is a trusted proxy. It returns
// ErrNoCertificate when none was forwarded.
func (a *Authenticator) Forwarded(ctx context.Context, h http.Header, now time.Time) (res *Result, warn, err error) {
	src := a.cfg.From
	if src == nil {
		return nil, nil, ErrNoCertificate
	}
	raw, err := src.Read(h)
	if err != nil {
		return nil, nil, headerFailure(err)
	}
	key := raw.Key(src.Format)
	if r, ok := a.forwarded.Get(key, now); ok {
		return r, nil, nil
	}
	fw, err := src.Parse(raw)
	if err != nil {
		return nil, nil, headerFailure(err)
	}
	r, warn, err := a.authenticate(ctx, fw.Leaf, fw.Intermediates, true, now)
	if err == nil && r.Until.After(now) {
		a.forwarded.Put(key, r, r.Until, now)
	}
	return r, warn, err
}

func headerFailure(err error) error {
	if errors.Is(err, ErrNoCertificate) {
		return ErrNoCertificate
	}
	return pipeline.Unauthorized(ReasonHeaderMalformed, err)
}

// authenticate verifies, checks revocation and maps one certificate.
func (a *Authenticator) authenticate(ctx context.Context, leaf *x509.Certificate, intermediates []*x509.Certificate, forwarded bool, now time.Time) (*Result, error, error) {
	chain, err := a.cfg.Trust.Verify(leaf, intermediates, now)
	if err != nil {
		return nil, nil, trustFailure(err)
	}
	until := leaf.NotAfter
	for _, c := range chain {
		if c.NotAfter.Before(until) {
			until = c.NotAfter
		}
	}
	var warn error
	if a.cfg.RevocationMode != ModeOff {
		u, err := a.cfg.Revocation.Check(ctx, chain)
		var unavail *UnavailableError
		switch {
		case errors.Is(err, ErrRevoked):
			return nil, nil, pipeline.Unauthorized(ReasonRevoked, err)
		case errors.As(err, &unavail) && a.cfg.RevocationMode == ModeSoft:
			warn, until = err, now // passes, and is asked again next time
		case err != nil:
			f := pipeline.Refuse(http.StatusServiceUnavailable, ReasonRevocationUnavailable, err)
			return nil, nil, f
		case u.Before(until):
			until = u
		}
	}
	v := newCertView(leaf)
	proof := identity.ProofMTLS
	if forwarded {
		proof = identity.ProofForwardedCert
	}
	facts := v.facts(forwarded)
	r := &Result{Certificate: facts, Chain: chain, Upstream: a.cfg.Forward.Headers(chain), Until: until}
	kind, id, ok := a.cfg.Mapper.mapView(v)
	switch {
	case ok:
		r.Facet = &identity.Facet{Kind: kind, ID: id, Name: leaf.Subject.CommonName, Proof: proof, Source: v.sha256}
	case a.cfg.Unmapped == UnmappedDeny:
		return nil, nil, pipeline.Forbidden(ReasonUnmapped, fmt.Errorf("clientcert: no mapping rule matches certificate sha256 %s subject %q", v.sha256, facts.Subject))
	}
	return r, warn, nil
}

func trustFailure(err error) error {
	switch {
	case errors.Is(err, ErrExpired):
		return pipeline.Unauthorized(ReasonExpired, err)
	case errors.Is(err, ErrUsage):
		return pipeline.Unauthorized(ReasonUsage, err)
	}
	return pipeline.Unauthorized(ReasonUntrusted, err)
}
