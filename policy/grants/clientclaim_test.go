package grants

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestParseClientClaimsReadsBothForms(t *testing.T) {
	tests := []struct {
		name, header string
		want         ClientClaims
	}{
		{"the documented short form (Allison's emergency override)", "PolicyOverride=1;PurposeOfUse=EMERG",
			ClientClaims{Override: true, OverrideSet: true, PurposeOfUse: []string{"EMERG"}}},
		{"the short form base64-encoded", b64("PolicyOverride=true;PurposeOfUse=EMERG"),
			ClientClaims{Override: true, OverrideSet: true, PurposeOfUse: []string{"EMERG"}}},
		{"current SanteDB's URN form, base64-encoded", b64("urn:oasis:names:tc:xspa:1.0:subject:facility=774dc415-0000-4000-8000-000000000001;urn:santedb:org:claim:override=true;urn:oasis:names:tc:xacml:2.0:action:purpose=8b18c2b6-916a-11ea-bb37-0242ac130002;urn:santedb:org:claim:temporary=true"),
			ClientClaims{Override: true, OverrideSet: true, PurposeOfUse: []string{"8b18c2b6-916a-11ea-bb37-0242ac130002"},
				Facility: "774dc415-0000-4000-8000-000000000001", Temporary: true}},
		{"a refused override", "PolicyOverride=0", ClientClaims{OverrideSet: true}},
		{"other documented claims are kept", "Language=fr;SubjectRole=Surgeon;ResourceId=1234;",
			ClientClaims{Other: map[string][]string{"Language": {"fr"}, "SubjectRole": {"Surgeon"}, "ResourceId": {"1234"}}}},
		{"short names are case-insensitive and spaces trimmed", " policyoverride = TRUE ; purposeofuse = TREAT ",
			ClientClaims{Override: true, OverrideSet: true, PurposeOfUse: []string{"TREAT"}}},
	}
	for _, tt := range tests {
		t.Run("reads "+tt.name, func(t *testing.T) {
			got, err := ParseClientClaims(tt.header)
			if err != nil {
				t.Fatalf("ParseClientClaims: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseClientClaimsRefusesMaliciousInput(t *testing.T) {
	tests := []struct {
		name, header, wantErr string
	}{
		{"an empty header", "  ", "empty"},
		{"a pair without '='", "PolicyOverride", "has no '='"},
		{"a pair without a type", "=1", "has no type"},
		{"a value holding '=' (SanteDB would split it)", "PurposeOfUse=EMERG=x", "more than one '='"},
		{"a base64 value holding '='", b64("urn:santedb:org:claim:override=true=false"), "more than one '='"},
		{"an override that is not a boolean", "PolicyOverride=yes", "not a boolean"},
		{"a temporary flag that is not a boolean", b64(ClaimTemporary + "=maybe"), "not a boolean"},
		{"an override both asked and refused", "PolicyOverride=1;PolicyOverride=0", "both ask and refuse"},
		{"an empty purpose of use", "PurposeOfUse=", "empty purpose"},
		{"control characters", "PurposeOfUse=EM\x00ERG", "control characters"},
		{"a header over 4 KiB", "PurposeOfUse=" + strings.Repeat("A", 5000), "more than 4096"},
		{"more than 32 claims", strings.Repeat("Language=fr;", 33), "more than 32"},
		{"bytes that are not UTF-8", "Language=\xff", "not UTF-8"},
		{"a bare base64 blob", "YWJj", "has no '='"},
	}
	for _, tt := range tests {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			_, err := ParseClientClaims(tt.header)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// FuzzParseClientClaims checks that no header panics the parser, that an
// accepted header is within the limits, and that the base64 form of an
// accepted short form parses the same.
func FuzzParseClientClaims(f *testing.F) {
	f.Add("PolicyOverride=1;PurposeOfUse=EMERG")
	f.Add(b64("urn:santedb:org:claim:override=true;urn:oasis:names:tc:xacml:2.0:action:purpose=EMERG"))
	f.Add("Language=fr;;")
	f.Fuzz(func(t *testing.T, header string) {
		cc, err := ParseClientClaims(header)
		if err != nil {
			return
		}
		if len(header) > maxClientClaimBytes || len(cc.PurposeOfUse) > maxClientClaims {
			t.Fatalf("accepted %d bytes, %d purposes", len(header), len(cc.PurposeOfUse))
		}
		if cc.Override && !cc.OverrideSet {
			t.Fatal("override without OverrideSet")
		}
		for _, p := range cc.PurposeOfUse {
			if p == "" || strings.ContainsAny(p, "=;") {
				t.Fatalf("purpose %q", p)
			}
		}
		if _, err := base64.StdEncoding.DecodeString(strings.TrimSpace(header)); err != nil && len(b64(header)) <= maxClientClaimBytes {
			again, err := ParseClientClaims(b64(header))
			if err != nil {
				t.Fatalf("base64 of accepted %q refused: %v", header, err)
			}
			if diff := cmp.Diff(cc, again, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("base64 form differs (-raw +b64):\n%s", diff)
			}
		}
	})
}
