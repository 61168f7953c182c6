package grants

import (
	"fmt"
	"strings"

	"github.com/healthgate/healthgate/policy/identity"
)

// Effect is what a rule does to a policy for its subject.
type Effect uint8

// Deny and Grant, as SanteDB's PolicyGrantType (Elevate is break-the-glass,
// handled by BreakGlass).
const (
	EffectGrant Effect = iota + 1
	EffectDeny
)

func (e Effect) String() string {
	if e == EffectDeny {
		return "deny"
	}
	return "grant"
}

// SubjectKind is what a rule attaches to: as in SanteDB, a device, an
// application or a security role (users get policies through roles).
type SubjectKind string

// The subject kinds.
const (
	SubjectDevice      SubjectKind = "device"
	SubjectApplication SubjectKind = "application"
	SubjectRole        SubjectKind = "role"
)

// ParseSubjectKind reads device, application or role.
func ParseSubjectKind(s string) (SubjectKind, error) {
	switch k := SubjectKind(s); k {
	case SubjectDevice, SubjectApplication, SubjectRole:
		return k, nil
	}
	return "", fmt.Errorf("grants: unknown subject %q (want device, application or role)", s)
}

// Subject is one device, application or role a request acts as.
type Subject struct {
	Kind SubjectKind
	ID   string
}

func (s Subject) String() string { return string(s.Kind) + ":" + s.ID }

// key folds names: SanteDB looks up roles, applications and devices
// case-insensitively, so at the token endpoint, where client_id is the
// client's word, a denied application must not pass as READER-APP.
func (s Subject) key() Subject {
	s.ID = strings.ToLower(s.ID)
	return s
}

// Rule grants or denies one policy to subjects.
type Rule struct {
	Effect Effect
	// Policy is the policy OID (see ParsePolicy for grant-type names).
	Policy   string
	Subjects []Subject
}

// Rules is a compiled set of rules.
type Rules struct {
	bySubject map[Subject]map[string]Effect
}

// NewRules compiles rules. The same policy both granted and denied to one
// subject is a configuration error.
func NewRules(rules []Rule) (*Rules, error) {
	rs := &Rules{bySubject: make(map[Subject]map[string]Effect)}
	for _, r := range rules {
		if !validOID(r.Policy) {
			return nil, fmt.Errorf("grants: rule policy %q is not an OID", r.Policy)
		}
		for _, s := range r.Subjects {
			if s.ID == "" {
				return nil, fmt.Errorf("grants: rule on %s has an empty %s", r.Policy, s.Kind)
			}
			k := s.key()
			m := rs.bySubject[k]
			if m == nil {
				m = make(map[string]Effect)
				rs.bySubject[k] = m
			}
			if have, ok := m[r.Policy]; ok && have != r.Effect {
				return nil, fmt.Errorf("grants: policy %s is both granted and denied to %s", r.Policy, s)
			}
			m[r.Policy] = r.Effect
		}
	}
	return rs, nil
}

// Denial names the rule that denied a demanded policy.
type Denial struct {
	Subject Subject
	// Policy is the rule's policy: the demanded one or an ancestor.
	Policy string
}

// Check returns the denial of demanded for any of subjects, or nil. Per
// subject the rule on the longest covering OID decides (SanteDB's
// hierarchy); across subjects the most restrictive wins, so one denying
// device, application or role is enough. No rule is no objection: the
// identity provider keeps its own default.
func (rs *Rules) Check(subjects []Subject, demanded string) *Denial {
	if rs == nil {
		return nil
	}
	for _, s := range subjects {
		best, eff := "", Effect(0)
		for policy, e := range rs.bySubject[s.key()] {
			if covers(policy, demanded) && len(policy) > len(best) {
				best, eff = policy, e
			}
		}
		if eff == EffectDeny {
			return &Denial{Subject: s, Policy: best}
		}
	}
	return nil
}

// subjectsOf lists the device, application and roles of a principal. A
// device or application counts when a verifier proved it or the verified
// token names it (SanteDB's devid and appid claims).
func subjectsOf(p *identity.Principal, c *ClaimNames) []Subject {
	var out []Subject
	if id := deviceOf(p, c); id != "" {
		out = append(out, Subject{SubjectDevice, id})
	}
	if id := applicationOf(p, c); id != "" {
		out = append(out, Subject{SubjectApplication, id})
	}
	for _, r := range claimValues(p, c.Role) {
		out = append(out, Subject{SubjectRole, r})
	}
	return out
}

func deviceOf(p *identity.Principal, c *ClaimNames) string {
	if p.Device != nil {
		return p.Device.ID
	}
	return firstClaim(p, c.Device)
}

func applicationOf(p *identity.Principal, c *ClaimNames) string {
	if p.Application != nil {
		return p.Application.ID
	}
	if v := firstClaim(p, c.Application); v != "" {
		return v
	}
	if p.Token != nil {
		return p.Token.ClientID
	}
	return ""
}
