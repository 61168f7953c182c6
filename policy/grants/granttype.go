package grants

import (
	"fmt"
	"strings"
)

// SanteDB policy OIDs (PermissionPolicyIdentifiers.cs, OAuthConstants.cs).
const (
	// OIDBase is "Unrestricted All"; every SanteDB permission is below it.
	OIDBase = "1.3.6.1.4.1.33349.3.1.5.9.2"
	// OIDOAuthLogin denied stops every OAuth / OpenID Connect login.
	OIDOAuthLogin = OIDBase + ".1.0.0"
	// OIDOverride is "Override Disclosure": break-the-glass. A token whose
	// scope holds it was issued for an override session.
	OIDOverride = OIDBase + ".999"
)

// Grant is an OAuth grant type as SanteDB names it in token requests.
type Grant string

// The grant types SanteDB's policies cover.
const (
	ClientCredentials Grant = "client_credentials"
	Password          Grant = "password"
	AuthorizationCode Grant = "authorization_code"
	// Challenge is SanteDB's password-reset grant (x_challenge).
	Challenge Grant = "x_challenge"
)

// grantOIDs are the per-grant policies below OIDOAuthLogin. The ".0" child
// of each ("…WithoutDevice") is demanded when no device was proven.
var grantOIDs = map[Grant]string{
	ClientCredentials: OIDOAuthLogin + ".1",
	Password:          OIDOAuthLogin + ".2",
	AuthorizationCode: OIDOAuthLogin + ".3",
	Challenge:         OIDOAuthLogin + ".4",
}

// PolicyFor returns the policy OID a token request of grant g demands. A
// grant without a policy of its own (refresh_token, extension grants)
// demands OIDOAuthLogin. Without a device the "without device" variant is
// demanded, which the grant's own policy covers by prefix.
func PolicyFor(g Grant, device bool) string {
	oid, ok := grantOIDs[g]
	if !ok {
		return OIDOAuthLogin
	}
	if !device && g != Challenge {
		return oid + ".0"
	}
	return oid
}

// ParsePolicy reads a grant type name (client_credentials, password,
// authorization_code, x_challenge, login) or a SanteDB policy OID, and
// returns the OID.
func ParsePolicy(s string) (string, error) {
	if s == "login" {
		return OIDOAuthLogin, nil
	}
	if oid, ok := grantOIDs[Grant(s)]; ok {
		return oid, nil
	}
	if validOID(s) {
		return s, nil
	}
	return "", fmt.Errorf("grants: %q is neither a grant type (login, client_credentials, password, authorization_code, x_challenge) nor a policy OID", s)
}

// validOID accepts dotted decimal: 1.3.6.1…
func validOID(s string) bool {
	if s == "" {
		return false
	}
	for _, arc := range strings.Split(s, ".") {
		if arc == "" || len(arc) > 1 && arc[0] == '0' {
			return false
		}
		for i := 0; i < len(arc); i++ {
			if arc[i] < '0' || arc[i] > '9' {
				return false
			}
		}
	}
	return strings.Contains(s, ".")
}

// covers reports whether a rule on policy covers the demanded OID: the same
// OID or an ancestor (SanteDB's hierarchy: granting …9.2.2 grants …9.2.2.1).
func covers(policy, demanded string) bool {
	return demanded == policy || strings.HasPrefix(demanded, policy+".")
}

// defaultAuthMethods maps the authmethod claim of tokens to the grant that
// issued them; SanteDB writes "Password", others the grant type itself.
var defaultAuthMethods = map[string]Grant{
	"password":           Password,
	"client_credentials": ClientCredentials,
	"clientcredentials":  ClientCredentials,
	"authorization_code": AuthorizationCode,
	"authorizationcode":  AuthorizationCode,
	"code":               AuthorizationCode,
	"x_challenge":        Challenge,
	"challenge":          Challenge,
}
