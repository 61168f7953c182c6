// Command nurse is a healthgate rule: a nurse may only read Patient
// resources of her own organisation. The gateway cannot see a patient's
// organisation in a read by id, so she searches for them:
// GET [base]/Patient?organization=<her org> (the managingOrganization
// search parameter, as a bare id or Organization/<id>).
//
// Config (all optional): role_claim (default "role"), role (default
// "NURSE"), org_claim (default "org").
//
// Not a nurse → abstain; a nurse searching Patient of her organisation →
// allow; any other request of a nurse → deny 403 with a code saying why.
package main

import (
	"strings"

	"github.com/healthgate/healthgate/wasmfilter/sdk/go/rule"
)

// The config, read once per instance.
var roleClaim, role, orgClaim string

func init() {
	rule.Configure(func() error {
		roleClaim, role = "claims."+config("role_claim", "role"), config("role", "NURSE")
		orgClaim = config("org_claim", "org")
		return nil
	})
	rule.Handle(decide)
}

func decide() rule.Decision {
	if !rule.Has(roleClaim, role) {
		return rule.Abstain
	}
	if !rule.HasAny("fhir.interaction", "read", "vread", "search-type") {
		return rule.DenyWith(403, "nurse_read_only", "a nurse may only read")
	}
	if !rule.Is("fhir.resource_type", "Patient") {
		return rule.DenyWith(403, "nurse_patient_only", "a nurse may only read Patient resources")
	}
	org := rule.Claim(orgClaim)
	if org == "" || !onlyOrganization(rule.Attrs("fhir.search.organization"), org) {
		return rule.DenyWith(403, "nurse_own_organization", "a nurse may only read patients of her own organisation")
	}
	return rule.Allow
}

// onlyOrganization reports whether the organization parameters select org
// and nothing else: every value, and every comma-separated alternative in
// it, must name org.
func onlyOrganization(values []string, org string) bool {
	if len(values) == 0 {
		return false
	}
	for _, v := range values {
		for alt := range strings.SplitSeq(v, ",") {
			if alt != org && alt != "Organization/"+org {
				return false
			}
		}
	}
	return true
}

// config returns the first value of a config key, or def.
func config(key, def string) string {
	if vs := rule.Config(key); len(vs) > 0 {
		return vs[0]
	}
	return def
}

func main() {}
