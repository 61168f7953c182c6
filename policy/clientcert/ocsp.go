package clientcert

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/crypto/ocsp"
)

// ocspSkew is how far in the future a responder's thisUpdate may be, for
// clocks that disagree a little.
const ocspSkew = 5 * time.Minute

// ocspAnswer is a definite answer: good (revoked == nil) until a time, or
// revoked.
type ocspAnswer struct {
	until   time.Time
	revoked *RevokedError
}

func (a ocspAnswer) result(now time.Time) (time.Time, error) {
	if a.revoked != nil {
		return now, a.revoked
	}
	return a.until, nil
}

// checkOCSP asks the certificate's OCSP responders in turn (POST, RFC
// 6960 appendix A) and verifies the answer against the issuer, directly or
// through a delegated responder certificate the issuer signed for
// OCSPSigning. Good and revoked answers are cached until their next update;
// failures and "unknown" are not.
func (rv *Revocation) checkOCSP(ctx context.Context, cert, issuer *x509.Certificate, now time.Time) (time.Time, error) {
	if len(cert.OCSPServer) == 0 {
		return now, unavailable("certificate names no OCSP responder")
	}
	key := "ocsp|" + sha256Hex(issuer.RawSubjectPublicKeyInfo) + "|" + hex.EncodeToString(cert.SerialNumber.Bytes())
	if a, ok := rv.ocsp.Get(key, now); ok {
		return a.result(now)
	}
	v, err, _ := rv.group.Do(key, func() (any, error) {
		// Detached from the request: one client going away must not fail
		// the others waiting on the same answer.
		ctx := context.WithoutCancel(ctx)
		req, err := ocsp.CreateRequest(cert, issuer, nil)
		if err != nil {
			return nil, unavailable("creating OCSP request: %v", err)
		}
		var errs []error
		for _, url := range cert.OCSPServer {
			body, err := rv.fetch(ctx, "POST", url, "application/ocsp-request", req, rv.cfg.MaxOCSPBytes)
			if err != nil {
				rv.observeFetch(RevocationMethodOCSP, err)
				errs = append(errs, err)
				continue
			}
			resp, err := parseOCSP(body, cert, issuer, now)
			rv.observeFetch(RevocationMethodOCSP, err)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			switch resp.Status {
			case ocsp.Good:
				return ocspAnswer{until: rv.capUntil(now, resp.NextUpdate)}, nil
			case ocsp.Revoked:
				rev := &RevokedError{Serial: cert.SerialNumber.Text(16), Reason: resp.RevocationReason, At: resp.RevokedAt, Source: "ocsp"}
				// A revocation does not heal: keep it for MaxTTL.
				return ocspAnswer{until: now.Add(rv.cfg.MaxTTL), revoked: rev}, nil
			default:
				errs = append(errs, fmt.Errorf("%s: %w", url, errOCSPUnknown))
			}
		}
		return nil, unavailable("ocsp: %w", errors.Join(errs...))
	})
	if err != nil {
		return now, err
	}
	a := v.(ocspAnswer)
	if a.until.After(now) {
		rv.ocsp.Put(key, a, a.until, now)
	}
	return a.result(now)
}

// parseOCSP parses and verifies a response for cert. x/crypto/ocsp checks
// that an embedded responder certificate is signed by the issuer but not
// that it was issued for OCSP signing (RFC 6960 §4.2.2.2); without that,
// any certificate the CA issued (a client's own) could vouch for itself.
func parseOCSP(body []byte, cert, issuer *x509.Certificate, now time.Time) (*ocsp.Response, error) {
	resp, err := ocsp.ParseResponseForCert(body, cert, issuer)
	if err != nil {
		return nil, err
	}
	if rc := resp.Certificate; rc != nil && !bytes.Equal(rc.Raw, issuer.Raw) {
		if !slices.Contains(rc.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning) {
			return nil, errors.New("delegated OCSP responder certificate lacks the OCSPSigning usage")
		}
		if now.Before(rc.NotBefore) || now.After(rc.NotAfter) {
			return nil, errors.New("delegated OCSP responder certificate expired or not yet valid")
		}
	}
	if resp.ThisUpdate.After(now.Add(ocspSkew)) {
		return nil, errors.New("OCSP response from the future")
	}
	if !resp.NextUpdate.IsZero() && !now.Before(resp.NextUpdate) {
		return nil, errors.New("stale OCSP response")
	}
	return resp, nil
}
