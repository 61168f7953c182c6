package grants

// Stable reason codes of this package's failures. They are documented in
// docs/grants.md and appear in audit records and logs; never change one.
const (
	// Token endpoint.
	ReasonGrantDenied           = "grant_denied"            // a grant-type policy is denied (400 unauthorized_client at the token endpoint, 403 elsewhere)
	ReasonDeviceRequired        = "device_required"         // client_credentials without a verified device
	ReasonTokenRequestMalformed = "token_request_malformed" // not a form, repeated or missing grant_type
	ReasonBodyTooLarge          = "body_too_large"          // request body over the configured limit (413)

	// Device credentials.
	ReasonDeviceMalformed = "device_credentials_malformed" // X-Device-Authorization not BASIC base64(id:secret)
	ReasonDeviceInvalid   = "device_credentials_invalid"   // unknown device or wrong secret

	// Policy OIDs and SMART scopes.
	ReasonPolicyMissing         = "policy_missing"                // a required policy OID is not in the token's scope
	ReasonScopeMissing          = "scope_missing"                 // no SMART scope covers the type and interaction
	ReasonIncludeNotAllowed     = "include_not_allowed"           // _include/_revinclude of a type the scopes do not allow
	ReasonPatientContextMissing = "patient_context_missing"       // patient/ scope without a patient claim
	ReasonCompartmentEscape     = "compartment_escape"            // another patient's id or compartment
	ReasonSearchNotNarrowed     = "search_not_narrowed"           // a patient/ search not narrowed to the patient
	ReasonOperationNotAllowed   = "operation_not_allowed"         // a $operation not configured
	ReasonConstraintUnverified  = "scope_constraint_unverifiable" // a v2 ?param scope used for other than a search
	ReasonCompartmentUnverified = "compartment_unverifiable"      // a patient/ write the gateway cannot check
	ReasonFHIRMalformed         = "fhir_request_malformed"        // not a FHIR REST request (400)
	ReasonNotFHIR               = "fhir_outside_base"             // the route's path is not below the FHIR base
	ReasonResponseOutside       = "response_outside_compartment"
	ReasonResponseUnverifiable  = "response_unverifiable" // too large, encoded or not JSON (502)

	// Break-the-glass.
	ReasonClaimMalformed        = "client_claim_malformed"    // X-SanteDBClient-Claim unreadable (400)
	ReasonClaimContradicted     = "client_claim_contradicted" // the token says otherwise (400)
	ReasonOverrideTokenRequired = "override_token_required"   // override claimed, token does not carry one
	ReasonPurposeNotAccepted    = "purpose_not_accepted"      // purpose of use not configured
)
