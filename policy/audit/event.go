package audit

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"
)

// Code systems of the AuditEvent codes used here.
const (
	systemDCM          = "http://dicom.nema.org/resources/ontology/DCM"
	systemEventType    = "http://terminology.hl7.org/CodeSystem/audit-event-type"
	systemInteraction  = "http://hl7.org/fhir/restful-interaction"
	systemParticipant  = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
	systemSecurityRole = "http://terminology.hl7.org/CodeSystem/extra-security-role-type"
	systemSourceType   = "http://terminology.hl7.org/CodeSystem/security-source-type"
	systemEntityType   = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
	systemObjectRole   = "http://terminology.hl7.org/CodeSystem/object-role"
	systemActReason    = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
	systemAuthZSubtype = "https://profiles.ihe.net/ITI/BALP/CodeSystem/AuthZsubType"
	systemUserAgent    = "https://profiles.ihe.net/ITI/BALP/CodeSystem/UserAgentTypes"

	// jtiPrefix is how BALP records a token id (RFC 3553 URN).
	jtiPrefix = "urn:ietf:params:oauth:jti:"
)

var (
	codeRest           = Coding{System: systemEventType, Code: "rest", Display: "Restful Operation"}
	codeSecurityAlert  = Coding{System: systemDCM, Code: "110113", Display: "Security Alert"}
	codeOverride       = Coding{System: systemDCM, Code: "110127", Display: "Emergency Override Started"}
	codeAuthZRole      = Coding{System: systemAuthZSubtype, Code: "AuthZ-Role", Display: "Authorization Decision using only Roles"}
	codeApplication    = Coding{System: systemDCM, Code: "110150", Display: "Application"}
	codeSourceRole     = Coding{System: systemDCM, Code: "110153", Display: "Source Role ID"}
	codeDestination    = Coding{System: systemDCM, Code: "110152", Display: "Destination Role ID"}
	codeRecipient      = Coding{System: systemParticipant, Code: "IRCP", Display: "information recipient"}
	codeAuthServer     = Coding{System: systemSecurityRole, Code: "authserver", Display: "authorization server"}
	codeSecurityServer = Coding{System: systemSourceType, Code: "6", Display: "Security Server"}
	codePerson         = Coding{System: systemEntityType, Code: "1", Display: "Person"}
	codeSystemObject   = Coding{System: systemEntityType, Code: "2", Display: "System Object"}
	codePatient        = Coding{System: systemObjectRole, Code: "1", Display: "Patient"}
	codeDomainResource = Coding{System: systemObjectRole, Code: "4", Display: "Domain Resource"}
	codeSecurityRes    = Coding{System: systemObjectRole, Code: "13", Display: "Security Resource"}
	codeQuery          = Coding{System: systemObjectRole, Code: "24", Display: "Query"}
	codeOAuthToken     = Coding{System: systemUserAgent, Code: "UserOauthAgent", Display: "OAuth Token"}
	codeEmergencyTreat = Coding{System: systemActReason, Code: "ETREAT", Display: "Emergency Treatment"}
)

// Source names the gateway in the AuditEvents it records.
type Source struct {
	// Site is the logical site or enterprise ("hospital-a").
	Site string
	// Observer is this gateway instance's name. Default: the host name.
	Observer string
}

// AuditEvent renders the record as a FHIR R4 AuditEvent with the given id,
// in the shape of IHE BALP (profiles.ihe.net/ITI/BALP):
//
//   - an accepted break-the-glass: DCM 110113 Security Alert, subtype DCM
//     110127 Emergency Override Started, purposeOfEvent, one entity per
//     overridden policy;
//   - a refusal: DCM 110113 Security Alert, subtype BALP AuthZ-Role
//     (AuthZconsent-style), outcome 8 and the reason as outcomeDesc;
//   - any other pass: a RESTful operation (OAUTHaccessTokenUse when a token
//     authorized it: client agent with client_id and network, user agent
//     with issuer, subject, jti as policy, purposeOfUse).
func (r *Record) AuditEvent(src Source, id string) AuditEvent {
	ev := AuditEvent{
		ResourceType: "AuditEvent",
		ID:           id,
		Recorded:     r.Time.UTC().Format(time.RFC3339Nano),
		Source: EventSource{
			Site:     src.Site,
			Observer: Reference{Display: src.Observer},
			Type:     []Coding{codeSecurityServer},
		},
	}
	gateway := Agent{Type: concept(codeDestination), Who: &Reference{Display: src.Observer}}
	switch {
	case r.Override:
		ev.Type, ev.Subtype, ev.Action, ev.Outcome = codeSecurityAlert, []Coding{codeOverride}, "E", "0"
		ev.PurposeOfEvent = purposes(r.PurposeOfUse)
		if len(ev.PurposeOfEvent) == 0 {
			// A break-the-glass is an emergency whatever the token said.
			ev.PurposeOfEvent = []CodeableConcept{{Coding: []Coding{codeEmergencyTreat}}}
		}
		gateway.Type = concept(codeAuthServer)
	case r.Decision == DecisionDeny || r.Decision == DecisionError:
		ev.Type, ev.Subtype, ev.Action, ev.Outcome = codeSecurityAlert, []Coding{codeAuthZRole}, "E", "8"
		ev.OutcomeDesc = r.Reason
		gateway.Type = concept(codeAuthServer)
	default:
		ev.Type, ev.Action, ev.Outcome = codeRest, r.action(), outcome(r.Status)
		if r.FHIR != nil && r.FHIR.Interaction != "" {
			ev.Subtype = []Coding{{System: systemInteraction, Code: r.FHIR.Interaction}}
		}
		if r.Status >= http.StatusBadRequest {
			ev.OutcomeDesc = "upstream status " + strconv.Itoa(r.Status)
		}
	}
	ev.Agent = append(r.agents(), gateway)
	ev.Entity = r.entities()
	return ev
}

// agents lists the client, device and user, exactly one of them (the most
// specific) the requestor.
func (r *Record) agents() []Agent {
	network := &Network{Address: r.ClientIP, Type: "2"}
	if r.ClientIP == "" {
		network = nil
	}
	var as []Agent
	clientID := ""
	if r.Application != nil {
		clientID = r.Application.ID
	} else if r.Token != nil {
		clientID = r.Token.ClientID
	}
	if clientID != "" {
		as = append(as, Agent{Type: concept(codeApplication), Who: &Reference{Identifier: &Identifier{Value: clientID}}, Network: network})
	}
	if d := r.Device; d != nil {
		as = append(as, Agent{Type: concept(codeSourceRole), Who: &Reference{Identifier: &Identifier{Value: d.ID}}, Name: d.Name, Network: network})
	}
	if u := r.User; u != nil {
		a := Agent{Type: concept(codeRecipient), Who: &Reference{Identifier: &Identifier{Value: u.ID}}, Name: u.Name,
			PurposeOfUse: purposes(r.PurposeOfUse)}
		if t := r.Token; t != nil && (u.ID == t.Subject || t.Subject == "") {
			a.Who.Identifier.System = uriOrEmpty(t.Issuer)
		}
		if r.Token != nil && r.Token.ID != "" {
			a.Policy = []string{jtiPrefix + url.PathEscape(r.Token.ID)}
		}
		as = append(as, a)
	}
	if len(as) == 0 {
		as = append(as, Agent{Who: &Reference{Display: "anonymous"}, Network: network})
	}
	as[len(as)-1].Requestor = true
	return as
}

// entities lists the resource, the compartment, the query, the token, the
// overridden policies and the gateway's decision.
func (r *Record) entities() []Entity {
	var es []Entity
	if f := r.FHIR; f != nil && f.Type != "" && f.Type != "*" {
		e := Entity{What: &Reference{Type: f.Type}, Type: ptr(codeSystemObject), Role: ptr(codeDomainResource)}
		if f.ID != "" {
			e.What = &Reference{Reference: f.Type + "/" + f.ID}
		}
		if f.Type == "Patient" {
			e.Type, e.Role = ptr(codePerson), ptr(codePatient)
		}
		es = append(es, e)
	}
	if f := r.FHIR; f != nil && f.Compartment != "" {
		es = append(es, Entity{What: &Reference{Reference: f.Compartment}, Type: ptr(codePerson), Role: ptr(codePatient)})
	}
	if r.Query != "" {
		es = append(es, Entity{Type: ptr(codeSystemObject), Role: ptr(codeQuery), Query: []byte(r.Query)})
	}
	if r.Token != nil && r.Token.ID != "" {
		es = append(es, Entity{Type: ptr(codeOAuthToken),
			What: &Reference{Identifier: &Identifier{Value: jtiPrefix + url.PathEscape(r.Token.ID)}}})
	}
	if r.Override {
		for _, g := range r.Overridden {
			es = append(es, Entity{Type: ptr(codeSystemObject), Role: ptr(codeSecurityRes), Name: "overridden policy",
				What: &Reference{Identifier: &Identifier{Value: policyURI(g)}}})
		}
	}
	return append(es, r.decisionEntity())
}

// decisionEntity carries what the gateway decided and why, for a reader of
// the AuditEvent who never sees the log record.
func (r *Record) decisionEntity() Entity {
	e := Entity{Type: ptr(codeSystemObject), Role: ptr(codeSecurityRes), Name: "healthgate decision",
		Description: r.Method + " " + r.Path}
	if r.RequestID != "" {
		e.What = &Reference{Identifier: &Identifier{Value: r.RequestID}}
	}
	add := func(k, v string) {
		if v != "" {
			e.Detail = append(e.Detail, Detail{Type: k, ValueString: v})
		}
	}
	add("decision", string(r.Decision))
	add("reason", r.Reason)
	add("route", r.Route)
	if r.Certificate != nil {
		add("certificate-sha256", r.Certificate.SHA256)
	}
	add("cws-key-user", r.CWSKeyUser)
	for _, p := range r.Policies {
		v := p.Effect
		for _, g := range p.Grounds {
			v += " " + g
		}
		add("policy:"+p.Policy, v)
	}
	return e
}

// action maps the interaction, else the HTTP method, to C, R, U, D or E.
func (r *Record) action() string {
	if r.FHIR != nil {
		switch r.FHIR.Interaction {
		case "create":
			return "C"
		case "read", "vread", "history-instance", "history-type", "history-system", "capabilities":
			return "R"
		case "update", "patch":
			return "U"
		case "delete":
			return "D"
		case "":
		default:
			return "E"
		}
	}
	switch r.Method {
	case http.MethodPost:
		return "C"
	case http.MethodGet, http.MethodHead:
		return "R"
	case http.MethodPut, http.MethodPatch:
		return "U"
	case http.MethodDelete:
		return "D"
	}
	return "E"
}

// outcome maps the status the client got to audit-event-outcome, as FHIR
// equates them: 4 minor failure ≈ 4xx, 8 serious failure ≈ 5xx.
func outcome(status int) string {
	switch {
	case status >= 500:
		return "8"
	case status >= 400:
		return "4"
	}
	return "0"
}

var (
	actReason = regexp.MustCompile(`^[A-Z]{2,20}$`)
	oid       = regexp.MustCompile(`^[0-2](\.(0|[1-9][0-9]*))+$`)
	uriLike   = regexp.MustCompile(`^\S+$`)
)

// purposes renders purpose-of-use codes: v3 ActReason mnemonics (TREAT,
// ETREAT…) as codings, anything else (a SanteDB concept) as text.
func purposes(ps []string) []CodeableConcept {
	var cs []CodeableConcept
	for _, p := range ps {
		if actReason.MatchString(p) {
			cs = append(cs, CodeableConcept{Coding: []Coding{{System: systemActReason, Code: p}}})
		} else if p != "" {
			cs = append(cs, CodeableConcept{Text: p})
		}
	}
	return cs
}

// policyURI renders a policy OID as urn:oid, and keeps anything else (a SMART
// scope) as it is.
func policyURI(g string) string {
	if oid.MatchString(g) {
		return "urn:oid:" + g
	}
	return g
}

func uriOrEmpty(s string) string {
	if uriLike.MatchString(s) {
		return s
	}
	return ""
}

func concept(c Coding) *CodeableConcept { return &CodeableConcept{Coding: []Coding{c}} }

func ptr[T any](v T) *T { return &v }
