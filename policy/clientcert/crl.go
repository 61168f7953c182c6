package clientcert

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// crlSet is a parsed, signature-checked CRL with its serials indexed.
type crlSet struct {
	list    *x509.RevocationList
	revoked map[string]x509.RevocationListEntry // by decimal serial
}

func parseCRL(b []byte) (*crlSet, error) {
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("-----BEGIN")) {
		blk, _ := pem.Decode(b)
		if blk == nil || blk.Type != "X509 CRL" {
			return nil, errors.New("no X509 CRL PEM block")
		}
		b = blk.Bytes
	}
	list, err := x509.ParseRevocationList(b)
	if err != nil {
		return nil, fmt.Errorf("parsing CRL: %w", err)
	}
	s := &crlSet{list: list, revoked: make(map[string]x509.RevocationListEntry, len(list.RevokedCertificateEntries))}
	for _, e := range list.RevokedCertificateEntries {
		s.revoked[e.SerialNumber.String()] = e
	}
	return s, nil
}

// stale reports whether the CRL's next update has passed.
func (s *crlSet) stale(now time.Time) bool {
	return !s.list.NextUpdate.IsZero() && !now.Before(s.list.NextUpdate)
}

// signedBy checks that issuer issued the CRL.
func (s *crlSet) signedBy(issuer *x509.Certificate) error {
	if !bytes.Equal(s.list.RawIssuer, issuer.RawSubject) {
		return errors.New("CRL issuer is not the certificate's issuer")
	}
	if err := s.list.CheckSignatureFrom(issuer); err != nil {
		return fmt.Errorf("CRL signature: %w", err)
	}
	return nil
}

// crlFile is a configured local CRL, re-read from disk once stale (a cron
// job replaces it).
type crlFile struct {
	path     string
	mu       sync.Mutex
	set      *crlSet
	verified map[[32]byte]bool // issuer certificate → signature checked
}

func loadCRLFile(path string) (*crlFile, error) {
	f := &crlFile{path: path}
	if err := f.reload(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *crlFile) reload() error {
	b, err := os.ReadFile(f.path)
	if err != nil {
		return fmt.Errorf("clientcert: reading CRL file: %w", err)
	}
	s, err := parseCRL(b)
	if err != nil {
		return fmt.Errorf("clientcert: CRL file %s: %w", f.path, err)
	}
	f.set, f.verified = s, map[[32]byte]bool{}
	return nil
}

// forIssuer returns the file's CRL if issuer signed it (ok=false if it is
// another CA's), re-reading a stale file first.
func (f *crlFile) forIssuer(issuer *x509.Certificate, now time.Time) (*crlSet, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !bytes.Equal(f.set.list.RawIssuer, issuer.RawSubject) {
		return nil, false, nil
	}
	if f.set.stale(now) {
		if err := f.reload(); err != nil {
			return nil, true, unavailable("%v", err)
		}
		if f.set.stale(now) {
			return nil, true, unavailable("CRL file %s is past its next update %s", f.path, f.set.list.NextUpdate.Format(time.RFC3339))
		}
	}
	k := sha256.Sum256(issuer.Raw)
	ok, seen := f.verified[k]
	if !seen {
		ok = f.set.signedBy(issuer) == nil
		f.verified[k] = ok
	}
	if !ok {
		return nil, false, nil
	}
	return f.set, true, nil
}

// checkCRL looks the certificate up in the issuer's CRLs: the configured
// files signed by the issuer, else the first distribution point that
// answers.
func (rv *Revocation) checkCRL(ctx context.Context, cert, issuer *x509.Certificate, now time.Time) (time.Time, error) {
	var sets []*crlSet
	for _, f := range rv.files {
		s, ok, err := f.forIssuer(issuer, now)
		if err != nil {
			return now, err
		}
		if ok {
			sets = append(sets, s)
		}
	}
	if len(sets) == 0 {
		var errs []error
		for _, url := range cert.CRLDistributionPoints {
			s, err := rv.fetchCRL(ctx, url, issuer, now)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			sets = append(sets, s)
			break
		}
		if len(sets) == 0 {
			if len(errs) == 0 {
				return now, unavailable("no CRL file for the issuer and no distribution point in the certificate")
			}
			return now, unavailable("crl: %w", errors.Join(errs...))
		}
	}
	until := now.Add(rv.cfg.MaxTTL)
	for _, s := range sets {
		if e, ok := s.revoked[cert.SerialNumber.String()]; ok {
			return now, &RevokedError{Serial: cert.SerialNumber.Text(16), Reason: e.ReasonCode, At: e.RevocationTime, Source: "crl"}
		}
		if u := rv.capUntil(now, s.list.NextUpdate); u.Before(until) {
			until = u
		}
	}
	return until, nil
}

// fetchCRL fetches, verifies and caches the CRL at url.
func (rv *Revocation) fetchCRL(ctx context.Context, url string, issuer *x509.Certificate, now time.Time) (*crlSet, error) {
	key := "crl|" + sha256Hex(issuer.Raw) + "|" + url
	if s, ok := rv.crls.Get(key, now); ok {
		return s, nil
	}
	v, err, _ := rv.group.Do(key, func() (_ any, err error) {
		// Once per download, not per waiting check.
		defer func() { rv.observeFetch(RevocationMethodCRL, err) }()
		b, err := rv.fetch(context.WithoutCancel(ctx), "GET", url, "", nil, rv.cfg.MaxCRLBytes)
		if err != nil {
			return nil, err
		}
		s, err := parseCRL(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", url, err)
		}
		if err := s.signedBy(issuer); err != nil {
			return nil, fmt.Errorf("%s: %w", url, err)
		}
		if s.stale(now) {
			return nil, fmt.Errorf("%s: CRL past its next update", url)
		}
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	s := v.(*crlSet)
	if u := rv.capUntil(now, s.list.NextUpdate); u.After(now) {
		rv.crls.Put(key, s, u, now)
	}
	return s, nil
}
