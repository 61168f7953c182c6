package grants

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/google/go-cmp/cmp"

	"github.com/healthgate/healthgate/policy/identity"
	"github.com/healthgate/healthgate/policy/pipeline"
)

func testRegistry(t testing.TB) *DeviceRegistry {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte("0*Su_2~OdJ7@Gcc7"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := bcrypt.GenerateFromPassword([]byte("other"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewDeviceRegistry(map[string]string{
		"Debugee-E0D55EA5D6CD": string(h),
		"tablet-2":             base64.StdEncoding.EncodeToString(h2),
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func basic(user, secret string) string {
	return "BASIC " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret))
}

func TestDeviceVerifier(t *testing.T) {
	tests := []struct {
		name       string
		path       string
		hdr        []string
		fromAuthz  bool
		wantDevice string
		wantReason string
		wantStatus int
	}{
		{"the seed's X-Device-Authorization verifies", "/auth/oauth2_token", []string{DeviceHeader, "BASIC RGVidWdlZS1FMEQ1NUVBNUQ2Q0Q6MCpTdV8yfk9kSjdAR2NjNw=="}, false, "Debugee-E0D55EA5D6CD", "", 0},
		{"a base64-stored hash verifies", "/fhir/Patient", []string{DeviceHeader, basic("tablet-2", "other")}, false, "tablet-2", "", 0},
		{"a wrong secret is refused", "/auth/oauth2_token", []string{DeviceHeader, basic("tablet-2", "guess")}, false, "", ReasonDeviceInvalid, 401},
		{"an unknown device is refused", "/fhir/Patient", []string{DeviceHeader, basic("ghost", "other")}, false, "", ReasonDeviceInvalid, 401},
		{"a Bearer scheme is malformed", "/fhir/Patient", []string{DeviceHeader, "Bearer abc"}, false, "", ReasonDeviceMalformed, 401},
		{"credentials that are not base64 are malformed", "/fhir/Patient", []string{DeviceHeader, "BASIC !!!"}, false, "", ReasonDeviceMalformed, 401},
		{"credentials without a colon are malformed", "/fhir/Patient", []string{DeviceHeader, "BASIC " + base64.StdEncoding.EncodeToString([]byte("tablet-2"))}, false, "", ReasonDeviceMalformed, 401},
		{"two device headers are malformed", "/fhir/Patient", []string{DeviceHeader, basic("tablet-2", "other"), DeviceHeader, basic("tablet-2", "other")}, false, "", ReasonDeviceMalformed, 401},
		{"Authorization: Basic on the token endpoint verifies when configured", "/auth/oauth2_token", []string{"Authorization", basic("tablet-2", "other")}, true, "tablet-2", "", 0},
		{"Authorization: Basic with a wrong secret is refused when configured", "/auth/oauth2_token", []string{"Authorization", basic("tablet-2", "x")}, true, "", ReasonDeviceInvalid, 401},
		{"Authorization: Basic on another spelling of the token endpoint verifies", "/AUTH/oauth2_token/", []string{"Authorization", basic("tablet-2", "other")}, true, "tablet-2", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &DeviceVerifier{Registry: testRegistry(t), FromAuthorization: tt.fromAuthz}
			req := newRequest(http.MethodPost, tt.path, "", tt.hdr...)
			err := v.Verify(context.Background(), req)
			if tt.wantReason == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				want := &identity.Facet{Kind: identity.Device, ID: tt.wantDevice, Proof: identity.ProofBasic, Source: "device_registry"}
				if diff := cmp.Diff(want, req.Principal.Device); diff != "" {
					t.Errorf("device (-want +got):\n%s", diff)
				}
				return
			}
			var f *pipeline.Failure
			if !errors.As(err, &f) || f.Reason != tt.wantReason || f.Status != tt.wantStatus {
				t.Fatalf("Verify = %v, want %d %s", err, tt.wantStatus, tt.wantReason)
			}
			if strings.Contains(f.Error(), "other") || strings.Contains(string(f.Body), "other") {
				t.Error("the secret leaked into the failure")
			}
			if tt.path == DefaultTokenPath && !strings.Contains(string(f.Body), `"invalid_client"`) {
				t.Errorf("token endpoint body = %s, want invalid_client", f.Body)
			}
		})
	}
}

func TestDeviceVerifierWithoutCredentials(t *testing.T) {
	v := &DeviceVerifier{Registry: testRegistry(t)}
	for name, hdr := range map[string][]string{
		"no header at all":                                nil,
		"Authorization: Basic when not configured":        {"Authorization", basic("tablet-2", "other")},
		"Authorization: Bearer when configured for Basic": {"Authorization", "Bearer x"},
	} {
		t.Run(name+" is no device credential", func(t *testing.T) {
			v.FromAuthorization = strings.Contains(name, "configured for")
			err := v.Verify(context.Background(), newRequest(http.MethodPost, DefaultTokenPath, "", hdr...))
			if !errors.Is(err, pipeline.ErrNoCredentials) {
				t.Errorf("Verify = %v, want ErrNoCredentials", err)
			}
		})
	}
}

func TestDeviceVerifierRefusesAConflictWithTheCertificate(t *testing.T) {
	v := &DeviceVerifier{Registry: testRegistry(t)}
	req := newRequest(http.MethodGet, "/fhir/Patient", "", DeviceHeader, basic("tablet-2", "other"))
	req.Principal.Device = &identity.Facet{Kind: identity.Device, ID: "cert-device", Proof: identity.ProofMTLS}
	var f *pipeline.Failure
	if err := v.Verify(context.Background(), req); !errors.As(err, &f) || f.Reason != ReasonDeviceConflict {
		t.Errorf("Verify = %v, want %s", err, ReasonDeviceConflict)
	}
}

func TestNewDeviceRegistryRefusesBadEntries(t *testing.T) {
	for name, devices := range map[string]map[string]string{
		"a hash that is not bcrypt": {"d": "$2a$nothash"},
		"a hash that is not base64": {"d": "%%%"},
		"an id with a colon":        {"a:b": "$2a$04$abcdefghijklmnopqrstuuNbFQ8B7Wq3xg6PJg3Pz2b7d0xZ1y0W."},
	} {
		t.Run("refuses "+name, func(t *testing.T) {
			if _, err := NewDeviceRegistry(devices); err == nil {
				t.Error("no error")
			}
		})
	}
}

// FuzzParseBasic checks that no device header panics the parser and that
// an accepted one round-trips: id and secret encode back to the same
// credentials.
func FuzzParseBasic(f *testing.F) {
	f.Add("BASIC RGVidWdlZS1FMEQ1NUVBNUQ2Q0Q6MCpTdV8yfk9kSjdAR2NjNw==")
	f.Add("Basic Og==")
	f.Add("basic !!")
	f.Fuzz(func(t *testing.T, header string) {
		id, secret, err := ParseBasic(header)
		if err != nil {
			return
		}
		if id == "" || strings.Contains(id, ":") {
			t.Fatalf("accepted id %q", id)
		}
		id2, secret2, err := ParseBasic(basic(id, secret))
		if err != nil || id2 != id || secret2 != secret {
			t.Fatalf("round trip of %q/%q gave %q/%q, %v", id, secret, id2, secret2, err)
		}
	})
}
