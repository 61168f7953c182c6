package grants

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ClientClaimHeader carries claims a client makes about its session.
const ClientClaimHeader = "X-SanteDBClient-Claim"

// Claim types of X-SanteDBClient-Claim: the URNs current SanteDB reads and
// the short names of the documented form.
const (
	ClaimOverride     = "urn:santedb:org:claim:override"
	ClaimPurposeOfUse = "urn:oasis:names:tc:xacml:2.0:action:purpose"
	ClaimFacility     = "urn:oasis:names:tc:xspa:1.0:subject:facility"
	ClaimTemporary    = "urn:santedb:org:claim:temporary"
)

// shortClaims maps the documented short names (case-insensitive) to the
// URN or name the rest of the package uses.
var shortClaims = map[string]string{
	"policyoverride":        ClaimOverride,
	"purposeofuse":          ClaimPurposeOfUse,
	"resourceid":            "ResourceId",
	"subjectrole":           "SubjectRole",
	"subjectorganizationid": "SubjectOrganizationID",
	"language":              "Language",
}

// Limits of the client-claim parser.
const (
	maxClientClaimBytes = 4096
	maxClientClaims     = 32
)

// ClientClaims is a parsed X-SanteDBClient-Claim header.
type ClientClaims struct {
	// Override is the requested override; OverrideSet says whether the
	// header said anything about it.
	Override, OverrideSet bool
	// PurposeOfUse lists the purposes of use, in order.
	PurposeOfUse []string
	// Facility is the subject facility, if given.
	Facility string
	// Temporary asks for a one-time (short) session.
	Temporary bool
	// Other holds the remaining claims by type (URN or short name).
	Other map[string][]string
}

// ParseClientClaims reads X-SanteDBClient-Claim in either form: base64 of
// "type=value;type=value" (what SanteDB reads), or the same list unencoded
// (the documented PolicyOverride=1;PurposeOfUse=EMERG). Every pair must have
// a type and exactly one '=', since SanteDB splits on both and would read a
// value holding one differently; booleans must be true/false/1/0.
func ParseClientClaims(header string) (ClientClaims, error) {
	if len(header) > maxClientClaimBytes {
		return ClientClaims{}, fmt.Errorf("grants: client claim header is %d bytes, more than %d", len(header), maxClientClaimBytes)
	}
	v := strings.TrimSpace(header)
	if v == "" {
		return ClientClaims{}, errors.New("grants: client claim header is empty")
	}
	if dec, err := base64.StdEncoding.DecodeString(v); err == nil && utf8.Valid(dec) && strings.Contains(string(dec), "=") {
		// The decoded list is read like the short form: outer space is not a claim.
		v = strings.TrimSpace(string(dec))
	}
	if !utf8.ValidString(v) {
		return ClientClaims{}, errors.New("grants: client claims are not UTF-8")
	}
	var cc ClientClaims
	pairs := strings.Split(strings.TrimSuffix(v, ";"), ";")
	if len(pairs) > maxClientClaims {
		return ClientClaims{}, fmt.Errorf("grants: %d client claims, more than %d", len(pairs), maxClientClaims)
	}
	for i, pair := range pairs {
		typ, value, ok := strings.Cut(pair, "=")
		typ, value = strings.TrimSpace(typ), strings.TrimSpace(value)
		switch {
		case !ok:
			return ClientClaims{}, fmt.Errorf("grants: client claim %d has no '='", i)
		case typ == "":
			return ClientClaims{}, fmt.Errorf("grants: client claim %d has no type", i)
		case strings.Contains(value, "="):
			return ClientClaims{}, fmt.Errorf("grants: client claim %d has more than one '='", i)
		case strings.ContainsFunc(pair, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			return ClientClaims{}, fmt.Errorf("grants: client claim %d holds control characters", i)
		}
		if long, ok := shortClaims[strings.ToLower(typ)]; ok {
			typ = long
		}
		switch typ {
		case ClaimOverride, ClaimTemporary:
			b, ok := parseBool(value)
			if !ok {
				return ClientClaims{}, fmt.Errorf("grants: client claim %d (%s) is not a boolean", i, typ)
			}
			if typ == ClaimTemporary {
				cc.Temporary = b
				continue
			}
			if cc.OverrideSet && cc.Override != b {
				return ClientClaims{}, errors.New("grants: client claims both ask and refuse an override")
			}
			cc.Override, cc.OverrideSet = b, true
		case ClaimPurposeOfUse:
			if value == "" {
				return ClientClaims{}, fmt.Errorf("grants: client claim %d has an empty purpose of use", i)
			}
			cc.PurposeOfUse = append(cc.PurposeOfUse, value)
		case ClaimFacility:
			cc.Facility = value
		default:
			if cc.Other == nil {
				cc.Other = make(map[string][]string)
			}
			cc.Other[typ] = append(cc.Other[typ], value)
		}
	}
	return cc, nil
}
