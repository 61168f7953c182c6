package grants

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/healthgate/healthgate/policy/identity"
	"github.com/healthgate/healthgate/policy/pipeline"
)

// DeviceHeader carries SanteDB device credentials: BASIC base64(id:secret).
const DeviceHeader = "X-Device-Authorization"

// ReasonDeviceConflict: the device credentials name another device than the
// client certificate does.
const ReasonDeviceConflict = "device_conflict"

// DeviceRegistry holds device ids and bcrypt hashes of their secrets, as
// Caddy's basic_auth stores passwords.
type DeviceRegistry struct {
	hashes map[string][]byte
	// fake is compared against for unknown devices so that the answer
	// takes as long as for a known one (Caddy basic_auth's fakePassword).
	fake []byte
}

// NewDeviceRegistry builds a registry from device id → bcrypt hash. A hash
// may be given as is ($2a$…) or base64-encoded (older Caddyfiles).
func NewDeviceRegistry(devices map[string]string) (*DeviceRegistry, error) {
	r := &DeviceRegistry{hashes: make(map[string][]byte, len(devices))}
	maxCost := bcrypt.MinCost
	for id, h := range devices {
		if id == "" || strings.Contains(id, ":") {
			return nil, fmt.Errorf("grants: device id %q is empty or holds ':'", id)
		}
		hash := []byte(h)
		if !strings.HasPrefix(h, "$2") {
			dec, err := base64.StdEncoding.DecodeString(h)
			if err != nil {
				return nil, fmt.Errorf("grants: device %q: hash is neither bcrypt nor base64: %w", id, err)
			}
			hash = dec
		}
		cost, err := bcrypt.Cost(hash)
		if err != nil {
			return nil, fmt.Errorf("grants: device %q: reading bcrypt hash: %w", id, err)
		}
		maxCost = max(maxCost, cost)
		r.hashes[id] = hash
	}
	fake, err := bcrypt.GenerateFromPassword([]byte("not a device secret"), maxCost)
	if err != nil {
		return nil, fmt.Errorf("grants: making the timing decoy: %w", err)
	}
	r.fake = fake
	return r, nil
}

// Verify reports whether secret is the secret of device id.
func (r *DeviceRegistry) Verify(id, secret string) bool {
	hash, known := r.hashes[id]
	if !known {
		hash = r.fake
	}
	return bcrypt.CompareHashAndPassword(hash, []byte(secret)) == nil && known
}

// ParseBasic reads "Basic base64(id:secret)", scheme case-insensitive (SanteDB
// writes BASIC).
func ParseBasic(v string) (id, secret string, err error) {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(scheme, "basic") {
		return "", "", errors.New("grants: device credentials are not Basic")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return "", "", fmt.Errorf("grants: device credentials are not base64: %w", err)
	}
	id, secret, ok = strings.Cut(string(raw), ":")
	if !ok || id == "" {
		return "", "", errors.New("grants: device credentials are not id:secret")
	}
	return id, secret, nil
}

// DeviceVerifier verifies device credentials: X-Device-Authorization on any
// route, and optionally Authorization: Basic on the token endpoint, as newer
// SanteDB clients send.
type DeviceVerifier struct {
	Registry *DeviceRegistry
	// FromAuthorization also reads Authorization: Basic as device
	// credentials on TokenPaths. Default: false (there it usually holds
	// the OAuth client's own credentials).
	FromAuthorization bool
	// TokenPaths are the token endpoint paths, where failures are answered
	// with an RFC 6749 invalid_client body. Default: DefaultTokenPath.
	TokenPaths []string
}

// Verify implements pipeline.Verifier.
func (v *DeviceVerifier) Verify(_ context.Context, req *pipeline.Request) error {
	r := req.HTTP
	atToken := isTokenPath(v.TokenPaths, r.URL.Path)
	vals := r.Header.Values(DeviceHeader)
	if len(vals) == 0 && v.FromAuthorization && atToken {
		vals = r.Header.Values("Authorization")
		if len(vals) == 1 && !strings.HasPrefix(strings.ToLower(vals[0]), "basic ") {
			return pipeline.ErrNoCredentials
		}
	}
	if len(vals) == 0 {
		return pipeline.ErrNoCredentials
	}
	fail := func(reason string, err error) error {
		if atToken {
			return oauthError(http.StatusUnauthorized, reason, "invalid_client", "device authentication failed", err)
		}
		return pipeline.Unauthorized(reason, err)
	}
	if len(vals) > 1 {
		return fail(ReasonDeviceMalformed, errors.New("grants: more than one device credential"))
	}
	id, secret, err := ParseBasic(vals[0])
	if err != nil {
		return fail(ReasonDeviceMalformed, err)
	}
	if !v.Registry.Verify(id, secret) {
		return fail(ReasonDeviceInvalid, fmt.Errorf("grants: device %q: unknown or wrong secret", id))
	}
	err = req.Principal.Add(&identity.Facet{Kind: identity.Device, ID: id, Proof: identity.ProofBasic, Source: "device_registry"})
	if err != nil {
		return fail(ReasonDeviceConflict, err)
	}
	return nil
}
