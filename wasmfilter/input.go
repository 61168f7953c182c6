package wasmfilter

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/healthgate/healthgate/policy/identity"
	"github.com/healthgate/healthgate/policy/pipeline"
)

// Input is the security context a rule decides over: only verified facts,
// and of the request only the method, host, path and the allow-listed
// headers. Its JSON form is what FuncGetInput returns and what test vectors
// hold; FuncGetAttr reads the same facts one attribute at a time (see
// AppendAttr for the keys).
type Input struct {
	// Version is the document version, 1.
	Version int          `json:"v"`
	Request RequestFacts `json:"request"`
	// Route names the route the request matched.
	Route string `json:"route,omitempty"`
	// Verified lists the verifiers whose credentials verified.
	Verified []string `json:"verified,omitempty"`
	// Principal holds the facets, claims, scopes, purpose of use, override
	// and the certificate and token facts (never the token itself).
	Principal identity.Principal `json:"principal"`
	FHIR      FHIRFacts          `json:"fhir,omitzero"`
	// UnixMilli is the request's time, read once.
	UnixMilli int64 `json:"unix_ms"`

	// json caches the encoded document for the rules of one request.
	json    []byte
	jsonErr error
	// fhirSource fills FHIR on first use: classifying the request costs
	// more than most rules.
	fhirSource func() FHIRFacts
}

// RequestFacts are the request facts a rule may see.
type RequestFacts struct {
	Method   string `json:"method"`
	Host     string `json:"host,omitempty"`
	Path     string `json:"path"`
	RemoteIP string `json:"remote_ip,omitempty"`
	// Headers holds the allow-listed headers, names lower-cased.
	Headers map[string][]string `json:"headers,omitempty"`
}

// FHIRFacts describe a FHIR REST request. They are empty for other requests.
type FHIRFacts struct {
	ResourceType string `json:"resource_type,omitempty"`
	ID           string `json:"id,omitempty"`
	Interaction  string `json:"interaction,omitempty"`
	// Compartment maps a compartment type to its id, for searches such as
	// GET [base]/Patient/123/Observation.
	Compartment map[string]string `json:"compartment,omitempty"`
	// Search holds a search's selecting parameters (not _count, _sort…),
	// such as organization for GET [base]/Patient?organization=org-42.
	Search map[string][]string `json:"search,omitempty"`
}

// neverInContext are headers no configuration may hand to a rule: they carry
// credentials, and rules see verified facts instead.
var neverInContext = []string{"authorization", "proxy-authorization", "cookie", "set-cookie"}

// CheckContextHeader reports an error if name may not be handed to rules.
func CheckContextHeader(name string) error {
	l := strings.ToLower(name)
	for _, n := range neverInContext {
		if l == n {
			return fmt.Errorf("wasmfilter: header %q carries credentials and is never given to rules", name)
		}
	}
	if !httpguts.ValidHeaderFieldName(name) {
		return fmt.Errorf("wasmfilter: invalid header name %q", name)
	}
	return nil
}

// NewInput builds the context of req. headers are the lower-cased names of
// the allow-listed headers; fhir, if not nil, describes the FHIR request
// when a rule first asks.
func NewInput(req *pipeline.Request, headers []string, fhir func(*pipeline.Request) FHIRFacts) *Input {
	in := &Input{
		Version:   1,
		Verified:  req.Verified,
		Principal: req.Principal,
		UnixMilli: req.Now.UnixMilli(),
	}
	if fhir != nil {
		in.fhirSource = func() FHIRFacts { return fhir(req) }
	}
	if req.Route != nil {
		in.Route = req.Route.Name
	}
	if r := req.HTTP; r != nil {
		in.Request = RequestFacts{Method: r.Method, Host: r.Host, Path: r.URL.Path, RemoteIP: req.ClientIP}
		for _, h := range headers {
			if vs := r.Header.Values(h); len(vs) > 0 {
				if in.Request.Headers == nil {
					in.Request.Headers = make(map[string][]string, len(headers))
				}
				in.Request.Headers[h] = vs
			}
		}
	}
	return in
}

// Time returns the request's time.
func (in *Input) Time() time.Time { return time.UnixMilli(in.UnixMilli) }

// AppendAttr appends the values of the attribute key to dst, each followed
// by a NUL byte, and returns the count (0: absent). Keys:
//
//	request.method request.host request.path request.remote_ip
//	request.header.<lower-case name>   route   verified   time.unix_ms
//	principal.id   principal.anonymous ("true"/"false")
//	device.|application.|user. id name proof source
//	claims.<name>   scopes   purpose_of_use   override ("true"/"false")
//	cert.present cert.sha256 cert.sha1 cert.subject cert.issuer cert.serial
//	cert.not_after (RFC 3339) cert.dns_names cert.uris cert.emails cert.forwarded
//	token.iss token.sub token.client_id token.authmethod
//	fhir.resource_type fhir.id fhir.interaction fhir.compartment.<Type>
//	fhir.search.<parameter>
func (in *Input) AppendAttr(dst []byte, key string) ([]byte, int) {
	one := func(v string) ([]byte, int) {
		if v == "" {
			return dst, 0
		}
		return append(append(dst, v...), 0), 1
	}
	many := func(vs []string) ([]byte, int) { return appendValues(dst, vs) }
	boolean := func(b bool) ([]byte, int) { return one(strconv.FormatBool(b)) }
	p := &in.Principal

	if group, name, ok := strings.Cut(key, "."); ok {
		switch group {
		case "claims":
			return many(p.Claims[name])
		case "request":
			if h, ok := strings.CutPrefix(name, "header."); ok {
				return many(in.Request.Headers[h])
			}
			switch name {
			case "method":
				return one(in.Request.Method)
			case "host":
				return one(in.Request.Host)
			case "path":
				return one(in.Request.Path)
			case "remote_ip":
				return one(in.Request.RemoteIP)
			}
		case "device", "application", "user":
			f := p.Facet(identity.Kind(group))
			if f == nil {
				return dst, 0
			}
			switch name {
			case "id":
				return one(f.ID)
			case "name":
				return one(f.Name)
			case "proof":
				return one(string(f.Proof))
			case "source":
				return one(f.Source)
			}
		case "principal":
			switch name {
			case "id":
				return one(p.ID())
			case "anonymous":
				return boolean(p.Anonymous())
			}
		case "cert":
			c := p.Certificate
			if name == "present" {
				return boolean(c != nil)
			}
			if c == nil {
				return dst, 0
			}
			switch name {
			case "sha256":
				return one(c.SHA256)
			case "sha1":
				return one(c.SHA1)
			case "subject":
				return one(c.Subject)
			case "issuer":
				return one(c.Issuer)
			case "serial":
				return one(c.Serial)
			case "not_after":
				if c.NotAfter.IsZero() {
					return dst, 0
				}
				return one(c.NotAfter.UTC().Format(time.RFC3339))
			case "dns_names":
				return many(c.DNSNames)
			case "uris":
				return many(c.URIs)
			case "emails":
				return many(c.Emails)
			case "forwarded":
				return boolean(c.Forwarded)
			}
		case "token":
			t := p.Token
			if t == nil {
				return dst, 0
			}
			switch name {
			case "iss":
				return one(t.Issuer)
			case "sub":
				return one(t.Subject)
			case "client_id":
				return one(t.ClientID)
			case "authmethod":
				return one(t.AuthMethod)
			}
		case "fhir":
			in.resolveFHIR()
			if typ, ok := strings.CutPrefix(name, "compartment."); ok {
				return one(in.FHIR.Compartment[typ])
			}
			if param, ok := strings.CutPrefix(name, "search."); ok {
				return many(in.FHIR.Search[param])
			}
			switch name {
			case "resource_type":
				return one(in.FHIR.ResourceType)
			case "id":
				return one(in.FHIR.ID)
			case "interaction":
				return one(in.FHIR.Interaction)
			}
		case "time":
			if name == "unix_ms" {
				return one(strconv.FormatInt(in.UnixMilli, 10))
			}
		}
		return dst, 0
	}
	switch key {
	case "route":
		return one(in.Route)
	case "verified":
		return many(in.Verified)
	case "scopes":
		return many(p.Scopes)
	case "purpose_of_use":
		return many(p.PurposeOfUse)
	case "override":
		return boolean(p.Override)
	}
	return dst, 0
}

// jsonLimited returns the JSON form of in, encoded once, or an error if it
// exceeds max bytes.
func (in *Input) jsonLimited(max int) ([]byte, error) {
	if in.json == nil && in.jsonErr == nil {
		in.resolveFHIR()
		in.json, in.jsonErr = json.Marshal(in)
		if in.jsonErr != nil {
			in.jsonErr = fmt.Errorf("wasmfilter: encoding the security context: %w", in.jsonErr)
		}
	}
	if in.jsonErr != nil {
		return nil, in.jsonErr
	}
	if len(in.json) > max {
		return nil, fmt.Errorf("wasmfilter: security context is %d bytes, over the %d-byte limit: %w", len(in.json), max, ErrInputTooLarge)
	}
	return in.json, nil
}

// resolveFHIR fills FHIR from its source, once.
func (in *Input) resolveFHIR() {
	if in.fhirSource != nil {
		in.FHIR, in.fhirSource = in.fhirSource(), nil
	}
}

// Changed drops the cached JSON after the Principal changed (a rule's claim
// obligations).
func (in *Input) Changed() { in.json, in.jsonErr = nil, nil }
