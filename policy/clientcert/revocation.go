package clientcert

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/healthgate/healthgate/internal/ttlcache"
	"github.com/healthgate/healthgate/policy/audit"
	"github.com/healthgate/healthgate/policy/pipeline"
)

// Mode says what a revocation check that cannot be completed does, like
// SanteDB's revokeCheck and Kong's SKIP / IGNORE_CA_ERROR / STRICT.
type Mode uint8

const (
	// ModeOff checks nothing. The default.
	ModeOff Mode = iota
	// ModeSoft lets a certificate pass when no answer could be had (the
	// responder is down, say); the failure is reported for the log and
	// never cached. A revoked certificate is always refused.
	ModeSoft
	// ModeHard refuses a certificate whose status could not be learnt.
	ModeHard
)

// ParseMode reads off, soft or hard.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "off":
		return ModeOff, nil
	case "soft":
		return ModeSoft, nil
	case "hard":
		return ModeHard, nil
	}
	return 0, fmt.Errorf("clientcert: unknown revocation mode %q (want off, soft or hard)", s)
}

// Method says where revocation is learnt.
type Method uint8

const (
	// MethodOCSPThenCRL asks the OCSP responder named in the certificate
	// and falls back to the CRL when it gives no answer. The default.
	MethodOCSPThenCRL Method = iota
	// MethodOCSP asks only the OCSP responder.
	MethodOCSP
	// MethodCRL reads only CRLs: the configured files for the issuer,
	// else the certificate's distribution points.
	MethodCRL
)

// ParseMethod reads ocsp, crl or ocsp_then_crl.
func ParseMethod(s string) (Method, error) {
	switch s {
	case "ocsp":
		return MethodOCSP, nil
	case "crl":
		return MethodCRL, nil
	case "ocsp_then_crl":
		return MethodOCSPThenCRL, nil
	}
	return 0, fmt.Errorf("clientcert: unknown revocation method %q (want ocsp, crl or ocsp_then_crl)", s)
}

// RevocationConfig configures revocation checking. Zero values take the
// defaults given.
type RevocationConfig struct {
	Method Method
	// CRLFiles are local CRL files (PEM or DER). A file's CRL is used for
	// the certificates of the CA that signed it, before any distribution
	// point; it is re-read once its next update has passed.
	CRLFiles []string
	// Timeout bounds one OCSP or CRL fetch. Default: 5s.
	Timeout time.Duration
	// MaxTTL caps how long an answer is cached, whatever its next update
	// says. Default: 1h.
	MaxTTL time.Duration
	// CacheEntries bounds the cached OCSP answers and CRLs. Default: 10000.
	CacheEntries int
	// MaxOCSPBytes bounds an OCSP response. Default: 64 KiB.
	MaxOCSPBytes int64
	// MaxCRLBytes bounds a fetched CRL. Default: 16 MiB.
	MaxCRLBytes int64
	// HTTPClient fetches OCSP answers and CRLs. Default: a client with
	// Timeout.
	HTTPClient *http.Client
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// Observer is told of every OCSP and CRL check (cached answers
	// included) and of every OCSP request and CRL download. Default:
	// audit.Nop{}.
	Observer audit.Observer
}

// Revocation checks certificates against OCSP responders and CRLs, caching
// answers until their next update (capped by MaxTTL). Failures to get an
// answer are never cached.
type Revocation struct {
	cfg   RevocationConfig
	ocsp  *ttlcache.Cache[string, ocspAnswer]
	crls  *ttlcache.Cache[string, *crlSet]
	files []*crlFile
	group singleflight.Group
}

// NewRevocation loads the CRL files and returns a Revocation.
func NewRevocation(cfg RevocationConfig) (*Revocation, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.MaxTTL <= 0 {
		cfg.MaxTTL = time.Hour
	}
	if cfg.CacheEntries <= 0 {
		cfg.CacheEntries = 10000
	}
	if cfg.MaxOCSPBytes <= 0 {
		cfg.MaxOCSPBytes = 64 << 10
	}
	if cfg.MaxCRLBytes <= 0 {
		cfg.MaxCRLBytes = 16 << 20
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: cfg.Timeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Observer == nil {
		cfg.Observer = audit.Nop{}
	}
	rv := &Revocation{
		cfg:  cfg,
		ocsp: ttlcache.New[string, ocspAnswer](cfg.CacheEntries),
		crls: ttlcache.New[string, *crlSet](cfg.CacheEntries),
	}
	for _, path := range cfg.CRLFiles {
		f, err := loadCRLFile(path)
		if err != nil {
			return nil, err
		}
		rv.files = append(rv.files, f)
	}
	return rv, nil
}

// ErrRevoked is the kind of a RevokedError.
var ErrRevoked = errors.New("certificate revoked")

// RevokedError reports a revoked certificate.
type RevokedError struct {
	Serial string // hex
	Reason int    // RFC 5280 CRLReason
	At     time.Time
	Source string // "ocsp" or "crl"
}

func (e *RevokedError) Error() string {
	return fmt.Sprintf("clientcert: certificate %s revoked at %s (reason %d, by %s)", e.Serial, e.At.Format(time.RFC3339), e.Reason, e.Source)
}

func (e *RevokedError) Is(target error) bool { return target == ErrRevoked }

// UnavailableError reports that no revocation answer could be had. It
// matches pipeline.ErrUnavailable.
type UnavailableError struct {
	Err error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("clientcert: revocation status unavailable: %v", e.Err)
}

func (e *UnavailableError) Unwrap() []error { return []error{pipeline.ErrUnavailable, e.Err} }

func unavailable(format string, args ...any) error {
	return &UnavailableError{Err: fmt.Errorf(format, args...)}
}

// Check checks every certificate of a verified chain but its trust anchor
// and returns until when the answer holds. It returns a *RevokedError or an
// *UnavailableError; mode handling is the caller's. A chain of one
// certificate that a CA issued (a pinned leaf sent without the chain to its
// issuer) has no known issuer to ask, so its status is unavailable; only a
// self-issued certificate is its own anchor.
func (rv *Revocation) Check(ctx context.Context, chain []*x509.Certificate) (time.Time, error) {
	now := rv.cfg.Now()
	if len(chain) == 1 && !bytes.Equal(chain[0].RawIssuer, chain[0].RawSubject) {
		return now, unavailable("certificate %s was issued by %q, which is not in its verified chain", chain[0].SerialNumber.Text(16), chain[0].Issuer)
	}
	until := now.Add(rv.cfg.MaxTTL)
	for i := 0; i+1 < len(chain); i++ {
		u, err := rv.checkOne(ctx, chain[i], chain[i+1], now)
		if err != nil {
			return now, err
		}
		if u.Before(until) {
			until = u
		}
	}
	return until, nil
}

func (rv *Revocation) checkOne(ctx context.Context, cert, issuer *x509.Certificate, now time.Time) (time.Time, error) {
	switch rv.cfg.Method {
	case MethodOCSP:
		return rv.observe(RevocationMethodOCSP)(rv.checkOCSP(ctx, cert, issuer, now))
	case MethodCRL:
		return rv.observe(RevocationMethodCRL)(rv.checkCRL(ctx, cert, issuer, now))
	}
	until, err := rv.observe(RevocationMethodOCSP)(rv.checkOCSP(ctx, cert, issuer, now))
	var u *UnavailableError
	if !errors.As(err, &u) {
		return until, err
	}
	until, crlErr := rv.observe(RevocationMethodCRL)(rv.checkCRL(ctx, cert, issuer, now))
	if errors.As(crlErr, &u) {
		return now, unavailable("ocsp: %v; crl: %v", err, crlErr)
	}
	return until, crlErr
}

// The methods, results and fetch kinds a Revocation reports to its
// Observer: a small fixed set, whatever the certificates say.
const (
	RevocationMethodOCSP = "ocsp"
	RevocationMethodCRL  = "crl"

	RevocationGood    = "good"
	RevocationRevoked = "revoked"
	// RevocationUnknown: every OCSP responder that answered said
	// "unknown", or, with others failing, at least one did.
	RevocationUnknown = "unknown"
	// RevocationError: no answer could be had.
	RevocationError = "error"
)

// errOCSPUnknown marks a responder's "unknown" answer, so the result of a
// check shared through singleflight can still be told from a failure.
var errOCSPUnknown = errors.New("status unknown")

// errScheme is a URL no request can be made to (ldap:, file:); skipping it
// is not a failed fetch.
var errScheme = errors.New("unsupported URL scheme")

// observe returns a function that reports one check by method and passes
// its outcome through: rv.observe(m)(rv.checkX(...)).
func (rv *Revocation) observe(method string) func(time.Time, error) (time.Time, error) {
	return func(until time.Time, err error) (time.Time, error) {
		rv.cfg.Observer.Revocation(method, revocationResult(err))
		return until, err
	}
}

// revocationResult classifies a check's outcome for the Observer.
func revocationResult(err error) string {
	result := RevocationGood
	switch {
	case errors.Is(err, ErrRevoked):
		result = RevocationRevoked
	case errors.Is(err, errOCSPUnknown):
		result = RevocationUnknown
	case err != nil:
		result = RevocationError
	}
	return result
}

// observeFetch reports one OCSP request or CRL download; err covers the
// answer's verification too, since an answer that fails it is as useless
// as none.
func (rv *Revocation) observeFetch(kind string, err error) {
	if !errors.Is(err, errScheme) {
		rv.cfg.Observer.Fetch(kind, err)
	}
}

// capUntil bounds how long an answer valid until next may be cached: not
// past MaxTTL, and not at all when the answer names no next update.
func (rv *Revocation) capUntil(now, next time.Time) time.Time {
	switch max := now.Add(rv.cfg.MaxTTL); {
	case next.IsZero():
		return now
	case next.After(max):
		return max
	}
	return next
}

// fetch GETs or POSTs url and returns at most limit bytes of a 200 body.
func (rv *Revocation) fetch(ctx context.Context, method, url, contentType string, body []byte, limit int64) ([]byte, error) {
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return nil, fmt.Errorf("%w in %q", errScheme, url)
	}
	ctx, cancel := context.WithTimeout(ctx, rv.cfg.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	// Fetches are rare (answers are cached), and single-threaded
	// responders such as `openssl ocsp` serve a kept-alive connection
	// until it closes, stalling every other client.
	req.Close = true
	resp, err := rv.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: status %d", method, url, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading: %w", method, url, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s %s: response larger than %d bytes", method, url, limit)
	}
	return b, nil
}
