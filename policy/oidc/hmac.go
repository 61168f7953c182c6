package oidc

import (
	"context"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// minHMACKey is RFC 7518 §3.2's minimum for HS256, which go-jose enforces.
// SanteDB repeats a short client secret to 16 bytes, which is still too
// short, so such secrets cannot be used.
const minHMACKey = 32

// HMACSecret is one HS256 key of an issuer.
type HMACSecret struct {
	// KeyID, when set, restricts the secret to tokens with this kid.
	// SanteDB signs with a client's secret and kid = its application id.
	KeyID string
	// Secret is the shared secret, at least 32 bytes.
	Secret []byte
}

// hmacKeys is an oidc.KeySet of shared secrets. go-oidc's own key sets drop
// HS* on purpose, so an HS256 issuer needs this one.
type hmacKeys struct {
	byKid map[string][]byte
	any   [][]byte
}

func newHMACKeys(secrets []HMACSecret) (*hmacKeys, error) {
	k := &hmacKeys{byKid: map[string][]byte{}}
	for i, s := range secrets {
		if len(s.Secret) < minHMACKey {
			return nil, fmt.Errorf("hs256 secret %d: %d bytes, HS256 needs at least %d", i+1, len(s.Secret), minHMACKey)
		}
		if s.KeyID == "" {
			k.any = append(k.any, s.Secret)
			continue
		}
		if !validKeyID(s.KeyID) {
			return nil, fmt.Errorf("hs256 secret %d: invalid kid %q", i+1, s.KeyID)
		}
		if _, dup := k.byKid[s.KeyID]; dup {
			return nil, fmt.Errorf("hs256 secret %d: kid %q given twice", i+1, s.KeyID)
		}
		k.byKid[s.KeyID] = s.Secret
	}
	return k, nil
}

// VerifySignature implements oidc.KeySet. A token whose kid names a secret is
// checked with that secret only; any other token with the secrets that have
// no kid.
func (k *hmacKeys) VerifySignature(_ context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.HS256})
	if err != nil {
		return nil, err
	}
	if key, ok := k.byKid[jws.Signatures[0].Header.KeyID]; ok {
		return jws.Verify(key)
	}
	for _, key := range k.any {
		if payload, err := jws.Verify(key); err == nil {
			return payload, nil
		}
	}
	return nil, fmt.Errorf("no HS256 secret verifies the token")
}

// keyedSecret reports whether kid selects a per-application secret.
func (k *hmacKeys) keyedSecret(kid string) bool {
	_, ok := k.byKid[kid]
	return ok
}
