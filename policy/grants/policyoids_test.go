package grants

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRequirePolicy(t *testing.T) {
	clinical := OIDBase + ".2"
	read := OIDBase + ".2.3"
	override := &BreakGlass{Purposes: []string{"EMERG"}, Policies: []string{superSecret}}
	tests := []struct {
		name          string
		require       RequirePolicy
		scopes        []string
		header        string
		claims        []string
		want          string
		wantChallenge string
		wantGrounds   []string
	}{
		{"a token holding the required OID passes", RequirePolicy{OIDs: []string{read}}, []string{OIDBase + ".1", read}, "", nil, "allow", "", []string{read}},
		{"a token lacking the OID gets insufficient_scope naming it", RequirePolicy{OIDs: []string{read, clinical}}, []string{read}, "", nil, "deny:policy_missing",
			`Bearer error="insufficient_scope", scope="` + clinical + `"`, []string{clinical}},
		{"an ancestor OID does not count by default (exact match)", RequirePolicy{OIDs: []string{read}}, []string{clinical}, "", nil, "deny:policy_missing",
			`Bearer error="insufficient_scope", scope="` + read + `"`, []string{read}},
		{"an ancestor OID counts with inherit", RequirePolicy{OIDs: []string{read}, Inherit: true}, []string{clinical}, "", nil, "allow", "", []string{read}},
		{"a sibling that shares a prefix does not count with inherit", RequirePolicy{OIDs: []string{OIDBase + ".22"}, Inherit: true}, []string{clinical}, "", nil, "deny:policy_missing",
			`Bearer error="insufficient_scope", scope="` + OIDBase + `.22"`, []string{OIDBase + ".22"}},
		{"Allison's override with an override token stands in for SUPER SECRET DISCLOSURE", RequirePolicy{OIDs: []string{superSecret}, Override: override},
			[]string{OIDOverride}, "PolicyOverride=1;PurposeOfUse=EMERG", []string{"isOverride", "true"}, "allow", "", []string{"override", "purpose:EMERG", "overridden:" + superSecret}},
		{"an override without an override token does not", RequirePolicy{OIDs: []string{superSecret}, Override: override},
			nil, "PolicyOverride=1;PurposeOfUse=EMERG", nil, "deny:override_token_required", "", nil},
		{"an override does not cover a policy not listed as overridable", RequirePolicy{OIDs: []string{clinical}, Override: override},
			[]string{OIDOverride}, "PolicyOverride=1;PurposeOfUse=EMERG", nil, "deny:policy_missing", `Bearer error="insufficient_scope", scope="` + clinical + `"`, []string{clinical}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.require.Provision(); err != nil {
				t.Fatal(err)
			}
			var hdr []string
			if tt.header != "" {
				hdr = []string{ClientClaimHeader, tt.header}
			}
			req := withToken(newRequest(http.MethodGet, "/santedb/Patient", "", hdr...), tt.scopes, tt.claims...)
			d := tt.require.Decide(context.Background(), req)
			wantDecision(t, d, tt.want)
			if d.Failure != nil && d.Failure.Challenge != tt.wantChallenge {
				t.Errorf("challenge = %q, want %q", d.Failure.Challenge, tt.wantChallenge)
			}
			if diff := cmp.Diff(tt.wantGrounds, d.Grounds); diff != "" {
				t.Errorf("grounds (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequirePolicyProvisionRefusesBadOIDs(t *testing.T) {
	for name, r := range map[string]RequirePolicy{
		"no OIDs":     {},
		"a name":      {OIDs: []string{"Login"}},
		"a bad arc":   {OIDs: []string{"1.3.01"}},
		"a bad break": {OIDs: []string{OIDBase}, Override: &BreakGlass{}},
	} {
		t.Run("refuses "+name, func(t *testing.T) {
			if err := r.Provision(); err == nil {
				t.Error("no error")
			}
		})
	}
}
