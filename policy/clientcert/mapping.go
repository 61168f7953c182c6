package clientcert

import (
	"crypto/x509"
	"fmt"

	"github.com/healthgate/healthgate/policy/identity"
)

// Field is what a mapping rule looks at.
type Field string

// The mapping fields.
const (
	FieldSHA1      Field = "sha1"       // SHA-1 thumbprint (SanteDB's FindByThumbprint)
	FieldSHA256    Field = "sha256"     // SHA-256 thumbprint
	FieldSubject   Field = "subject"    // subject DN as Go prints it: "CN=tab-7,OU=Ward,O=Hospital"
	FieldSubjectCN Field = "subject_cn" // subject common name
	FieldSANDNS    Field = "san_dns"    // each DNS SAN, case-insensitive
	FieldSANURI    Field = "san_uri"    // each URI SAN
	FieldSANEmail  Field = "san_email"  // each email SAN, case-insensitive
)

// Rule maps certificates to a facet. Its text form, shared by the Caddyfile
// `map` directive and mapping files, is
//
//	<field> <pattern> <kind> <id> [issuer <pattern>]
//
// e.g. `sha1 59EC967D51DA999AB4EE0E082C12ED288DD05FAB device ward-tablet-7`
// or `san_uri spiffe://hospital/app/* application {1} issuer "Hospital Apps CA"`.
// Thumbprints are exact (any case, colons allowed); other patterns are
// globs whose '*' captures for the id template. The issuer pattern is a glob
// over the issuer DN or its common name.
type Rule struct {
	Field   Field
	Pattern string
	Kind    identity.Kind
	ID      string
	Issuer  string

	pattern glob
	issuer  glob
	id      template
}

// ParseRule reads a rule from its words.
func ParseRule(words []string) (Rule, error) {
	if len(words) != 4 && len(words) != 6 {
		return Rule{}, fmt.Errorf("clientcert: mapping rule needs <field> <pattern> <kind> <id> [issuer <pattern>], got %d words", len(words))
	}
	r := Rule{Field: Field(words[0]), Pattern: words[1], ID: words[3]}
	var err error
	if r.Kind, err = identity.ParseKind(words[2]); err != nil {
		return Rule{}, fmt.Errorf("clientcert: mapping rule: %w", err)
	}
	if len(words) == 6 {
		if words[4] != "issuer" {
			return Rule{}, fmt.Errorf("clientcert: mapping rule: expected \"issuer\", got %q", words[4])
		}
		r.Issuer = words[5]
	}
	if err := r.compile(); err != nil {
		return Rule{}, err
	}
	return r, nil
}

func (r *Rule) compile() error {
	captures := 0
	switch r.Field {
	case FieldSHA1, FieldSHA256:
		p, err := NormalizeThumbprint(string(r.Field), r.Pattern)
		if err != nil {
			return err
		}
		if r.Issuer != "" {
			return fmt.Errorf("clientcert: a %s rule names one certificate; an issuer constraint adds nothing", r.Field)
		}
		r.Pattern = p
	case FieldSubject, FieldSubjectCN, FieldSANDNS, FieldSANURI, FieldSANEmail:
		g, err := compileGlob(r.Pattern, r.Field == FieldSANDNS || r.Field == FieldSANEmail)
		if err != nil {
			return fmt.Errorf("clientcert: mapping rule %s: %w", r.Field, err)
		}
		r.pattern, captures = g, g.captures
	default:
		return fmt.Errorf("clientcert: unknown mapping field %q (want sha1, sha256, subject, subject_cn, san_dns, san_uri or san_email)", r.Field)
	}
	if r.Issuer != "" {
		g, err := compileGlob(r.Issuer, false)
		if err != nil {
			return fmt.Errorf("clientcert: mapping rule issuer: %w", err)
		}
		r.issuer = g
	}
	t, err := compileTemplate(r.ID, captures)
	if err != nil {
		return fmt.Errorf("clientcert: mapping rule %s %s: %w", r.Field, r.Pattern, err)
	}
	r.id = t
	return nil
}

// certView is a certificate with its thumbprints computed once.
type certView struct {
	cert         *x509.Certificate
	sha1, sha256 string
}

func newCertView(cert *x509.Certificate) *certView {
	return &certView{cert: cert, sha1: sha1Hex(cert.Raw), sha256: sha256Hex(cert.Raw)}
}

// match returns the id when the rule matches.
func (r *Rule) match(v *certView) (string, bool) {
	if r.Issuer != "" {
		if _, ok := r.issuer.match(v.cert.Issuer.String()); !ok {
			if _, ok := r.issuer.match(v.cert.Issuer.CommonName); !ok {
				return "", false
			}
		}
	}
	var candidates []string
	switch r.Field {
	case FieldSubject:
		candidates = []string{v.cert.Subject.String()}
	case FieldSubjectCN:
		candidates = []string{v.cert.Subject.CommonName}
	case FieldSANDNS:
		candidates = v.cert.DNSNames
	case FieldSANEmail:
		candidates = v.cert.EmailAddresses
	case FieldSANURI:
		for _, u := range v.cert.URIs {
			if caps, ok := r.pattern.match(u.String()); ok {
				if id, ok := r.id.expand(caps, v); ok {
					return id, true
				}
			}
		}
		return "", false
	}
	for _, c := range candidates {
		if caps, ok := r.pattern.match(c); ok {
			if id, ok := r.id.expand(caps, v); ok {
				return id, true
			}
		}
	}
	return "", false
}

// Mapper maps certificates to facets: thumbprint rules first (a map
// lookup, for mapping files of thousands of devices), then the other rules
// in order; the first match wins.
type Mapper struct {
	sha1, sha256 map[string]*Rule
	rules        []*Rule
}

// NewMapper returns an empty Mapper.
func NewMapper() *Mapper {
	return &Mapper{sha1: map[string]*Rule{}, sha256: map[string]*Rule{}}
}

// Add appends a rule. A thumbprint given twice is an error, so a mapping
// file cannot silently re-map a device.
func (m *Mapper) Add(r Rule) error {
	switch r.Field {
	case FieldSHA1, FieldSHA256:
		tbl := m.sha1
		if r.Field == FieldSHA256 {
			tbl = m.sha256
		}
		if _, dup := tbl[r.Pattern]; dup {
			return fmt.Errorf("clientcert: %s thumbprint %s mapped twice", r.Field, r.Pattern)
		}
		tbl[r.Pattern] = &r
	default:
		m.rules = append(m.rules, &r)
	}
	return nil
}

// Len returns the number of rules.
func (m *Mapper) Len() int { return len(m.sha1) + len(m.sha256) + len(m.rules) }

// Map returns the facet kind and id for a certificate, or ok=false.
func (m *Mapper) Map(cert *x509.Certificate) (identity.Kind, string, bool) {
	return m.mapView(newCertView(cert))
}

func (m *Mapper) mapView(v *certView) (identity.Kind, string, bool) {
	for _, r := range []*Rule{m.sha256[v.sha256], m.sha1[v.sha1]} {
		if r != nil {
			if id, ok := r.id.expand(nil, v); ok {
				return r.Kind, id, true
			}
		}
	}
	for _, r := range m.rules {
		if id, ok := r.match(v); ok {
			return r.Kind, id, true
		}
	}
	return "", "", false
}
