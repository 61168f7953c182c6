package audit

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/healthgate/healthgate/policy/identity"
	"github.com/healthgate/healthgate/policy/pipeline"
	"github.com/healthgate/healthgate/tests/peers/fhir"
)

var src = Source{Site: "hospital-a", Observer: "gw-1"}

// shape is the part of an AuditEvent that says which BALP pattern it follows.
type shape struct {
	Type, Action, Outcome string
	Subtype               []string
	Requestor             string
	Policy                []string
}

func shapeOf(ev AuditEvent) shape {
	s := shape{Type: ev.Type.Code, Action: ev.Action, Outcome: ev.Outcome}
	for _, c := range ev.Subtype {
		s.Subtype = append(s.Subtype, c.Code)
	}
	for _, a := range ev.Agent {
		if a.Requestor {
			if s.Requestor != "" {
				s.Requestor += "+"
			}
			if a.Who.Identifier != nil {
				s.Requestor += a.Who.Identifier.Value
			}
			s.Policy = a.Policy
		}
	}
	return s
}

func overrideRecord() Record {
	p := tokenPrincipal()
	p.Override, p.PurposeOfUse = true, []string{"ETREAT"}
	r := NewRecord(request("GET", "/fhir/Patient/123", &pipeline.Route{Name: "fhir"}, p, "oidc"),
		pipeline.Outcome{Effect: pipeline.Allow, Decisions: []pipeline.PolicyResult{
			{Policy: "grants", Decision: pipeline.Allowed("override", "purpose:ETREAT", "overridden:1.3.6.1.4.1.33349.3.1.5.9.2.1.0", "overridden:1.3.6.1.4.1.33349.3.1.5.9.2.3")}}},
		200, time.Millisecond, "rid-1")
	r.FHIR = &FHIR{Interaction: "read", Type: "Patient", ID: "123"}
	return r
}

func TestAuditEventShapes(t *testing.T) {
	route := &pipeline.Route{Name: "fhir"}
	read := NewRecord(request("GET", "/fhir/Observation?patient=123&_count=5", route, tokenPrincipal(), "oidc"),
		pipeline.Outcome{Effect: pipeline.Allow}, 200, time.Millisecond, "rid-2")
	read.FHIR = &FHIR{Interaction: "search-type", Type: "Observation", Compartment: "Patient/123"}
	tests := []struct {
		name string
		rec  Record
		want shape
	}{
		{
			name: "a token-authorized search is a RESTful operation with the jti as the user's policy",
			rec:  read,
			want: shape{Type: "rest", Action: "E", Outcome: "0", Subtype: []string{"search-type"}, Requestor: "alice",
				Policy: []string{"urn:ietf:params:oauth:jti:jti-42"}},
		},
		{
			name: "an upstream 404 is a minor failure",
			rec: NewRecord(request("GET", "/fhir/Patient/9", route, tokenPrincipal(), "oidc"),
				pipeline.Outcome{Effect: pipeline.Allow}, 404, 0, "rid-3"),
			want: shape{Type: "rest", Action: "R", Outcome: "4", Requestor: "alice", Policy: []string{"urn:ietf:params:oauth:jti:jti-42"}},
		},
		{
			name: "a refusal is a security alert with the AuthZ subtype and a serious failure",
			rec: NewRecord(request("POST", "/fhir/Patient", route, tokenPrincipal(), "oidc"),
				pipeline.Outcome{Effect: pipeline.Deny, Failure: pipeline.Forbidden("insufficient_scope", nil)}, 0, 0, "rid-4"),
			want: shape{Type: "110113", Action: "E", Outcome: "8", Subtype: []string{"AuthZ-Role"}, Requestor: "alice",
				Policy: []string{"urn:ietf:params:oauth:jti:jti-42"}},
		},
		{
			name: "an accepted break-the-glass is an Emergency Override Started alert",
			rec:  overrideRecord(),
			want: shape{Type: "110113", Action: "E", Outcome: "0", Subtype: []string{"110127"}, Requestor: "alice",
				Policy: []string{"urn:ietf:params:oauth:jti:jti-42"}},
		},
		{
			name: "a request without credentials has an anonymous requestor",
			rec: NewRecord(request("GET", "/fhir/Patient", route, identity.Principal{}),
				pipeline.Outcome{Effect: pipeline.Deny, Failure: pipeline.Unauthorized("credentials_missing", nil)}, 0, 0, "rid-5"),
			want: shape{Type: "110113", Action: "E", Outcome: "8", Subtype: []string{"AuthZ-Role"}, Requestor: ""},
		},
		{
			name: "a certificate-only device is the requestor when nothing more specific is known",
			rec: NewRecord(request("PUT", "/orthanc/instances/1", route, identity.Principal{
				Device: &identity.Facet{Kind: identity.Device, ID: "modality-3", Proof: identity.ProofMTLS}}, "client_cert"),
				pipeline.Outcome{Effect: pipeline.Allow}, 200, 0, "rid-6"),
			want: shape{Type: "rest", Action: "U", Outcome: "0", Requestor: "modality-3"},
		},
	}
	var all []AuditEvent
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := tt.rec.AuditEvent(src, "ev-"+tt.rec.RequestID)
			got := shapeOf(ev)
			if got.Requestor == "" {
				// the anonymous agent has no identifier
				for _, a := range ev.Agent {
					if a.Requestor && a.Who.Display != "anonymous" {
						t.Errorf("requestor %+v, want the anonymous agent", a)
					}
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("AuditEvent shape (-want +got):\n%s", diff)
			}
			all = append(all, ev)
		})
	}
	t.Run("every rendered AuditEvent is valid FHIR R4 for both validators", func(t *testing.T) {
		doc, err := json.Marshal(all)
		if err != nil {
			t.Fatal(err)
		}
		fhirpeer.RequireValid(t, doc)
	})
}

func TestBreakTheGlassNamesPurposeAndOverriddenPolicies(t *testing.T) {
	rec := overrideRecord()
	ev := rec.AuditEvent(src, "ev-btg")
	if diff := cmp.Diff([]CodeableConcept{{Coding: []Coding{{System: systemActReason, Code: "ETREAT"}}}}, ev.PurposeOfEvent); diff != "" {
		t.Errorf("purposeOfEvent (-want +got):\n%s", diff)
	}
	var overridden []string
	for _, e := range ev.Entity {
		if e.Name == "overridden policy" {
			overridden = append(overridden, e.What.Identifier.Value)
		}
	}
	want := []string{"urn:oid:1.3.6.1.4.1.33349.3.1.5.9.2.1.0", "urn:oid:1.3.6.1.4.1.33349.3.1.5.9.2.3"}
	if diff := cmp.Diff(want, overridden); diff != "" {
		t.Errorf("overridden policies (-want +got):\n%s", diff)
	}
}

func TestTheValidatorsRejectABrokenAuditEvent(t *testing.T) {
	// The validation above is only worth something if it can fail.
	rec := overrideRecord()
	ev := rec.AuditEvent(src, "ev-broken")
	ev.Recorded = "yesterday"
	ev.Action = "Z"
	doc, _ := json.Marshal(ev)
	rs := fhirpeer.Validate(t, doc)
	if len(rs) != 1 || rs[0].Valid {
		t.Fatalf("validators accepted a broken AuditEvent: %+v", rs)
	}
	joined := strings.Join(rs[0].Errors, "\n")
	for _, want := range []string{"schema: /recorded", "fhir.js: AuditEvent.action"} {
		if !strings.Contains(joined, want) {
			t.Errorf("errors %q lack %q", joined, want)
		}
	}
}
