package clientcert

import (
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Trust decides whether a client certificate is trusted: it chains to a
// root of the pool with the clientAuth usage, or it is one of the pinned
// leaf certificates (Orthanc's SslTrustedClientCertificates: self-signed
// certificates trusted one by one).
type Trust struct {
	roots *x509.CertPool
	pins  map[[32]byte]struct{}
}

// NewTrust returns a Trust over roots (may be nil) and pinned leaf
// certificates. At least one of them must be given.
func NewTrust(roots *x509.CertPool, pins []*x509.Certificate) (*Trust, error) {
	if roots == nil && len(pins) == 0 {
		return nil, errors.New("clientcert: neither a trust pool nor pinned certificates given")
	}
	t := &Trust{roots: roots, pins: make(map[[32]byte]struct{}, len(pins))}
	for _, p := range pins {
		t.pins[sha256.Sum256(p.Raw)] = struct{}{}
	}
	return t, nil
}

// The reasons a certificate is not trusted, for errors.Is.
var (
	ErrUntrusted = errors.New("certificate does not chain to a trusted root")
	ErrExpired   = errors.New("certificate expired or not yet valid")
	ErrUsage     = errors.New("certificate not valid for client authentication")
)

// TrustError says why a certificate was not trusted.
type TrustError struct {
	Kind error // ErrUntrusted, ErrExpired or ErrUsage
	Err  error
}

func (e *TrustError) Error() string { return fmt.Sprintf("clientcert: %v: %v", e.Kind, e.Err) }

func (e *TrustError) Is(target error) bool { return target == e.Kind }

func (e *TrustError) Unwrap() error { return e.Err }

// Verify returns the verified chain, leaf first and trust anchor last: the
// leaf alone when it is pinned and does not chain to the pool.
// intermediates are the other certificates the client offered; only those
// that chain are used. The pool is tried first, so a pinned certificate the
// pool's CA issued is still revocation-checked through its chain: pinning
// must not shield it from its CA's revocation.
func (t *Trust) Verify(leaf *x509.Certificate, intermediates []*x509.Certificate, now time.Time) ([]*x509.Certificate, error) {
	var poolErr error = &TrustError{Kind: ErrUntrusted, Err: errors.New("certificate is not pinned")}
	if t.roots != nil {
		chain, err := t.verifyPool(leaf, intermediates, now)
		if err == nil {
			return chain, nil
		}
		poolErr = err
	}
	if _, ok := t.pins[sha256.Sum256(leaf.Raw)]; !ok {
		return nil, poolErr
	}
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, &TrustError{Kind: ErrExpired, Err: fmt.Errorf("pinned certificate valid %s to %s", leaf.NotBefore.Format(time.RFC3339), leaf.NotAfter.Format(time.RFC3339))}
	}
	if len(leaf.ExtKeyUsage) > 0 && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
		return nil, &TrustError{Kind: ErrUsage, Err: errors.New("pinned certificate lacks the clientAuth extended key usage")}
	}
	return []*x509.Certificate{leaf}, nil
}

func (t *Trust) verifyPool(leaf *x509.Certificate, intermediates []*x509.Certificate, now time.Time) ([]*x509.Certificate, error) {
	opts := x509.VerifyOptions{
		Roots:       t.roots,
		CurrentTime: now,
		// Without this x509 checks serverAuth (the §8 pitfall).
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if len(intermediates) > 0 {
		opts.Intermediates = x509.NewCertPool()
		for _, c := range intermediates {
			opts.Intermediates.AddCert(c)
		}
	}
	chains, err := leaf.Verify(opts)
	if err != nil {
		return nil, classify(err)
	}
	return chains[0], nil
}

func classify(err error) error {
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) {
		switch inv.Reason {
		case x509.Expired:
			return &TrustError{Kind: ErrExpired, Err: err}
		case x509.IncompatibleUsage:
			return &TrustError{Kind: ErrUsage, Err: err}
		}
	}
	return &TrustError{Kind: ErrUntrusted, Err: err}
}
