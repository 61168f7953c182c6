package grants

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPolicyForDemandsTheGrantsOID(t *testing.T) {
	tests := []struct {
		name   string
		grant  Grant
		device bool
		want   string
	}{
		{"client_credentials with a device demands …0.0.1", ClientCredentials, true, OIDOAuthLogin + ".1"},
		{"client_credentials without a device demands the without-device variant", ClientCredentials, false, OIDOAuthLogin + ".1.0"},
		{"password with a device demands …0.0.2", Password, true, OIDOAuthLogin + ".2"},
		{"password without a device demands …0.0.2.0", Password, false, OIDOAuthLogin + ".2.0"},
		{"authorization_code demands …0.0.3", AuthorizationCode, true, OIDOAuthLogin + ".3"},
		{"x_challenge demands …0.0.4 with or without a device", Challenge, false, OIDOAuthLogin + ".4"},
		{"refresh_token demands only the login policy", "refresh_token", true, OIDOAuthLogin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PolicyFor(tt.grant, tt.device); got != tt.want {
				t.Errorf("PolicyFor = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestParsePolicyAcceptsNamesAndOIDs(t *testing.T) {
	for in, want := range map[string]string{
		"login": OIDOAuthLogin, "password": OIDOAuthLogin + ".2", "client_credentials": OIDOAuthLogin + ".1",
		"authorization_code": OIDOAuthLogin + ".3", "x_challenge": OIDOAuthLogin + ".4", "2.25.3049340304933": "2.25.3049340304933",
	} {
		got, err := ParsePolicy(in)
		if err != nil || got != want {
			t.Errorf("ParsePolicy(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "implicit", "1..2", "1.02", "1.x", "12"} {
		if _, err := ParsePolicy(bad); err == nil || !strings.Contains(err.Error(), "neither a grant type") {
			t.Errorf("ParsePolicy(%q) err = %v, want a refusal", bad, err)
		}
	}
}

func TestRulesCombineMostRestrictively(t *testing.T) {
	rs, err := NewRules([]Rule{
		{Effect: EffectDeny, Policy: OIDOAuthLogin + ".2", Subjects: []Subject{{SubjectApplication, "reader-app"}}},
		{Effect: EffectDeny, Policy: OIDOAuthLogin, Subjects: []Subject{{SubjectDevice, "stolen-tablet"}}},
		{Effect: EffectDeny, Policy: OIDOAuthLogin + ".1", Subjects: []Subject{{SubjectRole, "CLINICAL"}}},
		{Effect: EffectGrant, Policy: OIDOAuthLogin + ".1.0", Subjects: []Subject{{SubjectRole, "clinical"}}},
		{Effect: EffectDeny, Policy: OIDOAuthLogin + ".1.0", Subjects: []Subject{{SubjectApplication, "default-app"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		subjects []Subject
		demanded string
		want     *Denial
	}{
		{"an application denied password cannot use password", []Subject{{SubjectApplication, "reader-app"}}, OIDOAuthLogin + ".2", &Denial{Subject{SubjectApplication, "reader-app"}, OIDOAuthLogin + ".2"}},
		{"a password denial covers password without device", []Subject{{SubjectApplication, "reader-app"}}, OIDOAuthLogin + ".2.0", &Denial{Subject{SubjectApplication, "reader-app"}, OIDOAuthLogin + ".2"}},
		{"an application denied password may use client_credentials", []Subject{{SubjectApplication, "reader-app"}}, OIDOAuthLogin + ".1", nil},
		{"a device denied login is denied every grant", []Subject{{SubjectApplication, "ok-app"}, {SubjectDevice, "stolen-tablet"}}, OIDOAuthLogin + ".3", &Denial{Subject{SubjectDevice, "stolen-tablet"}, OIDOAuthLogin}},
		{"a role rule matches case-insensitively", []Subject{{SubjectRole, "Clinical"}}, OIDOAuthLogin + ".1", &Denial{Subject{SubjectRole, "Clinical"}, OIDOAuthLogin + ".1"}},
		{"the longest covering rule decides per subject", []Subject{{SubjectRole, "CLINICAL"}}, OIDOAuthLogin + ".1.0", nil},
		{"one denying subject is enough across subjects", []Subject{{SubjectRole, "CLINICAL"}, {SubjectApplication, "default-app"}}, OIDOAuthLogin + ".1.0", &Denial{Subject{SubjectApplication, "default-app"}, OIDOAuthLogin + ".1.0"}},
		{"no rule is no objection", []Subject{{SubjectApplication, "unknown"}}, OIDOAuthLogin + ".2", nil},
		{"an id that merely prefixes another OID does not cover it", []Subject{{SubjectApplication, "reader-app"}}, OIDOAuthLogin + ".22", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, rs.Check(tt.subjects, tt.demanded)); diff != "" {
				t.Errorf("Check (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewRulesRefusesContradictionsAndBadOIDs(t *testing.T) {
	tests := []struct {
		name    string
		rules   []Rule
		wantErr string
	}{
		{"a policy both granted and denied to one subject", []Rule{
			{Effect: EffectDeny, Policy: OIDOAuthLogin, Subjects: []Subject{{SubjectRole, "A"}}},
			{Effect: EffectGrant, Policy: OIDOAuthLogin, Subjects: []Subject{{SubjectRole, "a"}}},
		}, "both granted and denied to role:a"},
		{"a policy that is not an OID", []Rule{{Effect: EffectDeny, Policy: "password", Subjects: []Subject{{SubjectRole, "A"}}}}, `"password" is not an OID`},
		{"an empty subject id", []Rule{{Effect: EffectDeny, Policy: OIDOAuthLogin, Subjects: []Subject{{SubjectDevice, ""}}}}, "empty device"},
	}
	for _, tt := range tests {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			_, err := NewRules(tt.rules)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
